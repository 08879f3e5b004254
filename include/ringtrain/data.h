/** @file data.h
 * HDF5 datasets and DESIGN.md's sampling semantics.
 *
 * Layout: /<split>/x float32 or uint8 (N, ...) (uint8 scaled to [0,1]),
 *         /<split>/y int32 (N); file attributes `source`, `num_classes`.
 * Sampling: step s of epoch e reads rows P_e[s*B, (s+1)*B), P_e a permutation
 * seeded by (seed, e) or the identity; rank r of N takes the contiguous slice
 * [floor(r*B/N), floor((r+1)*B/N)) of those rows. Only those rows are read.
 * (Converting other formats to this layout is prep.h's.)
 */
#ifndef RINGTRAIN_DATA_H
#define RINGTRAIN_DATA_H

#include "ringtrain/api.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rt_dataset rt_dataset;

/** Opens split ("train" or "test") of an HDF5 file and validates it before
 * allocating anything large: x must be float32/uint8 with sample_size elements
 * per row, y int32 of the same length with labels in [0, num_classes)
 * (num_classes 0: labels are not used and not range-checked).
 * Returns RT_OK or RT_EBADINPUT with rt_errmsg() naming file and dataset. */
RT_API int rt_dataset_open(const char *path, const char *split, int64_t sample_size,
                           int num_classes, rt_dataset **out);
/** Closes the file and frees the dataset (NULL: no-op). */
RT_API void rt_dataset_close(rt_dataset *d);
/** The file's num_classes attribute into *out (0 when it has none). Returns
 * RT_OK, or RT_EBADINPUT when path is not a readable HDF5 file. */
RT_API int rt_dataset_num_classes(const char *path, int *out);
/** Every value read afterwards becomes (x - mean) / std (after uint8 scaling). */
RT_API void rt_dataset_set_normalize(rt_dataset *d, float mean, float std);
/** True when x is stored as uint8 (pixels k/255): generative models dequantise it. */
RT_API bool rt_dataset_quantized(const rt_dataset *d);
/** Rows in the split. */
RT_API int64_t rt_dataset_rows(const rt_dataset *d);
/** Reads the rows listed in `rows` (n, strictly increasing) into x (n, sample_size)
 * and y (n), merging adjacent rows into one hyperslab block. Returns RT_OK or
 * RT_ERUNTIME on an HDF5 read failure. (libhdf5 allocates internally on every
 * read; the training loop therefore reads through an rt_loader thread.) */
RT_API int rt_dataset_read(rt_dataset *d, const int64_t *rows, int64_t n, float *x, int32_t *y);
/** Loads /<split>/kp, float32 [N, k, 2], pixel coordinates (x, y), into
 * memory and checks every one lies in the w x h canvas. RT_EBADINPUT naming
 * the file and dataset when it is missing, of another shape or type, or out. */
RT_API int rt_dataset_load_keypoints(rt_dataset *d, int k, int w, int h);
/** The keypoints of rows (n) into out (n, k, 2); loaded first. Never allocates. */
RT_API void rt_dataset_keypoints(const rt_dataset *d, const int64_t *rows, int64_t n, float *out);
/** Rows of x read since open (for tests that count what a rank touched). */
RT_API int64_t rt_dataset_rows_read(const rt_dataset *d);

/* ---- prefetching loader ---- */

/** A loader owns one thread and two batch buffers: while the trainer computes
 * on one buffer, the thread reads the next batch into the other. All buffers
 * are allocated at creation, so the training thread never allocates. */
typedef struct rt_loader rt_loader;

typedef struct rt_batch {
    const float *x;   /**< (n, sample_size) */
    const int32_t *y; /**< (n) */
    const int64_t *rows; /**< (n) dataset row of each row of x (ascending) */
    int64_t n;
    const float *kp;  /**< (n, K, 2) keypoints when the task has them, else NULL */
} rt_batch;

/** Starts a loader over d for batches of at most max_rows rows. */
RT_API rt_loader *rt_loader_create(rt_dataset *d, int64_t max_rows);
/** Stops the thread (after any read in flight) and frees the buffers. */
RT_API void rt_loader_destroy(rt_loader *l);
/** Queues a read of `rows` (n <= max_rows, any order; sorted by the loader).
 * At most one request may be outstanding beyond the batch being consumed. */
RT_API void rt_loader_submit(rt_loader *l, const int64_t *rows, int64_t n);
/** Waits for the oldest queued read; its buffers stay valid until the next
 * rt_loader_next. Returns RT_OK or the read's error (rt_errmsg() set). */
RT_API int rt_loader_next(rt_loader *l, rt_batch *out);
/** Drops queued reads (waits for any in flight). */
RT_API void rt_loader_drain(rt_loader *l);

/* ---- sampling ---- */

/** The slice [lo, hi) of a global batch of B rows that rank r of world takes. */
RT_API void rt_shard_range(int64_t B, int rank, int world, int64_t *lo, int64_t *hi);
/** Fills perm (nrows) with epoch e's order: identity, or a permutation seeded
 * by (seed, e). The same on every rank and for every world size. */
RT_API void rt_epoch_order(int64_t *perm, int64_t nrows, uint64_t seed, int64_t epoch,
                           bool shuffle);

#endif
