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
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <string.h>

#define FLOW_NOISE_STREAM 0x6e6f697365ULL /* "noise" */

enum { ENC0, ENC1, ENC2, MID, UP1, DEC1, UP2, DEC2, OUT };

static void conv_init(rt_model *m, int idx, const char *name, int in, int out, int stride) {
    rt_conv2d_args a = {{stride, stride}, {1, 1}, {1, 1}};
    rt_conv2d_mod_init(&m->conv[idx], &m->params, name, in, out, 3, 3, &a, true);
}

void rt_flow_create(rt_model *m, const rt_config *cfg, rt_rng *rng) {
    int D = (int)m->input_size, E = (int)cfg->model.time_embed;
    rt_params_init(&m->params, 2 * RT_MLP_MAX + 2 * RT_FLOW_CONVS);
    if (cfg->model.net == RT_FLOWNET_MLP) {
        rt_mlp_init(&m->velocity, &m->params, "net", D + E, (int)cfg->model.hidden,
                    (int)cfg->model.hidden_layers, D, RT_LAYER_GELU);
        rt_params_finalize(&m->params);
        rt_mlp_reset(&m->velocity, rng);
        return;
    }
    int C = m->input[0], c = (int)cfg->model.channels;
    bool shuffle = cfg->model.upsample == RT_UPMODE_PIXEL_SHUFFLE;
    conv_init(m, ENC0, "enc0", C + E, c, 1);
    conv_init(m, ENC1, "enc1", c, 2 * c, 2);
    conv_init(m, ENC2, "enc2", 2 * c, 2 * c, 2);
    conv_init(m, MID, "mid", 2 * c, 2 * c, 1);
    conv_init(m, UP1, "up1", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, DEC1, "dec1", 3 * c, 2 * c, 1);
    conv_init(m, UP2, "up2", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, DEC2, "dec2", 2 * c, c, 1);
    conv_init(m, OUT, "out", c, C, 1);
    rt_params_finalize(&m->params);
    for (int i = 0; i < RT_FLOW_CONVS; i++) rt_conv2d_mod_reset(&m->conv[i], rng);
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
static rt_tensor *upsample(rt_model *m, rt_graph *g, int up, rt_tensor *h) {
    switch (m->cfg.model.upsample) {
    case RT_UPMODE_NEAREST: h = rt_upsample_nearest(g, h, 2, 2); break;
    case RT_UPMODE_BILINEAR: h = rt_upsample_bilinear(g, h, 2, 2, false); break;
    default: return rt_gelu(g, rt_pixel_shuffle(g, rt_conv2d_mod_forward(g, &m->conv[up], h), 2));
    }
    return rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[up], h));
}

/* v(x_t, t): xt (n, D) rows, t (n). */
static rt_tensor *velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, int64_t n) {
    int64_t D = m->input_size, E = m->cfg.model.time_embed;
    float *emb = rt_graph_scratch(g, (size_t)E * sizeof(float));
    if (m->cfg.model.net == RT_FLOWNET_MLP) {
        int shape[2] = {(int)n, (int)(D + E)};
        rt_tensor *in = rt_graph_tensor(g, 2, shape, false);
        for (int64_t r = 0; r < n; r++) {
            memcpy(in->data + r * (D + E), xt + r * D, (size_t)D * sizeof(float));
            time_embed(t[r], (int)E, in->data + r * (D + E) + D);
        }
        return rt_mlp_forward(g, &m->velocity, in);
    }
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
    rt_tensor *e0 = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[ENC0], in));
    rt_tensor *e1 = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[ENC1], e0));
    rt_tensor *h = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[ENC2], e1));
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[MID], h));
    rt_tensor *cat1[2] = {upsample(m, g, UP1, h), e1};
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[DEC1], rt_concat(g, cat1, 2, 1)));
    rt_tensor *cat2[2] = {upsample(m, g, UP2, h), e0};
    h = rt_gelu(g, rt_conv2d_mod_forward(g, &m->conv[DEC2], rt_concat(g, cat2, 2, 1)));
    h = rt_conv2d_mod_forward(g, &m->conv[OUT], h);
    return rt_flatten(g, h);
}

rt_tensor *rt_flow_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                        rt_batch_stats *st) {
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
        if (m->cfg.model.timesteps == RT_TIMESTEPS_LOGIT_NORMAL) {
            double z = m->cfg.model.logit_mean + m->cfg.model.logit_std * (double)rt_rng_normal(&rng);
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
    rt_tensor *v = velocity(m, g, xt, t, n);
    rt_tensor *loss = rt_mse(g, v, target, scale / (float)D);
    st->count += n;
    st->loss_sum += scale != 0.0f ? (double)loss->data[0] / (double)scale : 0.0;
    return loss;
}

void rt_flow_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out) {
    int64_t D = m->input_size;
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
            rt_tensor *v = velocity(m, g, x, t, k);
            for (int64_t i = 0; i < k * D; i++) x[i] += v->data[i] / (float)steps;
        }
    }
}
