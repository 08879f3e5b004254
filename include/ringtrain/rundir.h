/** @file rundir.h
 * A run directory on disk (DESIGN.md "Run directory"):
 *
 *   config.json          the resolved config
 *   metrics.jsonl        one JSON object per logged step and event (rank 0)
 *   metrics.rank<R>.jsonl  each rank's time split, with --per-rank-metrics
 *   ckpt/step_<8 digits>.h5, ckpt/latest   checkpoints, and the newest complete one
 *   flight/rank-NNNNN    each rank's last phase, for a stall report (flight.h)
 *
 * Every file that replaces another is written to a temporary name and
 * renamed into place, so nothing already on disk is lost to a failed write.
 * These functions touch the disk only: the caller decides which rank calls. */
#ifndef RINGTRAIN_RUNDIR_H
#define RINGTRAIN_RUNDIR_H

#include "ringtrain/api.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** The longest checkpoint path a run directory gives. */
#define RT_CKPT_PATH_MAX (1024 + 64)

/** Makes dir and dir/ckpt and writes dir/config.json (json, plus a newline).
 * Without resume, a directory that already holds checkpoints is refused, and
 * left as it was. Returns RT_OK or RT_EBADINPUT naming dir. */
RT_API int rt_rundir_prepare(const char *dir, const char *config_json, bool resume);
/** Opens dir/name for appending lines. On resume, lines of steps after
 * keep_step (and done/stopped events) are dropped first: the resumed run logs
 * them again. Returns RT_OK, or RT_EBADINPUT naming the file. */
RT_API int rt_rundir_open_log(const char *dir, const char *name, bool resume, int64_t keep_step,
                              FILE **out);
/** dir/ckpt/step_<step>.h5 into buf. */
RT_API void rt_rundir_ckpt_path(const char *dir, int64_t step, char *buf, size_t len);
/** The checkpoints to resume from, newest first: the one ckpt/latest names,
 * then every complete step_*.h5 by descending step. Returns how many (<= max). */
RT_API int rt_rundir_candidates(const char *dir, char (*out)[RT_CKPT_PATH_MAX], int max);
/** After a checkpoint of `step` is written: ckpt/latest names it, and of the
 * checkpoints of steps <= step only the newest `keep` stay (newer files belong
 * to a timeline this run left by resuming an older one: they are not its to
 * delete). Returns RT_OK or the write's error. */
RT_API int rt_rundir_commit_checkpoint(const char *dir, int64_t step, int64_t keep);

#endif
