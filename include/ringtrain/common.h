/** @file common.h
 * Allocation, error reporting and invariant checks shared by every module.
 *
 * Two error paths (STYLE.md "One error rule"):
 *   - recoverable errors return RT_EBADINPUT / RT_ERUNTIME and leave one message
 *     in a per-thread buffer via rt_err(); the CLI prints it once and exits;
 *   - broken invariants go to RT_CHECK, which prints file:line and the rank and
 *     aborts the whole job (MPI_Abort when MPI is up).
 */
#ifndef RINGTRAIN_COMMON_H
#define RINGTRAIN_COMMON_H

#include "ringtrain/api.h"

#include <stddef.h>
#include <stdint.h>

#define RT_VERSION "0.1.0"

#define RT_NAME_MAX 64   /* parameter and layer names */
#define RT_PATH_MAX 1024 /* file paths */

/** Exit codes, fixed by DESIGN.md. */
enum {
    RT_OK = 0,
    RT_ERUNTIME = 1,  /**< runtime failure */
    RT_EBADINPUT = 2, /**< bad usage, config or input file */
    RT_ESIGNAL = 3,   /**< stopped by a signal after checkpointing */
    RT_ECOMM = 4      /* a rank is dead, hung or unreachable: the job is aborted */
};

#if defined(__GNUC__)
#define RT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RT_NORETURN __attribute__((noreturn))
#else
#define RT_PRINTF(a, b)
#define RT_NORETURN
#endif

/* The current error of this thread is data: a code, the rank that saw it
 * first-hand, and its message. */

/** Records "where: what" as this rank's own error and returns code, so callers
 * can write `return rt_err(RT_EBADINPUT, "%s: optim.lr: must be > 0", path);`. */
RT_API int rt_err(int code, const char *fmt, ...) RT_PRINTF(2, 3);
/** Records that rank `origin` (-1: not known here) failed with code; this rank
 * has no message of its own to tell. Returns code. */
RT_API int rt_err_remote(int code, int origin);
/** The message of the last error on this thread ("" if none, or if remote). */
RT_API const char *rt_errmsg(void);
/** True when this rank saw the last error itself (it has the message to print). */
RT_API int rt_err_is_own(void);
/** Prefixes the current message with "prefix: " and records code as its code
 * (the origin stays); returns code. */
RT_API int rt_err_prefix(int code, const char *prefix);

/** Invariant failure: prints "file:line rank R: msg" and aborts every rank. */
RT_API RT_NORETURN void rt_fatal(const char *file, int line, const char *fmt, ...) RT_PRINTF(3, 4);
#define RT_CHECK(cond, ...)                                          \
    do {                                                             \
        if (!(cond)) rt_fatal(__FILE__, __LINE__, __VA_ARGS__);     \
    } while (0)

/** @{ */
/** Allocation wrappers: abort with the requested size when memory runs out, so
 * callers never test for NULL. rt_alloc_aligned returns 64-byte aligned,
 * uninitialised memory (from 4 MiB up: 2 MiB aligned, advised as huge pages);
 * all of them are released with rt_free. */
RT_API void *rt_malloc(size_t n);
RT_API void *rt_calloc(size_t count, size_t size);
RT_API void *rt_realloc(void *p, size_t n);
RT_API void *rt_alloc_aligned(size_t n);
RT_API char *rt_strdup(const char *s);
RT_API void rt_free(void *p);
/** @} */

/** snprintf that reports truncation: returns 0, or -1 when buf was too small
 * (the result is then truncated but NUL-terminated). */
RT_API int rt_fmt(char *buf, size_t len, const char *fmt, ...) RT_PRINTF(3, 4);

/** FNV-1a 64-bit hash of n bytes. */
RT_API uint64_t rt_fnv1a(const void *p, size_t n);

/** pread of n bytes at off, resumed after short reads and EINTR: returns n,
 * fewer at end of file, or -1 with errno set. */
RT_API long long rt_pread_full(int fd, void *buf, size_t n, long long off);

/** size arithmetic that aborts on overflow instead of wrapping */
RT_API size_t rt_mul_size(size_t a, size_t b);

/** Rank used in diagnostics; set once MPI is initialised (default 0). */
extern RT_API int rt_log_rank;

/** Monotonic wall clock in seconds. */
RT_API double rt_now(void);

#endif
