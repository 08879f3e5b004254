/** @file eval.h
 * Evaluation: a model's loss and metrics over a whole split, each
 * rank taking a contiguous slice of its rows and the sums added in rank
 * order, so that no row is counted twice or skipped; and the `eval` verb. */
#ifndef RINGTRAIN_EVAL_H
#define RINGTRAIN_EVAL_H

#include "ringtrain/api.h"
#include "ringtrain/data.h"
#include "ringtrain/model.h"

#include <mpi.h>

typedef struct rt_evaluator rt_evaluator;

/** Buffers for evaluating m in batches of eval_batch rows; the random draws
 * of evaluation (dequantisation, flow noise) come from seed and the row, the
 * same at every evaluation. */
RT_API rt_evaluator *rt_evaluator_create(rt_model *m, int64_t eval_batch, uint64_t seed);
/** Frees the buffers (NULL: no-op); the model is the caller's. */
RT_API void rt_evaluator_destroy(rt_evaluator *e);
/** Evaluates every row of d on comm, on g's arena (gradients off meanwhile):
 * *st gets the sums over all ranks. Collective; a read failure on any rank is
 * an error on every rank. */
RT_API int rt_evaluator_run(rt_evaluator *e, rt_graph *g, rt_dataset *d, MPI_Comm comm,
                            rt_batch_stats *st);

/** The `eval` verb: loads a checkpoint's model and evaluates it on `data`
 * (NULL: the test file of its config), split `split`; rank 0 prints one JSON
 * line with the task's metrics under the split's prefix ("test_acc"). */
RT_API int rt_eval_checkpoint(const char *ckpt, const char *data, const char *split, MPI_Comm comm);
/** rt_eval_checkpoint with the weights chosen as rt_ckpt_load_weights does
 * ("params", "ema", or NULL: the EMA when the checkpoint has one); the line
 * names them under "weights". */
RT_API int rt_eval_checkpoint_weights(const char *ckpt, const char *data, const char *split,
                                      const char *weights, MPI_Comm comm);

#endif
