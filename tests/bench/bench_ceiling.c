/* bench_ceiling.c - the sgemm ceiling of a model's own matrix products.
 *
 * Linked with -Wl,--wrap=cblas_sgemm, so every product the library computes
 * passes through __wrap_cblas_sgemm below. The program builds a real trainer
 * from CONFIG on the real data, runs warm-up steps, then records the ordered
 * list of sgemm calls one training step makes on this rank (order, transposes,
 * shapes, leading dimensions, alpha, beta). The trainer is then destroyed, and
 * that list is replayed alone, call for call in the same order, each call on
 * buffers of its own (as in the step, where every call has its own operands),
 * on every rank at once: with np = 2 on a 2-core machine that is both cores
 * doing nothing but the step's products. The replay's time is the ceiling:
 * no step of this model can beat it without computing fewer products.
 *
 * Prints one JSON line (rank 0): the calls and FLOP of one step per rank,
 * train_step_s and train_sgemm_s (rank 0's mean wall time of 20 training
 * steps, and of the sgemm calls within them), the
 * replay's seconds per step (median of rounds; each round the slowest rank's
 * mean), its GFLOP/s per rank and ceiling_samples_per_s = global batch / that
 * time, and fma_peak_gflops_per_rank: each core (all at once, the slowest)
 * issuing nothing but 8-wide FMAs, the instruction bound of any kernel.
 * --flops-only skips the replay (the test of the recorded FLOP count).
 * usage: mpirun -np N bench_ceiling CONFIG DATA.h5 [--flops-only] [--seconds S] [KEY=VALUE...]
 */
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
} call_t;

#define MAX_CALLS 200000
static call_t *calls; /* the recorded calls, in order */
static long ncalls, other_thread_calls;
static bool recording, timing;
static double sgemm_seconds; /* inside the calls while timing */
static pthread_t main_thread;

void __real_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                        blasint m, blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc);
void __wrap_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                        blasint m, blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc);

void __wrap_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                        blasint m, blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc) {
    if (recording) {
        if (!pthread_equal(pthread_self(), main_thread)) {
            __atomic_fetch_add(&other_thread_calls, 1, __ATOMIC_RELAXED);
        } else if (ncalls < MAX_CALLS) {
            calls[ncalls++] = (call_t){order, ta, tb, m, n, k, lda, ldb, ldc, alpha, beta};
        } else {
            ncalls++; /* counted, reported as too many */
        }
    }
    double t0 = timing ? rt_now() : 0;
    __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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

typedef struct {
    float **a, **b, **c; /* per call: its own operands */
} operands_t;

static void operands_create(operands_t *o, const call_t *cl, long n) {
    o->a = rt_calloc((size_t)n, sizeof(float *));
    o->b = rt_calloc((size_t)n, sizeof(float *));
    o->c = rt_calloc((size_t)n, sizeof(float *));
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n; i++) {
        const call_t *q = &cl[i];
        size_t na = span(q->order, q->ta, q->m, q->k, q->lda);
        size_t nb = span(q->order, q->tb, q->k, q->n, q->ldb);
        size_t nc = span(q->order, CblasNoTrans, q->m, q->n, q->ldc);
        float *bufs[3] = {rt_alloc_aligned(na * 4), rt_alloc_aligned(nb * 4), rt_alloc_aligned(nc * 4)};
        size_t lens[3] = {na, nb, nc};
        for (int j = 0; j < 3; j++)
            for (size_t e = 0; e < lens[j]; e++) { /* values in [-1, 1): no denormals, no overflow */
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                bufs[j][e] = (float)((s >> 40) & 0xffff) / 32768.0f - 1.0f;
            }
        o->a[i] = bufs[0], o->b[i] = bufs[1], o->c[i] = bufs[2];
    }
}

static void operands_destroy(operands_t *o, long n) {
    for (long i = 0; i < n; i++) {
        rt_free(o->a[i]);
        rt_free(o->b[i]);
        rt_free(o->c[i]);
    }
    rt_free(o->a);
    rt_free(o->b);
    rt_free(o->c);
}

static void replay_step(const call_t *cl, long n, const operands_t *o) {
    for (long i = 0; i < n; i++) {
        const call_t *q = &cl[i];
        /* beta 1 keeps accumulating into C; scale it back so values stay bounded */
        float beta = q->beta == 0.0f ? 0.0f : 0.5f;
        __real_cblas_sgemm(q->order, q->ta, q->tb, q->m, q->n, q->k, q->alpha * 1e-3f, o->a[i], q->lda,
                           o->b[i], q->ldb, beta, o->c[i], q->ldc);
    }
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Seconds per replayed step: rounds of `reps` steps started together on every
 * rank; each round counts the slowest rank's mean; the median of the rounds. */
static double replay_seconds(const call_t *cl, long n, double budget_s) {
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
    operands_destroy(&o, n);
    qsort(round, ROUNDS, sizeof round[0], cmp_double);
    return round[ROUNDS / 2];
}

/* ---- the core's own bound ---- */

/* FLOP/s of this core doing nothing but independent 8-wide FMAs (AVX2, what
 * OpenBLAS's Haswell kernels issue): 12 accumulators hide the FMA latency on
 * two pipes. sgemm near this figure cannot be beaten by any kernel of the
 * same instructions; only fewer products could go faster. 0: no AVX2/FMA. */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static double fma_peak_flops(double seconds) {
    __m256 acc[12], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    long iters = 0;
    double t0 = rt_now(), t = t0;
    while (t - t0 < seconds) {
        for (int r = 0; r < 100000; r++)
            for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
        iters += 100000;
        t = rt_now();
    }
    float sink[8];
    __m256 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
    _mm256_storeu_ps(sink, sum);
    volatile float keep = sink[0]; /* the loop must not be optimised away */
    (void)keep;
    return (double)iters * 12 * 8 * 2 / (t - t0);
}
static double fma_peak(double seconds) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0.0;
    MPI_Barrier(MPI_COMM_WORLD); /* every rank at once, as the replay */
    double f = fma_peak_flops(seconds);
    MPI_Allreduce(MPI_IN_PLACE, &f, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    return f;
}
#else
static double fma_peak(double seconds) {
    (void)seconds;
    return 0.0;
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

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* the kernels the trainer runs */
    if (argc < 3) {
        fprintf(stderr, "usage: mpirun -np N bench_ceiling CONFIG DATA.h5 [--flops-only] "
                        "[--seconds S] [KEY=VALUE...]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    main_thread = pthread_self();
    calls = rt_calloc(MAX_CALLS, sizeof *calls);
    bool flops_only = false;
    double budget = 3.0;
    char *sets[64];
    int nset = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--flops-only")) flops_only = true;
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
    for (long i = 0; i < ncalls; i++) flop += 2.0 * calls[i].m * calls[i].n * calls[i].k;
    double sec = flops_only ? 0 : replay_seconds(calls, ncalls, budget);
    double peak = flops_only ? 0 : fma_peak(0.5);
    double max_flop = flop;
    MPI_Allreduce(MPI_IN_PLACE, &max_flop, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("{\"config\": \"%s\", \"ranks\": %d, \"global_batch\": %d, \"sgemm_calls\": %ld, "
               "\"other_thread_calls\": %ld, \"flop_per_step\": %.0f, \"max_rank_flop_per_step\": %.0f",
               argv[1], world, batch, ncalls, other_thread_calls, flop, max_flop);
        printf(", \"train_step_s\": %.6f, \"train_sgemm_s\": %.6f", it.step_s, it.sgemm_s);
        if (!flops_only)
            printf(", \"sgemm_s_per_step\": %.6f, \"gflops_per_rank\": %.2f, \"ceiling_samples_per_s\": %.1f, "
                   "\"fma_peak_gflops_per_rank\": %.2f",
                   sec, max_flop / sec * 1e-9, batch / sec, peak * 1e-9);
        printf("}\n");
    }
    rt_free(calls);
    MPI_Finalize();
    return 0;
}
