/** @file progress.h
 * What rank 0 shows while training.
 *
 * On a terminal: one live bar, redrawn at most ten times a second, with
 * epoch, step/total, a smoothed loss, samples/s and ETA. Anywhere else (a
 * Slurm log, a pipe): one plain line every log_every steps and no control
 * characters at all. Other lines (evaluation, resume notes) always print on
 * their own line.
 */
#ifndef RINGTRAIN_PROGRESS_H
#define RINGTRAIN_PROGRESS_H

#include "ringtrain/api.h"
#include "ringtrain/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rt_progress rt_progress;

/** A progress display on out; with enabled false every call is a no-op.
 * The bar is drawn when out is a terminal with a size (not the 0x0 pty Open
 * MPI gives its ranks), or when RINGTRAIN_PROGRESS=bar; RINGTRAIN_PROGRESS=lines
 * forces plain lines. */
RT_API rt_progress *rt_progress_create(FILE *out, bool enabled, int64_t first_step,
                                       int64_t total_steps, int64_t steps_per_epoch, int64_t batch,
                                       int64_t log_every);
/** Ends the progress display and frees it (NULL: no-op). */
RT_API void rt_progress_destroy(rt_progress *p);
/** After optimizer step `step` (1-based) with its loss and learning rate. */
RT_API void rt_progress_step(rt_progress *p, int64_t step, double loss, double lr);
/** A line of its own (the bar, if any, is cleared first and redrawn later). */
RT_API void rt_progress_print(rt_progress *p, const char *fmt, ...) RT_PRINTF(2, 3);
/** Ends the bar line. */
RT_API void rt_progress_finish(rt_progress *p);

#endif
