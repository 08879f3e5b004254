/* ops_cases_resample.h - gradcheck and parity cases for src/ops/resample.c, included
 * by test_ops.c after its tcase type, builders and X1..X4 macros.
 *
 * Arguments: upsampling arg = {sh, sw, align_corners}; pixel_unshuffle arg =
 * {r}; pixel_shuffle arg = {r, r0}: with r0 > 0 the input is first
 * pixel-unshuffled by r0 (a two-node composition). A case with a second input
 * y adds it to the op's output: that is how an op input without a gradient is
 * tested (the op then records no node; the add records one). The references
 * below work per output element from the index formulas, in double.
 *
 * Tolerances: every op here is linear in x, so central differences at
 * eps 1e-1 have no truncation error; L carries float rounding of the few
 * outputs one input feeds (<= 41 here), <= ~1e-5 after dividing by 2 eps,
 * against atol 1e-4 + rtol 1e-4 (err/tol <= 0.06 over 100 seeds). Nearest and
 * the shuffles copy values, so their forward is exact (tolerance 0); bilinear
 * blends four values in float with weights rounded once from double: a few
 * ulp of |x| <= ~5, <= 3e-7 over 100 seeds, inside 1e-6 + 1e-5*|ref|
 * (err/tol <= 0.10). A wrong index or weight is off by O(1e-1) or more. */

static rt_tensor *rs_build(rt_graph *g, rt_tensor *const *in, const tcase *c) {
    const int *a = c->arg;
    rt_tensor *y;
    switch (c->op) {
    case RT_OP_UPSAMPLE_NEAREST: y = rt_upsample_nearest(g, in[0], a[0], a[1]); break;
    case RT_OP_UPSAMPLE_BILINEAR: y = rt_upsample_bilinear(g, in[0], a[0], a[1], a[2] != 0); break;
    case RT_OP_PIXEL_SHUFFLE:
        y = rt_pixel_shuffle(g, a[1] > 0 ? rt_pixel_unshuffle(g, in[0], a[1]) : in[0], a[0]);
        break;
    case RT_OP_PIXEL_UNSHUFFLE: y = rt_pixel_unshuffle(g, in[0], a[0]); break;
    default: rt_fatal(__FILE__, __LINE__, "rs_build: op %d is not a resample op", (int)c->op);
    }
    return c->nin > 1 ? rt_add(g, y, in[1]) : y;
}

/* Source coordinate of output index o along an axis of in -> out = in*s, as
 * torch.nn.Upsample(mode='bilinear'): split into i0, i1 and the weight l of i1. */
static void rs_bilinear_src(int o, int in, int out, int s, bool align, int *i0, int *i1, double *l) {
    double src = align ? (out > 1 ? (double)o * (in - 1) / (out - 1) : 0.0)
                       : fmax(((double)o + 0.5) / s - 0.5, 0.0);
    int i = (int)floor(src);
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i + 1 < in ? i + 1 : in - 1;
    *l = src - i;
}

/* torch's nearest source index (aten UpSample.h nearest_idx) for out = in*s:
 * o for s = 1, o >> 1 for s = 2, otherwise floorf(o * (float)(1/s)) clamped to
 * in-1. It is o / s except where 1/s rounds down in float (s = 41: o = 41
 * reads index 0), which the two s=41 cases pin. */
static int rs_nearest_src(int o, int in, int s) {
    if (s <= 2) return o / s;
    int i = (int)floorf((float)o * (float)(1.0 / s));
    return i < in - 1 ? i : in - 1;
}

/* x (b,c,h,w) -> y (b, c/(r*r), h*r, w*r): y[n,k,Y,X] = x[n, k*r*r + (Y%r)*r + X%r, Y/r, X/r] */
static void rs_ref_shuffle(const double *x, double *y, int b, int c, int h, int w, int r) {
    int oc = c / (r * r), oh = h * r, ow = w * r;
    for (int n = 0; n < b; n++)
        for (int k = 0; k < oc; k++)
            for (int Y = 0; Y < oh; Y++)
                for (int X = 0; X < ow; X++) {
                    int ch = k * r * r + (Y % r) * r + X % r;
                    y[(((int64_t)n * oc + k) * oh + Y) * ow + X] =
                        x[(((int64_t)n * c + ch) * h + Y / r) * w + X / r];
                }
}

/* x (b,c,h,w) -> y (b, c*r*r, h/r, w/r): y[n, k*r*r + i*r + j, y, x] = x[n, k, y*r+i, x*r+j] */
static void rs_ref_unshuffle(const double *x, double *y, int b, int c, int h, int w, int r) {
    int oc = c * r * r, oh = h / r, ow = w / r;
    for (int n = 0; n < b; n++)
        for (int q = 0; q < oc; q++)
            for (int Y = 0; Y < oh; Y++)
                for (int X = 0; X < ow; X++) {
                    int k = q / (r * r), i = (q / r) % r, j = q % r;
                    y[(((int64_t)n * oc + q) * oh + Y) * ow + X] =
                        x[(((int64_t)n * c + k) * h + Y * r + i) * w + X * r + j];
                }
}

static void rs_ref(const tcase *c, const float *const *x, double *y) {
    const int *a = c->arg, *s = c->in[0].shape;
    int b = s[0], ch = s[1], h = s[2], w = s[3];
    int64_t nx = numel_of(4, s), ny = numel_of(c->out_ndim, c->out_shape);
    double *xd = rt_malloc((size_t)nx * sizeof *xd);
    for (int64_t i = 0; i < nx; i++) xd[i] = (double)x[0][i];
    int oh = c->out_shape[2], ow = c->out_shape[3];
    switch (c->op) {
    case RT_OP_UPSAMPLE_NEAREST:
        for (int64_t p = 0; p < (int64_t)b * ch; p++)
            for (int Y = 0; Y < oh; Y++)
                for (int X = 0; X < ow; X++)
                    y[(p * oh + Y) * ow + X] =
                        xd[(p * h + rs_nearest_src(Y, h, a[0])) * w + rs_nearest_src(X, w, a[1])];
        break;
    case RT_OP_UPSAMPLE_BILINEAR:
        for (int64_t p = 0; p < (int64_t)b * ch; p++)
            for (int Y = 0; Y < oh; Y++)
                for (int X = 0; X < ow; X++) {
                    int iy0, iy1, ix0, ix1;
                    double ly, lx;
                    rs_bilinear_src(Y, h, oh, a[0], a[2] != 0, &iy0, &iy1, &ly);
                    rs_bilinear_src(X, w, ow, a[1], a[2] != 0, &ix0, &ix1, &lx);
                    const double *pl = xd + p * h * w;
                    y[(p * oh + Y) * ow + X] =
                        (1 - ly) * ((1 - lx) * pl[iy0 * w + ix0] + lx * pl[iy0 * w + ix1]) +
                        ly * ((1 - lx) * pl[iy1 * w + ix0] + lx * pl[iy1 * w + ix1]);
                }
        break;
    case RT_OP_PIXEL_SHUFFLE:
        if (a[1] > 0) {
            double *z = rt_malloc((size_t)nx * sizeof *z);
            rs_ref_unshuffle(xd, z, b, ch, h, w, a[1]);
            rs_ref_shuffle(z, y, b, ch * a[1] * a[1], h / a[1], w / a[1], a[0]);
            rt_free(z);
        } else {
            rs_ref_shuffle(xd, y, b, ch, h, w, a[0]);
        }
        break;
    case RT_OP_PIXEL_UNSHUFFLE: rs_ref_unshuffle(xd, y, b, ch, h, w, a[0]); break;
    default: rt_fatal(__FILE__, __LINE__, "rs_ref: op %d", (int)c->op);
    }
    if (c->nin > 1)
        for (int64_t i = 0; i < ny; i++) y[i] += (double)x[1][i];
    rt_free(xd);
}

#define RS_IN(b, c, h, w) {"x", X4(b, c, h, w), true, DIST_NORMAL, 1}
#define RS_IN_NOGRAD(b, c, h, w) {"x", X4(b, c, h, w), false, DIST_NORMAL, 1}
#define RS_Y(b, c, h, w) {"y", X4(b, c, h, w), true, DIST_NORMAL, 1}
/* RS_COPY: the forward copies values, tolerance 0; RS_ARITH: float arithmetic
 * (bilinear blends, the add of y) */
#define RS_COPY .build = rs_build, .ref = rs_ref, .fwd_atol = 0, .fwd_rtol = 0, \
                .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4
#define RS_ARITH .build = rs_build, .ref = rs_ref, .fwd_atol = 1e-6, .fwd_rtol = 1e-5, \
                 .eps = 1e-1, .atol = 1e-4, .rtol = 1e-4

static tcase cases_resample[] = {
    /* ---- upsample nearest: arg {sh, sw} ---- */
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "x(2,3,3,4),s=(2,2)", .nin = 1,
     .in = {RS_IN(2, 3, 3, 4)}, .out_ndim = 4, .out_shape = {2, 3, 6, 8}, .nodes = 1, RS_COPY,
     .arg = {2, 2}, .negctl = true},
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "x(1,2,3,4),s=(2,3)", .nin = 1,
     .in = {RS_IN(1, 2, 3, 4)}, .out_ndim = 4, .out_shape = {1, 2, 6, 12}, .nodes = 1, RS_COPY,
     .arg = {2, 3}},
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "x(2,1,4,3),s=(3,1)", .nin = 1,
     .in = {RS_IN(2, 1, 4, 3)}, .out_ndim = 4, .out_shape = {2, 1, 12, 3}, .nodes = 1, RS_COPY,
     .arg = {3, 1}},
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "torch-float-index:x(1,2,2,3),s=(41,1)", .nin = 1,
     .in = {RS_IN(1, 2, 2, 3)}, .out_ndim = 4, .out_shape = {1, 2, 82, 3}, .nodes = 1, RS_COPY,
     .arg = {41, 1}},
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "torch-float-index:x(1,1,3,2),s=(1,41)", .nin = 1,
     .in = {RS_IN(1, 1, 3, 2)}, .out_ndim = 4, .out_shape = {1, 1, 3, 82}, .nodes = 1, RS_COPY,
     .arg = {1, 41}},
    {.op = RT_OP_UPSAMPLE_NEAREST, .name = "x(1,2,3,3)nograd,s=(2,2)+y(1,2,6,6)", .nin = 2,
     .in = {RS_IN_NOGRAD(1, 2, 3, 3), RS_Y(1, 2, 6, 6)}, .out_ndim = 4, .out_shape = {1, 2, 6, 6},
     .nodes = 1, RS_ARITH, .arg = {2, 2}},
    /* ---- upsample bilinear: arg {sh, sw, align_corners} ---- */
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(2,2,3,4),s=(2,2),align=0", .nin = 1,
     .in = {RS_IN(2, 2, 3, 4)}, .out_ndim = 4, .out_shape = {2, 2, 6, 8}, .nodes = 1, RS_ARITH,
     .arg = {2, 2, 0}, .negctl = true},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(2,2,3,4),s=(2,2),align=1", .nin = 1,
     .in = {RS_IN(2, 2, 3, 4)}, .out_ndim = 4, .out_shape = {2, 2, 6, 8}, .nodes = 1, RS_ARITH,
     .arg = {2, 2, 1}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,2,3,4),s=(3,3),align=0", .nin = 1,
     .in = {RS_IN(1, 2, 3, 4)}, .out_ndim = 4, .out_shape = {1, 2, 9, 12}, .nodes = 1, RS_ARITH,
     .arg = {3, 3, 0}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,2,3,4),s=(3,3),align=1", .nin = 1,
     .in = {RS_IN(1, 2, 3, 4)}, .out_ndim = 4, .out_shape = {1, 2, 9, 12}, .nodes = 1, RS_ARITH,
     .arg = {3, 3, 1}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(2,1,3,4),s=(2,3),align=0", .nin = 1,
     .in = {RS_IN(2, 1, 3, 4)}, .out_ndim = 4, .out_shape = {2, 1, 6, 12}, .nodes = 1, RS_ARITH,
     .arg = {2, 3, 0}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(2,1,3,4),s=(2,3),align=1", .nin = 1,
     .in = {RS_IN(2, 1, 3, 4)}, .out_ndim = 4, .out_shape = {2, 1, 6, 12}, .nodes = 1, RS_ARITH,
     .arg = {2, 3, 1}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "h=1:x(1,2,1,3),s=(3,2),align=0", .nin = 1,
     .in = {RS_IN(1, 2, 1, 3)}, .out_ndim = 4, .out_shape = {1, 2, 3, 6}, .nodes = 1, RS_ARITH,
     .arg = {3, 2, 0}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "h=1:x(1,2,1,3),s=(3,2),align=1", .nin = 1,
     .in = {RS_IN(1, 2, 1, 3)}, .out_ndim = 4, .out_shape = {1, 2, 3, 6}, .nodes = 1, RS_ARITH,
     .arg = {3, 2, 1}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,1,2,3),s=(4,5),align=0", .nin = 1,
     .in = {RS_IN(1, 1, 2, 3)}, .out_ndim = 4, .out_shape = {1, 1, 8, 15}, .nodes = 1, RS_ARITH,
     .arg = {4, 5, 0}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,1,2,3),s=(4,5),align=1", .nin = 1,
     .in = {RS_IN(1, 1, 2, 3)}, .out_ndim = 4, .out_shape = {1, 1, 8, 15}, .nodes = 1, RS_ARITH,
     .arg = {4, 5, 1}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,1,4,2),s=(1,3),align=0", .nin = 1,
     .in = {RS_IN(1, 1, 4, 2)}, .out_ndim = 4, .out_shape = {1, 1, 4, 6}, .nodes = 1, RS_ARITH,
     .arg = {1, 3, 0}},
    {.op = RT_OP_UPSAMPLE_BILINEAR, .name = "x(1,2,3,4)nograd,s=(2,2),align=0+y(1,2,6,8)",
     .nin = 2, .in = {RS_IN_NOGRAD(1, 2, 3, 4), RS_Y(1, 2, 6, 8)}, .out_ndim = 4,
     .out_shape = {1, 2, 6, 8}, .nodes = 1, RS_ARITH, .arg = {2, 2, 0}},
    /* ---- pixel shuffle: arg {r, r0} (r0 > 0: unshuffle by r0 first) ---- */
    {.op = RT_OP_PIXEL_SHUFFLE, .name = "x(2,8,2,3),r=2", .nin = 1, .in = {RS_IN(2, 8, 2, 3)},
     .out_ndim = 4, .out_shape = {2, 2, 4, 6}, .nodes = 1, RS_COPY, .arg = {2}, .negctl = true},
    {.op = RT_OP_PIXEL_SHUFFLE, .name = "x(1,9,3,2),r=3", .nin = 1, .in = {RS_IN(1, 9, 3, 2)},
     .out_ndim = 4, .out_shape = {1, 1, 9, 6}, .nodes = 1, RS_COPY, .arg = {3}},
    {.op = RT_OP_PIXEL_SHUFFLE, .name = "unshuffle3:x(1,4,6,6)->(1,36,2,2),shuffle2->(1,9,4,4)",
     .nin = 1, .in = {RS_IN(1, 4, 6, 6)}, .out_ndim = 4, .out_shape = {1, 9, 4, 4}, .nodes = 2,
     RS_COPY, .arg = {2, 3}},
    {.op = RT_OP_PIXEL_SHUFFLE, .name = "x(1,4,2,2)nograd,r=2+y(1,1,4,4)", .nin = 2,
     .in = {RS_IN_NOGRAD(1, 4, 2, 2), RS_Y(1, 1, 4, 4)}, .out_ndim = 4,
     .out_shape = {1, 1, 4, 4}, .nodes = 1, RS_ARITH, .arg = {2}},
    /* ---- pixel unshuffle: arg {r} ---- */
    {.op = RT_OP_PIXEL_UNSHUFFLE, .name = "x(2,2,4,6),r=2", .nin = 1, .in = {RS_IN(2, 2, 4, 6)},
     .out_ndim = 4, .out_shape = {2, 8, 2, 3}, .nodes = 1, RS_COPY, .arg = {2}, .negctl = true},
    {.op = RT_OP_PIXEL_UNSHUFFLE, .name = "x(1,1,6,3),r=3", .nin = 1, .in = {RS_IN(1, 1, 6, 3)},
     .out_ndim = 4, .out_shape = {1, 9, 2, 1}, .nodes = 1, RS_COPY, .arg = {3}},
    {.name = NULL},
};

#undef RS_IN
#undef RS_IN_NOGRAD
#undef RS_Y
#undef RS_COPY
#undef RS_ARITH
