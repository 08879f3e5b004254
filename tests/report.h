/* report.h - the C test programs' result lines: "ok   <what>" or
 * "FAIL <what>", counted, and the closing "N passed, M failed" that
 * tests/run_all.sh reads. Header-only: each test program is one file. */
#ifndef RINGTRAIN_TESTS_REPORT_H
#define RINGTRAIN_TESTS_REPORT_H

#include "ringtrain/common.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int n_pass, n_fail;

/* Prints "ok   <rest>" or "FAIL <rest>" and counts the check. */
static void report(bool ok, const char *fmt, ...) RT_PRINTF(2, 3);
static void report(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs(ok ? "ok   " : "FAIL ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    if (ok)
        n_pass++;
    else
        n_fail++;
}

/* The closing line; the program's exit status. */
static int report_finish(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

#endif
