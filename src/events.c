/* events.c - JSON lines of a run, through cJSON. */
#include "ringtrain/events.h"

#include "ringtrain/common.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define LINE_BYTES 4096 /* what a kept event prints into; longer lines take the heap */

struct rt_event {
    cJSON *obj;
    char line[LINE_BYTES];
};

rt_event *rt_event_new(const char *kind) {
    rt_event *e = rt_calloc(1, sizeof *e);
    e->obj = cJSON_CreateObject();
    RT_CHECK(e->obj, "cJSON: out of memory");
    if (kind) cJSON_AddStringToObject(e->obj, "event", kind);
    return e;
}

void rt_event_free(rt_event *e) {
    if (!e) return;
    cJSON_Delete(e->obj);
    rt_free(e);
}

void rt_event_num(rt_event *e, const char *key, double v) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(e->obj, key);
    if (it)
        cJSON_SetNumberValue(it, v);
    else
        cJSON_AddNumberToObject(e->obj, key, v);
}

void rt_event_json(rt_event *e, const char *key, cJSON *v) { cJSON_AddItemToObject(e->obj, key, v); }

void rt_event_bool(rt_event *e, const char *key, bool v) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(e->obj, key);
    if (it)
        it->type = v ? cJSON_True : cJSON_False; /* cJSON 1.7.15 has no setter */
    else
        cJSON_AddBoolToObject(e->obj, key, v);
}

void rt_event_str(rt_event *e, const char *key, const char *v) {
    cJSON_DeleteItemFromObjectCaseSensitive(e->obj, key);
    cJSON_AddStringToObject(e->obj, key, v);
}

void rt_event_metrics(rt_event *e, const char *split, const rt_metric *m, int n) {
    for (int i = 0; i < n; i++) {
        char key[64];
        if (split && strcmp(split, "test") != 0 && strncmp(m[i].name, "test_", 5) == 0)
            snprintf(key, sizeof key, "%s_%s", split, m[i].name + 5);
        else
            snprintf(key, sizeof key, "%s", m[i].name);
        rt_event_num(e, key, m[i].value);
    }
}

static void put_line(FILE *f, const char *line) {
    if (!f) return;
    fprintf(f, "%s\n", line);
    fflush(f);
}

void rt_event_write(rt_event *e, FILE *a, FILE *b) {
    if (cJSON_PrintPreallocated(e->obj, e->line, LINE_BYTES, false)) {
        put_line(a, e->line);
        put_line(b, e->line);
        return;
    }
    char *s = cJSON_PrintUnformatted(e->obj);
    RT_CHECK(s, "cJSON: out of memory");
    put_line(a, s);
    put_line(b, s);
    cJSON_free(s);
}

void rt_event_emit(rt_event *e, FILE *a, FILE *b) {
    rt_event_write(e, a, b);
    rt_event_free(e);
}

void rt_event_metrics_text(const rt_metric *m, int n, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k < len; i++) {
        char value[64];
        snprintf(value, sizeof value, m[i].fmt, m[i].value);
        k += (size_t)snprintf(buf + k, len - k, "%s%s %s", i ? " " : "", m[i].name, value);
    }
}
