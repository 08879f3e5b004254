/** @file reproduce.h
 * `ringtrain reproduce` and `ringtrain diff`: whether two checkpoints hold
 * the same bits, and if not, which tensors differ and by how much, and
 * which part of their provenance (provenance.h) and config changed.
 *
 * Both print a readable table and then one JSON line:
 *
 *     {"event": "reproduce" | "diff", "a", "b", "step_a", "step_b",
 *      "verdict": "bitwise identical" | "differs", "tensors", "differing",
 *      "max_rel_diff", "first_differing": [{"name", "max_rel_diff"}],
 *      "changed": [{"field", "a", "b"}], "expected"}
 *
 * max_rel_diff of a tensor is max|a - b| / max|a| over its elements;
 * "expected" explains differences in the last bits that a changed world
 * size or OpenBLAS kernel brings.
 */
#ifndef RINGTRAIN_REPRODUCE_H
#define RINGTRAIN_REPRODUCE_H

#include "ringtrain/api.h"

/** The exit code of a verdict that found a difference (0 is identical). */
#define RT_DIFFERS 1

/** Compares checkpoints a and b, every tensor and the provenance, and
 * prints the verdict. Returns RT_OK when every tensor is bitwise identical,
 * RT_DIFFERS (with no error message: the verdict is the output) when one is
 * not, or RT_EBADINPUT naming a file that is not a readable checkpoint. */
RT_API int rt_ckpt_diff(const char *a, const char *b);

/** Re-runs the run that wrote ckpt: its stored config from step 0, each
 * segment of its resume chain at that segment's world size (or at np when
 * np > 0) under mpirun, in run_dir (NULL: runs/reproduce-<name>-<time>),
 * with the nset `--set` overrides applied, up to ckpt's step. Then compares
 * the result with ckpt as rt_ckpt_diff does (the command lines aside).
 * RT_EBADINPUT when ckpt has no provenance or a file it read is missing;
 * RT_ERUNTIME when a segment's run fails. */
RT_API int rt_reproduce(const char *ckpt, int np, const char *run_dir, const char *const *sets, int nset);

#endif
