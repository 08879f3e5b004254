/* condition.c - the ops that condition a transformer on a vector per sample
 * (adaLN: DiT, SD3) and the embedding lookup that makes such vectors from
 * labels.
 *
 *   modulate:  y = x * (1 + scale) + shift   x (b, t, d); shift, scale (b, d)
 *   gate_add:  y = x + gate * u              x, u (b, t, d); gate (b, d)
 *   embedding: y[i] = table[idx[i]]          table (v, d); idx (n) -> (n, d)
 *
 * The per-sample vectors broadcast over the t tokens; their gradients are
 * sums over the tokens, added in token order. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

/* x (b, t, d) and a per-sample vector v (b, d) fit each other */
static void check_broadcast(const char *op, const rt_tensor *x, const rt_tensor *v) {
    RT_CHECK(x->ndim == 3 && v->ndim == 2 && v->shape[0] == x->shape[0] && v->shape[1] == x->shape[2],
             "%s: (%d, %d) does not condition (%d, %d, %d)", op, v->ndim > 0 ? v->shape[0] : -1,
             v->ndim > 1 ? v->shape[1] : -1, x->ndim > 0 ? x->shape[0] : -1, x->ndim > 1 ? x->shape[1] : -1,
             x->ndim > 2 ? x->shape[2] : -1);
}

/* ---- modulate ---- */

rt_tensor *rt_modulate(rt_graph *g, rt_tensor *x, rt_tensor *shift, rt_tensor *scale) {
    check_broadcast("modulate", x, shift);
    check_broadcast("modulate", x, scale);
    rt_tensor *in[3] = {x, shift, scale};
    return rt_graph_apply(g, RT_OP_MODULATE, in, 3, NULL, 3, x->shape);
}

void rt_fwd_modulate(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    int64_t b = x->shape[0], t = x->shape[1], d = x->shape[2];
    for (int64_t i = 0; i < b; i++) {
        const float *sh = n->in[1]->data + i * d, *sc = n->in[2]->data + i * d;
        for (int64_t k = 0; k < t; k++) {
            const float *xr = x->data + (i * t + k) * d;
            float *yr = n->out->data + (i * t + k) * d;
            for (int64_t j = 0; j < d; j++) yr[j] = xr[j] * (1.0f + sc[j]) + sh[j];
        }
    }
}

void rt_bwd_modulate(rt_graph *g, rt_node *n) {
    (void)g;
    rt_tensor *x = n->in[0], *shift = n->in[1], *scale = n->in[2];
    int64_t b = x->shape[0], t = x->shape[1], d = x->shape[2];
    for (int64_t i = 0; i < b; i++) {
        const float *sc = scale->data + i * d;
        for (int64_t k = 0; k < t; k++) {
            int64_t row = (i * t + k) * d;
            const float *dy = n->out->grad + row, *xr = x->data + row;
            if (x->grad)
                for (int64_t j = 0; j < d; j++) x->grad[row + j] += dy[j] * (1.0f + sc[j]);
            if (shift->grad)
                for (int64_t j = 0; j < d; j++) shift->grad[i * d + j] += dy[j];
            if (scale->grad)
                for (int64_t j = 0; j < d; j++) scale->grad[i * d + j] += dy[j] * xr[j];
        }
    }
}

/* ---- gated residual ---- */

rt_tensor *rt_gate_add(rt_graph *g, rt_tensor *x, rt_tensor *gate, rt_tensor *u) {
    check_broadcast("gate_add", x, gate);
    RT_CHECK(rt_tensor_same_shape(x, u), "gate_add: x and the gated branch differ in shape");
    rt_tensor *in[3] = {x, gate, u};
    return rt_graph_apply(g, RT_OP_GATE_ADD, in, 3, NULL, 3, x->shape);
}

void rt_fwd_gate_add(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    int64_t b = x->shape[0], t = x->shape[1], d = x->shape[2];
    for (int64_t i = 0; i < b; i++) {
        const float *gt = n->in[1]->data + i * d;
        for (int64_t k = 0; k < t; k++) {
            int64_t row = (i * t + k) * d;
            const float *xr = x->data + row, *ur = n->in[2]->data + row;
            float *yr = n->out->data + row;
            for (int64_t j = 0; j < d; j++) yr[j] = xr[j] + gt[j] * ur[j];
        }
    }
}

void rt_bwd_gate_add(rt_graph *g, rt_node *n) {
    (void)g;
    rt_tensor *x = n->in[0], *gate = n->in[1], *u = n->in[2];
    int64_t b = x->shape[0], t = x->shape[1], d = x->shape[2];
    for (int64_t i = 0; i < b; i++) {
        const float *gt = gate->data + i * d;
        for (int64_t k = 0; k < t; k++) {
            int64_t row = (i * t + k) * d;
            const float *dy = n->out->grad + row, *ur = u->data + row;
            if (x->grad)
                for (int64_t j = 0; j < d; j++) x->grad[row + j] += dy[j];
            if (gate->grad)
                for (int64_t j = 0; j < d; j++) gate->grad[i * d + j] += dy[j] * ur[j];
            if (u->grad)
                for (int64_t j = 0; j < d; j++) u->grad[row + j] += dy[j] * gt[j];
        }
    }
}

/* ---- embedding lookup ---- */

rt_tensor *rt_embedding(rt_graph *g, rt_tensor *table, const int32_t *idx, int n) {
    RT_CHECK(table->ndim == 2 && n >= 0, "embedding: needs a (rows, dim) table");
    for (int i = 0; i < n; i++)
        RT_CHECK(idx[i] >= 0 && idx[i] < table->shape[0], "embedding: index %d at %d outside [0, %d)", idx[i], i,
                 table->shape[0]);
    rt_op_params p = {.labels = idx};
    rt_tensor *in[1] = {table};
    int shape[2] = {n, table->shape[1]};
    return rt_graph_apply(g, RT_OP_EMBEDDING, in, 1, &p, 2, shape);
}

void rt_fwd_embedding(rt_graph *g, rt_node *n) {
    (void)g;
    int64_t rows = n->out->shape[0], d = n->out->shape[1];
    for (int64_t i = 0; i < rows; i++) {
        const float *src = n->in[0]->data + (int64_t)n->p.labels[i] * d;
        for (int64_t j = 0; j < d; j++) n->out->data[i * d + j] = src[j];
    }
}

void rt_bwd_embedding(rt_graph *g, rt_node *n) {
    (void)g;
    float *dt = n->in[0]->grad;
    if (!dt) return;
    int64_t rows = n->out->shape[0], d = n->out->shape[1];
    for (int64_t i = 0; i < rows; i++) { /* rows in order: a repeated index adds up the same way every time */
        float *dst = dt + (int64_t)n->p.labels[i] * d;
        for (int64_t j = 0; j < d; j++) dst[j] += n->out->grad[i * d + j];
    }
}
