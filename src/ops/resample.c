/* resample.c - nearest and bilinear upsampling by integer factors, pixel
 * shuffle and unshuffle; NCHW, torch semantics.
 *
 * Upsampling works plane by plane (one (h,w) image of one channel). Where
 * each output row and column reads from is worked out once per call into an
 * axis map (a few ints and floats per output index, from the arena), so the
 * inner loops only gather and blend. Bilinear is separable: a row is first
 * blended vertically into a buffer of the input width, then horizontally;
 * backward runs the same two steps transposed. Backward sums the gradient of
 * each x row in row buffers and adds it to dx once, so a large factor does
 * not pile hundreds of rounded += onto one dx element.
 *
 * Arguments in rt_op_params.arg: upsampling (sh, sw, align_corners), pixel
 * (un)shuffle (r). The axis maps of the forward pass are kept in n->saved.
 */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* Where output index o along one axis reads from: input i0[o], and for
 * bilinear also i0[o] + d1[o] with weights w0[o] and w1[o]. */
typedef struct axis_map {
    int *i0;   /* (out) first source index */
    int *d1;   /* (out) 0 or 1: second source index minus the first (bilinear) */
    float *w0; /* (out) weight of i0 (bilinear) */
    float *w1; /* (out) weight of i0 + d1 (bilinear) */
} axis_map;

typedef struct resample_plan {
    axis_map h, w;
} resample_plan;

/* Shape checks shared by both upsamplers; writes the output shape. */
static void upsample_shape(const char *op, const rt_tensor *x, int sh, int sw, int *shape) {
    RT_CHECK(x->ndim == 4, "%s: input must be (b,c,h,w), got %d dimensions", op, x->ndim);
    RT_CHECK(sh >= 1 && sw >= 1, "%s: scale factors (%d,%d) must be >= 1", op, sh, sw);
    RT_CHECK(x->shape[2] <= INT_MAX / sh && x->shape[3] <= INT_MAX / sw,
             "%s: (%d,%d) times (%d,%d) overflows", op, x->shape[2], x->shape[3], sh, sw);
    shape[0] = x->shape[0];
    shape[1] = x->shape[1];
    shape[2] = x->shape[2] * sh;
    shape[3] = x->shape[3] * sw;
}

static void *scratch(rt_graph *g, int count, size_t size) {
    return rt_graph_scratch(g, rt_mul_size(count > 0 ? (size_t)count : 1, size));
}

/* ---- upsample nearest: y[oy,ox] = x[iy(oy), ix(ox)] ---- */

rt_tensor *rt_upsample_nearest(rt_graph *g, rt_tensor *x, int sh, int sw) {
    int shape[4];
    upsample_shape("upsample_nearest", x, sh, sw, shape);
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {sh, sw}};
    return rt_graph_apply(g, RT_OP_UPSAMPLE_NEAREST, in, 1, &p, 4, shape);
}

/* torch's source index for an integer factor s: dst itself for s = 1,
 * dst >> 1 for s = 2, otherwise floorf(dst * (float)(1/s)) clamped to in-1.
 * That is dst / s except for factors whose reciprocal rounds down in float
 * (41, 47, 55, ...), where torch's float32 kernel reads one row early; we
 * match it (its float64 kernel does so for some shapes only). */
static void nearest_map(int *i0, int out, int in, int s) {
    float scale = (float)(1.0 / (double)s);
    for (int o = 0; o < out; o++) {
        int i = s == 1 ? o : s == 2 ? o >> 1 : (int)floorf((float)o * scale);
        i0[o] = i < in - 1 ? i : in - 1;
    }
}

void rt_fwd_upsample_nearest(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    int ih = x->shape[2], iw = x->shape[3], oh = n->out->shape[2], ow = n->out->shape[3];
    int64_t planes = (int64_t)x->shape[0] * x->shape[1];
    resample_plan *pl = rt_graph_scratch(g, sizeof *pl);
    memset(pl, 0, sizeof *pl);
    pl->h.i0 = scratch(g, oh, sizeof(int));
    pl->w.i0 = scratch(g, ow, sizeof(int));
    nearest_map(pl->h.i0, oh, ih, n->p.arg[0]);
    nearest_map(pl->w.i0, ow, iw, n->p.arg[1]);
    n->saved = pl;

    const int *iy = pl->h.i0, *ix = pl->w.i0;
    for (int64_t pi = 0; pi < planes; pi++) {
        const float *xp = x->data + pi * ih * iw;
        float *yp = n->out->data + pi * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            float *yr = yp + (int64_t)oy * ow;
            if (oy > 0 && iy[oy] == iy[oy - 1]) { /* same source row: copy the row above */
                memcpy(yr, yr - ow, (size_t)ow * sizeof(float));
                continue;
            }
            const float *xr = xp + (int64_t)iy[oy] * iw;
            for (int ox = 0; ox < ow; ox++) yr[ox] = xr[ix[ox]];
        }
    }
}

/* dy rows that read the same x row are summed in a row buffer (iw) first, so
 * each dx element receives its total gradient in one add. */
void rt_bwd_upsample_nearest(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    if (!x->grad) return;
    int ih = x->shape[2], iw = x->shape[3], oh = n->out->shape[2], ow = n->out->shape[3];
    int64_t planes = (int64_t)x->shape[0] * x->shape[1];
    const resample_plan *pl = n->saved;
    const int *iy = pl->h.i0, *ix = pl->w.i0;
    float *t = scratch(g, iw, sizeof(float)); /* (iw) gradient of x row iy[oy] so far */
    memset(t, 0, (size_t)iw * sizeof(float));
    for (int64_t pi = 0; pi < planes; pi++) {
        float *dxp = x->grad + pi * ih * iw;
        const float *dyp = n->out->grad + pi * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *dyr = dyp + (int64_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) t[ix[ox]] += dyr[ox];
            if (oy + 1 < oh && iy[oy + 1] == iy[oy]) continue;
            float *dxr = dxp + (int64_t)iy[oy] * iw; /* the last dy row of this x row */
            for (int i = 0; i < iw; i++) dxr[i] += t[i];
            memset(t, 0, (size_t)iw * sizeof(float));
        }
    }
}

/* ---- upsample bilinear ----
 * Source coordinate of output index o, as torch's area_pixel_compute_source_index
 * with the scale factor given (recompute_scale_factor None):
 *   align_corners false: src = max((o + 0.5) / s - 0.5, 0)
 *   align_corners true:  src = o * (in-1)/(out-1), or 0 when out == 1
 * then i0 = (int)src, i1 = i0 + (i0 < in-1), w1 = src - i0, w0 = 1 - w1.
 * torch works this out in float for float tensors; we do it in double (once per
 * call), so the weights are the exact ones rounded once, never further from
 * torch's float64 result than torch's own float32 kernel. */

rt_tensor *rt_upsample_bilinear(rt_graph *g, rt_tensor *x, int sh, int sw, bool align_corners) {
    int shape[4];
    upsample_shape("upsample_bilinear", x, sh, sw, shape);
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {sh, sw, align_corners ? 1 : 0}};
    return rt_graph_apply(g, RT_OP_UPSAMPLE_BILINEAR, in, 1, &p, 4, shape);
}

static void bilinear_map(rt_graph *g, axis_map *m, int out, int in, int s, bool align) {
    m->i0 = scratch(g, out, sizeof(int));
    m->d1 = scratch(g, out, sizeof(int));
    m->w0 = scratch(g, out, sizeof(float));
    m->w1 = scratch(g, out, sizeof(float));
    for (int o = 0; o < out; o++) {
        double src = align ? (out > 1 ? (double)o * (in - 1) / (out - 1) : 0.0)
                           : ((double)o + 0.5) / s - 0.5;
        if (src < 0.0) src = 0.0;
        int i = (int)src;
        if (i > in - 1) i = in - 1;
        m->i0[o] = i;
        m->d1[o] = i < in - 1 ? 1 : 0;
        m->w1[o] = (float)(src - i);
        m->w0[o] = (float)(1.0 - (src - i));
    }
}

void rt_fwd_upsample_bilinear(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    int ih = x->shape[2], iw = x->shape[3], oh = n->out->shape[2], ow = n->out->shape[3];
    int64_t planes = (int64_t)x->shape[0] * x->shape[1];
    bool align = n->p.arg[2] != 0;
    resample_plan *pl = rt_graph_scratch(g, sizeof *pl);
    bilinear_map(g, &pl->h, oh, ih, n->p.arg[0], align);
    bilinear_map(g, &pl->w, ow, iw, n->p.arg[1], align);
    n->saved = pl;
    float *v = scratch(g, iw, sizeof(float)); /* (iw) one vertically blended row */

    const axis_map *H = &pl->h, *W = &pl->w;
    for (int64_t pi = 0; pi < planes; pi++) {
        const float *xp = x->data + pi * ih * iw;
        float *yp = n->out->data + pi * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const float *r0 = xp + (int64_t)H->i0[oy] * iw, *r1 = r0 + (int64_t)H->d1[oy] * iw;
            float a = H->w0[oy], b = H->w1[oy];
            for (int i = 0; i < iw; i++) v[i] = a * r0[i] + b * r1[i];
            float *yr = yp + (int64_t)oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                const float *s = v + W->i0[ox];
                yr[ox] = W->w0[ox] * s[0] + W->w1[ox] * s[W->d1[ox]];
            }
        }
    }
}

static void add_row(float *dst, const float *src, int n) {
    for (int i = 0; i < n; i++) dst[i] += src[i];
}

/* Output row oy's gradient is blended back along w into t (iw); a*t belongs
 * to x row i0 and b*t to row i0 + d1. i0 never decreases with oy, so these
 * are summed in two row buffers, for rows lo and lo + 1, and each dx row gets
 * its total in one add when lo moves past it. */
void rt_bwd_upsample_bilinear(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    if (!x->grad) return;
    int ih = x->shape[2], iw = x->shape[3], oh = n->out->shape[2], ow = n->out->shape[3];
    int64_t planes = (int64_t)x->shape[0] * x->shape[1];
    const resample_plan *pl = n->saved;
    const axis_map *H = &pl->h, *W = &pl->w;
    float *t = scratch(g, iw, sizeof(float));       /* (iw) one dy row, blended back along w */
    float *acc0 = scratch(g, iw, sizeof(float));    /* (iw) gradient of x row lo so far */
    float *acc1 = scratch(g, iw, sizeof(float));    /* (iw) gradient of x row lo + 1 so far */
    size_t row_bytes = (size_t)iw * sizeof(float);
    for (int64_t pi = 0; pi < planes; pi++) {
        float *dxp = x->grad + pi * ih * iw;
        const float *dyp = n->out->grad + pi * oh * ow;
        int lo = -1;
        memset(acc0, 0, row_bytes);
        memset(acc1, 0, row_bytes);
        for (int oy = 0; oy < oh; oy++) {
            const float *dyr = dyp + (int64_t)oy * ow;
            memset(t, 0, row_bytes);
            for (int ox = 0; ox < ow; ox++) {
                float *s = t + W->i0[ox];
                s[0] += W->w0[ox] * dyr[ox];
                s[W->d1[ox]] += W->w1[ox] * dyr[ox];
            }
            int r = H->i0[oy];
            if (r != lo) { /* row lo is complete; so is lo + 1 unless r is it */
                if (lo >= 0) add_row(dxp + (int64_t)lo * iw, acc0, iw);
                if (lo >= 0 && r == lo + 1) {
                    float *done = acc0;
                    acc0 = acc1;
                    acc1 = done;
                } else if (lo >= 0 && lo + 1 < ih) {
                    add_row(dxp + (int64_t)(lo + 1) * iw, acc1, iw);
                    memset(acc0, 0, row_bytes);
                } else {
                    memset(acc0, 0, row_bytes);
                }
                memset(acc1, 0, row_bytes);
                lo = r;
            }
            float a = H->w0[oy], b = H->w1[oy], *second = H->d1[oy] ? acc1 : acc0;
            for (int i = 0; i < iw; i++) acc0[i] += a * t[i];
            for (int i = 0; i < iw; i++) second[i] += b * t[i];
        }
        if (lo >= 0) add_row(dxp + (int64_t)lo * iw, acc0, iw);
        if (lo >= 0 && lo + 1 < ih) add_row(dxp + (int64_t)(lo + 1) * iw, acc1, iw);
    }
}

/* ---- pixel shuffle and unshuffle ----
 * big (b, c, h*r, w*r)[n, k, y*r+i, x*r+j] = small (b, c*r*r, h, w)[n, k*r*r + i*r + j, y, x]
 * Shuffle's forward and unshuffle's backward move small -> big; the other two
 * move big -> small. Backward adds instead of copying. */

typedef struct shuffle_dims {
    int64_t bc; /* b * c: planes of big */
    int h, w;   /* spatial size of small */
    int r;
} shuffle_dims;

static void small_to_big(const float *small, float *big, shuffle_dims d, bool add) {
    int r = d.r, h = d.h, w = d.w;
    int64_t splane = (int64_t)h * w, bw = (int64_t)w * r;
    for (int64_t k = 0; k < d.bc; k++)
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                const float *sp = small + (k * r * r + (int64_t)i * r + j) * splane;
                float *bp = big + k * splane * r * r + (int64_t)i * bw + j;
                for (int y = 0; y < h; y++) {
                    const float *s = sp + (int64_t)y * w;
                    float *b = bp + (int64_t)y * r * bw;
                    if (add)
                        for (int x = 0; x < w; x++) b[(int64_t)x * r] += s[x];
                    else
                        for (int x = 0; x < w; x++) b[(int64_t)x * r] = s[x];
                }
            }
}

static void big_to_small(const float *big, float *small, shuffle_dims d, bool add) {
    int r = d.r, h = d.h, w = d.w;
    int64_t splane = (int64_t)h * w, bw = (int64_t)w * r;
    for (int64_t k = 0; k < d.bc; k++)
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                float *sp = small + (k * r * r + (int64_t)i * r + j) * splane;
                const float *bp = big + k * splane * r * r + (int64_t)i * bw + j;
                for (int y = 0; y < h; y++) {
                    float *s = sp + (int64_t)y * w;
                    const float *b = bp + (int64_t)y * r * bw;
                    if (add)
                        for (int x = 0; x < w; x++) s[x] += b[(int64_t)x * r];
                    else
                        for (int x = 0; x < w; x++) s[x] = b[(int64_t)x * r];
                }
            }
}

/* Dimensions of a node: for shuffle the input is small, for unshuffle the output. */
static shuffle_dims shuffle_dims_of(const rt_node *n) {
    const rt_tensor *big = n->op == RT_OP_PIXEL_SHUFFLE ? n->out : n->in[0];
    int r = n->p.arg[0];
    shuffle_dims d = {(int64_t)big->shape[0] * big->shape[1], big->shape[2] / r,
                      big->shape[3] / r, r};
    return d;
}

rt_tensor *rt_pixel_shuffle(rt_graph *g, rt_tensor *x, int r) {
    RT_CHECK(x->ndim == 4, "pixel_shuffle: input must be (b,c,h,w), got %d dimensions", x->ndim);
    RT_CHECK(r >= 1 && r <= 46340 && x->shape[1] % (r * r) == 0,
             "pixel_shuffle: %d channels are not a multiple of r*r for r = %d", x->shape[1], r);
    RT_CHECK(x->shape[2] <= INT_MAX / r && x->shape[3] <= INT_MAX / r,
             "pixel_shuffle: (%d,%d) times %d overflows", x->shape[2], x->shape[3], r);
    int shape[4] = {x->shape[0], x->shape[1] / (r * r), x->shape[2] * r, x->shape[3] * r};
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {r}};
    return rt_graph_apply(g, RT_OP_PIXEL_SHUFFLE, in, 1, &p, 4, shape);
}

rt_tensor *rt_pixel_unshuffle(rt_graph *g, rt_tensor *x, int r) {
    RT_CHECK(x->ndim == 4, "pixel_unshuffle: input must be (b,c,h,w), got %d dimensions", x->ndim);
    RT_CHECK(r >= 1 && x->shape[2] % r == 0 && x->shape[3] % r == 0,
             "pixel_unshuffle: (%d,%d) is not divisible by r = %d", x->shape[2], x->shape[3], r);
    RT_CHECK(r <= 46340 && x->shape[1] <= INT_MAX / (r * r),
             "pixel_unshuffle: %d channels times %d*%d overflows", x->shape[1], r, r);
    int shape[4] = {x->shape[0], x->shape[1] * r * r, x->shape[2] / r, x->shape[3] / r};
    rt_tensor *in[1] = {x};
    rt_op_params p = {.arg = {r}};
    return rt_graph_apply(g, RT_OP_PIXEL_UNSHUFFLE, in, 1, &p, 4, shape);
}

void rt_fwd_pixel_shuffle(rt_graph *g, rt_node *n) {
    (void)g;
    small_to_big(n->in[0]->data, n->out->data, shuffle_dims_of(n), false);
}

void rt_bwd_pixel_shuffle(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) big_to_small(n->out->grad, n->in[0]->grad, shuffle_dims_of(n), true);
}

void rt_fwd_pixel_unshuffle(rt_graph *g, rt_node *n) {
    (void)g;
    big_to_small(n->in[0]->data, n->out->data, shuffle_dims_of(n), false);
}

void rt_bwd_pixel_unshuffle(rt_graph *g, rt_node *n) {
    (void)g;
    if (n->in[0]->grad) small_to_big(n->out->grad, n->in[0]->grad, shuffle_dims_of(n), true);
}
