/** @file feed.h
 * One rank's training data, as DESIGN.md's training semantics say:
 * step s of epoch e reads rows P_e[sB, (s+1)B), rank r its slice
 * [floor(rB/N), floor((r+1)B/N)) of them, split evenly into accum_steps
 * micro-batches, read ahead on the loader thread while the current one
 * computes. Each row comes with its random key (rt_row_key of the seed, the
 * epoch and the row), so what a model draws for it does not depend on N. */
#ifndef RINGTRAIN_FEED_H
#define RINGTRAIN_FEED_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"
#include "ringtrain/data.h"
#include "ringtrain/model.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rt_feed rt_feed;

/* Opens data.train (and data.test, if named) for rows of `sample` elements
 * and labels in [0, classes), checks the global batch against the rows, the
 * world size and the micro-batches, and the data path's memory against
 * data.memory_budget_mb, before anything large is allocated. Returns RT_OK or
 * RT_EBADINPUT naming the file or key. */
/** Completes c from the training data where it asks to: a class-conditional
 * model that leaves model.num_classes 0 takes the file's num_classes. Returns
 * RT_OK or RT_EBADINPUT naming the file. */
RT_API int rt_feed_complete_config(rt_config *c);
/** The training feed of rank `rank` of `world`: opens data.train (and data.test)
 * for model m, checks the batch sizes against the rows and prepares each
 * epoch's order. Returns RT_OK or RT_EBADINPUT naming the file and key. */
RT_API int rt_feed_create(const rt_config *c, const rt_model *m, int rank, int world,
                          rt_feed **out);
/** Opens one split of a data file for model m as c says: its input size and
 * classes checked, keypoints loaded when m predicts them, normalised as
 * data.mean and data.std. Errors name the file and the key. */
RT_API int rt_feed_open_split(const rt_config *c, const rt_model *m, const char *path,
                              const char *split, rt_dataset **out);
/** Stops the loader (after any read in flight), closes the files, frees (NULL: no-op). */
RT_API void rt_feed_destroy(rt_feed *f);
/** floor(training rows / global batch): every rank runs this many steps an epoch. */
RT_API int64_t rt_feed_steps_per_epoch(const rt_feed *f);
/** train.steps, or train.epochs whole epochs. */
RT_API int64_t rt_feed_total_steps(const rt_feed *f);
/** The test split (NULL without data.test), for evaluation. */
RT_API rt_dataset *rt_feed_test(rt_feed *f);
/** True when the training inputs are 8-bit pixels (density models dequantise). */
RT_API bool rt_feed_quantized(const rt_feed *f);
/** Bytes the data path holds per rank (the done line's data_mb). */
RT_API double rt_feed_bytes(const rt_feed *f);
/** Initialises m's parameters from data where its config asks to
 * (rt_model_needs_data_init): from the first global batch, rows P_0[0, B) of
 * epoch 0 with their keys, whatever the rank and world size. Reads on the
 * calling thread, before the first rt_feed_next. RT_OK at once for a model
 * that needs none; else RT_OK or the read's error. */
RT_API int rt_feed_data_init(rt_feed *f, rt_model *m);
/** Waits for this rank's rows of micro-batch k of `step`, and queues the next
 * micro-batch (of this step, or the first of the next while steps remain)
 * before returning. b and *keys (b->n, the rows' random keys) stay valid until
 * the next call. *wait gets the seconds spent waiting. Returns RT_OK or the
 * read's error (rt_errmsg() set); the next call still works. */
RT_API int rt_feed_next(rt_feed *f, int64_t step, int64_t k, rt_batch *b, const uint64_t **keys,
                        double *wait);

#endif
