/** @file keys.h
 * Config keys as rows that read themselves.
 *
 * A row names a key, its kind, the field it fills and its default; one read
 * routine per kind validates the JSON value and stores it. The config
 * sections (config.c), each model family (src/models) and each layer kind
 * declare their keys this way, one macro per kind:
 *
 *     KINT("train.log_every", rt_config, train.log_every, "10", 1, BIG),
 *     KENUM("optim.type", rt_config, optim.type, "\"adamw\"", "adamw|sgd"),
 *
 * Errors name the origin (the config file) and the key's full path.
 */
#ifndef RINGTRAIN_KEYS_H
#define RINGTRAIN_KEYS_H

#include "ringtrain/api.h"

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

typedef enum rt_key_kind {
    RT_KEY_INT,  /**< an integer in [lo, hi] -> int or int64_t (by the field's size) */
    RT_KEY_NUM,  /**< a finite number in the range -> double */
    RT_KEY_BOOL, /**< true or false -> bool */
    RT_KEY_AUTO, /**< true, false or "auto" -> int RT_ON, RT_OFF or RT_AUTO */
    RT_KEY_PATH, /**< a string shorter than RT_PATH_MAX -> char[RT_PATH_MAX] */
    RT_KEY_ENUM, /**< one of the choices "a|b|c" -> int, the choice's index */
    RT_KEY_PROB2, /**< two numbers in [0, 1) -> double[2] (optim.betas) */
    RT_KEY_HW,   /**< an integer or [h, w] of integers in [lo, hi] -> int[2] */
    RT_KEY_NODE, /**< read by its owner's own code (model.input, model.layers) */
    RT_KEY_KIND_COUNT
} rt_key_kind;

typedef struct rt_key {
    const char *path;    /**< dotted path from the object the rows are read from */
    rt_key_kind kind;
    size_t off, size;    /**< the field filled in the rows' struct */
    const char *def;     /**< default as JSON text; NULL: leave the field when absent */
    double lo, hi;       /**< inclusive range of numbers, unless lo_open / hi_open */
    bool lo_open, hi_open;
    const char *choices; /**< RT_KEY_ENUM: "a|b|c" */
} rt_key;

#define RT_KEY_FIELD(type, field) .off = offsetof(type, field), .size = sizeof(((type *)0)->field)
#define KINT(p, type, field, d, l, h) \
    {.path = p, .kind = RT_KEY_INT, RT_KEY_FIELD(type, field), .def = d, .lo = l, .hi = h}
#define KNUM(p, type, field, d, l, h) \
    {.path = p, .kind = RT_KEY_NUM, RT_KEY_FIELD(type, field), .def = d, .lo = l, .hi = h}
/** a number in (l, h] */
#define KNUM_POS(p, type, field, d, l, h) \
    {.path = p, .kind = RT_KEY_NUM, RT_KEY_FIELD(type, field), .def = d, .lo = l, .hi = h, .lo_open = true}
/** a number with both ends chosen: KNUM_IN(..., 0, 1, true, false) is (0, 1] */
#define KNUM_IN(p, type, field, d, l, h, lopen, hopen)                                          \
    {.path = p, .kind = RT_KEY_NUM, RT_KEY_FIELD(type, field), .def = d, .lo = l, .hi = h, \
     .lo_open = lopen, .hi_open = hopen}
#define KBOOL(p, type, field, d) {.path = p, .kind = RT_KEY_BOOL, RT_KEY_FIELD(type, field), .def = d}
#define KAUTO(p, type, field, d) {.path = p, .kind = RT_KEY_AUTO, RT_KEY_FIELD(type, field), .def = d}
#define KPATH(p, type, field, d) {.path = p, .kind = RT_KEY_PATH, RT_KEY_FIELD(type, field), .def = d}
#define KENUM(p, type, field, d, c) \
    {.path = p, .kind = RT_KEY_ENUM, RT_KEY_FIELD(type, field), .def = d, .choices = c}
#define KPROB2(p, type, field, d) {.path = p, .kind = RT_KEY_PROB2, RT_KEY_FIELD(type, field), .def = d}
#define KHW(p, type, field, d, l, h) \
    {.path = p, .kind = RT_KEY_HW, RT_KEY_FIELD(type, field), .def = d, .lo = l, .hi = h}
#define KNODE(p) {.path = p, .kind = RT_KEY_NODE}

/** Rows of one owner, for tables of tables (a family's parts). */
typedef struct rt_key_table {
    const char *owner;        /**< "dit" */
    const rt_key *const *rows; /**< where the owner keeps its rows and their count */
    const int *n;
} rt_key_table;

/** Where rows are read and how their errors are named. */
typedef struct rt_key_scope {
    const char *origin;   /**< the file: "configs/x.json" */
    const char *where;    /**< prefix of every path in errors ("model.layers[2]"), or "" */
    bool insert_defaults; /**< absent keys get their default written into the tree too,
                             so the resolved config records what ran */
} rt_key_scope;

/** Reads every row from obj into base (a struct of the rows' type). An absent
 * key takes its default, if any. Returns RT_OK or RT_EBADINPUT naming
 * "<origin>: <where>.<path>: <what is wrong>". RT_KEY_NODE rows are skipped. */
RT_API int rt_keys_read(const rt_key *rows, int n, struct cJSON *obj, void *base,
                        const rt_key_scope *s);
/** The row of rows[0..n) for path, or NULL. */
RT_API const rt_key *rt_keys_find(const rt_key *rows, int n, const char *path);
/** True when some row's path starts with "prefix." (a section or sub-object). */
RT_API bool rt_keys_is_prefix(const rt_key *rows, int n, const char *prefix);

/** "a number", "a string", ... for error messages. */
RT_API const char *rt_keys_type_name(const struct cJSON *j);
/** The node at a dotted path below root (integer segments index arrays), or
 * NULL. With create, missing objects on the way are made. *parent gets the
 * container and leaf the last segment, when not NULL. */
RT_API struct cJSON *rt_keys_lookup(struct cJSON *root, const char *path, bool create,
                                    struct cJSON **parent, char *leaf, size_t leaf_len);

#endif
