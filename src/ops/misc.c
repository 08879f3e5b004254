/* misc.c - tensor ops (concat, slice, split), elementwise exp, log, softplus,
 * affine and scale, and the sum over one axis.
 *
 * The tensor ops see a row-major tensor around an axis as (outer, n, inner):
 * outer = product of the sizes before the axis, inner = product after it, so
 * each outer index owns one contiguous run of n * inner elements and concat
 * and slice are runs of memcpy.
 */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <string.h>

/* product of shape[from..to) */
static int64_t span(const int *shape, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= shape[i];
    return p;
}

/* ---- concat: 2 or 3 inputs along arg[0] ---- */

rt_tensor *rt_concat(rt_graph *g, rt_tensor *const *xs, int n, int axis) {
    RT_CHECK(n >= 2 && n <= 3, "concat: %d inputs, want 2 or 3", n);
    const rt_tensor *a = xs[0];
    RT_CHECK(axis >= 0 && axis < a->ndim, "concat: axis %d of a %d-D tensor", axis, a->ndim);
    int shape[RT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        const rt_tensor *t = xs[i];
        RT_CHECK(t->ndim == a->ndim, "concat: input %d is %d-D, input 0 is %d-D", i, t->ndim, a->ndim);
        for (int d = 0; d < a->ndim; d++)
            RT_CHECK(d == axis || t->shape[d] == a->shape[d],
                     "concat: input %d has size %d in dimension %d, input 0 has %d", i, t->shape[d],
                     d, a->shape[d]);
        shape[axis] += t->shape[axis];
    }
    rt_op_params p = {.arg = {axis}};
    return rt_graph_apply(g, RT_OP_CONCAT, xs, n, &p, a->ndim, shape);
}

void rt_fwd_concat(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *y = n->out;
    int axis = n->p.arg[0];
    int64_t outer = span(y->shape, 0, axis), inner = span(y->shape, axis + 1, y->ndim);
    int64_t run = y->shape[axis] * inner; /* one outer index of the output */
    for (int64_t o = 0; o < outer; o++) {
        float *dst = y->data + o * run;
        for (int i = 0; i < n->nin; i++) {
            int64_t len = n->in[i]->shape[axis] * inner;
            memcpy(dst, n->in[i]->data + o * len, (size_t)len * sizeof(float));
            dst += len;
        }
    }
}

void rt_bwd_concat(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *y = n->out;
    int axis = n->p.arg[0];
    int64_t outer = span(y->shape, 0, axis), inner = span(y->shape, axis + 1, y->ndim);
    int64_t run = y->shape[axis] * inner, off = 0;
    for (int i = 0; i < n->nin; i++) {
        int64_t len = n->in[i]->shape[axis] * inner;
        float *dx = n->in[i]->grad;
        if (dx)
            for (int64_t o = 0; o < outer; o++) {
                const float *dy = y->grad + o * run + off;
                float *d = dx + o * len;
                for (int64_t k = 0; k < len; k++) d[k] += dy[k];
            }
        off += len;
    }
}

/* ---- slice: x[..., start:start+len, ...] along arg[0]; arg: axis, start, len ---- */

rt_tensor *rt_slice(rt_graph *g, rt_tensor *x, int axis, int start, int len) {
    RT_CHECK(axis >= 0 && axis < x->ndim, "slice: axis %d of a %d-D tensor", axis, x->ndim);
    RT_CHECK(start >= 0 && len >= 0 && start <= x->shape[axis] - len,
             "slice: [%d, %d+%d) outside dimension %d of size %d", start, start, len, axis,
             x->shape[axis]);
    int shape[RT_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = len;
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {axis, start, len}};
    return rt_graph_apply(g, RT_OP_SLICE, in, 1, &p, x->ndim, shape);
}

void rt_split(rt_graph *g, rt_tensor *x, int axis, int n, const int *sizes, rt_tensor **out) {
    RT_CHECK(axis >= 0 && axis < x->ndim, "split: axis %d of a %d-D tensor", axis, x->ndim);
    RT_CHECK(n >= 1, "split: %d pieces", n);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        RT_CHECK(sizes[i] >= 0, "split: piece %d has size %d", i, sizes[i]);
        total += sizes[i];
    }
    RT_CHECK(total == x->shape[axis], "split: sizes sum to %lld, dimension %d has %d",
             (long long)total, axis, x->shape[axis]);
    for (int i = 0, start = 0; i < n; start += sizes[i], i++)
        out[i] = rt_slice(g, x, axis, start, sizes[i]);
}

void rt_fwd_slice(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    int axis = n->p.arg[0], start = n->p.arg[1], len = n->p.arg[2];
    int64_t outer = span(x->shape, 0, axis), inner = span(x->shape, axis + 1, x->ndim);
    int64_t src = x->shape[axis] * inner, dst = len * inner;
    const float *from = x->data + start * inner;
    for (int64_t o = 0; o < outer; o++)
        memcpy(n->out->data + o * dst, from + o * src, (size_t)dst * sizeof(float));
}

void rt_bwd_slice(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    if (!x->grad) return;
    int axis = n->p.arg[0], start = n->p.arg[1], len = n->p.arg[2];
    int64_t outer = span(x->shape, 0, axis), inner = span(x->shape, axis + 1, x->ndim);
    int64_t src = x->shape[axis] * inner, dst = len * inner;
    for (int64_t o = 0; o < outer; o++) {
        float *dx = x->grad + o * src + start * inner;
        const float *dy = n->out->grad + o * dst;
        for (int64_t k = 0; k < dst; k++) dx[k] += dy[k];
    }
}

/* ---- elementwise: exp, log, softplus, affine ---- */

static rt_tensor *unary(rt_graph *g, rt_op op, rt_tensor *x, const rt_op_params *p) {
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, op, in, 1, p, x->ndim, x->shape);
}

rt_tensor *rt_exp(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_EXP, x, NULL); }
rt_tensor *rt_log(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_LOG, x, NULL); }
rt_tensor *rt_softplus(rt_graph *g, rt_tensor *x) { return unary(g, RT_OP_SOFTPLUS, x, NULL); }

rt_tensor *rt_affine(rt_graph *g, rt_tensor *x, float a, float b) {
    rt_op_params p = {.f = a, .f2 = b};
    return unary(g, RT_OP_AFFINE, x, &p);
}

void rt_fwd_exp(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = expf(x[i]);
}

void rt_bwd_exp(rt_graph *g, rt_node *n) { /* dx += dy * e^x = dy * y */
    (void)g;
    const float *dy = n->out->grad, *y = n->out->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i] * y[i];
}

/* log of x <= 0 gives -inf or NaN, as torch.log */
void rt_fwd_log(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = logf(x[i]);
}

void rt_bwd_log(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *x = n->in[0]->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i] / x[i];
}

/* torch.nn.functional.softplus(x, beta=1, threshold=20): x above 20, where
 * log1p(e^x) - x < 3e-9 is below float resolution; the derivative is
 * e^x / (e^x + 1) below the threshold and 1 above, as torch's backward. */
#define SOFTPLUS_THRESHOLD 20.0f

void rt_fwd_softplus(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    for (int64_t i = 0; i < n->out->numel; i++)
        y[i] = x[i] > SOFTPLUS_THRESHOLD ? x[i] : log1pf(expf(x[i]));
}

void rt_bwd_softplus(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *x = n->in[0]->data;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) {
        float z = expf(x[i]);
        dx[i] += x[i] > SOFTPLUS_THRESHOLD ? dy[i] : dy[i] * z / (z + 1.0f);
    }
}

void rt_fwd_affine(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data;
    float *y = n->out->data, a = n->p.f, b = n->p.f2;
    for (int64_t i = 0; i < n->out->numel; i++) y[i] = a * x[i] + b;
}

void rt_bwd_affine(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad;
    float *dx = n->in[0]->grad, a = n->p.f;
    if (!dx) return;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += a * dy[i];
}

/* ---- scale: x (rows, c) * s (c) ---- */

rt_tensor *rt_scale(rt_graph *g, rt_tensor *x, rt_tensor *s) {
    RT_CHECK(x->ndim >= 1 && s->ndim == 1 && s->shape[0] == x->shape[x->ndim - 1],
             "scale: s of %d does not match last dimension", s->shape[0]);
    rt_tensor *in[2] = {x, s};
    return rt_graph_apply(g, RT_OP_SCALE, in, 2, NULL, x->ndim, x->shape);
}

void rt_fwd_scale(rt_graph *g, rt_node *n) {
    (void)g;
    const float *x = n->in[0]->data, *s = n->in[1]->data;
    float *y = n->out->data;
    int64_t c = n->in[1]->numel, rows = c ? n->out->numel / c : 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++) y[r * c + j] = x[r * c + j] * s[j];
}

void rt_bwd_scale(rt_graph *g, rt_node *n) {
    (void)g;
    const float *dy = n->out->grad, *x = n->in[0]->data, *s = n->in[1]->data;
    float *dx = n->in[0]->grad, *ds = n->in[1]->grad;
    int64_t c = n->in[1]->numel, rows = c ? n->out->numel / c : 0;
    if (dx)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < c; j++) dx[r * c + j] += dy[r * c + j] * s[j];
    if (ds)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < c; j++) ds[j] += dy[r * c + j] * x[r * c + j];
}

/* ---- sum over one axis: x (outer, n, inner) -> y (outer, inner) ---- */

rt_tensor *rt_sum_axis(rt_graph *g, rt_tensor *x, int axis) {
    RT_CHECK(axis >= 0 && axis < x->ndim, "sum_axis: axis %d of a %d-D tensor", axis, x->ndim);
    int shape[RT_MAX_DIMS];
    for (int d = 0, k = 0; d < x->ndim; d++)
        if (d != axis) shape[k++] = x->shape[d];
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {axis}};
    return rt_graph_apply(g, RT_OP_SUM_AXIS, in, 1, &p, x->ndim - 1, shape);
}

void rt_fwd_sum_axis(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    int axis = n->p.arg[0];
    int64_t outer = span(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = span(x->shape, axis + 1, x->ndim);
    float *y = n->out->data;
    if (inner == 1) { /* the last axis: one reduction per output, in double */
        for (int64_t o = 0; o < outer; o++) {
            const float *xr = x->data + o * len;
            double s = 0.0;
            for (int64_t k = 0; k < len; k++) s += xr[k];
            y[o] = (float)s;
        }
        return;
    }
    for (int64_t o = 0; o < outer; o++) { /* contiguous row adds of length inner */
        float *yr = y + o * inner;
        for (int64_t i = 0; i < inner; i++) yr[i] = 0.0f;
        for (int64_t k = 0; k < len; k++) {
            const float *xr = x->data + (o * len + k) * inner;
            for (int64_t i = 0; i < inner; i++) yr[i] += xr[i];
        }
    }
}

void rt_bwd_sum_axis(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    if (!x->grad) return;
    int axis = n->p.arg[0];
    int64_t outer = span(x->shape, 0, axis), len = x->shape[axis];
    int64_t inner = span(x->shape, axis + 1, x->ndim);
    for (int64_t o = 0; o < outer; o++) {
        const float *dy = n->out->grad + o * inner;
        for (int64_t k = 0; k < len; k++) {
            float *dx = x->grad + (o * len + k) * inner;
            for (int64_t i = 0; i < inner; i++) dx[i] += dy[i];
        }
    }
}
