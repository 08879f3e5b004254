/* tensor.h - float32 row-major tensor views and the bump arena they live in.
 *
 * A tensor is a plain struct: it never owns its buffers. Parameters point into
 * the parameter and gradient arenas (nn.h); activations point into a per-step
 * rt_arena that is reset, not freed, between steps.
 */
#ifndef RINGTRAIN_TENSOR_H
#define RINGTRAIN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_DIMS 4

typedef struct rt_tensor {
    float *data;                 /* (numel) row-major values */
    float *grad;                 /* (numel) d loss / d data, or NULL when no gradient flows */
    int64_t numel;               /* product of shape */
    int ndim;                    /* 0..RT_MAX_DIMS; 0 is a scalar */
    int shape[RT_MAX_DIMS];      /* sizes, outermost first */
    int64_t stride[RT_MAX_DIMS]; /* element strides; contiguous row-major here */
    int param_id;                /* 1 + index in its rt_params; 0 for activations */
} rt_tensor;

/* Fills shape, numel and contiguous strides; data and grad are left alone.
 * Aborts (RT_CHECK) on ndim > RT_MAX_DIMS or a negative size. */
void rt_tensor_set_shape(rt_tensor *t, int ndim, const int *shape);
/* True when a and b have the same ndim and sizes. */
bool rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b);
/* Writes "[2, 3, 4]" into buf (always NUL-terminated). */
void rt_tensor_shape_str(const rt_tensor *t, char *buf, size_t len);

/* ---- arena: one block, bump-allocated, reset each step ---- */

typedef struct rt_arena rt_arena;

/* Creates an arena with an initial block of `bytes` (may be 0). */
rt_arena *rt_arena_create(size_t bytes);
void rt_arena_destroy(rt_arena *a);
/* Returns 64-byte aligned, uninitialised memory valid until the next reset.
 * When the block is full it falls back to the heap (counted in `spills`);
 * the next reset then grows the block so steady state never touches the heap. */
void *rt_arena_alloc(rt_arena *a, size_t bytes);
/* Same, zero-filled. */
void *rt_arena_calloc(rt_arena *a, size_t bytes);
/* Forgets every allocation; grows the block once if the last cycle spilled. */
void rt_arena_reset(rt_arena *a);
/* Bytes handed out since the last reset, the block size, and heap spills. */
size_t rt_arena_used(const rt_arena *a);
size_t rt_arena_capacity(const rt_arena *a);
size_t rt_arena_spills(const rt_arena *a);

#endif
