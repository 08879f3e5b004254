/* reduce.c - reshape/flatten views and reductions to a scalar. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

/* ---- reshape: a view sharing data and grad, so backward has nothing to do ---- */

rt_tensor *rt_reshape(rt_graph *g, rt_tensor *x, int ndim, const int *shape) {
    RT_CHECK(ndim >= 0 && ndim <= RT_MAX_DIMS, "reshape: ndim %d", ndim);
    int s[RT_MAX_DIMS];
    int64_t known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        s[i] = shape[i];
        if (s[i] == -1) {
            RT_CHECK(infer < 0, "reshape: more than one -1");
            infer = i;
        } else {
            known *= s[i];
        }
    }
    if (infer >= 0) {
        RT_CHECK(known > 0 && x->numel % known == 0, "reshape: cannot infer size");
        s[infer] = (int)(x->numel / known);
        known *= s[infer];
    }
    RT_CHECK(known == x->numel, "reshape: %lld elements into %lld", (long long)x->numel,
             (long long)known);
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, RT_OP_RESHAPE, in, 1, NULL, ndim, s);
}

rt_tensor *rt_flatten(rt_graph *g, rt_tensor *x) {
    RT_CHECK(x->ndim >= 1, "flatten: needs a batch dimension");
    int64_t inner = 1;
    for (int i = 1; i < x->ndim; i++) inner *= x->shape[i];
    int shape[2] = {x->shape[0], (int)inner};
    return rt_reshape(g, x, 2, shape);
}

void rt_fwd_reshape(rt_graph *g, rt_node *n) { (void)g, (void)n; }
void rt_bwd_reshape(rt_graph *g, rt_node *n) { (void)g, (void)n; }

/* ---- sum and mean over all elements (accumulated in double) ---- */

rt_tensor *rt_sum(rt_graph *g, rt_tensor *x) {
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, RT_OP_SUM, in, 1, NULL, 0, NULL);
}

rt_tensor *rt_mean(rt_graph *g, rt_tensor *x) {
    RT_CHECK(x->numel > 0, "mean of an empty tensor");
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, RT_OP_MEAN, in, 1, NULL, 0, NULL);
}

static double sum_all(const rt_tensor *x) {
    double s = 0.0;
    for (int64_t i = 0; i < x->numel; i++) s += x->data[i];
    return s;
}

static void spread(rt_tensor *x, float v) {
    if (!x->grad) return;
    for (int64_t i = 0; i < x->numel; i++) x->grad[i] += v;
}

void rt_fwd_sum(rt_graph *g, rt_node *n) {
    (void)g;
    n->out->data[0] = (float)sum_all(n->in[0]);
}

void rt_bwd_sum(rt_graph *g, rt_node *n) {
    (void)g;
    spread(n->in[0], n->out->grad[0]);
}

void rt_fwd_mean(rt_graph *g, rt_node *n) {
    (void)g;
    n->out->data[0] = (float)(sum_all(n->in[0]) / (double)n->in[0]->numel);
}

void rt_bwd_mean(rt_graph *g, rt_node *n) {
    (void)g;
    spread(n->in[0], n->out->grad[0] / (float)n->in[0]->numel);
}
