/* ops_cases_attn.h - gradcheck and parity cases for the transformer ops
 * (src/ops/attention.c, layout.c, condition.c and norm.c's rmsnorm),
 * included by test_ops.c after its tcase type, builders and X1..X4 macros.
 *
 * Tolerances follow the budget at the top of test_ops.c:
 *   - bmm, permute, patchify, unpatchify, modulate, gate_add and embedding
 *     are at most bilinear in any one input, so central differences are exact:
 *     eps 1e-1, atol and rtol 1e-4 leave only output rounding.
 *   - softmax and attention are smooth with curvature on the scale of their
 *     logits (inputs of amp <= 2): eps 1e-2 keeps the truncation error near
 *     eps^2 |f'''| ~ 1e-4 |f'|, under rtol 1e-3.
 *   - rmsnorm is curved on the scale of its row's rms (~ amp), as layernorm:
 *     eps 2e-3, atol and rtol 1e-3.
 * The embedding's indices are drawn in main (c->labels), repeats included,
 * so the backward's scatter-add is checked where two rows hit one entry.
 */

/* ---- bmm ---- */

static rt_tensor *build_bmm(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_bmm(g, in[0], in[1]);
}

static void ref_bmm(const tcase *c, const float *const *x, double *y) {
    const tin *a = &c->in[0], *b = &c->in[1];
    int r = a->ndim, m = a->shape[r - 2], k = a->shape[r - 1], n = b->shape[r - 1];
    int64_t batch = numel_of(r - 2, a->shape);
    for (int64_t i = 0; i < batch; i++)
        for (int p = 0; p < m; p++)
            for (int q = 0; q < n; q++) {
                double s = 0.0;
                for (int j = 0; j < k; j++) s += (double)x[0][(i * m + p) * k + j] * x[1][(i * k + j) * n + q];
                y[(i * m + p) * n + q] = s;
            }
}

/* ---- softmax over the last axis ---- */

static rt_tensor *build_softmax(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_softmax(g, in[0]);
}

static void ref_softmax_rows(const double *x, double *y, int64_t rows, int64_t d, double scale) {
    for (int64_t r = 0; r < rows; r++) {
        double mx = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < d; j++) mx = fmax(mx, scale * x[r * d + j]);
        for (int64_t j = 0; j < d; j++) s += exp(scale * x[r * d + j] - mx);
        for (int64_t j = 0; j < d; j++) y[r * d + j] = exp(scale * x[r * d + j] - mx) / s;
    }
}

static void ref_softmax(const tcase *c, const float *const *x, double *y) {
    int64_t d = c->in[0].shape[c->in[0].ndim - 1], n = numel_of(c->in[0].ndim, c->in[0].shape);
    double *xd = rt_malloc((size_t)n * sizeof *xd);
    for (int64_t i = 0; i < n; i++) xd[i] = x[0][i];
    ref_softmax_rows(xd, y, n / d, d, 1.0);
    rt_free(xd);
}

/* ---- attention: q, k, v (b, h, t, d) ---- */

static rt_tensor *build_attention(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_attention(g, in[0], in[1], in[2]);
}

static void ref_attention(const tcase *c, const float *const *x, double *y) {
    const int *s = c->in[0].shape;
    int64_t bh = (int64_t)s[0] * s[1], t = s[2], d = s[3];
    double *p = rt_malloc((size_t)(t * t) * sizeof *p);
    double *logit = rt_malloc((size_t)(t * t) * sizeof *logit);
    for (int64_t i = 0; i < bh; i++) {
        const float *q = x[0] + i * t * d, *k = x[1] + i * t * d, *v = x[2] + i * t * d;
        for (int64_t a = 0; a < t; a++)
            for (int64_t b = 0; b < t; b++) {
                double dot = 0.0;
                for (int64_t j = 0; j < d; j++) dot += (double)q[a * d + j] * k[b * d + j];
                logit[a * t + b] = dot;
            }
        ref_softmax_rows(logit, p, t, t, 1.0 / sqrt((double)d));
        for (int64_t a = 0; a < t; a++)
            for (int64_t j = 0; j < d; j++) {
                double o = 0.0;
                for (int64_t b = 0; b < t; b++) o += p[a * t + b] * v[b * d + j];
                y[(i * t + a) * d + j] = o;
            }
    }
    rt_free(p);
    rt_free(logit);
}

/* ---- permute: arg[0..ndim) ---- */

static rt_tensor *build_permute(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_permute(g, in[0], c->arg);
}

static void ref_permute(const tcase *c, const float *const *x, double *y) {
    const tin *t = &c->in[0];
    int idx[RT_MAX_DIMS], out[RT_MAX_DIMS];
    for (int64_t i = 0; i < numel_of(t->ndim, t->shape); i++) {
        misc_unravel(i, t->ndim, t->shape, idx);
        for (int d = 0; d < t->ndim; d++) out[d] = idx[c->arg[d]];
        y[misc_ravel(c->out_ndim, c->out_shape, out)] = (double)x[0][i];
    }
}

/* ---- patchify / unpatchify: arg[0] = p; unpatchify arg[1..3] = c, h, w ---- */

static rt_tensor *build_patchify(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_patchify(g, in[0], c->arg[0]);
}

static rt_tensor *build_unpatchify(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_unpatchify(g, in[0], c->arg[0], c->arg[1], c->arg[2], c->arg[3]);
}

/* DiT's unpatchify written out: image (n, c, y, x) <- tokens (n, y/p, x/p, y%p, x%p, c) */
static int64_t ref_patch_index(int64_t n, int ci, int yy, int xx, int p, int c, int h, int w) {
    int64_t gw = w / p, m = (yy / p) * gw + xx / p, e = ((int64_t)(yy % p) * p + xx % p) * c + ci;
    return n * (int64_t)c * h * w + m * (int64_t)p * p * c + e;
}

static void ref_patch(const tcase *c, const float *const *x, double *y, bool to_patches) {
    int p = c->arg[0];
    const int *s = to_patches ? c->in[0].shape : c->out_shape; /* the image's (n, c, h, w) */
    for (int64_t n = 0; n < s[0]; n++)
        for (int ci = 0; ci < s[1]; ci++)
            for (int yy = 0; yy < s[2]; yy++)
                for (int xx = 0; xx < s[3]; xx++) {
                    int64_t img = ((n * s[1] + ci) * s[2] + yy) * s[3] + xx;
                    int64_t tok = ref_patch_index(n, ci, yy, xx, p, s[1], s[2], s[3]);
                    if (to_patches)
                        y[tok] = (double)x[0][img];
                    else
                        y[img] = (double)x[0][tok];
                }
}

static void ref_patchify(const tcase *c, const float *const *x, double *y) { ref_patch(c, x, y, true); }
static void ref_unpatchify(const tcase *c, const float *const *x, double *y) { ref_patch(c, x, y, false); }

/* ---- rmsnorm: arg[0] = weight present; f = eps ---- */

static rt_tensor *build_rmsnorm(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_rmsnorm(g, in[0], c->arg[0] ? in[1] : NULL, c->f);
}

static void ref_rmsnorm(const tcase *c, const float *const *x, double *y) {
    int d = c->in[0].shape[c->in[0].ndim - 1];
    int64_t rows = numel_of(c->in[0].ndim, c->in[0].shape) / d;
    for (int64_t r = 0; r < rows; r++) {
        double ms = 0.0;
        for (int j = 0; j < d; j++) ms += (double)x[0][r * d + j] * x[0][r * d + j];
        double rstd = 1.0 / sqrt(ms / d + (double)c->f);
        for (int j = 0; j < d; j++) y[r * d + j] = x[0][r * d + j] * rstd * (c->arg[0] ? (double)x[1][j] : 1.0);
    }
}

/* ---- modulate (x, shift, scale) and gate_add (x, gate, u) ---- */

static rt_tensor *build_modulate(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_modulate(g, in[0], in[1], in[2]);
}

static rt_tensor *build_gate_add(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_gate_add(g, in[0], in[1], in[2]);
}

static void ref_condition(const tcase *c, const float *const *x, double *y, bool gate) {
    const int *s = c->in[0].shape;
    for (int64_t i = 0; i < s[0]; i++)
        for (int64_t k = 0; k < s[1]; k++)
            for (int64_t j = 0; j < s[2]; j++) {
                int64_t e = (i * s[1] + k) * s[2] + j, v = i * s[2] + j;
                y[e] = gate ? (double)x[0][e] + (double)x[1][v] * x[2][e]
                            : (double)x[0][e] * (1.0 + (double)x[2][v]) + x[1][v];
            }
}

static void ref_modulate(const tcase *c, const float *const *x, double *y) { ref_condition(c, x, y, false); }
static void ref_gate_add(const tcase *c, const float *const *x, double *y) { ref_condition(c, x, y, true); }

/* ---- embedding: table (v, d), indices c->labels (out_shape[0]) ---- */

static rt_tensor *build_embedding(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_embedding(g, in[0], c->labels, c->out_shape[0]);
}

static void ref_embedding(const tcase *c, const float *const *x, double *y) {
    int d = c->in[0].shape[1];
    for (int i = 0; i < c->out_shape[0]; i++)
        for (int j = 0; j < d; j++) y[i * d + j] = (double)x[0][(int64_t)c->labels[i] * d + j];
}

/* ---- the table ---- */

#define EXACT .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4
#define SMOOTH .fwd_atol = 1e-6, .fwd_rtol = 1e-5, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3
static tcase cases_attn[] = {
    {.op = RT_OP_BMM, .name = "a(2,3,4)@b(2,4,5)", .nin = 2,
     .in = {{"a", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"b", X3(2, 4, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 5}, .nodes = 1, .build = build_bmm, .ref = ref_bmm, EXACT, .negctl = true},
    {.op = RT_OP_BMM, .name = "a(2,2,3,4)@b(2,2,4,3)", .nin = 2,
     .in = {{"a", X4(2, 2, 3, 4), true, DIST_NORMAL, 1}, {"b", X4(2, 2, 4, 3), false, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 2, 3, 3}, .nodes = 1, .build = build_bmm, .ref = ref_bmm, EXACT},
    {.op = RT_OP_SOFTMAX, .name = "x(3,7)", .nin = 1, .in = {{"x", X2(3, 7), true, DIST_NORMAL, 2}},
     .out_ndim = 2, .out_shape = {3, 7}, .nodes = 1, .build = build_softmax, .ref = ref_softmax, SMOOTH,
     .negctl = true},
    {.op = RT_OP_SOFTMAX, .name = "rows+-100:x(4,5)", .nin = 1, .in = {{"x", X2(4, 5), true, DIST_ROWSHIFT, 1}},
     .out_ndim = 2, .out_shape = {4, 5}, .nodes = 1, .build = build_softmax, .ref = ref_softmax, SMOOTH},
    {.op = RT_OP_ATTENTION, .name = "qkv(2,2,5,4)", .nin = 3,
     .in = {{"q", X4(2, 2, 5, 4), true, DIST_NORMAL, 1}, {"k", X4(2, 2, 5, 4), true, DIST_NORMAL, 1},
            {"v", X4(2, 2, 5, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 2, 5, 4}, .nodes = 1, .build = build_attention, .ref = ref_attention, SMOOTH,
     .negctl = true},
    {.op = RT_OP_ATTENTION, .name = "v-only:qkv(1,3,7,8)", .nin = 3,
     .in = {{"q", X4(1, 3, 7, 8), false, DIST_NORMAL, 2}, {"k", X4(1, 3, 7, 8), false, DIST_NORMAL, 2},
            {"v", X4(1, 3, 7, 8), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 3, 7, 8}, .nodes = 1, .build = build_attention, .ref = ref_attention, EXACT},
    {.op = RT_OP_ATTENTION, .name = "qk:qkv(1,1,9,3)", .nin = 3,
     .in = {{"q", X4(1, 1, 9, 3), true, DIST_NORMAL, 2}, {"k", X4(1, 1, 9, 3), true, DIST_NORMAL, 2},
            {"v", X4(1, 1, 9, 3), false, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 1, 9, 3}, .nodes = 1, .build = build_attention, .ref = ref_attention, SMOOTH},
    {.op = RT_OP_PERMUTE, .name = "heads:x(2,3,4,5)->(0,2,1,3)", .nin = 1,
     .in = {{"x", X4(2, 3, 4, 5), true, DIST_NORMAL, 1}}, .out_ndim = 4, .out_shape = {2, 4, 3, 5}, .nodes = 1,
     .build = build_permute, .ref = ref_permute, EXACT, .arg = {0, 2, 1, 3}, .negctl = true},
    {.op = RT_OP_PERMUTE, .name = "x(2,3,4)->(2,0,1)", .nin = 1, .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {4, 2, 3}, .nodes = 1, .build = build_permute, .ref = ref_permute, EXACT,
     .arg = {2, 0, 1}},
    {.op = RT_OP_PATCHIFY, .name = "x(2,3,4,6)p2", .nin = 1, .in = {{"x", X4(2, 3, 4, 6), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 6, 12}, .nodes = 1, .build = build_patchify, .ref = ref_patchify, EXACT,
     .arg = {2}},
    {.op = RT_OP_UNPATCHIFY, .name = "x(2,6,12)p2->(3,4,6)", .nin = 1, .in = {{"x", X3(2, 6, 12), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 4, 6}, .nodes = 1, .build = build_unpatchify, .ref = ref_unpatchify, EXACT,
     .arg = {2, 3, 4, 6}},
    {.op = RT_OP_UNPATCHIFY, .name = "x(1,4,16)p4->(1,8,8)", .nin = 1, .in = {{"x", X3(1, 4, 16), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 1, 8, 8}, .nodes = 1, .build = build_unpatchify, .ref = ref_unpatchify, EXACT,
     .arg = {4, 1, 8, 8}},
    {.op = RT_OP_RMSNORM, .name = "w:x(4,8)w(8)", .nin = 2,
     .in = {{"x", X2(4, 8), true, DIST_NORMAL, 1}, {"w", X1(8), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {4, 8}, .nodes = 1, .build = build_rmsnorm, .ref = ref_rmsnorm,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3, .rtol = 1e-3, .arg = {1}, .f = 1e-6f,
     .negctl = true},
    {.op = RT_OP_RMSNORM, .name = "plain:x(2,3,19)", .nin = 1, .in = {{"x", X3(2, 3, 19), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 19}, .nodes = 1, .build = build_rmsnorm, .ref = ref_rmsnorm,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3, .rtol = 1e-3, .arg = {0}, .f = 1e-6f},
    {.op = RT_OP_MODULATE, .name = "x(2,3,4)shift(2,4)scale(2,4)", .nin = 3,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"shift", X2(2, 4), true, DIST_NORMAL, 1},
            {"scale", X2(2, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 4}, .nodes = 1, .build = build_modulate, .ref = ref_modulate, EXACT,
     .negctl = true},
    {.op = RT_OP_GATE_ADD, .name = "x(2,3,4)gate(2,4)u(2,3,4)", .nin = 3,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"gate", X2(2, 4), true, DIST_NORMAL, 1},
            {"u", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 4}, .nodes = 1, .build = build_gate_add, .ref = ref_gate_add, EXACT,
     .negctl = true},
    {.op = RT_OP_EMBEDDING, .name = "table(5,4)rows(8)", .nin = 1, .in = {{"table", X2(5, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {8, 4}, .nodes = 1, .build = build_embedding, .ref = ref_embedding, EXACT,
     .negctl = true},
    {0},
};
#undef EXACT
#undef SMOOTH
