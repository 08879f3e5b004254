/* gemm.c - row-major sgemm on micro-kernels of ringtrain's own, or OpenBLAS.
 *
 * Why: the environment may pin OpenBLAS to its AVX2 kernels
 * (OPENBLAS_CORETYPE=Haswell), which reach about 120 GFLOP/s a core on an
 * AVX-512 EPYC, where 16-wide FMAs reach twice that; and at the small shapes
 * of a data-parallel step OpenBLAS's per-call work shows. The loops here are
 * the classic blocked design (Goto; BLIS's five loops) at one thread, around
 * the packing and register tile of one instruction set (gemm_kernels.h):
 *
 *   for jc in n, step NC          B block: op(B)[pc:pc+KC, jc:jc+NC] packed
 *     for pc in k, step KC          into nr-wide panels, bp[p][nr]
 *       pack B block
 *       for ic in m, step MC      A block: op(A)[ic:ic+MC, pc:pc+KC] packed
 *         pack A block              into mr-tall panels, ap[p][mr]
 *         for jr in nc, step nr   one B panel stays in L1 while
 *           for ir in mc, step mr   the A panels stream from L2
 *             C[ir:ir+mr, jr:jr+nr] (+)= ap . bp
 *
 * Every C element sums its k products in the same order, in blocks of KC,
 * for any shape, alignment or timing: the result depends on the shapes and
 * values alone. The first k block applies beta, later ones add to C.
 */
#include "gemm.h"
#include "gemm_kernels.h"

#include "ringtrain/common.h"

#include <cblas.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_KERNELS 1
#else
#define HAVE_KERNELS 0
#endif

enum { KC = RT_GEMM_KC, MC = 96, NC = 1024 }; /* MC and NC: multiples of every mr and nr */

/* ---- choosing ---- */

enum { USE_OPENBLAS, USE_AUTO, USE_AVX2, USE_AVX512 };
static int mode;     /* from RINGTRAIN_GEMM; a value rt_gemm_check_env refuses counts as auto */
static bool refused; /* RINGTRAIN_GEMM was such a value */
static bool has[4];  /* what this CPU runs, as the OS enables it: OpenBLAS and auto always */
static int cpu_best; /* the best kernel of has[], or USE_OPENBLAS when it has none */
static pthread_once_t chose = PTHREAD_ONCE_INIT;

static int mode_of(const char *v) {
    if (!v || !v[0] || strcmp(v, "auto") == 0) return USE_AUTO;
    if (strcmp(v, "openblas") == 0) return USE_OPENBLAS;
    if (strcmp(v, "avx2") == 0) return USE_AVX2;
    if (strcmp(v, "avx512") == 0) return USE_AVX512;
    return -1;
}

static void choose(void) {
    has[USE_OPENBLAS] = has[USE_AUTO] = true;
#if HAVE_KERNELS
    __builtin_cpu_init(); /* each kernel its own flags: a VM may show AVX-512F without AVX2 */
    has[USE_AVX2] = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has[USE_AVX512] = __builtin_cpu_supports("avx512f");
#endif
    cpu_best = has[USE_AVX512] ? USE_AVX512 : has[USE_AVX2] ? USE_AVX2 : USE_OPENBLAS;
    mode = mode_of(getenv("RINGTRAIN_GEMM"));
    refused = mode < 0 || !has[mode];
    if (refused) mode = USE_AUTO;
}

/* the kernels rt_sgemm runs now, or NULL for OpenBLAS */
static const rt_gemm_isa *isa_now(void) {
    pthread_once(&chose, choose);
    int use = mode != USE_AUTO ? mode : openblas_get_num_threads() == 1 ? cpu_best : USE_OPENBLAS;
#if HAVE_KERNELS
    if (use == USE_AVX512) return &rt_gemm_avx512;
    if (use == USE_AVX2) return &rt_gemm_avx2;
#endif
    return NULL;
}

int rt_gemm_check_env(void) {
    pthread_once(&chose, choose);
    const char *v = getenv("RINGTRAIN_GEMM");
    int m = mode_of(v);
    if (m < 0)
        return rt_err(RT_EBADINPUT, "RINGTRAIN_GEMM: \"%s\": expected auto, avx512, avx2 or openblas", v);
    if (!has[m])
        return rt_err(RT_EBADINPUT, "RINGTRAIN_GEMM: %s: this CPU has no %s; use auto or openblas", v,
                      m == USE_AVX512 ? "AVX-512F" : "AVX2 with FMA");
    return RT_OK;
}

const char *rt_gemm_name(void) {
    const rt_gemm_isa *isa = isa_now();
    return isa ? isa->name : "openblas";
}

const char *rt_gemm_policy(void) {
    pthread_once(&chose, choose);
    if (refused) return "none: RINGTRAIN_GEMM is refused (an unknown value, or a kernel this CPU lacks)";
    if (mode == USE_OPENBLAS) return "OpenBLAS (RINGTRAIN_GEMM=openblas)";
    if (cpu_best == USE_OPENBLAS) return "OpenBLAS (this CPU has neither AVX-512F nor AVX2 with FMA)";
    if (mode == USE_AVX512) return "ringtrain's AVX-512 kernel (RINGTRAIN_GEMM=avx512)";
    if (mode == USE_AVX2) return "ringtrain's AVX2 kernel (RINGTRAIN_GEMM=avx2)";
    if (cpu_best == USE_AVX512)
        return "ringtrain's AVX-512 kernel where OpenBLAS runs 1 thread, else OpenBLAS (RINGTRAIN_GEMM=auto)";
    return "ringtrain's AVX2 kernel where OpenBLAS runs 1 thread, else OpenBLAS (RINGTRAIN_GEMM=auto)";
}

/* ---- the blocked loops ---- */

/* each thread's packed blocks, made on its first product and freed when it
 * exits: (MC, KC) of A, the slack its packing may write past it, and (KC, NC)
 * of B. exit() runs no thread-key destructor, so the thread that calls it
 * (the main one) frees its own blocks from atexit. */
static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_free_mine(void) {
    rt_free(pthread_getspecific(ws_key));
    pthread_setspecific(ws_key, NULL);
}

static void ws_make_key(void) {
    RT_CHECK(pthread_key_create(&ws_key, rt_free) == 0, "gemm: no thread key");
    RT_CHECK(atexit(ws_free_mine) == 0, "gemm: cannot register the workspace's release");
}

static float *workspace(void) {
    pthread_once(&ws_once, ws_make_key);
    float *ws = pthread_getspecific(ws_key);
    if (!ws) {
        ws = rt_alloc_aligned(sizeof(float) * ((size_t)MC * KC + RT_GEMM_PACK_SLACK + (size_t)KC * NC));
        RT_CHECK(pthread_setspecific(ws_key, ws) == 0, "gemm: cannot keep the workspace");
    }
    return ws;
}

static int imin(int a, int b) { return a < b ? a : b; }

static void gemm_blocked(const rt_gemm_isa *isa, bool ta, bool tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    float *ws = workspace(), *abuf = ws, *bbuf = ws + (size_t)MC * KC + RT_GEMM_PACK_SLACK;
    int mr = isa->mr, nr = isa->nr;
    for (int jc = 0; jc < n; jc += NC) {
        int nc = imin(NC, n - jc);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = imin(KC, k - pc);
            float bet = pc == 0 ? beta : 1.0f;
            for (int jr = 0; jr < nc; jr += nr)
                isa->pack_b(tb, b, ldb, jc + jr, imin(nr, nc - jr), pc, kc, bbuf + (int64_t)jr * kc);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = imin(MC, m - ic);
                for (int ir = 0; ir < mc; ir += mr)
                    isa->pack_a(ta, a, lda, ic + ir, imin(mr, mc - ir), pc, kc, abuf + (int64_t)ir * kc);
                for (int jr = 0; jr < nc; jr += nr)
                    for (int ir = 0; ir < mc; ir += mr)
                        isa->kernel(kc, abuf + (int64_t)ir * kc, bbuf + (int64_t)jr * kc,
                                    c + (int64_t)(ic + ir) * ldc + jc + jr, ldc, imin(mr, mc - ir),
                                    imin(nr, nc - jr), alpha, bet);
            }
        }
    }
}

/* ---- the entry point ---- */

void rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    /* alpha 0 or k 0: C = beta C, A and B unread, which OpenBLAS does */
    const rt_gemm_isa *isa = k > 0 && alpha != 0.0f ? isa_now() : NULL;
    if (isa) {
        gemm_blocked(isa, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}
