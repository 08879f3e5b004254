/* flow_unet.c - the rectified flow's conv U-Net velocity net, on [C + E, H, W]
 * (the time embedding broadcast as E planes):
 *   enc0 3x3 C+E->c | enc1 3x3/2 c->2c | enc2 3x3/2 2c->2c | mid 3x3 2c->2c
 *   up1: x2 (PixelShuffle: conv 2c->4c then shuffle; or Upsample nearest or
 *        bilinear then conv 2c->c), concat enc1 -> dec1 3x3 3c->2c
 *   up2: x2 the same way 2c->c, concat enc0 -> dec2 3x3 2c->c | out 3x3 c->C
 *   GELU after every conv but out. */
#include "flow.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <string.h>

typedef struct unet_arch {
    int64_t channels;   /* c, the base channels */
    int upsample;       /* UP_PIXEL_SHUFFLE, UP_NEAREST or UP_BILINEAR */
    int64_t time_embed; /* E, even */
} unet_arch;

enum { UP_PIXEL_SHUFFLE, UP_NEAREST, UP_BILINEAR };
enum { ENC0, ENC1, ENC2, MID, UP1, DEC1, UP2, DEC2, OUT, NCONVS };

typedef struct unet_state {
    unet_arch a;
    rt_conv2d_mod conv[NCONVS];
} unet_state;

static int unet_check(const rt_config *c, const void *arch, const char *origin) {
    const unet_arch *a = arch;
    if (a->time_embed % 2)
        return rt_err(RT_EBADINPUT, "%s: model.time_embed: must be even, got %lld", origin, (long long)a->time_embed);
    if (c->model.input_ndim != 3 || c->model.input[1] % 4 || c->model.input[2] % 4)
        return rt_err(RT_EBADINPUT,
                      "%s: model.input: the conv velocity net needs [channels, height, width] with height and width "
                      "divisible by 4",
                      origin);
    return RT_OK;
}

static void conv_init(rt_model *m, unet_state *s, int idx, const char *name, int in, int out, int stride) {
    rt_conv2d_args a = {{stride, stride}, {1, 1}, {1, 1}};
    rt_conv2d_mod_init(&s->conv[idx], &m->params, name, in, out, 3, 3, &a, true);
}

static void *unet_declare(rt_model *m, const void *arch) {
    unet_state *s = rt_calloc(1, sizeof *s);
    s->a = *(const unet_arch *)arch;
    int C = m->input[0], E = (int)s->a.time_embed, c = (int)s->a.channels;
    bool shuffle = s->a.upsample == UP_PIXEL_SHUFFLE;
    rt_params_init(&m->params, 2 * NCONVS);
    conv_init(m, s, ENC0, "enc0", C + E, c, 1);
    conv_init(m, s, ENC1, "enc1", c, 2 * c, 2);
    conv_init(m, s, ENC2, "enc2", 2 * c, 2 * c, 2);
    conv_init(m, s, MID, "mid", 2 * c, 2 * c, 1);
    conv_init(m, s, UP1, "up1", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, s, DEC1, "dec1", 3 * c, 2 * c, 1);
    conv_init(m, s, UP2, "up2", 2 * c, shuffle ? 4 * c : c, 1);
    conv_init(m, s, DEC2, "dec2", 2 * c, c, 1);
    conv_init(m, s, OUT, "out", c, C, 1);
    return s;
}

static void unet_reset(void *state, rt_rng *rng) {
    unet_state *s = state;
    for (int i = 0; i < NCONVS; i++) rt_conv2d_mod_reset(&s->conv[i], rng);
}

/* x2 upsampling of h by the configured mode, through conv `up`. */
static rt_tensor *upsample(const unet_state *s, rt_graph *g, int up, rt_tensor *h) {
    switch (s->a.upsample) {
    case UP_NEAREST: h = rt_upsample_nearest(g, h, 2, 2); break;
    case UP_BILINEAR: h = rt_upsample_bilinear(g, h, 2, 2, false); break;
    default: return rt_gelu(g, rt_pixel_shuffle(g, rt_conv2d_mod_forward(g, &s->conv[up], h), 2));
    }
    return rt_gelu(g, rt_conv2d_mod_forward(g, &s->conv[up], h));
}

static rt_tensor *unet_velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, const flow_cond *cond,
                                int64_t n) {
    (void)cond;
    const unet_state *s = flow_net_state(m);
    int64_t D = m->input_size, E = s->a.time_embed;
    float *emb = rt_graph_scratch(g, (size_t)E * sizeof(float));
    int C = m->input[0], H = m->input[1], W = m->input[2];
    int64_t hw = (int64_t)H * W;
    int shape[4] = {(int)n, (int)(C + E), H, W};
    rt_tensor *in = rt_graph_tensor(g, 4, shape, false);
    for (int64_t r = 0; r < n; r++) {
        float *dst = in->data + r * (C + E) * hw;
        memcpy(dst, xt + r * D, (size_t)D * sizeof(float));
        rt_flow_time_embed(t[r], (int)E, emb);
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

#define A unet_arch
static const rt_key unet_keys[] = {
    KINT("channels", A, channels, "32", 1, 1024),
    KENUM("upsample", A, upsample, "\"pixel_shuffle\"", "pixel_shuffle|nearest|bilinear"),
    KINT("time_embed", A, time_embed, "64", 2, 4096),
};
#undef A

const flow_net rt_flow_unet = {
    .name = "conv",
    .keys = unet_keys,
    .nkeys = (int)(sizeof unet_keys / sizeof unet_keys[0]),
    .arch_size = sizeof(unet_arch),
    .size_keys = "model.channels",
    .check = unet_check,
    .declare = unet_declare,
    .reset = unet_reset,
    .destroy = rt_free,
    .velocity = unet_velocity,
};
