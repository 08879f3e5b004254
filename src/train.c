/* train.c - the training loop: a step in phases, logging, evaluation and checkpoints.
 * The parts it drives each live in their own module: the data (feed.c), the
 * data-parallel exchange and update (dp.c), evaluation (eval.c), the run
 * directory (rundir.c) and what the run writes as it goes (runlog.c). */
#include "ringtrain/train.h"

#include "ringtrain/cfgdiff.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/dp.h"
#include "ringtrain/eval.h"
#include "ringtrain/feed.h"
#include "ringtrain/hooks.h"
#include "ringtrain/launch.h"
#include "ringtrain/model.h"
#include "ringtrain/optim.h"
#include "ringtrain/rundir.h"
#include "ringtrain/runlog.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct rt_trainer {
    const rt_config *cfg;
    MPI_Comm comm;
    int rank, world;
    bool quiet;
    char run_dir[RT_PATH_MAX];
    rt_runlog *log;         /* metrics.jsonl, metrics.rank<R>.jsonl, progress, done line */
    const rt_hooks *hooks;

    rt_model *model;
    rt_params *params;
    rt_optim *optim;
    rt_graph *graph;
    rt_feed *feed;
    rt_dp *dp;
    rt_evaluator *eval;

    int64_t B;              /* global batch */
    int64_t steps_per_epoch, total_steps;
    int64_t step;           /* optimizer steps completed */
    int64_t skipped;        /* steps whose update was skipped for a non-finite value */
    bool no_sync;           /* this step skips the ring (benchmark only) */
    bool stop;              /* some rank got SIGUSR1/SIGTERM: checkpoint and exit 3 */
    double last_grad_norm;
    double t_compute, t_comm; /* seconds of the last step */
    double t_wait;          /* of which it waited: for data and for other ranks */
    double t_data;          /* of which waiting for the loader's data */
    int64_t resumed_from_world; /* world size that wrote the resumed checkpoint */
    rt_launch launch;       /* launcher, Slurm job and requeue count */
    bool allow_changes;     /* --allow-config-change */
    rt_cfg_change changes[RT_CFG_MAX_CHANGES]; /* from the resumed checkpoint's config */
    int nchanges;
    rt_prov *prov;          /* rank 0: where the run came from, stored in each checkpoint */
};

/* ---- signals: SIGUSR1 / SIGTERM ask for a checkpoint and exit 3 ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void install_signal_handlers(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a second signal while writing interrupts nothing */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- setup ---- */

static int load_state(rt_trainer *t, const char *path) {
    rt_ckpt_info info;
    int rc = rt_ckpt_load(path, t->params, rt_optim_m(t->optim), rt_optim_v(t->optim), rt_optim_name(t->optim), &info);
    bool ema = false; /* without /ema, the EMA starts from the parameters resumed */
    if (!rc && rt_optim_ema(t->optim)) rc = rt_ckpt_load_ema(path, t->params, rt_optim_ema(t->optim), &ema);
    if (!rc) rc = rt_dp_load_residuals(t->dp, path);
    if (rc) return rc;
    if (ema) rt_optim_ema_loaded(t->optim);
    if (info.seed != (int64_t)t->cfg->train.seed)
        return rt_err(RT_EBADINPUT, "%s: seed: the checkpoint was trained with seed %lld, the config has %lld", path,
                      (long long)info.seed, (long long)t->cfg->train.seed);
    t->step = info.step;
    t->skipped = info.skipped_steps;
    rt_optim_set_t(t->optim, info.optim_t);
    t->resumed_from_world = info.world_size;
    return RT_OK;
}

static int check_config(rt_trainer *t, const char *path) {
    return rt_config_check_resume(t->cfg, path, t->allow_changes, t->rank == 0 && !t->quiet, t->changes,
                                  &t->nchanges);
}

/* --resume auto: rank 0 picks the newest checkpoint that loads (warning about
 * any that do not), or none for a fresh start; --resume PATH: that file.
 * Every rank then loads the same file. */
static int resume(rt_trainer *t, const char *how) {
    char chosen[RT_CKPT_PATH_MAX] = "";
    int rc = RT_OK;
    if (strcmp(how, "auto") != 0) {
        rt_fmt(chosen, sizeof chosen, "%s", how);
    } else if (t->rank == 0) {
        static char list[64][RT_CKPT_PATH_MAX];
        int n = rt_rundir_candidates(t->run_dir, list, 64);
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
    if ((rc = rt_dist_agree(rc, t->comm))) return rc;
    if (MPI_Bcast(chosen, sizeof chosen, MPI_CHAR, 0, t->comm) != MPI_SUCCESS)
        return rt_err(RT_ERUNTIME, "MPI: broadcasting the checkpoint to resume failed");
    if (!chosen[0]) { /* auto with nothing to resume: a fresh run */
        if (t->rank == 0 && !t->quiet) printf("resume: no checkpoint in %s/ckpt, starting fresh\n", t->run_dir);
        return RT_OK;
    }
    rc = rt_dist_agree(load_state(t, chosen), t->comm);
    if (!rc) rc = rt_dist_agree(check_config(t, chosen), t->comm);
    if (!rc) rt_prov_resumed(t->prov, chosen, t->step, t->resumed_from_world);
    if (!rc && t->rank == 0 && !t->quiet) {
        printf("resume: %s (step %lld, written by %lld rank%s)\n", chosen, (long long)t->step,
               (long long)t->resumed_from_world, t->resumed_from_world == 1 ? "" : "s");
        fflush(stdout);
    }
    return rc;
}

/* The run's state and files, in an order every rank follows: each phase ends
 * in an agreement that every rank reaches, whatever failed where. */
static int start_run(rt_trainer *t, const rt_train_opts *o) {
    const rt_config *c = t->cfg;
    int rc = t->rank == 0 ? rt_prov_create(c, t->world, t->launch.launcher, &t->prov) : RT_OK;
    if (!(rc = rt_dist_agree(rc, t->comm)) && o->resume) rc = resume(t, o->resume);
    if (!rc && c->init.from[0] && t->resumed_from_world == 0) { /* warm start, unless resumed */
        rc = rt_ckpt_load_params(c->init.from, t->params);
        rc = rt_dist_agree(rc ? rt_err_prefix(rc, "init.from") : RT_OK, t->comm);
    } else if (!rc && t->resumed_from_world == 0) /* fresh: rank 0 sees the first batch, bcast below */
        rc = rt_dist_agree(t->rank == 0 ? rt_feed_data_init(t->feed, t->model) : RT_OK, t->comm);
    if (rc) return rc;
    if (t->rank == 0) {
        char *json = rt_config_to_json(c);
        rc = rt_rundir_prepare(t->run_dir, json, o->resume != NULL);
        rt_free(json);
    }
    if ((rc = rt_dist_agree(rc, t->comm))) return rc;
    rc = rt_runlog_open(t->log, t->run_dir, o->per_rank_metrics, o->resume != NULL, t->step);
    if ((rc = rt_dist_agree(rc, t->comm))) return rc;
    /* replicas start from rank 0's parameters */
    return rt_dist_agree(rt_dist_bcast(t->params->data, t->params->total, t->comm), t->comm);
}

int rt_trainer_create(rt_config *cfg, const rt_train_opts *opts, MPI_Comm comm, rt_trainer **out) {
    *out = NULL;
    rt_trainer *t = rt_calloc(1, sizeof *t);
    t->cfg = cfg;
    t->comm = comm;
    t->quiet = opts->quiet;
    t->allow_changes = opts->allow_config_change;
    t->hooks = rt_hooks_get();
    MPI_Comm_rank(comm, &t->rank);
    MPI_Comm_size(comm, &t->world);
    t->B = cfg->train.global_batch;
    rt_fmt(t->run_dir, sizeof t->run_dir, opts->run_dir ? "%s" : "runs/%s", opts->run_dir ? opts->run_dir : cfg->name);
    rt_dist_set_timeout(cfg->dist.timeout_s);
    rt_launch_read(&t->launch);
    t->log = rt_runlog_create(t->rank, opts->quiet);
    int rc = rt_dp_check(cfg, comm); /* collective, and the same on every rank */
    if (!rc) rc = rt_dist_agree(rt_feed_complete_config(cfg), comm); /* every rank reads the file */
    if (rc) {
        rt_trainer_destroy(t);
        return rc;
    }
    t->model = rt_model_create(cfg);
    t->params = rt_model_params(t->model);
    t->optim = rt_optim_create(cfg, t->params->total);
    if (!(rc = rt_optim_set_groups(t->optim, t->params, cfg)))
        rc = rt_feed_create(cfg, t->model, t->rank, t->world, &t->feed);
    if (!(rc = rt_dist_agree(rc, comm))) { /* the ring exists before a resume: it holds bf16 residuals */
        t->graph = rt_graph_create(64u << 20, 256);
        t->dp = rt_dp_create(t->params, t->graph, cfg, comm);
        rc = start_run(t, opts);
    }
    if (rc) {
        rt_trainer_destroy(t);
        return rc;
    }
    t->steps_per_epoch = rt_feed_steps_per_epoch(t->feed);
    t->total_steps = rt_feed_total_steps(t->feed);
    t->eval = rt_evaluator_create(t->model, cfg->train.eval_batch, cfg->train.seed);
    t->no_sync = t->hooks->no_sync == RT_SYNC_NEVER;
    rt_hooks_warn_no_sync(t->rank);
    install_signal_handlers();
    *out = t;
    return RT_OK;
}

void rt_trainer_destroy(rt_trainer *t) {
    if (!t) return;
    rt_runlog_destroy(t->log);
    rt_feed_destroy(t->feed); /* first: its loader may still be reading */
    rt_dp_destroy(t->dp);
    rt_evaluator_destroy(t->eval);
    rt_model_destroy(t->model);
    rt_optim_destroy(t->optim);
    rt_graph_destroy(t->graph);
    rt_prov_destroy(t->prov);
    rt_free(t);
}

int64_t rt_trainer_steps_done(const rt_trainer *t) { return t->step; }

/* ---- one step, in phases ---- */

/* Forward and backward of every micro-batch. The last one arms the exchange,
 * so buckets go out to the ring while its backward runs. A failed read keeps
 * its message in *data and contributes nothing, but keeps the ring in step. */
static void forward_backward(rt_trainer *t, rt_step_sums *s, int *data_rc, char *data_err, size_t len,
                             double *wait) {
    int64_t A = t->cfg->optim.accum_steps;
    for (int64_t k = 0; k < A; k++) {
        rt_batch b;
        const uint64_t *keys = NULL;
        double w = 0.0;
        int rc = rt_feed_next(t->feed, t->step, k, &b, &keys, &w);
        *wait += w;
        if (rc && !*data_rc) { /* the ranks stop together after the exchange */
            *data_rc = rc;
            rt_fmt(data_err, len, "%s", rt_errmsg());
        }
        rt_dp_arm(t->dp, k + 1 == A && !t->no_sync);
        rt_graph_reset(t->graph);
        if (*data_rc) {
            rt_tensor none = {.numel = 1};
            rt_graph_backward(t->graph, &none);
            continue;
        }
        RT_CHECK(b.n > 0, "empty micro-batch"); /* global_batch >= world * accum_steps */
        rt_graph_set_grad(t->graph, true);
        rt_tensor x = {0};
        int shape[2] = {(int)b.n, (int)rt_model_input_size(t->model)};
        rt_tensor_set_shape(&x, 2, shape);
        x.data = (float *)b.x;
        rt_batch_stats st = {0};
        rt_model_batch mb = {.x = &x, .y = b.y, .kp = b.kp, .keys = keys, .quantized = rt_feed_quantized(t->feed),
                             .train = true};
        rt_tensor *l = rt_model_loss(t->model, t->graph, &mb, (float)(1.0 / (double)t->B), &st);
        rt_graph_backward(t->graph, l);
        s->loss += l->data[0]; /* each rank's loss is its share of the global mean */
    }
}

/* After the update: the step counts, and every dist.check_every steps the
 * replicas prove they are the same bits. */
static int end_of_step(rt_trainer *t) {
    t->step++;
    if (t->hooks->corrupt_rank == t->rank && t->step == t->hooks->corrupt_step) t->params->data[0] += 1e-3f;
    int64_t every = t->cfg->dist.check_every;
    if (every && t->world > 1 && t->step % every == 0)
        return rt_dist_check_replicas(t->params->data, t->params->total, t->step, t->comm);
    return RT_OK;
}

int rt_trainer_step(rt_trainer *t, double *loss) {
    const rt_config *c = t->cfg;
    double t0 = rt_now(), wait = 0.0;
    int data_rc = RT_OK, rc;
    char data_err[512] = "";
    if (t->hooks->no_sync == RT_SYNC_ALTERNATE) t->no_sync = t->step / c->train.log_every % 2 == 1;
    rt_dp_begin_step(t->dp);
    rt_step_sums s = {0};
    forward_backward(t, &s, &data_rc, data_err, sizeof data_err, &wait);
    /* exchange: the gradients, the loss and the flags ride the ring; any rank's signal stops all */
    double t1 = rt_now(), grad_norm = 0.0;
    if (t->step + 1 == t->hooks->stop_at_step && t->rank == t->world - 1) stop_signal = SIGUSR1;
    s.stop = stop_signal ? 1.0 : 0.0;
    s.failed = data_rc ? 1.0 : 0.0;
    rt_dp_times ex = {0}, up = {0};
    rc = rt_dp_exchange(t->dp, &s, &grad_norm, &ex);
    /* the compute-only benchmark meets at a window's end: a slower rank's lead
     * is charged to this window, not to the next */
    if (!rc && t->no_sync && t->hooks->no_sync == RT_SYNC_ALTERNATE && (t->step + 1) % c->train.log_every == 0)
        rc = rt_dp_meet(t->dp, &s);
    if (rc) return rc;
    if (data_rc) return rt_err(data_rc, "%s", data_err);
    if (s.failed > 0.0) return rt_err_remote(RT_ERUNTIME, -1);
    t->stop = s.stop > 0.0;
    t->last_grad_norm = grad_norm;
    /* update: after the ring every rank holds the same sums, so every rank decides alike */
    double t2 = rt_now();
    if (!isfinite(s.loss) || !isfinite(grad_norm)) {
        if (c->train.nonfinite == RT_NONFINITE_ABORT)
            return rt_err(RT_ERUNTIME,
                          "step %lld: non-finite loss or gradient (loss %g, gradient norm %g); set "
                          "train.nonfinite=\"skip\" to skip such updates",
                          (long long)t->step + 1, s.loss, grad_norm);
        t->skipped++;
    } else if ((rc = rt_dp_update(t->dp, t->optim, rt_lr_at(c, t->step, t->total_steps), grad_norm,
                                  c->optim.clip_grad_norm, &up))) {
        return rc;
    }
    if ((rc = end_of_step(t))) return rc;
    t->t_compute = (t1 - t0 - wait) + (rt_now() - t2 - up.wait);
    t->t_comm = ex.comm + up.comm;
    t->t_wait = wait + ex.wait + up.wait;
    t->t_data = wait;
    *loss = s.loss;
    return RT_OK;
}

/* ---- evaluation and checkpoints ---- */

int rt_trainer_evaluate(rt_trainer *t, rt_batch_stats *st) {
    *st = (rt_batch_stats){0};
    rt_dataset *test = rt_feed_test(t->feed);
    return test ? rt_evaluator_run(t->eval, t->graph, test, t->comm, st) : RT_OK;
}

static int save_checkpoint(rt_trainer *t, char *path, size_t len) {
    rt_rundir_ckpt_path(t->run_dir, t->step, path, len);
    int rc = rt_dp_gather_state(t->dp, t->optim);
    if (rc) return rc; /* a ring error: every rank has one */
    if (t->rank == 0) {
        char *json = rt_config_to_json(t->cfg);
        rt_ckpt_meta meta = {
            .step = t->step, .epoch = t->step / t->steps_per_epoch, .world_size = t->world,
            .seed = (int64_t)t->cfg->train.seed, .optim_t = rt_optim_t(t->optim),
            .optim_type = rt_optim_name(t->optim), .config_json = json, .job_id = t->launch.job_id,
            .requeue_count = t->launch.requeue_count, .skipped_steps = t->skipped,
            .ema = rt_optim_ema(t->optim), .residual = rt_dp_residuals(t->dp), .residual_rows = t->world,
        };
        rc = rt_ckpt_save_prov(path, t->params, rt_optim_m(t->optim), rt_optim_v(t->optim), &meta, t->prov);
        rt_free(json);
        if (!rc) rc = rt_rundir_commit_checkpoint(t->run_dir, t->step, t->cfg->train.keep_checkpoints);
    }
    return rt_dist_agree(rc, t->comm);
}

/* ---- the loop ---- */

static void log_start(rt_trainer *t) {
    const rt_config *c = t->cfg;
    bool overlap = rt_dp_overlap(t->dp);
    rt_run_start s = {
        .name = c->name, .step = t->step, .total_steps = t->total_steps, .steps_per_epoch = t->steps_per_epoch,
        .batch = t->B, .params = t->params->total, .world = t->world, .launcher = t->launch.launcher,
        .job_id = t->launch.job_id, .requeue_count = t->launch.requeue_count,
        .resumed_from_world = t->resumed_from_world, .cores = rt_dp_cores(t->dp), .overlap = overlap,
        .overlap_setting = c->dist.overlap == RT_AUTO ? "auto" : overlap ? "true" : "false",
        .ring = t->world > 1 && t->hooks->no_sync != RT_SYNC_NEVER, .log_every = c->train.log_every,
        .changes = t->changes, .nchanges = t->nchanges, .algorithm = rt_dp_algorithm(t->dp),
        .compress = rt_dp_compress(t->dp), .wire_bytes = (double)rt_dp_wire_bytes_nominal(t->dp),
    };
    rt_runlog_start(t->log, &s);
}

/* A log window of `steps` steps that took `secs`, ending with the last step. */
static void log_window(rt_trainer *t, double loss, int64_t steps, double secs) {
    rt_window w = {
        .step = t->step, .epoch = (t->step - 1) / t->steps_per_epoch, .skipped = t->skipped, .loss = loss,
        .lr = rt_lr_at(t->cfg, t->step - 1, t->total_steps), .grad_norm = t->last_grad_norm,
        .samples_per_s = (double)(steps * t->B) / secs, .step_s = secs / (double)steps,
        .t_compute = t->t_compute, .t_comm = t->t_comm, .t_wait = t->t_wait, .t_data = t->t_data,
        /* every step of a window is of one kind: the last one's */
        .bench_sync = t->hooks->no_sync == RT_SYNC_ALTERNATE ? !t->no_sync : -1,
        .wire_bytes = (double)rt_dp_step_bytes(t->dp),
    };
    rt_runlog_window(t->log, &w);
}

static int evaluate(rt_trainer *t, rt_metric *met, int *nmet) {
    rt_batch_stats st;
    int rc = rt_trainer_evaluate(t, &st);
    if (rc) return rc;
    *nmet = rt_model_metrics(t->model, &st, met); /* no test split: NaN, logged as null */
    rt_runlog_eval(t->log, t->step, t->step / t->steps_per_epoch, met, *nmet);
    return RT_OK;
}

/* The done line, with the largest peak resident memory of any rank against
 * what the run should need: 16 B per parameter (weights, gradients, two
 * moments), the activation arena and the data path, x1.2, plus 40 MB for
 * libraries. */
static int log_done(rt_trainer *t, double loss, const rt_metric *met, int nmet, double wall, int64_t steps,
                    const char *ckpt) {
    struct rusage ru;
    double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
    int rc = rt_dist_max(&rss, t->comm);
    if (rc) return rc;
    double data = rt_feed_bytes(t->feed), dist = (double)rt_dp_extra_bytes(t->dp); /* bf16 residuals */
    double need = 16.0 * (double)t->params->total + (double)rt_arena_capacity(rt_graph_arena(t->graph)) + data + dist;
    rt_run_done d = {
        .step = t->step, .epoch = t->step / t->steps_per_epoch, .loss = loss,
        .samples_per_s = wall > 0 ? (double)(steps * t->B) / wall : 0.0, .wall_s = wall, .metrics = met,
        .nmetrics = nmet, .peak_rss_mb = rss, .rss_bound_mb = 1.2 * need / 1048576.0 + 40.0,
        .data_mb = data / 1048576.0, .world = t->world, .checkpoint = ckpt,
    };
    rt_runlog_done(t->log, &d);
    return RT_OK;
}

int rt_trainer_run(rt_trainer *t) {
    const rt_config *c = t->cfg;
    double start = rt_now(), window_t = start, loss = 0.0;
    int64_t window_steps = 0, start_step = t->step;
    rt_metric met[RT_MAX_METRICS];
    int nmet = 0, rc = RT_OK;
    char ckpt[RT_CKPT_PATH_MAX] = "";
    log_start(t);
    while (t->step < t->total_steps) {
        if ((rc = rt_trainer_step(t, &loss))) break;
        window_steps++;
        bool last = t->step == t->total_steps;
        rt_runlog_step(t->log, t->step, loss, rt_lr_at(c, t->step - 1, t->total_steps));
        if (t->step % c->train.log_every == 0 || last) {
            double now = rt_now();
            log_window(t, loss, window_steps, now - window_t);
            window_t = now;
            window_steps = 0;
        }
        bool epoch_end = t->step % t->steps_per_epoch == 0;
        if ((c->train.eval_every ? t->step % c->train.eval_every == 0 : epoch_end) || last)
            if ((rc = evaluate(t, met, &nmet))) break;
        if (t->stop && !last) {
            if ((rc = save_checkpoint(t, ckpt, sizeof ckpt))) break;
            rt_runlog_stopped(t->log, t->step, ckpt);
            return RT_ESIGNAL;
        }
        if (!last && c->train.checkpoint_every && t->step % c->train.checkpoint_every == 0)
            if ((rc = save_checkpoint(t, ckpt, sizeof ckpt))) break;
    }
    rt_runlog_end_bar(t->log);
    if (!rc) rc = save_checkpoint(t, ckpt, sizeof ckpt);
    if (rc) return rc;
    return log_done(t, loss, met, nmet, rt_now() - start, t->step - start_step, ckpt);
}
