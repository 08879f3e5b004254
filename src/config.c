/* config.c - strict config parsing: the sections' key rows, --set and the entry points. */
#include "ringtrain/config.h"

#include "ringtrain/common.h"
#include "ringtrain/keys.h"
#include "ringtrain/model.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the sections' keys (the model section's belong to its family) ---- */

#define BIG 9.0e15
static const rt_key keys[] = {
    KPATH("data.train", rt_config, data.train, "\"data/fashion-mnist.h5\""),
    KPATH("data.test", rt_config, data.test, "\"data/fashion-mnist.h5\""),
    KBOOL("data.shuffle", rt_config, data.shuffle, "true"),
    KNUM("data.mean", rt_config, data.mean, "0", -1e6, 1e6),
    KNUM_POS("data.std", rt_config, data.std, "1", 0, 1e6),
    KNUM("data.memory_budget_mb", rt_config, data.memory_budget_mb, "0", 0, 1e9),
    KENUM("optim.type", rt_config, optim.type, "\"adamw\"", "adamw|sgd"),
    KNUM_POS("optim.lr", rt_config, optim.lr, "0.001", 0, 10),
    KPROB2("optim.betas", rt_config, optim.beta1, "[0.9, 0.999]"),
    KNUM_POS("optim.eps", rt_config, optim.eps, "1e-8", 0, 1),
    KNUM("optim.weight_decay", rt_config, optim.weight_decay, "0.01", 0, 10),
    KNUM("optim.momentum", rt_config, optim.momentum, "0.9", 0, 1),
    KBOOL("optim.nesterov", rt_config, optim.nesterov, "false"),
    KNUM("optim.clip_grad_norm", rt_config, optim.clip_grad_norm, "0", 0, BIG),
    KINT("optim.accum_steps", rt_config, optim.accum_steps, "1", 1, 65536),
    KENUM("optim.schedule.type", rt_config, optim.schedule.type, "\"constant\"",
          "constant|cosine|step|inverse_time"),
    KINT("optim.schedule.warmup_steps", rt_config, optim.schedule.warmup_steps, "0", 0, BIG),
    KNUM("optim.schedule.min_lr", rt_config, optim.schedule.min_lr, "0", 0, 10),
    KINT("optim.schedule.step_size", rt_config, optim.schedule.step_size, "1000", 1, BIG),
    KNUM_POS("optim.schedule.gamma", rt_config, optim.schedule.gamma, "0.1", 0, 1),
    KNUM_POS("optim.schedule.tau", rt_config, optim.schedule.tau, "1000", 0, BIG),
    KINT("train.global_batch", rt_config, train.global_batch, "256", 1, 1 << 24),
    KINT("train.epochs", rt_config, train.epochs, "1", 1, 1 << 20),
    KINT("train.steps", rt_config, train.steps, "0", 0, BIG),
    KINT("train.seed", rt_config, train.seed, "0", 0, BIG),
    KINT("train.log_every", rt_config, train.log_every, "10", 1, BIG),
    KINT("train.eval_every", rt_config, train.eval_every, "0", 0, BIG),
    KINT("train.eval_batch", rt_config, train.eval_batch, "1000", 1, 1 << 24),
    KINT("train.checkpoint_every", rt_config, train.checkpoint_every, "0", 0, BIG),
    KENUM("train.nonfinite", rt_config, train.nonfinite, "\"abort\"", "abort|skip"),
    KINT("train.keep_checkpoints", rt_config, train.keep_checkpoints, "3", 1, 1 << 20),
    KNUM_IN("train.ema_decay", rt_config, train.ema_decay, "0", 0, 1, false, true),
    KPATH("init.from", rt_config, init.from, "\"\""),
    KNUM_POS("dist.bucket_mb", rt_config, dist.bucket_mb, "4", 0, 4096),
    KINT("dist.segment_kb", rt_config, dist.segment_kb, "512", 1, 1 << 20),
    KAUTO("dist.overlap", rt_config, dist.overlap, "\"auto\""),
    KBOOL("dist.shard_optimizer", rt_config, dist.shard_optimizer, "true"),
    KINT("dist.check_every", rt_config, dist.check_every, "100", 0, BIG),
    KNUM_POS("dist.timeout_s", rt_config, dist.timeout_s, "300", 0, 1e6),
    KENUM("dist.ring_order", rt_config, dist.ring_order, "\"topology\"", "topology|rank"),
    KENUM("dist.algorithm", rt_config, dist.algorithm, "\"auto\"", "ring|hierarchical|auto"),
    KENUM("dist.compress", rt_config, dist.compress, "\"none\"", "none|bf16"),
};
#undef BIG
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

void rt_config_each_key(void (*fn)(const char *key, void *ctx), void *ctx) {
    rt_model_cfg_each_key(fn, ctx);
    for (int i = 0; i < NKEYS; i++) fn(keys[i].path, ctx);
}

/* Rejects any key of these sections that the rows do not know; the model
 * section is its family's to check (rt_model_cfg_parse). */
static int check_unknown(const cJSON *obj, const char *prefix, const char *origin) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", it->string);
        if (!*prefix && strcmp(path, "model") == 0) continue;
        if (strcmp(path, "optim.groups") == 0) continue; /* parse_groups reads it */
        if (rt_keys_find(keys, NKEYS, path)) continue;
        if (!rt_keys_is_prefix(keys, NKEYS, path))
            return rt_err(RT_EBADINPUT, "%s: %s: unknown key", origin, path);
        if (!cJSON_IsObject(it))
            return rt_err(RT_EBADINPUT, "%s: %s: expected an object, got %s", origin, path,
                          rt_keys_type_name(it));
        int rc = check_unknown(it, path, origin);
        if (rc) return rc;
    }
    return RT_OK;
}

/* A key given twice in one object, at any depth: cJSON keeps both and a
 * lookup takes the first, so the second would be silently ignored. where is
 * the path of node ("" for the top level); set names the --set it came from. */
static int check_duplicates(const cJSON *node, const char *where, const char *origin, const char *set) {
    char path[512];
    int i = 0;
    for (const cJSON *it = node->child; it; it = it->next, i++) {
        if (cJSON_IsObject(node)) {
            for (const cJSON *prev = node->child; prev != it; prev = prev->next)
                if (strcmp(prev->string, it->string) == 0)
                    return rt_err(RT_EBADINPUT, "%s: %s%s%s: given twice%s%s", origin, where, *where ? "." : "",
                                  it->string, set ? " in --set " : "", set ? set : "");
            snprintf(path, sizeof path, "%s%s%s", where, *where ? "." : "", it->string);
        } else {
            snprintf(path, sizeof path, "%s[%d]", where, i);
        }
        int rc = check_duplicates(it, path, origin, set);
        if (rc) return rc;
    }
    return RT_OK;
}

/* optim.groups: [{"match": GLOB, "lr_scale": x, "weight_decay": y}, ...];
 * lr_scale defaults to 1 and weight_decay to optim.weight_decay. Whether a
 * glob matches a parameter is the optimizer's to check (rt_optim_set_groups). */
static int parse_groups(const cJSON *root, rt_config *c, const char *origin) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "optim"), "groups");
    if (!g) return RT_OK;
    int n = cJSON_IsArray(g) ? cJSON_GetArraySize(g) : -1;
    if (n < 0 || n > RT_MAX_PARAM_GROUPS)
        return rt_err(RT_EBADINPUT, "%s: optim.groups: expected an array of at most %d objects, got %s", origin,
                      RT_MAX_PARAM_GROUPS, n < 0 ? rt_keys_type_name(g) : "more");
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(g, i), *it;
        struct rt_param_group *pg = &c->optim.groups[i];
        *pg = (struct rt_param_group){.lr_scale = 1.0, .weight_decay = c->optim.weight_decay};
        if (!cJSON_IsObject(e))
            return rt_err(RT_EBADINPUT, "%s: optim.groups[%d]: expected an object, got %s", origin, i,
                          rt_keys_type_name(e));
        cJSON_ArrayForEach(it, e) {
            bool is_match = strcmp(it->string, "match") == 0;
            bool num = cJSON_IsNumber(it) && isfinite(it->valuedouble) && it->valuedouble >= 0;
            if (is_match && (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) >= sizeof pg->match))
                return rt_err(RT_EBADINPUT, "%s: optim.groups[%d].match: expected a parameter-name glob", origin, i);
            else if (is_match) snprintf(pg->match, sizeof pg->match, "%s", it->valuestring);
            else if ((strcmp(it->string, "lr_scale") == 0 || strcmp(it->string, "weight_decay") == 0) && !num)
                return rt_err(RT_EBADINPUT, "%s: optim.groups[%d].%s: expected a number >= 0", origin, i, it->string);
            else if (strcmp(it->string, "lr_scale") == 0) pg->lr_scale = it->valuedouble;
            else if (strcmp(it->string, "weight_decay") == 0) pg->weight_decay = it->valuedouble;
            else return rt_err(RT_EBADINPUT, "%s: optim.groups[%d].%s: unknown key (match, lr_scale, weight_decay)",
                               origin, i, it->string);
        }
        if (!pg->match[0]) return rt_err(RT_EBADINPUT, "%s: optim.groups[%d].match: missing", origin, i);
    }
    c->optim.ngroups = n;
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
    int rc = check_duplicates(v, key, origin, key);
    if (rc) {
        cJSON_Delete(v);
        return rc;
    }
    cJSON *parent = NULL;
    char leaf[64];
    cJSON *old = rt_keys_lookup(root, key, true, &parent, leaf, sizeof leaf);
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
    int rc = check_duplicates(root, "", origin, NULL);
    for (int i = 0; i < nset && !rc; i++) rc = apply_set(root, sets[i], origin);
    if (!rc) rc = check_unknown(root, "", origin);
    rt_key_scope scope = {.origin = origin, .where = "", .insert_defaults = true};
    if (!rc) rc = rt_keys_read(keys, NKEYS, root, c, &scope);
    if (!rc) rc = rt_model_cfg_parse(cJSON_GetObjectItemCaseSensitive(root, "model"), c, origin);
    if (!rc) rc = parse_groups(root, c, origin);
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
    rt_model_cfg_free(&c->model);
    rt_free(c);
}

char *rt_config_to_json(const rt_config *c) {
    char *s = cJSON_Print(c->resolved);
    RT_CHECK(s, "cJSON_Print failed");
    char *copy = rt_strdup(s);
    cJSON_free(s);
    return copy;
}
