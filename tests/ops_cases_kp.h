/* ops_cases_kp.h - gradcheck and parity cases for the coordinate heads' ops
 * (src/ops/keypoint.c), included by test_ops.c after its tcase type,
 * builders and X1..X4 macros.
 *   - abs and leaky_relu are piecewise linear: inputs stay >= 0.1 from the
 *     kink (DIST_AWAY0) and eps 1e-2 < 0.1, so differences are exact.
 *   - div is smooth; its denominator is b^2 + 1 >= 1 (built from b by mul and
 *     affine, both checked elsewhere), so eps 1e-2 keeps the truncation
 *     error near 1e-4 of the gradient.
 *   - log_softmax is smooth on the scale of its logits (amp 2): as softmax.
 *   - kl_div is linear in logp: exact. Its target is b^2 with every third
 *     element 0 (torch adds 0 for those), and takes no gradient.
 */

static rt_tensor *build_abs(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_abs(g, in[0]);
}

static rt_tensor *build_leaky(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    return rt_leaky_relu(g, in[0], c->f);
}

static void ref_pointwise(const tcase *c, const float *const *x, double *y) {
    for (int64_t i = 0; i < numel_of(c->in[0].ndim, c->in[0].shape); i++) {
        double v = x[0][i];
        y[i] = c->op == RT_OP_ABS ? fabs(v) : v > 0 ? v : (double)c->f * v;
    }
}

static rt_tensor *build_div(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_div(g, in[0], rt_affine(g, rt_mul(g, in[1], in[1]), 1.0f, 1.0f));
}

static void ref_div(const tcase *c, const float *const *x, double *y) {
    for (int64_t i = 0; i < numel_of(c->in[0].ndim, c->in[0].shape); i++) {
        float b = x[1][i] * x[1][i] * 1.0f + 1.0f; /* the float denominator the op sees */
        y[i] = (double)x[0][i] / (double)b;
    }
}

static rt_tensor *build_log_softmax(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    (void)c;
    return rt_log_softmax(g, in[0]);
}

static void ref_log_softmax(const tcase *c, const float *const *x, double *y) {
    int64_t d = c->in[0].shape[c->in[0].ndim - 1], n = numel_of(c->in[0].ndim, c->in[0].shape);
    for (int64_t r = 0; r < n / d; r++) {
        double mx = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < d; j++) mx = fmax(mx, x[0][r * d + j]);
        for (int64_t j = 0; j < d; j++) s += exp(x[0][r * d + j] - mx);
        for (int64_t j = 0; j < d; j++) y[r * d + j] = x[0][r * d + j] - mx - log(s);
    }
}

/* the target of a kl_div case from its second input: b^2, every third element 0 */
static float kl_target(float b, int64_t i) { return i % 3 == 2 ? 0.0f : b * b; }

static rt_tensor *build_kl_div(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    rt_tensor *t = rt_graph_tensor(g, in[1]->ndim, in[1]->shape, false);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = kl_target(in[1]->data[i], i);
    return rt_kl_div(g, in[0], t, c->scale);
}

static void ref_kl_div(const tcase *c, const float *const *x, double *y) {
    double s = 0.0;
    for (int64_t i = 0; i < numel_of(c->in[0].ndim, c->in[0].shape); i++) {
        double t = kl_target(x[1][i], i);
        if (t > 0) s += t * (log(t) - (double)x[0][i]);
    }
    y[0] = s * (double)c->scale;
}

#define EXACT .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4
#define SMOOTH .fwd_atol = 1e-6, .fwd_rtol = 1e-5, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-3
static tcase cases_kp[] = {
    {.op = RT_OP_ABS, .name = "x(4,6)|x|>=0.1", .nin = 1, .in = {{"x", X2(4, 6), true, DIST_AWAY0, 1}},
     .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1, .build = build_abs, .ref = ref_pointwise,
     .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-2, .atol = 1e-4, .rtol = 1e-4, .negctl = true},
    {.op = RT_OP_LEAKY_RELU, .name = "slope0.01:x(4,6)|x|>=0.1", .nin = 1,
     .in = {{"x", X2(4, 6), true, DIST_AWAY0, 1}}, .out_ndim = 2, .out_shape = {4, 6}, .nodes = 1,
     .build = build_leaky, .ref = ref_pointwise, .fwd_atol = 1e-7, .fwd_rtol = 1e-6, .eps = 1e-2, .atol = 1e-4,
     .rtol = 1e-4, .f = 0.01f, .negctl = true},
    {.op = RT_OP_DIV, .name = "a(3,5)/(b(3,5)^2+1)", .nin = 2,
     .in = {{"a", X2(3, 5), true, DIST_NORMAL, 1}, {"b", X2(3, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 2, .out_shape = {3, 5}, .nodes = 3, .build = build_div, .ref = ref_div, SMOOTH, .negctl = true},
    {.op = RT_OP_LOG_SOFTMAX, .name = "x(3,7)", .nin = 1, .in = {{"x", X2(3, 7), true, DIST_NORMAL, 2}},
     .out_ndim = 2, .out_shape = {3, 7}, .nodes = 1, .build = build_log_softmax, .ref = ref_log_softmax, SMOOTH,
     .negctl = true},
    {.op = RT_OP_LOG_SOFTMAX, .name = "rows+-100:x(4,5)", .nin = 1, .in = {{"x", X2(4, 5), true, DIST_ROWSHIFT, 1}},
     .out_ndim = 2, .out_shape = {4, 5}, .nodes = 1, .build = build_log_softmax, .ref = ref_log_softmax, SMOOTH},
    {.op = RT_OP_KL_DIV, .name = "logp(4,9)t(4,9)", .nin = 2,
     .in = {{"logp", X2(4, 9), true, DIST_NORMAL, 1}, {"t", X2(4, 9), false, DIST_NORMAL, 1}},
     .out_ndim = 0, .nodes = 1, .build = build_kl_div, .ref = ref_kl_div, EXACT, .scale = 0.25f, .negctl = true},
    {0},
};
#undef EXACT
#undef SMOOTH
