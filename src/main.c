/* main.c - the ringtrain command line: one binary, one verb per job, from a
 * table of verbs; every verb's flags are read by one shared helper. */
#include "cli/internal.h"
#include "gemm.h"
#include "ringtrain/bench.h"
#include "ringtrain/blas.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/data.h"
#include "ringtrain/dist.h"
#include "ringtrain/eval.h"
#include "ringtrain/flight.h"
#include "ringtrain/prep.h"
#include "ringtrain/provenance.h"
#include "ringtrain/events.h"
#include "ringtrain/launch.h"
#include "ringtrain/report.h"
#include "ringtrain/reproduce.h"
#include "ringtrain/rundir.h"
#include "ringtrain/fid.h"
#include "ringtrain/hooks.h"
#include "ringtrain/sample.h"
#include "ringtrain/timeline.h"
#include "ringtrain/train.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RT_GIT_COMMIT
#define RT_GIT_COMMIT "unknown"
#endif

#define MAX_SETS ARG_MAX_SETS

/* ---- usage texts (the verbs' list is made from the table below) ---- */

static const char *const usage_train =
    "usage: ringtrain train CONFIG.json [--set key.path=value ...] [--run-dir DIR]\n"
    "                      [--resume auto|PATH] [--allow-config-change] [--per-rank-metrics]\n"
    "                      [--timeline FILE.json] [--quiet]\n"
    "\n"
    "  --set key.path=value  override one config leaf (repeatable); the value is JSON,\n"
    "                        or a bare string: --set optim.type=sgd\n"
    "  --run-dir DIR         where config.json, metrics.jsonl and ckpt/ go\n"
    "                        (default runs/<config name>)\n"
    "  --resume auto|PATH    continue a run from ckpt/latest or from a checkpoint\n"
    "  --allow-config-change resume even where the config differs from the checkpoint's in\n"
    "                        keys that change the trajectory (recorded in the start event)\n"
    "  --per-rank-metrics    every rank writes DIR/metrics.rank<R>.jsonl (step time split)\n"
    "  --timeline FILE.json  every rank's phases and buckets as Chrome trace events, written\n"
    "                        at the end (open in chrome://tracing or Perfetto)\n"
    "  --quiet               no progress lines; the final JSON line is still printed\n"
    "\n"
    "example:\n"
    "  ringtrain train configs/fashion_mlp.json --set optim.lr=3e-4 --set train.steps=100\n";

static const char *const usage_eval =
    "usage: ringtrain eval CHECKPOINT.h5 [--data FILE.h5] [--split test|train] [--weights params|ema]\n"
    "       ringtrain eval GEN_CHECKPOINT.h5 --fid CLASSIFIER.h5 [--n N] [--seed S] [--data FILE.h5]\n"
    "       ringtrain eval --fid CLASSIFIER.h5 --samples FILE.h5 [--n N] [--data FILE.h5]\n"
    "\n"
    "Evaluates a checkpoint on a split; or, with --fid, scores generated images: FID on the\n"
    "classifier's penultimate features against the first N test images, the same for the\n"
    "train split (the floor), and the fraction of labelled samples given their class.\n"
    "  --data FILE.h5   dataset to evaluate on (default: data.test of the checkpoint's config)\n"
    "  --split NAME     group of the dataset file (default test)\n"
    "  --weights W      params, or ema (train.ema_decay); default: ema when the checkpoint has it\n"
    "  --fid CLF        a classifier checkpoint whose features FID compares (its config's\n"
    "                   normalisation and data.test unless --data)\n"
    "  --samples FILE   score FILE's /images, float32 [N, C, H, W] in [0, 1] (/labels optional)\n"
    "  --n N            samples drawn and images compared (default 10000)\n"
    "  --seed S         seed of the samples drawn (default 0)\n"
    "\n"
    "example:\n"
    "  ringtrain eval runs/fashion_mlp/ckpt/step_00000234.h5\n"
    "  ringtrain eval runs/fashion_rectflow_dit --fid runs/fashion_cnn --n 2000\n";

static const char *const usage_reproduce =
    "usage: ringtrain reproduce CHECKPOINT.h5 [--np N] [--run-dir DIR] [--set key.path=value ...]\n"
    "\n"
    "Re-runs the run that wrote CHECKPOINT from its stored config and provenance: from\n"
    "step 0, each part of its resume chain at the world size that ran it, under mpirun,\n"
    "up to the checkpoint's step. Then compares every tensor with CHECKPOINT and prints\n"
    "a verdict: bitwise identical, or the tensors that differ, by how much, and what in\n"
    "the provenance and config changed. Exit 0 identical, 1 differs, 2 bad input.\n"
    "  --np N           every part at N ranks (another N differs in the last bits)\n"
    "  --run-dir DIR    where the reproduction runs (default runs/reproduce-<time>)\n"
    "  --set k=v        change the config, to see what it changes\n"
    "\n"
    "example:\n"
    "  ringtrain reproduce runs/fashion_mlp/ckpt/latest\n";

static const char *const usage_diff =
    "usage: ringtrain diff CHECKPOINT_A.h5 CHECKPOINT_B.h5\n"
    "\n"
    "Compares two checkpoints as reproduce does, without training: every tensor, the\n"
    "steps, the stored configs and the provenance. Exit 0 identical, 1 differs.\n"
    "\n"
    "example:\n"
    "  ringtrain diff runs/a/ckpt/step_00000100.h5 runs/a/ckpt/step_00000300.h5\n";

static const char *const usage_sample =
    "usage: ringtrain sample CHECKPOINT.h5 --out FILE.png|FILE.h5 [--n N] [--seed S] [--steps K]\n"
    "                        [--class K|all] [--cfg W] [--temperature T] [--weights params|ema]\n"
    "\n"
    "Draws N samples from a generative checkpoint (model.type nice or rectified_flow).\n"
    "  --out FILE       .png: an image grid (libpng); .h5: /noise, /labels, /samples in the\n"
    "                   model's space, /images in [0, 1], and the sampler's settings\n"
    "  --n N            number of samples (default 64)\n"
    "  --seed S         random seed (default 0)\n"
    "  --steps K        Euler steps of a rectified flow (default: model.sample_steps)\n"
    "  --class K|all    class-conditional models: every sample of class K, or the classes in\n"
    "                   turn (a PNG grid then has one row per class)\n"
    "  --cfg W          classifier-free guidance: v(null) + W (v(class) - v(null)); 1 is none\n"
    "  --temperature T  scale of the starting noise (default 1)\n"
    "  --weights W      params, or ema (train.ema_decay); default: ema when the checkpoint has it\n"
    "\n"
    "example:\n"
    "  ringtrain sample runs/fashion_rectflow_dit/ckpt/step_00004680.h5 --class all --n 80 --cfg 2 --out grid.png\n";

static const char *const usage_prep =
    "usage: ringtrain prep fashion-mnist --out FILE.h5 [--src DIR]\n"
    "       ringtrain prep fashion-keypoints --out FILE.h5 [--size 64] [--seed S] [--src DIR]\n"
    "\n"
    "  --out FILE.h5   output file, written atomically\n"
    "  --src DIR       directory with the gzipped IDX files\n"
    "                  (default /usr/share/datasets/fashion-mnist, Debian dataset-fashion-mnist)\n"
    "  --size N        fashion-keypoints: the canvas side (default 64)\n"
    "  --seed S        fashion-keypoints: scales, positions and noise (default 0)\n"
    "\n"
    "fashion-keypoints pastes each garment at a random scale (0.7-1.3) and position into a\n"
    "size x size canvas with five keypoints per row: the intensity-weighted centre, then the\n"
    "top-, bottom-, left- and right-most pixels of intensity >= 0.5.\n"
    "\n"
    "example:\n"
    "  ringtrain prep fashion-mnist --out data/fashion-mnist.h5\n"
    "  ringtrain prep fashion-keypoints --out data/fashion-keypoints.h5\n";

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

/* ---- error reporting across ranks ---- */

static int world_rank(void) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

/* A verb that does not use MPI runs once per job, on launcher rank 0: the
 * others would print the same lines again (or write the same file). */
static int launcher_rank(void) {
    rt_launch l;
    rt_launch_read(&l);
    return l.rank;
}

/* Prints the error once: the lowest rank that saw it first-hand reports it
 * (a rank that only learnt another failed has no message of its own). */
static void report(int rc, bool mpi_up) {
    bool own = rc != RT_OK && rc != RT_ESIGNAL && rt_err_is_own();
    int me = mpi_up ? world_rank() : 0;
    int printer = mpi_up ? rt_dist_first(own, MPI_COMM_WORLD) : me;
    if (own && printer == me) {
        fprintf(stderr, "ringtrain: error: %s\n", rt_errmsg());
        fflush(stderr);
    }
}

/* arg_parse for a verb run on every rank: rank 0 alone prints its usage. */
/* ---- verbs ---- */

static int cmd_train(int argc, char **argv) {
    const char *config = NULL, *sets[MAX_SETS], *timeline = NULL;
    int nset = 0;
    rt_train_opts opts = {0};
    const arg_opt o[] = {
        {.name = "--set", .kind = ARG_LIST, .out = sets, .count = &nset},
        {.name = "--run-dir", .kind = ARG_STR, .out = &opts.run_dir},
        {.name = "--resume", .kind = ARG_STR, .out = &opts.resume},
        {.name = "--quiet", .kind = ARG_FLAG, .out = &opts.quiet},
        {.name = "--per-rank-metrics", .kind = ARG_FLAG, .out = &opts.per_rank_metrics},
        {.name = "--allow-config-change", .kind = ARG_FLAG, .out = &opts.allow_config_change},
        {.name = "--timeline", .kind = ARG_STR, .out = &timeline},
    };
    arg_spec s = {"train", usage_train, o, NOPTS(o), &config, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, true, &help);
    if (rc || help) return rc;
    if (!config) return arg_usage_error("train", "missing CONFIG.json%s", "");
    rt_config *cfg = NULL;
    /* every rank reads the file: one that cannot must not leave the others waiting */
    if ((rc = rt_dist_agree(rt_config_load(config, sets, nset, &cfg), MPI_COMM_WORLD))) {
        rt_config_free(cfg);
        return rc;
    }
    rt_trainer *t = NULL;
    rt_timeline_enable(timeline);
    rt_hooks_fault_start(); /* a test switch: a launch that crashes */
    rc = rt_trainer_create(cfg, &opts, MPI_COMM_WORLD, &t);
    if (!rc) rc = rt_trainer_run(t);
    rt_trainer_destroy(t);
    if (!rc) rc = rt_timeline_write(MPI_COMM_WORLD);
    rt_config_free(cfg);
    return rc;
}

static const char *const WEIGHTS[] = {"params", "ema", NULL};

/* eval --fid: a generative checkpoint's samples, or a samples file, against real images */
static int eval_fid(const char *gen, const char *clf, const char *samples, const char *data, long long n,
                    uint64_t seed) {
    if (!gen == !samples)
        return arg_usage_error("eval", "--fid: give a generative CHECKPOINT.h5 or --samples FILE.h5%s", ", not both");
    char g[RT_CKPT_PATH_MAX], c[RT_CKPT_PATH_MAX];
    int rc = rt_ckpt_resolve(clf, c, sizeof c);
    if (!rc && gen) rc = rt_ckpt_resolve(gen, g, sizeof g);
    if (rc) return rc;
    rt_fid_req req = {.classifier = c, .gen = gen ? g : NULL, .samples = samples, .data = data, .n = n, .seed = seed};
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank == 0 ? rt_fid_eval(&req) : RT_OK; /* one process's work: the others wait for it */
}

static int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *split = "test", *weights = NULL, *fid = NULL, *samples = NULL;
    long long n = 10000, seed = 0;
    static const char *const splits[] = {"test", "train", NULL};
    const arg_opt o[] = {
        {.name = "--data", .kind = ARG_STR, .out = &data},
        {.name = "--split", .kind = ARG_CHOICE, .out = &split, .what = "test or train", .choices = splits},
        {.name = "--weights", .kind = ARG_CHOICE, .out = &weights, .what = "params or ema", .choices = WEIGHTS},
        {.name = "--fid", .kind = ARG_STR, .out = &fid},
        {.name = "--samples", .kind = ARG_STR, .out = &samples},
        {.name = "--n", .kind = ARG_INT, .out = &n, .lo = 2, .hi = 1 << 20, .what = "a count in [2, 1048576]"},
        {.name = "--seed", .kind = ARG_INT, .out = &seed, .lo = 0, .hi = (long long)9e15,
         .what = "a non-negative integer"},
    };
    arg_spec s = {"eval", usage_eval, o, NOPTS(o), &ckpt, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, true, &help);
    if (rc || help) return rc;
    if (fid) return eval_fid(ckpt, fid, samples, data, n, (uint64_t)seed);
    if (samples) return arg_usage_error("eval", "--samples: only with --fid CLASSIFIER.h5%s", "");
    if (!ckpt) return arg_usage_error("eval", "missing CHECKPOINT.h5%s", "");
    char path[RT_CKPT_PATH_MAX];
    if ((rc = rt_ckpt_resolve(ckpt, path, sizeof path))) return rc;
    return rt_eval_checkpoint_weights(path, data, split, weights, MPI_COMM_WORLD);
}

static int cmd_prep(int argc, char **argv) {
    const char *what = NULL, *out = NULL, *src = "/usr/share/datasets/fashion-mnist";
    long long size = 64, seed = 0;
    const arg_opt o[] = {
        {.name = "--out", .kind = ARG_STR, .out = &out},
        {.name = "--src", .kind = ARG_STR, .out = &src},
        {.name = "--size", .kind = ARG_INT, .out = &size, .lo = 36, .hi = 512, .what = "a side in [36, 512]"},
        {.name = "--seed", .kind = ARG_INT, .out = &seed, .lo = 0, .hi = (long long)9e15,
         .what = "a non-negative integer"},
    };
    arg_spec s = {"prep", usage_prep, o, NOPTS(o), &what, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    bool kp = what && strcmp(what, "fashion-keypoints") == 0;
    if (!what || (!kp && strcmp(what, "fashion-mnist") != 0))
        return arg_usage_error("prep", "unknown dataset \"%s\" (supported: fashion-mnist, fashion-keypoints)",
                           what ? what : "");
    if (!out) return arg_usage_error("prep", "missing --out FILE.h5%s", "");
    rc = kp ? rt_prep_fashion_keypoints(src, out, (int)size, (uint64_t)seed) : rt_prep_fashion_mnist(src, out);
    if (!rc) printf("wrote %s\n", out);
    return rc;
}

/* --class K|all */
static int parse_class(const char *v, int *klass) {
    char *end;
    long k = strtol(v, &end, 10);
    if (strcmp(v, "all") == 0) *klass = RT_CLASS_ALL;
    else if (end != v && !*end && k >= 0 && k < (1 << 20)) *klass = (int)k;
    else return arg_usage_error("sample", "--class: expected a class number or all, got %s", v);
    return RT_OK;
}

static int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *out = NULL, *klass = NULL;
    long long n = 64, seed = 0, steps = 0;
    rt_sample_req req = {.cfg = NAN, .temperature = 1.0, .klass = RT_CLASS_NONE};
    const arg_opt o[] = {
        {.name = "--out", .kind = ARG_STR, .out = &out},
        {.name = "--n", .kind = ARG_INT, .out = &n, .lo = 1, .hi = 1 << 20, .what = "a count in [1, 1048576]"},
        {.name = "--seed", .kind = ARG_INT, .out = &seed, .lo = 0, .hi = (long long)9e15,
         .what = "a non-negative integer"},
        {.name = "--steps", .kind = ARG_INT, .out = &steps, .lo = 1, .hi = 100000, .what = "a count in [1, 100000]"},
        {.name = "--class", .kind = ARG_STR, .out = &klass},
        {.name = "--cfg", .kind = ARG_NUM, .out = &req.cfg, .lo = 0, .hi = 100, .what = "a scale in [0, 100]"},
        {.name = "--temperature", .kind = ARG_NUM, .out = &req.temperature, .lo = 0, .hi = 10,
         .what = "a number in [0, 10]"},
        {.name = "--weights", .kind = ARG_CHOICE, .out = &req.weights, .what = "params or ema", .choices = WEIGHTS},
    };
    arg_spec s = {"sample", usage_sample, o, NOPTS(o), &ckpt, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (klass && (rc = parse_class(klass, &req.klass))) return rc;
    if (!ckpt) return arg_usage_error("sample", "missing CHECKPOINT.h5%s", "");
    if (!out) return arg_usage_error("sample", "missing --out FILE.png or FILE.h5%s", "");
    if (strlen(out) >= RT_PATH_MAX - 8) return arg_usage_error("sample", "--out: path longer than %s characters", "1015");
    req.n = n, req.seed = (uint64_t)seed, req.steps = (int)steps;
    char path[RT_CKPT_PATH_MAX];
    if ((rc = rt_ckpt_resolve(ckpt, path, sizeof path)) || (rc = rt_sample_checkpoint(path, &req, out))) return rc;
    rt_event *e = rt_event_new("sample");
    rt_event_str(e, "checkpoint", path);
    rt_event_num(e, "n", (double)n);
    rt_event_str(e, "out", out);
    rt_event_emit(e, stdout, NULL);
    return RT_OK;
}

/* inspect CKPT | seal CKPT: one checkpoint, no options */
/* resolve: a run directory or ckpt/latest stands for its newest checkpoint
 * (not for seal, which mends one file as named) */
static int one_ckpt(const char *verb, const char *usage, int (*fn)(const char *, FILE *), bool resolve, int argc,
                    char **argv) {
    const char *ckpt = NULL;
    arg_spec s = {verb, usage, NULL, 0, &ckpt, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (!ckpt) return arg_usage_error(verb, "missing CHECKPOINT.h5%s", "");
    char path[RT_CKPT_PATH_MAX];
    if (resolve && (rc = rt_ckpt_resolve(ckpt, path, sizeof path))) return rc;
    return fn(resolve ? path : ckpt, stdout);
}

static int cmd_inspect(int argc, char **argv) { return one_ckpt("inspect", usage_inspect, rt_ckpt_inspect, true, argc, argv); }
static int cmd_seal(int argc, char **argv) { return one_ckpt("seal", usage_seal, rt_ckpt_seal, false, argc, argv); }

static int cmd_reproduce(int argc, char **argv) {
    const char *ckpt = NULL, *run_dir = NULL, *sets[MAX_SETS];
    long long np = 0;
    int nset = 0;
    const arg_opt o[] = {
        {.name = "--np", .kind = ARG_INT, .out = &np, .lo = 1, .hi = 4096, .what = "a rank count in [1, 4096]"},
        {.name = "--run-dir", .kind = ARG_STR, .out = &run_dir},
        {.name = "--set", .kind = ARG_LIST, .out = sets, .count = &nset},
    };
    arg_spec s = {"reproduce", usage_reproduce, o, NOPTS(o), &ckpt, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (!ckpt) return arg_usage_error("reproduce", "missing CHECKPOINT.h5%s", "");
    char path[RT_CKPT_PATH_MAX];
    if ((rc = rt_ckpt_resolve(ckpt, path, sizeof path))) return rc;
    return rt_reproduce(path, (int)np, run_dir, sets, nset);
}

static int cmd_diff(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL};
    arg_spec s = {"diff", usage_diff, NULL, 0, pos, 2};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (!pos[1]) return arg_usage_error("diff", "missing %s", pos[0] ? "CHECKPOINT_B.h5" : "CHECKPOINT_A.h5");
    char a[RT_CKPT_PATH_MAX], b[RT_CKPT_PATH_MAX];
    if ((rc = rt_ckpt_resolve(pos[0], a, sizeof a)) || (rc = rt_ckpt_resolve(pos[1], b, sizeof b))) return rc;
    return rt_ckpt_diff(a, b);
}

static int cmd_report(int argc, char **argv) {
    const char *dir = NULL;
    arg_spec s = {"report", usage_report, NULL, 0, &dir, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (!dir) return arg_usage_error("report", "missing RUN_DIR%s", "");
    return rt_report(dir, stdout);
}

static int cmd_plot(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    const arg_opt o[] = {{.name = "--out", .alias = "-o", .kind = ARG_STR, .out = &out}};
    arg_spec s = {"plot", usage_plot, o, NOPTS(o), &dir, 1};
    bool help;
    int rc = arg_parse_or_help(&s, argc, argv, false, &help);
    if (rc || help) return rc;
    if (!dir) return arg_usage_error("plot", "missing RUN_DIR%s", "");
    if (!out) return arg_usage_error("plot", "missing -o FILE.png%s", "");
    if (!(rc = rt_plot(dir, out))) printf("wrote %s\n", out);
    return rc;
}

/* ---- the verb table ---- */

typedef struct verb {
    const char *name;
    const char *synopsis; /* the verb with its main argument, for the verbs' list */
    const char *summary;
    bool mpi;             /* runs on every rank of an MPI job; the others run alone */
    int (*run)(int argc, char **argv);
} verb;

static const verb verbs[] = {
    {"train", "train CONFIG.json", "train a model (plain, under mpirun, or under srun)", true, cmd_train},
    {"eval", "eval CKPT.h5", "evaluate a checkpoint; prints one JSON line", true, cmd_eval},
    {"sample", "sample CKPT.h5", "draw samples of a NICE or rectified-flow model into a PNG grid", false, cmd_sample},
    {"prep", "prep DATASET", "fashion-mnist or the fashion-keypoints task, in ringtrain's HDF5 layout", false, cmd_prep},
    {"inspect", "inspect CKPT.h5", "print a readable summary of a checkpoint", false, cmd_inspect},
    {"reproduce", "reproduce CKPT.h5", "re-run a checkpoint's run and say whether it is bitwise identical", false,
     cmd_reproduce},
    {"diff", "diff CKPT_A CKPT_B", "compare two checkpoints: tensors, steps, config and provenance", false, cmd_diff},
    {"seal", "seal CKPT.h5", "re-seal a checkpoint edited on purpose (e.g. with h5py)", false, cmd_seal},
    {"report", "report RUN_DIR", "throughput, time split, stragglers and final metrics of a run", false, cmd_report},
    {"plot", "plot RUN_DIR -o P", "draw loss, accuracy, learning rate and samples/s into a PNG", false, cmd_plot},
    {"bench", "bench allreduce", "ring all-reduce vs MPI_Allreduce bus bandwidth", true, cli_bench},
};
#define NVERBS ((int)(sizeof verbs / sizeof verbs[0]))

static void print_usage(FILE *f) {
    fputs("usage: ringtrain VERB [options]\n\nverbs:\n", f);
    for (int i = 0; i < NVERBS; i++) fprintf(f, "  %-19s %s\n", verbs[i].synopsis, verbs[i].summary);
    fputs("\noptions:\n"
          "  --help              this text; every verb also takes --help\n"
          "  --version           version and git commit\n"
          "\nexample:\n"
          "  mpirun -np 2 build/ringtrain train configs/fashion_mlp.json --set train.steps=100\n",
          f);
}

static int unknown_verb(const char *name) {
    char list[256];
    size_t n = 0;
    for (int i = 0; i < NVERBS && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i == 0 ? "" : i + 1 == NVERBS ? " or " : ", ",
                              verbs[i].name);
    return rt_err(RT_EBADINPUT, "unknown verb \"%s\" (expected %s; see ringtrain --help)", name, list);
}

static void print_version(void) {
    const char *detected;
    const char *kernels = rt_blas_kernels(&detected);
    printf("ringtrain %s (git %s)\n", RT_VERSION, RT_GIT_COMMIT);
    printf("blas: OpenBLAS %s kernels", kernels);
    if (detected) printf(" (chosen by ringtrain from the CPU's features: OpenBLAS took it for %s)", detected);
    printf("\nsgemm: %s\n", rt_gemm_policy());
}

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

static int run_mpi_verb(const verb *v, int argc, char **argv) {
    int rc = mpi_start(&argc, &argv);
    if (rc) {
        report(rc, false);
        return rc;
    }
    rc = rt_gemm_check_env(); /* every rank reads the same environment */
    if (!rc) rc = v->run(argc - 2, argv + 2);
    if (rc == RT_ECOMM) {
        /* a peer is gone or hung: no collective can finish, so no agreement
         * either; say what this rank saw, and where every rank is, and take
         * the whole job down */
        char where[256];
        rt_flight_where(where, sizeof where);
        fprintf(stderr, "ringtrain: error: rank %d: %s%s%s%s; aborting the job\n", world_rank(), rt_errmsg(),
                where[0] ? " (this rank " : "", where, where[0] ? ")" : "");
        fflush(stderr);
        rt_flight_report(stderr, rt_errmsg());
        MPI_Abort(MPI_COMM_WORLD, RT_ECOMM);
        return RT_ECOMM;
    }
    report(rc, true);
    rt_flight_close(); /* kept open past the verb: the abort above reads it */
    MPI_Finalize();
    return rc;
}

int main(int argc, char **argv) {
    rt_blas_pick_kernels(argv); /* may run the program again from here */
    rt_prov_set_command(argc, argv);
    bool quiet_rank = launcher_rank() > 0; /* a verb without MPI runs on rank 0 only */
    if (argc < 2 || arg_is_help(argv[1])) {
        if (quiet_rank) return argc < 2 ? RT_EBADINPUT : RT_OK;
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? RT_EBADINPUT : RT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        if (!quiet_rank) print_version();
        return RT_OK;
    }
    for (int i = 0; i < NVERBS; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0) continue;
        if (verbs[i].mpi) return run_mpi_verb(&verbs[i], argc, argv);
        if (quiet_rank) return RT_OK;
        int rc = rt_gemm_check_env();
        if (!rc) rc = verbs[i].run(argc - 2, argv + 2);
        report(rc, false);
        return rc;
    }
    int rc = unknown_verb(argv[1]);
    if (!quiet_rank) report(rc, false);
    return rc;
}
