/* internal.h - the model struct shared by the model families in src/models.
 * Not installed. model.c dispatches on cfg.model.type to the family's
 * functions below. */
#ifndef RINGTRAIN_MODELS_INTERNAL_H
#define RINGTRAIN_MODELS_INTERNAL_H

#include "ringtrain/model.h"

/* One sequential layer's module (when it has parameters). */
typedef struct rt_seq_layer {
    rt_layer_cfg cfg;
    rt_linear_mod linear;
    rt_conv2d_mod conv;
    rt_layernorm_mod norm;
} rt_seq_layer;

#define RT_FLOW_CONVS 9

struct rt_model {
    rt_config cfg;            /* copy of the scalar settings (layers point into seq) */
    rt_task task;
    rt_params params;
    int64_t input_size;       /* D */
    int input_ndim;
    int input[RT_MAX_DIMS];
    /* sequential */
    int nlayers;
    rt_seq_layer *seq;        /* (nlayers) */
    int classes;
    /* nice */
    int ncouplings;
    rt_mlp *coupling;         /* (ncouplings) */
    rt_tensor *nice_scale;    /* (D) the diagonal scaling's log-scale s */
    /* rectified flow */
    rt_mlp velocity;          /* mlp net: (D + E) -> D */
    rt_conv2d_mod conv[RT_FLOW_CONVS]; /* conv net, see rectflow.c */
};

void rt_seq_create(rt_model *m, const rt_config *cfg, rt_rng *rng);
rt_tensor *rt_seq_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                       rt_batch_stats *st);

void rt_nice_create(rt_model *m, const rt_config *cfg, rt_rng *rng);
rt_tensor *rt_nice_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                        rt_batch_stats *st);
void rt_nice_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, float *out);

void rt_flow_create(rt_model *m, const rt_config *cfg, rt_rng *rng);
rt_tensor *rt_flow_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                        rt_batch_stats *st);
void rt_flow_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out);

#endif
