/* keypoint.c - the ops of the coordinate heads (SimCC, RLE, L1 regression):
 *
 *   abs          |x|, dx += dy sign(x) (0 at 0)
 *   leaky_relu   x for x > 0, else f x (torch's negative_slope, 0.01 by default)
 *   div          a / b elementwise: da += dy / b, db -= dy a / b^2
 *   log_softmax  over the last axis: x - max - log(sum exp(x - max)), the sum in double
 *   kl_div       scale * sum t (log t - logp) over every element, t a fixed
 *                target (t = 0 adds 0, as torch.nn.KLDivLoss): d logp += -scale t */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>

static rt_tensor *unary1(rt_graph *g, rt_op op, rt_tensor *x, const rt_op_params *p) {
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, op, in, 1, p, x->ndim, x->shape);
}

/* ---- abs ---- */

rt_tensor *rt_abs(rt_graph *g, rt_tensor *x) { return unary1(g, RT_OP_ABS, x, NULL); }

void rt_fwd_abs(rt_graph *g, rt_node *n) {
    (void)g;
    for (int64_t i = 0; i < n->out->numel; i++) n->out->data[i] = fabsf(n->in[0]->data[i]);
}

void rt_bwd_abs(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data, *dy = n->out->grad;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += x[i] > 0.0f ? dy[i] : x[i] < 0.0f ? -dy[i] : 0.0f;
}

/* ---- leaky relu: f = negative slope ---- */

rt_tensor *rt_leaky_relu(rt_graph *g, rt_tensor *x, float slope) {
    rt_op_params p = {.f = slope};
    return unary1(g, RT_OP_LEAKY_RELU, x, &p);
}

void rt_fwd_leaky_relu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float a = n->p.f;
    for (int64_t i = 0; i < n->out->numel; i++) n->out->data[i] = x[i] > 0.0f ? x[i] : a * x[i];
}

void rt_bwd_leaky_relu(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data, *dy = n->out->grad;
    float *dx = n->in[0]->grad, a = n->p.f;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += x[i] > 0.0f ? dy[i] : a * dy[i];
}

/* ---- div ---- */

rt_tensor *rt_div(rt_graph *g, rt_tensor *a, rt_tensor *b) {
    RT_CHECK(rt_tensor_same_shape(a, b), "div: operands differ in shape");
    rt_tensor *in[2] = {a, b};
    return rt_graph_apply(g, RT_OP_DIV, in, 2, NULL, a->ndim, a->shape);
}

void rt_fwd_div(rt_graph *g, rt_node *n) {
    (void)g;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    for (int64_t i = 0; i < n->out->numel; i++) n->out->data[i] = a[i] / b[i];
}

void rt_bwd_div(rt_graph *g, rt_node *n) {
    (void)g;
    const float *b = n->in[1]->data, *y = n->out->data, *dy = n->out->grad;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    for (int64_t i = 0; da && i < n->out->numel; i++) da[i] += dy[i] / b[i];
    for (int64_t i = 0; db && i < n->out->numel; i++) db[i] -= dy[i] * y[i] / b[i]; /* a / b^2 = y / b */
}

/* ---- log_softmax over the last axis ---- */

rt_tensor *rt_log_softmax(rt_graph *g, rt_tensor *x) {
    RT_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] >= 1, "log_softmax: needs a last dimension >= 1");
    return unary1(g, RT_OP_LOG_SOFTMAX, x, NULL);
}

void rt_fwd_log_softmax(rt_graph *g, rt_node *n) {
    (void)g;
    int64_t d = n->in[0]->shape[n->in[0]->ndim - 1], rows = n->out->numel / d;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = n->in[0]->data + r * d;
        float *y = n->out->data + r * d, mx = -INFINITY;
        for (int64_t j = 0; j < d; j++) mx = x[j] > mx ? x[j] : mx;
        double s = 0.0;
        for (int64_t j = 0; j < d; j++) s += exp((double)x[j] - mx);
        double lse = (double)mx + log(s);
        for (int64_t j = 0; j < d; j++) y[j] = (float)((double)x[j] - lse);
    }
}

/* dx = dy - softmax * sum(dy), softmax = exp(y) */
void rt_bwd_log_softmax(rt_graph *g, rt_node *n) {
    (void)g;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    int64_t d = n->in[0]->shape[n->in[0]->ndim - 1], rows = n->out->numel / d;
    for (int64_t r = 0; r < rows; r++) {
        const float *y = n->out->data + r * d, *dy = n->out->grad + r * d;
        double s = 0.0;
        for (int64_t j = 0; j < d; j++) s += dy[j];
        for (int64_t j = 0; j < d; j++) dx[r * d + j] += dy[j] - expf(y[j]) * (float)s;
    }
}

/* ---- kl_div: scale * sum t (log t - logp); logp is input 0, the target input 1 (no gradient) ---- */

rt_tensor *rt_kl_div(rt_graph *g, rt_tensor *logp, rt_tensor *target, float scale) {
    RT_CHECK(rt_tensor_same_shape(logp, target), "kl_div: operands differ in shape");
    RT_CHECK(!target->grad, "kl_div: the target takes no gradient");
    rt_tensor *in[2] = {logp, target};
    rt_op_params p = {.scale = scale};
    return rt_graph_apply(g, RT_OP_KL_DIV, in, 2, &p, 0, NULL);
}

void rt_fwd_kl_div(rt_graph *g, rt_node *n) {
    (void)g;
    const float *lp = n->in[0]->data, *t = n->in[1]->data;
    double s = 0.0;
    for (int64_t i = 0; i < n->in[0]->numel; i++)
        if (t[i] > 0.0f) s += (double)t[i] * (log((double)t[i]) - (double)lp[i]);
    n->out->data[0] = (float)(s * (double)n->p.scale);
}

void rt_bwd_kl_div(rt_graph *g, rt_node *n) {
    (void)g;
    float *dlp = n->in[0]->grad;
    if (!dlp) return;
    const float *t = n->in[1]->data;
    float c = -n->p.scale * n->out->grad[0];
    for (int64_t i = 0; i < n->in[0]->numel; i++) dlp[i] += c * t[i];
}
