/* ops_cases_conv.h - gradcheck and parity cases for src/ops/conv.c, included
 * by test_ops.c after its tcase type, builders and X1..X4 macros.
 *
 * arg layout, the same as the node's and tests/reference/ops_conv.py's:
 *   conv2d               {stride h, stride w, pad h, pad w, dilation h, dilation w}
 *   maxpool2d, avgpool2d {kernel, stride, pad}
 *
 * Tolerances (the budget at the top of test_ops.c):
 * - conv2d is linear in each of x, w and bias, and avgpool2d in x, so central
 *   differences have no truncation error: eps = 1e-1 and only output rounding
 *   remains, u*|out|*|R| ~ 3e-7 on each of the <= ~50 outputs one input
 *   reaches, i.e. ~1e-5 after dividing by 2 eps, against atol 1e-4 + rtol 1e-4.
 *   Forwards are sums of <= 27 products of N(0,1) values in float: error
 *   ~1e-6 against 1e-5 + 1e-5*|ref|.
 * - maxpool2d copies one input per window, so its forward is exact (tolerance
 *   0) and so is the difference quotient while no perturbation changes a
 *   window's winner (test_ops divides by the float step actually taken); the
 *   analytic side only rounds where a pixel wins several overlapping windows
 *   and sums their R in float, ~1e-7 against atol 1e-6 + rtol 1e-6. The
 *   kink is kept away by construction: inputs are DIST_DISTINCT (a random
 *   permutation of values spaced 0.01 apart) and eps is 1e-3, so no
 *   perturbation can change a window's winner. ref_maxpool2d still checks
 *   every window's gap on the data it gets and fails loudly (NaN, with the
 *   reason on stderr) if a future case breaks that.
 */

/* ---- builders ---- */

static rt_tensor *build_conv2d(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    const rt_conv2d_args a = {.stride = {c->arg[0], c->arg[1]},
                              .pad = {c->arg[2], c->arg[3]},
                              .dilation = {c->arg[4], c->arg[5]}};
    return rt_conv2d(g, in[0], in[1], c->nin > 2 ? in[2] : NULL, &a);
}

static rt_tensor *build_pool2d(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    if (c->op == RT_OP_MAXPOOL2D) return rt_maxpool2d(g, in[0], c->arg[0], c->arg[1], c->arg[2]);
    return rt_avgpool2d(g, in[0], c->arg[0], c->arg[1], c->arg[2]);
}

/* ---- double-precision references: direct loops over the definitions ---- */

/* y[n][o][oy][ox] = bias[o] + sum_{i,ki,kj} x[n][i][oy*sh - ph + ki*dh][ox*sw - pw + kj*dw]
 * * w[o][i][ki][kj], out-of-range pixels being 0; the output size is the case's. */
static void ref_conv2d(const tcase *c, const float *const *x, double *y) {
    const int *a = c->arg;
    int b = c->in[0].shape[0], ci = c->in[0].shape[1], h = c->in[0].shape[2],
        w = c->in[0].shape[3];
    int co = c->in[1].shape[0], kh = c->in[1].shape[2], kw = c->in[1].shape[3];
    int oh = c->out_shape[2], ow = c->out_shape[3];
    for (int n = 0; n < b; n++)
        for (int o = 0; o < co; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = c->nin > 2 ? (double)x[2][o] : 0.0;
                    for (int i = 0; i < ci; i++)
                        for (int ki = 0; ki < kh; ki++)
                            for (int kj = 0; kj < kw; kj++) {
                                int iy = oy * a[0] - a[2] + ki * a[4];
                                int ix = ox * a[1] - a[3] + kj * a[5];
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double)x[0][((n * ci + i) * h + iy) * w + ix] *
                                     (double)x[1][((o * ci + i) * kh + ki) * kw + kj];
                            }
                    y[((n * co + o) * oh + oy) * ow + ox] = s;
                }
}

/* Max (real pixels only: -inf padding never wins) or mean over k*k with the
 * padding counted as 0. For max, a window whose winner is within 2 eps of
 * another value gives NaN: the gradcheck there would measure a near-tie. */
static void ref_pool2d(const tcase *c, const float *const *x, double *y) {
    int planes = c->in[0].shape[0] * c->in[0].shape[1], h = c->in[0].shape[2],
        w = c->in[0].shape[3];
    int oh = c->out_shape[2], ow = c->out_shape[3], k = c->arg[0], s = c->arg[1], pad = c->arg[2];
    bool is_max = c->op == RT_OP_MAXPOOL2D;
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double best = -INFINITY, second = -INFINITY, sum = 0.0;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        int iy = oy * s - pad + ky, ix = ox * s - pad + kx;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                        double v = (double)x[0][(p * h + iy) * w + ix];
                        sum += v;
                        if (v > best) {
                            second = best;
                            best = v;
                        } else if (v > second) {
                            second = v;
                        }
                    }
                double *out = &y[(p * oh + oy) * ow + ox];
                *out = is_max ? best : sum / (double)(k * k);
                if (is_max && best - second <= 2.0 * c->eps) {
                    fprintf(stderr, "ref_pool2d %s: window (%d,%d,%d) has two values within 2 eps; "
                            "this seed cannot gradcheck max pooling\n", c->name, p, oy, ox);
                    *out = NAN;
                }
            }
}

/* ---- cases ---- */

#define CONV_ARGS(sh, sw, ph, pw, dh, dw) .arg = {sh, sw, ph, pw, dh, dw}
#define CONV_TOL .fwd_atol = 1e-5, .fwd_rtol = 1e-5, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4
#define MAXPOOL_TOL .fwd_atol = 0, .fwd_rtol = 0, .eps = 1e-3, .atol = 1e-6, .rtol = 1e-6
#define AVGPOOL_TOL .fwd_atol = 1e-6, .fwd_rtol = 1e-6, .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4

static tcase cases_conv[] = {
    /* ---- conv2d ---- */
    {.op = RT_OP_CONV2D, .name = "bias:x(2,3,5,5)w(4,3,3,3)b(4)", .nin = 3,
     .in = {{"x", X4(2, 3, 5, 5), true, DIST_NORMAL, 1}, {"w", X4(4, 3, 3, 3), true, DIST_NORMAL, 1},
            {"b", X1(4), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 4, 3, 3}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 0, 0, 1, 1), .negctl = true},
    {.op = RT_OP_CONV2D, .name = "nobias:pad1:x(2,2,5,6)w(3,2,3,3)", .nin = 2,
     .in = {{"x", X4(2, 2, 5, 6), true, DIST_NORMAL, 1}, {"w", X4(3, 2, 3, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 5, 6}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 1, 1, 1, 1)},
    {.op = RT_OP_CONV2D, .name = "stride2:pad1:x(2,2,7,7)w(3,2,3,3)b(3)", .nin = 3,
     .in = {{"x", X4(2, 2, 7, 7), true, DIST_NORMAL, 1}, {"w", X4(3, 2, 3, 3), true, DIST_NORMAL, 1},
            {"b", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 4, 4}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(2, 2, 1, 1, 1, 1)},
    {.op = RT_OP_CONV2D, .name = "pad2:x(1,2,4,5)w(2,2,3,3)b(2)", .nin = 3,
     .in = {{"x", X4(1, 2, 4, 5), true, DIST_NORMAL, 1}, {"w", X4(2, 2, 3, 3), true, DIST_NORMAL, 1},
            {"b", X1(2), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 6, 7}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 2, 2, 1, 1)},
    /* border rows and columns of the output see only padding: they are the bias */
    {.op = RT_OP_CONV2D, .name = "pad2>kernel:x(1,2,3,4)w(2,2,2,2)b(2)", .nin = 3,
     .in = {{"x", X4(1, 2, 3, 4), true, DIST_NORMAL, 1}, {"w", X4(2, 2, 2, 2), true, DIST_NORMAL, 1},
            {"b", X1(2), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 6, 7}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 2, 2, 1, 1)},
    {.op = RT_OP_CONV2D, .name = "dilation2:x(2,2,7,6)w(2,2,3,3)b(2)", .nin = 3,
     .in = {{"x", X4(2, 2, 7, 6), true, DIST_NORMAL, 1}, {"w", X4(2, 2, 3, 3), true, DIST_NORMAL, 1},
            {"b", X1(2), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 2, 3, 2}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 0, 0, 2, 2)},
    {.op = RT_OP_CONV2D, .name = "dilation2:pad2:x(1,2,5,5)w(3,2,3,3)", .nin = 2,
     .in = {{"x", X4(1, 2, 5, 5), true, DIST_NORMAL, 1}, {"w", X4(3, 2, 3, 3), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 3, 5, 5}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 2, 2, 2, 2)},
    /* each of the (h,w) arguments differs, so a swapped pair shows */
    {.op = RT_OP_CONV2D, .name = "kernel3x2:stride(2,1):pad(1,0):dil(1,2):x(2,2,6,7)w(3,2,3,2)b(3)",
     .nin = 3,
     .in = {{"x", X4(2, 2, 6, 7), true, DIST_NORMAL, 1}, {"w", X4(3, 2, 3, 2), true, DIST_NORMAL, 1},
            {"b", X1(3), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 3, 5}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(2, 1, 1, 0, 1, 2)},
    {.op = RT_OP_CONV2D, .name = "first-layer:x(2,1,6,6)nograd,w(4,1,3,3),b(4),pad1", .nin = 3,
     .in = {{"x", X4(2, 1, 6, 6), false, DIST_NORMAL, 1}, {"w", X4(4, 1, 3, 3), true, DIST_NORMAL, 1},
            {"b", X1(4), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 4, 6, 6}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 1, 1, 1, 1)},
    {.op = RT_OP_CONV2D, .name = "frozen:x(2,2,5,5),w(3,2,2,2)nograd,b(3)nograd,stride(1,2)",
     .nin = 3,
     .in = {{"x", X4(2, 2, 5, 5), true, DIST_NORMAL, 1}, {"w", X4(3, 2, 2, 2), false, DIST_NORMAL, 1},
            {"b", X1(3), false, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 4, 2}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 2, 0, 0, 1, 1)},
    /* 1x1, stride 1, no padding: the kernels use x as the column matrix */
    {.op = RT_OP_CONV2D, .name = "1x1-direct:x(2,3,4,5)w(4,3,1,1)b(4)", .nin = 3,
     .in = {{"x", X4(2, 3, 4, 5), true, DIST_NORMAL, 1}, {"w", X4(4, 3, 1, 1), true, DIST_NORMAL, 1},
            {"b", X1(4), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 4, 4, 5}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(1, 1, 0, 0, 1, 1)},
    {.op = RT_OP_CONV2D, .name = "1x1:stride2:x(1,3,5,5)w(2,3,1,1)", .nin = 2,
     .in = {{"x", X4(1, 3, 5, 5), true, DIST_NORMAL, 1}, {"w", X4(2, 3, 1, 1), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 3, 3}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(2, 2, 0, 0, 1, 1)},
    /* stride > kernel: some pixels feed no output and must get a zero gradient */
    {.op = RT_OP_CONV2D, .name = "stride3>kernel:x(1,2,7,8)w(2,2,2,2)b(2)", .nin = 3,
     .in = {{"x", X4(1, 2, 7, 8), true, DIST_NORMAL, 1}, {"w", X4(2, 2, 2, 2), true, DIST_NORMAL, 1},
            {"b", X1(2), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 2, 3}, .nodes = 1, .build = build_conv2d,
     .ref = ref_conv2d, CONV_TOL, CONV_ARGS(3, 3, 0, 0, 1, 1)},
    /* ---- maxpool2d (distinct values: see the top of the file) ---- */
    /* odd sizes: the last row and column belong to no window (ceil_mode false) */
    {.op = RT_OP_MAXPOOL2D, .name = "k2s2:x(2,2,5,7)", .nin = 1,
     .in = {{"x", X4(2, 2, 5, 7), true, DIST_DISTINCT, 1}},
     .out_ndim = 4, .out_shape = {2, 2, 2, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, MAXPOOL_TOL, .arg = {2, 2, 0}, .negctl = true},
    /* 2x2 rows run in blocks of 8 windows, the last block past the row's end:
     * 17 windows (2 blocks and 1) and 16 (2 exact) per row */
    {.op = RT_OP_MAXPOOL2D, .name = "k2s2:x(2,3,6,34)", .nin = 1,
     .in = {{"x", X4(2, 3, 6, 34), true, DIST_DISTINCT, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 3, 17}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, MAXPOOL_TOL, .arg = {2, 2, 0}},
    {.op = RT_OP_MAXPOOL2D, .name = "k2s2:x(1,2,4,32)", .nin = 1,
     .in = {{"x", X4(1, 2, 4, 32), true, DIST_DISTINCT, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 2, 16}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, MAXPOOL_TOL, .arg = {2, 2, 0}},
    {.op = RT_OP_MAXPOOL2D, .name = "k3s2p1:x(1,2,5,5)", .nin = 1,
     .in = {{"x", X4(1, 2, 5, 5), true, DIST_DISTINCT, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 3, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, MAXPOOL_TOL, .arg = {3, 2, 1}},
    /* overlapping windows: one pixel can win two and collect both gradients */
    {.op = RT_OP_MAXPOOL2D, .name = "k2s1:x(1,2,3,4)", .nin = 1,
     .in = {{"x", X4(1, 2, 3, 4), true, DIST_DISTINCT, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 2, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, MAXPOOL_TOL, .arg = {2, 1, 0}},
    /* ---- avgpool2d (count_include_pad) ---- */
    {.op = RT_OP_AVGPOOL2D, .name = "k2s2:x(2,3,4,6)", .nin = 1,
     .in = {{"x", X4(2, 3, 4, 6), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {2, 3, 2, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, AVGPOOL_TOL, .arg = {2, 2, 0}},
    {.op = RT_OP_AVGPOOL2D, .name = "k3s2p1:x(1,2,5,6)", .nin = 1,
     .in = {{"x", X4(1, 2, 5, 6), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 3, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, AVGPOOL_TOL, .arg = {3, 2, 1}},
    {.op = RT_OP_AVGPOOL2D, .name = "k3s1p1:x(1,2,4,5)", .nin = 1,
     .in = {{"x", X4(1, 2, 4, 5), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 2, 4, 5}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, AVGPOOL_TOL, .arg = {3, 1, 1}},
    {.op = RT_OP_AVGPOOL2D, .name = "k2s3:x(1,1,5,8)", .nin = 1,
     .in = {{"x", X4(1, 1, 5, 8), true, DIST_NORMAL, 1}},
     .out_ndim = 4, .out_shape = {1, 1, 2, 3}, .nodes = 1, .build = build_pool2d,
     .ref = ref_pool2d, AVGPOOL_TOL, .arg = {2, 3, 0}},
    {.name = NULL},
};

#undef CONV_ARGS
#undef CONV_TOL
#undef MAXPOOL_TOL
#undef AVGPOOL_TOL
