/** @file ckpt.h
 * Single-file HDF5 checkpoints in DESIGN.md's layout.
 *
 *   /params/<name>          float32, PyTorch names and shapes
 *   /optim/m/<name>, /optim/v/<name>   optimizer state (v only for AdamW)
 *   /ema/<name>             EMA of the parameters (train.ema_decay > 0)
 *   /provenance             where the run came from (provenance.h)
 *   attributes: step, epoch, format_version, world_size, seed, config, ...
 *
 * Every dataset carries HDF5's Fletcher32 checksum, so a flipped byte is a
 * read error, never silently wrong weights. Files are written to a temporary
 * name, fsync'ed and renamed, so a reader never sees a partial checkpoint.
 */
#ifndef RINGTRAIN_CKPT_H
#define RINGTRAIN_CKPT_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"
#include "ringtrain/nn.h"
#include "ringtrain/provenance.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/** 3: a /provenance group (provenance.h); 2: string attributes are
 * fixed-length (1 stored them variable-length). This build reads 2 and 3,
 * and writes 2 for a checkpoint saved without provenance. */
#define RT_CKPT_FORMAT_VERSION 3

typedef struct rt_ckpt_meta {
    int64_t step;            /**< optimizer steps completed = the data cursor */
    int64_t epoch;           /**< epoch of the next step */
    int64_t world_size;
    int64_t seed;            /**< train.seed: with (seed, epoch) it fixes every row order */
    int64_t optim_t;         /**< optimizer step counter */
    const char *optim_type;  /**< "adamw" or "sgd" */
    const char *config_json; /**< resolved config */
    const char *job_id;      /**< scheduler job id, "" outside one */
    int64_t requeue_count;   /**< scheduler restarts of this job */
    int64_t skipped_steps;   /**< updates skipped for non-finite values so far */
    const float *ema;        /**< EMA of the parameters in their layout, written as /ema; NULL: none */
    const float *residual;   /**< dist.compress bf16: residual_rows rows of the trained prefix's
                                  length, row q ring position q's, as /dist/residual; NULL: none */
    int64_t residual_rows;
} rt_ckpt_meta;

/** What rt_ckpt_load found besides the tensors. */
typedef struct rt_ckpt_info {
    int64_t step, epoch, world_size, seed, optim_t, format_version;
    int64_t skipped_steps;
    char optim_type[16];
} rt_ckpt_info;

/** Writes params (and m, v when non-NULL) atomically to path. */
RT_API int rt_ckpt_save(const char *path, const rt_params *p, const float *m, const float *v,
                        const rt_ckpt_meta *meta);
/** rt_ckpt_save with the run's provenance in /provenance (format 3); prov
 * NULL is rt_ckpt_save. */
RT_API int rt_ckpt_save_prov(const char *path, const rt_params *p, const float *m, const float *v,
                             const rt_ckpt_meta *meta, const rt_prov *prov);
/** Loads /params into p. Every parameter of p must be present with the same
 * shape and the file must hold no other; the first difference is an
 * RT_EBADINPUT error naming the parameter and both shapes. */
RT_API int rt_ckpt_load_params(const char *path, rt_params *p);
/** Loads everything a resume needs: parameters (as rt_ckpt_load_params), the
 * optimizer state into m and v (v NULL for SGD) and the attributes. The first
 * difference (format version, optimizer type, a missing group or parameter, a
 * shape, a checksum) is an RT_EBADINPUT error naming it. */
RT_API int rt_ckpt_load(const char *path, rt_params *p, float *m, float *v, const char *optim_type,
                        rt_ckpt_info *info);
/** Loads /ema (p's names and shapes, as rt_ckpt_load_params checks them) into
 * ema, in p's layout; *found is false, and ema untouched, when the file has
 * no /ema group. */
RT_API int rt_ckpt_load_ema(const char *path, const rt_params *p, float *ema, bool *found);
/** Reads /dist/residual (rows of n floats) into out for ring position row
 * of a job of `rows` ranks: its own row when the file has `rows` of them;
 * otherwise position 0 gets the sum of the file's rows and the others zeros.
 * *rows_found is the file's row count, 0 (and out zero) when it has none. A
 * length that is not rows x n is an RT_EBADINPUT error naming the file. */
RT_API int rt_ckpt_load_residual(const char *path, int64_t row, int64_t rows, float *out, size_t n,
                                 int64_t *rows_found);
/** The weights `sample` and `eval` use, into p's parameters: which is
 * "params", "ema" (an RT_EBADINPUT error when the file has none) or NULL for
 * the EMA when the file has one and the parameters otherwise. *used, when
 * not NULL, is set to "params" or "ema". */
RT_API int rt_ckpt_load_weights(const char *path, rt_params *p, const char *which, const char **used);
/** Prints a readable summary of any checkpoint to out: step, epoch, world
 * size, versions, a digest of the stored config, and every parameter with its
 * shape, element count and L2 norm (checksums are verified while reading). */
RT_API int rt_ckpt_inspect(const char *path, FILE *out);
/** Reads an unsealed or edited checkpoint as inspect does (every attribute,
 * every dataset's checksum) and, if it loads, writes its seal (h5util.h). */
RT_API int rt_ckpt_seal(const char *path, FILE *out);
/** What a verb that takes a checkpoint was given, as a file: a run directory,
 * its ckpt/ directory, or a ckpt/latest file stand for the newest complete
 * checkpoint of that run (the one latest names, else the newest step_*.h5
 * whose seal and stored config read); any other path is itself. RT_EBADINPUT
 * naming arg when a run has no complete checkpoint. */
RT_API int rt_ckpt_resolve(const char *arg, char *out, size_t len);
/** The resolved config JSON stored in a checkpoint; caller rt_free()s it. */
RT_API int rt_ckpt_read_config(const char *path, char **json);
/** The checkpoint's config, parsed and validated (errors name "<path>:config");
 * the caller frees it with rt_config_free. */
RT_API int rt_ckpt_config(const char *path, rt_config **out);

#endif
