/* gemm_avx2.c - src/gemm.c's packing and 6 x 16 micro-kernel on AVX2 and FMA,
 * for CPUs without AVX-512.
 *
 * C's 6 x 16 tile lives in 12 ymm accumulators; with two B vectors and the
 * broadcast A value that is 15 of the 16 registers. As in gemm_avx512.c,
 * packing pads panels with zeros, the kernel always runs the full tile and
 * stores only what exists, and transposed operands are packed through
 * register transposes (8 x 8 here). */
#include "gemm_kernels.h"

#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T256 __attribute__((target("avx2,fma")))

enum { MR = 6, NR = 16 };
_Static_assert(8 - MR <= RT_GEMM_PACK_SLACK, "A panels' 8-float stores reach past the slack");

/* lanes 0 .. n-1 of 8 set, as maskload and maskstore read them */
T256 static __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 8 floats at p, or only the lanes m sets: plain loads and stores wherever
 * all 8 exist, since AMD's masked ones are microcoded */
T256 static inline __m256 load8(const float *p, bool whole, __m256i m) {
    return whole ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
T256 static inline void store8(float *p, bool whole, __m256i m, __m256 x) {
    if (whole) _mm256_storeu_ps(p, x);
    else _mm256_maskstore_ps(p, m, x);
}

/* ---- packing ---- */

/* dst[i * dld + r] = src[r * ld + i] for i, r < 8: the 8 x 8 block at src,
 * transposed. Rows r >= nrows read as zero. Each dst row is stored whole, 8
 * floats, in order, so where dld < 8 (A's 6-float rows) a row's last lanes
 * land on the next row, which then overwrites them, and the last row's reach
 * 8 - dld floats past the block: AMD's masked stores are microcoded, and
 * plain ones are not. */
T256 static void transpose8(const float *src, int64_t ld, int nrows, float *dst, int64_t dld) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = i < nrows ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) { /* pairs of rows interleaved */
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) { /* quads of rows, 4 lanes apart */
        r[4 * i + 0] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) { /* and the 128-bit halves of all 8: t[i] is column i */
        t[j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x20);
        t[4 + j] = _mm256_permute2f128_ps(r[j], r[4 + j], 0x31);
    }
    for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + i * dld, t[i]);
}

T256 static void pack_a(bool ta, const float *a, int lda, int i0, int mr, int p0, int kc, float *ap) {
    if (ta) { /* A stored (k,m): each p is a contiguous run of rows */
        __m256i in = lanes(mr); /* 8 floats stored a row, as transpose8 stores them */
        for (int p = 0; p < kc; p++)
            _mm256_storeu_ps(ap + p * MR, _mm256_maskload_ps(a + (int64_t)(p0 + p) * lda + i0, in));
        return;
    }
    const float *s = a + (int64_t)i0 * lda + p0;
    int p = 0;
    for (; p + 8 <= kc; p += 8) transpose8(s + p, lda, mr, ap + p * MR, MR);
    for (; p < kc; p++)
        for (int r = 0; r < MR; r++) ap[p * MR + r] = r < mr ? s[(int64_t)r * lda + p] : 0.0f;
}

T256 static void pack_b(bool tb, const float *b, int ldb, int j0, int nr, int p0, int kc, float *bp) {
    if (!tb) { /* B stored (k,n): each p is a contiguous run of columns */
        __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
        bool whole = nr == NR;
        for (int p = 0; p < kc; p++) {
            const float *s = b + (int64_t)(p0 + p) * ldb + j0;
            _mm256_storeu_ps(bp + p * NR, load8(s, whole, m0));
            _mm256_storeu_ps(bp + p * NR + 8, load8(s + 8, whole, m1));
        }
        return;
    }
    for (int c = 0; c < NR; c += 8) { /* B stored (n,k): 8 x 8 transposes */
        int rows = nr - c < 0 ? 0 : nr - c > 8 ? 8 : nr - c;
        const float *s = b + (int64_t)(j0 + c) * ldb + p0;
        int p = 0;
        for (; p + 8 <= kc; p += 8) transpose8(s + p, ldb, rows, bp + p * NR + c, NR);
        for (; p < kc; p++)
            for (int r = 0; r < 8; r++) bp[p * NR + c + r] = r < rows ? s[(int64_t)r * ldb + p] : 0.0f;
    }
}

/* ---- the 6 x 16 kernel ---- */

T256 NO_SANITIZE static void kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr,
                        float alpha, float beta) {
    __m256 acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int r = 0; r < mr; r++) { /* C's lines arrive while the products run: 2 when unaligned */
        _mm_prefetch((const char *)(c + (int64_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (int64_t)r * ldc + NR - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(bp + p * NR), b1 = _mm256_loadu_ps(bp + p * NR + 8);
        for (int r = 0; r < MR; r++) {
            __m256 x = _mm256_broadcast_ss(ap + p * MR + r);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    /* the tile goes to memory once, so the stores below need no registers the
     * accumulators hold (else GCC spills them inside the loop above) */
    float tile[MR][NR] __attribute__((aligned(32)));
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        _mm256_store_ps(tile[r], acc[r][0]);
        _mm256_store_ps(tile[r] + 8, acc[r][1]);
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256i m0 = lanes(nr), m1 = lanes(nr - 8);
    bool whole = nr == NR;
    for (int r = 0; r < mr; r++) {
        float *cr = c + (int64_t)r * ldc;
        __m256 x0 = _mm256_mul_ps(va, _mm256_load_ps(tile[r]));
        __m256 x1 = _mm256_mul_ps(va, _mm256_load_ps(tile[r] + 8));
        if (beta != 0.0f) {
            x0 = _mm256_fmadd_ps(vb, load8(cr, whole, m0), x0);
            x1 = _mm256_fmadd_ps(vb, load8(cr + 8, whole, m1), x1);
        }
        store8(cr, whole, m0, x0);
        store8(cr + 8, whole, m1, x1);
    }
}

const rt_gemm_isa rt_gemm_avx2 = {"avx2", MR, NR, pack_a, pack_b, kernel};
#endif
