/** @file events.h
 * The JSON lines a run writes (metrics.jsonl, the done line on
 * stdout), all through one cJSON path: an event is built from typed fields,
 * then written as one line to one or two files.
 *
 * An event can be kept and written again with new values (the metrics row of
 * every log window): it then prints into a buffer it owns, without touching
 * the heap. NaN and infinities print as null (JSON has no spelling for them). */
#ifndef RINGTRAIN_EVENTS_H
#define RINGTRAIN_EVENTS_H

#include "ringtrain/api.h"
#include "ringtrain/model.h"

struct cJSON;

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rt_event rt_event;

/** {"event": kind, ...}, or a plain row of fields when kind is NULL. */
RT_API rt_event *rt_event_new(const char *kind);
/** Frees an event that is not to be written again (NULL: no-op). */
RT_API void rt_event_free(rt_event *e);
/** @{ */
/** Adds a field, or sets the value of the field of that name if it exists
 * (setting never allocates). */
RT_API void rt_event_num(rt_event *e, const char *key, double v);
RT_API void rt_event_bool(rt_event *e, const char *key, bool v);
RT_API void rt_event_str(rt_event *e, const char *key, const char *v);
/** @} */
/** Adds a field holding v (a cJSON tree the event then owns). */
RT_API void rt_event_json(rt_event *e, const char *key, struct cJSON *v);
/** The metrics as fields of their names (eval events, the done line); for a
 * split other than "test" (NULL: "test"), a name's "test_" becomes "<split>_". */
RT_API void rt_event_metrics(rt_event *e, const char *split, const rt_metric *m, int n);
/** Writes the event as one line to each of a and b that is not NULL, and
 * flushes them. */
RT_API void rt_event_write(rt_event *e, FILE *a, FILE *b);
/** rt_event_write, then rt_event_free: a one-off event. */
RT_API void rt_event_emit(rt_event *e, FILE *a, FILE *b);

/** The metrics as text for a progress line: "test_loss 0.3512 test_acc 0.8731". */
RT_API void rt_event_metrics_text(const rt_metric *m, int n, char *buf, size_t len);

#endif
