/* tensor.c - tensor shape helpers and the per-step bump arena. */
#include "ringtrain/tensor.h"

#include "ringtrain/common.h"

#include <stdio.h>
#include <string.h>

void rt_tensor_set_shape(rt_tensor *t, int ndim, const int *shape) {
    RT_CHECK(ndim >= 0 && ndim <= RT_MAX_DIMS, "tensor ndim %d out of range", ndim);
    t->ndim = ndim;
    int64_t n = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        RT_CHECK(shape[i] >= 0, "negative tensor size %d", shape[i]);
        t->shape[i] = shape[i];
        t->stride[i] = n;
        n *= shape[i];
    }
    for (int i = ndim; i < RT_MAX_DIMS; i++) {
        t->shape[i] = 1;
        t->stride[i] = 1;
    }
    t->numel = n;
}

bool rt_tensor_same_shape(const rt_tensor *a, const rt_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

void rt_tensor_shape_str(const rt_tensor *t, char *buf, size_t len) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ", %d" : "%d", t->shape[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
}

/* ---- arena ---- */

#define RT_ARENA_MAX_SPILLS 4096

struct rt_arena {
    char *base;     /* main block */
    size_t cap;     /* bytes in the main block */
    size_t used;    /* bytes handed out from the main block */
    size_t spilled; /* bytes handed out from the heap this cycle */
    size_t spills;  /* heap spills since creation (0 in steady state) */
    int nspill;
    void *spill[RT_ARENA_MAX_SPILLS];
};

rt_arena *rt_arena_create(size_t bytes) {
    rt_arena *a = rt_calloc(1, sizeof *a);
    a->cap = (bytes + 63) & ~(size_t)63;
    a->base = a->cap ? rt_alloc_aligned(a->cap) : NULL;
    return a;
}

void rt_arena_destroy(rt_arena *a) {
    if (!a) return;
    for (int i = 0; i < a->nspill; i++) rt_free(a->spill[i]);
    rt_free(a->base);
    rt_free(a);
}

void *rt_arena_alloc(rt_arena *a, size_t bytes) {
    size_t n = (bytes + 63) & ~(size_t)63;
    if (n == 0) n = 64;
    if (a->used + n <= a->cap) {
        void *p = a->base + a->used;
        a->used += n;
        return p;
    }
    RT_CHECK(a->nspill < RT_ARENA_MAX_SPILLS, "arena: too many spills in one cycle");
    void *p = rt_alloc_aligned(n);
    a->spill[a->nspill++] = p;
    a->spilled += n;
    a->spills++;
    return p;
}

void *rt_arena_calloc(rt_arena *a, size_t bytes) {
    void *p = rt_arena_alloc(a, bytes);
    memset(p, 0, bytes);
    return p;
}

void rt_arena_reset(rt_arena *a) {
    if (a->nspill) {
        size_t want = a->used + a->spilled;
        want += want / 8; /* headroom so a slightly larger step does not spill again */
        want = (want + 63) & ~(size_t)63;
        for (int i = 0; i < a->nspill; i++) rt_free(a->spill[i]);
        a->nspill = 0;
        if (want > a->cap) {
            rt_free(a->base);
            a->base = rt_alloc_aligned(want);
            a->cap = want;
        }
    }
    a->used = 0;
    a->spilled = 0;
}

size_t rt_arena_used(const rt_arena *a) { return a->used + a->spilled; }
size_t rt_arena_capacity(const rt_arena *a) { return a->cap; }
size_t rt_arena_spills(const rt_arena *a) { return a->spills; }
