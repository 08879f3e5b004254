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

static rt_tensor *add(rt_params *p, const char *name, int ndim, const int *shape, bool frozen) {
    RT_CHECK(p->count < p->cap, "too many parameters (cap %d)", p->cap);
    RT_CHECK(!p->data, "parameter %s added after finalize", name);
    RT_CHECK(rt_params_find(p, name) < 0, "duplicate parameter name %s", name);
    RT_CHECK(frozen || p->ntrain == p->count, "parameter %s declared after a frozen one", name);
    rt_param *it = &p->items[p->count++];
    snprintf(it->name, sizeof it->name, "%s", name);
    rt_tensor_set_shape(&it->t, ndim, shape);
    it->offset = p->total;
    it->frozen = frozen;
    /* keep every tensor 64-byte aligned inside the arena */
    p->total += ((size_t)it->t.numel + 15) & ~(size_t)15;
    if (!frozen) {
        p->ntrain = p->count;
        p->train_total = p->total;
    }
    return &it->t;
}

rt_tensor *rt_params_add(rt_params *p, const char *name, int ndim, const int *shape) {
    return add(p, name, ndim, shape, false);
}

rt_tensor *rt_params_add_frozen(rt_params *p, const char *name, int ndim, const int *shape) {
    return add(p, name, ndim, shape, true);
}

void rt_params_finalize(rt_params *p) {
    size_t bytes = rt_mul_size(p->total ? p->total : 1, sizeof(float));
    p->data = rt_alloc_aligned(bytes);
    p->grad = rt_alloc_aligned(bytes);
    memset(p->data, 0, bytes);
    memset(p->grad, 0, bytes);
    for (int i = 0; i < p->count; i++) {
        bool frozen = p->items[i].frozen;
        p->items[i].t.data = p->data + p->items[i].offset;
        p->items[i].t.grad = frozen ? NULL : p->grad + p->items[i].offset; /* no gradient flows to it */
        p->items[i].t.param_id = frozen ? 0 : i + 1;
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

/* ---- weight and optional bias, shared by Linear and Conv2d ---- */

/* Declares "<name>.weight" of wshape and, with bias, "<name>.bias" of (wshape[0]). */
static void declare_weight_bias(rt_params *p, const char *name, int ndim, const int *wshape,
                                bool bias, rt_tensor **w, rt_tensor **b) {
    char full[RT_NAME_MAX + 16];
    snprintf(full, sizeof full, "%s.weight", name);
    *w = rt_params_add(p, full, ndim, wshape);
    *b = NULL;
    if (bias) {
        snprintf(full, sizeof full, "%s.bias", name);
        *b = rt_params_add(p, full, 1, wshape);
    }
}

/* PyTorch's default init of both: kaiming_uniform_(a=sqrt(5)) on the weight
 * reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias draws the same. */
static void reset_weight_bias(rt_tensor *w, rt_tensor *b, int fan_in, rt_rng *rng) {
    float bound = fan_in > 0 ? 1.0f / sqrtf((float)fan_in) : 0.0f;
    for (int64_t i = 0; i < w->numel; i++) w->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
    for (int64_t i = 0; b && i < b->numel; i++) b->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
}

/* ---- Linear ---- */

void rt_linear_mod_init(rt_linear_mod *m, rt_params *p, const char *name, int in, int out,
                        bool bias) {
    int wshape[2] = {out, in};
    declare_weight_bias(p, name, 2, wshape, bias, &m->weight, &m->bias);
    m->in = in;
    m->out = out;
}

void rt_linear_mod_reset(const rt_linear_mod *m, rt_rng *rng) {
    reset_weight_bias(m->weight, m->bias, m->in, rng);
}

rt_tensor *rt_linear_mod_forward(rt_graph *g, const rt_linear_mod *m, rt_tensor *x) {
    return rt_linear(g, x, m->weight, m->bias);
}

/* ---- Conv2d ---- */

void rt_conv2d_mod_init(rt_conv2d_mod *m, rt_params *p, const char *name, int in, int out, int kh,
                        int kw, const rt_conv2d_args *a, bool bias) {
    int wshape[4] = {out, in, kh, kw};
    declare_weight_bias(p, name, 4, wshape, bias, &m->weight, &m->bias);
    m->in = in;
    m->out = out;
    m->kh = kh;
    m->kw = kw;
    m->args = *a;
}

void rt_conv2d_mod_reset(const rt_conv2d_mod *m, rt_rng *rng) {
    reset_weight_bias(m->weight, m->bias, m->in * m->kh * m->kw, rng);
}

rt_tensor *rt_conv2d_mod_forward(rt_graph *g, const rt_conv2d_mod *m, rt_tensor *x) {
    return rt_conv2d(g, x, m->weight, m->bias, &m->args);
}

/* ---- LayerNorm ---- */

void rt_layernorm_mod_init(rt_layernorm_mod *m, rt_params *p, const char *name, int d, float eps,
                           bool affine) {
    char full[RT_NAME_MAX + 16];
    int shape[1] = {d};
    m->weight = m->bias = NULL;
    if (affine) {
        snprintf(full, sizeof full, "%s.weight", name);
        m->weight = rt_params_add(p, full, 1, shape);
        snprintf(full, sizeof full, "%s.bias", name);
        m->bias = rt_params_add(p, full, 1, shape);
    }
    m->d = d;
    m->eps = eps;
}

void rt_layernorm_mod_reset(const rt_layernorm_mod *m) {
    if (!m->weight) return;
    for (int i = 0; i < m->d; i++) {
        m->weight->data[i] = 1.0f;
        m->bias->data[i] = 0.0f;
    }
}

rt_tensor *rt_layernorm_mod_forward(rt_graph *g, const rt_layernorm_mod *m, rt_tensor *x) {
    return rt_layernorm(g, x, m->weight, m->bias, m->eps);
}

/* ---- MLP ---- */

void rt_mlp_init(rt_mlp *m, rt_params *p, const char *prefix, int in, int hidden, int hidden_layers,
                 int out, rt_op act) {
    RT_CHECK(hidden_layers >= 0 && hidden_layers + 1 <= RT_MLP_MAX, "mlp: %d hidden layers",
             hidden_layers);
    m->n = hidden_layers + 1;
    m->act = act;
    for (int i = 0; i < m->n; i++) {
        char name[RT_NAME_MAX];
        snprintf(name, sizeof name, "%s.%d", prefix, 2 * i);
        rt_linear_mod_init(&m->lin[i], p, name, i == 0 ? in : hidden, i == m->n - 1 ? out : hidden,
                           true);
    }
}

void rt_mlp_reset(const rt_mlp *m, rt_rng *rng) {
    for (int i = 0; i < m->n; i++) rt_linear_mod_reset(&m->lin[i], rng);
}

rt_tensor *rt_mlp_forward(rt_graph *g, const rt_mlp *m, rt_tensor *x) {
    for (int i = 0; i < m->n; i++) {
        x = rt_linear_mod_forward(g, &m->lin[i], x);
        if (i + 1 < m->n) x = rt_unary(g, m->act, x);
    }
    return x;
}
