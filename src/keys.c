/* keys.c - config rows that read themselves: one read routine per kind. */
#include "ringtrain/keys.h"

#include "ringtrain/common.h"
#include "ringtrain/config.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON helpers ---- */

const char *rt_keys_type_name(const cJSON *j) {
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "invalid";
}

cJSON *rt_keys_lookup(cJSON *root, const char *path, bool create, cJSON **parent, char *leaf,
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

const rt_key *rt_keys_find(const rt_key *rows, int n, const char *path) {
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].path, path) == 0) return &rows[i];
    return NULL;
}

bool rt_keys_is_prefix(const rt_key *rows, int n, const char *prefix) {
    size_t len = strlen(prefix);
    for (int i = 0; i < n; i++)
        if (strncmp(rows[i].path, prefix, len) == 0 && rows[i].path[len] == '.') return true;
    return false;
}

/* ---- one read routine per kind ---- */

/* What every routine gets: the row, the value, the field, and the key's full
 * name for errors ("<origin>: <name>: ..."). */
typedef struct key_read {
    const rt_key *k;
    const cJSON *j;
    void *field;
    const char *origin, *name;
} key_read;

static int bad(const key_read *r, const char *what) {
    return rt_err(RT_EBADINPUT, "%s: %s: %s", r->origin, r->name, what);
}

/* A bound as people write it: 16777216, not 1.67772e+07; 1e-08 stays short. */
static const char *bound(char *buf, size_t len, double v) {
    snprintf(buf, len, v == floor(v) && fabs(v) < 1e15 ? "%.0f" : "%g", v);
    return buf;
}

static int in_range(const key_read *r, double v) {
    const rt_key *k = r->k;
    bool below = k->lo_open ? !(v > k->lo) : !(v >= k->lo);
    bool above = k->hi_open ? !(v < k->hi) : !(v <= k->hi);
    char lo[32], hi[32];
    if (!isfinite(v) || below || above)
        return rt_err(RT_EBADINPUT, "%s: %s: must be in %c%s, %s%c, got %g", r->origin, r->name,
                      k->lo_open ? '(' : '[', bound(lo, sizeof lo, k->lo), bound(hi, sizeof hi, k->hi),
                      k->hi_open ? ')' : ']', v);
    return RT_OK;
}

static int got_type(const key_read *r, const char *expected) {
    return rt_err(RT_EBADINPUT, "%s: %s: expected %s, got %s", r->origin, r->name, expected,
                  rt_keys_type_name(r->j));
}

static int read_int(const key_read *r) {
    if (!cJSON_IsNumber(r->j)) return got_type(r, "an integer");
    double v = r->j->valuedouble;
    if (v != floor(v))
        return rt_err(RT_EBADINPUT, "%s: %s: expected an integer, got %g", r->origin, r->name, v);
    int rc = in_range(r, v);
    if (rc) return rc;
    if (r->k->size == sizeof(int))
        *(int *)r->field = (int)v;
    else
        *(int64_t *)r->field = (int64_t)v;
    return RT_OK;
}

static int read_num(const key_read *r) {
    if (!cJSON_IsNumber(r->j)) return got_type(r, "a number");
    int rc = in_range(r, r->j->valuedouble);
    if (!rc) *(double *)r->field = r->j->valuedouble;
    return rc;
}

static int read_bool(const key_read *r) {
    if (!cJSON_IsBool(r->j)) return got_type(r, "true or false");
    *(bool *)r->field = cJSON_IsTrue(r->j);
    return RT_OK;
}

static int read_auto(const key_read *r) {
    if (cJSON_IsString(r->j)) {
        if (strcmp(r->j->valuestring, "auto") != 0)
            return rt_err(RT_EBADINPUT, "%s: %s: expected true, false or \"auto\", got \"%s\"",
                          r->origin, r->name, r->j->valuestring);
        *(int *)r->field = RT_AUTO;
        return RT_OK;
    }
    if (!cJSON_IsBool(r->j)) return got_type(r, "true, false or \"auto\"");
    *(int *)r->field = cJSON_IsTrue(r->j) ? RT_ON : RT_OFF;
    return RT_OK;
}

static int read_path(const key_read *r) {
    if (!cJSON_IsString(r->j)) return got_type(r, "a string");
    if (strlen(r->j->valuestring) >= RT_PATH_MAX) return bad(r, "too long");
    snprintf(r->field, RT_PATH_MAX, "%s", r->j->valuestring);
    return RT_OK;
}

static int read_enum(const key_read *r) {
    const char *choices = r->k->choices;
    if (!cJSON_IsString(r->j))
        return rt_err(RT_EBADINPUT, "%s: %s: expected one of %s, got %s", r->origin, r->name,
                      choices, rt_keys_type_name(r->j));
    const char *s = r->j->valuestring, *p = choices;
    size_t n = strlen(s);
    for (int idx = 0; *p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0) {
            *(int *)r->field = idx;
            return RT_OK;
        }
        p += len + (bar ? 1 : 0);
    }
    return rt_err(RT_EBADINPUT, "%s: %s: expected one of %s, got \"%s\"", r->origin, r->name,
                  choices, s);
}

static int read_prob2(const key_read *r) {
    const cJSON *j = r->j;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(j, 0)) ||
        !cJSON_IsNumber(cJSON_GetArrayItem(j, 1)))
        return bad(r, "expected an array of two numbers");
    for (int i = 0; i < 2; i++) {
        double v = cJSON_GetArrayItem(j, i)->valuedouble;
        if (!(v >= 0.0 && v < 1.0))
            return rt_err(RT_EBADINPUT, "%s: %s[%d]: must be in [0, 1), got %g", r->origin, r->name, i, v);
        ((double *)r->field)[i] = v;
    }
    return RT_OK;
}

static int read_hw(const key_read *r) {
    const cJSON *v[2] = {r->j, r->j};
    if (cJSON_IsArray(r->j)) {
        if (cJSON_GetArraySize(r->j) != 2) return bad(r, "expected an integer or [h, w]");
        v[0] = cJSON_GetArrayItem(r->j, 0);
        v[1] = cJSON_GetArrayItem(r->j, 1);
    }
    for (int i = 0; i < 2; i++) {
        if (!cJSON_IsNumber(v[i]) || v[i]->valuedouble != floor(v[i]->valuedouble) ||
            v[i]->valuedouble < r->k->lo || v[i]->valuedouble > r->k->hi)
            return rt_err(RT_EBADINPUT, "%s: %s: expected an integer or [h, w] of integers in [%.0f, %.0f]",
                          r->origin, r->name, r->k->lo, r->k->hi);
        ((int *)r->field)[i] = (int)v[i]->valuedouble;
    }
    return RT_OK;
}

static int read_node(const key_read *r) {
    (void)r;
    return RT_OK;
}

static int (*const readers[RT_KEY_KIND_COUNT])(const key_read *) = {
    [RT_KEY_INT] = read_int,
    [RT_KEY_NUM] = read_num,
    [RT_KEY_BOOL] = read_bool,
    [RT_KEY_AUTO] = read_auto,
    [RT_KEY_PATH] = read_path,
    [RT_KEY_ENUM] = read_enum,
    [RT_KEY_PROB2] = read_prob2,
    [RT_KEY_HW] = read_hw,
    [RT_KEY_NODE] = read_node,
};
_Static_assert(sizeof readers / sizeof readers[0] == RT_KEY_KIND_COUNT, "one reader per key kind");

/* ---- reading rows ---- */

static int read_row(const rt_key *k, cJSON *obj, void *base, const rt_key_scope *s) {
    cJSON *parent = NULL;
    char leaf[64];
    cJSON *j = rt_keys_lookup(obj, k->path, s->insert_defaults, &parent, leaf, sizeof leaf);
    cJSON *def = NULL;
    if (!j) {
        if (!k->def) return RT_OK;
        j = def = cJSON_Parse(k->def);
        RT_CHECK(j && parent, "bad default for %s", k->path);
        if (s->insert_defaults) {
            cJSON_AddItemToObject(parent, leaf, j);
            def = NULL; /* the tree owns it now */
        }
    }
    char name[256];
    snprintf(name, sizeof name, "%s%s%s", s->where, *s->where ? "." : "", k->path);
    key_read r = {.k = k, .j = j, .field = (char *)base + k->off, .origin = s->origin, .name = name};
    int rc = readers[k->kind](&r);
    cJSON_Delete(def);
    return rc;
}

int rt_keys_read(const rt_key *rows, int n, cJSON *obj, void *base, const rt_key_scope *s) {
    for (int i = 0; i < n; i++) {
        if (rows[i].kind == RT_KEY_NODE) continue;
        int rc = read_row(&rows[i], obj, base, s);
        if (rc) return rc;
    }
    return RT_OK;
}
