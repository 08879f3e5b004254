/* train.c - the training loop. */
#include "ringtrain/train.h"

#include "ringtrain/blas.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/data.h"
#include "ringtrain/dist.h"
#include "ringtrain/gradsync.h"
#include "ringtrain/h5util.h"
#include "ringtrain/model.h"
#include "ringtrain/optim.h"
#include "ringtrain/progress.h"

#include <cJSON.h>
#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct rt_trainer {
    const rt_config *cfg;
    MPI_Comm comm;
    int rank, world;
    bool quiet;
    char run_dir[RT_PATH_MAX];
    FILE *metrics;              /* rank 0: run_dir/metrics.jsonl */
    FILE *rank_metrics;         /* --per-rank-metrics: run_dir/metrics.rank<R>.jsonl */
    rt_progress *progress;      /* rank 0's bar or lines */

    rt_model *model;
    rt_params *params;
    rt_ring *ring;              /* gradient all-reduce (and the step's loss) */
    rt_gradsync *sync;          /* gradient buckets, overlapped with backward or after it */
    bool overlap;               /* dist.overlap resolved: a communication thread */
    int cores;                  /* cores this rank can call its own */
    FILE *trace;                /* RINGTRAIN_TRACE_ROWS: rows this rank reads, per step */
    int64_t corrupt_step;       /* RINGTRAIN_FAULT_CORRUPT=rank:step, for the replica test */
    bool no_sync;               /* this step skips the ring (benchmark only) */
    int bench_no_sync;          /* RINGTRAIN_BENCH_NO_SYNC: 0 unset; 1 every step; 2 ("alternate")
                                 * the odd log windows, so one run times both kinds of step */
    bool shard;                 /* dist.shard_optimizer, and the ring runs: each rank
                                   updates its owned ranges, then parameters are gathered */
    double *tiny;               /* (4 * world) scratch of the step's small sums */
    bool grad_zeroed;           /* the last step already zeroed the gradients */
    rt_optim *optim;
    rt_graph *graph;
    rt_dataset *train, *test;

    int64_t sample;             /* input elements per row */
    int64_t B;                  /* global batch */
    int64_t steps_per_epoch, total_steps;
    int64_t step;               /* optimizer steps completed */
    int64_t *perm[2];           /* (train rows) orders of two consecutive epochs */
    int64_t perm_epoch[2];      /* which epoch each holds, -1 for none */
    rt_loader *loader;          /* prefetches the next micro-batch */
    bool queued;                /* the loader holds the current step's first micro-batch */
    int64_t *rows;              /* (max(local rows, eval batch)) scratch row list */
    uint64_t *keys;             /* (max(local rows, eval batch)) random key of each row */
    int32_t *y;                 /* (eval batch) labels, for evaluation */
    float *x;                   /* (eval batch, sample) inputs, for evaluation */
    int64_t local_max;          /* rows this rank reads per micro-batch, at most */
    double data_bytes;          /* resident memory of the data path, per rank (open_data) */

    double last_grad_norm;
    int64_t skipped;            /* steps whose update was skipped for a non-finite value */
    double t_compute, t_comm;   /* seconds spent in the last step */
    double t_wait;              /* seconds the last step waited: for data and for the ring's end */
    double t_data;              /* of which waiting for the loader's data */
    int64_t resumed_from_world; /* world size that wrote the resumed checkpoint */
    char job_id[64];            /* SLURM_JOB_ID, "" outside Slurm */
    int64_t requeue_count;      /* SLURM_RESTART_COUNT */
    const char *launcher;       /* "srun", "mpirun" or "none" */
    bool stop;                  /* some rank got SIGUSR1/SIGTERM: checkpoint and exit 3 */
    int64_t stop_at;            /* RINGTRAIN_STOP_AT_STEP: raise the flag at this step */
};

/* ---- signals: SIGUSR1 / SIGTERM ask for a checkpoint and exit 3 ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a second signal while writing interrupts nothing */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- small helpers ---- */

/* A JSON number, or null for NaN and infinities (JSON has no spelling for them). */
static const char *json_num(char *buf, size_t len, double v) {
    if (!isfinite(v)) return "null";
    snprintf(buf, len, "%.9g", v);
    return buf;
}

static int mkdir_p(const char *path) {
    char buf[RT_PATH_MAX];
    rt_fmt(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}

static int write_text_atomic(const char *path, const char *text) {
    char tmp[RT_PATH_MAX + 16];
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return rt_err(RT_ERUNTIME, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return rt_err(RT_ERUNTIME, "%s: write failed", tmp);
    }
    return rt_commit_file(tmp, path);
}

/* ---- setup ---- */

static int open_data(rt_trainer *t) {
    const rt_config *c = t->cfg;
    int classes = rt_model_num_classes(t->model);
    int rc = rt_dataset_open(c->data.train, "train", t->sample, classes, &t->train);
    if (!rc && c->data.test[0]) rc = rt_dataset_open(c->data.test, "test", t->sample, classes, &t->test);
    if (rc) return rc;
    rt_dataset_set_normalize(t->train, (float)c->data.mean, (float)c->data.std);
    if (t->test) rt_dataset_set_normalize(t->test, (float)c->data.mean, (float)c->data.std);
    int64_t n = rt_dataset_rows(t->train);
    if (n < t->B)
        return rt_err(RT_EBADINPUT, "%s: train.global_batch: %lld is larger than the %lld training rows",
                      c->path, (long long)t->B, (long long)n);
    int64_t lo, hi;
    rt_shard_range(t->B, 0, t->world, &lo, &hi);
    if (t->B < t->world * c->optim.accum_steps)
        return rt_err(RT_EBADINPUT,
                      "%s: train.global_batch: %lld rows cannot feed %d ranks x %lld micro-batches",
                      c->path, (long long)t->B, t->world, (long long)c->optim.accum_steps);
    t->steps_per_epoch = n / t->B;
    t->total_steps = c->train.steps ? c->train.steps : c->train.epochs * t->steps_per_epoch;
    for (int i = 0; i < 2; i++) {
        t->perm[i] = rt_malloc(rt_mul_size((size_t)n, sizeof(int64_t)));
        t->perm_epoch[i] = -1;
    }
    t->local_max = (hi - lo + c->optim.accum_steps - 1) / c->optim.accum_steps + 1;
    int64_t eval_rows = c->train.eval_batch;
    int64_t xrows = t->local_max > eval_rows ? t->local_max : eval_rows;
    /* The samples stay in the file (each batch is read from it): what the data
     * path holds is per row, labels (4 B) and two epoch orders (16 B), plus
     * batch buffers. Checked against the budget before the orders exist. */
    int64_t n_test = t->test ? rt_dataset_rows(t->test) : 0;
    double row_bytes = (double)t->sample * sizeof(float);
    t->data_bytes = 20.0 * (double)n + 4.0 * (double)n_test +
                    3.0 * (double)t->local_max * (row_bytes + 12.0) + /* loader slots */
                    (double)eval_rows * (row_bytes + 4.0) + 16.0 * (double)xrows +
                    (double)xrows * (double)t->sample; /* uint8 staging */
    if (c->data.memory_budget_mb > 0 && t->data_bytes > c->data.memory_budget_mb * 1048576.0)
        return rt_err(RT_EBADINPUT,
                      "%s: data.memory_budget_mb: %g MB is less than the %.1f MB the data path needs "
                      "per rank (20 B per training row x %lld, 4 B per test row x %lld, batch buffers)",
                      c->path, c->data.memory_budget_mb, t->data_bytes / 1048576.0, (long long)n,
                      (long long)n_test);
    t->rows = rt_malloc(rt_mul_size((size_t)xrows, sizeof(int64_t)));
    t->keys = rt_malloc(rt_mul_size((size_t)xrows, sizeof(uint64_t)));
    t->y = rt_malloc(rt_mul_size((size_t)eval_rows, sizeof(int32_t)));
    t->x = rt_alloc_aligned(rt_mul_size(rt_mul_size((size_t)eval_rows, (size_t)t->sample), sizeof(float)));
    t->loader = rt_loader_create(t->train, t->local_max);
    return RT_OK;
}

/* Keeps the metrics lines of steps <= step (a resumed run rewrites what the
 * interrupted one logged after its checkpoint), atomically. */
static int trim_metrics(const char *path, int64_t step) {
    FILE *in = fopen(path, "r");
    if (!in) return RT_OK;
    char tmp[RT_PATH_MAX + 16];
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return rt_err(RT_ERUNTIME, "%s: %s", tmp, strerror(errno));
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        const char *k = strstr(line, "\"step\":");
        long long s = k ? atoll(k + 7) : 0;
        if (s <= step && !strstr(line, "\"event\":\"done\"") && !strstr(line, "\"event\":\"stopped\""))
            fputs(line, out);
    }
    fclose(in);
    bool ok = fclose(out) == 0;
    if (!ok) return rt_err(RT_ERUNTIME, "%s: write failed", tmp);
    return rt_commit_file(tmp, path);
}

static int prepare_run_dir(rt_trainer *t, const rt_train_opts *o) {
    const rt_config *c = t->cfg;
    if (t->rank != 0) return RT_OK;
    char p[RT_PATH_MAX + 32];
    rt_fmt(p, sizeof p, "%s/ckpt/latest", t->run_dir);
    if (!o->resume && access(p, F_OK) == 0)
        return rt_err(RT_EBADINPUT,
                      "%s: run directory already holds checkpoints; pass --resume auto to continue "
                      "it or --run-dir to start a new run",
                      t->run_dir);
    rt_fmt(p, sizeof p, "%s/ckpt", t->run_dir);
    if (mkdir_p(p) != 0)
        return rt_err(RT_EBADINPUT, "%s: cannot create run directory: %s", t->run_dir, strerror(errno));
    rt_fmt(p, sizeof p, "%s/config.json", t->run_dir);
    char *json = rt_config_to_json(c);
    size_t n = strlen(json);
    char *withnl = rt_malloc(n + 2);
    memcpy(withnl, json, n);
    memcpy(withnl + n, "\n", 2);
    int rc = write_text_atomic(p, withnl);
    rt_free(withnl);
    rt_free(json);
    if (rc) return rt_err_prefix(RT_EBADINPUT, t->run_dir);
    rt_fmt(p, sizeof p, "%s/metrics.jsonl", t->run_dir);
    if (o->resume && (rc = trim_metrics(p, t->step))) return rc;
    t->metrics = fopen(p, o->resume ? "a" : "w");
    if (!t->metrics) return rt_err(RT_EBADINPUT, "%s: %s", p, strerror(errno));
    return RT_OK;
}

/* ---- resume ---- */

/* Steps of the complete checkpoints (ckpt/step_XXXXXXXX.h5, not .tmp) in the
 * run directory, in directory order; at most max. */
static int list_checkpoint_steps(const rt_trainer *t, long long *steps, int max) {
    char dir[RT_PATH_MAX + 8];
    rt_fmt(dir, sizeof dir, "%s/ckpt", t->run_dir);
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && n < max && (e = readdir(d));) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "step_%8lld.h%7s", &s, tail) == 2 && strcmp(tail, "5") == 0) steps[n++] = s;
    }
    if (d) closedir(d);
    return n;
}

/* Checkpoints of the run directory, newest first: the one ckpt/latest names,
 * then every step_*.h5 by descending step. Returns how many were written. */
static int candidates(const rt_trainer *t, char (*out)[RT_PATH_MAX + 64], int max) {
    int n = 0;
    char p[RT_PATH_MAX + 64], name[128] = "";
    rt_fmt(p, sizeof p, "%s/ckpt/latest", t->run_dir);
    FILE *f = fopen(p, "r");
    if (f) {
        if (fgets(name, sizeof name, f)) name[strcspn(name, "\r\n")] = '\0';
        fclose(f);
        if (name[0] && !strchr(name, '/')) rt_fmt(out[n++], sizeof out[0], "%s/ckpt/%s", t->run_dir, name);
    }
    long long steps[4096];
    int ns = list_checkpoint_steps(t, steps, 4096);
    while (n < max && ns > 0) { /* pick the largest remaining step */
        int best = 0;
        for (int i = 1; i < ns; i++) best = steps[i] > steps[best] ? i : best;
        rt_fmt(out[n], sizeof out[0], "%s/ckpt/step_%08lld.h5", t->run_dir, steps[best]);
        steps[best] = steps[--ns];
        if (n == 0 || strcmp(out[n], out[0]) != 0) n++;
    }
    return n;
}

static int load_state(rt_trainer *t, const char *path) {
    rt_ckpt_info info;
    const char *type = rt_optim_type(t->optim) == RT_OPTIM_ADAMW ? "adamw" : "sgd";
    int rc = rt_ckpt_load(path, t->params, rt_optim_m(t->optim), rt_optim_v(t->optim), type, &info);
    if (rc) return rc;
    if (info.seed != (int64_t)t->cfg->train.seed)
        return rt_err(RT_EBADINPUT, "%s: seed: the checkpoint was trained with seed %lld, the config has %lld",
                      path, (long long)info.seed, (long long)t->cfg->train.seed);
    t->step = info.step;
    t->skipped = info.skipped_steps;
    rt_optim_set_t(t->optim, info.optim_t);
    t->resumed_from_world = info.world_size;
    return RT_OK;
}

/* --resume auto: the newest checkpoint that loads (warning about any that do
 * not), or a fresh start when the run has none. --resume PATH: that file.
 * Rank 0 chooses; every rank loads the same file. */
static int resume(rt_trainer *t, const rt_train_opts *o) {
    char chosen[RT_PATH_MAX + 64] = "";
    int rc = RT_OK;
    if (strcmp(o->resume, "auto") != 0) {
        rt_fmt(chosen, sizeof chosen, "%s", o->resume);
    } else if (t->rank == 0) {
        static char list[64][RT_PATH_MAX + 64];
        int n = candidates(t, list, 64);
        for (int i = 0; i < n && !chosen[0]; i++) {
            if (load_state(t, list[i]) == RT_OK) {
                rt_fmt(chosen, sizeof chosen, "%s", list[i]);
            } else {
                fprintf(stderr, "ringtrain: warning: %s\n", rt_errmsg());
                if (i + 1 < n) fprintf(stderr, "ringtrain: warning: falling back to %s\n", list[i + 1]);
            }
        }
        if (!chosen[0] && n > 0)
            rc = rt_err(RT_EBADINPUT, "%s/ckpt: no checkpoint in it loads (see the warnings above)", t->run_dir);
    }
    rc = rt_dist_agree(rc, t->comm);
    if (rc) return rc;
    if (MPI_Bcast(chosen, sizeof chosen, MPI_CHAR, 0, t->comm) != MPI_SUCCESS)
        return rt_err(RT_ERUNTIME, "MPI: broadcasting the checkpoint to resume failed");
    if (!chosen[0]) { /* auto with nothing to resume: a fresh run */
        if (t->rank == 0 && !t->quiet) printf("resume: no checkpoint in %s/ckpt, starting fresh\n", t->run_dir);
        return RT_OK;
    }
    rc = rt_dist_agree(load_state(t, chosen), t->comm);
    if (!rc && t->rank == 0 && !t->quiet) {
        printf("resume: %s (step %lld, written by %lld rank%s)\n", chosen, (long long)t->step,
               (long long)t->resumed_from_world, t->resumed_from_world == 1 ? "" : "s");
        fflush(stdout);
    }
    return rc;
}

int rt_trainer_create(const rt_config *cfg, const rt_train_opts *opts, MPI_Comm comm,
                      rt_trainer **out) {
    *out = NULL;
    rt_trainer *t = rt_calloc(1, sizeof *t);
    t->cfg = cfg;
    t->comm = comm;
    t->quiet = opts->quiet;
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->world);
    t->B = cfg->train.global_batch;
    if (opts->run_dir)
        rt_fmt(t->run_dir, sizeof t->run_dir, "%s", opts->run_dir);
    else
        rt_fmt(t->run_dir, sizeof t->run_dir, "runs/%s", cfg->name);
    rt_dist_set_timeout(cfg->dist.timeout_s);
    /* scheduler and launcher, recorded in metrics.jsonl and checkpoints */
    const char *job = getenv("SLURM_JOB_ID"), *restarts = getenv("SLURM_RESTART_COUNT");
    rt_fmt(t->job_id, sizeof t->job_id, "%s", job ? job : "");
    t->requeue_count = restarts ? atoll(restarts) : 0;
    t->launcher = getenv("SLURM_STEP_ID") ? "srun"
                  : (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK")) ? "mpirun"
                                                                             : "none";
    int rc = RT_OK;
    t->model = rt_model_create(cfg);
    t->params = rt_model_params(t->model);
    t->sample = rt_model_input_size(t->model);
    t->optim = rt_optim_create(cfg, t->params->total);
    if (!rc) rc = open_data(t);
    rc = rt_dist_agree(rc, comm);
    if (!rc && opts->resume) rc = resume(t, opts);
    /* warm start, unless a checkpoint of this run was resumed */
    if (!rc && cfg->init.from[0] && t->resumed_from_world == 0) {
        rc = rt_ckpt_load_params(cfg->init.from, t->params);
        if (rc) rc = rt_err_prefix(rc, "init.from");
        rc = rt_dist_agree(rc, comm);
    }
    if (!rc) rc = rt_dist_agree(prepare_run_dir(t, opts), comm);
    if (!rc && opts->per_rank_metrics) {
        char p[RT_PATH_MAX + 32];
        rt_fmt(p, sizeof p, "%s/metrics.rank%d.jsonl", t->run_dir, t->rank);
        if (opts->resume && (rc = trim_metrics(p, t->step))) rc = rt_dist_agree(rc, comm);
        t->rank_metrics = rc ? NULL : fopen(p, opts->resume ? "a" : "w");
        rc = t->rank_metrics ? RT_OK : rt_err(RT_EBADINPUT, "%s: %s", p, strerror(errno));
        rc = rt_dist_agree(rc, comm);
    }
    /* replicas start from rank 0's parameters */
    if (!rc) rc = rt_dist_agree(rt_dist_bcast(t->params->data, t->params->total, comm), comm);
    if (rc) {
        rt_trainer_destroy(t);
        return rc;
    }
    t->graph = rt_graph_create(64u << 20, rt_model_tape_nodes(t->model));
    t->ring = rt_ring_create(comm, 101, t->params->total + 16 + 8 * (size_t)t->world,
                             (size_t)cfg->dist.segment_kb * 1024, cfg->dist.timeout_s);
    t->tiny = rt_calloc(4 * (size_t)t->world, sizeof *t->tiny);
    const char *trace = getenv("RINGTRAIN_TRACE_ROWS");
    if (trace && *trace) {
        char p[RT_PATH_MAX];
        rt_fmt(p, sizeof p, "%s.rank%d", trace, t->rank);
        t->trace = fopen(p, "w");
    }
    /* benchmark switch: the compute-only step, for measuring what the ring costs */
    const char *no_sync = getenv("RINGTRAIN_BENCH_NO_SYNC");
    t->bench_no_sync = !no_sync ? 0 : strcmp(no_sync, "alternate") == 0 ? 2 : 1;
    t->no_sync = t->bench_no_sync == 1;
    if (t->bench_no_sync && t->rank == 0)
        fprintf(stderr, "ringtrain: warning: RINGTRAIN_BENCH_NO_SYNC is set: gradients are not "
                        "synchronised%s, replicas diverge (benchmark only)\n",
                t->bench_no_sync == 2 ? " in every other log window" : "");
    /* without the ring every rank runs the whole optimizer, as one replica alone would */
    t->shard = cfg->dist.shard_optimizer && t->world > 1 && t->bench_no_sync != 1;
    /* A communication thread pays only where a core is spare: on one core per
     * rank it shares that core with backward, and there the ring measured
     * faster run after backward on this thread (README, "The ring"). */
    t->cores = rt_dist_cores_per_rank(comm);
    t->overlap = cfg->dist.overlap == RT_ON || (cfg->dist.overlap == RT_AUTO && t->cores > 1);
    t->sync = rt_gradsync_create(t->params, t->ring, cfg->dist.bucket_mb, t->overlap, t->shard);
    rt_graph_set_param_hook(t->graph, t->params->count, rt_gradsync_param_ready, t->sync);
    /* testing switch: behave as if this rank got SIGUSR1 during step N (last rank) */
    const char *stop_at = getenv("RINGTRAIN_STOP_AT_STEP");
    t->stop_at = stop_at && t->rank == t->world - 1 ? atoll(stop_at) : -1;
    install_signal_handlers();
    /* testing switch: perturb one parameter on one rank to prove the check fires */
    const char *fault = getenv("RINGTRAIN_FAULT_CORRUPT");
    int fault_rank = -1;
    long long fault_step = -1;
    t->corrupt_step = -1;
    if (fault && sscanf(fault, "%d:%lld", &fault_rank, &fault_step) == 2 && fault_rank == t->rank)
        t->corrupt_step = fault_step;
    *out = t;
    return RT_OK;
}

void rt_trainer_destroy(rt_trainer *t) {
    if (!t) return;
    if (t->metrics) fclose(t->metrics);
    if (t->rank_metrics) fclose(t->rank_metrics);
    rt_progress_destroy(t->progress);
    rt_loader_destroy(t->loader); /* first: it may still be reading */
    t->loader = NULL;
    if (t->trace) {
        fprintf(t->trace, "rows_read %lld\n", (long long)rt_dataset_rows_read(t->train));
        fclose(t->trace);
    }
    rt_gradsync_destroy(t->sync);
    rt_free(t->tiny);
    rt_ring_destroy(t->ring);
    rt_model_destroy(t->model);
    rt_optim_destroy(t->optim);
    rt_graph_destroy(t->graph);
    rt_dataset_close(t->train);
    rt_dataset_close(t->test);
    rt_free(t->perm[0]);
    rt_free(t->perm[1]);
    rt_free(t->rows);
    rt_free(t->keys);
    rt_free(t->y);
    rt_free(t->x);
    rt_free(t);
}

int64_t rt_trainer_steps_done(const rt_trainer *t) { return t->step; }

/* ---- one step ---- */

/* Epoch e's row order, computed once into one of two buffers (the loader may
 * already be reading the next epoch while this one finishes). */
static const int64_t *epoch_order(rt_trainer *t, int64_t epoch) {
    int64_t *p = t->perm[epoch % 2];
    if (t->perm_epoch[epoch % 2] != epoch) {
        rt_epoch_order(p, rt_dataset_rows(t->train), t->cfg->train.seed, epoch, t->cfg->data.shuffle);
        t->perm_epoch[epoch % 2] = epoch;
    }
    return p;
}

/* Queues this rank's rows of micro-batch k of global step `step`:
 * its slice [lo, hi) of the step's B rows, split evenly into accum_steps parts. */
static void submit_micro(rt_trainer *t, int64_t step, int64_t k) {
    int64_t A = t->cfg->optim.accum_steps, lo, hi;
    rt_shard_range(t->B, t->rank, t->world, &lo, &hi);
    int64_t n = hi - lo, a = lo + (k * n) / A, b = lo + ((k + 1) * n) / A;
    const int64_t *order = epoch_order(t, step / t->steps_per_epoch);
    int64_t base = (step % t->steps_per_epoch) * t->B;
    for (int64_t i = a; i < b; i++) t->rows[i - a] = order[base + i];
    if (t->trace) {
        fprintf(t->trace, "%lld %lld:", (long long)step, (long long)k);
        for (int64_t i = 0; i < b - a; i++) fprintf(t->trace, " %lld", (long long)t->rows[i]);
        fputc('\n', t->trace);
    }
    rt_loader_submit(t->loader, t->rows, b - a);
}

/* Forward and backward on one loaded micro-batch; adds its scaled loss. The
 * last micro-batch of a step arms the gradient sync, so buckets go out to the
 * ring while its backward runs. */
static void micro_batch(rt_trainer *t, const rt_batch *b, bool last, double *loss) {
    bool sync = last && !t->no_sync;
    if (sync) rt_gradsync_begin(t->sync);
    rt_graph_set_param_hook(t->graph, t->params->count, sync ? rt_gradsync_param_ready : NULL,
                            t->sync);
    rt_graph_reset(t->graph);
    if (!b) { /* this rank's data failed: contribute nothing, but keep the ring in step */
        rt_tensor none = {.numel = 1};
        rt_graph_backward(t->graph, &none);
        return;
    }
    rt_graph_set_grad(t->graph, true);
    rt_tensor x = {0};
    int shape[2] = {(int)b->n, (int)t->sample};
    rt_tensor_set_shape(&x, 2, shape);
    x.data = (float *)b->x;
    rt_batch_stats st = {0};
    RT_CHECK(b->n > 0, "empty micro-batch"); /* global_batch >= world * accum_steps */
    /* a row's random draws depend on (seed, epoch, row) only, not on the rank */
    uint64_t epoch = (uint64_t)(t->step / t->steps_per_epoch);
    for (int64_t i = 0; i < b->n; i++) t->keys[i] = rt_row_key(t->cfg->train.seed, epoch, b->rows[i]);
    rt_model_batch mb = {.x = &x, .y = b->y, .keys = t->keys,
                         .quantized = rt_dataset_quantized(t->train), .train = true};
    rt_tensor *l = rt_model_loss(t->model, t->graph, &mb, (float)(1.0 / (double)t->B), &st);
    rt_graph_backward(t->graph, l);
    *loss += l->data[0];
}

int rt_trainer_step(rt_trainer *t, double *loss) {
    const rt_config *c = t->cfg;
    double t0 = rt_now(), wait = 0.0;
    int64_t A = c->optim.accum_steps;
    int data_rc = RT_OK;
    char data_err[512] = "";
    if (t->bench_no_sync == 2) t->no_sync = t->step / c->train.log_every % 2 == 1;
    bool shard = t->shard && !t->no_sync; /* this step's */
    if (!t->queued) submit_micro(t, t->step, 0);
    t->queued = false;
    if (!t->grad_zeroed) rt_params_zero_grad(t->params);
    t->grad_zeroed = false;
    double local = 0.0;
    for (int64_t k = 0; k < A; k++) {
        rt_batch b;
        double w0 = rt_now();
        int rc = rt_loader_next(t->loader, &b);
        wait += rt_now() - w0;
        if (rc && !data_rc) { /* keep the message; the ranks stop together after the ring */
            data_rc = rc;
            rt_fmt(data_err, sizeof data_err, "%s", rt_errmsg());
        }
        /* prefetch the next micro-batch, of this step or the next, while computing */
        if (k + 1 < A) {
            submit_micro(t, t->step, k + 1);
        } else if (t->step + 1 < t->total_steps) {
            submit_micro(t, t->step + 1, 0);
            t->queued = true;
        }
        micro_batch(t, data_rc ? NULL : &b, k + 1 == A, &local);
    }
    double t1 = rt_now(), t_comm = 0.0, t_sync = 0.0;
    /* each rank's loss is its share of the global mean: summing gives the mean */
    /* the loss and the stop flag ride one tiny ring: any rank's signal stops all */
    if (t->step + 1 == t->stop_at) stop_signal = SIGUSR1;
    double sums[4] = {local, stop_signal ? 1.0 : 0.0, data_rc ? 1.0 : 0.0, 0.0};
    int rc = RT_OK;
    if (!t->no_sync) {
        rc = rt_gradsync_finish(t->sync, &t_comm, &t_sync);
        /* sharded, each rank holds the sums of its owned ranges only: the
         * squared gradient norm is added up from the ranks' shares, which the
         * reduce-scatters took as they added */
        if (!rc && shard) sums[3] = rt_gradsync_owned_sumsq(t->sync);
        if (!rc) rc = rt_ring_sum_f64(t->ring, sums, 4, t->tiny);
    } else if (t->bench_no_sync == 2 && (t->step + 1) % c->train.log_every == 0) {
        /* the ranks meet at the end of a window without the ring: the slower
         * rank's lead is charged to this window, not to the next */
        rc = rt_ring_sum_f64(t->ring, sums, 4, t->tiny);
    }
    if (rc) return rc;
    if (data_rc) return rt_err(data_rc, "%s", data_err);
    if (sums[2] > 0.0) return rt_err(RT_ERUNTIME, "another rank failed");
    t->stop = sums[1] > 0.0;
    double t2 = rt_now(), t_gather = 0.0, t_gather_wait = 0.0;
    size_t np = t->params->total;
    t->last_grad_norm = shard ? sqrt(sums[3]) : rt_grad_norm(t->params->grad, np);
    /* after the ring every rank holds the same sums, so every rank decides alike */
    if (!isfinite(sums[0]) || !isfinite(t->last_grad_norm)) {
        if (c->train.nonfinite == RT_NONFINITE_ABORT)
            return rt_err(RT_ERUNTIME,
                          "step %lld: non-finite loss or gradient (loss %g, gradient norm %g); "
                          "set train.nonfinite=\"skip\" to skip such updates",
                          (long long)t->step + 1, sums[0], t->last_grad_norm);
        t->skipped++;
    } else {
        double lr = rt_lr_at(c, t->step, t->total_steps);
        rt_optim_begin(t->optim);
        int nb = shard ? rt_gradsync_num_buckets(t->sync) : 1;
        for (int i = 0; i < nb; i++) {
            size_t lo = 0, hi = np;
            if (shard) rt_gradsync_owned(t->sync, i, &lo, &hi);
            if (c->optim.clip_grad_norm > 0)
                rt_clip_grad(t->params->grad + lo, hi - lo, t->last_grad_norm,
                             c->optim.clip_grad_norm);
            /* the update clears the gradients it reads: the next step's zeroing */
            rt_optim_apply_zero(t->optim, t->params->data, t->params->grad, lr, lo, hi);
            if (shard) rt_gradsync_updated(t->sync, i); /* its parameters go out while the next updates */
        }
        t->grad_zeroed = true;
        if (shard) {
            /* the rest of the zeroing, while the parameters travel */
            rt_gradsync_zero_unowned(t->sync, t->params->grad);
            if ((rc = rt_gradsync_gather_finish(t->sync, &t_gather, &t_gather_wait))) return rc;
        }
    }
    t->step++;
    if (t->step == t->corrupt_step) t->params->data[0] += 1e-3f;
    if (c->dist.check_every && t->world > 1 && t->step % c->dist.check_every == 0) {
        rc = rt_dist_check_replicas(t->params->data, t->params->total, t->step, t->comm);
        if (rc) return rc;
    }
    t->t_compute = (t1 - t0 - wait) + (rt_now() - t2 - t_gather_wait);
    t->t_comm = t_comm + t_gather;
    t->t_wait = wait + t_sync + t_gather_wait;
    t->t_data = wait;
    *loss = sums[0];
    return RT_OK;
}

/* ---- evaluation ---- */

#define EVAL_STREAM 0x6576616c00000000ULL /* "eval": never an epoch number */

/* The task's metrics from the mean per-sample loss and the accuracy:
 * classification test_loss and test_acc; density test_nll (nats per sample)
 * and test_bpd; flow test_loss (the flow-matching loss). */
static void add_metric(cJSON *o, const char *prefix, const char *name, double v) {
    char k[64];
    snprintf(k, sizeof k, "%s%s", prefix, name);
    cJSON_AddNumberToObject(o, k, v);
}

static void add_metrics(const rt_model *m, cJSON *o, const char *prefix, double loss, double acc) {
    switch (rt_model_task(m)) {
    case RT_TASK_CLASSIFY:
        add_metric(o, prefix, "loss", loss);
        add_metric(o, prefix, "acc", acc);
        break;
    case RT_TASK_DENSITY:
        add_metric(o, prefix, "nll", loss);
        add_metric(o, prefix, "bpd", rt_model_bits_per_dim(m, loss));
        break;
    case RT_TASK_FLOW: add_metric(o, prefix, "loss", loss); break;
    }
}

/* One line of text for the progress output. */
static void metrics_text(const rt_model *m, double loss, double acc, char *buf, size_t len) {
    switch (rt_model_task(m)) {
    case RT_TASK_CLASSIFY: rt_fmt(buf, len, "test_loss %.4f test_acc %.4f", loss, acc); break;
    case RT_TASK_DENSITY:
        rt_fmt(buf, len, "test_nll %.2f nats test_bpd %.4f", loss, rt_model_bits_per_dim(m, loss));
        break;
    case RT_TASK_FLOW: rt_fmt(buf, len, "test_loss (flow matching) %.5f", loss); break;
    }
}

static int evaluate_on(rt_trainer *t, rt_dataset *d, double *loss, double *acc) {
    int64_t n = rt_dataset_rows(d), lo, hi;
    rt_shard_range(n, t->rank, t->world, &lo, &hi);
    rt_batch_stats st = {0};
    rt_graph_set_grad(t->graph, false);
    int rc = RT_OK;
    for (int64_t i = lo; i < hi && !rc; i += t->cfg->train.eval_batch) {
        int64_t m = hi - i < t->cfg->train.eval_batch ? hi - i : t->cfg->train.eval_batch;
        for (int64_t k = 0; k < m; k++) t->rows[k] = i + k;
        if ((rc = rt_dataset_read(d, t->rows, m, t->x, t->y))) break;
        rt_graph_reset(t->graph);
        rt_tensor x = {0};
        int shape[2] = {(int)m, (int)t->sample};
        rt_tensor_set_shape(&x, 2, shape);
        x.data = t->x;
        /* evaluation draws (dequantisation, flow noise) are the same every time */
        for (int64_t k = 0; k < m; k++) t->keys[k] = rt_row_key(t->cfg->train.seed, EVAL_STREAM, i + k);
        rt_model_batch mb = {.x = &x, .y = t->y, .keys = t->keys,
                             .quantized = rt_dataset_quantized(d), .train = false};
        rt_model_loss(t->model, t->graph, &mb, 1.0f, &st);
    }
    rt_graph_set_grad(t->graph, true);
    /* a rank whose read failed must not leave the others in a different collective */
    if ((rc = rt_dist_agree(rc, t->comm))) return rc;
    double sum[3] = {st.loss_sum, (double)st.correct, (double)st.count};
    if ((rc = rt_dist_sum(sum, 3, t->comm))) return rc;
    *loss = sum[2] > 0 ? sum[0] / sum[2] : NAN;
    *acc = sum[2] > 0 ? sum[1] / sum[2] : NAN;
    return RT_OK;
}

int rt_trainer_evaluate(rt_trainer *t, double *loss, double *acc) {
    if (!t->test) {
        *loss = *acc = NAN;
        return RT_OK;
    }
    return evaluate_on(t, t->test, loss, acc);
}

/* ---- checkpoints ---- */

static void prune_checkpoints(const rt_trainer *t) {
    long long steps[4096];
    int all = list_checkpoint_steps(t, steps, 4096), n = 0;
    /* newer files belong to a timeline this run left by resuming an older
     * checkpoint: they are not this run's to delete */
    for (int i = 0; i < all; i++)
        if (steps[i] <= (long long)t->step) steps[n++] = steps[i];
    for (int i = 0; i < n; i++) { /* keep the newest keep_checkpoints */
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= t->cfg->train.keep_checkpoints) {
            char p[RT_PATH_MAX + 32];
            rt_fmt(p, sizeof p, "%s/ckpt/step_%08lld.h5", t->run_dir, steps[i]);
            unlink(p);
        }
    }
}

static int save_checkpoint(rt_trainer *t, char *path_out, size_t len) {
    char name[64], path[RT_PATH_MAX + 64], latest[RT_PATH_MAX + 64];
    snprintf(name, sizeof name, "step_%08lld.h5", (long long)t->step);
    rt_fmt(path, sizeof path, "%s/ckpt/%s", t->run_dir, name);
    rt_fmt(path_out, len, "%s", path);
    int rc = RT_OK;
    if (t->shard) { /* each rank's moments are current on its owned ranges only */
        double secs = 0.0;
        rc = rt_gradsync_gather(t->sync, rt_optim_m(t->optim), &secs);
        if (!rc && rt_optim_v(t->optim)) rc = rt_gradsync_gather(t->sync, rt_optim_v(t->optim), &secs);
        if (rc) return rc;
    }
    if (t->rank == 0) {
        char *json = rt_config_to_json(t->cfg);
        rt_ckpt_meta meta = {
            .step = t->step,
            .epoch = t->step / t->steps_per_epoch,
            .world_size = t->world,
            .seed = (int64_t)t->cfg->train.seed,
            .optim_t = rt_optim_t(t->optim),
            .optim_type = rt_optim_type(t->optim) == RT_OPTIM_ADAMW ? "adamw" : "sgd",
            .config_json = json,
            .job_id = t->job_id,
            .requeue_count = t->requeue_count,
            .skipped_steps = t->skipped,
        };
        rc = rt_ckpt_save(path, t->params, rt_optim_m(t->optim), rt_optim_v(t->optim), &meta);
        rt_free(json);
        if (!rc) {
            rt_fmt(latest, sizeof latest, "%s/ckpt/latest", t->run_dir);
            char line[80];
            snprintf(line, sizeof line, "%s\n", name);
            rc = write_text_atomic(latest, line);
        }
        if (!rc) prune_checkpoints(t);
    }
    return rt_dist_agree(rc, t->comm);
}

/* ---- the loop ---- */

static void log_eval(rt_trainer *t, double loss, double acc) {
    if (t->rank != 0) return;
    int64_t epoch = t->step / t->steps_per_epoch;
    if (t->metrics) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "eval");
        cJSON_AddNumberToObject(o, "step", (double)t->step);
        cJSON_AddNumberToObject(o, "epoch", (double)epoch);
        add_metrics(t->model, o, "test_", loss, acc);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(t->metrics, "%s\n", s);
        fflush(t->metrics);
        cJSON_free(s);
        cJSON_Delete(o);
    }
    char text[128];
    metrics_text(t->model, loss, acc, text, sizeof text);
    rt_progress_print(t->progress, "eval  step %lld epoch %lld: %s", (long long)t->step,
                      (long long)epoch, text);
}

int rt_trainer_run(rt_trainer *t) {
    const rt_config *c = t->cfg;
    double start = rt_now(), window_t = start, loss = 0.0, test_loss = NAN, test_acc = NAN;
    int64_t window_steps = 0, start_step = t->step;
    int rc = RT_OK;
    const char *detected;
    const char *kernels = rt_blas_kernels(&detected);
    if (t->rank == 0 && t->metrics) {
        fprintf(t->metrics,
                "{\"event\":\"start\",\"step\":%lld,\"world_size\":%d,\"launcher\":\"%s\","
                "\"job_id\":\"%s\",\"requeue_count\":%lld,\"resumed_from_world_size\":%lld,"
                "\"cores_per_rank\":%d,\"overlap\":%s,\"blas_kernels\":\"%s\",\"blas_threads\":%d}\n",
                (long long)t->step, t->world, t->launcher, t->job_id, (long long)t->requeue_count,
                (long long)t->resumed_from_world, t->cores, t->overlap ? "true" : "false", kernels,
                openblas_get_num_threads());
        fflush(t->metrics);
    }
    t->progress = rt_progress_create(stdout, t->rank == 0 && !t->quiet, t->step, t->total_steps,
                                     t->steps_per_epoch, t->B, c->train.log_every);
    rt_progress_print(t->progress,
                      "train %s: %lld steps (%lld per epoch), global batch %lld, %zu parameters, "
                      "%d rank%s, launcher %s",
                      c->name, (long long)t->total_steps, (long long)t->steps_per_epoch,
                      (long long)t->B, t->params->total, t->world, t->world > 1 ? "s" : "",
                      t->launcher);
    rt_progress_print(t->progress, "blas: OpenBLAS %s kernels%s%s%s, %d thread%s per rank", kernels,
                      detected ? " (OpenBLAS took this CPU for " : "", detected ? detected : "",
                      detected ? "; ringtrain chose from its features)" : "",
                      openblas_get_num_threads(), openblas_get_num_threads() > 1 ? "s" : "");
    if (t->world > 1 && t->bench_no_sync != 1)
        rt_progress_print(t->progress, "ring: %d core%s per rank, buckets reduced %s (dist.overlap %s)",
                          t->cores, t->cores > 1 ? "s" : "",
                          t->overlap ? "on a communication thread while backward runs"
                                     : "after backward, on the training thread",
                          c->dist.overlap == RT_AUTO ? "auto" : t->overlap ? "true" : "false");
    while (t->step < t->total_steps) {
        if ((rc = rt_trainer_step(t, &loss))) break;
        window_steps++;
        bool last = t->step == t->total_steps;
        rt_progress_step(t->progress, t->step, loss, rt_lr_at(c, t->step - 1, t->total_steps));
        if (t->step % c->train.log_every == 0 || last) {
            double now = rt_now();
            double sps = (double)(window_steps * t->B) / (now - window_t);
            if (t->rank_metrics) {
                fprintf(t->rank_metrics,
                        "{\"step\":%lld,\"rank\":%d,\"step_s\":%.6f,\"t_compute_s\":%.6f,"
                        "\"t_comm_s\":%.6f,\"t_wait_s\":%.6f}\n",
                        (long long)t->step, t->rank, (now - window_t) / (double)window_steps,
                        t->t_compute, t->t_comm, t->t_wait);
                fflush(t->rank_metrics);
            }
            if (t->rank == 0) {
                int64_t epoch = (t->step - 1) / t->steps_per_epoch;
                double lr = rt_lr_at(c, t->step - 1, t->total_steps);
                char lbuf[32], gbuf[32];
                fprintf(t->metrics,
                        "{\"step\":%lld,\"epoch\":%lld,\"loss\":%s,\"lr\":%.9g,\"grad_norm\":%s,"
                        "\"samples_per_s\":%.1f,\"t_compute_s\":%.6f,\"t_comm_s\":%.6f,\"t_wait_s\":%.6f,"
                        "\"t_data_s\":%.6f,\"skipped\":%lld%s}\n",
                        (long long)t->step, (long long)epoch, json_num(lbuf, sizeof lbuf, loss), lr,
                        json_num(gbuf, sizeof gbuf, t->last_grad_norm), sps, t->t_compute, t->t_comm,
                        t->t_wait, t->t_data, (long long)t->skipped,
                        /* every step of a window is of one kind: the last one's */
                        t->bench_no_sync != 2 ? ""
                        : t->no_sync          ? ",\"bench_sync\":false"
                                              : ",\"bench_sync\":true");
                fflush(t->metrics);
            }
            window_t = now;
            window_steps = 0;
        }
        bool epoch_end = t->step % t->steps_per_epoch == 0;
        bool want_eval = c->train.eval_every ? t->step % c->train.eval_every == 0 : epoch_end;
        if (want_eval || last) {
            if ((rc = rt_trainer_evaluate(t, &test_loss, &test_acc))) break;
            log_eval(t, test_loss, test_acc);
        }
        if (t->stop && !last) {
            char p[RT_PATH_MAX + 64];
            if ((rc = save_checkpoint(t, p, sizeof p))) break;
            rt_progress_finish(t->progress);
            if (t->rank == 0) {
                printf("{\"event\":\"stopped\",\"step\":%lld,\"checkpoint\":\"%s\",\"exit\":3}\n",
                       (long long)t->step, p);
                fflush(stdout);
                if (t->metrics) {
                    fprintf(t->metrics, "{\"event\":\"stopped\",\"step\":%lld}\n", (long long)t->step);
                    fflush(t->metrics);
                }
            }
            return RT_ESIGNAL;
        }
        if (!last && c->train.checkpoint_every && t->step % c->train.checkpoint_every == 0) {
            char p[RT_PATH_MAX + 64];
            if ((rc = save_checkpoint(t, p, sizeof p))) break;
        }
    }
    rt_progress_finish(t->progress);
    char ckpt[RT_PATH_MAX + 64] = "";
    if (!rc) rc = save_checkpoint(t, ckpt, sizeof ckpt);
    if (rc) return rc;
    double wall = rt_now() - start;
    /* every rank's peak resident memory, gathered for rank 0's done line */
    double *rss = rt_calloc((size_t)t->world, sizeof(double));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) rss[t->rank] = (double)ru.ru_maxrss / 1024.0;
    if ((rc = rt_dist_sum(rss, t->world, t->comm))) {
        rt_free(rss);
        return rc;
    }
    double rss_max = 0.0;
    for (int r = 0; r < t->world; r++) rss_max = rss[r] > rss_max ? rss[r] : rss_max;
    rt_free(rss);
    if (t->rank == 0) {
        double sps = wall > 0 ? (double)((t->step - start_step) * t->B) / wall : 0.0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "done");
        cJSON_AddNumberToObject(o, "step", (double)t->step);
        cJSON_AddNumberToObject(o, "epoch", (double)(t->step / t->steps_per_epoch));
        cJSON_AddNumberToObject(o, "loss", loss);
        if (isfinite(test_loss)) add_metrics(t->model, o, "test_", test_loss, test_acc);
        cJSON_AddNumberToObject(o, "samples_per_s", sps);
        cJSON_AddNumberToObject(o, "wall_s", wall);
        /* the largest peak resident memory of any rank, and what the run should
         * need: 16 B per parameter (weights, gradients, two moments), the
         * activation arena and the data path (open_data), x1.2, plus 40 MB for
         * libraries */
        double need = 16.0 * (double)t->params->total +
                      (double)rt_arena_capacity(rt_graph_arena(t->graph)) + t->data_bytes;
        cJSON_AddNumberToObject(o, "peak_rss_mb", rss_max);
        cJSON_AddNumberToObject(o, "rss_bound_mb", 1.2 * need / 1048576.0 + 40.0);
        cJSON_AddNumberToObject(o, "data_mb", t->data_bytes / 1048576.0);
        cJSON_AddNumberToObject(o, "world_size", t->world);
        cJSON_AddStringToObject(o, "checkpoint", ckpt);
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        fflush(stdout);
        if (t->metrics) {
            fprintf(t->metrics, "%s\n", s);
            fflush(t->metrics);
        }
        cJSON_free(s);
        cJSON_Delete(o);
    }
    return RT_OK;
}

/* ---- eval verb ---- */

int rt_eval_checkpoint(const char *ckpt, const char *data, const char *split, MPI_Comm comm) {
    rt_config *cfg = NULL;
    int rc = rt_ckpt_config(ckpt, &cfg);
    if (rc) return rc;
    rt_trainer *t = rt_calloc(1, sizeof *t);
    t->cfg = cfg;
    t->comm = comm;
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->world);
    t->model = rt_model_create(cfg);
    t->params = rt_model_params(t->model);
    t->sample = rt_model_input_size(t->model);
    rc = rt_ckpt_load_params(ckpt, t->params);
    rt_dataset *d = NULL;
    const char *path = data ? data : cfg->data.test;
    if (!rc) rc = rt_dataset_open(path, split, t->sample, rt_model_num_classes(t->model), &d);
    if (!rc) {
        rt_dataset_set_normalize(d, (float)cfg->data.mean, (float)cfg->data.std);
        int64_t eb = cfg->train.eval_batch;
        t->rows = rt_malloc(rt_mul_size((size_t)eb, sizeof(int64_t)));
        t->keys = rt_malloc(rt_mul_size((size_t)eb, sizeof(uint64_t)));
        t->y = rt_malloc(rt_mul_size((size_t)eb, sizeof(int32_t)));
        t->x = rt_alloc_aligned(rt_mul_size(rt_mul_size((size_t)eb, (size_t)t->sample), sizeof(float)));
        t->graph = rt_graph_create(16u << 20, rt_model_tape_nodes(t->model));
    }
    rc = rt_dist_agree(rc, comm);
    double loss = NAN, acc = NAN;
    if (!rc) rc = evaluate_on(t, d, &loss, &acc);
    if (!rc && t->rank == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "eval");
        cJSON_AddStringToObject(o, "checkpoint", ckpt);
        cJSON_AddStringToObject(o, "split", split);
        cJSON_AddNumberToObject(o, "rows", (double)rt_dataset_rows(d));
        cJSON_AddNumberToObject(o, "loss", loss);
        switch (rt_model_task(t->model)) {
        case RT_TASK_CLASSIFY: cJSON_AddNumberToObject(o, "accuracy", acc); break;
        case RT_TASK_DENSITY:
            cJSON_AddNumberToObject(o, "nll", loss);
            cJSON_AddNumberToObject(o, "bits_per_dim", rt_model_bits_per_dim(t->model, loss));
            cJSON_AddNumberToObject(o, "logdet", rt_model_nice_logdet(t->model));
            break;
        case RT_TASK_FLOW: cJSON_AddNumberToObject(o, "flow_matching_loss", loss); break;
        }
        char *s = cJSON_PrintUnformatted(o);
        printf("%s\n", s);
        fflush(stdout);
        cJSON_free(s);
        cJSON_Delete(o);
    }
    rt_dataset_close(d);
    rt_trainer_destroy(t);
    rt_config_free(cfg);
    return rc;
}
