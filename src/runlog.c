/* runlog.c - a run's metrics logs, progress display and done line. */
#include "ringtrain/runlog.h"

#include "gemm.h"

#include "ringtrain/blas.h"
#include "ringtrain/cfgdiff.h"
#include "ringtrain/common.h"
#include "ringtrain/events.h"
#include "ringtrain/flight.h"
#include "ringtrain/progress.h"
#include "ringtrain/rundir.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct rt_runlog {
    int rank;
    bool quiet;
    FILE *metrics;         /* rank 0: metrics.jsonl */
    FILE *rank_metrics;    /* --per-rank-metrics: metrics.rank<R>.jsonl */
    rt_event *row;         /* rank 0's window row, written again every window */
    rt_event *rank_row;    /* this rank's time split row, the same way */
    rt_progress *progress; /* rank 0's bar or lines */
};

rt_runlog *rt_runlog_create(int rank, bool quiet) {
    rt_runlog *l = rt_calloc(1, sizeof *l);
    l->rank = rank;
    l->quiet = quiet;
    return l;
}

void rt_runlog_destroy(rt_runlog *l) {
    if (!l) return;
    if (l->metrics) fclose(l->metrics);
    if (l->rank_metrics) fclose(l->rank_metrics);
    rt_event_free(l->row);
    rt_event_free(l->rank_row);
    rt_progress_destroy(l->progress);
    rt_free(l);
}

int rt_runlog_open(rt_runlog *l, const char *dir, bool per_rank, bool resume, int64_t step) {
    int rc = RT_OK;
    rt_flight_open(dir, l->rank);
    if (l->rank == 0) rc = rt_rundir_open_log(dir, "metrics.jsonl", resume, step, &l->metrics);
    if (!rc && per_rank) {
        char name[64];
        rt_fmt(name, sizeof name, "metrics.rank%d.jsonl", l->rank);
        rc = rt_rundir_open_log(dir, name, resume, step, &l->rank_metrics);
    }
    return rc;
}

void rt_runlog_start(rt_runlog *l, const rt_run_start *s) {
    const char *detected, *kernels = rt_blas_kernels(&detected);
    int threads = openblas_get_num_threads();
    if (l->metrics) {
        rt_event *e = rt_event_new("start");
        rt_event_num(e, "step", (double)s->step);
        rt_event_num(e, "world_size", s->world);
        rt_event_str(e, "launcher", s->launcher);
        rt_event_str(e, "job_id", s->job_id);
        rt_event_num(e, "requeue_count", (double)s->requeue_count);
        rt_event_num(e, "resumed_from_world_size", (double)s->resumed_from_world);
        rt_event_num(e, "cores_per_rank", s->cores);
        rt_event_bool(e, "overlap", s->overlap);
        if (s->algorithm) rt_event_str(e, "algorithm", s->algorithm);
        if (s->compress) rt_event_str(e, "compress", s->compress);
        if (s->ring) rt_event_num(e, "wire_bytes_per_step", s->wire_bytes);
        rt_event_str(e, "blas_kernels", kernels);
        rt_event_num(e, "blas_threads", threads);
        rt_event_str(e, "gemm", rt_gemm_name());
        if (s->nchanges) rt_event_json(e, "config_changes", rt_config_changes_json(s->changes, s->nchanges));
        rt_event_emit(e, l->metrics, NULL);
    }
    l->progress = rt_progress_create(stdout, l->rank == 0 && !l->quiet, s->step, s->total_steps,
                                     s->steps_per_epoch, s->batch, s->log_every);
    rt_progress_print(l->progress,
                      "train %s: %lld steps (%lld per epoch), global batch %lld, %zu parameters, %d rank%s, "
                      "launcher %s",
                      s->name, (long long)s->total_steps, (long long)s->steps_per_epoch, (long long)s->batch,
                      s->params, s->world, s->world > 1 ? "s" : "", s->launcher);
    const char *gemm = rt_gemm_name(), *on = strcmp(gemm, "avx512") == 0 ? "ringtrain's AVX-512 kernel"
                                             : strcmp(gemm, "avx2") == 0   ? "ringtrain's AVX2 kernel"
                                                                           : "OpenBLAS";
    rt_progress_print(l->progress, "blas: OpenBLAS %s kernels%s%s%s, %d thread%s per rank; sgemm on %s", kernels,
                      detected ? " (OpenBLAS took this CPU for " : "", detected ? detected : "",
                      detected ? "; ringtrain chose from its features)" : "", threads, threads > 1 ? "s" : "",
                      on);
    if (s->ring)
        rt_progress_print(l->progress, "%s: %d core%s per rank, buckets reduced %s (dist.overlap %s)%s; "
                          "%.2f MB a step on the wire per rank",
                          s->algorithm ? s->algorithm : "ring", s->cores, s->cores > 1 ? "s" : "",
                          s->overlap ? "on a communication thread while backward runs"
                                     : "after backward, on the training thread",
                          s->overlap_setting,
                          s->compress && strcmp(s->compress, "bf16") == 0
                              ? ", gradients as bf16 with error feedback (dist.compress)" : "",
                          s->wire_bytes / 1e6);
}

void rt_runlog_step(rt_runlog *l, int64_t step, double loss, double lr) {
    rt_progress_step(l->progress, step, loss, lr);
}

void rt_runlog_end_bar(rt_runlog *l) {
    if (l->progress) rt_progress_finish(l->progress);
}

void rt_runlog_window(rt_runlog *l, const rt_window *w) {
    if (l->rank_metrics) {
        if (!l->rank_row) l->rank_row = rt_event_new(NULL);
        rt_event *r = l->rank_row;
        rt_event_num(r, "step", (double)w->step);
        rt_event_num(r, "rank", l->rank);
        rt_event_num(r, "step_s", w->step_s);
        rt_event_num(r, "t_compute_s", w->t_compute);
        rt_event_num(r, "t_comm_s", w->t_comm);
        rt_event_num(r, "t_wait_s", w->t_wait);
        rt_event_write(r, l->rank_metrics, NULL);
    }
    if (!l->metrics) return;
    if (!l->row) l->row = rt_event_new(NULL);
    rt_event *r = l->row;
    rt_event_num(r, "step", (double)w->step);
    rt_event_num(r, "epoch", (double)w->epoch);
    rt_event_num(r, "loss", w->loss);
    rt_event_num(r, "lr", w->lr);
    rt_event_num(r, "grad_norm", w->grad_norm);
    rt_event_num(r, "samples_per_s", w->samples_per_s);
    rt_event_num(r, "t_compute_s", w->t_compute);
    rt_event_num(r, "t_comm_s", w->t_comm);
    rt_event_num(r, "t_wait_s", w->t_wait);
    rt_event_num(r, "t_data_s", w->t_data);
    rt_event_num(r, "skipped", (double)w->skipped);
    rt_event_num(r, "wire_bytes", w->wire_bytes);
    if (w->bench_sync >= 0) rt_event_bool(r, "bench_sync", w->bench_sync == 1);
    rt_event_write(r, l->metrics, NULL);
}

void rt_runlog_eval(rt_runlog *l, int64_t step, int64_t epoch, const rt_metric *m, int n) {
    if (l->rank != 0) return;
    rt_event *e = rt_event_new("eval");
    rt_event_num(e, "step", (double)step);
    rt_event_num(e, "epoch", (double)epoch);
    rt_event_metrics(e, "test", m, n);
    rt_event_emit(e, l->metrics, NULL);
    char text[256];
    rt_event_metrics_text(m, n, text, sizeof text);
    rt_progress_print(l->progress, "eval  step %lld epoch %lld: %s", (long long)step, (long long)epoch, text);
}

void rt_runlog_stopped(rt_runlog *l, int64_t step, const char *checkpoint) {
    rt_runlog_end_bar(l);
    if (l->rank != 0) return;
    rt_event *e = rt_event_new("stopped");
    rt_event_num(e, "step", (double)step);
    rt_event_write(e, l->metrics, NULL);
    rt_event_str(e, "checkpoint", checkpoint);
    rt_event_num(e, "exit", RT_ESIGNAL);
    rt_event_emit(e, stdout, NULL);
}

void rt_runlog_done(rt_runlog *l, const rt_run_done *d) {
    rt_runlog_end_bar(l);
    if (l->rank != 0) return;
    rt_event *e = rt_event_new("done");
    rt_event_num(e, "step", (double)d->step);
    rt_event_num(e, "epoch", (double)d->epoch);
    rt_event_num(e, "loss", d->loss);
    if (d->nmetrics && isfinite(d->metrics[0].value)) rt_event_metrics(e, "test", d->metrics, d->nmetrics);
    rt_event_num(e, "samples_per_s", d->samples_per_s);
    rt_event_num(e, "wall_s", d->wall_s);
    rt_event_num(e, "peak_rss_mb", d->peak_rss_mb);
    rt_event_num(e, "rss_bound_mb", d->rss_bound_mb);
    rt_event_num(e, "data_mb", d->data_mb);
    rt_event_num(e, "world_size", d->world);
    rt_event_str(e, "checkpoint", d->checkpoint);
    rt_event_emit(e, stdout, l->metrics);
}
