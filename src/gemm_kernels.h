/* gemm_kernels.h - the packing and micro-kernels behind src/gemm.c's blocked
 * loops, one set per instruction set. Internal to the gemm files.
 *
 * Every set computes each C element the same way: one accumulator per
 * element, starting at zero, fused multiply-adds of its kc products in order
 * p = 0 .. kc-1, then alpha * acc, plus beta * C when beta != 0. The loops
 * around them fix the blocks of k, so the result depends on the shapes and
 * values alone, and by construction the sets give the same bits (for data
 * without NaN: which NaN payload survives depends on the instruction form). */
#ifndef RINGTRAIN_GEMM_KERNELS_H
#define RINGTRAIN_GEMM_KERNELS_H

#include <stdbool.h>

/* On the micro-kernels: sanitizer checks on each of their loads and pointer
 * steps make a sanitized build's training several times slower (end to end
 * 74 s -> 627 s), and they touch only the packed panels and the masked C
 * tile. Packing, which reads the caller's matrices, stays checked. */
#define NO_SANITIZE __attribute__((no_sanitize("address", "undefined")))

enum { RT_GEMM_PACK_SLACK = 16 }; /* floats; a multiple of 16 keeps what follows aligned */

typedef struct {
    const char *name; /* as rt_gemm_name() says it */
    int mr, nr;       /* the register tile: mr rows by nr columns of C */
    /* ap (kc, mr) = op(A)[i0 : i0+mr_used, p0 : p0+kc], rows past mr_used
     * zero. It may write up to RT_GEMM_PACK_SLACK floats past the panel,
     * into the next one: the panels of a block are packed in ascending
     * order, each over what the one before left there. */
    void (*pack_a)(bool ta, const float *a, int lda, int i0, int mr_used, int p0, int kc, float *ap);
    /* bp (kc, nr) = op(B)[p0 : p0+kc, j0 : j0+nr_used], columns past nr_used zero
     */
    void (*pack_b)(bool tb, const float *b, int ldb, int j0, int nr_used, int p0, int kc, float *bp);
    /* C[0:mr_used, 0:nr_used] = alpha (ap . bp) + beta C over kc products; C
     * is not read when beta == 0, and nothing outside those rows and columns
     * is written */
    void (*kernel)(int kc, const float *ap, const float *bp, float *c, int ldc, int mr_used, int nr_used,
                   float alpha, float beta);
} rt_gemm_isa;

extern const rt_gemm_isa rt_gemm_avx512; /* 12 x 32 in zmm registers: needs AVX-512F */
extern const rt_gemm_isa rt_gemm_avx2;   /* 6 x 16 in ymm registers: needs AVX2 and FMA */

#endif
