/* flow_dit.c - the rectified flow's DiT velocity net (Peebles & Xie 2023,
 * facebookresearch/DiT models.py), with SD3's QK-norm (Esser et al. 2024).
 *
 *   tokens   x (n, C, H, W) -> conv p x p, stride p (x_embedder.proj) -> (n, T, D)
 *            + pos_embed, the fixed 2-D sin-cos table (T, D) of DiT's
 *            get_2d_sincos_pos_embed (frozen: stored, never trained)
 *   c        t_embedder: [cos, sin] of 1000 t at 256 frequencies -> Linear -> SiLU -> Linear
 *            + y_embedder: a table of num_classes + 1 rows, the last the null
 *            class (labels drop to it with probability class_dropout in training)
 *   blocks   adaLN-Zero: SiLU(c) -> Linear(D, 6D) -> shift, scale, gate for
 *            attention, then for the MLP; LayerNorm without affine, eps 1e-6;
 *            qkv with bias; QK-norm: RMSNorm over the head dimension with a
 *            learned scale, eps 1e-6, on q and k after the heads split;
 *            MLP fc1 -> GELU (tanh) -> fc2
 *   final    LayerNorm, modulate (SiLU(c) -> Linear(D, 2D)), Linear(D, p p C),
 *            unpatchify ('nhwpqc->nchpwq')
 *
 * Parameter names and shapes are DiT's, so a checkpoint loads into that
 * module with the one-line rule. Initialisation is DiT's: xavier-uniform
 * linears (the patch conv as a linear on its flattened kernel) with zero
 * biases, N(0, 0.02) label table and timestep MLP weights, zero adaLN
 * outputs and final linear; the QK-norm scales start at 1. */
#include "flow.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define FREQ 256                        /* the timestep's frequency embedding */
#define LN_EPS 1e-6f
#define CLASS_DROP_STREAM 0x6364726f70ULL /* "cdrop" */

typedef struct dit_arch {
    int64_t patch, hidden, depth, heads;
    double mlp_ratio;
    bool qk_norm, class_cond;
    double class_dropout;
    int64_t num_classes; /* 0: from the training data's num_classes */
} dit_arch;

typedef struct dit_block {
    rt_linear_mod qkv, proj, fc1, fc2, ada;
    rt_tensor *q_norm, *k_norm; /* (dh) each, or NULL */
} dit_block;

typedef struct dit_state {
    dit_arch a;
    int C, H, W, p, D, T, heads, dh, mlp, classes;
    rt_conv2d_mod embed; /* x_embedder.proj: (D, C, p, p) */
    rt_linear_mod t1, t2; /* t_embedder.mlp.0, .2 */
    rt_tensor *table;     /* y_embedder.embedding_table.weight (classes + 1, D), or NULL */
    dit_block *blocks;    /* (depth) */
    rt_linear_mod final_linear, final_ada;
    rt_tensor *pos;       /* pos_embed (1, T, D), frozen */
} dit_state;

/* ---- config ---- */

static int dit_check(const rt_config *c, const void *arch, const char *origin) {
    const dit_arch *a = arch;
    if (c->model.input_ndim != 3)
        return rt_err(RT_EBADINPUT, "%s: model.input: the dit net needs [channels, height, width]", origin);
    if (c->model.input[1] % a->patch || c->model.input[2] % a->patch)
        return rt_err(RT_EBADINPUT, "%s: model.patch: %lld does not divide the %dx%d image", origin,
                      (long long)a->patch, c->model.input[1], c->model.input[2]);
    if (a->hidden % a->heads)
        return rt_err(RT_EBADINPUT, "%s: model.hidden: %lld is not divisible by model.heads %lld", origin,
                      (long long)a->hidden, (long long)a->heads);
    if (a->hidden % 4)
        return rt_err(RT_EBADINPUT,
                      "%s: model.hidden: %lld is not divisible by 4 (the 2-D position embedding splits it in four)",
                      origin, (long long)a->hidden);
    if (a->num_classes && !a->class_cond)
        return rt_err(RT_EBADINPUT, "%s: model.num_classes: only with model.class_cond true", origin);
    return RT_OK;
}

static int64_t *dit_class_count(void *arch) {
    dit_arch *a = arch;
    return a->class_cond ? &a->num_classes : NULL;
}

/* ---- parameters ---- */

static void linear(rt_params *p, rt_linear_mod *m, const char *name, int in, int out) {
    rt_linear_mod_init(m, p, name, in, out, true);
}

static void *dit_declare(rt_model *m, const void *arch) {
    dit_state *s = rt_calloc(1, sizeof *s);
    s->a = *(const dit_arch *)arch;
    s->C = m->input[0], s->H = m->input[1], s->W = m->input[2], s->p = (int)s->a.patch;
    s->D = (int)s->a.hidden, s->heads = (int)s->a.heads, s->dh = s->D / s->heads;
    s->T = (s->H / s->p) * (s->W / s->p);
    s->mlp = (int)(s->D * s->a.mlp_ratio);
    s->classes = s->a.class_cond ? (int)s->a.num_classes : 0;
    s->blocks = rt_calloc((size_t)s->a.depth, sizeof *s->blocks);
    rt_params *p = &m->params;
    rt_params_init(p, 16 + 12 * (int)s->a.depth);
    rt_conv2d_args pa = {{s->p, s->p}, {0, 0}, {1, 1}};
    rt_conv2d_mod_init(&s->embed, p, "x_embedder.proj", s->C, s->D, s->p, s->p, &pa, true);
    linear(p, &s->t1, "t_embedder.mlp.0", FREQ, s->D);
    linear(p, &s->t2, "t_embedder.mlp.2", s->D, s->D);
    if (s->classes) {
        int shape[2] = {s->classes + 1, s->D};
        s->table = rt_params_add(p, "y_embedder.embedding_table.weight", 2, shape);
    }
    for (int i = 0; i < s->a.depth; i++) {
        dit_block *b = &s->blocks[i];
        char name[RT_NAME_MAX];
#define NAMED(part) (snprintf(name, sizeof name, "blocks.%d.%s", i, part), name)
        linear(p, &b->qkv, NAMED("attn.qkv"), s->D, 3 * s->D);
        if (s->a.qk_norm) {
            b->q_norm = rt_params_add(p, NAMED("attn.q_norm.weight"), 1, &s->dh);
            b->k_norm = rt_params_add(p, NAMED("attn.k_norm.weight"), 1, &s->dh);
        }
        linear(p, &b->proj, NAMED("attn.proj"), s->D, s->D);
        linear(p, &b->fc1, NAMED("mlp.fc1"), s->D, s->mlp);
        linear(p, &b->fc2, NAMED("mlp.fc2"), s->mlp, s->D);
        linear(p, &b->ada, NAMED("adaLN_modulation.1"), s->D, 6 * s->D);
#undef NAMED
    }
    linear(p, &s->final_linear, "final_layer.linear", s->D, s->p * s->p * s->C);
    linear(p, &s->final_ada, "final_layer.adaLN_modulation.1", s->D, 2 * s->D);
    int pos[3] = {1, s->T, s->D};
    s->pos = rt_params_add_frozen(p, "pos_embed", 3, pos);
    m->classes = s->classes;
    return s;
}

static void fill(rt_tensor *t, float v) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
}

/* xavier_uniform_ on a (out, fan_in) weight; the bias zero */
static void xavier(const rt_tensor *w, const rt_tensor *b, int fan_in, int fan_out, rt_rng *rng) {
    float bound = sqrtf(6.0f / (float)(fan_in + fan_out));
    for (int64_t i = 0; i < w->numel; i++) w->data[i] = (2.0f * rt_rng_uniform(rng) - 1.0f) * bound;
    if (b) fill((rt_tensor *)b, 0.0f);
}

static void xavier_linear(const rt_linear_mod *m, rt_rng *rng) { xavier(m->weight, m->bias, m->in, m->out, rng); }

static void normal(rt_tensor *t, float std, rt_rng *rng) {
    for (int64_t i = 0; i < t->numel; i++) t->data[i] = std * rt_rng_normal(rng);
}

static void zero_linear(const rt_linear_mod *m) {
    fill(m->weight, 0.0f);
    fill(m->bias, 0.0f);
}

/* DiT's get_2d_sincos_pos_embed on a gh x gw grid: token (hi, wi) gets
 * [sin(wi w_k), cos(wi w_k), sin(hi w_k), cos(hi w_k)], w_k = 10000^(-k/(D/4)),
 * k < D/4 (its first half encodes meshgrid's first array, the column index) */
static void sincos_2d(float *pos, int gh, int gw, int D) {
    int q = D / 4;
    for (int hi = 0; hi < gh; hi++)
        for (int wi = 0; wi < gw; wi++) {
            float *e = pos + ((int64_t)hi * gw + wi) * D;
            for (int k = 0; k < q; k++) {
                double omega = 1.0 / pow(10000.0, (double)k / (double)q);
                e[k] = (float)sin(wi * omega);
                e[q + k] = (float)cos(wi * omega);
                e[2 * q + k] = (float)sin(hi * omega);
                e[3 * q + k] = (float)cos(hi * omega);
            }
        }
}

static void dit_reset(void *state, rt_rng *rng) {
    dit_state *s = state;
    xavier(s->embed.weight, s->embed.bias, s->C * s->p * s->p, s->D, rng);
    xavier_linear(&s->t1, rng);
    xavier_linear(&s->t2, rng);
    for (int i = 0; i < s->a.depth; i++) {
        dit_block *b = &s->blocks[i];
        xavier_linear(&b->qkv, rng);
        xavier_linear(&b->proj, rng);
        xavier_linear(&b->fc1, rng);
        xavier_linear(&b->fc2, rng);
        zero_linear(&b->ada); /* adaLN-Zero: every block starts as the identity */
        if (b->q_norm) fill(b->q_norm, 1.0f);
        if (b->k_norm) fill(b->k_norm, 1.0f);
    }
    if (s->table) normal(s->table, 0.02f, rng);
    normal(s->t1.weight, 0.02f, rng);
    normal(s->t2.weight, 0.02f, rng);
    zero_linear(&s->final_ada);
    zero_linear(&s->final_linear);
    sincos_2d(s->pos->data, s->H / s->p, s->W / s->p, s->D);
}

static void dit_destroy(void *state) {
    dit_state *s = state;
    if (s) rt_free(s->blocks);
    rt_free(s);
}

/* ---- forward ---- */

static rt_tensor *reshape3(rt_graph *g, rt_tensor *x, int a, int b, int c) {
    int shape[3] = {a, b, c};
    return rt_reshape(g, x, 3, shape);
}

static rt_tensor *reshape2(rt_graph *g, rt_tensor *x, int a, int b) {
    int shape[2] = {a, b};
    return rt_reshape(g, x, 2, shape);
}

/* (n, T, D) through a linear on every token */
static rt_tensor *token_linear(rt_graph *g, const rt_linear_mod *m, rt_tensor *x) {
    int n = x->shape[0], T = x->shape[1];
    return reshape3(g, rt_linear_mod_forward(g, m, reshape2(g, x, n * T, x->shape[2])), n, T, m->out);
}

/* (n, T, D) -> (n, heads, T, dh), RMS-normalised by w when w */
static rt_tensor *heads(rt_graph *g, const dit_state *s, rt_tensor *x, rt_tensor *w) {
    static const int split[4] = {0, 2, 1, 3};
    int shape[4] = {x->shape[0], x->shape[1], s->heads, s->dh};
    x = rt_permute(g, rt_reshape(g, x, 4, shape), split);
    return w ? rt_rmsnorm(g, x, w, LN_EPS) : x;
}

static rt_tensor *attention(rt_graph *g, const dit_state *s, const dit_block *b, rt_tensor *x) {
    static const int merge[4] = {0, 2, 1, 3};
    int n = x->shape[0], T = x->shape[1], D = s->D;
    rt_tensor *qkv = token_linear(g, &b->qkv, x), *part[3];
    int sizes[3] = {D, D, D};
    rt_split(g, qkv, 2, 3, sizes, part);
    rt_tensor *o = rt_attention(g, heads(g, s, part[0], b->q_norm), heads(g, s, part[1], b->k_norm),
                                heads(g, s, part[2], NULL));
    o = reshape3(g, rt_permute(g, o, merge), n, T, D);
    return token_linear(g, &b->proj, o);
}

/* One adaLN-Zero block; sc = SiLU(c) (n, D). */
static rt_tensor *block(rt_graph *g, const dit_state *s, const dit_block *b, rt_tensor *x, rt_tensor *sc) {
    rt_tensor *mod = rt_linear_mod_forward(g, &b->ada, sc), *m[6];
    int sizes[6] = {s->D, s->D, s->D, s->D, s->D, s->D};
    rt_split(g, mod, 1, 6, sizes, m); /* shift, scale, gate: attention's, then the MLP's */
    rt_tensor *h = rt_modulate(g, rt_layernorm(g, x, NULL, NULL, LN_EPS), m[0], m[1]);
    x = rt_gate_add(g, x, m[2], attention(g, s, b, h));
    h = rt_modulate(g, rt_layernorm(g, x, NULL, NULL, LN_EPS), m[3], m[4]);
    h = token_linear(g, &b->fc2, rt_gelu_tanh(g, token_linear(g, &b->fc1, h)));
    return rt_gate_add(g, x, m[5], h);
}

/* c (n, D): the timestep's embedding, plus the label's when class-conditional */
static rt_tensor *conditioning(rt_graph *g, const dit_state *s, const float *t, const flow_cond *c, int64_t n) {
    int shape[2] = {(int)n, FREQ};
    rt_tensor *f = rt_graph_tensor(g, 2, shape, false);
    for (int64_t r = 0; r < n; r++) /* [cos, sin] of 1000 t, in double */
        for (int k = 0; k < FREQ / 2; k++) {
            double a = 1000.0 * (double)t[r] * exp(-log(10000.0) * (double)k / (FREQ / 2));
            f->data[r * FREQ + k] = (float)cos(a);
            f->data[r * FREQ + FREQ / 2 + k] = (float)sin(a);
        }
    rt_tensor *cv = rt_linear_mod_forward(g, &s->t2, rt_silu(g, rt_linear_mod_forward(g, &s->t1, f)));
    if (!s->table) return cv;
    int32_t *y = rt_graph_scratch(g, (size_t)n * sizeof(int32_t));
    float p = (float)s->a.class_dropout;
    for (int64_t r = 0; r < n; r++) {
        y[r] = c->labels ? c->labels[r] : s->classes;
        if (c->train && p > 0.0f && c->keys) { /* from the row's key: the same on any rank */
            rt_rng rng;
            rt_rng_seed(&rng, c->keys[r], CLASS_DROP_STREAM);
            if (rt_rng_uniform(&rng) < p) y[r] = s->classes;
        }
    }
    return rt_add(g, cv, rt_embedding(g, s->table, y, (int)n));
}

static rt_tensor *dit_velocity(rt_model *m, rt_graph *g, const float *xt, const float *t, const flow_cond *c,
                               int64_t n) {
    const dit_state *s = flow_net_state(m);
    int N = (int)n, T = s->T, D = s->D;
    int shape[4] = {N, s->C, s->H, s->W};
    rt_tensor *x = rt_graph_tensor(g, 4, shape, false);
    memcpy(x->data, xt, (size_t)x->numel * sizeof(float));
    static const int to_tokens[3] = {0, 2, 1};
    rt_tensor *h = rt_conv2d_mod_forward(g, &s->embed, x); /* (n, D, gh, gw) */
    h = rt_permute(g, reshape3(g, h, N, D, T), to_tokens);   /* (n, T, D) */
    int flat = T * D;
    h = reshape3(g, rt_bias_add(g, reshape2(g, h, N, flat), rt_reshape(g, s->pos, 1, &flat)), N, T, D);
    rt_tensor *sc = rt_silu(g, conditioning(g, s, t, c, n));
    for (int i = 0; i < s->a.depth; i++) h = block(g, s, &s->blocks[i], h, sc);
    rt_tensor *mod = rt_linear_mod_forward(g, &s->final_ada, sc), *ss[2];
    int sizes[2] = {D, D};
    rt_split(g, mod, 1, 2, sizes, ss);
    h = rt_modulate(g, rt_layernorm(g, h, NULL, NULL, LN_EPS), ss[0], ss[1]);
    h = rt_unpatchify(g, token_linear(g, &s->final_linear, h), s->p, s->C, s->H, s->W);
    return rt_flatten(g, h);
}

#define A dit_arch
static const rt_key dit_keys[] = {
    KINT("patch", A, patch, "4", 1, 256),
    KINT("hidden", A, hidden, "128", 4, 1 << 14),
    KINT("depth", A, depth, "4", 1, 256),
    KINT("heads", A, heads, "4", 1, 1024),
    KNUM_POS("mlp_ratio", A, mlp_ratio, "4", 0, 64),
    KBOOL("qk_norm", A, qk_norm, "true"),
    KBOOL("class_cond", A, class_cond, "false"),
    KNUM_IN("class_dropout", A, class_dropout, "0.1", 0, 1, false, true),
    KINT("num_classes", A, num_classes, "0", 0, 1 << 20),
};
#undef A

const flow_net rt_flow_dit = {
    .name = "dit",
    .keys = dit_keys,
    .nkeys = (int)(sizeof dit_keys / sizeof dit_keys[0]),
    .arch_size = sizeof(dit_arch),
    .size_keys = "model.hidden",
    .check = dit_check,
    .class_count = dit_class_count,
    .declare = dit_declare,
    .reset = dit_reset,
    .destroy = dit_destroy,
    .velocity = dit_velocity,
};
