/** @file runlog.h
 * What a training run writes as it goes: rank 0's metrics.jsonl
 * (start, a row per log window, eval, stopped and done events; DESIGN.md
 * "Run directory"), each rank's metrics.rank<R>.jsonl with
 * --per-rank-metrics, the progress display, and the final done line on
 * stdout. Every line is an event of events.h. Calls that only rank 0 acts on
 * are no-ops on the others, so every rank calls the same functions. */
#ifndef RINGTRAIN_RUNLOG_H
#define RINGTRAIN_RUNLOG_H

#include "ringtrain/api.h"
#include "ringtrain/model.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rt_runlog rt_runlog;

/** What the start event and the first lines say about a run. */
typedef struct rt_run_start {
    const char *name;           /**< the config's name */
    int64_t step, total_steps, steps_per_epoch, batch;
    size_t params;
    int world;
    const char *launcher;       /**< "srun", "mpirun" or "none" */
    const char *job_id;
    int64_t requeue_count, resumed_from_world;
    int cores;                  /**< cores per rank */
    bool overlap;               /**< the communication thread runs */
    const char *overlap_setting; /**< dist.overlap as configured: "auto", "true" or "false" */
    bool ring;                  /**< the ring runs (several ranks, not the compute-only benchmark) */
    int64_t log_every;
    const struct rt_cfg_change *changes; /**< config changes a resume brought (nchanges) */
    int nchanges;
    const char *algorithm;      /**< the gradient all-reduce: "ring" or "hierarchical" (NULL: not said) */
    const char *compress;       /**< gradients on the wire: "bf16" or "none" (NULL: not said) */
    double wire_bytes;          /**< bytes a rank sends per step, nominally (rt_dp_wire_bytes_nominal) */
} rt_run_start;

/** One log window: its last step and the time split of that step. */
typedef struct rt_window {
    int64_t step, epoch, skipped;
    double loss, lr, grad_norm;
    double samples_per_s, step_s;  /**< over the window */
    double t_compute, t_comm, t_wait, t_data;
    int bench_sync;                /**< RINGTRAIN_BENCH_NO_SYNC=alternate: 1 with the ring, 0 without; -1 off */
    double wire_bytes;             /**< bytes this rank sent on the ring in the window's last full step */
} rt_window;

/** The done line: final figures of the run. */
typedef struct rt_run_done {
    int64_t step, epoch;
    double loss, samples_per_s, wall_s;
    const rt_metric *metrics;      /**< the last evaluation's (test_*), or NULL */
    int nmetrics;
    double peak_rss_mb, rss_bound_mb, data_mb;
    int world;
    const char *checkpoint;
} rt_run_done;

/** A log for this rank; quiet: no progress display. Files open with rt_runlog_open. */
RT_API rt_runlog *rt_runlog_create(int rank, bool quiet);
/** Closes the files and frees the log (NULL is a no-op). */
RT_API void rt_runlog_destroy(rt_runlog *l);
/** Rank 0: opens dir/metrics.jsonl; any rank with per_rank: its own
 * metrics.rank<R>.jsonl. On resume, lines after step are dropped first.
 * Returns RT_OK or RT_EBADINPUT naming the file (rundir.h). */
RT_API int rt_runlog_open(rt_runlog *l, const char *dir, bool per_rank, bool resume, int64_t step);
/** The start event and the run's first lines (config, kernels, ring). */
RT_API void rt_runlog_start(rt_runlog *l, const rt_run_start *s);
/** After every step: the live bar. */
RT_API void rt_runlog_step(rt_runlog *l, int64_t step, double loss, double lr);
/** Ends the live bar's line, so that what follows (the final checkpoint, an
 * error) starts a line of its own. */
RT_API void rt_runlog_end_bar(rt_runlog *l);
/** After a log window: rank 0's metrics row and each rank's own. Never allocates. */
RT_API void rt_runlog_window(rt_runlog *l, const rt_window *w);
/** An evaluation's metrics, as test_<name>, in the log and on the progress display. */
RT_API void rt_runlog_eval(rt_runlog *l, int64_t step, int64_t epoch, const rt_metric *m, int n);
/** The run stopped on a signal after checkpointing (exit 3). */
RT_API void rt_runlog_stopped(rt_runlog *l, int64_t step, const char *checkpoint);
/** The done line, on stdout and in the log. */
RT_API void rt_runlog_done(rt_runlog *l, const rt_run_done *d);

#endif
