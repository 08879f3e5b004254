/* cfgdiff.c - the changes between two resolved configs, leaf by leaf. */
#include "ringtrain/cfgdiff.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Keys that cannot change the trajectory, or that continue a run for longer. */
static const char *const allowed_keys[] = {
    "train.log_every",  "train.eval_every", "train.checkpoint_every", "train.keep_checkpoints",
    "dist.timeout_s",   "data.memory_budget_mb", "train.steps", "train.epochs", "init.from",
};

typedef struct diff_ctx {
    rt_cfg_change *out;
    int max, n;
} diff_ctx;

static void value_text(const cJSON *v, char *buf, size_t len) {
    if (!v) {
        rt_fmt(buf, len, "(none)");
        return;
    }
    char *s = cJSON_PrintUnformatted(v);
    if (strlen(s) >= len && len > 4)
        snprintf(buf, len, "%.*s...", (int)len - 4, s);
    else
        snprintf(buf, len, "%s", s);
    cJSON_free(s);
}

static bool same_file(const cJSON *a, const cJSON *b) {
    struct stat sa, sb;
    return cJSON_IsString(a) && cJSON_IsString(b) && stat(a->valuestring, &sa) == 0 &&
           stat(b->valuestring, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static bool is_allowed(const char *key, const cJSON *a, const cJSON *b) {
    for (size_t i = 0; i < sizeof allowed_keys / sizeof allowed_keys[0]; i++)
        if (strcmp(key, allowed_keys[i]) == 0) return true;
    return (strcmp(key, "data.train") == 0 || strcmp(key, "data.test") == 0) && same_file(a, b);
}

static void record(diff_ctx *d, const char *key, const cJSON *a, const cJSON *b) {
    if (d->n < d->max) {
        rt_cfg_change *c = &d->out[d->n];
        rt_fmt(c->key, sizeof c->key, "%s", key);
        value_text(a, c->old, sizeof c->old);
        value_text(b, c->now, sizeof c->now);
        c->allowed = is_allowed(key, a, b);
    }
    d->n++;
}

static bool is_container(const cJSON *v) { return cJSON_IsObject(v) || cJSON_IsArray(v); }

/* a and b at path: containers of the same kind (and, for arrays, length) are
 * walked; anything else is one leaf */
static void walk(diff_ctx *d, const char *path, const cJSON *a, const cJSON *b) {
    char sub[512];
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, a) {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", it->string);
            walk(d, sub, it, cJSON_GetObjectItemCaseSensitive(b, it->string));
        }
        cJSON_ArrayForEach(it, b) {
            if (cJSON_GetObjectItemCaseSensitive(a, it->string)) continue;
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", it->string);
            record(d, sub, NULL, it);
        }
    } else if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b) &&
               (is_container(a->child) || is_container(b->child))) {
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next, i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            walk(d, sub, x, y);
        }
    } else if (!a || !b || !cJSON_Compare(a, b, true)) {
        record(d, path, a, b);
    }
}

int rt_config_diff(const rt_config *stored, const rt_config *now, rt_cfg_change *out, int max) {
    diff_ctx d = {.out = out, .max = max};
    walk(&d, "", (const cJSON *)stored->resolved, (const cJSON *)now->resolved);
    return d.n;
}

void rt_config_changes_text(const rt_cfg_change *c, int n, bool which, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++) {
        if (c[i].allowed != which) continue;
        int k = snprintf(buf + used, len - used, "%s%s %s -> %s", used ? ", " : "", c[i].key, c[i].old, c[i].now);
        used += k > 0 ? (size_t)k : 0;
    }
}

cJSON *rt_config_changes_json(const rt_cfg_change *c, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", c[i].key);
        cJSON_AddStringToObject(o, "old", c[i].old);
        cJSON_AddStringToObject(o, "new", c[i].now);
        cJSON_AddBoolToObject(o, "allowed", c[i].allowed);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

RT_DEFINE_ALIAS(rt_cfg_changes_text, rt_config_changes_text);
RT_DEFINE_ALIAS(rt_cfg_changes_json, rt_config_changes_json);

int rt_config_check_resume(const rt_config *now, const char *path, bool allow, bool say, rt_cfg_change *out,
                           int *nout) {
    rt_config *stored = NULL;
    int rc = rt_ckpt_config(path, &stored);
    if (rc) return rc;
    int n = rt_config_diff(stored, now, out, RT_CFG_MAX_CHANGES);
    rt_config_free(stored);
    *nout = n < RT_CFG_MAX_CHANGES ? n : RT_CFG_MAX_CHANGES;
    bool refused = n > RT_CFG_MAX_CHANGES, longer = false;
    for (int i = 0; i < *nout; i++) {
        refused |= !out[i].allowed;
        longer |= strcmp(out[i].key, "train.steps") == 0 || strcmp(out[i].key, "train.epochs") == 0;
    }
    char text[1024], forced[1024];
    rt_config_changes_text(out, *nout, true, text, sizeof text);
    rt_config_changes_text(out, *nout, false, forced, sizeof forced);
    if (refused && !allow)
        return rt_err(RT_EBADINPUT,
                      "%s: the config differs from the one it was trained with: %s%s (a resumed run is bitwise "
                      "identical only with the same config; --allow-config-change accepts it)",
                      path, forced, n > RT_CFG_MAX_CHANGES ? ", ..." : "");
    if (say && *nout) {
        printf("resume: config changes: %s%s%s%s%s\n", text, text[0] && forced[0] ? "; " : "",
               forced[0] ? "by --allow-config-change: " : "", forced,
               longer && now->optim.schedule.type == RT_SCHED_COSINE
                   ? " (the cosine schedule spans the new total: the lr curve differs from the stored run's)"
                   : "");
    }
    return RT_OK;
}
