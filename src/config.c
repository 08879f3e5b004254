/* config.c - strict config parsing: one table of known keys, defaults and ranges. */
#include "ringtrain/config.h"

#include "ringtrain/common.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the key table ---- */

/* K_AUTO: true, false or "auto", stored as RT_ON, RT_OFF or RT_AUTO */
typedef enum { K_INT, K_NUM, K_BOOL, K_AUTO, K_STR, K_PATH, K_ENUM, K_PAIR } key_kind;

typedef struct key_def {
    const char *path;   /* dotted path from the root */
    key_kind kind;
    size_t off;         /* offset of the field in rt_config */
    const char *def;    /* default as JSON text */
    double lo, hi;      /* inclusive range for numbers */
    bool lo_open;       /* lo is exclusive */
    const char *choices; /* K_ENUM: "a|b|c", stored as the index */
    unsigned only;      /* model types (bits of 1 << rt_model_kind) using it; 0 = all */
} key_def;

#define F(field) offsetof(rt_config, field)
#define BIG 9.0e15
#define NICE (1u << RT_MODEL_NICE)
#define FLOW (1u << RT_MODEL_RECTFLOW)
static const key_def keys[] = {
    {"model.type", K_ENUM, F(model.type), "\"sequential\"", 0, 0, false,
     "sequential|nice|rectified_flow", 0},
    {"model.couplings", K_INT, F(model.couplings), "4", 1, 64, false, NULL, NICE},
    {"model.hidden", K_INT, F(model.hidden), "1000", 1, 1 << 16, false, NULL, NICE | FLOW},
    {"model.hidden_layers", K_INT, F(model.hidden_layers), "5", 1, 32, false, NULL, NICE | FLOW},
    {"model.prior", K_ENUM, F(model.prior), "\"logistic\"", 0, 0, false, "logistic|normal", NICE},
    {"model.net", K_ENUM, F(model.net), "\"mlp\"", 0, 0, false, "mlp|conv", FLOW},
    {"model.time_embed", K_INT, F(model.time_embed), "64", 2, 4096, false, NULL, FLOW},
    {"model.timesteps", K_ENUM, F(model.timesteps), "\"logit_normal\"", 0, 0, false,
     "logit_normal|uniform", FLOW},
    {"model.logit_mean", K_NUM, F(model.logit_mean), "0", -10, 10, false, NULL, FLOW},
    {"model.logit_std", K_NUM, F(model.logit_std), "1", 0, 10, true, NULL, FLOW},
    {"model.sample_steps", K_INT, F(model.sample_steps), "50", 1, 100000, false, NULL, FLOW},
    {"model.channels", K_INT, F(model.channels), "32", 1, 1024, false, NULL, FLOW},
    {"model.upsample", K_ENUM, F(model.upsample), "\"pixel_shuffle\"", 0, 0, false,
     "pixel_shuffle|nearest|bilinear", FLOW},
    {"data.train", K_PATH, F(data.train), "\"data/fashion-mnist.h5\"", 0, 0, false, NULL, 0},
    {"data.test", K_PATH, F(data.test), "\"data/fashion-mnist.h5\"", 0, 0, false, NULL, 0},
    {"data.shuffle", K_BOOL, F(data.shuffle), "true", 0, 0, false, NULL, 0},
    {"data.mean", K_NUM, F(data.mean), "0", -1e6, 1e6, false, NULL, 0},
    {"data.std", K_NUM, F(data.std), "1", 0, 1e6, true, NULL, 0},
    {"data.memory_budget_mb", K_NUM, F(data.memory_budget_mb), "0", 0, 1e9, false, NULL, 0},
    {"optim.type", K_ENUM, F(optim.type), "\"adamw\"", 0, 0, false, "adamw|sgd", 0},
    {"optim.lr", K_NUM, F(optim.lr), "0.001", 0, 10, true, NULL, 0},
    {"optim.betas", K_PAIR, F(optim.beta1), "[0.9, 0.999]", 0, 1, false, NULL, 0},
    {"optim.eps", K_NUM, F(optim.eps), "1e-8", 0, 1, true, NULL, 0},
    {"optim.weight_decay", K_NUM, F(optim.weight_decay), "0.01", 0, 10, false, NULL, 0},
    {"optim.momentum", K_NUM, F(optim.momentum), "0.9", 0, 1, false, NULL, 0},
    {"optim.nesterov", K_BOOL, F(optim.nesterov), "false", 0, 0, false, NULL, 0},
    {"optim.clip_grad_norm", K_NUM, F(optim.clip_grad_norm), "0", 0, BIG, false, NULL, 0},
    {"optim.accum_steps", K_INT, F(optim.accum_steps), "1", 1, 65536, false, NULL, 0},
    {"optim.schedule.type", K_ENUM, F(optim.schedule.type), "\"constant\"", 0, 0, false,
     "constant|cosine|step|inverse_time", 0},
    {"optim.schedule.warmup_steps", K_INT, F(optim.schedule.warmup_steps), "0", 0, BIG, false, NULL, 0},
    {"optim.schedule.min_lr", K_NUM, F(optim.schedule.min_lr), "0", 0, 10, false, NULL, 0},
    {"optim.schedule.step_size", K_INT, F(optim.schedule.step_size), "1000", 1, BIG, false, NULL, 0},
    {"optim.schedule.gamma", K_NUM, F(optim.schedule.gamma), "0.1", 0, 1, true, NULL, 0},
    {"optim.schedule.tau", K_NUM, F(optim.schedule.tau), "1000", 0, BIG, true, NULL, 0},
    {"train.global_batch", K_INT, F(train.global_batch), "256", 1, 1 << 24, false, NULL, 0},
    {"train.epochs", K_INT, F(train.epochs), "1", 1, 1 << 20, false, NULL, 0},
    {"train.steps", K_INT, F(train.steps), "0", 0, BIG, false, NULL, 0},
    {"train.seed", K_INT, F(train.seed), "0", 0, BIG, false, NULL, 0},
    {"train.log_every", K_INT, F(train.log_every), "10", 1, BIG, false, NULL, 0},
    {"train.eval_every", K_INT, F(train.eval_every), "0", 0, BIG, false, NULL, 0},
    {"train.eval_batch", K_INT, F(train.eval_batch), "1000", 1, 1 << 24, false, NULL, 0},
    {"train.checkpoint_every", K_INT, F(train.checkpoint_every), "0", 0, BIG, false, NULL, 0},
    {"train.nonfinite", K_ENUM, F(train.nonfinite), "\"abort\"", 0, 0, false, "abort|skip", 0},
    {"train.keep_checkpoints", K_INT, F(train.keep_checkpoints), "3", 1, 1 << 20, false, NULL, 0},
    {"init.from", K_PATH, F(init.from), "\"\"", 0, 0, false, NULL, 0},
    {"dist.bucket_mb", K_NUM, F(dist.bucket_mb), "4", 0, 4096, true, NULL, 0},
    {"dist.segment_kb", K_INT, F(dist.segment_kb), "512", 1, 1 << 20, false, NULL, 0},
    {"dist.overlap", K_AUTO, F(dist.overlap), "\"auto\"", 0, 0, false, NULL, 0},
    {"dist.shard_optimizer", K_BOOL, F(dist.shard_optimizer), "true", 0, 0, false, NULL, 0},
    {"dist.check_every", K_INT, F(dist.check_every), "100", 0, BIG, false, NULL, 0},
    {"dist.timeout_s", K_NUM, F(dist.timeout_s), "300", 0, 1e6, true, NULL, 0},
};
#undef F
#undef NICE
#undef FLOW
#define NKEYS (sizeof keys / sizeof keys[0])

/* Keys that are checked by the model parser rather than the table. */
static const char *const model_keys[] = {"model.input", "model.layers"};

static const char *const model_type_names[] = {"sequential", "nice", "rectified_flow"};

static const char *const layer_kind_names[RT_LAYER_KIND_COUNT] = {
    [RT_LAYER_LINEAR] = "linear",
    [RT_LAYER_RELU] = "relu",
    [RT_LAYER_GELU] = "gelu",
    [RT_LAYER_TANH] = "tanh",
    [RT_LAYER_SIGMOID] = "sigmoid",
    [RT_LAYER_SOFTPLUS] = "softplus",
    [RT_LAYER_FLATTEN] = "flatten",
    [RT_LAYER_CONV2D] = "conv2d",
    [RT_LAYER_MAXPOOL2D] = "maxpool2d",
    [RT_LAYER_AVGPOOL2D] = "avgpool2d",
    [RT_LAYER_UPSAMPLE] = "upsample",
    [RT_LAYER_PIXEL_SHUFFLE] = "pixel_shuffle",
    [RT_LAYER_PIXEL_UNSHUFFLE] = "pixel_unshuffle",
    [RT_LAYER_LAYERNORM] = "layernorm",
    [RT_LAYER_DROPOUT] = "dropout",
};

void rt_config_each_key(void (*fn)(const char *key, void *ctx), void *ctx) {
    for (size_t i = 0; i < NKEYS; i++) fn(keys[i].path, ctx);
    for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++) fn(model_keys[i], ctx);
}

/* ---- helpers ---- */

static const char *type_name(const cJSON *j) {
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "invalid";
}

/* Finds (and with `create`, makes) the node at a dotted path. Segments that are
 * integers index arrays. Returns NULL when absent. *parent gets the container. */
static cJSON *lookup(cJSON *root, const char *path, bool create, cJSON **parent, char *leaf,
                     size_t leaf_len) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *cur = root;
    char *save = NULL;
    char *seg = strtok_r(buf, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        cJSON *child = NULL;
        if (cJSON_IsArray(cur)) {
            char *end;
            long idx = strtol(seg, &end, 10);
            if (*end || idx < 0 || idx >= cJSON_GetArraySize(cur)) return NULL;
            child = cJSON_GetArrayItem(cur, (int)idx);
        } else if (cJSON_IsObject(cur)) {
            child = cJSON_GetObjectItemCaseSensitive(cur, seg);
            if (!child && create && next) {
                child = cJSON_CreateObject();
                cJSON_AddItemToObject(cur, seg, child);
            }
        } else {
            return NULL;
        }
        if (!next) {
            if (parent) *parent = cur;
            if (leaf) snprintf(leaf, leaf_len, "%s", seg);
            return child;
        }
        if (!child) return NULL;
        cur = child;
        seg = next;
    }
    return NULL;
}

static bool is_known_prefix(const char *path) {
    size_t n = strlen(path);
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.') return true;
    return false;
}

static bool is_known_leaf(const char *path) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].path, path) == 0) return true;
    for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++)
        if (strcmp(model_keys[i], path) == 0) return true;
    return false;
}

/* Rejects any key that the table does not know (model.layers is checked later). */
static int check_unknown(const cJSON *obj, const char *prefix, const char *origin) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", it->string);
        if (is_known_leaf(path)) continue;
        if (is_known_prefix(path)) {
            if (!cJSON_IsObject(it))
                return rt_err(RT_EBADINPUT, "%s: %s: expected an object, got %s", origin, path,
                              type_name(it));
            int rc = check_unknown(it, path, origin);
            if (rc) return rc;
            continue;
        }
        return rt_err(RT_EBADINPUT, "%s: %s: unknown key", origin, path);
    }
    return RT_OK;
}

static int number_in_range(const key_def *k, double v, const char *origin) {
    if (!isfinite(v) || v < k->lo || v > k->hi || (k->lo_open && v == k->lo)) {
        if (k->lo_open)
            return rt_err(RT_EBADINPUT, "%s: %s: must be in (%g, %g], got %g", origin, k->path,
                          k->lo, k->hi, v);
        return rt_err(RT_EBADINPUT, "%s: %s: must be in [%g, %g], got %g", origin, k->path, k->lo,
                      k->hi, v);
    }
    return RT_OK;
}

/* Validates one table key (inserting its default when absent) and stores it. */
static int resolve_key(cJSON *root, const key_def *k, rt_config *c, const char *origin) {
    cJSON *parent = NULL;
    char leaf[64];
    cJSON *j = lookup(root, k->path, true, &parent, leaf, sizeof leaf);
    if (k->only && !(k->only & (1u << c->model.type))) { /* model.type is resolved first */
        if (j)
            return rt_err(RT_EBADINPUT, "%s: %s: not a key of a %s model", origin, k->path,
                          model_type_names[c->model.type]);
        return RT_OK;
    }
    if (!j) {
        j = cJSON_Parse(k->def);
        RT_CHECK(j && parent, "bad default for %s", k->path);
        cJSON_AddItemToObject(parent, leaf, j);
    }
    char *field = (char *)c + k->off;
    switch (k->kind) {
    case K_INT: {
        if (!cJSON_IsNumber(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected an integer, got %s", origin, k->path,
                          type_name(j));
        double v = j->valuedouble;
        if (v != floor(v))
            return rt_err(RT_EBADINPUT, "%s: %s: expected an integer, got %g", origin, k->path, v);
        int rc = number_in_range(k, v, origin);
        if (rc) return rc;
        *(int64_t *)field = (int64_t)v;
        return RT_OK;
    }
    case K_NUM: {
        if (!cJSON_IsNumber(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected a number, got %s", origin, k->path,
                          type_name(j));
        int rc = number_in_range(k, j->valuedouble, origin);
        if (rc) return rc;
        *(double *)field = j->valuedouble;
        return RT_OK;
    }
    case K_BOOL:
        if (!cJSON_IsBool(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected true or false, got %s", origin, k->path,
                          type_name(j));
        *(bool *)field = cJSON_IsTrue(j);
        return RT_OK;
    case K_AUTO:
        if (cJSON_IsString(j) && strcmp(j->valuestring, "auto") == 0) {
            *(int *)field = RT_AUTO;
            return RT_OK;
        }
        if (cJSON_IsString(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected true, false or \"auto\", got \"%s\"",
                          origin, k->path, j->valuestring);
        if (!cJSON_IsBool(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected true, false or \"auto\", got %s", origin,
                          k->path, type_name(j));
        *(int *)field = cJSON_IsTrue(j) ? RT_ON : RT_OFF;
        return RT_OK;
    case K_STR:
    case K_PATH:
        if (!cJSON_IsString(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected a string, got %s", origin, k->path,
                          type_name(j));
        if (strlen(j->valuestring) >= RT_PATH_MAX)
            return rt_err(RT_EBADINPUT, "%s: %s: too long", origin, k->path);
        snprintf(field, RT_PATH_MAX, "%s", j->valuestring);
        return RT_OK;
    case K_ENUM: {
        if (!cJSON_IsString(j))
            return rt_err(RT_EBADINPUT, "%s: %s: expected one of %s, got %s", origin, k->path,
                          k->choices, type_name(j));
        const char *s = j->valuestring, *p = k->choices;
        size_t n = strlen(s);
        for (int idx = 0; *p; idx++) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, s, n) == 0) {
                *(int *)field = idx;
                return RT_OK;
            }
            p += len + (bar ? 1 : 0);
        }
        return rt_err(RT_EBADINPUT, "%s: %s: expected one of %s, got \"%s\"", origin, k->path,
                      k->choices, s);
    }
    case K_PAIR: {
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 ||
            !cJSON_IsNumber(cJSON_GetArrayItem(j, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(j, 1)))
            return rt_err(RT_EBADINPUT, "%s: %s: expected an array of two numbers", origin,
                          k->path);
        for (int i = 0; i < 2; i++) {
            double v = cJSON_GetArrayItem(j, i)->valuedouble;
            if (!(v >= 0.0 && v < 1.0))
                return rt_err(RT_EBADINPUT, "%s: %s[%d]: must be in [0, 1), got %g", origin,
                              k->path, i, v);
            ((double *)field)[i] = v;
        }
        return RT_OK;
    }
    }
    return rt_err(RT_ERUNTIME, "%s: %s: unhandled key kind", origin, k->path);
}

/* ---- model section ---- */

static int parse_input(cJSON *model, rt_config *c, const char *origin) {
    cJSON *in = cJSON_GetObjectItemCaseSensitive(model, "input");
    if (!in) return rt_err(RT_EBADINPUT, "%s: model.input: missing (e.g. [784])", origin);
    int n = cJSON_IsArray(in) ? cJSON_GetArraySize(in) : 0;
    if (n < 1 || n > RT_MAX_DIMS - 1)
        return rt_err(RT_EBADINPUT, "%s: model.input: expected an array of 1 to %d sizes", origin,
                      RT_MAX_DIMS - 1);
    c->model.input_ndim = n;
    for (int i = 0; i < n; i++) {
        cJSON *d = cJSON_GetArrayItem(in, i);
        if (!cJSON_IsNumber(d) || d->valuedouble != floor(d->valuedouble) ||
            d->valuedouble < 1 || d->valuedouble > (1 << 24))
            return rt_err(RT_EBADINPUT, "%s: model.input[%d]: expected a positive integer",
                          origin, i);
        c->model.input[i] = (int)d->valuedouble;
    }
    return RT_OK;
}

/* An integer in [lo, hi], or (pair != NULL) one such integer or an array of two. */
static int layer_ints(const cJSON *it, int lo, int hi, int *out, bool pair, const char *origin,
                      const char *where, const char *key) {
    const cJSON *v[2] = {it, it};
    if (pair && cJSON_IsArray(it)) {
        if (cJSON_GetArraySize(it) != 2)
            return rt_err(RT_EBADINPUT, "%s: %s.%s: expected an integer or [h, w]", origin, where, key);
        v[0] = cJSON_GetArrayItem(it, 0);
        v[1] = cJSON_GetArrayItem(it, 1);
    }
    for (int i = 0; i < (pair ? 2 : 1); i++) {
        if (!cJSON_IsNumber(v[i]) || v[i]->valuedouble != floor(v[i]->valuedouble) ||
            v[i]->valuedouble < lo || v[i]->valuedouble > hi)
            return rt_err(RT_EBADINPUT, "%s: %s.%s: expected %s in [%d, %d]", origin, where, key,
                          pair ? "an integer or [h, w] of integers" : "an integer", lo, hi);
        out[i] = (int)v[i]->valuedouble;
    }
    return RT_OK;
}

static int layer_bool(const cJSON *it, bool *out, const char *origin, const char *where,
                      const char *key) {
    if (!cJSON_IsBool(it))
        return rt_err(RT_EBADINPUT, "%s: %s.%s: expected true or false", origin, where, key);
    *out = cJSON_IsTrue(it);
    return RT_OK;
}

/* Reads one layer's own keys; shapes are checked by parse_model. */
static int parse_layer(cJSON *lj, int idx, rt_layer_cfg *l, const char *origin) {
    char where[64];
    snprintf(where, sizeof where, "model.layers[%d]", idx);
    if (!cJSON_IsObject(lj))
        return rt_err(RT_EBADINPUT, "%s: %s: expected an object", origin, where);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(lj, "type");
    if (!cJSON_IsString(t))
        return rt_err(RT_EBADINPUT, "%s: %s.type: missing or not a string", origin, where);
    int kind = -1;
    for (int k = 0; k < RT_LAYER_KIND_COUNT; k++)
        if (strcmp(t->valuestring, layer_kind_names[k]) == 0) kind = k;
    if (kind < 0)
        return rt_err(RT_EBADINPUT,
                      "%s: %s.type: unknown layer type \"%s\" (expected linear, conv2d, maxpool2d, "
                      "avgpool2d, upsample, pixel_shuffle, pixel_unshuffle, layernorm, dropout, "
                      "flatten, relu, gelu, tanh, sigmoid or softplus)",
                      origin, where, t->valuestring);
    l->kind = (rt_layer_kind)kind;
    l->bias = true;
    l->stride[0] = l->stride[1] = 1;
    l->dilation[0] = l->dilation[1] = 1;
    l->scale[0] = l->scale[1] = 2;
    l->factor = 2;
    l->eps = 1e-5;
    l->p = 0.5;
    bool has_stride = false;
    snprintf(l->name, sizeof l->name, "%d", idx); /* nn.Sequential naming by default */
    bool conv = kind == RT_LAYER_CONV2D, pool = kind == RT_LAYER_MAXPOOL2D || kind == RT_LAYER_AVGPOOL2D;
    cJSON *it;
    int rc = RT_OK;
    cJSON_ArrayForEach(it, lj) {
        const char *k = it->string;
        if (strcmp(k, "type") == 0) continue;
        if (strcmp(k, "name") == 0) { /* only layers with parameters use it */
            if (!cJSON_IsString(it) || !*it->valuestring ||
                strlen(it->valuestring) >= RT_NAME_MAX - 8 || strchr(it->valuestring, '/'))
                return rt_err(RT_EBADINPUT, "%s: %s.name: expected a short name without '/'",
                              origin, where);
            snprintf(l->name, sizeof l->name, "%s", it->valuestring);
        } else if (strcmp(k, "out") == 0 && (kind == RT_LAYER_LINEAR || conv)) {
            rc = layer_ints(it, 1, 1 << 24, &l->out, false, origin, where, k);
        } else if (strcmp(k, "bias") == 0 && (kind == RT_LAYER_LINEAR || conv)) {
            rc = layer_bool(it, &l->bias, origin, where, k);
        } else if (strcmp(k, "affine") == 0 && kind == RT_LAYER_LAYERNORM) {
            rc = layer_bool(it, &l->bias, origin, where, k);
        } else if (strcmp(k, "approximate") == 0 && kind == RT_LAYER_GELU) {
            if (!cJSON_IsString(it) ||
                (strcmp(it->valuestring, "none") && strcmp(it->valuestring, "tanh")))
                return rt_err(RT_EBADINPUT, "%s: %s.approximate: expected \"none\" or \"tanh\"",
                              origin, where);
            l->tanh_approx = strcmp(it->valuestring, "tanh") == 0;
        } else if (strcmp(k, "kernel") == 0 && (conv || pool)) {
            rc = layer_ints(it, 1, 1024, l->kernel, conv, origin, where, k);
            if (pool) l->kernel[1] = l->kernel[0];
        } else if (strcmp(k, "stride") == 0 && (conv || pool)) {
            rc = layer_ints(it, 1, 1024, l->stride, conv, origin, where, k);
            if (pool) l->stride[1] = l->stride[0];
            has_stride = true;
        } else if (strcmp(k, "padding") == 0 && (conv || pool)) {
            rc = layer_ints(it, 0, 1024, l->pad, conv, origin, where, k);
            if (pool) l->pad[1] = l->pad[0];
        } else if (strcmp(k, "dilation") == 0 && conv) {
            rc = layer_ints(it, 1, 1024, l->dilation, true, origin, where, k);
        } else if (strcmp(k, "scale") == 0 && kind == RT_LAYER_UPSAMPLE) {
            rc = layer_ints(it, 1, 64, l->scale, true, origin, where, k);
        } else if (strcmp(k, "mode") == 0 && kind == RT_LAYER_UPSAMPLE) {
            if (!cJSON_IsString(it) ||
                (strcmp(it->valuestring, "nearest") && strcmp(it->valuestring, "bilinear")))
                return rt_err(RT_EBADINPUT, "%s: %s.mode: expected \"nearest\" or \"bilinear\"",
                              origin, where);
            l->bilinear = strcmp(it->valuestring, "bilinear") == 0;
        } else if (strcmp(k, "align_corners") == 0 && kind == RT_LAYER_UPSAMPLE) {
            rc = layer_bool(it, &l->align_corners, origin, where, k);
        } else if (strcmp(k, "factor") == 0 &&
                   (kind == RT_LAYER_PIXEL_SHUFFLE || kind == RT_LAYER_PIXEL_UNSHUFFLE)) {
            rc = layer_ints(it, 1, 64, &l->factor, false, origin, where, k);
        } else if (strcmp(k, "eps") == 0 && kind == RT_LAYER_LAYERNORM) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0.0 && it->valuedouble < 1.0))
                return rt_err(RT_EBADINPUT, "%s: %s.eps: expected a number in (0, 1)", origin, where);
            l->eps = it->valuedouble;
        } else if (strcmp(k, "p") == 0 && kind == RT_LAYER_DROPOUT) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0.0 && it->valuedouble < 1.0))
                return rt_err(RT_EBADINPUT, "%s: %s.p: expected a number in [0, 1)", origin, where);
            l->p = it->valuedouble;
        } else {
            return rt_err(RT_EBADINPUT, "%s: %s.%s: unknown key for a %s layer", origin, where, k,
                          layer_kind_names[kind]);
        }
        if (rc) return rc;
    }
    if ((kind == RT_LAYER_LINEAR || conv) && l->out == 0)
        return rt_err(RT_EBADINPUT, "%s: %s.out: missing for a %s layer", origin, where,
                      layer_kind_names[kind]);
    if ((conv || pool) && l->kernel[0] == 0)
        return rt_err(RT_EBADINPUT, "%s: %s.kernel: missing for a %s layer", origin, where,
                      layer_kind_names[kind]);
    if (pool && !has_stride) l->stride[0] = l->stride[1] = l->kernel[0]; /* torch's default */
    if (pool && 2 * l->pad[0] > l->kernel[0])
        return rt_err(RT_EBADINPUT, "%s: %s.padding: at most half the kernel (%d)", origin, where,
                      l->kernel[0] / 2);
    return RT_OK;
}

/* Window output size, as rt_window_out (config.c stays free of the ops). */
static int window_out(int in, int k, int stride, int pad, int dil) {
    int span = in + 2 * pad - dil * (k - 1) - 1;
    return span < 0 ? -1 : span / stride + 1;
}

/* Applies layer l to the per-sample shape (ndim, shape), checking it fits. */
static int layer_shape(const rt_layer_cfg *l, int i, int *ndim, int64_t *shape, const char *origin) {
    const char *kn = layer_kind_names[l->kind];
    switch (l->kind) {
    case RT_LAYER_FLATTEN:
        for (int d = 1; d < *ndim; d++) shape[0] *= shape[d]; /* each shape is <= 2^24 elements */
        *ndim = 1;
        return RT_OK;
    case RT_LAYER_LINEAR:
        if (*ndim != 1)
            return rt_err(RT_EBADINPUT,
                          "%s: model.layers[%d]: linear needs a flat input; add "
                          "{\"type\":\"flatten\"} before it",
                          origin, i);
        shape[0] = l->out;
        return RT_OK;
    case RT_LAYER_LAYERNORM:
        return RT_OK; /* over the last dimension */
    case RT_LAYER_RELU:
    case RT_LAYER_GELU:
    case RT_LAYER_TANH:
    case RT_LAYER_SIGMOID:
    case RT_LAYER_SOFTPLUS:
    case RT_LAYER_DROPOUT:
        return RT_OK;
    default:
        break;
    }
    if (*ndim != 3)
        return rt_err(RT_EBADINPUT,
                      "%s: model.layers[%d]: %s needs a [channels, height, width] input "
                      "(model.input has 3 sizes, and no flatten before it)",
                      origin, i, kn);
    int64_t c = shape[0], h = shape[1], w = shape[2];
    switch (l->kind) {
    case RT_LAYER_CONV2D:
    case RT_LAYER_MAXPOOL2D:
    case RT_LAYER_AVGPOOL2D: {
        int64_t oh = window_out((int)h, l->kernel[0], l->stride[0], l->pad[0], l->dilation[0]);
        int64_t ow = window_out((int)w, l->kernel[1], l->stride[1], l->pad[1], l->dilation[1]);
        if (oh < 1 || ow < 1)
            return rt_err(RT_EBADINPUT,
                          "%s: model.layers[%d]: %s kernel %dx%d does not fit its %lldx%lld input",
                          origin, i, kn, l->kernel[0], l->kernel[1], (long long)h, (long long)w);
        shape[0] = l->kind == RT_LAYER_CONV2D ? l->out : c;
        shape[1] = oh;
        shape[2] = ow;
        break;
    }
    case RT_LAYER_UPSAMPLE:
        shape[1] = h * l->scale[0];
        shape[2] = w * l->scale[1];
        break;
    case RT_LAYER_PIXEL_SHUFFLE:
        if (c % ((int64_t)l->factor * l->factor))
            return rt_err(RT_EBADINPUT,
                          "%s: model.layers[%d]: pixel_shuffle factor %d needs channels divisible "
                          "by %d, got %lld",
                          origin, i, l->factor, l->factor * l->factor, (long long)c);
        shape[0] = c / ((int64_t)l->factor * l->factor);
        shape[1] = h * l->factor;
        shape[2] = w * l->factor;
        break;
    case RT_LAYER_PIXEL_UNSHUFFLE:
        if (h % l->factor || w % l->factor)
            return rt_err(RT_EBADINPUT,
                          "%s: model.layers[%d]: pixel_unshuffle factor %d does not divide %lldx%lld",
                          origin, i, l->factor, (long long)h, (long long)w);
        shape[0] = c * l->factor * l->factor;
        shape[1] = h / l->factor;
        shape[2] = w / l->factor;
        break;
    default:
        return rt_err(RT_ERUNTIME, "%s: model.layers[%d]: unhandled layer", origin, i);
    }
    if ((double)shape[0] * (double)shape[1] * (double)shape[2] > (double)(1 << 24))
        return rt_err(RT_EBADINPUT, "%s: model.layers[%d]: %s output is too large", origin, i, kn);
    return RT_OK;
}

static bool layer_has_params(const rt_layer_cfg *l) {
    return l->kind == RT_LAYER_LINEAR || l->kind == RT_LAYER_CONV2D || l->kind == RT_LAYER_LAYERNORM;
}

/* Parameters of layer l on its input shape (as a double: no overflow). */
static double layer_params(const rt_layer_cfg *l, int ndim, const int64_t *shape) {
    double in = 1.0;
    for (int d = 0; d < ndim; d++) in *= (double)shape[d];
    switch (l->kind) {
    case RT_LAYER_LINEAR: return (in + 1.0) * l->out;
    case RT_LAYER_CONV2D: return ((double)shape[0] * l->kernel[0] * l->kernel[1] + 1.0) * l->out;
    case RT_LAYER_LAYERNORM: return 2.0 * (double)shape[ndim - 1];
    default: return 0.0;
    }
}

/* A model of more parameters than this is a typo, not a run (8 GiB of floats). */
#define MAX_PARAMS 2147483648.0

static int parse_layers(cJSON *model, rt_config *c, const char *origin) {
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(model, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (n < 1) return rt_err(RT_EBADINPUT, "%s: model.layers: expected a non-empty array", origin);
    if (n > 256) return rt_err(RT_EBADINPUT, "%s: model.layers: at most 256 layers", origin);
    c->model.nlayers = n;
    c->model.layers = rt_calloc((size_t)n, sizeof *c->model.layers);
    /* per-sample shape as it flows through the layers, to catch inconsistencies */
    int ndim = c->model.input_ndim;
    int64_t shape[RT_MAX_DIMS] = {0};
    for (int d = 0; d < ndim; d++) shape[d] = c->model.input[d];
    if (ndim == 2) { /* [h, w] images are one channel */
        shape[2] = shape[1], shape[1] = shape[0], shape[0] = 1;
        ndim = 3;
    }
    int rc;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        rt_layer_cfg *l = &c->model.layers[i];
        cJSON *lj = cJSON_GetArrayItem(layers, i);
        if ((rc = parse_layer(lj, i, l, origin))) return rc;
        bool params = layer_has_params(l);
        if (params && !cJSON_GetObjectItemCaseSensitive(lj, "name"))
            cJSON_AddStringToObject(lj, "name", l->name);
        for (int j = 0; params && j < i; j++)
            if (layer_has_params(&c->model.layers[j]) && strcmp(c->model.layers[j].name, l->name) == 0)
                return rt_err(RT_EBADINPUT, "%s: model.layers[%d].name: \"%s\" is used twice",
                              origin, i, l->name);
        l->in_ndim = ndim;
        for (int d = 0; d < ndim; d++) l->in_shape[d] = (int)shape[d];
        total += layer_params(l, ndim, shape);
        if (total > MAX_PARAMS)
            return rt_err(RT_EBADINPUT, "%s: model.layers[%d]: the model would have over %.0f parameters",
                          origin, i, MAX_PARAMS);
        if ((rc = layer_shape(l, i, &ndim, shape, origin))) return rc;
    }
    if (c->model.layers[n - 1].kind != RT_LAYER_LINEAR)
        return rt_err(RT_EBADINPUT, "%s: model.layers[%d]: the last layer must be linear (logits)",
                      origin, n - 1);
    return RT_OK;
}

static int parse_model(cJSON *root, rt_config *c, const char *origin) {
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return rt_err(RT_EBADINPUT, "%s: model: missing section", origin);
    int rc = parse_input(model, c, origin);
    if (rc) return rc;
    int64_t d = 1;
    for (int i = 0; i < c->model.input_ndim; i++) {
        d *= c->model.input[i]; /* each size <= 2^24 and d <= 2^24 before: no overflow */
        if (d > (1 << 24))
            return rt_err(RT_EBADINPUT, "%s: model.input: more than %d elements per sample", origin,
                          1 << 24);
    }
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(model, "layers");
    switch (c->model.type) {
    case RT_MODEL_SEQUENTIAL: return parse_layers(model, c, origin);
    case RT_MODEL_NICE:
        if (layers) return rt_err(RT_EBADINPUT, "%s: model.layers: not a key of a nice model", origin);
        if (d % 2 || d < 2)
            return rt_err(RT_EBADINPUT,
                          "%s: model.input: a nice model needs an even number of inputs, got %lld",
                          origin, (long long)d);
        if (c->data.mean != 0.0 || c->data.std != 1.0)
            return rt_err(RT_EBADINPUT,
                          "%s: data.mean: a nice model reads pixels in [0, 1] (its density and "
                          "bits/dim are on that scale); keep data.mean 0 and data.std 1",
                          origin);
        {
            double h = (double)c->model.hidden, params = (double)c->model.couplings *
                (2.0 * ((double)d / 2.0 + 1.0) * h + (double)(c->model.hidden_layers - 1) * (h + 1.0) * h);
            if (params > MAX_PARAMS)
                return rt_err(RT_EBADINPUT, "%s: model.hidden: the model would have over %.0f parameters",
                              origin, MAX_PARAMS);
        }
        return RT_OK;
    case RT_MODEL_RECTFLOW:
        if (layers)
            return rt_err(RT_EBADINPUT, "%s: model.layers: not a key of a rectified_flow model",
                          origin);
        if (c->model.time_embed % 2)
            return rt_err(RT_EBADINPUT, "%s: model.time_embed: must be even, got %lld", origin,
                          (long long)c->model.time_embed);
        {
            double h = (double)c->model.hidden, e = (double)c->model.time_embed, ch = (double)c->model.channels;
            double params = c->model.net == RT_FLOWNET_MLP
                                ? ((double)d + e + 1.0) * h + (double)(c->model.hidden_layers - 1) * (h + 1.0) * h +
                                      (h + 1.0) * (double)d
                                : 9.0 * ch * ch * 60.0 + 9.0 * ch * (e + 8.0);
            if (params > MAX_PARAMS)
                return rt_err(RT_EBADINPUT, "%s: model.%s: the model would have over %.0f parameters",
                              origin, c->model.net == RT_FLOWNET_MLP ? "hidden" : "channels", MAX_PARAMS);
        }
        if (c->model.net == RT_FLOWNET_CONV &&
            (c->model.input_ndim != 3 || c->model.input[1] % 4 || c->model.input[2] % 4))
            return rt_err(RT_EBADINPUT,
                          "%s: model.input: the conv velocity net needs [channels, height, width] "
                          "with height and width divisible by 4",
                          origin);
        return RT_OK;
    }
    return rt_err(RT_ERUNTIME, "%s: model.type: unhandled", origin);
}

/* ---- --set overrides ---- */

static int apply_set(cJSON *root, const char *set, const char *origin) {
    const char *eq = strchr(set, '=');
    if (!eq || eq == set)
        return rt_err(RT_EBADINPUT, "--set %s: expected key.path=value", set);
    char key[256];
    size_t klen = (size_t)(eq - set);
    if (klen >= sizeof key) return rt_err(RT_EBADINPUT, "--set %s: key too long", set);
    memcpy(key, set, klen);
    key[klen] = '\0';
    if (key[0] == '.' || key[klen - 1] == '.' || strstr(key, ".."))
        return rt_err(RT_EBADINPUT, "--set %s: malformed key path", set);
    const char *val = eq + 1;
    cJSON *v = cJSON_Parse(val);
    if (!v) v = cJSON_CreateString(val); /* bare words are strings: --set optim.type=sgd */
    cJSON *parent = NULL;
    char leaf[64];
    cJSON *old = lookup(root, key, true, &parent, leaf, sizeof leaf);
    if (!parent) {
        cJSON_Delete(v);
        return rt_err(RT_EBADINPUT, "%s: --set %s: no such key path", origin, key);
    }
    if (cJSON_IsArray(parent)) {
        if (!old) {
            cJSON_Delete(v);
            return rt_err(RT_EBADINPUT, "%s: --set %s: index out of range", origin, key);
        }
        cJSON_ReplaceItemInArray(parent, atoi(leaf), v);
    } else if (old) {
        cJSON_ReplaceItemInObjectCaseSensitive(parent, leaf, v);
    } else {
        cJSON_AddItemToObject(parent, leaf, v);
    }
    return RT_OK;
}

/* ---- entry points ---- */

static void name_from_path(const char *path, char *name, size_t len) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(name, len, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".json") == 0) *dot = '\0';
}

int rt_config_parse(const char *json, const char *origin, const char *const *sets, int nset,
                    rt_config **out) {
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, true);
    if (!root) {
        /* report the line of the syntax error */
        int line = 1;
        for (const char *p = json; end && p < end; p++) line += *p == '\n';
        return rt_err(RT_EBADINPUT, "%s: line %d: malformed JSON", origin, line);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return rt_err(RT_EBADINPUT, "%s: expected a JSON object at the top level", origin);
    }
    rt_config *c = rt_calloc(1, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", origin);
    name_from_path(origin, c->name, sizeof c->name);
    c->resolved = root;
    int rc = RT_OK;
    for (int i = 0; i < nset && !rc; i++) rc = apply_set(root, sets[i], origin);
    if (!rc) rc = check_unknown(root, "", origin);
    for (size_t i = 0; i < NKEYS && !rc; i++) rc = resolve_key(root, &keys[i], c, origin);
    if (!rc) rc = parse_model(root, c, origin);
    if (!rc && c->optim.accum_steps > c->train.global_batch)
        rc = rt_err(RT_EBADINPUT, "%s: optim.accum_steps: %lld exceeds train.global_batch %lld",
                    origin, (long long)c->optim.accum_steps, (long long)c->train.global_batch);
    if (!rc && !c->data.train[0])
        rc = rt_err(RT_EBADINPUT, "%s: data.train: must name an HDF5 file", origin);
    if (rc) {
        rt_config_free(c);
        return rc;
    }
    *out = c;
    return RT_OK;
}

int rt_config_load(const char *path, const char *const *sets, int nset, rt_config **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return rt_err(RT_EBADINPUT, "%s: cannot open config: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rt_err(RT_EBADINPUT, "%s: cannot read config", path);
    }
    long n = ftell(f);
    if (n < 0 || n > (64L << 20)) {
        fclose(f);
        return rt_err(RT_EBADINPUT, "%s: not a readable config file (size %ld)", path, n);
    }
    rewind(f);
    char *buf = rt_malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (got != (size_t)n || strlen(buf) != got) {
        rt_free(buf);
        return rt_err(RT_EBADINPUT, "%s: cannot read config (binary or truncated)", path);
    }
    int rc = rt_config_parse(buf, path, sets, nset, out);
    rt_free(buf);
    return rc;
}

void rt_config_free(rt_config *c) {
    if (!c) return;
    cJSON_Delete(c->resolved);
    rt_free(c->model.layers);
    rt_free(c);
}

char *rt_config_to_json(const rt_config *c) {
    char *s = cJSON_Print(c->resolved);
    RT_CHECK(s, "cJSON_Print failed");
    char *copy = rt_strdup(s);
    cJSON_free(s);
    return copy;
}
