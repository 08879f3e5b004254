/** @file sample.h
 * Drawing samples from a generative checkpoint (NICE or rectified
 * flow) into a PNG image grid (libpng) or an HDF5 file of raw samples. */
#ifndef RINGTRAIN_SAMPLE_H
#define RINGTRAIN_SAMPLE_H

#include "ringtrain/api.h"

#include <stdint.h>

/** What `ringtrain sample` asks for. */
typedef struct rt_sample_req {
    int64_t n;          /**< samples */
    uint64_t seed;
    int steps;          /**< Euler steps of a rectified flow; 0: model.sample_steps */
    int klass;          /**< the class of every sample; RT_CLASS_ALL: cycle them over the rows;
                           RT_CLASS_NONE: unconditional */
    double cfg;         /**< guidance scale (1: none); NAN: not given */
    double temperature; /**< scale of the starting noise (1) */
    const char *weights; /**< "params", "ema", or NULL: the EMA when the checkpoint has one */
} rt_sample_req;

#define RT_CLASS_NONE (-1)
#define RT_CLASS_ALL (-2)

/** Loads ckpt, draws the samples req asks for and writes them to out: a *.png
 * grid (samples mapped back to data scale and clamped to [0, 1]; with
 * RT_CLASS_ALL one row per class) or a *.h5 file: /noise (the starting
 * point), /labels (class-conditional), /samples (the result, in the model's
 * normalised space), /images (n, C, H, W) in [0, 1] for image inputs, and the
 * attributes steps, cfg, temperature, weights and seed. The file is written
 * to a temporary name and renamed into place. Returns RT_OK, RT_EBADINPUT (not
 * a generative checkpoint, a class or guidance the model cannot take, not an
 * image shape, bad path) or RT_ERUNTIME. */
RT_API int rt_sample_checkpoint(const char *ckpt, const rt_sample_req *req, const char *out);

/** Writes an 8-bit grayscale (channels 1) or RGB (channels 3) image of
 * width x height, pixels row-major interleaved, to path via libpng. */
RT_API int rt_png_write(const char *path, int width, int height, int channels,
                        const uint8_t *pixels);

#endif
