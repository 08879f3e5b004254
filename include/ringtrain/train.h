/** @file train.h
 * The training loop: data, model, optimizer, logging, evaluation and
 * checkpoints, following DESIGN.md's training semantics. */
#ifndef RINGTRAIN_TRAIN_H
#define RINGTRAIN_TRAIN_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"
#include "ringtrain/model.h"

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rt_train_opts {
    const char *run_dir;  /**< NULL = runs/<config name> */
    const char *resume;   /**< NULL, "auto" or a checkpoint path */
    bool quiet;           /**< no progress lines (tests) */
    bool per_rank_metrics; /**< every rank writes metrics.rank<R>.jsonl */
    bool allow_config_change; /**< resume with a config that differs from the checkpoint's */
} rt_train_opts;

typedef struct rt_trainer rt_trainer;

/** Builds everything a run needs on `comm`: completes the config from the
 * data where it asks to (a class-conditional model's class count), opens and validates the data,
 * creates the model (or loads init.from / the resumed checkpoint) and the
 * run directory (rank 0). Returns RT_OK or an error code with rt_errmsg()
 * set; on error nothing on disk has been changed. Collective over comm. */
RT_API int rt_trainer_create(rt_config *cfg, const rt_train_opts *opts, MPI_Comm comm,
                             rt_trainer **out);
/** Frees everything rt_trainer_create built (NULL: no-op); files stay on disk. */
RT_API void rt_trainer_destroy(rt_trainer *t);
/** One optimizer step (all micro-batches, gradient sync, clip, update).
 * Makes no heap allocation once warmed up. *loss gets the global mean loss. */
RT_API int rt_trainer_step(rt_trainer *t, double *loss);
/** Runs every remaining step with logging, evaluation and checkpoints, then
 * prints the final "done" JSON line on rank 0. */
RT_API int rt_trainer_run(rt_trainer *t);
/** Evaluates on the test split: *st gets the sums over every test row (all
 * zero without data.test); rt_model_metrics makes them the task's metrics. */
RT_API int rt_trainer_evaluate(rt_trainer *t, rt_batch_stats *st);
/** Optimizer steps completed, counting those of a resumed checkpoint. */
RT_API int64_t rt_trainer_steps_done(const rt_trainer *t);

#endif
