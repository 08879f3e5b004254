/* heads.c - the keypoint heads: L1 regression, SimCC and RLE.
 *
 * regression  Linear(F, 2K) -> coordinates normalised to [0, 1] (x / W, y / H);
 *             loss: mean over the 2K of |pred - target|.
 * simcc       (Li et al., arXiv 2107.03332) Linear(F, K W k) and Linear(F, K H k):
 *             x- and y-logits over k bins per pixel. Labels: a Gaussian of
 *             sigma bins around round(coord k) (round half to even), divided by
 *             sigma sqrt(2 pi), as mmpose's SimCCLabel; loss as mmpose's
 *             KLDiscretLoss (beta 1): (1/K) sum_k [mean_bins KL_x + mean_bins KL_y]
 *             per row; decoded by argmax / k.
 * rle         (Li et al., ICCV 2021) Linear(F, 4K): (mu_x, mu_y, s_x, s_y) per
 *             keypoint, sigma = sigmoid(s), e = (mu - target) / (sigma + 1e-9),
 *             with mu and target normalised as above. Loss as mmpose's RLELoss with
 *             a Laplace residual, summed over keypoints and both axes:
 *             log sigma - log G(e) + log(2 sigma) + |e|, where G is a RealNVP on
 *             2-D: 6 affine couplings with alternating masks [0,1], [1,0], ...;
 *             s-net 2 -> 64 -> 64 -> 2 (LeakyReLU 0.01, tanh on the output), t-net the
 *             same without tanh; prior N(0, I); trained jointly. Prediction: mu.
 * Parameter names: head.fc (regression, rle), head.fc_x and head.fc_y (simcc),
 * head.flow.s.<i>.<0|2|4> and head.flow.t.<i>.<0|2|4> (the RealNVP's nets, as
 * mmpose's flow_model.s and .t). */
#include "heads.h"

#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FLOWS 6
#define FLOW_HIDDEN 64
#define LEAK 0.01f

/* ---- shared ---- */

typedef struct head_base {
    int F, W, H, K;
} head_base;

/* A fixed (b, n) tensor of the graph, filled by the caller. */
static rt_tensor *fixed(rt_graph *g, int b, int n) {
    int shape[2] = {b, n};
    return rt_graph_tensor(g, 2, shape, false);
}

/* The targets normalised and negated: -x / W, -y / H, as (b, K * 2). */
static rt_tensor *neg_target(rt_graph *g, const head_base *h, const float *kp, int b) {
    rt_tensor *t = fixed(g, b, 2 * h->K);
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = -kp[i] / (float)(i % 2 ? h->H : h->W);
    return t;
}

/* Normalised coordinates (b, K * 2) back to pixels. */
static void to_pixels(const head_base *h, const float *norm, int64_t n, float *pred) {
    for (int64_t i = 0; i < n; i++) pred[i] = norm[i] * (float)(i % 2 ? h->H : h->W);
}

/* ---- regression ---- */

typedef struct reg_state {
    head_base h;
    rt_linear_mod fc;
} reg_state;

static void *reg_declare(rt_params *p, int F, int W, int H, const kp_arch *a) {
    reg_state *s = rt_calloc(1, sizeof *s);
    s->h = (head_base){F, W, H, (int)a->keypoints};
    rt_linear_mod_init(&s->fc, p, "head.fc", F, 2 * s->h.K, true);
    return s;
}

static void reg_reset(void *state, rt_rng *rng) { rt_linear_mod_reset(&((reg_state *)state)->fc, rng); }

static rt_tensor *reg_loss(rt_graph *g, void *state, const kp_batch *b) {
    reg_state *s = state;
    rt_tensor *out = rt_linear_mod_forward(g, &s->fc, b->feat);
    int rows = out->shape[0];
    to_pixels(&s->h, out->data, out->numel, b->pred);
    if (!b->kp) return NULL;
    rt_tensor *diff = rt_add(g, out, neg_target(g, &s->h, b->kp, rows));
    return rt_affine(g, rt_sum(g, rt_abs(g, diff)), b->scale / (float)(2 * s->h.K), 0.0f);
}

/* ---- simcc ---- */

typedef struct simcc_state {
    head_base h;
    int wb, hb; /* bins along x and y */
    double split, sigma;
    rt_linear_mod fx, fy;
} simcc_state;

static void *simcc_declare(rt_params *p, int F, int W, int H, const kp_arch *a) {
    simcc_state *s = rt_calloc(1, sizeof *s);
    s->h = (head_base){F, W, H, (int)a->keypoints};
    s->split = a->simcc_split, s->sigma = a->simcc_sigma;
    s->wb = (int)nearbyint(W * s->split), s->hb = (int)nearbyint(H * s->split);
    rt_linear_mod_init(&s->fx, p, "head.fc_x", F, s->h.K * s->wb, true);
    rt_linear_mod_init(&s->fy, p, "head.fc_y", F, s->h.K * s->hb, true);
    return s;
}

static void simcc_reset(void *state, rt_rng *rng) {
    simcc_state *s = state;
    rt_linear_mod_reset(&s->fx, rng);
    rt_linear_mod_reset(&s->fy, rng);
}

/* Gaussian labels (rows, bins) around round(coord * split) of one axis of kp */
static rt_tensor *simcc_labels(rt_graph *g, const simcc_state *s, const float *kp, int axis, int rows, int bins) {
    rt_tensor *t = fixed(g, rows, bins);
    double norm = s->sigma * sqrt(2.0 * M_PI);
    for (int r = 0; r < rows; r++) {
        double mu = nearbyint((double)kp[2 * r + axis] * s->split); /* half to even, as numpy's around */
        for (int j = 0; j < bins; j++)
            t->data[(int64_t)r * bins + j] = (float)(exp(-(j - mu) * (j - mu) / (2.0 * s->sigma * s->sigma)) / norm);
    }
    return t;
}

/* argmax of each row of logits (rows, bins) / split into pred's axis */
static void simcc_decode(const rt_tensor *z, int axis, double split, float *pred) {
    int rows = z->shape[0], bins = z->shape[1];
    for (int r = 0; r < rows; r++) {
        const float *v = z->data + (int64_t)r * bins;
        int best = 0;
        for (int j = 1; j < bins; j++) best = v[j] > v[best] ? j : best;
        pred[2 * r + axis] = (float)(best / split);
    }
}

static rt_tensor *simcc_loss(rt_graph *g, void *state, const kp_batch *b) {
    simcc_state *s = state;
    int n = b->feat->shape[0], K = s->h.K, rows = n * K;
    int sx[2] = {rows, s->wb}, sy[2] = {rows, s->hb};
    rt_tensor *zx = rt_reshape(g, rt_linear_mod_forward(g, &s->fx, b->feat), 2, sx);
    rt_tensor *zy = rt_reshape(g, rt_linear_mod_forward(g, &s->fy, b->feat), 2, sy);
    simcc_decode(zx, 0, s->split, b->pred);
    simcc_decode(zy, 1, s->split, b->pred);
    if (!b->kp) return NULL;
    rt_tensor *lx = rt_kl_div(g, rt_log_softmax(g, zx), simcc_labels(g, s, b->kp, 0, rows, s->wb),
                              b->scale / (float)(K * s->wb));
    rt_tensor *ly = rt_kl_div(g, rt_log_softmax(g, zy), simcc_labels(g, s, b->kp, 1, rows, s->hb),
                              b->scale / (float)(K * s->hb));
    return rt_add(g, lx, ly);
}

/* ---- rle ---- */

typedef struct flow_net3 {
    rt_linear_mod l[3];
} flow_net3;

typedef struct rle_state {
    head_base h;
    rt_linear_mod fc;
    flow_net3 s[FLOWS], t[FLOWS];
} rle_state;

static void net3_init(flow_net3 *n, rt_params *p, const char *which, int i) {
    static const int in[3] = {2, FLOW_HIDDEN, FLOW_HIDDEN}, out[3] = {FLOW_HIDDEN, FLOW_HIDDEN, 2};
    for (int j = 0; j < 3; j++) {
        char name[64];
        snprintf(name, sizeof name, "head.flow.%s.%d.%d", which, i, 2 * j);
        rt_linear_mod_init(&n->l[j], p, name, in[j], out[j], true);
    }
}

/* x (r, 2) -> (r, 2) through Linear, LeakyReLU, Linear, LeakyReLU, Linear (then tanh for s) */
static rt_tensor *net3_forward(rt_graph *g, const flow_net3 *n, rt_tensor *x, bool tanh_out) {
    x = rt_leaky_relu(g, rt_linear_mod_forward(g, &n->l[0], x), LEAK);
    x = rt_leaky_relu(g, rt_linear_mod_forward(g, &n->l[1], x), LEAK);
    x = rt_linear_mod_forward(g, &n->l[2], x);
    return tanh_out ? rt_tanh(g, x) : x;
}

static void *rle_declare(rt_params *p, int F, int W, int H, const kp_arch *a) {
    rle_state *s = rt_calloc(1, sizeof *s);
    s->h = (head_base){F, W, H, (int)a->keypoints};
    rt_linear_mod_init(&s->fc, p, "head.fc", F, 4 * s->h.K, true);
    for (int i = 0; i < FLOWS; i++) {
        net3_init(&s->s[i], p, "s", i);
        net3_init(&s->t[i], p, "t", i);
    }
    return s;
}

/* torch's default linear init, then xavier_uniform_ (gain 0.01) on the flow's weights, as mmpose's RealNVP */
static void rle_reset(void *state, rt_rng *rng) {
    rle_state *s = state;
    rt_linear_mod_reset(&s->fc, rng);
    for (int i = 0; i < FLOWS; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++) {
                const rt_linear_mod *m = k ? &s->t[i].l[j] : &s->s[i].l[j];
                rt_linear_mod_reset(m, rng);
                float bound = 0.01f * sqrtf(6.0f / (float)(m->in + m->out));
                for (int64_t e = 0; e < m->weight->numel; e++)
                    m->weight->data[e] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
            }
}

/* A fixed (2) mask of coupling i: [0, 1] for even i, [1, 0] for odd; or its complement */
static rt_tensor *mask(rt_graph *g, int i, bool complement) {
    int one = 2;
    rt_tensor *m = rt_graph_tensor(g, 1, &one, false);
    m->data[0] = (float)((i % 2 == 1) != complement), m->data[1] = (float)((i % 2 == 0) != complement);
    return m;
}

/* log G(e) of each row of e (r, 2): the couplings from the last to the
 * first (mmpose's backward_p), then the standard normal's log density plus
 * the log-determinant. Returns (r). */
static rt_tensor *rle_log_prob(rt_graph *g, const rle_state *s, rt_tensor *e) {
    rt_tensor *z = e, *logdet = NULL;
    for (int i = FLOWS - 1; i >= 0; i--) {
        rt_tensor *m = mask(g, i, false), *im = mask(g, i, true);
        rt_tensor *zm = rt_scale(g, z, m);
        rt_tensor *sv = rt_scale(g, net3_forward(g, &s->s[i], zm, true), im);
        rt_tensor *tv = rt_scale(g, net3_forward(g, &s->t[i], zm, false), im);
        rt_tensor *zt = rt_add(g, z, rt_affine(g, tv, -1.0f, 0.0f));
        z = rt_add(g, rt_scale(g, rt_mul(g, zt, rt_exp(g, rt_affine(g, sv, -1.0f, 0.0f))), im), zm);
        rt_tensor *ls = rt_affine(g, rt_sum_axis(g, sv, 1), -1.0f, 0.0f);
        logdet = logdet ? rt_add(g, logdet, ls) : ls;
    }
    rt_tensor *prior = rt_affine(g, rt_sum_axis(g, rt_mul(g, z, z), 1), -0.5f, -(float)log(2.0 * M_PI));
    return rt_add(g, prior, logdet);
}

rt_tensor *kp_rle_log_prob(rt_graph *g, void *state, rt_tensor *e) { return rle_log_prob(g, state, e); }

static rt_tensor *rle_loss(rt_graph *g, void *state, const kp_batch *b) {
    rle_state *s = state;
    int n = b->feat->shape[0], K = s->h.K, r = n * K;
    int four[2] = {r, 4}, two[2] = {2, 2};
    rt_tensor *out = rt_reshape(g, rt_linear_mod_forward(g, &s->fc, b->feat), 2, four), *part[2];
    rt_split(g, out, 1, 2, two, part); /* (mu_x, mu_y), (s_x, s_y) per keypoint */
    to_pixels(&s->h, part[0]->data, part[0]->numel, b->pred);
    if (!b->kp) return NULL;
    rt_tensor *t = neg_target(g, &s->h, b->kp, n);
    int r2[2] = {r, 2};
    rt_tensor *sigma = rt_sigmoid(g, part[1]);
    rt_tensor *e = rt_div(g, rt_add(g, part[0], rt_reshape(g, t, 2, r2)), rt_affine(g, sigma, 1.0f, 1e-9f));
    rt_tensor *log_sigma = rt_sum(g, rt_log(g, sigma)), *abs_e = rt_sum(g, rt_abs(g, e));
    rt_tensor *log_phi = rt_sum(g, rle_log_prob(g, s, e));
    /* sum of (log sigma - log G + log 2 + log sigma + |e|) over keypoints and axes */
    rt_tensor *sum = rt_add(g, rt_add(g, rt_affine(g, log_sigma, 2.0f, (float)(2.0 * r * log(2.0))), abs_e),
                            rt_affine(g, log_phi, -2.0f, 0.0f));
    return rt_affine(g, sum, b->scale, 0.0f);
}

/* ---- the table ---- */

#define A kp_arch
static const rt_key reg_keys[] = {KINT("keypoints", A, keypoints, "5", 1, 1024)};
static const rt_key simcc_keys[] = {
    KINT("keypoints", A, keypoints, "5", 1, 1024),
    KNUM_POS("simcc_split", A, simcc_split, "2", 0, 16),
    KNUM_POS("simcc_sigma", A, simcc_sigma, "6", 0, 1000),
};
static const rt_key rle_keys[] = {KINT("keypoints", A, keypoints, "5", 1, 1024)};
#undef A

#define N(k) k, (int)(sizeof k / sizeof k[0])
static const kp_head_def regression = {"regression", N(reg_keys), 2, reg_declare, reg_reset, reg_loss};
static const kp_head_def simcc = {"simcc", N(simcc_keys), 4, simcc_declare, simcc_reset, simcc_loss};
static const kp_head_def rle = {"rle", N(rle_keys), 2 + FLOWS * 2 * 3 * 2, rle_declare, rle_reset, rle_loss};
#undef N

const kp_head_def *const rt_kp_heads[KP_NHEADS] = {NULL, &regression, &simcc, &rle};
const int rt_kp_nheads = (int)(sizeof rt_kp_heads / sizeof rt_kp_heads[0]);
const rt_key_table rt_kp_head_keys[KP_NHEADS - 1] = {
    {"regression", &regression.keys, &regression.nkeys},
    {"simcc", &simcc.keys, &simcc.nkeys},
    {"rle", &rle.keys, &rle.nkeys},
};
