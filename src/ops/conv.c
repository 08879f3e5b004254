/* conv.c - 2-D convolution (im2col + rt_sgemm) and max/avg pooling, NCHW.
 *
 * Convolution runs one sample at a time. The column matrix col (K, P), with
 * K = ci*kh*kw and P = oh*ow, holds in row (c,ki,kj) and column (oy,ox) the
 * input pixel that kernel tap sees, or 0 in the padding. Then, per sample,
 *
 *   forward:  y (co,P)     = W (co,K) @ col + bias
 *   backward: dW (co,K)   += dy (co,P) @ col^T
 *             dcol (K,P)   = W^T @ dy,  then col2im adds dcol into dx
 *
 * y and dy are used in place (no gathering), and col is K*P floats that stay
 * in cache between im2col and sgemm. Batching several samples into one wider
 * sgemm was measured (64 samples of 28x28, 14x14 and 7x7 images, one BLAS
 * thread) and was no faster: the gather and scatter it needs cost what the
 * wider product saves. Backward recomputes col instead of keeping (K, b*P)
 * floats per layer for the whole step; im2col is a few percent of the sgemm
 * it feeds. A 1x1, stride 1, unpadded convolution needs no col: x is col.
 *
 * Node arguments (n->p.arg): conv2d {stride h, stride w, pad h, pad w,
 * dilation h, dilation w}; the kernel size comes from the weight. Pooling
 * {kernel, stride, pad}. Max pooling keeps, per output, the int32 index
 * (iy*w + ix) of its winner within the input plane in n->saved.
 */
#include "internal.h"
#include "../gemm.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- window geometry ---- */

int rt_window_out(int in, int kernel, int stride, int pad, int dilation) {
    if (in < 1 || kernel < 1 || stride < 1 || pad < 0 || dilation < 1) return -1;
    int64_t span = (int64_t)in + 2 * (int64_t)pad - (int64_t)dilation * (kernel - 1) - 1;
    if (span < 0) return -1;
    int64_t out = span / stride + 1;
    return out > INT_MAX ? -1 : (int)out;
}

/* The output positions o in [0, out) whose input index o*stride + off lies in
 * [0, in) form one run [*lo, *hi) (empty when *lo == *hi). */
static void valid_span(int out, int in, int stride, int off, int *lo, int *hi) {
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = off > in - 1 ? 0 : (in - 1 - off) / stride + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* ---- conv2d ---- */

typedef struct conv_geom {
    int b, ci, h, w;    /* input */
    int co, kh, kw;     /* weight */
    int oh, ow;         /* output */
    int sh, sw, ph, pw, dh, dw;
    int K, P;           /* ci*kh*kw rows and oh*ow columns per sample */
    bool direct;        /* 1x1, stride 1, no padding: a sample's x is its col */
    bool flat;          /* stride 1 and ow == w: a tap's rows are one shifted run of x */
} conv_geom;

static conv_geom conv_geom_of(const rt_node *n) {
    const rt_tensor *x = n->in[0], *w = n->in[1];
    const int *a = n->p.arg;
    conv_geom q = {.b = x->shape[0], .ci = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                   .co = w->shape[0], .kh = w->shape[2], .kw = w->shape[3],
                   .oh = n->out->shape[2], .ow = n->out->shape[3],
                   .sh = a[0], .sw = a[1], .ph = a[2], .pw = a[3], .dh = a[4], .dw = a[5]};
    q.K = q.ci * q.kh * q.kw;
    q.P = q.oh * q.ow;
    q.direct = q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0;
    q.flat = q.sh == 1 && q.sw == 1 && q.ow == q.w;
    return q;
}

/* Stride 1 with ow == w (a "same"-padded width): in one tap's row block of
 * col, entry i = oy*w + ox is pixel i + offy*w + offx of the plane, so the
 * valid rows [ylo, yhi) are one run of the plane shifted by s = offy*w + offx,
 * except for the |offx| columns at one edge, which stand in the padding (and
 * which the run would fill from the neighbouring row). flat_tap_of clips the
 * run [lo, hi) of block indices to the plane; what it cuts lies in those columns. */
typedef struct flat_tap {
    int64_t lo, hi, s;  /* block indices [lo, hi) read plane index i + s */
    int ylo, yhi;       /* valid output rows */
    int clo, chi;       /* valid columns [clo, chi) */
} flat_tap;

static flat_tap flat_tap_of(const conv_geom *q, int ki, int kj) {
    flat_tap t;
    int offy = ki * q->dh - q->ph, offx = kj * q->dw - q->pw;
    valid_span(q->oh, q->h, 1, offy, &t.ylo, &t.yhi);
    valid_span(q->ow, q->w, 1, offx, &t.clo, &t.chi);
    t.s = (int64_t)offy * q->w + offx;
    t.lo = (int64_t)t.ylo * q->w;
    t.hi = (int64_t)t.yhi * q->w;
    int64_t plane = (int64_t)q->h * q->w;
    if (t.lo + t.s < 0) t.lo = -t.s;
    if (t.hi + t.s > plane) t.hi = plane - t.s;
    if (t.hi < t.lo || t.clo == t.chi) t.hi = t.lo;
    return t;
}

/* A sample's taps are the same for every channel and every sample: kernels of
 * up to FLAT_TAPS taps work them out once per call (flat_tap_of was 1.8% of a
 * fashion_cnn step, asked 288 times per sample), larger ones per use. */
#define FLAT_TAPS 64
typedef struct flat_taps {
    bool cached;
    flat_tap t[FLAT_TAPS];
} flat_taps;

static void flat_taps_init(const conv_geom *q, flat_taps *ft) {
    ft->cached = q->kh * q->kw <= FLAT_TAPS;
    if (ft->cached)
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++) ft->t[ki * q->kw + kj] = flat_tap_of(q, ki, kj);
}

static flat_tap flat_tap_at(const conv_geom *q, const flat_taps *ft, int ki, int kj) {
    return ft->cached ? ft->t[ki * q->kw + kj] : flat_tap_of(q, ki, kj);
}

/* zeroes the padding columns of rows [t->ylo, t->yhi) of one row block */
static void zero_pad_columns(const conv_geom *q, const flat_tap *t, float *blk) {
    for (int oy = t->ylo; oy < t->yhi; oy++) {
        float *r = blk + (int64_t)oy * q->w;
        for (int ox = 0; ox < t->clo; ox++) r[ox] = 0.0f;
        for (int ox = t->chi; ox < q->w; ox++) r[ox] = 0.0f;
    }
}

static void im2col_flat(const conv_geom *q, const float *x, float *col) {
    flat_taps ft;
    flat_taps_init(q, &ft);
    float *blk = col;
    for (int c = 0; c < q->ci; c++) {
        const float *xc = x + (int64_t)c * q->h * q->w;
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++, blk += q->P) {
                flat_tap t = flat_tap_at(q, &ft, ki, kj);
                memset(blk, 0, (size_t)t.lo * sizeof *blk);
                memcpy(blk + t.lo, xc + t.lo + t.s, (size_t)(t.hi - t.lo) * sizeof *blk);
                memset(blk + t.hi, 0, (size_t)(q->P - t.hi) * sizeof *blk);
                zero_pad_columns(q, &t, blk);
            }
    }
}

/* The adjoint: the padding columns of dcol (spent scratch) are zeroed, so the
 * whole run can be added. */
static void col2im_flat(const conv_geom *q, float *col, float *dx) {
    flat_taps ft;
    flat_taps_init(q, &ft);
    float *blk = col;
    for (int c = 0; c < q->ci; c++) {
        float *dxc = dx + (int64_t)c * q->h * q->w;
        for (int ki = 0; ki < q->kh; ki++)
            for (int kj = 0; kj < q->kw; kj++, blk += q->P) {
                flat_tap t = flat_tap_at(q, &ft, ki, kj);
                zero_pad_columns(q, &t, blk);
                float *restrict d = dxc + t.s;
                const float *restrict b = blk;
                for (int64_t i = t.lo; i < t.hi; i++) d[i] += b[i];
            }
    }
}

/* The columns col (K,P) of one sample x (ci,h,w). */
static void im2col(const conv_geom *q, const float *x, float *col) {
    if (q->flat) {
        im2col_flat(q, x, col);
        return;
    }
    float *dst = col; /* walks row (c,ki,kj), then output row oy within it */
    for (int c = 0; c < q->ci; c++) {
        const float *xc = x + (int64_t)c * q->h * q->w;
        for (int ki = 0; ki < q->kh; ki++) {
            int offy = ki * q->dh - q->ph, ylo, yhi;
            valid_span(q->oh, q->h, q->sh, offy, &ylo, &yhi);
            for (int kj = 0; kj < q->kw; kj++) {
                int offx = kj * q->dw - q->pw, xlo, xhi;
                valid_span(q->ow, q->w, q->sw, offx, &xlo, &xhi);
                for (int oy = 0; oy < q->oh; oy++, dst += q->ow) {
                    if (oy < ylo || oy >= yhi || xlo == xhi) {
                        memset(dst, 0, (size_t)q->ow * sizeof *dst);
                        continue;
                    }
                    const float *src = xc + (int64_t)(oy * q->sh + offy) * q->w;
                    for (int ox = 0; ox < xlo; ox++) dst[ox] = 0.0f;
                    if (q->sw == 1)
                        for (int ox = xlo; ox < xhi; ox++) dst[ox] = src[ox + offx];
                    else
                        for (int ox = xlo; ox < xhi; ox++) dst[ox] = src[ox * q->sw + offx];
                    for (int ox = xhi; ox < q->ow; ox++) dst[ox] = 0.0f;
                }
            }
        }
    }
}

/* The adjoint of im2col: dx (ci,h,w) += each entry of col (K,P) at its pixel.
 * col is spent scratch, which the flat path writes to. */
static void col2im(const conv_geom *q, float *col, float *dx) {
    if (q->flat) {
        col2im_flat(q, col, dx);
        return;
    }
    const float *row = col;
    for (int c = 0; c < q->ci; c++) {
        float *dxc = dx + (int64_t)c * q->h * q->w;
        for (int ki = 0; ki < q->kh; ki++) {
            int offy = ki * q->dh - q->ph, ylo, yhi;
            valid_span(q->oh, q->h, q->sh, offy, &ylo, &yhi);
            for (int kj = 0; kj < q->kw; kj++, row += q->P) {
                int offx = kj * q->dw - q->pw, xlo, xhi;
                valid_span(q->ow, q->w, q->sw, offx, &xlo, &xhi);
                for (int oy = ylo; oy < yhi; oy++) {
                    const float *src = row + (int64_t)oy * q->ow;
                    float *dst = dxc + (int64_t)(oy * q->sh + offy) * q->w;
                    if (q->sw == 1)
                        for (int ox = xlo; ox < xhi; ox++) dst[ox + offx] += src[ox];
                    else
                        for (int ox = xlo; ox < xhi; ox++) dst[ox * q->sw + offx] += src[ox];
                }
            }
        }
    }
}

/* The column matrix (K,P) of one sample x (ci,h,w): x itself for a direct
 * convolution, else built in col. */
static const float *columns(const conv_geom *q, const float *x, float *col) {
    if (q->direct) return x;
    im2col(q, x, col);
    return col;
}

rt_tensor *rt_conv2d(rt_graph *g, rt_tensor *x, rt_tensor *w, rt_tensor *bias,
                     const rt_conv2d_args *a) {
    RT_CHECK(x->ndim == 4 && w->ndim == 4, "conv2d: x (b,ci,h,w) and w (co,ci,kh,kw) must be "
             "4-D, got %d-D and %d-D", x->ndim, w->ndim);
    RT_CHECK(x->shape[1] == w->shape[1], "conv2d: input has %d channels, weight (%d,%d,%d,%d) wants %d",
             x->shape[1], w->shape[0], w->shape[1], w->shape[2], w->shape[3], w->shape[1]);
    RT_CHECK(!bias || (bias->ndim == 1 && bias->shape[0] == w->shape[0]),
             "conv2d: bias does not match %d output channels", w->shape[0]);
    RT_CHECK(a->stride[0] >= 1 && a->stride[1] >= 1 && a->dilation[0] >= 1 &&
                 a->dilation[1] >= 1 && a->pad[0] >= 0 && a->pad[1] >= 0,
             "conv2d: stride (%d,%d) and dilation (%d,%d) must be >= 1, pad (%d,%d) >= 0",
             a->stride[0], a->stride[1], a->dilation[0], a->dilation[1], a->pad[0], a->pad[1]);
    int oh = rt_window_out(x->shape[2], w->shape[2], a->stride[0], a->pad[0], a->dilation[0]);
    int ow = rt_window_out(x->shape[3], w->shape[3], a->stride[1], a->pad[1], a->dilation[1]);
    RT_CHECK(oh >= 1 && ow >= 1, "conv2d: kernel %dx%d does not fit input %dx%d", w->shape[2],
             w->shape[3], x->shape[2], x->shape[3]);
    /* sgemm takes int sizes: K = ci*kh*kw and P = oh*ow */
    RT_CHECK((int64_t)w->shape[1] * w->shape[2] * w->shape[3] <= INT_MAX &&
                 (int64_t)oh * ow <= INT_MAX,
             "conv2d: layer too large for int sgemm sizes");
    rt_op_params p = {.arg = {a->stride[0], a->stride[1], a->pad[0], a->pad[1], a->dilation[0],
                              a->dilation[1]}};
    rt_tensor *in[3] = {x, w, bias};
    int shape[4] = {x->shape[0], w->shape[0], oh, ow};
    return rt_graph_apply(g, RT_OP_CONV2D, in, bias ? 3 : 2, &p, 4, shape);
}

void rt_fwd_conv2d(rt_graph *g, rt_node *n) {
    const conv_geom q = conv_geom_of(n);
    const float *x = n->in[0]->data, *w = n->in[1]->data;
    const float *bias = n->nin > 2 ? n->in[2]->data : NULL;
    float *y = n->out->data;
    if (n->out->numel == 0) return;
    if (q.K == 0) { /* no input channels: the output is the bias */
        for (int64_t i = 0; i < n->out->numel; i++) y[i] = bias ? bias[(i / q.P) % q.co] : 0.0f;
        return;
    }
    float *col = q.direct ? NULL : rt_graph_scratch(g, rt_mul_size((size_t)q.K * q.P, sizeof(float)));
    /* W^T (K, co), once per call, so each sample's product is a TN sgemm: the
     * NN small-matrix kernel of OpenBLAS 0.3.21's SkylakeX kernels mallocs a
     * buffer on every call (products of up to about 10^6 multiply-adds:
     * 512 a step in fashion_rectflow_conv); its TN path never does */
    float *wt = rt_graph_scratch(g, rt_mul_size((size_t)q.K * q.co, sizeof(float)));
    for (int c = 0; c < q.co; c++)
        for (int k = 0; k < q.K; k++) wt[(int64_t)k * q.co + c] = w[(int64_t)c * q.K + k];
    int64_t xs = (int64_t)q.ci * q.h * q.w, ys = (int64_t)q.co * q.P;
    for (int s = 0; s < q.b; s++) {
        float *yb = y + s * ys;
        rt_sgemm(true, false, q.co, q.P, q.K, 1.0f, wt, q.co, columns(&q, x + s * xs, col), q.P, 0.0f, yb,
                 q.P);
        if (bias)
            for (int c = 0; c < q.co; c++) {
                float *r = yb + (int64_t)c * q.P, bc = bias[c];
                for (int i = 0; i < q.P; i++) r[i] += bc;
            }
    }
}

/* The sum of d[0..n) in 16 partial sums (lane k takes every 16th element
 * from k), added pairwise at the end. The lanes vectorise; one running sum is a
 * chain of dependent additions (as the bias gradient below it was 6.7% of a
 * fashion_cnn step). */
RT_VEC static float sum_lanes(const float *d, int64_t n) {
    float lane[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) lane[k] += d[i + k];
    for (int k = 0; i < n; i++, k++) lane[k] += d[i];
    for (int w = 8; w > 0; w /= 2)
        for (int k = 0; k < w; k++) lane[k] += lane[k + w];
    return lane[0];
}

void rt_bwd_conv2d(rt_graph *g, rt_node *n) {
    const conv_geom q = conv_geom_of(n);
    rt_tensor *xt = n->in[0], *wt = n->in[1], *bt = n->nin > 2 ? n->in[2] : NULL;
    const float *dy = n->out->grad;
    if (n->out->numel == 0) return;
    if (bt && bt->grad) /* dbias[c] += sum over samples and pixels of dy */
        for (int s = 0; s < q.b; s++)
            for (int c = 0; c < q.co; c++)
                bt->grad[c] += sum_lanes(dy + ((int64_t)s * q.co + c) * q.P, q.P);
    float *dx = xt->grad, *dw = wt->grad;
    if ((!dx && !dw) || q.K == 0) return;

    float *col = q.direct ? NULL : rt_graph_scratch(g, rt_mul_size((size_t)q.K * q.P, sizeof(float)));
    int64_t xs = (int64_t)q.ci * q.h * q.w, ys = (int64_t)q.co * q.P;
    for (int s = 0; s < q.b; s++) {
        const float *d = dy + s * ys;
        if (dw)
            rt_sgemm(false, true, q.co, q.K, q.P, 1.0f, d, q.P, columns(&q, xt->data + s * xs, col), q.P,
                     1.0f, dw, q.K);
        if (dx && q.direct) {
            rt_sgemm(true, false, q.K, q.P, q.co, 1.0f, wt->data, q.K, d, q.P, 1.0f, dx + s * xs, q.P);
        } else if (dx) { /* dcol reuses col: this sample's columns are spent */
            rt_sgemm(true, false, q.K, q.P, q.co, 1.0f, wt->data, q.K, d, q.P, 0.0f, col, q.P);
            col2im(&q, col, dx + s * xs);
        }
    }
}

/* ---- pooling ---- */

typedef struct pool_geom {
    int64_t planes;     /* b*c */
    int h, w, oh, ow;
    int k, s, pad;
} pool_geom;

static pool_geom pool_geom_of(const rt_node *n) {
    const rt_tensor *x = n->in[0];
    return (pool_geom){.planes = (int64_t)x->shape[0] * x->shape[1], .h = x->shape[2], .w = x->shape[3],
                       .oh = n->out->shape[2], .ow = n->out->shape[3], .k = n->p.arg[0],
                       .s = n->p.arg[1], .pad = n->p.arg[2]};
}

static rt_tensor *pool(rt_graph *g, rt_op op, rt_tensor *x, int kernel, int stride, int pad) {
    const char *name = rt_op_table[op].name;
    RT_CHECK(x->ndim == 4, "%s: input must be (b,c,h,w), got %d dimensions", name, x->ndim);
    RT_CHECK(kernel >= 1 && stride >= 1 && pad >= 0 && pad <= kernel / 2,
             "%s: kernel %d, stride %d, pad %d (need kernel, stride >= 1, 0 <= pad <= kernel/2)",
             name, kernel, stride, pad);
    int oh = rt_window_out(x->shape[2], kernel, stride, pad, 1);
    int ow = rt_window_out(x->shape[3], kernel, stride, pad, 1);
    RT_CHECK(oh >= 1 && ow >= 1, "%s: kernel %d does not fit input %dx%d", name, kernel,
             x->shape[2], x->shape[3]);
    RT_CHECK((int64_t)x->shape[2] * x->shape[3] <= INT32_MAX, "%s: plane too large", name);
    rt_op_params p = {.arg = {kernel, stride, pad}};
    rt_tensor *in[1] = {x};
    int shape[4] = {x->shape[0], x->shape[1], oh, ow};
    return rt_graph_apply(g, op, in, 1, &p, 4, shape);
}

rt_tensor *rt_maxpool2d(rt_graph *g, rt_tensor *x, int kernel, int stride, int pad) {
    return pool(g, RT_OP_MAXPOOL2D, x, kernel, stride, pad);
}

rt_tensor *rt_avgpool2d(rt_graph *g, rt_tensor *x, int kernel, int stride, int pad) {
    return pool(g, RT_OP_AVGPOOL2D, x, kernel, stride, pad);
}

/* Pooling runs tap by tap over whole output rows: for output row oy and each
 * window tap (ky,kx) in row-major order, every output ox whose tap lands on a
 * real pixel reads x[iy][ox*s + kx - pad]. The inner loop is then a plain
 * strided pass the compiler vectorises, and visiting taps in window order
 * keeps torch's tie rule for max (the first maximum wins). */

/* span[2*kx], span[2*kx+1]: the outputs [lo, hi) of a row that tap column kx
 * reaches, the same for every row; from the arena, 2*kernel ints. */
static const int *tap_spans(rt_graph *g, const pool_geom *q) {
    int *span = rt_graph_scratch(g, rt_mul_size((size_t)q->k, 2 * sizeof *span));
    for (int kx = 0; kx < q->k; kx++)
        valid_span(q->ow, q->w, q->s, kx - q->pad, &span[2 * kx], &span[2 * kx + 1]);
    return span;
}

/* kernel 2, stride 2, no padding (the usual pooling): the general loop's rule
 * (in window order, a larger value or any NaN takes over; the first tap starts
 * the window) with the four taps compared branch-free, so a row vectorises.
 * With branches they mispredicted on about every other window of real images
 * and cost 11% of a CNN step. Tap t of a window is (row t >> 1, column t & 1). */
static inline bool takes_over(float v, float best) { return (v > best) | (v != v); }

/* Windows ox0 .. ox0+7 of one output row: rows r0, r1 of the pair, winners'
 * indices from base (the pair's first pixel in its plane). A fixed count of 8,
 * so the compiler vectorises it whatever the row's length. */
static inline void pool_2x2_8(const float *restrict r0, const float *restrict r1, float *restrict yr,
                              int32_t *restrict ar, int base, int w, int ox0) {
    for (int v = 0; v < 8; v++) {
        int ox = ox0 + v;
        float best = r0[2 * ox];
        int t = 0;
        bool k = takes_over(r0[2 * ox + 1], best);
        best = k ? r0[2 * ox + 1] : best;
        t = k ? 1 : t;
        k = takes_over(r1[2 * ox], best);
        best = k ? r1[2 * ox] : best;
        t = k ? 2 : t;
        k = takes_over(r1[2 * ox + 1], best);
        best = k ? r1[2 * ox + 1] : best;
        t = k ? 3 : t;
        yr[ox] = best;
        ar[ox] = base + (t >> 1) * w + 2 * ox + (t & 1);
    }
}

/* Rows of pooled images are short (14 and 7 outputs in fashion_cnn), too short
 * for a vector loop and its scalar tail: a row runs in blocks of 8 windows, the
 * last block running past the row's end. Its extra outputs land on the next
 * row's, which overwrites them after; the extra reads stay inside x. A row whose
 * block would pass the end of y or x runs whole blocks and then one window at a
 * time. In evaluation `arg` is one row of scratch with room for the overrun. */
RT_VEC static void maxpool_2x2(const pool_geom *q, const float *x, float *y, int32_t *arg, bool keep) {
    int64_t plane_in = (int64_t)q->h * q->w, plane_out = (int64_t)q->oh * q->ow;
    int64_t x_len = q->planes * plane_in, y_len = q->planes * plane_out;
    const int w = q->w, ow = q->ow, blocks = (ow + 7) / 8;
    for (int64_t pl = 0; pl < q->planes; pl++) {
        const float *xp = x + pl * plane_in;
        for (int oy = 0; oy < q->oh; oy++) {
            const float *r0 = xp + (int64_t)(2 * oy) * w, *r1 = r0 + w;
            int64_t o = pl * plane_out + (int64_t)oy * ow;
            float *yr = y + o;
            int32_t *ar = keep ? arg + o : arg;
            int base = 2 * oy * w;
            bool overrun = o + 8 * blocks <= y_len && (r1 - x) + 16 * blocks <= x_len;
            int ox = 0;
            for (; ox + 8 <= ow || (overrun && ox < ow); ox += 8) pool_2x2_8(r0, r1, yr, ar, base, w, ox);
            for (; ox < ow; ox++) {
                float best = r0[2 * ox];
                int t = 0;
                for (int tap = 1; tap < 4; tap++) {
                    float v = (tap < 2 ? r0 : r1)[2 * ox + (tap & 1)];
                    bool k = takes_over(v, best);
                    best = k ? v : best;
                    t = k ? tap : t;
                }
                yr[ox] = best;
                ar[ox] = base + (t >> 1) * w + 2 * ox + (t & 1);
            }
        }
    }
}

/* The maximum of each window; a NaN wins and propagates, as in torch. Padding
 * never wins: pad <= kernel/2 keeps a real pixel in every window. The winner's
 * index iy*w + ix within its plane is kept in n->saved when recording. */
void rt_fwd_maxpool2d(rt_graph *g, rt_node *n) {
    const pool_geom q = pool_geom_of(n);
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    int64_t plane_in = (int64_t)q.h * q.w, plane_out = (int64_t)q.oh * q.ow;
    /* the winners' indices, kept for backward when recording; in evaluation
     * they go to one row of scratch and are dropped */
    bool keep = n->out->grad != NULL;
    int32_t *arg = rt_graph_scratch(g, rt_mul_size(keep ? (size_t)n->out->numel : (size_t)q.ow + 8, sizeof *arg));
    if (keep) n->saved = arg;
    if (q.k == 2 && q.s == 2 && q.pad == 0) {
        maxpool_2x2(&q, x, y, arg, keep);
        return;
    }
    const int *span = tap_spans(g, &q);
    for (int64_t pl = 0; pl < q.planes; pl++) {
        const float *xp = x + pl * plane_in;
        for (int oy = 0; oy < q.oh; oy++) {
            int64_t o = pl * plane_out + (int64_t)oy * q.ow;
            float *yr = y + o;
            int32_t *ar = keep ? arg + o : arg;
            for (int ox = 0; ox < q.ow; ox++) {
                yr[ox] = -INFINITY;
                ar[ox] = -1;
            }
            for (int ky = 0; ky < q.k; ky++) {
                int iy = oy * q.s - q.pad + ky;
                if (iy < 0 || iy >= q.h) continue;
                const float *xr = xp + (int64_t)iy * q.w;
                for (int kx = 0; kx < q.k; kx++) {
                    int lo = span[2 * kx], hi = span[2 * kx + 1], off = kx - q.pad;
                    for (int ox = lo; ox < hi; ox++) {
                        int ix = ox * q.s + off;
                        float v = xr[ix];
                        bool win = v > yr[ox] || isnan(v);
                        yr[ox] = win ? v : yr[ox];
                        ar[ox] = win ? iy * q.w + ix : ar[ox];
                    }
                }
            }
            /* a window of -inf only: torch points at its first real pixel */
            for (int ox = 0; ox < q.ow; ox++)
                if (ar[ox] < 0) {
                    int iy = oy * q.s - q.pad, ix = ox * q.s - q.pad;
                    ar[ox] = (iy < 0 ? 0 : iy) * q.w + (ix < 0 ? 0 : ix);
                }
        }
    }
}

void rt_bwd_maxpool2d(rt_graph *g, rt_node *n) {
    (void)g;
    const pool_geom q = pool_geom_of(n);
    float *dx = n->in[0]->grad;
    const float *dy = n->out->grad;
    const int32_t *arg = n->saved;
    if (!dx) return;
    int64_t plane_in = (int64_t)q.h * q.w, plane_out = (int64_t)q.oh * q.ow;
    for (int64_t pl = 0; pl < q.planes; pl++) {
        float *dxp = dx + pl * plane_in;
        const float *dyp = dy + pl * plane_out;
        const int32_t *ap = arg + pl * plane_out;
        for (int64_t i = 0; i < plane_out; i++) dxp[ap[i]] += dyp[i];
    }
}

/* The window sum over k*k, the zero padding counted (count_include_pad):
 * without ceil_mode every window lies inside the padded input, so the divisor
 * is always k*k. */
void rt_fwd_avgpool2d(rt_graph *g, rt_node *n) {
    const pool_geom q = pool_geom_of(n);
    const int *span = tap_spans(g, &q);
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    const float div = (float)(q.k * q.k);
    int64_t plane_in = (int64_t)q.h * q.w, plane_out = (int64_t)q.oh * q.ow;
    for (int64_t pl = 0; pl < q.planes; pl++) {
        const float *xp = x + pl * plane_in;
        for (int oy = 0; oy < q.oh; oy++) {
            float *yr = y + pl * plane_out + (int64_t)oy * q.ow;
            for (int ox = 0; ox < q.ow; ox++) yr[ox] = 0.0f;
            for (int ky = 0; ky < q.k; ky++) {
                int iy = oy * q.s - q.pad + ky;
                if (iy < 0 || iy >= q.h) continue;
                const float *xr = xp + (int64_t)iy * q.w;
                for (int kx = 0; kx < q.k; kx++) {
                    int lo = span[2 * kx], hi = span[2 * kx + 1], off = kx - q.pad;
                    for (int ox = lo; ox < hi; ox++) yr[ox] += xr[ox * q.s + off];
                }
            }
            for (int ox = 0; ox < q.ow; ox++) yr[ox] /= div;
        }
    }
}

void rt_bwd_avgpool2d(rt_graph *g, rt_node *n) {
    const pool_geom q = pool_geom_of(n);
    float *dx = n->in[0]->grad;
    const float *dy = n->out->grad;
    if (!dx) return;
    const int *span = tap_spans(g, &q);
    const float div = (float)(q.k * q.k);
    int64_t plane_in = (int64_t)q.h * q.w, plane_out = (int64_t)q.oh * q.ow;
    for (int64_t pl = 0; pl < q.planes; pl++) {
        float *dxp = dx + pl * plane_in;
        for (int oy = 0; oy < q.oh; oy++) {
            const float *dyr = dy + pl * plane_out + (int64_t)oy * q.ow;
            for (int ky = 0; ky < q.k; ky++) {
                int iy = oy * q.s - q.pad + ky;
                if (iy < 0 || iy >= q.h) continue;
                float *dxr = dxp + (int64_t)iy * q.w;
                for (int kx = 0; kx < q.k; kx++) {
                    int lo = span[2 * kx], hi = span[2 * kx + 1], off = kx - q.pad;
                    for (int ox = lo; ox < hi; ox++) dxr[ox * q.s + off] += dyr[ox] / div;
                }
            }
        }
    }
}
