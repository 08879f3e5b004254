/* common.c - allocation, error buffer and invariant checks. */
#include "ringtrain/common.h"

#include <errno.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int rt_log_rank = 0;

static _Thread_local char err_buf[1024];
static _Thread_local int err_code;
static _Thread_local int err_origin = -1;

int rt_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    err_code = code;
    err_origin = rt_log_rank;
    return code;
}

int rt_err_remote(int code, int origin) {
    err_buf[0] = '\0';
    err_code = code;
    err_origin = origin == rt_log_rank ? -1 : origin;
    return code;
}

const char *rt_errmsg(void) { return err_buf; }
int rt_err_is_own(void) { return err_code != 0 && err_origin == rt_log_rank; }

int rt_err_prefix(int code, const char *prefix) {
    size_t plen = strlen(prefix), room = sizeof err_buf - 1;
    if (plen + 2 > room) plen = room - 2;
    size_t mlen = strlen(err_buf);
    if (plen + 2 + mlen > room) mlen = room - plen - 2;
    memmove(err_buf + plen + 2, err_buf, mlen);
    memcpy(err_buf, prefix, plen);
    memcpy(err_buf + plen, ": ", 2);
    err_buf[plen + 2 + mlen] = '\0';
    err_code = code;
    return code;
}

void rt_fatal(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d rank %d: %s\n", file, line, rt_log_rank, msg);
    fflush(stderr);
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) MPI_Abort(MPI_COMM_WORLD, RT_ERUNTIME);
    abort();
}

static void oom(size_t n) {
    rt_fatal(__FILE__, __LINE__, "out of memory allocating %zu bytes", n);
}

void *rt_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *rt_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(rt_mul_size(count, size));
    return p;
}

void *rt_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

void *rt_alloc_aligned(size_t n) {
    void *p = NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    size_t huge = (size_t)2 << 20;
    /* big arrays on 2 MiB pages where the kernel allows them (the advice is
     * ignored where it does not): the ring's single-copy transfers pin every
     * page of a message, and the TLB covers more of sgemm's operands */
    if (rounded >= 2 * huge) {
        rounded = (rounded + huge - 1) & ~(huge - 1);
        if (posix_memalign(&p, huge, rounded) != 0) oom(n);
        madvise(p, rounded, MADV_HUGEPAGE);
        return p;
    }
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0) oom(n);
    return p;
}

char *rt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = rt_malloc(n);
    memcpy(d, s, n);
    return d;
}

void rt_free(void *p) { free(p); }

int rt_fmt(char *buf, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

uint64_t rt_fnv1a(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

long long rt_pread_full(int fd, void *buf, size_t n, long long off) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(off + (long long)done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) break;
        done += (size_t)k;
    }
    return (long long)done;
}

size_t rt_mul_size(size_t a, size_t b) {
    if (a && b > SIZE_MAX / a) rt_fatal(__FILE__, __LINE__, "size overflow: %zu * %zu", a, b);
    return a * b;
}

double rt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
