/* gemm.c - row-major sgemm on an AVX-512 kernel of ringtrain's own.
 *
 * Why: the environment may pin OpenBLAS to its AVX2 kernels
 * (OPENBLAS_CORETYPE=Haswell), which reach about 120 GFLOP/s a core here,
 * where 16-wide FMAs reach twice that. This kernel is the classic blocked
 * design (Goto; BLIS's five loops) at one thread:
 *
 *   for jc in n, step NC          B block: op(B)[pc:pc+KC, jc:jc+NC] packed
 *     for pc in k, step KC          into NR-wide panels, bp[p][NR]
 *       pack B block
 *       for ic in m, step MC      A block: op(A)[ic:ic+MC, pc:pc+KC] packed
 *         pack A block              into MR-tall panels, ap[p][MR]
 *         for jr in nc, step NR   one B panel stays in L1 while
 *           for ir in mc, step MR   the A panels stream from L2
 *             C[ir:ir+MR, jr:jr+NR] (+)= ap . bp     (12 x 32: 24 zmm)
 *
 * Packing pads panels with zeros, so the kernel always runs 12 x 32 and only
 * stores the rows and lanes that exist (masked stores). Transposed operands
 * are packed through 16 x 16 register transposes, so no layout costs a
 * scalar pass. Every C element sums its k products in the same order, in
 * blocks of KC, for any shape, alignment or timing: the result depends on
 * the shapes and values alone. The first k block applies beta, later ones
 * add to C.
 */
#include "gemm.h"

#include "ringtrain/common.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1
#else
#define HAVE_AVX512_KERNEL 0
#endif

enum { MR = 12, NR = 32, KC = 256, MC = 96, NC = 1024 };

/* ---- choosing ---- */

enum { USE_OPENBLAS, USE_AUTO, USE_KERNEL };
static int mode;        /* from RINGTRAIN_GEMM; a value rt_gemm_check_env refuses counts as auto */
static bool cpu_has_it; /* AVX-512F, as the OS enables it */
static pthread_once_t chose = PTHREAD_ONCE_INIT;

static int mode_of(const char *v) {
    if (!v || !v[0] || strcmp(v, "auto") == 0) return USE_AUTO;
    if (strcmp(v, "openblas") == 0) return USE_OPENBLAS;
    if (strcmp(v, "avx512") == 0) return USE_KERNEL;
    return -1;
}

static void choose(void) {
#if HAVE_AVX512_KERNEL
    __builtin_cpu_init();
    cpu_has_it = __builtin_cpu_supports("avx512f");
#endif
    mode = mode_of(getenv("RINGTRAIN_GEMM"));
    if (mode < 0) mode = USE_AUTO;
}

static bool use_kernel(void) {
    pthread_once(&chose, choose);
    return cpu_has_it && (mode == USE_KERNEL || (mode == USE_AUTO && openblas_get_num_threads() == 1));
}

int rt_gemm_check_env(void) {
    pthread_once(&chose, choose);
    const char *v = getenv("RINGTRAIN_GEMM");
    int m = mode_of(v);
    if (m < 0) return rt_err(RT_EBADINPUT, "RINGTRAIN_GEMM: \"%s\": expected auto, avx512 or openblas", v);
    if (m == USE_KERNEL && !cpu_has_it)
        return rt_err(RT_EBADINPUT, "RINGTRAIN_GEMM: avx512: this CPU has no AVX-512F; use auto or openblas");
    return RT_OK;
}

const char *rt_gemm_name(void) { return use_kernel() ? "avx512" : "openblas"; }

const char *rt_gemm_policy(void) {
    pthread_once(&chose, choose);
    if (mode == USE_OPENBLAS) return "OpenBLAS (RINGTRAIN_GEMM=openblas)";
    if (!cpu_has_it) return "OpenBLAS (this CPU has no AVX-512F)";
    if (mode == USE_KERNEL) return "ringtrain's AVX-512 kernel (RINGTRAIN_GEMM=avx512)";
    return "ringtrain's AVX-512 kernel where OpenBLAS runs 1 thread, else OpenBLAS (RINGTRAIN_GEMM=auto)";
}

#if HAVE_AVX512_KERNEL
#define T512 __attribute__((target("avx512f")))

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
T512 static void kernel(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr,
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
    for (int r = 0; r < mr; r++) {
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

/* ---- the blocked loops ---- */

/* each thread's packed blocks, made on its first product and freed when it
 * exits: (MC, KC) of A and (KC, NC) of B */
static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static void ws_make_key(void) { RT_CHECK(pthread_key_create(&ws_key, rt_free) == 0, "gemm: no thread key"); }

static float *workspace(void) {
    pthread_once(&ws_once, ws_make_key);
    float *ws = pthread_getspecific(ws_key);
    if (!ws) {
        ws = rt_alloc_aligned(sizeof(float) * ((size_t)MC * KC + (size_t)KC * NC));
        RT_CHECK(pthread_setspecific(ws_key, ws) == 0, "gemm: cannot keep the workspace");
    }
    return ws;
}

static int imin(int a, int b) { return a < b ? a : b; }

static void gemm_avx512(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
    float *ws = workspace(), *abuf = ws, *bbuf = ws + (size_t)MC * KC;
    for (int jc = 0; jc < n; jc += NC) {
        int nc = imin(NC, n - jc);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = imin(KC, k - pc);
            float bet = pc == 0 ? beta : 1.0f;
            for (int jr = 0; jr < nc; jr += NR)
                pack_b(tb, b, ldb, jc + jr, imin(NR, nc - jr), pc, kc, bbuf + (int64_t)jr * kc);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = imin(MC, m - ic);
                for (int ir = 0; ir < mc; ir += MR)
                    pack_a(ta, a, lda, ic + ir, imin(MR, mc - ir), pc, kc, abuf + (int64_t)ir * kc);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < mc; ir += MR)
                        kernel(kc, abuf + (int64_t)ir * kc, bbuf + (int64_t)jr * kc,
                               c + (int64_t)(ic + ir) * ldc + jc + jr, ldc, imin(MR, mc - ir),
                               imin(NR, nc - jr), alpha, bet);
            }
        }
    }
}
#endif

/* ---- the entry point ---- */

void rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
#if HAVE_AVX512_KERNEL
    if (k > 0 && alpha != 0.0f && use_kernel()) { /* alpha 0: C = beta C, A and B unread */
        gemm_avx512(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}
