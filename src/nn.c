/* nn.c - parameter arenas and the Linear module. */
#include "ringtrain/nn.h"

#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- parameter arenas ---- */

void rt_params_init(rt_params *p, int cap) {
    memset(p, 0, sizeof *p);
    p->cap = cap;
    p->items = rt_calloc((size_t)cap, sizeof *p->items);
}

rt_tensor *rt_params_add(rt_params *p, const char *name, int ndim, const int *shape) {
    RT_CHECK(p->count < p->cap, "too many parameters (cap %d)", p->cap);
    RT_CHECK(!p->data, "parameter %s added after finalize", name);
    RT_CHECK(rt_params_find(p, name) < 0, "duplicate parameter name %s", name);
    rt_param *it = &p->items[p->count++];
    snprintf(it->name, sizeof it->name, "%s", name);
    rt_tensor_set_shape(&it->t, ndim, shape);
    it->offset = p->total;
    /* keep every tensor 64-byte aligned inside the arena */
    p->total += ((size_t)it->t.numel + 15) & ~(size_t)15;
    return &it->t;
}

void rt_params_finalize(rt_params *p) {
    size_t bytes = rt_mul_size(p->total ? p->total : 1, sizeof(float));
    p->data = rt_alloc_aligned(bytes);
    p->grad = rt_alloc_aligned(bytes);
    memset(p->data, 0, bytes);
    memset(p->grad, 0, bytes);
    for (int i = 0; i < p->count; i++) {
        p->items[i].t.data = p->data + p->items[i].offset;
        p->items[i].t.grad = p->grad + p->items[i].offset;
        p->items[i].t.param_id = i + 1;
    }
}

void rt_params_free(rt_params *p) {
    rt_free(p->items);
    rt_free(p->data);
    rt_free(p->grad);
    memset(p, 0, sizeof *p);
}

int rt_params_find(const rt_params *p, const char *name) {
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return i;
    return -1;
}

void rt_params_zero_grad(rt_params *p) { memset(p->grad, 0, p->total * sizeof(float)); }

/* ---- Linear ---- */

void rt_linear_mod_init(rt_linear_mod *m, rt_params *p, const char *name, int in, int out,
                        bool bias) {
    char full[RT_NAME_MAX + 16];
    int wshape[2] = {out, in}, bshape[1] = {out};
    snprintf(full, sizeof full, "%s.weight", name);
    m->weight = rt_params_add(p, full, 2, wshape);
    m->bias = NULL;
    if (bias) {
        snprintf(full, sizeof full, "%s.bias", name);
        m->bias = rt_params_add(p, full, 1, bshape);
    }
    m->in = in;
    m->out = out;
}

void rt_linear_mod_reset(const rt_linear_mod *m, rt_rng *rng) {
    /* kaiming_uniform_(a=sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    float bound = m->in > 0 ? 1.0f / sqrtf((float)m->in) : 0.0f;
    for (int64_t i = 0; i < m->weight->numel; i++)
        m->weight->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
    if (m->bias)
        for (int64_t i = 0; i < m->bias->numel; i++)
            m->bias->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
}

rt_tensor *rt_linear_mod_forward(rt_graph *g, const rt_linear_mod *m, rt_tensor *x) {
    return rt_linear(g, x, m->weight, m->bias);
}
