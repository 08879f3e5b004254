/* test_alloc.c - proves that a warmed-up training step makes no heap allocation.
 *
 * This program replaces malloc and friends for the whole process (its own
 * definitions win over libc's for every shared library, OpenBLAS and HDF5
 * included) and counts calls while `counting` is set. It builds a real
 * trainer on the real Fashion-MNIST file, runs warm-up steps, then counts the
 * allocations the training thread makes in the following steps (forward,
 * backward, gradient sync, clipping, optimizer, batch hand-over): zero.
 * The loader thread's reads go through libhdf5, which allocates inside every
 * H5Dread; those are counted apart and printed, not asserted.
 * usage: test_alloc DATA.h5 CONFIG.json
 */
#include "ringtrain/blas.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/train.h"

#include <execinfo.h>
#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- counting allocator ---- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_long n_allocs;       /* on the training (main) thread */
static atomic_long n_other;        /* on any other thread (loader, BLAS) */
static pthread_t main_thread;

void *malloc(size_t n);
void *calloc(size_t a, size_t b);
void *realloc(void *p, size_t n);
void free(void *p);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);

/* TEST_ALLOC_TRACE=N prints the stacks of the first N counted allocations
 * of the training thread (to find which code allocates). */
static int trace_left = -1;

static void note(void) {
    if (!atomic_load(&counting)) return;
    if (pthread_equal(pthread_self(), main_thread)) {
        atomic_fetch_add(&n_allocs, 1);
        if (trace_left > 0) {
            trace_left--;
            atomic_store(&counting, 0); /* backtrace() may allocate */
            void *pcs[16];
            int n = backtrace(pcs, 16);
            fputs("---- allocation on the training thread:\n", stderr);
            backtrace_symbols_fd(pcs, n, 2);
            atomic_store(&counting, 1);
        }
    } else {
        atomic_fetch_add(&n_other, 1);
    }
}
void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t n) {
    note();
    void *p = __libc_memalign(align, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
void *memalign(size_t align, size_t n) { note(); return __libc_memalign(align, n); }

/* ---- the test ---- */

static int passed, failed;

static void run_case(const char *config, const char *data, const char *name, const char **extra,
                     int nextra) {
    char run_dir[256], dset[512], tset[512];
    snprintf(run_dir, sizeof run_dir, "/tmp/rt_alloc_%d_%s", (int)getpid(), name);
    snprintf(dset, sizeof dset, "data.train=%s", data);
    snprintf(tset, sizeof tset, "data.test=%s", data);
    const char *sets[16] = {dset, tset, "train.steps=20", "train.log_every=4"};
    int nset = 4;
    for (int i = 0; i < nextra; i++) sets[nset++] = extra[i];
    rt_config *cfg = NULL;
    rt_trainer *t = NULL;
    rt_train_opts opts = {.run_dir = run_dir, .quiet = true};
    if (rt_config_load(config, sets, nset, &cfg) || rt_trainer_create(cfg, &opts, MPI_COMM_WORLD, &t)) {
        printf("FAIL %s: setup: %s\n", name, rt_errmsg());
        failed++;
        rt_config_free(cfg);
        return;
    }
    double loss = 0;
    int rc = 0;
    for (int i = 0; i < 3 && !rc; i++) rc = rt_trainer_step(t, &loss); /* warm-up */
    atomic_store(&n_allocs, 0);
    atomic_store(&n_other, 0);
    atomic_store(&counting, 1);
    /* eight steps, logging every fourth: two log lines, and two whole
     * cycles under accum_steps 4 */
    int steps = 0;
    for (; steps < 8 && !rc; steps++) rc = rt_trainer_step(t, &loss);
    atomic_store(&counting, 0);
    long n = atomic_load(&n_allocs);
    bool ok = rc == 0 && n == 0 && isfinite(loss); /* a NICE loss is an NLL of ~1000 nats */
    printf("%s %s: %ld heap allocations on the training thread in %d steady-state steps "
           "(loss %.4f; loader thread inside libhdf5: %ld)%s%s\n",
           ok ? "ok  " : "FAIL", name, n, steps, loss, atomic_load(&n_other), rc ? ": " : "",
           rc ? rt_errmsg() : "");
    ok ? passed++ : failed++;
    rt_trainer_destroy(t);
    rt_config_free(cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", run_dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", run_dir);
}

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* the kernels the trainer runs */
    if (argc != 3) {
        fprintf(stderr, "usage: test_alloc DATA.h5 CONFIG.json\n");
        return 2;
    }
    main_thread = pthread_self();
    if (getenv("TEST_ALLOC_TRACE")) trace_left = atoi(getenv("TEST_ALLOC_TRACE"));
    MPI_Init(&argc, &argv);
    const char *adamw[] = {"optim.type=adamw"};
    const char *sgd_clip[] = {"optim.type=sgd", "optim.clip_grad_norm=1.0",
                              "optim.schedule.type=cosine"};
    const char *accum[] = {"optim.accum_steps=4", "data.shuffle=true"};
    run_case(argv[2], argv[1], "adamw", adamw, 1);
    run_case(argv[2], argv[1], "sgd+clip+cosine", sgd_clip, 3);
    run_case(argv[2], argv[1], "accum4+shuffle", accum, 2);
    /* the counter itself must see allocations, or a zero above proves nothing */
    atomic_store(&n_allocs, 0);
    atomic_store(&counting, 1);
    void *volatile p = malloc(64);
    atomic_store(&counting, 0);
    free(p);
    bool ok = atomic_load(&n_allocs) == 1;
    printf("%s counter sees a malloc: %ld\n", ok ? "ok  " : "FAIL", atomic_load(&n_allocs));
    ok ? passed++ : failed++;
    MPI_Finalize();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
