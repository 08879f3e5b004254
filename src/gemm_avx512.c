/* gemm_avx512.c - src/gemm.c's packing and 12 x 32 micro-kernel on AVX-512F.
 *
 * C's 12 x 32 tile lives in 24 zmm accumulators; with two B vectors that is
 * 26 of the 32 registers. Packing pads panels with zeros, so the kernel always
 * runs the full tile and stores only the rows and lanes that exist (masked
 * stores). Transposed operands are packed through 16 x 16 register
 * transposes, so no layout costs a scalar pass. */
#include "gemm_kernels.h"

#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define T512 __attribute__((target("avx512f")))

enum { MR = 12, NR = 32 };


/* ---- packing ---- */

/* dst[i * dld + r] = src[r * ld + i] for i, r < 16: the 16 x 16 block at src,
 * transposed. Rows r >= nrows read as zero; each dst row stores the lanes in
 * mask only. */
T512 static void transpose16(const float *src, int64_t ld, int nrows, float *dst, int64_t dld,
                             __mmask16 mask) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = i < nrows ? _mm512_loadu_ps(src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 8; i++) { /* pairs of rows interleaved */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* quads of rows, 4 lanes apart */
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 2; i++) /* 128-bit lanes of 8 rows */
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) { /* and of all 16: r[i] is column i */
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
    for (int i = 0; i < 16; i++) _mm512_mask_storeu_ps(dst + i * dld, mask, r[i]);
}

static __mmask16 lanes(int n) { return n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* ap (kc, MR) = op(A)[i0 : i0+mr, p0 : p0+kc], rows past mr zero */
T512 static void pack_a(bool ta, const float *a, int lda, int i0, int mr, int p0, int kc, float *ap) {
    if (ta) { /* A stored (k,m): each p is a contiguous run of rows */
        for (int p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(ap + p * MR, lanes(MR),
                                  _mm512_maskz_loadu_ps(lanes(mr), a + (int64_t)(p0 + p) * lda + i0));
        return;
    }
    const float *s = a + (int64_t)i0 * lda + p0;
    int p = 0;
    for (; p + 16 <= kc; p += 16) transpose16(s + p, lda, mr, ap + p * MR, MR, lanes(MR));
    for (; p < kc; p++)
        for (int r = 0; r < MR; r++) ap[p * MR + r] = r < mr ? s[(int64_t)r * lda + p] : 0.0f;
}

/* bp (kc, NR) = op(B)[p0 : p0+kc, j0 : j0+nr], columns past nr zero */
T512 static void pack_b(bool tb, const float *b, int ldb, int j0, int nr, int p0, int kc, float *bp) {
    if (!tb) { /* B stored (k,n): each p is a contiguous run of columns */
        for (int p = 0; p < kc; p++) {
            const float *s = b + (int64_t)(p0 + p) * ldb + j0;
            _mm512_storeu_ps(bp + p * NR, _mm512_maskz_loadu_ps(lanes(nr), s));
            _mm512_storeu_ps(bp + p * NR + 16, _mm512_maskz_loadu_ps(lanes(nr - 16), s + 16));
        }
        return;
    }
    for (int c = 0; c < NR; c += 16) { /* B stored (n,k): 16 x 16 transposes */
        int rows = nr - c < 0 ? 0 : nr - c > 16 ? 16 : nr - c;
        const float *s = b + (int64_t)(j0 + c) * ldb + p0;
        int p = 0;
        for (; p + 16 <= kc; p += 16) transpose16(s + p, ldb, rows, bp + p * NR + c, NR, 0xFFFF);
        for (; p < kc; p++)
            for (int r = 0; r < 16; r++) bp[p * NR + c + r] = r < rows ? s[(int64_t)r * ldb + p] : 0.0f;
    }
}

/* ---- the 12 x 32 kernel ---- */

/* C[0:mr, 0:nr] = alpha (ap . bp) + beta C, over kc products; C is not read
 * when beta == 0. The 24 accumulators and two B vectors fill 26 of the 32
 * zmm registers; each A value is broadcast from the packed panel. */
T512 NO_SANITIZE static void kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr,
                        float alpha, float beta) {
    __m512 acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int r = 0; r < mr; r++) { /* C's lines arrive while the products run */
        _mm_prefetch((const char *)(c + (int64_t)r * ldc), _MM_HINT_T0); /* 3 lines when unaligned */
        _mm_prefetch((const char *)(c + (int64_t)r * ldc + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (int64_t)r * ldc + NR - 1), _MM_HINT_T0);
    }
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(bp + p * NR), b1 = _mm512_loadu_ps(bp + p * NR + 16);
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(ap[p * MR + r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) { /* unrolled, so the accumulators never leave registers */
        if (r >= mr) break;
        float *cr = c + (int64_t)r * ldc;
        __m512 x0 = _mm512_mul_ps(va, acc[r][0]), x1 = _mm512_mul_ps(va, acc[r][1]);
        if (beta != 0.0f) {
            x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), x0);
            x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), x1);
        }
        _mm512_mask_storeu_ps(cr, m0, x0);
        _mm512_mask_storeu_ps(cr + 16, m1, x1);
    }
}

const rt_gemm_isa rt_gemm_avx512 = {"avx512", MR, NR, pack_a, pack_b, kernel};
#endif
