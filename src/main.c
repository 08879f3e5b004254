/* main.c - the ringtrain command line: one binary, one verb per job. */
#include "ringtrain/bench.h"
#include "ringtrain/blas.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/data.h"
#include "ringtrain/dist.h"
#include "ringtrain/report.h"
#include "ringtrain/sample.h"
#include "ringtrain/train.h"

#include <cJSON.h>
#include <cblas.h>
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef RT_GIT_COMMIT
#define RT_GIT_COMMIT "unknown"
#endif

#define MAX_SETS 256

/* ---- usage texts ---- */

static const char *const usage_main =
    "usage: ringtrain VERB [options]\n"
    "\n"
    "verbs:\n"
    "  train CONFIG.json   train a model (plain, under mpirun, or under srun)\n"
    "  eval CKPT.h5        evaluate a checkpoint; prints one JSON line\n"
    "  sample CKPT.h5      draw samples of a NICE or rectified-flow model into a PNG grid\n"
    "  prep fashion-mnist  convert the IDX files to ringtrain's HDF5 layout\n"
    "  inspect CKPT.h5     print a readable summary of a checkpoint\n"
    "  seal CKPT.h5        re-seal a checkpoint edited on purpose (e.g. with h5py)\n"
    "  report RUN_DIR      throughput, time split, stragglers and final metrics of a run\n"
    "  plot RUN_DIR -o P   draw loss, accuracy, learning rate and samples/s into a PNG\n"
    "  bench allreduce     ring all-reduce vs MPI_Allreduce bus bandwidth\n"
    "\n"
    "options:\n"
    "  --help              this text; every verb also takes --help\n"
    "  --version           version and git commit\n"
    "\n"
    "example:\n"
    "  mpirun -np 2 build/ringtrain train configs/fashion_mlp.json --set train.steps=100\n";

static const char *const usage_train =
    "usage: ringtrain train CONFIG.json [--set key.path=value ...] [--run-dir DIR]\n"
    "                      [--resume auto|PATH] [--per-rank-metrics] [--quiet]\n"
    "\n"
    "  --set key.path=value  override one config leaf (repeatable); the value is JSON,\n"
    "                        or a bare string: --set optim.type=sgd\n"
    "  --run-dir DIR         where config.json, metrics.jsonl and ckpt/ go\n"
    "                        (default runs/<config name>)\n"
    "  --resume auto|PATH    continue a run from ckpt/latest or from a checkpoint\n"
    "  --per-rank-metrics    every rank writes DIR/metrics.rank<R>.jsonl (step time split)\n"
    "  --quiet               no progress lines; the final JSON line is still printed\n"
    "\n"
    "example:\n"
    "  ringtrain train configs/fashion_mlp.json --set optim.lr=3e-4 --set train.steps=100\n";

static const char *const usage_eval =
    "usage: ringtrain eval CHECKPOINT.h5 [--data FILE.h5] [--split test|train]\n"
    "\n"
    "  --data FILE.h5   dataset to evaluate on (default: data.test of the checkpoint's config)\n"
    "  --split NAME     group of the dataset file (default test)\n"
    "\n"
    "example:\n"
    "  ringtrain eval runs/fashion_mlp/ckpt/step_00000234.h5\n";

static const char *const usage_sample =
    "usage: ringtrain sample CHECKPOINT.h5 --out FILE.png|FILE.h5 [--n N] [--seed S] [--steps K]\n"
    "\n"
    "Draws N samples from a generative checkpoint (model.type nice or rectified_flow).\n"
    "  --out FILE     .png: an image grid (libpng); .h5: /samples float32 [N, input...]\n"
    "  --n N          number of samples (default 64)\n"
    "  --seed S       random seed (default 0)\n"
    "  --steps K      Euler steps of a rectified flow (default: model.sample_steps)\n"
    "\n"
    "example:\n"
    "  ringtrain sample runs/fashion_nice/ckpt/step_00002340.h5 --n 64 --out grid.png\n";

static const char *const usage_prep =
    "usage: ringtrain prep fashion-mnist --out FILE.h5 [--src DIR]\n"
    "\n"
    "  --out FILE.h5   output file, written atomically\n"
    "  --src DIR       directory with the gzipped IDX files\n"
    "                  (default /usr/share/datasets/fashion-mnist, Debian dataset-fashion-mnist)\n"
    "\n"
    "example:\n"
    "  ringtrain prep fashion-mnist --out data/fashion-mnist.h5\n";

static const char *const usage_inspect =
    "usage: ringtrain inspect CHECKPOINT.h5\n"
    "\n"
    "  Prints step, epoch, world size, versions, the config digest and a table of\n"
    "  every parameter (name, shape, count, L2 norm). Checksums are verified.\n"
    "\n"
    "example:\n"
    "  ringtrain inspect runs/fashion_mlp/ckpt/step_00000234.h5\n";

static const char *const usage_seal =
    "usage: ringtrain seal CHECKPOINT.h5\n"
    "\n"
    "  Every checkpoint carries a seal (a digest and its length, in its 512-byte HDF5 user\n"
    "  block) that is checked before the file is parsed: a truncated, corrupted or\n"
    "  edited checkpoint is refused with one clear error. After editing one on\n"
    "  purpose (h5py keeps the user block), this writes its seal anew.\n"
    "\n"
    "example:\n"
    "  python3 -c \"import h5py; h5py.File('c.h5', 'a')['params/fc2.bias'][...] = 0\"\n"
    "  ringtrain seal c.h5 && ringtrain inspect c.h5\n";

static const char *const usage_report =
    "usage: ringtrain report RUN_DIR\n"
    "\n"
    "  Summarises RUN_DIR/metrics.jsonl: median and mean samples/s, the step time\n"
    "  split into compute and waiting, the slowest rank against the median (with\n"
    "  metrics.rank<R>.jsonl from train --per-rank-metrics) and the final metrics.\n"
    "\n"
    "example:\n"
    "  ringtrain report runs/fashion_mlp\n";

static const char *const usage_plot =
    "usage: ringtrain plot RUN_DIR -o FILE.png\n"
    "\n"
    "  Draws train and eval loss, test accuracy, learning rate and samples/s\n"
    "  against step with gnuplot (pngcairo). Needs gnuplot-nox.\n"
    "\n"
    "example:\n"
    "  ringtrain plot runs/fashion_mlp -o run.png\n";

static const char *const usage_bench =
    "usage: ringtrain bench allreduce [--sizes 4K,1M,64M] [--segment-kb N] [--json]\n"
    "\n"
    "  --sizes LIST     buffer sizes in bytes, with K/M/G suffixes\n"
    "                   (default 4K,16K,64K,256K,1M,4M,16M,64M)\n"
    "  --segment-kb N   ring pipelining segment (default 512)\n"
    "  --json           one JSON object per size instead of a table\n"
    "\n"
    "example:\n"
    "  mpirun -np 2 build/ringtrain bench allreduce --sizes 1M,64M\n";

/* ---- error reporting across ranks ---- */

static int world_rank(void) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/* Prints the error once: the lowest rank that saw it first-hand reports it. */
static void report(int rc, bool mpi_up) {
    const char *msg = rt_errmsg();
    bool own = rc != RT_OK && rc != RT_ESIGNAL && strcmp(msg, "another rank failed") != 0;
    int me = mpi_up ? world_rank() : 0;
    int printer = mpi_up ? rt_dist_first(own, MPI_COMM_WORLD) : me;
    if (own && printer == me) {
        fprintf(stderr, "ringtrain: error: %s\n", msg);
        fflush(stderr);
    }
}

static int usage_error(const char *verb, const char *fmt, const char *arg) {
    char what[512];
    snprintf(what, sizeof what, fmt, arg);
    return rt_err(RT_EBADINPUT, "%s%s%s (see ringtrain %s--help)", verb ? verb : "",
                  verb ? ": " : "", what, verb ? "" : "");
}

static bool is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

/* ---- MPI ---- */

static int mpi_start(int *argc, char ***argv) {
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return rt_err(RT_ERUNTIME, "MPI_Init_thread failed");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    rt_log_rank = world_rank();
    /* one BLAS thread per core this rank can call its own */
    int cores = rt_dist_cores_per_rank(MPI_COMM_WORLD); /* collective: every rank */
    if (!getenv("OPENBLAS_NUM_THREADS")) openblas_set_num_threads(cores);
    return RT_OK;
}

/* ---- verbs ---- */

static int cmd_train(int argc, char **argv) {
    const char *config = NULL;
    const char *sets[MAX_SETS];
    int nset = 0;
    rt_train_opts opts = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (is_help(a)) {
            if (world_rank() == 0) fputs(usage_train, stdout);
            return RT_OK;
        } else if (strcmp(a, "--set") == 0 && has_val) {
            if (nset == MAX_SETS) return usage_error("train", "too many --set (max %s)", "256");
            sets[nset++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            if (nset == MAX_SETS) return usage_error("train", "too many --set (max %s)", "256");
            sets[nset++] = a + 6;
        } else if (strcmp(a, "--run-dir") == 0 && has_val) {
            opts.run_dir = argv[++i];
        } else if (strcmp(a, "--resume") == 0 && has_val) {
            opts.resume = argv[++i];
        } else if (strcmp(a, "--quiet") == 0) {
            opts.quiet = true;
        } else if (strcmp(a, "--per-rank-metrics") == 0) {
            opts.per_rank_metrics = true;
        } else if (a[0] == '-') {
            return usage_error("train", "unknown or incomplete option %s", a);
        } else if (!config) {
            config = a;
        } else {
            return usage_error("train", "unexpected argument %s", a);
        }
    }
    if (!config) return usage_error("train", "missing CONFIG.json%s", "");
    rt_config *cfg = NULL;
    int rc = rt_config_load(config, sets, nset, &cfg);
    if (rc) return rc;
    rt_trainer *t = NULL;
    rc = rt_trainer_create(cfg, &opts, MPI_COMM_WORLD, &t);
    if (!rc) rc = rt_trainer_run(t);
    rt_trainer_destroy(t);
    rt_config_free(cfg);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *split = "test";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (is_help(a)) {
            if (world_rank() == 0) fputs(usage_eval, stdout);
            return RT_OK;
        } else if (strcmp(a, "--data") == 0 && has_val) {
            data = argv[++i];
        } else if (strcmp(a, "--split") == 0 && has_val) {
            split = argv[++i];
            if (strcmp(split, "test") && strcmp(split, "train"))
                return usage_error("eval", "--split must be test or train, got %s", split);
        } else if (a[0] == '-') {
            return usage_error("eval", "unknown or incomplete option %s", a);
        } else if (!ckpt) {
            ckpt = a;
        } else {
            return usage_error("eval", "unexpected argument %s", a);
        }
    }
    if (!ckpt) return usage_error("eval", "missing CHECKPOINT.h5%s", "");
    return rt_eval_checkpoint(ckpt, data, split, MPI_COMM_WORLD);
}

static int cmd_prep(int argc, char **argv) {
    const char *what = NULL, *out = NULL, *src = "/usr/share/datasets/fashion-mnist";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (is_help(a)) {
            fputs(usage_prep, stdout);
            return RT_OK;
        } else if (strcmp(a, "--out") == 0 && has_val) {
            out = argv[++i];
        } else if (strcmp(a, "--src") == 0 && has_val) {
            src = argv[++i];
        } else if (a[0] == '-') {
            return usage_error("prep", "unknown or incomplete option %s", a);
        } else if (!what) {
            what = a;
        } else {
            return usage_error("prep", "unexpected argument %s", a);
        }
    }
    if (!what || strcmp(what, "fashion-mnist") != 0)
        return usage_error("prep", "unknown dataset \"%s\" (supported: fashion-mnist)",
                           what ? what : "");
    if (!out) return usage_error("prep", "missing --out FILE.h5%s", "");
    int rc = rt_prep_fashion_mnist(src, out);
    if (!rc) printf("wrote %s\n", out);
    return rc;
}

/* A whole decimal number in [lo, hi] from a flag's value. */
static bool parse_count(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL;
    long long n = 64, seed = 0, steps = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (is_help(a)) {
            fputs(usage_sample, stdout);
            return RT_OK;
        } else if (strcmp(a, "--out") == 0 && has_val) {
            out = argv[++i];
        } else if (strcmp(a, "--n") == 0 && has_val) {
            if (!parse_count(argv[++i], 1, 1 << 20, &n))
                return usage_error("sample", "--n: expected a count in [1, 1048576], got %s", argv[i]);
        } else if (strcmp(a, "--seed") == 0 && has_val) {
            if (!parse_count(argv[++i], 0, (long long)9e15, &seed))
                return usage_error("sample", "--seed: expected a non-negative integer, got %s", argv[i]);
        } else if (strcmp(a, "--steps") == 0 && has_val) {
            if (!parse_count(argv[++i], 1, 100000, &steps))
                return usage_error("sample", "--steps: expected a count in [1, 100000], got %s", argv[i]);
        } else if (a[0] == '-') {
            return usage_error("sample", "unknown or incomplete option %s", a);
        } else if (!ckpt) {
            ckpt = a;
        } else {
            return usage_error("sample", "unexpected argument %s", a);
        }
    }
    if (!ckpt) return usage_error("sample", "missing CHECKPOINT.h5%s", "");
    if (!out) return usage_error("sample", "missing --out FILE.png or FILE.h5%s", "");
    if (strlen(out) >= RT_PATH_MAX - 8) return usage_error("sample", "--out: path longer than %s characters", "1015");
    int rc = rt_sample_checkpoint(ckpt, n, (uint64_t)seed, (int)steps, out);
    if (!rc) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "sample");
        cJSON_AddStringToObject(o, "checkpoint", ckpt);
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddStringToObject(o, "out", out);
        char *line = cJSON_PrintUnformatted(o);
        printf("%s\n", line);
        fflush(stdout);
        cJSON_free(line);
        cJSON_Delete(o);
    }
    return rc;
}

/* inspect CKPT | seal CKPT: one checkpoint, no options */
static int cmd_one_ckpt(const char *verb, const char *usage, int (*fn)(const char *, FILE *),
                        int argc, char **argv) {
    const char *ckpt = NULL;
    for (int i = 0; i < argc; i++) {
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            return RT_OK;
        } else if (argv[i][0] == '-') {
            return usage_error(verb, "unknown option %s", argv[i]);
        } else if (!ckpt) {
            ckpt = argv[i];
        } else {
            return usage_error(verb, "unexpected argument %s", argv[i]);
        }
    }
    if (!ckpt) return usage_error(verb, "missing CHECKPOINT.h5%s", "");
    return fn(ckpt, stdout);
}

/* report RUN_DIR | plot RUN_DIR -o FILE.png */
static int cmd_runlog(bool plot, int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *verb = plot ? "plot" : "report";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(plot ? usage_plot : usage_report, stdout);
            return RT_OK;
        } else if (plot && (strcmp(a, "-o") == 0 || strcmp(a, "--out") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (a[0] == '-') {
            return usage_error(verb, "unknown or incomplete option %s", a);
        } else if (!dir) {
            dir = a;
        } else {
            return usage_error(verb, "unexpected argument %s", a);
        }
    }
    if (!dir) return usage_error(verb, "missing RUN_DIR%s", "");
    if (!plot) return rt_report(dir, stdout);
    if (!out) return usage_error(verb, "missing -o FILE.png%s", "");
    int rc = rt_plot(dir, out);
    if (!rc) printf("wrote %s\n", out);
    return rc;
}

/* "64M" -> 67108864; returns 0 on a malformed size. */
static size_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    double mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1024, end++;
    else if (*end == 'M' || *end == 'm') mult = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g') mult = 1024.0 * 1024 * 1024, end++;
    if (*end || !(v > 0) || v * mult > 8.0 * 1024 * 1024 * 1024) return 0;
    return (size_t)(v * mult);
}

static int cmd_bench(int argc, char **argv) {
    size_t sizes[64] = {4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20};
    int nsizes = 8;
    size_t segment = 512 << 10;
    bool json = false;
    const char *what = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (is_help(a)) {
            if (world_rank() == 0) fputs(usage_bench, stdout);
            return RT_OK;
        } else if (strcmp(a, "--sizes") == 0 && has_val) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            nsizes = 0;
            char *save = NULL;
            for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (nsizes == 64) return usage_error("bench", "--sizes: at most 64 sizes%s", "");
                if (!(sizes[nsizes++] = parse_size(tok)))
                    return usage_error("bench", "--sizes: bad size \"%s\"", tok);
            }
            if (!nsizes) return usage_error("bench", "--sizes: empty list%s", "");
        } else if (strcmp(a, "--segment-kb") == 0 && has_val) {
            long kb = strtol(argv[++i], NULL, 10);
            if (kb < 1 || kb > (1 << 20)) return usage_error("bench", "--segment-kb: bad value %s", argv[i]);
            segment = (size_t)kb << 10;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (a[0] == '-') {
            return usage_error("bench", "unknown or incomplete option %s", a);
        } else if (!what) {
            what = a;
        } else {
            return usage_error("bench", "unexpected argument %s", a);
        }
    }
    if (!what || strcmp(what, "allreduce") != 0)
        return usage_error("bench", "unknown benchmark \"%s\" (supported: allreduce)", what ? what : "");
    return rt_bench_allreduce(MPI_COMM_WORLD, sizes, nsizes, segment, json);
}

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* may run the program again from here */
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? RT_EBADINPUT : RT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        const char *detected;
        const char *kernels = rt_blas_kernels(&detected);
        printf("ringtrain %s (git %s)\n", RT_VERSION, RT_GIT_COMMIT);
        printf("blas: OpenBLAS %s kernels", kernels);
        if (detected) printf(" (chosen by ringtrain from the CPU's features: OpenBLAS took it for %s)", detected);
        printf("\n");
        return RT_OK;
    }
    const char *verb = argv[1];
    int rc;
    bool no_mpi = true;
    if (strcmp(verb, "prep") == 0)
        rc = cmd_prep(argc - 2, argv + 2);
    else if (strcmp(verb, "inspect") == 0)
        rc = cmd_one_ckpt("inspect", usage_inspect, rt_ckpt_inspect, argc - 2, argv + 2);
    else if (strcmp(verb, "seal") == 0)
        rc = cmd_one_ckpt("seal", usage_seal, rt_ckpt_seal, argc - 2, argv + 2);
    else if (strcmp(verb, "sample") == 0)
        rc = cmd_sample(argc - 2, argv + 2);
    else if (strcmp(verb, "report") == 0 || strcmp(verb, "plot") == 0)
        rc = cmd_runlog(strcmp(verb, "plot") == 0, argc - 2, argv + 2);
    else
        no_mpi = false;
    if (no_mpi) {
        report(rc, false);
        return rc;
    }
    int (*fn)(int, char **) = NULL;
    if (strcmp(verb, "train") == 0) fn = cmd_train;
    else if (strcmp(verb, "eval") == 0) fn = cmd_eval;
    else if (strcmp(verb, "bench") == 0) fn = cmd_bench;
    if (!fn) {
        rt_err(RT_EBADINPUT, "unknown verb \"%s\" (expected train, eval, sample, inspect, seal, report, plot, prep or bench; see ringtrain --help)",
               verb);
        report(RT_EBADINPUT, false);
        return RT_EBADINPUT;
    }
    rc = mpi_start(&argc, &argv);
    if (rc) {
        report(rc, false);
        return rc;
    }
    rc = fn(argc - 2, argv + 2);
    if (rc == RT_ECOMM) {
        /* a peer is gone or hung: no collective can finish, so no agreement
         * either; say what this rank saw and take the whole job down */
        fprintf(stderr, "ringtrain: error: rank %d: %s; aborting the job\n", world_rank(), rt_errmsg());
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, RT_ECOMM);
        return RT_ECOMM;
    }
    report(rc, true);
    MPI_Finalize();
    return rc;
}
