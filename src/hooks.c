/* hooks.c - testing and benchmark switches from the environment, parsed once. */
#include "ringtrain/hooks.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rt_hooks hooks;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A whole non-negative number, or -1 when unset or malformed. */
static int64_t step_of(const char *name) {
    const char *s = getenv(name);
    char *end;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    return s && *s && !*end && v >= 0 ? (int64_t)v : -1;
}

/* NAME=R:N, a rank and a step; both -1 when unset or malformed. */
static void rank_step_of(const char *name, int *rank, int64_t *step) {
    const char *s = getenv(name);
    int r;
    long long n;
    *rank = -1;
    *step = -1;
    if (s && sscanf(s, "%d:%lld", &r, &n) == 2 && r >= 0 && n >= 0) {
        *rank = r;
        *step = n;
    }
}

static void parse(void) {
    hooks.stop_at_step = step_of("RINGTRAIN_STOP_AT_STEP");
    hooks.ckpt_crash_step = step_of("RINGTRAIN_FAULT_CKPT_CRASH");
    rank_step_of("RINGTRAIN_FAULT_CORRUPT", &hooks.corrupt_rank, &hooks.corrupt_step);
    rank_step_of("RINGTRAIN_FAULT_READ", &hooks.read_rank, &hooks.read_step);
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

void rt_hooks_warn_no_sync(int rank) {
    const rt_hooks *h = rt_hooks_get();
    if (h->no_sync == RT_SYNC_ALWAYS || rank != 0) return;
    fprintf(stderr, "ringtrain: warning: RINGTRAIN_BENCH_NO_SYNC is set: gradients are not synchronised%s, "
                    "replicas diverge (benchmark only)\n",
            h->no_sync == RT_SYNC_ALTERNATE ? " in every other log window" : "");
}

void rt_hooks_fault_start(void) {
    const char *f = getenv("RINGTRAIN_FAULT_START_CRASH");
    int fd = f && *f ? open(f, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
    if (fd < 0) return;
    close(fd);
    raise(SIGSEGV);
}
