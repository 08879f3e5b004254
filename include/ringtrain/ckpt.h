/* ckpt.h - single-file HDF5 checkpoints in DESIGN.md's layout.
 *
 *   /params/<name>          float32, PyTorch names and shapes
 *   /optim/m/<name>, /optim/v/<name>   optimizer state (v only for AdamW)
 *   attributes: step, epoch, format_version, world_size, seed, config, ...
 *
 * Every dataset carries HDF5's Fletcher32 checksum, so a flipped byte is a
 * read error, never silently wrong weights. Files are written to a temporary
 * name, fsync'ed and renamed, so a reader never sees a partial checkpoint.
 */
#ifndef RINGTRAIN_CKPT_H
#define RINGTRAIN_CKPT_H

#include "ringtrain/nn.h"

#include <stdint.h>

#define RT_CKPT_FORMAT_VERSION 1

typedef struct rt_ckpt_meta {
    int64_t step;            /* optimizer steps completed */
    int64_t epoch;           /* epoch of the next step */
    int64_t world_size;
    int64_t seed;
    int64_t optim_t;         /* optimizer step counter */
    const char *optim_type;  /* "adamw" or "sgd" */
    const char *config_json; /* resolved config */
} rt_ckpt_meta;

/* Writes params (and m, v when non-NULL) atomically to path. */
int rt_ckpt_save(const char *path, const rt_params *p, const float *m, const float *v,
                 const rt_ckpt_meta *meta);
/* Loads /params into p. Every parameter of p must be present with the same
 * shape and the file must hold no other; the first difference is an
 * RT_EBADINPUT error naming the parameter and both shapes. */
int rt_ckpt_load_params(const char *path, rt_params *p);
/* The resolved config JSON stored in a checkpoint; caller rt_free()s it. */
int rt_ckpt_read_config(const char *path, char **json);

#endif
