/* sample.h - drawing samples from a generative checkpoint (NICE or rectified
 * flow) into a PNG image grid (libpng) or an HDF5 file of raw samples. */
#ifndef RINGTRAIN_SAMPLE_H
#define RINGTRAIN_SAMPLE_H

#include <stdint.h>

/* Loads ckpt, draws n samples from seed (steps: Euler steps of a rectified
 * flow, 0 = its config's model.sample_steps) and writes them to out: a *.png
 * grid (samples mapped back to data scale and clamped to [0, 1]) or a *.h5
 * file with /samples float32 (n, input...) in data scale. The file is written
 * to a temporary name and renamed into place. Returns RT_OK, RT_EBADINPUT
 * (not a generative checkpoint, not an image shape, bad path) or RT_ERUNTIME. */
int rt_sample_checkpoint(const char *ckpt, int64_t n, uint64_t seed, int steps, const char *out);

/* Writes an 8-bit grayscale (channels 1) or RGB (channels 3) image of
 * width x height, pixels row-major interleaved, to path via libpng. */
int rt_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels);

#endif
