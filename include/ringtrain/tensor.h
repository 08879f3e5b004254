/** @file tensor.h
 * Float32 row-major tensor views and the bump arena they live in.
 *
 * A tensor is a plain struct: it never owns its buffers. Parameters point into
 * the parameter and gradient arenas (nn.h); activations point into a per-step
 * rt_arena that is reset, not freed, between steps.
 */
#ifndef RINGTRAIN_TENSOR_H
#define RINGTRAIN_TENSOR_H

#include "ringtrain/api.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_DIMS 4

typedef struct rt_tensor {
    float *data;                 /**< (numel) row-major values */
    float *grad;                 /**< (numel) d loss / d data, or NULL when no gradient flows */
    int64_t numel;               /**< product of shape */
    int ndim;                    /**< 0..RT_MAX_DIMS; 0 is a scalar */
    int shape[RT_MAX_DIMS];      /**< sizes, outermost first */
    int64_t stride[RT_MAX_DIMS]; /**< element strides; contiguous row-major here */
    int param_id;                /**< 1 + index in its rt_params; 0 for activations */
} rt_tensor;

/** Fills shape, numel and contiguous strides; data and grad are left alone.
 * Aborts (RT_CHECK) on ndim > RT_MAX_DIMS or a negative size. */
RT_API void rt_tensor_set_shape(rt_tensor *t, int ndim, const int *shape);
/** True when a and b have the same ndim and sizes. */
RT_API bool rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b);
/** Writes "[2, 3, 4]" into buf (always NUL-terminated). */
RT_API void rt_tensor_shape_str(const rt_tensor *t, char *buf, size_t len);

/* ---- arena: one block, bump-allocated, reset each step ---- */

typedef struct rt_arena rt_arena;

/** Creates an arena with an initial block of `bytes` (may be 0). */
RT_API rt_arena *rt_arena_create(size_t bytes);
/** Frees the arena, its block and any spills (NULL: no-op). */
RT_API void rt_arena_destroy(rt_arena *a);
/** Returns 64-byte aligned, uninitialised memory valid until the next reset.
 * When the block is full it falls back to the heap (counted in `spills`);
 * the next reset then grows the block so steady state never touches the heap. */
RT_API void *rt_arena_alloc(rt_arena *a, size_t bytes);
/** Same, zero-filled. */
RT_API void *rt_arena_calloc(rt_arena *a, size_t bytes);
/** Forgets every allocation; grows the block once if the last cycle spilled. */
RT_API void rt_arena_reset(rt_arena *a);
/** @{ */
/** Bytes handed out since the last reset, the block size, and heap spills. */
RT_API size_t rt_arena_used(const rt_arena *a);
RT_API size_t rt_arena_capacity(const rt_arena *a);
RT_API size_t rt_arena_spills(const rt_arena *a);
/** @} */

#endif
