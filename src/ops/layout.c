/* layout.c - ops that move elements without arithmetic: permute (the heads'
 * split and merge of attention), and patchify / unpatchify (images to the
 * tokens of a vision transformer and back). Each backward is the same move in
 * reverse, accumulated. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"


/* ---- permute: out.shape[i] = x.shape[perm[i]] ---- */

rt_tensor *rt_permute(rt_graph *g, rt_tensor *x, const int *perm) {
    int shape[RT_MAX_DIMS], seen = 0;
    rt_op_params p = {0};
    for (int i = 0; i < x->ndim; i++) {
        RT_CHECK(perm[i] >= 0 && perm[i] < x->ndim && !(seen & (1 << perm[i])), "permute: not a permutation");
        seen |= 1 << perm[i];
        shape[i] = x->shape[perm[i]];
        p.arg[i] = perm[i];
    }
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, RT_OP_PERMUTE, in, 1, &p, x->ndim, shape);
}

/* Walks the output in order: forward copies x's elements to it, backward
 * adds its gradient back to x's. Trailing dimensions that keep their place
 * move as one contiguous block (the head dimension when heads split); the
 * rest walk the output row by row, the innermost dimension by its stride. */
static void permute_walk(const rt_node *n, float *x, float *out, bool backward) {
    const rt_tensor *in = n->in[0];
    int nd = in->ndim;
    int64_t xs[RT_MAX_DIMS], s = 1; /* x's row-major strides */
    for (int d = nd - 1; d >= 0; d--) {
        xs[d] = s;
        s *= in->shape[d];
    }
    int keep = nd; /* dimensions [keep, nd) stay in place: one block */
    while (keep > 0 && n->p.arg[keep - 1] == keep - 1) keep--;
    int64_t block = 1;
    for (int d = keep; d < nd; d++) block *= in->shape[d];
    if (keep == 0) keep = 1, block = 1; /* the identity: one walk over dimension 0 */
    int last = keep - 1;
    int64_t inner = n->out->shape[last], step = xs[n->p.arg[last]];
    int idx[RT_MAX_DIMS] = {0};
    for (int64_t o = 0; o < n->out->numel; o += inner * block) {
        int64_t src = 0;
        for (int d = 0; d < last; d++) src += idx[d] * xs[n->p.arg[d]];
        for (int64_t j = 0; j < inner; j++) {
            float *a = x + src + j * step, *b = out + o + j * block;
            for (int64_t k = 0; k < block; k++) {
                if (backward)
                    a[k] += b[k];
                else
                    b[k] = a[k];
            }
        }
        for (int d = last - 1; d >= 0 && ++idx[d] == n->out->shape[d]; d--) idx[d] = 0;
    }
}

void rt_fwd_permute(rt_graph *g, rt_node *n) {
    (void)g;
    permute_walk(n, n->in[0]->data, n->out->data, false);
}

void rt_bwd_permute(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) permute_walk(n, n->in[0]->grad, n->out->grad, true);
}

/* ---- patchify: (b, c, h, w) <-> (b, (h/p)(w/p), p p c) ----
 * Token m = hi (w/p) + wi holds pixels (hi p + pi, wi p + qi) of every
 * channel at element (pi p + qi) c + ci: DiT's unpatchify, einsum
 * 'nhwpqc->nchpwq', read backwards. arg: p, c, h, w. */

static rt_tensor *patch_op(rt_graph *g, rt_op op, rt_tensor *x, int p, int c, int h, int w, int ndim,
                           const int *shape) {
    RT_CHECK(p >= 1 && h % p == 0 && w % p == 0, "patchify: patch %d does not divide %dx%d", p, h, w);
    rt_op_params a = {.arg = {p, c, h, w}};
    rt_tensor *in[1] = {x};
    return rt_graph_apply(g, op, in, 1, &a, ndim, shape);
}

rt_tensor *rt_patchify(rt_graph *g, rt_tensor *x, int p) {
    RT_CHECK(x->ndim == 4, "patchify: needs (batch, channels, height, width)");
    int c = x->shape[1], h = x->shape[2], w = x->shape[3];
    int shape[3] = {x->shape[0], p > 0 ? (h / p) * (w / p) : 0, p * p * c};
    return patch_op(g, RT_OP_PATCHIFY, x, p, c, h, w, 3, shape);
}

rt_tensor *rt_unpatchify(rt_graph *g, rt_tensor *x, int p, int c, int h, int w) {
    RT_CHECK(x->ndim == 3 && p >= 1 && x->shape[1] == (h / p) * (w / p) && x->shape[2] == p * p * c,
             "unpatchify: (%d, %d, %d) is not the patches of (%d, %d, %d) at patch %d", x->shape[0],
             x->shape[1], x->shape[2], c, h, w, p);
    int shape[4] = {x->shape[0], c, h, w};
    return patch_op(g, RT_OP_UNPATCHIFY, x, p, c, h, w, 4, shape);
}

/* For every element: img indexes the image, tok the patches. to_patches copies
 * (or, accumulating, adds) image -> patches, else patches -> image. */
static void patch_walk(const rt_node *n, int64_t batch, const float *from, float *to, bool to_patches,
                       bool accumulate) {
    int p = n->p.arg[0], c = n->p.arg[1], h = n->p.arg[2], w = n->p.arg[3];
    int gw = w / p;
    int64_t per = (int64_t)c * h * w;
    for (int64_t b = 0; b < batch; b++)
        for (int ci = 0; ci < c; ci++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int64_t img = b * per + ((int64_t)ci * h + y) * w + x;
                    int64_t m = (int64_t)(y / p) * gw + x / p, e = ((int64_t)(y % p) * p + x % p) * c + ci;
                    int64_t tok = b * per + m * (int64_t)p * p * c + e;
                    int64_t src = to_patches ? img : tok, dst = to_patches ? tok : img;
                    if (accumulate)
                        to[dst] += from[src];
                    else
                        to[dst] = from[src];
                }
}

void rt_fwd_patchify(rt_graph *g, rt_node *n) {
    (void)g;
    patch_walk(n, n->in[0]->shape[0], n->in[0]->data, n->out->data, true, false);
}

void rt_bwd_patchify(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) patch_walk(n, n->in[0]->shape[0], n->out->grad, n->in[0]->grad, false, true);
}

void rt_fwd_unpatchify(rt_graph *g, rt_node *n) {
    (void)g;
    patch_walk(n, n->in[0]->shape[0], n->in[0]->data, n->out->data, false, false);
}

void rt_bwd_unpatchify(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) patch_walk(n, n->in[0]->shape[0], n->out->grad, n->in[0]->grad, true, true);
}
