/* ops_cases_misc.h - gradcheck and parity cases for src/ops/norm.c (layernorm,
 * dropout) and src/ops/misc.c (concat, slice, split, exp, log, softplus,
 * affine, scale, sum_axis), included by test_ops.c after its tcase type,
 * builders and X1..X4 macros.
 *
 * Tolerances follow the budget at the top of test_ops.c:
 *   - concat, slice, split, dropout, affine, scale and sum_axis are linear (scale
 *     bilinear) in every input, so central differences are exact: eps 1e-1,
 *     atol 1e-4, rtol 1e-4 leave only output rounding (< 1e-5 here).
 *   - exp, log and softplus are smooth: eps 1e-2 gives a truncation error of
 *     eps^2/6 * |f'''| <= 2e-5 * |f'| (exp, the worst of them); rtol 1e-3 covers it.
 *     softplus beyond the threshold is linear, and its inputs stay >= 0.1 from
 *     20 by construction (|x| >= 0.1 shifted by 20), so no step crosses it.
 *   - layernorm is smooth but curved on the scale s of its row's spread (s ~ amp):
 *     its third derivative grows like |w R| / s^3, so each case takes
 *     eps = 2e-3 * amp, which keeps the truncation error a small fraction of
 *     the gradient (~ (eps/s)^2). Output rounding (a few ulp of O(1) outputs
 *     summed over the row, over 2 eps) is then ~2e-4 / amp; atol 1e-3 / amp
 *     and rtol 1e-3 hold it with >= 4x margin over 100 seeds, while a wrong
 *     term in the backward is off by O(1 / amp). The case with x nograd checks
 *     only w and b, in which the op is linear: eps 1e-1, atol and rtol 1e-4.
 * Dropout's forward reference recomputes the mask from the rule documented in
 * src/ops/norm.c, written out again here as a check of that contract.
 */

/* ---- shared index helpers for the references ---- */

/* idx = coordinates of flat index i in a row-major shape */
static void misc_unravel(int64_t i, int ndim, const int *shape, int *idx) {
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = (int)(i % shape[d]);
        i /= shape[d];
    }
}

static int64_t misc_ravel(int ndim, const int *shape, const int *idx) {
    int64_t i = 0;
    for (int d = 0; d < ndim; d++) i = i * shape[d] + idx[d];
    return i;
}

/* ---- layernorm: arg[0], arg[1] = weight, bias present (they follow x in that order) ---- */

static rt_tensor *build_layernorm(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    int k = 1;
    rt_tensor *w = c->arg[0] ? in[k++] : NULL;
    rt_tensor *b = c->arg[1] ? in[k++] : NULL;
    return rt_layernorm(g, in[0], w, b, c->f);
}

static void ref_layernorm(const tcase *c, const float *const *x, double *y) {
    int d = c->in[0].shape[c->in[0].ndim - 1];
    int64_t rows = numel_of(c->in[0].ndim, c->in[0].shape) / d;
    int k = 1;
    const float *w = c->arg[0] ? x[k++] : NULL;
    const float *b = c->arg[1] ? x[k++] : NULL;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x[0] + r * d;
        double mean = 0.0, var = 0.0;
        for (int j = 0; j < d; j++) mean += xr[j];
        mean /= d;
        for (int j = 0; j < d; j++) var += ((double)xr[j] - mean) * ((double)xr[j] - mean);
        var /= d; /* biased, as torch.nn.LayerNorm */
        double rstd = 1.0 / sqrt(var + (double)c->f);
        for (int j = 0; j < d; j++)
            y[r * d + j] = ((double)xr[j] - mean) * rstd * (w ? (double)w[j] : 1.0) +
                           (b ? (double)b[j] : 0.0);
    }
}

/* ---- dropout ----
 * arg[0]: train. arg[1] > 0: rows [0, arg[1]) and [arg[1], b) go through two
 * dropout calls with their own slices of the row keys and are joined again,
 * which must give the same mask as one call (rank-split invariance).
 * arg[2]: x passes through rt_affine(x, 1, 0) first, so an identity dropout
 * (train false, or p == 0) hands back a tensor that is not a case input. */

#define MISC_DROPOUT_SEED 0x243f6a8885a308d3ULL
static const uint64_t misc_row_keys[8] = {
    17, 3, 60000, 0x0123456789abcdefULL, 42, 5, 59999, 1ULL << 40,
};

static uint64_t misc_fmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* element j of the row with `key` survives: the rule of src/ops/norm.c */
static bool misc_keep(uint64_t seed, uint64_t key, int64_t j, double p) {
    const uint64_t golden = 0x9e3779b97f4a7c15ULL;
    uint64_t base = misc_fmix64(seed ^ misc_fmix64(key + golden));
    uint64_t h = misc_fmix64(base + (uint64_t)(j + 1) * golden);
    return (double)(h >> 32) >= p * 4294967296.0;
}

static rt_tensor *build_dropout(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    rt_tensor *x = c->arg[2] ? rt_affine(g, in[0], 1.0f, 0.0f) : in[0];
    bool train = c->arg[0] != 0;
    int k = c->arg[1];
    if (k <= 0) return rt_dropout(g, x, c->f, MISC_DROPOUT_SEED, misc_row_keys, train);
    rt_tensor *part[2] = {rt_slice(g, x, 0, 0, k), rt_slice(g, x, 0, k, x->shape[0] - k)};
    part[0] = rt_dropout(g, part[0], c->f, MISC_DROPOUT_SEED, misc_row_keys, train);
    part[1] = rt_dropout(g, part[1], c->f, MISC_DROPOUT_SEED, misc_row_keys + k, train);
    return rt_concat(g, part, 2, 0);
}

static void ref_dropout(const tcase *c, const float *const *x, double *y) {
    int64_t rows = c->in[0].shape[0], cols = numel_of(c->in[0].ndim, c->in[0].shape) / rows;
    double p = (double)c->f;
    bool on = c->arg[0] && p > 0.0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            double v = (double)x[0][r * cols + j];
            bool keep = !on || misc_keep(MISC_DROPOUT_SEED, misc_row_keys[r], j, p);
            y[r * cols + j] = !keep ? 0.0 : on ? v / (1.0 - p) : v;
        }
}

/* ---- concat: nin inputs along arg[0] ---- */

static rt_tensor *build_concat(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_concat(g, in, c->nin, c->arg[0]);
}

static void ref_concat(const tcase *c, const float *const *x, double *y) {
    int axis = c->arg[0], idx[RT_MAX_DIMS];
    int64_t n = numel_of(c->out_ndim, c->out_shape);
    for (int64_t o = 0; o < n; o++) {
        misc_unravel(o, c->out_ndim, c->out_shape, idx);
        int i = 0;
        while (idx[axis] >= c->in[i].shape[axis]) idx[axis] -= c->in[i++].shape[axis];
        y[o] = x[i][misc_ravel(c->in[i].ndim, c->in[i].shape, idx)];
    }
}

/* ---- slice: arg = axis, start, len; or, with arg[7] = 1, split along
 * arg[0] into sizes arg[1..3] and join the pieces again as (2, 0, 1) ---- */

static rt_tensor *build_slice(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    if (!c->arg[7]) return rt_slice(g, in[0], c->arg[0], c->arg[1], c->arg[2]);
    rt_tensor *p[3];
    rt_split(g, in[0], c->arg[0], 3, &c->arg[1], p);
    rt_tensor *order[3] = {p[2], p[0], p[1]};
    return rt_concat(g, order, 3, c->arg[0]);
}

static void ref_slice(const tcase *c, const float *const *x, double *y) {
    int axis = c->arg[0], idx[RT_MAX_DIMS];
    int s0 = c->arg[1], s1 = c->arg[2], s2 = c->arg[3];
    int64_t n = numel_of(c->out_ndim, c->out_shape);
    for (int64_t o = 0; o < n; o++) {
        misc_unravel(o, c->out_ndim, c->out_shape, idx);
        if (!c->arg[7])
            idx[axis] += c->arg[1];
        else
            idx[axis] = idx[axis] < s2 ? idx[axis] + s0 + s1 : idx[axis] - s2;
        y[o] = x[0][misc_ravel(c->in[0].ndim, c->in[0].shape, idx)];
    }
}

/* ---- exp, log, softplus, affine; arg[0] = 1 puts exp in front of log (a
 * positive input) and rt_affine(f, f2) in front of softplus (a shift) ---- */

static rt_tensor *build_misc_unary(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    rt_tensor *x = in[0];
    switch (c->op) {
    case RT_OP_EXP: return rt_exp(g, x);
    case RT_OP_LOG: return rt_log(g, c->arg[0] ? rt_exp(g, x) : x);
    case RT_OP_SOFTPLUS: return rt_softplus(g, c->arg[0] ? rt_affine(g, x, c->f, c->f2) : x);
    case RT_OP_AFFINE: return rt_affine(g, x, c->f, c->f2);
    default: rt_fatal(__FILE__, __LINE__, "build_misc_unary: op %d", (int)c->op);
    }
}

static void ref_misc_unary(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)x[0][i], u;
        switch (c->op) {
        case RT_OP_EXP: y[i] = exp(v); break;
        case RT_OP_LOG: y[i] = log(c->arg[0] ? exp(v) : v); break;
        case RT_OP_SOFTPLUS:
            u = c->arg[0] ? (double)c->f * v + (double)c->f2 : v;
            y[i] = u > 20.0 ? u : log1p(exp(u));
            break;
        case RT_OP_AFFINE: y[i] = (double)c->f * v + (double)c->f2; break;
        default: rt_fatal(__FILE__, __LINE__, "ref_misc_unary: op %d", (int)c->op);
        }
    }
}

/* ---- scale: x (..., c) * s (c) ---- */

static rt_tensor *build_scale(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_scale(g, in[0], in[1]);
}

static void ref_scale(const tcase *c, const float *const *x, double *y) {
    int64_t n = numel_of(c->in[0].ndim, c->in[0].shape), ch = c->in[1].shape[0];
    for (int64_t i = 0; i < n; i++) y[i] = (double)x[0][i] * (double)x[1][i % ch];
}

/* ---- sum_axis over arg[0] ---- */

static rt_tensor *build_sum_axis(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_sum_axis(g, in[0], c->arg[0]);
}

static void ref_sum_axis(const tcase *c, const float *const *x, double *y) {
    const tin *t = &c->in[0];
    int axis = c->arg[0], idx[RT_MAX_DIMS], out[RT_MAX_DIMS];
    int64_t n = numel_of(t->ndim, t->shape);
    for (int64_t i = 0; i < numel_of(c->out_ndim, c->out_shape); i++) y[i] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        misc_unravel(i, t->ndim, t->shape, idx);
        for (int d = 0, k = 0; d < t->ndim; d++)
            if (d != axis) out[k++] = idx[d];
        y[misc_ravel(c->out_ndim, c->out_shape, out)] += (double)x[0][i];
    }
}

/* ---- the table ---- */

static tcase cases_misc[] = {
    /* ---- layernorm over d = 5 (7, 16 and 19 too): with and without weight
     * and bias, rows far from zero (+-100), small and large spreads ---- */
    {.op = RT_OP_LAYERNORM, .name = "w,b:x(4,5)w(5)b(5)", .nin = 3,
     .in = {{"x", X2(4, 5), true, DIST_NORMAL, 1}, {"w", X1(5), true, DIST_NORMAL, 1},
            {"b", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {4, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .negctl = true, .arg = {1, 1}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "plain:x(3,5)", .nin = 1,
     .in = {{"x", X2(3, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {0, 0}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "w-only:x(2,3,5)w(5)", .nin = 2,
     .in = {{"x", X3(2, 3, 5), true, DIST_NORMAL, 1}, {"w", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {1, 0}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "b-only:x(3,5)b(5)", .nin = 2,
     .in = {{"x", X2(3, 5), true, DIST_NORMAL, 1}, {"b", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {0, 1}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "rows+-100:x(4,5)w(5)b(5)", .nin = 3,
     .in = {{"x", X2(4, 5), true, DIST_ROWSHIFT, 1}, {"w", X1(5), true, DIST_NORMAL, 1},
            {"b", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {4, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {1, 1}, .f = 1e-5f},
    /* d = 19: two blocks of the kernels' 8 summation lanes and a tail of 3 */
    {.op = RT_OP_LAYERNORM, .name = "lanes:x(3,19)w(19)b(19)", .nin = 3,
     .in = {{"x", X2(3, 19), true, DIST_NORMAL, 1}, {"w", X1(19), true, DIST_NORMAL, 1},
            {"b", X1(19), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 19}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {1, 1}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "lanes:x(2,16)", .nin = 1,
     .in = {{"x", X2(2, 16), true, DIST_ROWSHIFT, 1}},
     .out_ndim = 2, .out_shape = {2, 16}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-3, .atol = 1e-3,
     .rtol = 1e-3, .arg = {0, 0}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "spread0.1:x(3,5)w(5)nograd,b(5)", .nin = 3,
     .in = {{"x", X2(3, 5), true, DIST_NORMAL, 0.1f}, {"w", X1(5), false, DIST_NORMAL, 1},
            {"b", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 5}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-4, .atol = 1e-2,
     .rtol = 1e-3, .arg = {1, 1}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "spread10:x(2,7)nograd,w(7),b(7)", .nin = 3,
     .in = {{"x", X2(2, 7), false, DIST_NORMAL, 10}, {"w", X1(7), true, DIST_NORMAL, 1},
            {"b", X1(7), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 7}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4, .arg = {1, 1}, .f = 1e-5f},
    {.op = RT_OP_LAYERNORM, .name = "spread10:x(2,7)", .nin = 1,
     .in = {{"x", X2(2, 7), true, DIST_NORMAL, 10}},
     .out_ndim = 2, .out_shape = {2, 7}, .nodes = 1, .build = build_layernorm,
     .ref = ref_layernorm, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 2e-2, .atol = 1e-4,
     .rtol = 1e-3, .arg = {0, 0}, .f = 1e-5f},
    /* ---- dropout (f = p) ---- */
    {.op = RT_OP_DROPOUT, .name = "p0.3:x(8,128)", .nin = 1,
     .in = {{"x", X2(8, 128), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {8, 128}, .nodes = 1, .build = build_dropout, .ref = ref_dropout,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true,
     .arg = {1}, .f = 0.3f},
    {.op = RT_OP_DROPOUT, .name = "p0.5:x(2,3,4)", .nin = 1,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 4}, .nodes = 1, .build = build_dropout,
     .ref = ref_dropout, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4, .arg = {1}, .f = 0.5f},
    {.op = RT_OP_DROPOUT, .name = "rows-split-2+4:x(6,5)p0.4", .nin = 1,
     .in = {{"x", X2(6, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {6, 5}, .nodes = 5, .build = build_dropout, .ref = ref_dropout,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {1, 2}, .f = 0.4f},
    {.op = RT_OP_DROPOUT, .name = "eval-identity:affine(x(3,4))p0.5,train=false", .nin = 1,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_dropout, .ref = ref_dropout,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {0, 0, 1}, .f = 0.5f},
    {.op = RT_OP_DROPOUT, .name = "p0-identity:affine(x(3,4))", .nin = 1,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_dropout, .ref = ref_dropout,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {1, 0, 1}, .f = 0.0f},
    /* ---- concat ---- */
    {.op = RT_OP_CONCAT, .name = "2:a(2,3)+b(4,3)axis0", .nin = 2,
     .in = {{"a", X2(2, 3), true, DIST_NORMAL, 1}, {"b", X2(4, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {6, 3}, .nodes = 1, .build = build_concat, .ref = ref_concat,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true,
     .arg = {0}},
    {.op = RT_OP_CONCAT, .name = "2:a(2,3,2)+b(2,1,2)axis1", .nin = 2,
     .in = {{"a", X3(2, 3, 2), true, DIST_NORMAL, 1}, {"b", X3(2, 1, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 4, 2}, .nodes = 1, .build = build_concat, .ref = ref_concat,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {1}},
    {.op = RT_OP_CONCAT, .name = "2:a(3,2)nograd+b(3,4)axis1(last)", .nin = 2,
     .in = {{"a", X2(3, 2), false, DIST_NORMAL, 1}, {"b", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 6}, .nodes = 1, .build = build_concat, .ref = ref_concat,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {1}},
    {.op = RT_OP_CONCAT, .name = "3:a(1,2,3)+b(2,2,3)nograd+c(1,2,3)axis0", .nin = 3,
     .in = {{"a", X3(1, 2, 3), true, DIST_NORMAL, 1}, {"b", X3(2, 2, 3), false, DIST_NORMAL, 1},
            {"c", X3(1, 2, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {4, 2, 3}, .nodes = 1, .build = build_concat, .ref = ref_concat,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {0}},
    {.op = RT_OP_CONCAT, .name = "3:a(2,2,1)+b(2,2,3)+c(2,2,2)axis2(last)", .nin = 3,
     .in = {{"a", X3(2, 2, 1), true, DIST_NORMAL, 1}, {"b", X3(2, 2, 3), true, DIST_NORMAL, 1},
            {"c", X3(2, 2, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 2, 6}, .nodes = 1, .build = build_concat, .ref = ref_concat,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {2}},
    {.op = RT_OP_CONCAT, .name = "3:a(2,1,2,2)+b(2,2,2,2)+c(2,1,2,2)axis1", .nin = 3,
     .in = {{"a", X4(2, 1, 2, 2), true, DIST_NORMAL, 1}, {"b", X4(2, 2, 2, 2), true, DIST_NORMAL, 1},
            {"c", X4(2, 1, 2, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 4, 2, 2}, .nodes = 1, .build = build_concat,
     .ref = ref_concat, .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {1}},
    /* ---- slice and split ---- */
    {.op = RT_OP_SLICE, .name = "x(3,6,2)axis1[0:2]", .nin = 1,
     .in = {{"x", X3(3, 6, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {3, 2, 2}, .nodes = 1, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true,
     .arg = {1, 0, 2}},
    {.op = RT_OP_SLICE, .name = "x(3,6,2)axis1[2:5]", .nin = 1,
     .in = {{"x", X3(3, 6, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {3, 3, 2}, .nodes = 1, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {1, 2, 3}},
    {.op = RT_OP_SLICE, .name = "x(2,3,7)axis2(last)[0:3]", .nin = 1,
     .in = {{"x", X3(2, 3, 7), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 3}, .nodes = 1, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {2, 0, 3}},
    {.op = RT_OP_SLICE, .name = "x(2,3,7)axis2(last)[3:6]", .nin = 1,
     .in = {{"x", X3(2, 3, 7), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 3}, .nodes = 1, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {2, 3, 3}},
    {.op = RT_OP_SLICE, .name = "x(5,3)axis0[1:4]", .nin = 1,
     .in = {{"x", X2(5, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 3}, .nodes = 1, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {0, 1, 3}},
    {.op = RT_OP_SLICE, .name = "split:x(2,7,3)axis1{2,4,1}->concat(2,0,1)", .nin = 1,
     .in = {{"x", X3(2, 7, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 7, 3}, .nodes = 4, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {1, 2, 4, 1, 0, 0, 0, 1}},
    {.op = RT_OP_SLICE, .name = "split:x(3,2,5)axis2(last){1,1,3}->concat(2,0,1)", .nin = 1,
     .in = {{"x", X3(3, 2, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {3, 2, 5}, .nodes = 4, .build = build_slice, .ref = ref_slice,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4,
     .arg = {2, 1, 1, 3, 0, 0, 0, 1}},
    /* ---- exp, log, softplus, affine ---- */
    {.op = RT_OP_EXP, .name = "x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 1.5f}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-3, .negctl = true},
    {.op = RT_OP_LOG, .name = "log(exp(x)):x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 2}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 2, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-3, .arg = {1}},
    {.op = RT_OP_SOFTPLUS, .name = "x(4,6)", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_NORMAL, 3}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-3},
    {.op = RT_OP_SOFTPLUS, .name = "around-threshold:affine(x(5,6),1,20)|x|>=0.1", .nin = 1,
     .in = {{"x", X2(5, 6), true, DIST_AWAY0, 8}},
     .out_ndim = 2, .out_shape = {5, 6}, .nodes = 2, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-3, .arg = {1}, .f = 1.0f, .f2 = 20.0f},
    /* rows near +100 (expf overflows above 88.7: the threshold must catch
     * them, in backward too) and near -100 (expf underflows to 0) */
    {.op = RT_OP_SOFTPLUS, .name = "far:x(4,5)+-100", .nin = 1,
     .in = {{"x", X2(4, 5), true, DIST_ROWSHIFT, 3}},
     .out_ndim = 2, .out_shape = {4, 5}, .nodes = 1, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-3},
    {.op = RT_OP_AFFINE, .name = "x(3,4)*-1.5+0.25", .nin = 1,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4, .f = -1.5f, .f2 = 0.25f},
    {.op = RT_OP_AFFINE, .name = "x(2,3,2)*2+0", .nin = 1,
     .in = {{"x", X3(2, 3, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 2}, .nodes = 1, .build = build_misc_unary,
     .ref = ref_misc_unary, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4, .f = 2.0f, .f2 = 0.0f},
    /* ---- scale ---- */
    {.op = RT_OP_SCALE, .name = "x(3,4)*s(4)", .nin = 2,
     .in = {{"x", X2(3, 4), true, DIST_NORMAL, 1}, {"s", X1(4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_scale, .ref = ref_scale,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true},
    {.op = RT_OP_SCALE, .name = "x(2,3,4)*s(4)nograd", .nin = 2,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}, {"s", X1(4), false, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 3, 4}, .nodes = 1, .build = build_scale, .ref = ref_scale,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    {.op = RT_OP_SCALE, .name = "x(5,3)nograd*s(3)", .nin = 2,
     .in = {{"x", X2(5, 3), false, DIST_NORMAL, 1}, {"s", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {5, 3}, .nodes = 1, .build = build_scale, .ref = ref_scale,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4},
    /* ---- sum_axis: each axis of a 3-D tensor, a 4-D one, a 1-D one to a scalar ---- */
    {.op = RT_OP_SUM_AXIS, .name = "x(2,3,4)axis0", .nin = 1,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 4}, .nodes = 1, .build = build_sum_axis, .ref = ref_sum_axis,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .negctl = true,
     .arg = {0}},
    {.op = RT_OP_SUM_AXIS, .name = "x(2,3,4)axis1", .nin = 1,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 4}, .nodes = 1, .build = build_sum_axis, .ref = ref_sum_axis,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {1}},
    {.op = RT_OP_SUM_AXIS, .name = "x(2,3,4)axis2", .nin = 1,
     .in = {{"x", X3(2, 3, 4), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {2, 3}, .nodes = 1, .build = build_sum_axis, .ref = ref_sum_axis,
     .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {2}},
    {.op = RT_OP_SUM_AXIS, .name = "x(2,2,3,2)axis2", .nin = 1,
     .in = {{"x", X4(2, 2, 3, 2), true, DIST_NORMAL, 1}},
     .out_ndim = 3, .out_shape = {2, 2, 2}, .nodes = 1, .build = build_sum_axis,
     .ref = ref_sum_axis, .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4,
     .rtol = 1e-4, .arg = {2}},
    {.op = RT_OP_SUM_AXIS, .name = "x(5)axis0->scalar", .nin = 1,
     .in = {{"x", X1(5), true, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_sum_axis, .ref = ref_sum_axis, .fwd_atol = 1e-6,
     .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4, .arg = {0}},
    {.name = NULL},
};
