/* attention.c - batched matmul, softmax over the last axis, and fused
 * multi-head scaled dot-product attention, on rt_sgemm (src/gemm.h).
 *
 * Attention of one (batch, head): S = Q K^T / sqrt(d), P = softmax(S) by row,
 * O = P V, with Q, K, V (t, d). The node keeps P (t, t) and nothing else; the
 * backward is
 *     dV += P^T dO,   dP = dO V^T,   dS = P * (dP - rowsum(dP * P)),
 *     dQ += dS K / sqrt(d),   dK += dS^T Q / sqrt(d)
 * where rowsum(dP * P) = rowdot(dO, O) needs no second pass over dP. */
#include "internal.h"
#include "../gemm.h"
#include "vmath.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <string.h>

/* ---- batched matmul: C (..., m, n) = A (..., m, k) @ B (..., k, n) ---- */

static int64_t batch_of(const rt_tensor *t) {
    int64_t b = 1;
    for (int d = 0; d < t->ndim - 2; d++) b *= t->shape[d];
    return b;
}

rt_tensor *rt_bmm(rt_graph *g, rt_tensor *a, rt_tensor *b) {
    RT_CHECK(a->ndim >= 3 && a->ndim == b->ndim, "bmm: needs (..., m, k) @ (..., k, n) of equal rank");
    for (int d = 0; d < a->ndim - 2; d++)
        RT_CHECK(a->shape[d] == b->shape[d], "bmm: batch dimension %d differs (%d vs %d)", d, a->shape[d],
                 b->shape[d]);
    int r = a->ndim;
    RT_CHECK(a->shape[r - 1] == b->shape[r - 2], "bmm: (%d, %d) @ (%d, %d) do not chain", a->shape[r - 2],
             a->shape[r - 1], b->shape[r - 2], b->shape[r - 1]);
    int shape[RT_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[r - 1] = b->shape[r - 1];
    rt_tensor *in[2] = {a, b};
    return rt_graph_apply(g, RT_OP_BMM, in, 2, NULL, r, shape);
}

void rt_fwd_bmm(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *a = n->in[0], *b = n->in[1];
    int r = a->ndim, m = a->shape[r - 2], k = a->shape[r - 1], nn = b->shape[r - 1];
    int64_t batch = batch_of(a);
    if (k == 0) memset(n->out->data, 0, (size_t)n->out->numel * sizeof(float));
    for (int64_t i = 0; k > 0 && i < batch; i++)
        rt_sgemm(false, false, m, nn, k, 1.0f, a->data + i * m * k, k, b->data + i * k * nn, nn, 0.0f,
                 n->out->data + i * m * nn, nn);
}

void rt_bwd_bmm(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *a = n->in[0], *b = n->in[1];
    const float *dc = n->out->grad;
    int r = a->ndim, m = a->shape[r - 2], k = a->shape[r - 1], nn = b->shape[r - 1];
    int64_t batch = batch_of(a);
    for (int64_t i = 0; k > 0 && m > 0 && nn > 0 && i < batch; i++) {
        if (a->grad) /* dA += dC B^T */
            rt_sgemm(false, true, m, k, nn, 1.0f, dc + i * m * nn, nn, b->data + i * k * nn, nn, 1.0f,
                     a->grad + i * m * k, k);
        if (b->grad) /* dB += A^T dC */
            rt_sgemm(true, false, k, nn, m, 1.0f, a->data + i * m * k, k, dc + i * m * nn, nn, 1.0f,
                     b->grad + i * k * nn, nn);
    }
}

/* ---- softmax over the last axis ---- */

/* y (d) = softmax(x (d)), the row's maximum taken out first; the sum in double */
RT_VEC static void softmax_row(const float *x, float *y, int64_t d) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < d; j++) mx = x[j] > mx ? x[j] : mx;
    for (int64_t j = 0; j < d; j++) y[j] = rt_vexpf(x[j] - mx); /* vectorised */
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += y[j];
    float inv = (float)(1.0 / s);
    for (int64_t j = 0; j < d; j++) y[j] *= inv;
}

/* dx (d) += y * (dy - sum(dy * y)) for one row of a softmax with output y */
static void softmax_row_bwd(const float *y, const float *dy, float *dx, int64_t d) {
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += (double)dy[j] * y[j];
    float sf = (float)s;
    for (int64_t j = 0; j < d; j++) dx[j] += y[j] * (dy[j] - sf);
}

rt_tensor *rt_softmax(rt_graph *g, rt_tensor *x) {
    RT_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] >= 1, "softmax: needs a last dimension >= 1");
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, RT_OP_SOFTMAX, in, 1, NULL, x->ndim, x->shape);
}

void rt_fwd_softmax(rt_graph *g, rt_node *n) {
    (void)g;
    int64_t d = n->in[0]->shape[n->in[0]->ndim - 1], rows = n->out->numel / d;
    for (int64_t r = 0; r < rows; r++) softmax_row(n->in[0]->data + r * d, n->out->data + r * d, d);
}

void rt_bwd_softmax(rt_graph *g, rt_node *n) {
    (void)g;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    int64_t d = n->in[0]->shape[n->in[0]->ndim - 1], rows = n->out->numel / d;
    for (int64_t r = 0; r < rows; r++)
        softmax_row_bwd(n->out->data + r * d, n->out->grad + r * d, dx + r * d, d);
}

/* ---- fused scaled dot-product attention ---- */

rt_tensor *rt_attention(rt_graph *g, rt_tensor *q, rt_tensor *k, rt_tensor *v) {
    RT_CHECK(q->ndim == 4 && rt_tensor_same_shape(q, k) && rt_tensor_same_shape(q, v),
             "attention: q, k and v must be (batch, heads, tokens, dim) of one shape");
    rt_tensor *in[3] = {q, k, v};
    return rt_graph_apply(g, RT_OP_ATTENTION, in, 3, NULL, 4, q->shape);
}

void rt_fwd_attention(rt_graph *g, rt_node *n) {
    const rt_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    int t = q->shape[2], d = q->shape[3];
    int64_t bh = (int64_t)q->shape[0] * q->shape[1], td = (int64_t)t * d, tt = (int64_t)t * t;
    float scale = 1.0f / sqrtf((float)d);
    /* P of every (batch, head) when a backward will need it; else one (t, t) at a time */
    float *p = rt_graph_scratch(g, rt_mul_size((size_t)(n->out->grad ? bh : 1), (size_t)tt * sizeof(float)));
    n->saved = n->out->grad ? p : NULL;
    for (int64_t i = 0; i < bh; i++) {
        float *pi = n->out->grad ? p + i * tt : p;
        rt_sgemm(false, true, t, t, d, scale, q->data + i * td, d, k->data + i * td, d, 0.0f, pi, t);
        for (int r = 0; r < t; r++) softmax_row(pi + (int64_t)r * t, pi + (int64_t)r * t, t);
        rt_sgemm(false, false, t, d, t, 1.0f, pi, t, v->data + i * td, d, 0.0f, n->out->data + i * td, d);
    }
}

void rt_bwd_attention(rt_graph *g, rt_node *n) {
    rt_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2];
    const float *p = n->saved, *dout = n->out->grad, *out = n->out->data;
    int t = q->shape[2], d = q->shape[3];
    int64_t bh = (int64_t)q->shape[0] * q->shape[1], td = (int64_t)t * d, tt = (int64_t)t * t;
    float scale = 1.0f / sqrtf((float)d);
    float *ds = rt_graph_scratch(g, (size_t)tt * sizeof(float)); /* dP, then dS in place */
    for (int64_t i = 0; i < bh; i++) {
        const float *pi = p + i * tt, *doi = dout + i * td, *oi = out + i * td;
        if (v->grad) /* dV (t, d) += P^T dO */
            rt_sgemm(true, false, t, d, t, 1.0f, pi, t, doi, d, 1.0f, v->grad + i * td, d);
        if (!q->grad && !k->grad) continue;
        /* dP (t, t) = dO V^T */
        rt_sgemm(false, true, t, t, d, 1.0f, doi, d, v->data + i * td, d, 0.0f, ds, t);
        for (int r = 0; r < t; r++) {
            double dot = 0.0; /* rowsum(dP * P) = dO_r . O_r */
            for (int j = 0; j < d; j++) dot += (double)doi[(int64_t)r * d + j] * oi[(int64_t)r * d + j];
            float df = (float)dot;
            float *dsr = ds + (int64_t)r * t;
            const float *pr = pi + (int64_t)r * t;
            for (int j = 0; j < t; j++) dsr[j] = pr[j] * (dsr[j] - df);
        }
        if (q->grad) /* dQ += dS K * scale */
            rt_sgemm(false, false, t, d, t, scale, ds, t, k->data + i * td, d, 1.0f, q->grad + i * td, d);
        if (k->grad) /* dK += dS^T Q * scale */
            rt_sgemm(true, false, t, d, t, scale, ds, t, q->data + i * td, d, 1.0f, k->grad + i * td, d);
    }
}
