/* gemm.h - every matrix product of the ops: row-major sgemm on ringtrain's own
 * AVX-512 or AVX2 kernel where the CPU has one, else on OpenBLAS. Internal to
 * src/. */
#ifndef RINGTRAIN_GEMM_H
#define RINGTRAIN_GEMM_H

#include <stdbool.h>

/* ringtrain's kernels sum each element's k products in blocks of this many:
 * part of their bits, so tests/test_gemm.c's model of the order reads it */
enum { RT_GEMM_KC = 256 };

/* C (m,n) = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm: op(A) is
 * (m,k), A stored (k,m) when ta; op(B) is (k,n), B stored (n,k) when tb. C is
 * not read when beta == 0. For a given rt_gemm_name(), the result depends
 * only on the shapes and values, never on timing or alignment. */
void rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

/* The sgemm rt_sgemm runs now: "avx512" or "avx2" for ringtrain's kernels,
 * else "openblas". RINGTRAIN_GEMM chooses: "auto" (or unset) runs the best
 * kernel the CPU has (AVX-512F, else AVX2 with FMA) when OpenBLAS runs 1
 * thread (its threaded kernels use more cores); "avx512" or "avx2" runs that
 * kernel at any thread count; "openblas" never a kernel. */
const char *rt_gemm_name(void);

/* The choice above as a sentence, for --version. */
const char *rt_gemm_policy(void);

/* RT_OK, or RT_EBADINPUT when RINGTRAIN_GEMM is set to something else, or to
 * a kernel this CPU cannot run. */
int rt_gemm_check_env(void);

#endif
