/* bench_ceiling.c - the sgemm ceiling of a model's own matrix products.
 *
 * Linked with -Wl,--wrap=rt_sgemm, so every product the library computes
 * passes through __wrap_rt_sgemm below, and the replay runs the same sgemm
 * (src/gemm.h: ringtrain's AVX-512 kernel or OpenBLAS) as the step. The program builds a real trainer
 * from CONFIG on the real data, runs warm-up steps, then records the ordered
 * list of sgemm calls one training step makes on this rank (order, transposes,
 * shapes, leading dimensions, alpha, beta). The trainer is then destroyed, and
 * that list is replayed alone, call for call in the same order and with the
 * same alpha and beta, on every rank at once: with np = 2 on a 2-core machine
 * that is both cores doing nothing but the step's products. Operands follow
 * the step's memory: calls that passed the same pointer share one replay
 * buffer (a convolution's weights and column buffer, reused for every
 * sample, stay in cache as in training), and distinct pointers get distinct
 * buffers. The replay's time is the ceiling: a step that computes these
 * products with this sgemm cannot beat it by more than the noise.
 *
 * Prints one JSON line (rank 0): the calls and FLOP of one step per rank,
 * train_step_s and train_sgemm_s (rank 0's mean wall time of 20 training
 * steps, and of the sgemm calls within them), the
 * replay's seconds per step (median of rounds; each round the slowest rank's
 * mean), its GFLOP/s per rank and ceiling_samples_per_s = global batch / that
 * time, and fma_peak_gflops_per_rank (fma512_peak_gflops_per_rank): each
 * core, all at once, the slowest, issuing nothing but 8-wide AVX2 FMAs (the
 * instructions of OpenBLAS's Haswell kernels) or, where the CPU has AVX-512,
 * 16-wide ones (0 where it has not).
 * --flops-only skips the replay (the test of the recorded FLOP count);
 * --shapes also prints the step's distinct products on stderr, largest share
 * of the FLOP first.
 * usage: mpirun -np N bench_ceiling CONFIG DATA.h5 [--flops-only] [--shapes] [--seconds S] [KEY=VALUE...]
 */
#include "../../src/gemm.h"
#include "ringtrain/blas.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/train.h"

#include <cblas.h>
#include <mpi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* ---- recording ---- */

typedef struct {
    int order, ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const void *a, *b, *c; /* the step's operands: only their identity is kept */
} call_t;

#define MAX_CALLS 200000
static call_t *calls; /* the recorded calls, in order */
static long ncalls, other_thread_calls;
static bool recording, timing;
static double sgemm_seconds; /* inside the calls while timing */
static pthread_t main_thread;

void __real_rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc);
void __wrap_rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc);

void __wrap_rt_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    if (recording) {
        if (!pthread_equal(pthread_self(), main_thread)) {
            __atomic_fetch_add(&other_thread_calls, 1, __ATOMIC_RELAXED);
        } else if (ncalls < MAX_CALLS) {
            calls[ncalls++] = (call_t){CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                                       m, n, k, lda, ldb, ldc, alpha, beta, a, b, c};
        } else {
            ncalls++; /* counted, reported as too many */
        }
    }
    double t0 = timing ? rt_now() : 0;
    __real_rt_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (timing && pthread_equal(pthread_self(), main_thread)) sgemm_seconds += rt_now() - t0;
}

/* ---- replay ---- */

/* Elements each operand of a call spans (row-major or column-major alike:
 * rows of the stored layout times its leading dimension). */
static size_t span(int order, int trans, int rows, int cols, int ld) {
    bool row_major = order == CblasRowMajor;
    int stored_rows = (trans == CblasNoTrans) == row_major ? rows : cols;
    return (size_t)stored_rows * (size_t)ld;
}

/* One replay buffer per distinct operand pointer of the step, as long as
 * the longest span any call gave that pointer. */
typedef struct {
    const void *key;
    size_t len; /* floats */
    float *buf;
} operand_t;

typedef struct {
    operand_t *v; /* (n) sorted by key */
    long n;
    float **a, **b, **c; /* per call: its operands' buffers */
} operands_t;

static int cmp_key(const void *x, const void *y) {
    uintptr_t a = (uintptr_t)((const operand_t *)x)->key, b = (uintptr_t)((const operand_t *)y)->key;
    return (a > b) - (a < b);
}

static float *buffer_of(const operands_t *o, const void *key) {
    operand_t k = {.key = key};
    operand_t *hit = bsearch(&k, o->v, (size_t)o->n, sizeof k, cmp_key);
    RT_CHECK(hit, "bench_ceiling: an operand without a buffer");
    return hit->buf;
}

static void operands_create(operands_t *o, const call_t *cl, long n) {
    o->v = rt_calloc((size_t)(3 * n), sizeof *o->v);
    for (long i = 0; i < n; i++) {
        const call_t *q = &cl[i];
        o->v[3 * i] = (operand_t){q->a, span(q->order, q->ta, q->m, q->k, q->lda), NULL};
        o->v[3 * i + 1] = (operand_t){q->b, span(q->order, q->tb, q->k, q->n, q->ldb), NULL};
        o->v[3 * i + 2] = (operand_t){q->c, span(q->order, CblasNoTrans, q->m, q->n, q->ldc), NULL};
    }
    qsort(o->v, (size_t)(3 * n), sizeof *o->v, cmp_key);
    long d = 0;
    for (long i = 0; i < 3 * n; i++) { /* merge equal keys, keeping the longest span */
        if (d > 0 && o->v[d - 1].key == o->v[i].key) {
            if (o->v[i].len > o->v[d - 1].len) o->v[d - 1].len = o->v[i].len;
        } else {
            o->v[d++] = o->v[i];
        }
    }
    o->n = d;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long j = 0; j < d; j++) {
        o->v[j].buf = rt_alloc_aligned(o->v[j].len * sizeof(float));
        for (size_t e = 0; e < o->v[j].len; e++) { /* values in [-1, 1) */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            o->v[j].buf[e] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
        }
    }
    o->a = rt_calloc((size_t)n, sizeof(float *));
    o->b = rt_calloc((size_t)n, sizeof(float *));
    o->c = rt_calloc((size_t)n, sizeof(float *));
    for (long i = 0; i < n; i++) {
        o->a[i] = buffer_of(o, cl[i].a);
        o->b[i] = buffer_of(o, cl[i].b);
        o->c[i] = buffer_of(o, cl[i].c);
    }
}

static void operands_destroy(operands_t *o) {
    for (long j = 0; j < o->n; j++) rt_free(o->v[j].buf);
    rt_free(o->v);
    rt_free(o->a);
    rt_free(o->b);
    rt_free(o->c);
}

/* The step's calls with their own alpha and beta (a beta other than 0 or 1
 * costs OpenBLAS a pass over C, so it must not change). Outputs feed later
 * inputs as in the step and may grow or shrink without bound over the
 * rounds: denormals are flushed (replay_seconds), and infinities and NaNs
 * cost an FMA nothing. */
static void replay_step(const call_t *cl, long n, const operands_t *o) {
    for (long i = 0; i < n; i++) {
        const call_t *q = &cl[i];
        __real_rt_sgemm(q->ta == CblasTrans, q->tb == CblasTrans, q->m, q->n, q->k, q->alpha, o->a[i], q->lda,
                        o->b[i], q->ldb, q->beta, o->c[i], q->ldc);
    }
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Seconds per replayed step: rounds of `reps` steps started together on every
 * rank; each round counts the slowest rank's mean; the median of the rounds. */
static double replay_seconds(const call_t *cl, long n, double budget_s) {
#if defined(__x86_64__) && defined(__GNUC__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* flush-to-zero and denormals-are-zero */
#endif
    operands_t o;
    operands_create(&o, cl, n);
    replay_step(cl, n, &o); /* warm-up: pages touched, kernels loaded */
    double t0 = rt_now();
    replay_step(cl, n, &o);
    double one = rt_now() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &one, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    enum { ROUNDS = 7 };
    int reps = (int)(budget_s / ROUNDS / (one > 1e-6 ? one : 1e-6));
    if (reps < 1) reps = 1;
    double round[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = rt_now();
        for (int i = 0; i < reps; i++) replay_step(cl, n, &o);
        round[r] = (rt_now() - t0) / reps;
        MPI_Allreduce(MPI_IN_PLACE, &round[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    }
    operands_destroy(&o);
    qsort(round, ROUNDS, sizeof round[0], cmp_double);
    return round[ROUNDS / 2];
}

/* ---- the core's own bound ---- */

/* FLOP/s of this core doing nothing but independent FMAs: 12 accumulators
 * hide the FMA latency on two pipes. 8-wide AVX2 FMAs are what OpenBLAS's
 * Haswell kernels issue; 16-wide AVX-512 ones what its SkylakeX kernels do. */
#if defined(__x86_64__) && defined(__GNUC__)
#define FMA_LOOP(vec, set1, fma, width)                                                     \
    vec acc[12], x = set1(0.999999f), y = set1(1e-7f);                                      \
    for (int i = 0; i < 12; i++) acc[i] = set1((float)i);                                   \
    long iters = 0;                                                                         \
    double t0 = rt_now(), t = t0;                                                           \
    while (t - t0 < seconds) {                                                              \
        for (int r = 0; r < 100000; r++)                                                    \
            for (int i = 0; i < 12; i++) acc[i] = fma(acc[i], x, y);                        \
        iters += 100000;                                                                    \
        t = rt_now();                                                                       \
    }                                                                                       \
    volatile float keep = 0; /* the loop must not be optimised away */                      \
    for (int i = 0; i < 12; i++) keep += ((float *)&acc[i])[0];                             \
    (void)keep;                                                                             \
    return (double)iters * 12 * (width) * 2 / (t - t0)

__attribute__((target("avx2,fma"))) static double fma_flops_avx2(double seconds) {
    FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8);
}
__attribute__((target("avx512f"))) static double fma_flops_avx512(double seconds) {
    FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16);
}

/* Every rank at once, as the replay; the slowest rank's figure (0 where a
 * rank lacks the instructions). Collective: every rank takes both turns. */
static void fma_peaks(double seconds, double *avx2, double *avx512) {
    __builtin_cpu_init();
    bool has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool has512 = __builtin_cpu_supports("avx512f");
    double f[2];
    MPI_Barrier(MPI_COMM_WORLD);
    f[0] = has2 ? fma_flops_avx2(seconds) : 0.0;
    MPI_Barrier(MPI_COMM_WORLD);
    f[1] = has512 ? fma_flops_avx512(seconds) : 0.0;
    MPI_Allreduce(MPI_IN_PLACE, f, 2, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    *avx2 = f[0], *avx512 = f[1];
}
#else
static void fma_peaks(double seconds, double *avx2, double *avx512) {
    (void)seconds;
    *avx2 = *avx512 = 0.0;
}
#endif

/* ---- the trainer's step, recorded ---- */

typedef struct {
    int global_batch;
    double step_s, sgemm_s; /* the trainer's own steps: wall time, and inside sgemm */
} in_training_t;

enum { TIMED_STEPS = 20 };

static int record_step(const char *config, const char *data, char **sets, int nset, in_training_t *it) {
    char run_dir[256], dset[512], tset[512];
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    snprintf(run_dir, sizeof run_dir, "/tmp/rt_ceiling_%d", (int)getpid());
    MPI_Bcast(run_dir, sizeof run_dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    snprintf(dset, sizeof dset, "data.train=%s", data);
    snprintf(tset, sizeof tset, "data.test=%s", data);
    const char *all[64] = {dset, tset, "train.steps=100"};
    int n = 3;
    for (int i = 0; i < nset && n < 64; i++) all[n++] = sets[i];
    rt_config *cfg = NULL;
    rt_trainer *t = NULL;
    rt_train_opts opts = {.run_dir = run_dir, .quiet = true};
    int rc = rt_config_load(config, all, n, &cfg);
    if (!rc) rc = rt_trainer_create(cfg, &opts, MPI_COMM_WORLD, &t);
    if (rc) {
        fprintf(stderr, "bench_ceiling: %s\n", rt_errmsg());
        rt_config_free(cfg);
        return rc;
    }
    it->global_batch = (int)cfg->train.global_batch;
    double loss;
    for (int i = 0; i < 3 && !rc; i++) rc = rt_trainer_step(t, &loss);
    recording = true;
    if (!rc) rc = rt_trainer_step(t, &loss);
    recording = false;
    timing = true;
    double t0 = rt_now();
    for (int i = 0; i < TIMED_STEPS && !rc; i++) rc = rt_trainer_step(t, &loss);
    it->step_s = (rt_now() - t0) / TIMED_STEPS;
    it->sgemm_s = sgemm_seconds / TIMED_STEPS;
    timing = false;
    if (rc) fprintf(stderr, "bench_ceiling: %s\n", rt_errmsg());
    rt_trainer_destroy(t);
    rt_config_free(cfg);
    if (rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", run_dir);
        if (system(cmd) != 0) fprintf(stderr, "bench_ceiling: could not remove %s\n", run_dir);
    }
    return rc;
}

static int cmp_shape(const void *x, const void *y) {
    const call_t *a = x, *b = y;
    int ka[6] = {a->ta, a->tb, a->m, a->n, a->k, (int)(a->beta != 0)};
    int kb[6] = {b->ta, b->tb, b->m, b->n, b->k, (int)(b->beta != 0)};
    return memcmp(ka, kb, sizeof ka);
}

static double flop_of(const call_t *q) { return 2.0 * q->m * q->n * q->k; }

/* rank 0's products grouped by shape, on stderr: count, GFLOP, share */
static void print_shapes(const call_t *cl, long n, double flop) {
    call_t *v = rt_malloc((size_t)n * sizeof *v);
    memcpy(v, cl, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_shape);
    long d = 0;
    for (long i = 0; i < n; i++) { /* one row per shape; its count kept in lda */
        if (d > 0 && cmp_shape(&v[d - 1], &v[i]) == 0) {
            v[d - 1].lda++;
        } else {
            v[d] = v[i];
            v[d++].lda = 1;
        }
    }
    for (long i = 0; i < d; i++) /* by total FLOP, largest first: a selection, the list is short */
        for (long j = i + 1; j < d; j++)
            if (flop_of(&v[j]) * v[j].lda > flop_of(&v[i]) * v[i].lda) {
                call_t t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    fprintf(stderr, "op  %6s %6s %6s  beta  calls    GFLOP  share\n", "m", "n", "k");
    for (long i = 0; i < d; i++)
        fprintf(stderr, "%c%c  %6d %6d %6d  %4s %6d %8.4f %5.1f%%\n", v[i].ta == CblasTrans ? 'T' : 'N',
                v[i].tb == CblasTrans ? 'T' : 'N', v[i].m, v[i].n, v[i].k, v[i].beta != 0 ? "acc" : "0", v[i].lda,
                flop_of(&v[i]) * v[i].lda * 1e-9, 100.0 * flop_of(&v[i]) * v[i].lda / flop);
    rt_free(v);
}

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* the kernels the trainer runs */
    if (argc < 3) {
        fprintf(stderr, "usage: mpirun -np N bench_ceiling CONFIG DATA.h5 [--flops-only] [--shapes] "
                        "[--seconds S] [KEY=VALUE...]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    main_thread = pthread_self();
    calls = rt_calloc(MAX_CALLS, sizeof *calls);
    bool flops_only = false, shapes = false;
    double budget = 3.0;
    char *sets[64];
    int nset = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--flops-only")) flops_only = true;
        else if (!strcmp(argv[i], "--shapes")) shapes = true;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) budget = atof(argv[++i]);
        else if (nset < 64) sets[nset++] = argv[i];
    }
    in_training_t it = {0};
    int rc = record_step(argv[1], argv[2], sets, nset, &it);
    int batch = it.global_batch;
    if (!rc && ncalls > MAX_CALLS) {
        fprintf(stderr, "bench_ceiling: %ld sgemm calls in a step, more than %d\n", ncalls, MAX_CALLS);
        rc = 1;
    }
    if (rc) MPI_Abort(MPI_COMM_WORLD, 1);
    double flop = 0;
    for (long i = 0; i < ncalls; i++) flop += flop_of(&calls[i]);
    if (shapes && rank == 0) print_shapes(calls, ncalls, flop);
    double sec = flops_only ? 0 : replay_seconds(calls, ncalls, budget);
    double peak = 0, peak512 = 0;
    if (!flops_only) fma_peaks(0.5, &peak, &peak512);
    double max_flop = flop;
    MPI_Allreduce(MPI_IN_PLACE, &max_flop, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("{\"config\": \"%s\", \"ranks\": %d, \"global_batch\": %d, \"gemm\": \"%s\", \"sgemm_calls\": %ld, "
               "\"other_thread_calls\": %ld, \"flop_per_step\": %.0f, \"max_rank_flop_per_step\": %.0f",
               argv[1], world, batch, rt_gemm_name(), ncalls, other_thread_calls, flop, max_flop);
        printf(", \"train_step_s\": %.6f, \"train_sgemm_s\": %.6f", it.step_s, it.sgemm_s);
        if (!flops_only)
            printf(", \"sgemm_s_per_step\": %.6f, \"gflops_per_rank\": %.2f, \"ceiling_samples_per_s\": %.1f, "
                   "\"fma_peak_gflops_per_rank\": %.2f, \"fma512_peak_gflops_per_rank\": %.2f",
                   sec, max_flop / sec * 1e-9, batch / sec, peak * 1e-9, peak512 * 1e-9);
        printf("}\n");
    }
    rt_free(calls);
    MPI_Finalize();
    return 0;
}
