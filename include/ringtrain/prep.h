/** @file prep.h
 * `ringtrain prep`: public datasets converted to ringtrain's HDF5
 * layout (data.h), each written to a temporary name and renamed into place. */
#ifndef RINGTRAIN_PREP_H
#define RINGTRAIN_PREP_H

#include "ringtrain/api.h"

#include <stdint.h>

/** Converts Fashion-MNIST's gzipped IDX files in src_dir into the HDF5 layout
 * (uint8 /train/x [60000, 28, 28], /test/x [10000, 28, 28], int32 labels,
 * attributes source and num_classes) at out_path. Returns RT_OK or
 * RT_EBADINPUT naming the file. */
RT_API int rt_prep_fashion_mnist(const char *src_dir, const char *out_path);

/** The keypoint task built from the same files: each row pastes its garment
 * (train rows for train, test rows for test), scaled by U(0.7, 1.3) and
 * bilinearly resampled, at a uniform position into a size x size canvas, and
 * adds N(0, 0.03) noise, all drawn from (seed, split, row). Five keypoints
 * (x, y) in pixels, taken on the canvas before the noise: the intensity-
 * weighted centre, then the top-most, bottom-most, left-most and right-most
 * pixels of intensity >= 0.5, each the mean along its extreme row or column.
 * Layout: /<split>/x uint8 [N, 1, size, size], /<split>/kp float32 [N, 5, 2],
 * /<split>/y int32 (the garment's class), /<split>/place float32 [N, 3]
 * (scale, x0, y0 of the paste, for tests); attributes source, num_classes,
 * keypoints, size, seed. RT_EBADINPUT for a size outside [36, 512]. */
RT_API int rt_prep_fashion_keypoints(const char *src_dir, const char *out_path, int size,
                                     uint64_t seed);

#endif
