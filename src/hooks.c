/* hooks.c - testing and benchmark switches from the environment, parsed once. */
#include "ringtrain/hooks.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rt_hooks hooks;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A whole non-negative number, or -1 when unset or malformed. */
static int64_t step_of(const char *name) {
    const char *s = getenv(name);
    char *end;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    return s && *s && !*end && v >= 0 ? (int64_t)v : -1;
}

static void parse(void) {
    hooks.stop_at_step = step_of("RINGTRAIN_STOP_AT_STEP");
    hooks.ckpt_crash_step = step_of("RINGTRAIN_FAULT_CKPT_CRASH");
    hooks.corrupt_rank = -1;
    hooks.corrupt_step = -1;
    const char *fault = getenv("RINGTRAIN_FAULT_CORRUPT");
    int rank;
    long long step;
    if (fault && sscanf(fault, "%d:%lld", &rank, &step) == 2 && rank >= 0 && step >= 0) {
        hooks.corrupt_rank = rank;
        hooks.corrupt_step = step;
    }
    const char *trace = getenv("RINGTRAIN_TRACE_ROWS");
    hooks.trace_rows = trace && *trace ? trace : NULL;
    const char *ns = getenv("RINGTRAIN_BENCH_NO_SYNC");
    hooks.no_sync = !ns                             ? RT_SYNC_ALWAYS
                    : strcmp(ns, "alternate") == 0 ? RT_SYNC_ALTERNATE
                                                   : RT_SYNC_NEVER;
}

const rt_hooks *rt_hooks_get(void) {
    pthread_once(&once, parse);
    return &hooks;
}
