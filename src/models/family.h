/* family.h - what a model family provides: one row of the table in model.c.
 * Not installed. Each family lives in its own file and owns its config keys,
 * its checks, its parameters and its loss; model.c dispatches through the row
 * and never names a family. */
#ifndef RINGTRAIN_MODELS_FAMILY_H
#define RINGTRAIN_MODELS_FAMILY_H

#include "ringtrain/keys.h"
#include "ringtrain/model.h"

struct cJSON;

/* A model too large for this is a typo, not a run (8 GiB of floats). */
#define RT_MAX_PARAMS 2147483648.0

struct rt_model {
    const struct rt_family *family;
    rt_params params;
    int64_t input_size;       /* D, elements per sample */
    int input_ndim;
    int input[RT_MAX_DIMS];
    int classes;              /* outputs of a classifier; 0 for the generative families */
    rt_task task;             /* the family's, or what its build chose (a head's) */
    int keypoints;            /* K of a keypoint model, else 0 */
    uint64_t seed;            /* train.seed */
    void *state;              /* the family's modules and settings, owned */
};

typedef struct rt_family {
    const char *name;         /* model.type */
    rt_task task;             /* m->task unless build sets another */
    const rt_key *keys;       /* its model.* keys (paths in the model object) */
    int nkeys;
    /* keys its parts read themselves (the nets of a rectified flow), known
     * to the config as the family's: tables of rows */
    const rt_key_table *parts;
    int nparts;
    size_t arch_size;         /* the struct those keys fill: rt_model_cfg.arch */
    /* the keys that set its size, for the size-bound error */
    const char *(*size_keys)(const rt_config *c);
    /* the class count field of a class-conditional model, else NULL (NULL: never) */
    int64_t *(*class_count)(rt_config *c);
    /* Config time, after its keys: checks what rows cannot (shapes, pairings,
     * other sections) on the model object. NULL: nothing more. */
    int (*check)(struct cJSON *model, rt_config *c, const char *origin);
    void (*free_arch)(void *arch); /* frees what arch points to; NULL: nothing */
    /* Declares the parameters into m->params (initialised by the caller) and
     * builds m->state. Also run at config time, on a model that is never
     * finalised, to count the parameters: the size bound is the code that
     * builds the model. */
    void (*build)(rt_model *m, const rt_config *c);
    void (*init)(rt_model *m, rt_rng *rng); /* initial values, after the arenas exist */
    void (*destroy)(rt_model *m);          /* frees m->state's insides and m->state */
    rt_tensor *(*loss)(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                       rt_batch_stats *st);
    rt_tensor *(*forward)(rt_model *m, rt_graph *g, rt_tensor *x); /* NULL: none */
    /* the input of the last linear layer, (b, features); NULL: the model has none */
    rt_tensor *(*features)(rt_model *m, rt_graph *g, rt_tensor *x);
    /* samples into out as o asks. NULL: not generative */
    void (*sample)(rt_model *m, rt_graph *g, const rt_sample_opts *o, float *out);
    /* the velocity of a flow model (rt_model_velocity). NULL: none */
    rt_tensor *(*velocity)(rt_model *m, rt_graph *g, rt_tensor *xt, const float *t, const int32_t *labels);
    int (*info)(const rt_model *m, rt_metric *out); /* NULL: none */
    /* whether its config initialises parameters from data, and doing so from
     * one batch (rt_model_data_init, gradients off). NULL: never */
    bool (*needs_data_init)(const rt_model *m);
    void (*data_init)(rt_model *m, rt_graph *g, const rt_model_batch *b);
} rt_family;

extern const rt_family rt_family_sequential;
extern const rt_family rt_family_nice;
extern const rt_family rt_family_rectflow;

/* Helpers for the families' checks. */
/* RT_EBADINPUT "<origin>: <what>: the model would have over N parameters"
 * when p (declared, not finalised) holds more than RT_MAX_PARAMS elements. */
int rt_family_check_size(const rt_params *p, const char *origin, const char *what);
/* A part chosen by a key (model.net, model.head): no key of another part may
 * appear in model ("<origin>: model.<key>: a key of the <other> <kind>; this
 * model's <kind> is <name>"), then the chosen part's rows are read into arch
 * with their defaults written into the tree. chosen -1: no part, and none of
 * their keys may appear. */
int rt_family_read_part(struct cJSON *model, const rt_key_table *parts, int nparts, int chosen, const char *kind,
                        void *arch, const char *origin);

#endif
