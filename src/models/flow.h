/* flow.h - the rectified-flow family's velocity nets (rectflow.c holds the
 * family; each net is one row, in its own file). Not installed.
 *
 * A net owns its config keys (read once model.net names it, so a config's
 * resolved tree holds only its own net's keys), its checks, its parameters
 * and v(x_t, t | labels). */
#ifndef RINGTRAIN_MODELS_FLOW_H
#define RINGTRAIN_MODELS_FLOW_H

#include "family.h"

/* What a velocity is conditioned on besides x_t and t. */
typedef struct flow_cond {
    const int32_t *labels; /* (n) classes; the net's class count is the null class; NULL: all null */
    const uint64_t *keys;  /* (n) the rows' random keys (label dropout), or NULL */
    bool train;            /* training: label dropout on */
} flow_cond;

typedef struct flow_net {
    const char *name;       /* model.net */
    const rt_key *keys;     /* its keys, paths in the model object */
    int nkeys;
    size_t arch_size;       /* the struct they fill */
    const char *size_keys;  /* the keys that set its size, for the size-bound error */
    /* checks beyond the rows: the input shape, pairings (NULL: none) */
    int (*check)(const rt_config *c, const void *arch, const char *origin);
    /* its class count field when it is class-conditional, else NULL (NULL: never) */
    int64_t *(*class_count)(void *arch);
    /* initialises m->params and declares its parameters; returns its state */
    void *(*declare)(rt_model *m, const void *arch);
    void (*reset)(void *state, rt_rng *rng);
    void (*destroy)(void *state);
    /* v (n, D) for xt (n, D) at t (n) */
    rt_tensor *(*velocity)(rt_model *m, rt_graph *g, const float *xt, const float *t, const flow_cond *c,
                           int64_t n);
} flow_net;

/* The family's state: its own keys and the chosen net. */
typedef struct flow_arch {
    int net;                      /* a row of the nets (rectflow.c) */
    int timesteps;                /* FLOW_LOGIT_NORMAL or FLOW_UNIFORM */
    double logit_mean, logit_std; /* m and s of the logit-normal */
    int64_t sample_steps;         /* Euler steps when sampling */
    void *net_arch;               /* the net's keys, owned */
} flow_arch;

enum { FLOW_LOGIT_NORMAL, FLOW_UNIFORM };

typedef struct flow_state {
    flow_arch arch;
    const flow_net *net;
    void *net_state;
} flow_state;

/* The net's state of a flow model, for the nets' own functions. */
static inline void *flow_net_state(const rt_model *m) { return ((const flow_state *)m->state)->net_state; }

/* The sinusoidal embedding of t into emb (E even):
 * [sin(1000 t f_i), cos(1000 t f_i)], f_i = 10000^(-i/(E/2)), in double. */
void rt_flow_time_embed(float t, int E, float *emb);

extern const flow_net rt_flow_mlp;
extern const flow_net rt_flow_unet;
extern const flow_net rt_flow_dit;

#endif
