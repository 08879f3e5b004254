/* layers.h - the layer kinds of a sequential model: one row each (layers.c).
 * Not installed. A row names its kind, the keys it accepts, how it changes
 * the per-sample shape, the parameters it declares and how it runs; a new
 * layer kind is one row plus its functions, and every list of kinds (the
 * "expected one of ..." of an unknown type) is made from the table. */
#ifndef RINGTRAIN_MODELS_LAYERS_H
#define RINGTRAIN_MODELS_LAYERS_H

#include "ringtrain/keys.h"
#include "ringtrain/nn.h"

#include <stdbool.h>

struct cJSON;
struct rt_layer_def;

/* One layer of model.layers, as parsed. Each kind reads the fields its row's
 * keys name; the rest keep the defaults of rt_layer_parse. */
typedef struct rt_layer_cfg {
    const struct rt_layer_def *def; /* its kind's row */
    char name[RT_NAME_MAX];         /* parameter prefix, e.g. "fc1" -> fc1.weight */
    int out;                        /* linear: output features; conv2d: output channels */
    bool bias;                      /* linear, conv2d: a bias; layernorm (affine): weight and bias */
    int approximate;                /* gelu: 0 "none", 1 "tanh" */
    int kernel[2];                  /* conv2d, pools: (h, w) */
    int stride[2];                  /* conv2d, pools */
    int pad[2];                     /* conv2d, pools */
    int dilation[2];                /* conv2d */
    int scale[2];                   /* upsample: integer factors (h, w) */
    int mode;                       /* upsample: 0 "nearest", 1 "bilinear" */
    bool align_corners;             /* upsample, bilinear */
    int factor;                     /* pixel_shuffle, pixel_unshuffle */
    double eps;                     /* layernorm */
    double p;                       /* dropout */
    int in_ndim;                    /* per-sample shape entering the layer (set by the parser) */
    int in_shape[3];
} rt_layer_cfg;

/* A built layer: its settings and the module holding its parameters, if any. */
typedef struct rt_layer {
    rt_layer_cfg cfg;
    union {
        rt_linear_mod linear;
        rt_conv2d_mod conv;
        rt_layernorm_mod norm;
    } mod;
} rt_layer;

/* What a layer's forward may draw on besides its input. */
typedef struct rt_layer_run {
    uint64_t seed;         /* this layer's own seed (dropout masks) */
    const uint64_t *keys;  /* (b) the rows' random keys, or NULL */
    bool train;            /* training (dropout on) or evaluation */
} rt_layer_run;

/* The per-sample shape flowing through the layers: (ndim, shape). */
typedef struct rt_shape {
    int ndim;
    int64_t s[RT_MAX_DIMS];
} rt_shape;

typedef struct rt_layer_def {
    const char *name;          /* "type" in the config */
    const rt_key *keys;        /* the keys it accepts besides type and name */
    int nkeys;
    bool params;               /* declares parameters, named by "name" */
    /* after the keys: what a row cannot say (a missing key, a pairing). NULL: nothing */
    int (*check)(rt_layer_cfg *l, const char *origin, const char *where);
    /* the shape after this layer, checked to fit; NULL: unchanged */
    int (*shape)(const rt_layer_cfg *l, rt_shape *s, const char *origin, const char *where);
    void (*declare)(rt_layer *L, rt_params *p); /* NULL: no parameters */
    void (*reset)(const rt_layer *L, rt_rng *rng); /* initial values; NULL: none */
    rt_tensor *(*forward)(rt_graph *g, const rt_layer *L, rt_tensor *x, const rt_layer_run *run);
    rt_op unary;               /* an elementwise activation's op (forward = the op) */
    /* an elementwise activation that commutes with a following max-pool
     * bit for bit (monotone, never creating a tie the pool would break
     * differently): the model runs the pool first, on fewer elements */
    bool before_maxpool;
} rt_layer_def;

/* Parses the layer object lj (model.layers[idx]) into l: its kind, its
 * keys, and the row's check. Errors name "<origin>: model.layers[idx]...". */
int rt_layer_parse(struct cJSON *lj, int idx, rt_layer_cfg *l, const char *origin);
/* The layer's effect on the per-sample shape, checked (idx names it in errors). */
int rt_layer_shape(const rt_layer_cfg *l, int idx, rt_shape *s, const char *origin);
/* True when the layer is the row named name ("maxpool2d"). */
bool rt_layer_is(const rt_layer_cfg *l, const char *name);

#endif
