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

typedef enum { K_INT, K_NUM, K_BOOL, K_STR, K_PATH, K_ENUM, K_PAIR } key_kind;

typedef struct key_def {
    const char *path;   /* dotted path from the root */
    key_kind kind;
    size_t off;         /* offset of the field in rt_config */
    const char *def;    /* default as JSON text */
    double lo, hi;      /* inclusive range for numbers */
    bool lo_open;       /* lo is exclusive */
    const char *choices; /* K_ENUM: "a|b|c", stored as the index */
} key_def;

#define F(field) offsetof(rt_config, field)
#define BIG 9.0e15
static const key_def keys[] = {
    {"model.type", K_ENUM, F(model.type), "\"sequential\"", 0, 0, false, "sequential"},
    {"data.train", K_PATH, F(data.train), "\"data/fashion-mnist.h5\"", 0, 0, false, NULL},
    {"data.test", K_PATH, F(data.test), "\"data/fashion-mnist.h5\"", 0, 0, false, NULL},
    {"data.shuffle", K_BOOL, F(data.shuffle), "true", 0, 0, false, NULL},
    {"data.mean", K_NUM, F(data.mean), "0", -1e6, 1e6, false, NULL},
    {"data.std", K_NUM, F(data.std), "1", 0, 1e6, true, NULL},
    {"optim.type", K_ENUM, F(optim.type), "\"adamw\"", 0, 0, false, "adamw|sgd"},
    {"optim.lr", K_NUM, F(optim.lr), "0.001", 0, 10, true, NULL},
    {"optim.betas", K_PAIR, F(optim.beta1), "[0.9, 0.999]", 0, 1, false, NULL},
    {"optim.eps", K_NUM, F(optim.eps), "1e-8", 0, 1, true, NULL},
    {"optim.weight_decay", K_NUM, F(optim.weight_decay), "0.01", 0, 10, false, NULL},
    {"optim.momentum", K_NUM, F(optim.momentum), "0.9", 0, 1, false, NULL},
    {"optim.nesterov", K_BOOL, F(optim.nesterov), "false", 0, 0, false, NULL},
    {"optim.clip_grad_norm", K_NUM, F(optim.clip_grad_norm), "0", 0, BIG, false, NULL},
    {"optim.accum_steps", K_INT, F(optim.accum_steps), "1", 1, 65536, false, NULL},
    {"optim.schedule.type", K_ENUM, F(optim.schedule.type), "\"constant\"", 0, 0, false,
     "constant|cosine|step|inverse_time"},
    {"optim.schedule.warmup_steps", K_INT, F(optim.schedule.warmup_steps), "0", 0, BIG, false, NULL},
    {"optim.schedule.min_lr", K_NUM, F(optim.schedule.min_lr), "0", 0, 10, false, NULL},
    {"optim.schedule.step_size", K_INT, F(optim.schedule.step_size), "1000", 1, BIG, false, NULL},
    {"optim.schedule.gamma", K_NUM, F(optim.schedule.gamma), "0.1", 0, 1, true, NULL},
    {"optim.schedule.tau", K_NUM, F(optim.schedule.tau), "1000", 0, BIG, true, NULL},
    {"train.global_batch", K_INT, F(train.global_batch), "256", 1, 1 << 24, false, NULL},
    {"train.epochs", K_INT, F(train.epochs), "1", 1, 1 << 20, false, NULL},
    {"train.steps", K_INT, F(train.steps), "0", 0, BIG, false, NULL},
    {"train.seed", K_INT, F(train.seed), "0", 0, BIG, false, NULL},
    {"train.log_every", K_INT, F(train.log_every), "10", 1, BIG, false, NULL},
    {"train.eval_every", K_INT, F(train.eval_every), "0", 0, BIG, false, NULL},
    {"train.eval_batch", K_INT, F(train.eval_batch), "1000", 1, 1 << 24, false, NULL},
    {"train.checkpoint_every", K_INT, F(train.checkpoint_every), "0", 0, BIG, false, NULL},
    {"train.nonfinite", K_ENUM, F(train.nonfinite), "\"abort\"", 0, 0, false, "abort|skip"},
    {"train.keep_checkpoints", K_INT, F(train.keep_checkpoints), "3", 1, 1 << 20, false, NULL},
    {"init.from", K_PATH, F(init.from), "\"\"", 0, 0, false, NULL},
    {"dist.bucket_mb", K_NUM, F(dist.bucket_mb), "4", 0, 4096, true, NULL},
    {"dist.segment_kb", K_INT, F(dist.segment_kb), "512", 1, 1 << 20, false, NULL},
    {"dist.overlap", K_BOOL, F(dist.overlap), "true", 0, 0, false, NULL},
    {"dist.check_every", K_INT, F(dist.check_every), "100", 0, BIG, false, NULL},
    {"dist.timeout_s", K_NUM, F(dist.timeout_s), "300", 0, 1e6, true, NULL},
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

/* Keys that are checked by the model parser rather than the table. */
static const char *const model_keys[] = {"model.input", "model.layers"};

static const char *const layer_kind_names[RT_LAYER_KIND_COUNT] = {
    [RT_LAYER_LINEAR] = "linear",   [RT_LAYER_RELU] = "relu",
    [RT_LAYER_GELU] = "gelu",       [RT_LAYER_TANH] = "tanh",
    [RT_LAYER_SIGMOID] = "sigmoid", [RT_LAYER_FLATTEN] = "flatten",
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
                      "%s: %s.type: unknown layer type \"%s\" (expected linear, relu, gelu, "
                      "tanh, sigmoid or flatten)",
                      origin, where, t->valuestring);
    l->kind = (rt_layer_kind)kind;
    l->bias = true;
    snprintf(l->name, sizeof l->name, "%d", idx); /* nn.Sequential naming by default */
    cJSON *it;
    cJSON_ArrayForEach(it, lj) {
        const char *k = it->string;
        if (strcmp(k, "type") == 0) continue;
        if (strcmp(k, "name") == 0) {
            if (!cJSON_IsString(it) || !*it->valuestring ||
                strlen(it->valuestring) >= RT_NAME_MAX - 8 || strchr(it->valuestring, '/'))
                return rt_err(RT_EBADINPUT, "%s: %s.name: expected a short name without '/'",
                              origin, where);
            snprintf(l->name, sizeof l->name, "%s", it->valuestring);
        } else if (strcmp(k, "out") == 0 && kind == RT_LAYER_LINEAR) {
            if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
                it->valuedouble < 1 || it->valuedouble > (1 << 24))
                return rt_err(RT_EBADINPUT, "%s: %s.out: expected a positive integer", origin,
                              where);
            l->out = (int)it->valuedouble;
        } else if (strcmp(k, "bias") == 0 && kind == RT_LAYER_LINEAR) {
            if (!cJSON_IsBool(it))
                return rt_err(RT_EBADINPUT, "%s: %s.bias: expected true or false", origin, where);
            l->bias = cJSON_IsTrue(it);
        } else if (strcmp(k, "approximate") == 0 && kind == RT_LAYER_GELU) {
            if (!cJSON_IsString(it) ||
                (strcmp(it->valuestring, "none") && strcmp(it->valuestring, "tanh")))
                return rt_err(RT_EBADINPUT, "%s: %s.approximate: expected \"none\" or \"tanh\"",
                              origin, where);
            l->tanh_approx = strcmp(it->valuestring, "tanh") == 0;
        } else {
            return rt_err(RT_EBADINPUT, "%s: %s.%s: unknown key for a %s layer", origin, where, k,
                          layer_kind_names[kind]);
        }
    }
    if (kind == RT_LAYER_LINEAR && l->out == 0)
        return rt_err(RT_EBADINPUT, "%s: %s.out: missing for a linear layer", origin, where);
    return RT_OK;
}

static int parse_model(cJSON *root, rt_config *c, const char *origin) {
    cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(model)) return rt_err(RT_EBADINPUT, "%s: model: missing section", origin);
    int rc = parse_input(model, c, origin);
    if (rc) return rc;
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(model, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : 0;
    if (n < 1) return rt_err(RT_EBADINPUT, "%s: model.layers: expected a non-empty array", origin);
    c->model.nlayers = n;
    c->model.layers = rt_calloc((size_t)n, sizeof *c->model.layers);
    /* per-sample shape as it flows through the layers, to catch inconsistencies */
    int ndim = c->model.input_ndim;
    int64_t width = c->model.input[ndim - 1];
    for (int i = 0; i < n; i++) {
        rt_layer_cfg *l = &c->model.layers[i];
        cJSON *lj = cJSON_GetArrayItem(layers, i);
        if ((rc = parse_layer(lj, i, l, origin))) return rc;
        if (!cJSON_GetObjectItemCaseSensitive(lj, "name") && l->kind == RT_LAYER_LINEAR)
            cJSON_AddStringToObject(lj, "name", l->name);
        for (int j = 0; j < i; j++)
            if (c->model.layers[j].kind == RT_LAYER_LINEAR && l->kind == RT_LAYER_LINEAR &&
                strcmp(c->model.layers[j].name, l->name) == 0)
                return rt_err(RT_EBADINPUT, "%s: model.layers[%d].name: \"%s\" is used twice",
                              origin, i, l->name);
        if (l->kind == RT_LAYER_FLATTEN) {
            int64_t prod = 1;
            for (int d = 0; d < c->model.input_ndim; d++) prod *= c->model.input[d];
            ndim = 1;
            width = prod;
        } else if (l->kind == RT_LAYER_LINEAR) {
            if (ndim != 1)
                return rt_err(RT_EBADINPUT,
                              "%s: model.layers[%d]: linear needs a flat input; add "
                              "{\"type\":\"flatten\"} before it",
                              origin, i);
            width = l->out;
        }
    }
    (void)width;
    if (c->model.layers[n - 1].kind != RT_LAYER_LINEAR)
        return rt_err(RT_EBADINPUT, "%s: model.layers[%d]: the last layer must be linear (logits)",
                      origin, n - 1);
    return RT_OK;
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
