/* model.h - ready models built from the config's "model" section, with the
 * loss and metrics of their task (classification for "sequential"). */
#ifndef RINGTRAIN_MODEL_H
#define RINGTRAIN_MODEL_H

#include "ringtrain/nn.h"

typedef struct rt_model rt_model;

/* Builds the model the config describes and initialises its parameters from
 * train.seed (same seed, same bits). Aborts only on allocation failure; the
 * config was validated when loaded. */
rt_model *rt_model_create(const rt_config *cfg);
void rt_model_destroy(rt_model *m);
rt_params *rt_model_params(rt_model *m);
/* Elements per sample of the input, and the number of outputs (classes). */
int64_t rt_model_input_size(const rt_model *m);
int rt_model_num_outputs(const rt_model *m);
/* x (b, input...) -> logits (b, classes) */
rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x);

/* Per-batch statistics a task reports alongside its loss. */
typedef struct rt_batch_stats {
    double loss_sum; /* sum over rows of the per-row loss (unscaled) */
    int64_t correct; /* classification: rows whose argmax matches the label */
    int64_t count;   /* rows */
} rt_batch_stats;

/* Forward plus loss for a batch x (b, input...) with labels y (b):
 * returns scale * sum of per-row losses and adds to *st. */
rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, rt_tensor *x, const int32_t *y, float scale,
                         rt_batch_stats *st);

#endif
