/* matmul.c - matmul and linear on rt_sgemm (src/gemm.h).
 *
 * Layouts are chosen so no op copies or transposes a matrix: torch.nn.Linear's
 * weight (out,in) is used as is transposed in the forward pass, and both
 * backward products accumulate straight into the gradient buffers (beta = 1).
 */
#include "internal.h"
#include "../gemm.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

/* ---- matmul: C (m,n) = A (m,k) @ B (k,n) ---- */

rt_tensor *rt_matmul(rt_graph *g, rt_tensor *a, rt_tensor *b) {
    RT_CHECK(a->ndim == 2 && b->ndim == 2 && a->shape[1] == b->shape[0],
             "matmul: shapes (%d,%d) @ (%d,%d) do not chain", a->shape[0], a->shape[1],
             b->shape[0], b->shape[1]);
    rt_tensor *in[2] = {a, b};
    int shape[2] = {a->shape[0], b->shape[1]};
    return rt_graph_apply(g, RT_OP_MATMUL, in, 2, NULL, 2, shape);
}

void rt_fwd_matmul(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *a = n->in[0], *b = n->in[1];
    int m = a->shape[0], k = a->shape[1], nn = b->shape[1];
    if (m == 0 || nn == 0) return;
    if (k == 0) {
        for (int64_t i = 0; i < n->out->numel; i++) n->out->data[i] = 0.0f;
        return;
    }
    rt_sgemm(false, false, m, nn, k, 1.0f, a->data, k, b->data, nn, 0.0f, n->out->data, nn);
}

void rt_bwd_matmul(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *a = n->in[0], *b = n->in[1];
    const float *dc = n->out->grad;
    int m = a->shape[0], k = a->shape[1], nn = b->shape[1];
    if (m == 0 || nn == 0 || k == 0) return;
    if (a->grad) /* dA (m,k) += dC (m,n) @ B^T */
        rt_sgemm(false, true, m, k, nn, 1.0f, dc, nn, b->data, nn, 1.0f, a->grad, k);
    if (b->grad) /* dB (k,n) += A^T @ dC */
        rt_sgemm(true, false, k, nn, m, 1.0f, a->data, k, dc, nn, 1.0f, b->grad, nn);
}

/* ---- linear: y (b,out) = x (b,in) @ W^T + bias ---- */

rt_tensor *rt_linear(rt_graph *g, rt_tensor *x, rt_tensor *w, rt_tensor *bias) {
    RT_CHECK(x->ndim == 2 && w->ndim == 2 && x->shape[1] == w->shape[1],
             "linear: input (%d,%d) does not fit weight (%d,%d)", x->shape[0], x->shape[1],
             w->shape[0], w->shape[1]);
    RT_CHECK(!bias || (bias->ndim == 1 && bias->shape[0] == w->shape[0]),
             "linear: bias does not match %d outputs", w->shape[0]);
    rt_tensor *in[3] = {x, w, bias};
    int shape[2] = {x->shape[0], w->shape[0]};
    return rt_graph_apply(g, RT_OP_LINEAR, in, bias ? 3 : 2, NULL, 2, shape);
}

void rt_fwd_linear(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0], *w = n->in[1], *bias = n->nin > 2 ? n->in[2] : NULL;
    float *y = n->out->data;
    int b = x->shape[0], in = x->shape[1], out = w->shape[0];
    if (b == 0 || out == 0) return;
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < b; i++)
            for (int j = 0; j < out; j++) y[(int64_t)i * out + j] = bias->data[j];
        beta = 1.0f;
    }
    if (in == 0) {
        if (!bias)
            for (int64_t i = 0; i < n->out->numel; i++) y[i] = 0.0f;
        return;
    }
    rt_sgemm(false, true, b, out, in, 1.0f, x->data, in, w->data, in, beta, y, out);
}

/* The input gradient of a linear layer with at most NARROW inputs (the 2-D
 * flow of the RLE head): OpenBLAS's SkylakeX small-matrix sgemm allocates a
 * buffer on every call for a product this narrow, which would break the
 * zero-allocation step, and a loop is as fast at this width. */
#define NARROW 4
static void narrow_dx(const float *dy, const float *w, int b, int in, int out, float *dx) {
    for (int i = 0; i < b; i++) {
        const float *g = dy + (int64_t)i * out;
        float acc[NARROW] = {0};
        for (int j = 0; j < out; j++)
            for (int k = 0; k < in; k++) acc[k] += g[j] * w[(int64_t)j * in + k];
        for (int k = 0; k < in; k++) dx[(int64_t)i * in + k] += acc[k];
    }
}

void rt_bwd_linear(rt_graph *g, rt_node *n) {
    rt_tensor *x = n->in[0], *w = n->in[1], *bias = n->nin > 2 ? n->in[2] : NULL;
    const float *dy = n->out->grad;
    int b = x->shape[0], in = x->shape[1], out = w->shape[0];
    if (b == 0 || out == 0) return;
    /* the parameters' gradients first: their bucket can then travel while dx computes */
    if (in > 0 && w->grad) /* dW (out,in) += dy^T (out,b) @ x (b,in) */
        rt_sgemm(true, false, out, in, b, 1.0f, dy, out, x->data, in, 1.0f, w->grad, in);
    if (bias && bias->grad) /* db += column sums of dy */
        for (int i = 0; i < b; i++) {
            const float *row = dy + (int64_t)i * out;
            for (int j = 0; j < out; j++) bias->grad[j] += row[j];
        }
    if (x->param_id <= 0) rt_graph_params_final(g, n); /* else dx below is a parameter's gradient */
    if (in > 0 && in <= NARROW && x->grad) /* dx (b,in) += dy (b,out) @ W (out,in), in a loop */
        narrow_dx(dy, w->data, b, in, out, x->grad);
    else if (in > 0 && x->grad)
        rt_sgemm(false, false, b, in, out, 1.0f, dy, out, w->data, in, 1.0f, x->grad, in);
}
