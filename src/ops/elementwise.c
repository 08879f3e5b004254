/* elementwise.c - add, mul, bias-add and the activations. */
#include "internal.h"
#include "vmath.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>

static rt_tensor *unary(rt_graph *g, rt_op op, rt_tensor *x) {
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, op, in, 1, NULL, x->ndim, x->shape);
}

rt_tensor *rt_unary(rt_graph *g, rt_op op, rt_tensor *x) {
    RT_CHECK(op >= 0 && op < RT_OP_COUNT && rt_op_table[op].unary, "rt_unary: op %d is not elementwise",
             (int)op);
    return unary(g, op, x);
}

static rt_tensor *binary(rt_graph *g, rt_op op, rt_tensor *a, rt_tensor *b) {
    RT_CHECK(rt_tensor_same_shape(a, b), "%s: operands differ in shape", rt_op_table[op].name);
    rt_tensor *in[2] = {a, b};
    return rt_graph_apply(g, op, in, 2, NULL, a->ndim, a->shape);
}

/* ---- add, mul ---- */

rt_tensor *rt_add(rt_graph *g, rt_tensor *a, rt_tensor *b) { return binary(g, RT_OP_ADD, a, b); }
rt_tensor *rt_mul(rt_graph *g, rt_tensor *a, rt_tensor *b) { return binary(g, RT_OP_MUL, a, b); }

void rt_fwd_add(rt_graph *g, rt_node *n) {
    (void)g;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = a[i] + b[i];
}

void rt_bwd_add(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad;
    for (int k = 0; k < 2; k++) {
        float *d = n->in[k]->grad;
        if (d)
            for (int64_t i = 0; i < n->out->numel; i++) d[i] += dy[i];
    }
}

void rt_fwd_mul(rt_graph *g, rt_node *n) {
    (void)g;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = a[i] * b[i];
}

void rt_bwd_mul(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *a = n->in[0]->data, *b = n->in[1]->data;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    if (da)
        for (int64_t i = 0; i < n->out->numel; i++) da[i] += dy[i] * b[i];
    if (db)
        for (int64_t i = 0; i < n->out->numel; i++) db[i] += dy[i] * a[i];
}

/* ---- bias add: x (rows, c) + bias (c) ---- */

rt_tensor *rt_bias_add(rt_graph *g, rt_tensor *x, rt_tensor *bias) {
    RT_CHECK(x->ndim >= 1 && bias->ndim == 1 && bias->shape[0] == x->shape[x->ndim - 1],
             "bias_add: bias of %d does not match last dimension", bias->shape[0]);
    rt_tensor *in[2] = {x, bias};
    return rt_graph_apply(g, RT_OP_BIAS_ADD, in, 2, NULL, x->ndim, x->shape);
}

void rt_fwd_bias_add(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data, *b = n->in[1]->data;
    float *y = n->out->data;
    int64_t c = n->in[1]->numel, rows = c ? n->out->numel / c : 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++) y[r * c + j] = x[r * c + j] + b[j];
}

void rt_bwd_bias_add(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad;
    float *dx = n->in[0]->grad, *db = n->in[1]->grad;
    int64_t c = n->in[1]->numel, rows = c ? n->out->numel / c : 0;
    if (dx)
        for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i];
    if (db)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < c; j++) db[j] += dy[r * c + j];
}

/* ---- activations: y = f(x), dx += dy * f'(x) ---- */

rt_tensor *rt_relu(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_RELU, x); }
rt_tensor *rt_gelu(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_GELU, x); }
rt_tensor *rt_gelu_tanh(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_GELU_TANH, x); }
rt_tensor *rt_tanh(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_TANH, x); }
rt_tensor *rt_sigmoid(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_SIGMOID, x); }
rt_tensor *rt_silu(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_SILU, x); }

void rt_fwd_relu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    /* written so a NaN passes through, as in torch.relu: it must reach the loss */
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void rt_bwd_relu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *y = n->out->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) {
        float d = dy[i]; /* loaded unconditionally, so the select vectorises */
        dx[i] += y[i] > 0.0f ? d : 0.0f;
    }
}

#define RT_SQRT1_2 0.70710678118654752440f
#define RT_INV_SQRT_2PI 0.39894228040143267794f
#define RT_SQRT_2_PI 0.79788456080286535588f

void rt_fwd_gelu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * RT_SQRT1_2));
}

void rt_bwd_gelu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *x = n->in[0]->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) {
        float cdf = 0.5f * (1.0f + erff(x[i] * RT_SQRT1_2));
        float pdf = RT_INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
        dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
}

/* The loops of the transcendental activations, built for AVX2 and the
 * baseline: rt_vtanhf and rt_vexpf vectorise where libm's calls do not. */
RT_VEC static void gelu_tanh_fwd(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float u = RT_SQRT_2_PI * (x[i] + 0.044715f * x[i] * x[i] * x[i]);
        y[i] = 0.5f * x[i] * (1.0f + rt_vtanhf(u));
    }
}

RT_VEC static void gelu_tanh_bwd(const float *x, const float *dy, float *dx, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float x2 = x[i] * x[i];
        float t = rt_vtanhf(RT_SQRT_2_PI * (x[i] + 0.044715f * x2 * x[i]));
        float du = RT_SQRT_2_PI * (1.0f + 3.0f * 0.044715f * x2);
        dx[i] += dy[i] * (0.5f * (1.0f + t) + 0.5f * x[i] * (1.0f - t * t) * du);
    }
}

RT_VEC static void silu_fwd(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + rt_vexpf(-x[i]));
}

/* silu'(x) = s(x) (1 + x (1 - s(x))), s the sigmoid */
RT_VEC static void silu_bwd(const float *x, const float *dy, float *dx, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + rt_vexpf(-x[i]));
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

void rt_fwd_gelu_tanh(rt_graph *g, rt_node *n) {
    (void)g;
    gelu_tanh_fwd(n->in[0]->data, n->out->data, n->out->numel);
}

void rt_bwd_gelu_tanh(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) gelu_tanh_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->numel);
}

void rt_fwd_tanh(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = rt_vtanhf(x[i]);
}

void rt_bwd_tanh(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *y = n->out->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

void rt_fwd_sigmoid(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = 1.0f / (1.0f + rt_vexpf(-x[i]));
}

void rt_bwd_sigmoid(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *y = n->out->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

void rt_fwd_silu(rt_graph *g, rt_node *n) {
    (void)g;
    silu_fwd(n->in[0]->data, n->out->data, n->out->numel);
}

void rt_bwd_silu(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) silu_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->numel);
}
