/* loss.c - softmax cross-entropy and mean squared error.
 *
 * Both return `scale * sum over rows`. With scale = 1/B for the global batch B
 * each rank's loss is its share of the global mean, so summing gradients over
 * ranks (the ring) gives exactly the single-process gradient.
 */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>

/* ---- softmax cross-entropy: logits (b,c), labels (b) ---- */

rt_tensor *rt_softmax_ce(rt_graph *g, rt_tensor *logits, const int32_t *labels, float scale) {
    RT_CHECK(logits->ndim == 2, "softmax_ce: logits must be (batch, classes)");
    rt_tensor *in[1] = {logits};
    rt_op_params p = {.scale = scale, .labels = labels};
    return rt_graph_apply(g, RT_OP_SOFTMAX_CE, in, 1, &p, 0, NULL);
}

/* Forward keeps the softmax probabilities (b,c) for backward when recording. */
void rt_fwd_softmax_ce(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    int b = x->shape[0], c = x->shape[1];
    float *prob = n->out->grad ? rt_graph_scratch(g, rt_mul_size((size_t)x->numel, sizeof(float)))
                               : NULL;
    double total = 0.0;
    for (int i = 0; i < b; i++) {
        const float *row = x->data + (int64_t)i * c;
        int y = n->p.labels[i];
        RT_CHECK(y >= 0 && y < c, "softmax_ce: label %d outside [0, %d)", y, c);
        float mx = row[0];
        for (int j = 1; j < c; j++) mx = row[j] > mx ? row[j] : mx;
        double z = 0.0;
        for (int j = 0; j < c; j++) z += exp((double)(row[j] - mx));
        double lse = (double)mx + log(z);
        total += lse - (double)row[y];
        if (prob)
            for (int j = 0; j < c; j++)
                prob[(int64_t)i * c + j] = (float)(exp((double)(row[j] - mx)) / z);
    }
    n->out->data[0] = (float)(total * (double)n->p.scale);
    n->saved = prob;
}

void rt_bwd_softmax_ce(rt_graph *g, rt_node *n) {
    (void)g;
    rt_tensor *x = n->in[0];
    if (!x->grad) return;
    int b = x->shape[0], c = x->shape[1];
    const float *prob = n->saved;
    float k = n->out->grad[0] * n->p.scale;
    for (int i = 0; i < b; i++) {
        float *dx = x->grad + (int64_t)i * c;
        const float *p = prob + (int64_t)i * c;
        for (int j = 0; j < c; j++) dx[j] += k * p[j];
        dx[n->p.labels[i]] -= k;
    }
}

/* ---- mean squared error: scale * sum (a - b)^2 ---- */

rt_tensor *rt_mse(rt_graph *g, rt_tensor *a, rt_tensor *b, float scale) {
    RT_CHECK(rt_tensor_same_shape(a, b), "mse: operands differ in shape");
    rt_tensor *in[2] = {a, b};
    rt_op_params p = {.scale = scale};
    return rt_graph_apply(g, RT_OP_MSE, in, 2, &p, 0, NULL);
}

void rt_fwd_mse(rt_graph *g, rt_node *n) {
    (void)g;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    double s = 0.0;
    for (int64_t i = 0; i < n->in[0]->numel; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    n->out->data[0] = (float)(s * (double)n->p.scale);
}

void rt_bwd_mse(rt_graph *g, rt_node *n) {
    (void)g;
    const float *a = n->in[0]->data, *b = n->in[1]->data;
    float *da = n->in[0]->grad, *db = n->in[1]->grad;
    float k = 2.0f * n->out->grad[0] * n->p.scale;
    for (int64_t i = 0; i < n->in[0]->numel; i++) {
        float d = k * (a[i] - b[i]);
        if (da) da[i] += d;
        if (db) db[i] -= d;
    }
}
