/* rectflow.c - rectified flow / flow matching (Liu et al. 2022; SD3's
 * logit-normal timesteps, Esser et al. 2024).
 *
 *   x1 a data row, x0 ~ N(0, I), t in (0, 1)
 *   x_t = t x1 + (1 - t) x0         the straight path from noise (t=0) to data (t=1)
 *   loss = mean_d (v(x_t, t) - (x1 - x0))^2 per row
 *   t = sigmoid(m + s n), n ~ N(0, 1) (logit-normal, SD3 defaults m=0 s=1), or U(0, 1)
 *   sampling: x ~ N(0, I), then K Euler steps x += v(x, k/K) / K
 *
 * t enters the velocity net as a sinusoidal embedding of size E:
 * emb = [sin(1000 t f_0..f_{E/2-1}), cos(...)], f_i = 10000^(-i/(E/2)).
 *   mlp:  [x_t, emb] (D + E) -> hidden x hidden_layers (GELU) -> D, "net.<j>"
 *   conv: a small U-Net on [C + E, H, W] (emb broadcast as E planes):
 *         enc0 3x3 C+E->c | enc1 3x3/2 c->2c | enc2 3x3/2 2c->2c | mid 3x3 2c->2c
 *         up1: x2 (PixelShuffle: conv 2c->4c then shuffle; or Upsample nearest or
 *              bilinear then conv 2c->c), concat enc1 -> dec1 3x3 3c->2c
 *         up2: x2 the same way 2c->c, concat enc0 -> dec2 3x3 2c->c | out 3x3 c->C
 *         GELU after every conv but out. */
#include "family.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#define FLOW_NOISE_STREAM 0x6e6f697365ULL /* "noise" */

typedef struct flow_arch {
    int64_t hidden, hidden_layers; /* mlp: the velocity MLP */
    int net;                       /* a row of flow_nets */
    int64_t time_embed;            /* E, even */
    int timesteps;                 /* FLOW_LOGIT_NORMAL or FLOW_UNIFORM */
    double logit_mean, logit_std;  /* m and s of the logit-normal */
    int64_t sample_steps;          /* Euler steps when sampling */
    int64_t channels;              /* conv: base channels */
    int upsample;                  /* conv: FLOW_PIXEL_SHUFFLE, FLOW_NEAREST or FLOW_BILINEAR */
} flow_arch;

enum { FLOW_LOGIT_NORMAL, FLOW_UNIFORM };
enum { FLOW_PIXEL_SHUFFLE, FLOW_NEAREST, FLOW_BILINEAR };
enum { ENC0, ENC1, ENC2, MID, UP1, DEC1, UP2, DEC2, OUT, NCONVS };

typedef struct flow_state {
    flow_arch arch;
    rt_mlp velocity;           /* mlp net: (D + E) -> D */
    rt_conv2d_mod conv[NCONVS]; /* conv net */
} flow_state;

/* A velocity net: its parameters, their initial values, and v(x_t, t) for
 * n rows whose inputs (and time embeddings) are already laid out. */
typedef struct flow_net {
    const char *name; /* model.net */
    void (*declare)(rt_model *m, flow_state *s);
    void (*reset)(flow_state *s, rt_rng *rng);
    rt_tensor *(*velocity)(rt_model *m, rt_graph *g, const float *xt, const float *t, int64_t n);
} flow_net;

static void conv_init(rt_model *m, flow_state *s, int idx, const char *name, int in, int out, int stride) {
    rt_conv2d_args a = {{stride, stride}, {1, 1}, {1, 1}};
    rt_conv2d_mod_init(&s->conv[idx], &m->params, name, in, out, 3, 3, &a, true);
}

static void mlp_declare(rt_model *m, flow_state *s) {
    int D = (int)m->input_size, E = (int)s->arch.time_embed;
    rt_mlp_init(&s->velocity, &m->params, "net", D + E, (int)s->arch.hidden, (int)s->arch.hidden_layers, D,
                RT_OP_GELU);
}

static void mlp_reset(flow_state *s, rt_rng *rng) { rt_mlp_reset(&s->velocity, rng); }

static void unet_declare(rt_model *m, flow_state *s) {
    int C = m->input[0], E = (int)s->arch.time_embed, c = (int)s->arch.channels;
    bool shuffle = s->arch.upsample == FLOW_PIXEL_SHUFFLE;
    conv_init(m, s, ENC0, "enc0", C + E, c, 1);
    conv_init(m, s, ENC1, "enc1", c, 2 * c, 2);
    conv_init(m, s, ENC2, "enc2", 2 * c, 2 * c, 2);
    conv_init(m, s, MID, "mid", 2 * c, 2 * c, 1);
    conv_init(m, s, UP1, "up1", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, s, DEC1, "dec1", 3 * c, 2 * c, 1);
    conv_init(m, s, UP2, "up2", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, s, DEC2, "dec2", 2 * c, c, 1);
    conv_init(m, s, OUT, "out", c, C, 1);
}

static void unet_reset(flow_state *s, rt_rng *rng) {
    for (int i = 0; i < NCONVS; i++) rt_conv2d_mod_reset(&s->conv[i], rng);
}

/* The sinusoidal embedding of t into emb (E). */
static void time_embed(float t, int E, float *emb) {
    int half = E / 2;
    for (int i = 0; i < half; i++) {
        double f = exp(-log(10000.0) * (double)i / (double)half);
        emb[i] = (float)sin(1000.0 * (double)t * f);
        emb[half + i] = (float)cos(1000.0 * (double)t * f);
    }
}

/* x2 upsampling of h by the configured mode, through conv `up`. */
static rt_tensor *upsample(const flow_state *s, rt_graph *g, int up, rt_tensor *h) {
    switch (s->arch.upsample) {
    case FLOW_NEAREST: h = rt_upsample_nearest(g, h, 2, 2); break;
    case FLOW_BILINEAR: h = rt_upsample_bilinear(g, h, 2, 2, false); break;
    default: return rt_gelu(g, rt_pixel_shuffle(g, rt_conv2d_mod_forward(g, &s->conv[up], h), 2));
    }
    return rt_gelu(g, rt_conv2d_mod_forward(g, &s->conv[up], h));
}

/* v(x_t, t) of the mlp net: [x_t, emb] rows; xt (n, D), t (n). */
static rt_tensor *mlp_velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, int64_t n) {
    const flow_state *s = m->state;
    int64_t D = m->input_size, E = s->arch.time_embed;
    int shape[2] = {(int)n, (int)(D + E)};
    rt_tensor *in = rt_graph_tensor(g, 2, shape, false);
    for (int64_t r = 0; r < n; r++) {
        memcpy(in->data + r * (D + E), xt + r * D, (size_t)D * sizeof(float));
        time_embed(t[r], (int)E, in->data + r * (D + E) + D);
    }
    return rt_mlp_forward(g, &s->velocity, in);
}

/* v(x_t, t) of the conv U-Net: emb broadcast as E planes; xt (n, D), t (n). */
static rt_tensor *unet_velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, int64_t n) {
    const flow_state *s = m->state;
    int64_t D = m->input_size, E = s->arch.time_embed;
    float *emb = rt_graph_scratch(g, (size_t)E * sizeof(float));
    int C = m->input[0], H = m->input[1], W = m->input[2];
    int64_t hw = (int64_t)H * W;
    int shape[4] = {(int)n, (int)(C + E), H, W};
    rt_tensor *in = rt_graph_tensor(g, 4, shape, false);
    for (int64_t r = 0; r < n; r++) {
        float *dst = in->data + r * (C + E) * hw;
        memcpy(dst, xt + r * D, (size_t)D * sizeof(float));
        time_embed(t[r], (int)E, emb);
        for (int64_t e = 0; e < E; e++)
            for (int64_t p = 0; p < hw; p++) dst[(C + e) * hw + p] = emb[e];
    }
    const rt_conv2d_mod *cv = s->conv;
    rt_tensor *e0 = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[ENC0], in));
    rt_tensor *e1 = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[ENC1], e0));
    rt_tensor *h = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[ENC2], e1));
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[MID], h));
    rt_tensor *cat1[2] = {upsample(s, g, UP1, h), e1};
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[DEC1], rt_concat(g, cat1, 2, 1)));
    rt_tensor *cat2[2] = {upsample(s, g, UP2, h), e0};
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &cv[DEC2], rt_concat(g, cat2, 2, 1)));
    h = rt_conv2d_mod_forward(g, &cv[OUT], h);
    return rt_flatten(g, h);
}

/* model.net's rows, in the order of its choices */
#define FLOW_NET_CHOICES "mlp|conv"
static const flow_net flow_nets[] = {
    {"mlp", mlp_declare, mlp_reset, mlp_velocity},
    {"conv", unet_declare, unet_reset, unet_velocity},
};

static const flow_net *net_of(const rt_model *m) { return &flow_nets[((const flow_state *)m->state)->arch.net]; }

/* ---- config ---- */

static int flow_check(cJSON *model, rt_config *c, const char *origin) {
    (void)model;
    const flow_arch *a = c->model.arch;
    if (a->time_embed % 2)
        return rt_err(RT_EBADINPUT, "%s: model.time_embed: must be even, got %lld", origin,
                      (long long)a->time_embed);
    if (strcmp(flow_nets[a->net].name, "conv") == 0 &&
        (c->model.input_ndim != 3 || c->model.input[1] % 4 || c->model.input[2] % 4))
        return rt_err(RT_EBADINPUT,
                      "%s: model.input: the conv velocity net needs [channels, height, width] with height "
                      "and width divisible by 4",
                      origin);
    return RT_OK;
}

/* ---- the model ---- */

static void flow_build(rt_model *m, const rt_config *c) {
    flow_state *s = rt_calloc(1, sizeof *s);
    s->arch = *(const flow_arch *)c->model.arch;
    m->state = s;
    rt_params_init(&m->params, 2 * RT_MLP_MAX + 2 * NCONVS);
    net_of(m)->declare(m, s);
}

static void flow_init(rt_model *m, rt_rng *rng) { net_of(m)->reset(m->state, rng); }

static void flow_destroy(rt_model *m) {
    rt_free(m->state);
    m->state = NULL;
}

static rt_tensor *flow_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                            rt_batch_stats *st) {
    const flow_arch *a = &((const flow_state *)m->state)->arch;
    int64_t n = b->x->shape[0], D = m->input_size;
    const float *x1 = b->x->data;
    int shape[2] = {(int)n, (int)D};
    rt_tensor *target = rt_graph_tensor(g, 2, shape, false);
    float *xt = rt_graph_scratch(g, (size_t)(n * D) * sizeof(float));
    float *t = rt_graph_scratch(g, (size_t)n * sizeof(float));
    for (int64_t r = 0; r < n; r++) {
        rt_rng rng;
        rt_rng_seed(&rng, b->keys[r], FLOW_NOISE_STREAM);
        double u;
        if (a->timesteps == FLOW_LOGIT_NORMAL) {
            double z = a->logit_mean + a->logit_std * (double)rt_rng_normal(&rng);
            u = 1.0 / (1.0 + exp(-z));
        } else {
            u = (double)rt_rng_uniform(&rng);
        }
        float tr = (float)u;
        t[r] = tr;
        for (int64_t j = 0; j < D; j++) {
            float x0 = rt_rng_normal(&rng), x = x1[r * D + j];
            xt[r * D + j] = tr * x + (1.0f - tr) * x0;
            target->data[r * D + j] = x - x0;
        }
    }
    rt_tensor *v = net_of(m)->velocity(m, g, xt, t, n);
    rt_tensor *loss = rt_mse(g, v, target, scale / (float)D);
    st->count += n;
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}

static void flow_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out) {
    int64_t D = m->input_size;
    if (steps <= 0) steps = (int)((const flow_state *)m->state)->arch.sample_steps;
    rt_rng rng;
    rt_rng_seed(&rng, seed, 0x666c6f77 /* "flow" */);
    for (int64_t i = 0; i < n * D; i++) out[i] = rt_rng_normal(&rng);
    for (int64_t r = 0; r < n; r += 256) { /* in chunks: bounded activations */
        int64_t k = n - r < 256 ? n - r : 256;
        float *x = out + r * D;
        for (int s = 0; s < steps; s++) {
            rt_graph_reset(g);
            float *t = rt_graph_scratch(g, (size_t)k * sizeof(float));
            for (int64_t i = 0; i < k; i++) t[i] = (float)s / (float)steps;
            rt_tensor *v = net_of(m)->velocity(m, g, x, t, k);
            for (int64_t i = 0; i < k * D; i++) x[i] += v->data[i] / (float)steps;
        }
    }
}

#define A flow_arch
static const rt_key flow_keys[] = {
    KINT("hidden", A, hidden, "1000", 1, 1 << 16),
    KINT("hidden_layers", A, hidden_layers, "5", 1, 32),
    KENUM("net", A, net, "\"mlp\"", FLOW_NET_CHOICES),
    KINT("time_embed", A, time_embed, "64", 2, 4096),
    KENUM("timesteps", A, timesteps, "\"logit_normal\"", "logit_normal|uniform"),
    KNUM("logit_mean", A, logit_mean, "0", -10, 10),
    KNUM_POS("logit_std", A, logit_std, "1", 0, 10),
    KINT("sample_steps", A, sample_steps, "50", 1, 100000),
    KINT("channels", A, channels, "32", 1, 1024),
    KENUM("upsample", A, upsample, "\"pixel_shuffle\"", "pixel_shuffle|nearest|bilinear"),
};
#undef A

const rt_family rt_family_rectflow = {
    .name = "rectified_flow",
    .task = RT_TASK_FLOW,
    .keys = flow_keys,
    .nkeys = (int)(sizeof flow_keys / sizeof flow_keys[0]),
    .arch_size = sizeof(flow_arch),
    .size_keys = "model.hidden",
    .check = flow_check,
    .build = flow_build,
    .init = flow_init,
    .destroy = flow_destroy,
    .loss = flow_loss,
    .sample = flow_sample,
};
