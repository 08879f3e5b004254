/* test_gemm.c - rt_sgemm (src/gemm.c) against a double-precision reference:
 * every transpose pair, edge sizes around the kernels' tiles and their k, m
 * and n blocks, padded leading dimensions, alpha and beta, C not read when
 * beta is 0, nothing written outside C, nothing touched past the operands'
 * ends (guard pages), and the same bits whatever their alignment; for
 * ringtrain's kernels, the very bits of one fixed summation order, whichever
 * kernel runs. RINGTRAIN_GEMM chooses the path under test (avx512, avx2 or
 * openblas); EXPECTED, when given, is the name rt_gemm_name() must say.
 * usage: test_gemm [EXPECTED] */
#include "../src/gemm.h"
#include "report.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) { /* xorshift64*: the test's own, so its cases never change */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
static float uniform(void) { return (float)(rnd() >> 8) / 16777216.0f * 2.0f - 1.0f; }
static int pick(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }

typedef struct {
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
} gcase;

static float at(const float *x, int ld, bool t, int r, int c) {
    return t ? x[(int64_t)c * ld + r] : x[(int64_t)r * ld + c];
}

/* worst error of c against the reference, as a multiple of its bound
 * (k + 2) eps (|alpha| sum |a||b| + |beta c0|); nonzero *outside when a float
 * outside the m x n result changed */
static double check_case(const gcase *q, const float *a, const float *b, const float *c0, const float *c,
                         int *outside) {
    double worst = 0.0;
    *outside = 0;
    for (int i = 0; i < q->m; i++)
        for (int j = 0; j < q->ldc; j++) {
            int64_t o = (int64_t)i * q->ldc + j;
            if (j >= q->n) {
                *outside += memcmp(&c[o], &c0[o], sizeof(float)) != 0;
                continue;
            }
            double s = 0.0, mag = 0.0;
            for (int p = 0; p < q->k; p++) {
                double x = at(a, q->lda, q->ta, i, p), y = at(b, q->ldb, q->tb, p, j);
                s += x * y;
                mag += fabs(x * y);
            }
            double ref = q->alpha * s, bound = fabs(q->alpha) * mag;
            if (q->beta != 0.0f) {
                ref += q->beta * (double)c0[o];
                bound += fabs(q->beta * (double)c0[o]);
            }
            double err = fabs((double)c[o] - ref) / ((q->k + 2) * (double)FLT_EPSILON * bound + 1e-30);
            if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
        }
    return worst;
}

/* ringtrain's kernels, element by element as gemm_kernels.h says they sum:
 * from zero, fmaf over each block of RT_GEMM_KC (src/gemm.h) products in order,
 * alpha times that, plus beta C (beta for the first block, 1 after); every
 * kernel must give these bits, so machines with and without AVX-512 agree.
 * The count of elements that differ from them. */
static int order_mismatches(const gcase *q, const float *a, const float *b, const float *c0, const float *c) {
    enum { KC = RT_GEMM_KC };
    int bad = 0;
    for (int i = 0; i < q->m; i++)
        for (int j = 0; j < q->n; j++) {
            int64_t o = (int64_t)i * q->ldc + j;
            float x = c0[o];
            for (int p0 = 0; p0 < q->k; p0 += KC) {
                float acc = 0.0f, beta = p0 == 0 ? q->beta : 1.0f;
                for (int p = p0; p < q->k && p < p0 + KC; p++)
                    acc = fmaf(at(a, q->lda, q->ta, i, p), at(b, q->ldb, q->tb, p, j), acc);
                x = beta != 0.0f ? fmaf(beta, x, q->alpha * acc) : q->alpha * acc;
            }
            bad += memcmp(&x, &c[o], sizeof x) != 0;
        }
    return bad;
}

static float *filled(size_t n) {
    float *x = rt_malloc(n * sizeof(float) + 64);
    for (size_t i = 0; i < n; i++) x[i] = uniform();
    return x;
}

/* n floats whose last one ends where a page the process cannot touch
 * begins, so a read or write past the end faults; freed with unguard */
static float *guarded(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (n * sizeof(float) + page - 1) / page * page;
    char *m = mmap(NULL, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m + bytes, page, PROT_NONE) != 0) {
        perror("test_gemm: guard page");
        exit(1);
    }
    float *x = (float *)(m + bytes) - n;
    for (size_t i = 0; i < n; i++) x[i] = uniform();
    return x;
}

static void unguard(float *x, size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = (n * sizeof(float) + page - 1) / page * page;
    munmap((char *)(x + n) - bytes, bytes + page);
}

/* one case: the result against the reference, then the same call on copies
 * moved by one float and ending at a guard page, which must give the same
 * bits without touching past their ends */
static void run_case(const gcase *q, const char *why) {
    size_t na = (size_t)(q->ta ? q->k : q->m) * q->lda, nb = (size_t)(q->tb ? q->n : q->k) * q->ldb;
    size_t nc = (size_t)q->m * q->ldc;
    float *a = filled(na), *b = filled(nb), *c0 = filled(nc), *c = filled(nc);
    for (size_t i = 0; q->beta == 0.0f && i < nc; i++) /* never read when beta is 0 */
        if (i % (size_t)q->ldc < (size_t)q->n) c0[i] = NAN;
    memcpy(c, c0, nc * sizeof(float));
    rt_sgemm(q->ta, q->tb, q->m, q->n, q->k, q->alpha, a, q->lda, b, q->ldb, q->beta, c, q->ldc);
    int outside;
    double worst = check_case(q, a, b, c0, c, &outside);
    float *a1 = guarded(na + 1), *b1 = guarded(nb + 1), *c1 = guarded(nc + 1);
    memcpy(a1 + 1, a, na * sizeof(float));
    memcpy(b1 + 1, b, nb * sizeof(float));
    memcpy(c1 + 1, c0, nc * sizeof(float));
    rt_sgemm(q->ta, q->tb, q->m, q->n, q->k, q->alpha, a1 + 1, q->lda, b1 + 1, q->ldb, q->beta, c1 + 1,
             q->ldc);
    bool same = memcmp(c1 + 1, c, nc * sizeof(float)) == 0;
    bool kernel = strcmp(rt_gemm_name(), "openblas") != 0 && q->k > 0 && q->alpha != 0.0f;
    int order = kernel ? order_mismatches(q, a, b, c0, c) : 0;
    char order_note[64] = "";
    if (kernel) snprintf(order_note, sizeof order_note, "; %d elements off the kernels' order", order);
    report(worst <= 1.0 && outside == 0 && same && order == 0,
           "%s: %c%c m=%d n=%d k=%d ld %d/%d/%d alpha %g beta %g: worst error %.3g of its bound, %d floats "
           "outside C changed, moved operands %s%s",
           why, q->ta ? 'T' : 'N', q->tb ? 'T' : 'N', q->m, q->n, q->k, q->lda, q->ldb, q->ldc, q->alpha,
           q->beta, worst, outside, same ? "give the same bits" : "DIFFER", order_note);
    rt_free(a), rt_free(b), rt_free(c0), rt_free(c);
    unguard(a1, na + 1), unguard(b1, nb + 1), unguard(c1, nc + 1);
}

static gcase make(bool ta, bool tb, int m, int n, int k, int pad, float alpha, float beta) {
    gcase q = {ta, tb, m, n, k, (ta ? m : k) + pad, (tb ? k : n) + pad, n + pad, alpha, beta};
    return q;
}

int main(int argc, char **argv) {
    openblas_set_num_threads(1); /* ringtrain's kernels run where OpenBLAS would run 1 thread */
    const char *want = argc > 1 ? argv[1] : rt_gemm_name(), *env = getenv("RINGTRAIN_GEMM");
    report(rt_gemm_check_env() == RT_OK && strcmp(rt_gemm_name(), want) == 0,
           "RINGTRAIN_GEMM=%s accepted; rt_sgemm runs %s (expected %s)", env ? env : "", rt_gemm_name(), want);
    /* the edges: each tile (6 x 16 and 12 x 32) and one past it, the k block
     * (256), the m block (96) and the n block (1024) and one past each */
    static const int edge[][3] = {{1, 1, 1},    {6, 16, 8},    {7, 17, 9},   {5, 15, 7},    {12, 32, 16},
                                  {13, 33, 17}, {11, 31, 15},  {24, 64, 256},
                                  {25, 65, 257}, {96, 16, 300}, {97, 40, 513}, {8, 1024, 40}, {5, 1025, 33},
                                  {130, 10, 1024}, {1, 300, 7},  {300, 1, 9}};
    static const float alphas[] = {1.0f, 0.125f, -0.7f}, betas[] = {0.0f, 1.0f, -0.5f};
    for (int t = 0; t < 4; t++) { /* alpha 0: C = beta C; and k 0 */
        gcase q = make(t & 1, t >> 1, 37, 70, t < 2 ? 300 : 0, 1, t < 2 ? 0.0f : 1.0f, t & 1 ? 0.0f : -0.5f);
        run_case(&q, t < 2 ? "alpha 0" : "k 0");
    }
    for (size_t e = 0; e < sizeof edge / sizeof edge[0]; e++)
        for (int t = 0; t < 4; t++) {
            gcase q = make(t & 1, t >> 1, edge[e][0], edge[e][1], edge[e][2], t % 3, alphas[(e + t) % 3],
                           betas[(e + t / 2) % 3]);
            run_case(&q, "edge");
        }
    for (int r = 0; r < 120; r++) {
        gcase q = make(rnd() & 1, rnd() & 1, pick(1, 150), pick(1, 300), pick(1, 600), pick(0, 3),
                       alphas[rnd() % 3], betas[rnd() % 3]);
        run_case(&q, "random");
    }
    return report_finish();
}
