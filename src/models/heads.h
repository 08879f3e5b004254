/* heads.h - keypoint heads on a sequential backbone (model.head), one row
 * each (heads.c). Not installed. A head maps the backbone's flattened
 * feature (b, F) to K keypoints on a W x H canvas, owns its keys and
 * parameters, and gives its loss and its predicted coordinates (pixels). */
#ifndef RINGTRAIN_MODELS_HEADS_H
#define RINGTRAIN_MODELS_HEADS_H

#include "ringtrain/keys.h"
#include "ringtrain/nn.h"

/* Every head's keys fill this. */
typedef struct kp_arch {
    int64_t keypoints;  /* K */
    double simcc_split; /* simcc: bins per pixel */
    double simcc_sigma; /* simcc: the Gaussian label's sigma, in bins */
} kp_arch;

/* What a head's loss sees. */
typedef struct kp_batch {
    rt_tensor *feat;  /* (b, F) */
    const float *kp;  /* (b, K, 2) targets in pixels, or NULL (no loss then) */
    float scale;      /* the loss is scale * the sum over rows of the per-row loss */
    float *pred;      /* (b, K, 2) receives the predicted keypoints in pixels */
} kp_batch;

typedef struct kp_head_def {
    const char *name;   /* model.head */
    const rt_key *keys; /* paths in the model object */
    int nkeys;
    int nparams;        /* parameter tensors it declares, at most */
    /* declares its parameters (named head.*) into p; returns its state */
    void *(*declare)(rt_params *p, int F, int W, int H, const kp_arch *a);
    void (*reset)(void *state, rt_rng *rng);
    /* the loss tensor (a scalar), or NULL when b->kp is NULL; fills b->pred */
    rt_tensor *(*loss)(rt_graph *g, void *state, const kp_batch *b);
} kp_head_def;

/* The RLE head's flow alone: log G(e) of each row of e (r, 2), as (r); for
 * the torch parity check of the density. state is an "rle" head's. */
rt_tensor *kp_rle_log_prob(rt_graph *g, void *state, rt_tensor *e);

/* The heads, in the order of KP_HEAD_CHOICES (index 0 is "none": no head). */
#define KP_HEAD_CHOICES "none|regression|simcc|rle"
#define KP_NHEADS 4 /* rows of rt_kp_heads, "none" included */
extern const kp_head_def *const rt_kp_heads[KP_NHEADS];
extern const int rt_kp_nheads;
/* Their key tables, for the family's parts. */
extern const rt_key_table rt_kp_head_keys[KP_NHEADS - 1];

#endif
