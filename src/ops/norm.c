/* norm.c - layer and RMS normalisation, and dropout. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>

/* ---- layernorm: y = (x - mean) * rstd * weight + bias over the last dimension ----
 *
 * Row statistics are taken in double (two passes, so a row far from zero, say
 * 100 +- 0.1, keeps its digits) and each output is rounded once from double.
 * The row sums run over LANES independent accumulators: the loops vectorise,
 * and the summation order is fixed, so results are the same on every run.
 * Recording saves (mean, rstd) per row in the arena; backward recomputes xhat
 * from them:
 *     g      = dy * weight                 (dy when weight is NULL)
 *     dx    += rstd * (g - mean(g) - xhat * mean(g * xhat))
 *     dw    += sum_rows dy * xhat,   db += sum_rows dy
 */

#define LANES 8

/* sum of x[0..d) */
static double row_sum(const float *x, int64_t d) {
    double acc[LANES] = {0}, s = 0.0;
    int64_t j = 0;
    for (; j + LANES <= d; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k];
    for (; j < d; j++) s += x[j];
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

/* sum of (x[j] - mean)^2 over [0, d) */
static double row_sqdev(const float *x, int64_t d, double mean) {
    double acc[LANES] = {0}, s = 0.0;
    int64_t j = 0;
    for (; j + LANES <= d; j += LANES)
        for (int k = 0; k < LANES; k++) {
            double c = (double)x[j + k] - mean;
            acc[k] += c * c;
        }
    for (; j < d; j++) s += ((double)x[j] - mean) * ((double)x[j] - mean);
    for (int k = 0; k < LANES; k++) s += acc[k];
    return s;
}

rt_tensor *rt_layernorm(rt_graph *g, rt_tensor *x, rt_tensor *weight, rt_tensor *bias, float eps) {
    RT_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] >= 1, "layernorm: needs a last dimension >= 1");
    int d = x->shape[x->ndim - 1];
    RT_CHECK(!weight || (weight->ndim == 1 && weight->shape[0] == d),
             "layernorm: weight does not match the last dimension %d", d);
    RT_CHECK(!bias || (bias->ndim == 1 && bias->shape[0] == d),
             "layernorm: bias does not match the last dimension %d", d);
    RT_CHECK(eps >= 0.0f, "layernorm: eps %g < 0", (double)eps);
    /* weight and bias keep their slots when absent (NULL), so in[1] is always
     * the weight and in[2] the bias */
    rt_tensor *in[3] = {x, weight, bias};
    rt_op_params p = {.f = eps};
    return rt_graph_apply(g, RT_OP_LAYERNORM, in, 3, &p, x->ndim, x->shape);
}

void rt_fwd_layernorm(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    const float *w = n->in[1] ? n->in[1]->data : NULL, *b = n->in[2] ? n->in[2]->data : NULL;
    int64_t d = x->shape[x->ndim - 1], rows = x->numel / d;
    double eps = (double)n->p.f;
    /* (rows, 2): mean, rstd; only a recorded node has a backward to feed */
    size_t bytes = rt_mul_size((size_t)rows, 2 * sizeof(double));
    double *stats = n->out->grad ? rt_graph_scratch(g, bytes) : NULL;
    n->saved = stats;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * d;
        float *yr = n->out->data + r * d;
        double mean = row_sum(xr, d) / (double)d;
        double rstd = 1.0 / sqrt(row_sqdev(xr, d, mean) / (double)d + eps);
        if (stats) {
            stats[2 * r] = mean;
            stats[2 * r + 1] = rstd;
        }
        if (w && b)
            for (int64_t j = 0; j < d; j++)
                yr[j] = (float)(((double)xr[j] - mean) * rstd * w[j] + b[j]);
        else if (w)
            for (int64_t j = 0; j < d; j++) yr[j] = (float)(((double)xr[j] - mean) * rstd * w[j]);
        else if (b)
            for (int64_t j = 0; j < d; j++) yr[j] = (float)(((double)xr[j] - mean) * rstd + b[j]);
        else
            for (int64_t j = 0; j < d; j++) yr[j] = (float)(((double)xr[j] - mean) * rstd);
    }
}

/* xhat in float for the backward: x - mean is formed against the mean split
 * into a float head and tail, so a row far from zero loses no digits. */
typedef struct xhat_row {
    float head, tail, rstd;
} xhat_row;

static xhat_row xhat_of(double mean, double rstd) {
    float head = (float)mean;
    return (xhat_row){head, (float)(mean - (double)head), (float)rstd};
}

/* *sg = sum of g, *sgh = sum of g * xhat over a row, g = dy * w (dy when w is
 * NULL); float over LANES lanes, then added up in double */
static void row_grad_sums(const float *x, const float *dy, const float *w, int64_t d, xhat_row h,
                          double *sg, double *sgh) {
    float a[LANES] = {0}, b[LANES] = {0};
    int64_t j = 0;
    if (w) {
        for (; j + LANES <= d; j += LANES)
            for (int k = 0; k < LANES; k++) {
                float gk = dy[j + k] * w[j + k], hk = ((x[j + k] - h.head) - h.tail) * h.rstd;
                a[k] += gk;
                b[k] += gk * hk;
            }
    } else {
        for (; j + LANES <= d; j += LANES)
            for (int k = 0; k < LANES; k++) {
                float hk = ((x[j + k] - h.head) - h.tail) * h.rstd;
                a[k] += dy[j + k];
                b[k] += dy[j + k] * hk;
            }
    }
    double s = 0.0, t = 0.0;
    for (; j < d; j++) {
        float gj = w ? dy[j] * w[j] : dy[j];
        s += gj;
        t += gj * (((x[j] - h.head) - h.tail) * h.rstd);
    }
    for (int k = 0; k < LANES; k++) {
        s += a[k];
        t += b[k];
    }
    *sg = s;
    *sgh = t;
}

void rt_bwd_layernorm(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    const float *w = n->in[1] ? n->in[1]->data : NULL, *dy = n->out->grad;
    float *dx = x->grad, *dw = n->in[1] ? n->in[1]->grad : NULL, *db = n->in[2] ? n->in[2]->grad : NULL;
    int64_t d = x->shape[x->ndim - 1], rows = x->numel / d;
    const double *stats = n->saved;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * d, *dyr = dy + r * d;
        xhat_row h = xhat_of(stats[2 * r], stats[2 * r + 1]);
        if (dw)
            for (int64_t j = 0; j < d; j++) dw[j] += dyr[j] * (((xr[j] - h.head) - h.tail) * h.rstd);
        if (db)
            for (int64_t j = 0; j < d; j++) db[j] += dyr[j];
        if (!dx) continue;
        double sg, sgh;
        row_grad_sums(xr, dyr, w, d, h, &sg, &sgh);
        /* dx = rstd * (g - a - xhat * c) */
        float a = (float)(sg / (double)d), c = (float)(sgh / (double)d);
        float *dxr = dx + r * d;
        if (w)
            for (int64_t j = 0; j < d; j++)
                dxr[j] += h.rstd * (dyr[j] * w[j] - a - (((xr[j] - h.head) - h.tail) * h.rstd) * c);
        else
            for (int64_t j = 0; j < d; j++)
                dxr[j] += h.rstd * (dyr[j] - a - (((xr[j] - h.head) - h.tail) * h.rstd) * c);
    }
}

/* ---- rmsnorm: y = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps), over the last dimension ----
 *
 * As torch.nn.RMSNorm (and SD3.5's QK-norm): no mean is taken out. Row sums
 * in double over LANES accumulators; recording keeps rstd per row, and
 * backward, with g = dy * weight and xhat = x * rstd, is
 *     dx += rstd * (g - xhat * mean(g * xhat)),   dw += sum_rows dy * xhat
 */

rt_tensor *rt_rmsnorm(rt_graph *g, rt_tensor *x, rt_tensor *weight, float eps) {
    RT_CHECK(x->ndim >= 1 && x->shape[x->ndim - 1] >= 1, "rmsnorm: needs a last dimension >= 1");
    int d = x->shape[x->ndim - 1];
    RT_CHECK(!weight || (weight->ndim == 1 && weight->shape[0] == d),
             "rmsnorm: weight does not match the last dimension %d", d);
    RT_CHECK(eps >= 0.0f, "rmsnorm: eps %g < 0", (double)eps);
    rt_tensor *in[2] = {x, weight};
    rt_op_params p = {.f = eps};
    return rt_graph_apply(g, RT_OP_RMSNORM, in, 2, &p, x->ndim, x->shape);
}

void rt_fwd_rmsnorm(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    const float *w = n->in[1] ? n->in[1]->data : NULL;
    int64_t d = x->shape[x->ndim - 1], rows = x->numel / d;
    double *rstd = n->out->grad ? rt_graph_scratch(g, rt_mul_size((size_t)rows, sizeof(double))) : NULL;
    n->saved = rstd;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * d;
        float *yr = n->out->data + r * d;
        double s = 1.0 / sqrt(row_sqdev(xr, d, 0.0) / (double)d + (double)n->p.f);
        if (rstd) rstd[r] = s;
        for (int64_t j = 0; j < d; j++) yr[j] = (float)((double)xr[j] * s * (w ? w[j] : 1.0f));
    }
}

void rt_bwd_rmsnorm(rt_graph *g, rt_node *n) {
    (void)g;
    const rt_tensor *x = n->in[0];
    const float *w = n->in[1] ? n->in[1]->data : NULL, *dy = n->out->grad;
    float *dx = x->grad, *dw = n->in[1] ? n->in[1]->grad : NULL;
    int64_t d = x->shape[x->ndim - 1], rows = x->numel / d;
    const double *rstd = n->saved;
    xhat_row h0 = {0.0f, 0.0f, 0.0f};
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x->data + r * d, *dyr = dy + r * d;
        xhat_row h = h0;
        h.rstd = (float)rstd[r];
        if (dw)
            for (int64_t j = 0; j < d; j++) dw[j] += dyr[j] * (xr[j] * h.rstd);
        if (!dx) continue;
        double sg, sgh;
        row_grad_sums(xr, dyr, w, d, h, &sg, &sgh);
        float c = (float)(sgh / (double)d);
        float *dxr = dx + r * d;
        for (int64_t j = 0; j < d; j++) dxr[j] += h.rstd * ((w ? dyr[j] * w[j] : dyr[j]) - (xr[j] * h.rstd) * c);
    }
}

/* ---- dropout: y = x * keep / (1 - p) ----
 *
 * The mask is a pure function of (seed, row key, element index j within the
 * row), so a row drops the same elements whichever rank holds it:
 *     base = fmix64(seed ^ fmix64(row_key + GOLDEN))
 *     h_j  = fmix64(base + (j + 1) * GOLDEN)      (the splitmix64 stream of base)
 *     keep = (h_j >> 32) >= ceil(p * 2^32)        (drop with probability p, to 2^-32)
 * with GOLDEN = 0x9e3779b97f4a7c15 and fmix64 the splitmix64 finaliser. A row
 * is the first dimension; j runs over the rest of the row in memory order.
 * Recording keeps the mask as one byte per element, so backward does not need
 * row_keys, which only has to live through the forward call.
 */

#define DROPOUT_GOLDEN 0x9e3779b97f4a7c15ULL

static inline uint64_t fmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

rt_tensor *rt_dropout(rt_graph *g, rt_tensor *x, float p, uint64_t seed, const uint64_t *row_keys,
                      bool train) {
    RT_CHECK(p >= 0.0f && p <= 1.0f, "dropout: p %g outside [0, 1]", (double)p);
    if (!train || p == 0.0f) return x;
    RT_CHECK(x->ndim >= 1, "dropout: needs a row dimension");
    RT_CHECK(row_keys || x->shape[0] == 0, "dropout: no row keys");
    rt_tensor *in[1] = {x};
    rt_op_params prm = {.f = p, .seed = seed, .row_keys = row_keys};
    return rt_graph_apply(g, RT_OP_DROPOUT, in, 1, &prm, x->ndim, x->shape);
}

void rt_fwd_dropout(rt_graph *g, rt_node *n) {
    const rt_tensor *x = n->in[0];
    float *y = n->out->data;
    int64_t rows = x->shape[0], cols = rows ? x->numel / rows : 0;
    double p = (double)n->p.f;
    /* drop iff the top 32 bits fall below thr; p == 1 gives 2^32, dropping all */
    uint64_t thr = (uint64_t)ceil(p * 4294967296.0);
    float scale = p < 1.0 ? (float)(1.0 / (1.0 - p)) : 0.0f;
    uint8_t *keep = n->out->grad ? rt_graph_scratch(g, (size_t)x->numel) : NULL;
    n->saved = keep;
    for (int64_t r = 0; r < rows; r++) {
        uint64_t base = fmix64(n->p.seed ^ fmix64(n->p.row_keys[r] + DROPOUT_GOLDEN));
        const float *xr = x->data + r * cols;
        float *yr = y + r * cols;
        uint64_t state = base;
        for (int64_t j = 0; j < cols; j++) {
            state += DROPOUT_GOLDEN;
            bool k = (fmix64(state) >> 32) >= thr;
            yr[j] = xr[j] * (k ? scale : 0.0f); /* a product, so NaN and inf propagate as in torch */
            if (keep) keep[r * cols + j] = k;
        }
    }
}

void rt_bwd_dropout(rt_graph *g, rt_node *n) {
    (void)g;
    float *dx = n->in[0]->grad;
    if (!dx) return;
    const float *dy = n->out->grad;
    const uint8_t *keep = n->saved;
    float scale = n->p.f < 1.0f ? (float)(1.0 / (1.0 - (double)n->p.f)) : 0.0f;
    for (int64_t i = 0; i < n->out->numel; i++) dx[i] += dy[i] * (scale * (float)keep[i]);
}
