/* layers.c - the layer kinds of a sequential model, one row each. */
#include "layers.h"

#include "ringtrain/common.h"
#include "ringtrain/ops.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

/* ---- shapes ---- */

/* Window output size, as rt_window_out. */
static int window_out(int in, int k, int stride, int pad, int dil) {
    int span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? -1 : span / stride + 1;
}

static int need_image(const rt_layer_cfg *l, const rt_shape *s, const char *origin, const char *where) {
    if (s->ndim == 3) return RT_OK;
    return rt_err(RT_EBADINPUT,
                  "%s: %s: %s needs a [channels, height, width] input (model.input has 3 sizes, and "
                  "no flatten before it)",
                  origin, where, l->def->name);
}

static int image_fits(const rt_layer_cfg *l, const rt_shape *s, const char *origin, const char *where) {
    if ((double)s->s[0] * (double)s->s[1] * (double)s->s[2] > (double)(1 << 24))
        return rt_err(RT_EBADINPUT, "%s: %s: %s output is too large", origin, where, l->def->name);
    return RT_OK;
}

static int flatten_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    (void)l, (void)origin, (void)where;
    for (int d = 1; d < s->ndim; d++) s->s[0] *= s->s[d]; /* each shape is <= 2^24 elements */
    s->ndim = 1;
    return RT_OK;
}

static int linear_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    if (s->ndim != 1)
        return rt_err(RT_EBADINPUT, "%s: %s: linear needs a flat input; add {\"type\":\"flatten\"} before it",
                      origin, where);
    s->s[0] = l->out;
    return RT_OK;
}

/* conv2d and the pools: a window over (h, w) */
static int window_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    int rc = need_image(l, s, origin, where);
    if (rc) return rc;
    int h = (int)s->s[1], w = (int)s->s[2];
    int oh = window_out(h, l->kernel[0], l->stride[0], l->pad[0], l->dilation[0]);
    int ow = window_out(w, l->kernel[1], l->stride[1], l->pad[1], l->dilation[1]);
    if (oh < 1 || ow < 1)
        return rt_err(RT_EBADINPUT, "%s: %s: %s kernel %dx%d does not fit its %dx%d input", origin, where,
                      l->def->name, l->kernel[0], l->kernel[1], h, w);
    if (l->out) s->s[0] = l->out; /* conv2d; a pool keeps its channels */
    s->s[1] = oh;
    s->s[2] = ow;
    return image_fits(l, s, origin, where);
}

static int upsample_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    int rc = need_image(l, s, origin, where);
    if (rc) return rc;
    s->s[1] *= l->scale[0];
    s->s[2] *= l->scale[1];
    return image_fits(l, s, origin, where);
}

static int shuffle_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    int rc = need_image(l, s, origin, where);
    if (rc) return rc;
    int64_t f = l->factor, c = s->s[0];
    if (c % (f * f))
        return rt_err(RT_EBADINPUT,
                      "%s: %s: pixel_shuffle factor %d needs channels divisible by %d, got %lld", origin,
                      where, l->factor, l->factor * l->factor, (long long)c);
    s->s[0] = c / (f * f);
    s->s[1] *= f;
    s->s[2] *= f;
    return image_fits(l, s, origin, where);
}

static int unshuffle_shape(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where) {
    int rc = need_image(l, s, origin, where);
    if (rc) return rc;
    int64_t f = l->factor;
    if (s->s[1] % f || s->s[2] % f)
        return rt_err(RT_EBADINPUT, "%s: %s: pixel_unshuffle factor %d does not divide %lldx%lld", origin,
                      where, l->factor, (long long)s->s[1], (long long)s->s[2]);
    s->s[0] *= f * f;
    s->s[1] /= f;
    s->s[2] /= f;
    return image_fits(l, s, origin, where);
}

/* ---- checks ---- */

static int missing(const rt_layer_cfg *l, const char *origin, const char *where, const char *key) {
    return rt_err(RT_EBADINPUT, "%s: %s.%s: missing for a %s layer", origin, where, key, l->def->name);
}

static int linear_check(rt_layer_cfg *l, const char *origin, const char *where) {
    return l->out ? RT_OK : missing(l, origin, where, "out");
}

static int conv_check(rt_layer_cfg *l, const char *origin, const char *where) {
    if (!l->out) return missing(l, origin, where, "out");
    return l->kernel[0] ? RT_OK : missing(l, origin, where, "kernel");
}

/* a pool's window is square: one kernel, stride and padding for h and w */
static int pool_check(rt_layer_cfg *l, const char *origin, const char *where) {
    if (!l->kernel[0]) return missing(l, origin, where, "kernel");
    if (!l->stride[0]) l->stride[0] = l->kernel[0]; /* torch's default */
    l->kernel[1] = l->kernel[0];
    l->stride[1] = l->stride[0];
    l->pad[1] = l->pad[0];
    l->dilation[0] = l->dilation[1] = 1;
    if (2 * l->pad[0] > l->kernel[0])
        return rt_err(RT_EBADINPUT, "%s: %s.padding: at most half the kernel (%d)", origin, where,
                      l->kernel[0] / 2);
    return RT_OK;
}

/* ---- parameters ---- */

static void linear_declare(rt_layer *L, rt_params *p) {
    const rt_layer_cfg *l = &L->cfg;
    int width = 1; /* the parser checked the input is flat: its size is the product */
    for (int d = 0; d < l->in_ndim; d++) width *= l->in_shape[d];
    rt_linear_mod_init(&L->mod.linear, p, l->name, width, l->out, l->bias);
}

static void conv_declare(rt_layer *L, rt_params *p) {
    const rt_layer_cfg *l = &L->cfg;
    rt_conv2d_args a;
    for (int k = 0; k < 2; k++) {
        a.stride[k] = l->stride[k];
        a.pad[k] = l->pad[k];
        a.dilation[k] = l->dilation[k];
    }
    rt_conv2d_mod_init(&L->mod.conv, p, l->name, l->in_shape[0], l->out, l->kernel[0], l->kernel[1], &a,
                       l->bias);
}

static void norm_declare(rt_layer *L, rt_params *p) {
    const rt_layer_cfg *l = &L->cfg;
    rt_layernorm_mod_init(&L->mod.norm, p, l->name, l->in_shape[l->in_ndim - 1], (float)l->eps, l->bias);
}

static void linear_reset(const rt_layer *L, rt_rng *rng) { rt_linear_mod_reset(&L->mod.linear, rng); }
static void conv_reset(const rt_layer *L, rt_rng *rng) { rt_conv2d_mod_reset(&L->mod.conv, rng); }
static void norm_reset(const rt_layer *L, rt_rng *rng) {
    (void)rng;
    rt_layernorm_mod_reset(&L->mod.norm);
}

/* ---- forward ---- */

static rt_tensor *linear_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_linear_mod_forward(g, &L->mod.linear, x);
}
static rt_tensor *conv_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_conv2d_mod_forward(g, &L->mod.conv, x);
}
static rt_tensor *norm_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_layernorm_mod_forward(g, &L->mod.norm, x);
}
static rt_tensor *maxpool_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_maxpool2d(g, x, L->cfg.kernel[0], L->cfg.stride[0], L->cfg.pad[0]);
}
static rt_tensor *avgpool_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_avgpool2d(g, x, L->cfg.kernel[0], L->cfg.stride[0], L->cfg.pad[0]);
}
static rt_tensor *upsample_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    const rt_layer_cfg *l = &L->cfg;
    return l->mode == 1 ? rt_upsample_bilinear(g, x, l->scale[0], l->scale[1], l->align_corners)
                        : rt_upsample_nearest(g, x, l->scale[0], l->scale[1]);
}
static rt_tensor *shuffle_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_pixel_shuffle(g, x, L->cfg.factor);
}
static rt_tensor *unshuffle_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_pixel_unshuffle(g, x, L->cfg.factor);
}
static rt_tensor *flatten_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)L, (void)r;
    return rt_flatten(g, x);
}
/* every dropout layer draws its own mask from the row keys */
static rt_tensor *dropout_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    return rt_dropout(g, x, (float)L->cfg.p, r->seed, r->keys, r->train && r->keys);
}
static rt_tensor *act_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_unary(g, L->cfg.def->unary, x);
}
static rt_tensor *gelu_fwd(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *r) {
    (void)r;
    return rt_unary(g, L->cfg.approximate ? RT_OP_GELU_TANH : RT_OP_GELU, x);
}

/* ---- the table ---- */

#define C rt_layer_cfg
#define N(keys) keys, (int)(sizeof keys / sizeof keys[0])
static const rt_key linear_keys[] = {
    KINT("out", C, out, NULL, 1, 1 << 24),
    KBOOL("bias", C, bias, "true"),
};
static const rt_key conv_keys[] = {
    KINT("out", C, out, NULL, 1, 1 << 24),   KHW("kernel", C, kernel, NULL, 1, 1024),
    KHW("stride", C, stride, "1", 1, 1024),  KHW("padding", C, pad, "0", 0, 1024),
    KHW("dilation", C, dilation, "1", 1, 1024), KBOOL("bias", C, bias, "true"),
};
static const rt_key pool_keys[] = {
    KINT("kernel", C, kernel[0], NULL, 1, 1024),
    KINT("stride", C, stride[0], NULL, 1, 1024),
    KINT("padding", C, pad[0], "0", 0, 1024),
};
static const rt_key upsample_keys[] = {
    KHW("scale", C, scale, "2", 1, 64),
    KENUM("mode", C, mode, "\"nearest\"", "nearest|bilinear"),
    KBOOL("align_corners", C, align_corners, "false"),
};
static const rt_key factor_keys[] = {KINT("factor", C, factor, "2", 1, 64)};
static const rt_key norm_keys[] = {
    KNUM_IN("eps", C, eps, "1e-5", 0, 1, true, true),
    KBOOL("affine", C, bias, "true"),
};
static const rt_key dropout_keys[] = {KNUM_IN("p", C, p, "0.5", 0, 1, false, true)};
static const rt_key gelu_keys[] = {KENUM("approximate", C, approximate, "\"none\"", "none|tanh")};
#undef C

#define ACT(n, op) {.name = n, .forward = act_fwd, .unary = op}
static const rt_layer_def layer_defs[] = {
    {.name = "linear", N(linear_keys), .params = true, .check = linear_check, .shape = linear_shape,
     .declare = linear_declare, .reset = linear_reset, .forward = linear_fwd},
    {.name = "conv2d", N(conv_keys), .params = true, .check = conv_check, .shape = window_shape,
     .declare = conv_declare, .reset = conv_reset, .forward = conv_fwd},
    {.name = "maxpool2d", N(pool_keys), .check = pool_check, .shape = window_shape, .forward = maxpool_fwd},
    {.name = "avgpool2d", N(pool_keys), .check = pool_check, .shape = window_shape, .forward = avgpool_fwd},
    {.name = "upsample", N(upsample_keys), .shape = upsample_shape, .forward = upsample_fwd},
    {.name = "pixel_shuffle", N(factor_keys), .shape = shuffle_shape, .forward = shuffle_fwd},
    {.name = "pixel_unshuffle", N(factor_keys), .shape = unshuffle_shape, .forward = unshuffle_fwd},
    {.name = "layernorm", N(norm_keys), .params = true, .declare = norm_declare, .reset = norm_reset,
     .forward = norm_fwd},
    {.name = "dropout", N(dropout_keys), .forward = dropout_fwd},
    {.name = "flatten", .shape = flatten_shape, .forward = flatten_fwd},
    /* relu keeps a window's winner and padding never wins: max-pool first */
    {.name = "relu", .forward = act_fwd, .unary = RT_OP_RELU, .before_maxpool = true},
    {.name = "gelu", N(gelu_keys), .forward = gelu_fwd},
    ACT("tanh", RT_OP_TANH),
    ACT("sigmoid", RT_OP_SIGMOID),
    ACT("softplus", RT_OP_SOFTPLUS),
    ACT("silu", RT_OP_SILU),
};
#undef ACT
#undef N
#define NDEFS ((int)(sizeof layer_defs / sizeof layer_defs[0]))

/* ---- parsing ---- */

bool rt_layer_is(const rt_layer_cfg *l, const char *name) { return strcmp(l->def->name, name) == 0; }

static const rt_layer_def *find_def(const char *name) {
    for (int i = 0; i < NDEFS; i++)
        if (strcmp(layer_defs[i].name, name) == 0) return &layer_defs[i];
    return NULL;
}

static int unknown_type(const char *origin, const char *where, const char *type) {
    char list[512];
    size_t n = 0;
    for (int i = 0; i < NDEFS && n < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i == 0 ? "" : i + 1 == NDEFS ? " or " : ", ",
                              layer_defs[i].name);
    return rt_err(RT_EBADINPUT, "%s: %s.type: unknown layer type \"%s\" (expected %s)", origin, where, type,
                  list);
}

/* Every key is type, name or one of the kind's; name is checked here. */
static int layer_keys(const cJSON *lj, rt_layer_cfg *l, const char *origin, const char *where) {
    const cJSON *it;
    cJSON_ArrayForEach(it, lj) {
        const char *k = it->string;
        if (strcmp(k, "type") == 0 || rt_keys_find(l->def->keys, l->def->nkeys, k)) continue;
        if (strcmp(k, "name") != 0)
            return rt_err(RT_EBADINPUT, "%s: %s.%s: unknown key for a %s layer", origin, where, k,
                          l->def->name);
        if (!cJSON_IsString(it) || !*it->valuestring || strlen(it->valuestring) >= RT_NAME_MAX - 8 ||
            strchr(it->valuestring, '/'))
            return rt_err(RT_EBADINPUT, "%s: %s.name: expected a short name without '/'", origin, where);
        snprintf(l->name, sizeof l->name, "%s", it->valuestring); /* only layers with parameters use it */
    }
    return RT_OK;
}

int rt_layer_parse(cJSON *lj, int idx, rt_layer_cfg *l, const char *origin) {
    char where[64];
    snprintf(where, sizeof where, "model.layers[%d]", idx);
    if (!cJSON_IsObject(lj)) return rt_err(RT_EBADINPUT, "%s: %s: expected an object", origin, where);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(lj, "type");
    if (!cJSON_IsString(t)) return rt_err(RT_EBADINPUT, "%s: %s.type: missing or not a string", origin, where);
    memset(l, 0, sizeof *l);
    l->def = find_def(t->valuestring);
    if (!l->def) return unknown_type(origin, where, t->valuestring);
    snprintf(l->name, sizeof l->name, "%d", idx); /* nn.Sequential naming by default */
    l->dilation[0] = l->dilation[1] = 1;
    int rc = layer_keys(lj, l, origin, where);
    rt_key_scope scope = {.origin = origin, .where = where, .insert_defaults = false};
    if (!rc) rc = rt_keys_read(l->def->keys, l->def->nkeys, lj, l, &scope);
    if (!rc && l->def->check) rc = l->def->check(l, origin, where);
    return rc;
}

int rt_layer_shape(const rt_layer_cfg *l, int idx, rt_shape *s, const char *origin) {
    char where[64];
    snprintf(where, sizeof where, "model.layers[%d]", idx);
    return l->def->shape ? l->def->shape(l, s, origin, where) : RT_OK;
}
