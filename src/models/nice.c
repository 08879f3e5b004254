/* nice.c - NICE (Dinh et al. 2014): additive coupling layers with a unit
 * Jacobian, a diagonal scaling exp(s), and a logistic (or normal) prior.
 *
 *   x (b, D) is split by index parity into h0 = x[:, 0::2] and h1 = x[:, 1::2]
 *   coupling i (i even): h1 += m_i(h0)    (i odd): h0 += m_i(h1)
 *   z = h * exp(s), s (D) split the same way
 *   log p(x) = sum_d log p_prior(z_d) + sum_d s_d
 *   logistic: log p(z) = -(softplus(z) + softplus(-z))
 *   normal:   log p(z) = -z^2/2 - log(2 pi)/2
 *
 * Each m_i is an MLP (D/2 -> hidden x hidden_layers, ReLU -> D/2) named
 * "couplings.<i>.net.<j>" and s is "scale", as the torch module
 * tests/reference/nice_ref.py builds. 8-bit data is dequantised with uniform
 * noise: x = (k + u) / 256, k the pixel, u ~ U(0, 1) from the row's key.
 * model.logit_alpha a > 0 puts Real NVP's logit in front of the flow:
 *   v = logit(a + (1 - 2a) x),  log |dv/dx| = log(1 - 2a) - log y - log(1 - y)
 * with y = a + (1 - 2a) x, so the density and bits/dim stay those of x.
 * model.scale_init "data" starts the couplings at the identity and fits s to
 * the first batch (nice_data_init). */
#include "family.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NICE_DEQUANT_STREAM 0x6465717561ULL /* "dequa" */
#define LOG_2PI 1.8378770664093454836

typedef struct nice_arch {
    int64_t couplings;     /* additive coupling layers */
    int64_t hidden;        /* width of each coupling MLP */
    int64_t hidden_layers; /* its hidden layers */
    int prior;             /* NICE_LOGISTIC or NICE_NORMAL */
    int scale_init;        /* NICE_SCALE_ZERO or NICE_SCALE_DATA */
    double logit_alpha;    /* 0: none; else the logit's a, in (0, 0.5) */
} nice_arch;

enum { NICE_LOGISTIC, NICE_NORMAL };
enum { NICE_SCALE_ZERO, NICE_SCALE_DATA };

typedef struct nice_state {
    nice_arch arch;
    rt_mlp *coupling; /* (arch.couplings) */
    rt_tensor *scale; /* (D) the diagonal scaling's log-scale s */
} nice_state;

static int nice_check(cJSON *model, rt_config *c, const char *origin) {
    (void)model;
    int64_t d = 1;
    for (int i = 0; i < c->model.input_ndim; i++) d *= c->model.input[i];
    if (d % 2 || d < 2)
        return rt_err(RT_EBADINPUT, "%s: model.input: a nice model needs an even number of inputs, got %lld",
                      origin, (long long)d);
    if (c->data.mean != 0.0 || c->data.std != 1.0)
        return rt_err(RT_EBADINPUT,
                      "%s: data.mean: a nice model reads pixels in [0, 1] (its density and bits/dim are on "
                      "that scale); keep data.mean 0 and data.std 1",
                      origin);
    return RT_OK;
}

static void nice_build(rt_model *m, const rt_config *c) {
    nice_state *s = rt_calloc(1, sizeof *s);
    s->arch = *(const nice_arch *)c->model.arch;
    int half = (int)(m->input_size / 2), n = (int)s->arch.couplings;
    s->coupling = rt_calloc((size_t)n, sizeof *s->coupling);
    rt_params_init(&m->params, n * 2 * RT_MLP_MAX + 1);
    for (int i = 0; i < n; i++) {
        char prefix[RT_NAME_MAX];
        snprintf(prefix, sizeof prefix, "couplings.%d.net", i);
        rt_mlp_init(&s->coupling[i], &m->params, prefix, half, (int)s->arch.hidden, (int)s->arch.hidden_layers,
                    half, RT_OP_RELU);
    }
    int d = (int)m->input_size;
    s->scale = rt_params_add(&m->params, "scale", 1, &d);
    m->state = s;
}

static void nice_init(rt_model *m, rt_rng *rng) {
    nice_state *s = m->state;
    for (int i = 0; i < s->arch.couplings; i++) rt_mlp_reset(&s->coupling[i], rng);
    memset(s->scale->data, 0, (size_t)s->scale->numel * sizeof(float)); /* exp(0) = 1 */
}

static void nice_destroy(rt_model *m) {
    nice_state *s = m->state;
    if (s) rt_free(s->coupling);
    rt_free(s);
    m->state = NULL;
}

static bool is_nice(const rt_model *m) { return m->family == &rt_family_nice; }

double rt_model_nice_logdet(const rt_model *m) {
    RT_CHECK(is_nice(m), "rt_model_nice_logdet: not a nice model");
    const nice_state *st = m->state;
    double s = 0.0;
    for (int64_t i = 0; i < st->scale->numel; i++) s += st->scale->data[i];
    return s;
}

static int nice_info(const rt_model *m, rt_metric *out) {
    out[0] = (rt_metric){"logdet", "%.4f", rt_model_nice_logdet(m)};
    return 1;
}

/* Splits x (n, D) by parity into two fresh (n, D/2) graph tensors. */
static void split_parity(rt_graph *g, const float *x, int64_t n, int64_t half, rt_tensor **h0,
                         rt_tensor **h1) {
    int shape[2] = {(int)n, (int)half};
    *h0 = rt_graph_tensor(g, 2, shape, false);
    *h1 = rt_graph_tensor(g, 2, shape, false);
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < half; j++) {
            (*h0)->data[r * half + j] = x[r * 2 * half + 2 * j];
            (*h1)->data[r * half + j] = x[r * 2 * half + 2 * j + 1];
        }
}

static void join_parity(const rt_tensor *h0, const rt_tensor *h1, float *x) {
    int64_t n = h0->shape[0], half = h0->shape[1];
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < half; j++) {
            x[r * 2 * half + 2 * j] = h0->data[r * half + j];
            x[r * 2 * half + 2 * j + 1] = h1->data[r * half + j];
        }
}

/* The scale's even and odd halves, as (half) views through the graph. */
static void scale_halves(rt_model *m, rt_graph *g, rt_tensor **s0, rt_tensor **s1) {
    int pairs[2] = {(int)(m->input_size / 2), 2}, flat[1] = {(int)(m->input_size / 2)};
    rt_tensor *s = rt_reshape(g, ((nice_state *)m->state)->scale, 2, pairs);
    *s0 = rt_reshape(g, rt_slice(g, s, 1, 0, 1), 1, flat);
    *s1 = rt_reshape(g, rt_slice(g, s, 1, 1, 1), 1, flat);
}

/* x halves -> z halves (forward direction, recorded). */
static void nice_forward(rt_model *m, rt_graph *g, rt_tensor **h0, rt_tensor **h1) {
    const nice_state *st = m->state;
    for (int i = 0; i < st->arch.couplings; i++) {
        if (i % 2 == 0)
            *h1 = rt_add(g, *h1, rt_mlp_forward(g, &st->coupling[i], *h0));
        else
            *h0 = rt_add(g, *h0, rt_mlp_forward(g, &st->coupling[i], *h1));
    }
    rt_tensor *s0, *s1;
    scale_halves(m, g, &s0, &s1);
    *h0 = rt_scale(g, *h0, rt_exp(g, s0));
    *h1 = rt_scale(g, *h1, rt_exp(g, s1));
}

/* sum over rows and dims of -log p_prior(z) for one half. */
static rt_tensor *neg_log_prior(rt_model *m, rt_graph *g, rt_tensor *z) {
    if (((const nice_state *)m->state)->arch.prior == NICE_NORMAL) {
        float c = (float)(0.5 * LOG_2PI * (double)z->numel);
        return rt_affine(g, rt_sum(g, rt_mul(g, z, z)), 0.5f, c);
    }
    return rt_add(g, rt_sum(g, rt_softplus(g, z)), rt_sum(g, rt_softplus(g, rt_affine(g, z, -1.0f, 0.0f))));
}

/* x = (255 x + u) / 256 for each of b's rows (x = k/255 as read), u from the row's key. */
static void dequantise(const rt_model_batch *b, int64_t D, float *out) {
    const float *x = b->x->data;
    for (int64_t r = 0; r < b->x->shape[0]; r++) {
        rt_rng rng;
        rt_rng_seed(&rng, b->keys[r], NICE_DEQUANT_STREAM);
        for (int64_t j = 0; j < D; j++) {
            float k = roundf(x[r * D + j] * 255.0f);
            out[r * D + j] = (k + rt_rng_uniform(&rng)) * (1.0f / 256.0f);
        }
    }
}

/* x (count values in [0, 1]) -> v = logit(a + (1 - 2a) x) in place; returns
 * the sum of log |dv/dx|, in double. */
static double to_logit(float *x, int64_t count, double a) {
    double sum = 0.0, c = log1p(-2.0 * a);
    for (int64_t i = 0; i < count; i++) {
        double y = a + (1.0 - 2.0 * a) * (double)x[i];
        x[i] = (float)(log(y) - log1p(-y));
        sum += c - log(y) - log1p(-y);
    }
    return sum;
}

/* The rows the flow reads: b's x, dequantised if 8-bit, through the logit
 * if the model has one (then *logdet_sum is its log |dv/dx| over all). */
static const float *flow_input(const nice_state *st, rt_graph *g, const rt_model_batch *b, int64_t D,
                               double *logdet_sum) {
    int64_t n = b->x->shape[0];
    *logdet_sum = 0.0;
    if (!b->quantized && st->arch.logit_alpha == 0.0) return b->x->data;
    float *x = rt_graph_scratch(g, (size_t)(n * D) * sizeof(float));
    if (b->quantized) dequantise(b, D, x);
    else memcpy(x, b->x->data, (size_t)(n * D) * sizeof(float));
    if (st->arch.logit_alpha > 0.0) *logdet_sum = to_logit(x, n * D, st->arch.logit_alpha);
    return x;
}

static rt_tensor *nice_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                            rt_batch_stats *st) {
    int64_t n = b->x->shape[0], D = m->input_size, half = D / 2;
    double pre_logdet;
    const float *x = flow_input(m->state, g, b, D, &pre_logdet);
    rt_tensor *h0, *h1;
    split_parity(g, x, n, half, &h0, &h1);
    nice_forward(m, g, &h0, &h1);
    /* NLL summed over rows: -sum log p(z) - n * sum(s) - the logit's log-det */
    rt_tensor *prior = rt_add(g, neg_log_prior(m, g, h0), neg_log_prior(m, g, h1));
    rt_tensor *logdet = rt_sum(g, ((nice_state *)m->state)->scale);
    rt_tensor *loss = rt_add(g, rt_affine(g, prior, scale, (float)(-(double)scale * pre_logdet)),
                             rt_affine(g, logdet, -scale * (float)n, 0.0f));
    st->count += n;
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}

int rt_model_nice_transform(rt_model *m, rt_graph *g, int64_t n, const float *in, float *out,
                            bool inverse) {
    if (!is_nice(m)) return rt_err(RT_EBADINPUT, "the NICE transform needs a nice model");
    const nice_state *st = m->state;
    bool was = rt_graph_grad_enabled(g);
    rt_graph_set_grad(g, false);
    rt_graph_reset(g);
    int64_t half = m->input_size / 2;
    rt_tensor *h0, *h1;
    split_parity(g, in, n, half, &h0, &h1);
    if (!inverse) {
        nice_forward(m, g, &h0, &h1);
    } else {
        rt_tensor *s0, *s1;
        scale_halves(m, g, &s0, &s1);
        h0 = rt_scale(g, h0, rt_exp(g, rt_affine(g, s0, -1.0f, 0.0f)));
        h1 = rt_scale(g, h1, rt_exp(g, rt_affine(g, s1, -1.0f, 0.0f)));
        for (int i = (int)st->arch.couplings - 1; i >= 0; i--) {
            if (i % 2 == 0)
                h1 = rt_add(g, h1, rt_affine(g, rt_mlp_forward(g, &st->coupling[i], h0), -1.0f, 0.0f));
            else
                h0 = rt_add(g, h0, rt_affine(g, rt_mlp_forward(g, &st->coupling[i], h1), -1.0f, 0.0f));
        }
    }
    join_parity(h0, h1, out);
    rt_graph_set_grad(g, was);
    return RT_OK;
}

/* The s maximising sum_i log p_prior(h_i e^s) + n s over the n values h_i
 * (stride apart): the prior fitted to h by its scale alone. normal: mean z^2
 * = 1, z = h e^s. logistic: mean z tanh(z/2) = 1, whose left side grows with
 * s; bisection in double. Within [-20, 20]. A dimension that is 0 in every
 * row has no spread to fit (its optimum, s -> inf, would make any later
 * nonzero value there explode): it keeps s = 0. */
static float fit_log_scale(const float *h, int64_t n, int64_t stride, int prior) {
    double lo = -20.0, hi = 20.0, sq = 0.0;
    for (int64_t i = 0; i < n; i++) sq += (double)h[i * stride] * h[i * stride];
    if (sq == 0.0) return 0.0f;
    if (prior == NICE_NORMAL) {
        double s = -0.5 * log(sq / (double)n);
        return (float)(s < lo ? lo : s > hi ? hi : s);
    }
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi), e = exp(mid), sum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            double z = (double)h[i * stride] * e;
            sum += z * tanh(0.5 * z);
        }
        if (sum < (double)n) lo = mid;
        else hi = mid;
    }
    return (float)(0.5 * (lo + hi));
}

static bool nice_needs_data_init(const rt_model *m) {
    return ((const nice_state *)m->state)->arch.scale_init == NICE_SCALE_DATA;
}

/* model.scale_init "data": each coupling's last layer starts at zero (the
 * flow starts as the scaling alone, as Glow's zero-initialised couplings),
 * and s is fitted per dimension to b's dequantised rows. */
static void nice_data_init(rt_model *m, rt_graph *g, const rt_model_batch *b) {
    nice_state *st = m->state;
    int64_t n = b->x->shape[0], D = m->input_size;
    for (int i = 0; i < st->arch.couplings; i++) {
        const rt_linear_mod *last = &st->coupling[i].lin[st->coupling[i].n - 1];
        memset(last->weight->data, 0, (size_t)last->weight->numel * sizeof(float));
        memset(last->bias->data, 0, (size_t)last->bias->numel * sizeof(float));
    }
    float *h = rt_malloc(rt_mul_size((size_t)(n * D), sizeof(float)));
    if (b->quantized) dequantise(b, D, h);
    else memcpy(h, b->x->data, (size_t)(n * D) * sizeof(float));
    if (st->arch.logit_alpha > 0.0) (void)to_logit(h, n * D, st->arch.logit_alpha);
    memset(st->scale->data, 0, (size_t)st->scale->numel * sizeof(float)); /* the transform gives h */
    for (int64_t r = 0; r < n; r += 256) {
        int64_t k = n - r < 256 ? n - r : 256;
        rt_model_nice_transform(m, g, k, h + r * D, h + r * D, false);
    }
    for (int64_t d = 0; d < D; d++) st->scale->data[d] = fit_log_scale(h + d, n, D, st->arch.prior);
    rt_free(h);
}

static void nice_sample(rt_model *m, rt_graph *g, const rt_sample_opts *o, float *out) {
    int64_t n = o->n;
    uint64_t seed = o->seed;
    int64_t D = m->input_size;
    rt_rng rng;
    rt_rng_seed(&rng, seed, 0x6e696365 /* "nice" */);
    for (int64_t i = 0; i < n * D; i++) {
        if (((const nice_state *)m->state)->arch.prior == NICE_NORMAL) {
            out[i] = rt_rng_normal(&rng);
        } else { /* inverse CDF of the logistic, u in (0, 1) */
            double u = ((double)rt_rng_uniform(&rng) + 0x1.0p-25) / (1.0 + 0x1.0p-24);
            out[i] = (float)(log(u) - log1p(-u));
        }
        if (o->temperature != 1.0) out[i] *= (float)o->temperature;
    }
    if (o->noise) memcpy(o->noise, out, (size_t)(n * D) * sizeof(float));
    for (int64_t r = 0; r < n; r += 256) { /* in chunks: bounded activations */
        int64_t k = n - r < 256 ? n - r : 256;
        rt_model_nice_transform(m, g, k, out + r * D, out + r * D, true);
    }
    double a = ((const nice_state *)m->state)->arch.logit_alpha;
    if (a > 0.0) /* v -> x = (sigmoid(v) - a) / (1 - 2a) */
        for (int64_t i = 0; i < n * D; i++)
            out[i] = (float)((1.0 / (1.0 + exp(-(double)out[i])) - a) / (1.0 - 2.0 * a));
}

#define A nice_arch
static const rt_key nice_keys[] = {
    KINT("couplings", A, couplings, "4", 1, 64),
    KINT("hidden", A, hidden, "1000", 1, 1 << 16),
    KINT("hidden_layers", A, hidden_layers, "5", 1, 32),
    KENUM("prior", A, prior, "\"logistic\"", "logistic|normal"),
    KENUM("scale_init", A, scale_init, "\"zero\"", "zero|data"),
    KNUM_IN("logit_alpha", A, logit_alpha, "0", 0, 0.5, false, true),
};
#undef A

static const char *nice_size_keys(const rt_config *c) {
    (void)c;
    return "model.hidden";
}

const rt_family rt_family_nice = {
    .name = "nice",
    .task = RT_TASK_DENSITY,
    .keys = nice_keys,
    .nkeys = (int)(sizeof nice_keys / sizeof nice_keys[0]),
    .arch_size = sizeof(nice_arch),
    .size_keys = nice_size_keys,
    .check = nice_check,
    .build = nice_build,
    .init = nice_init,
    .destroy = nice_destroy,
    .loss = nice_loss,
    .sample = nice_sample,
    .info = nice_info,
    .needs_data_init = nice_needs_data_init,
    .data_init = nice_data_init,
};
