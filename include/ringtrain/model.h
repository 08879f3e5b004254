/* model.h - ready models built from the config's "model" section, each with
 * the loss and metric of its task:
 *
 *   sequential      classifier (softmax cross-entropy; accuracy)
 *   nice            NICE normalizing flow (exact NLL; bits/dim)
 *   rectified_flow  flow matching on straight paths (velocity MSE; Euler sampler)
 *
 * Every random draw a model makes for a row (dequantisation noise, the flow's
 * noise and timestep, dropout masks) is a pure function of that row's key, so
 * results do not depend on how rows are split across ranks. */
#ifndef RINGTRAIN_MODEL_H
#define RINGTRAIN_MODEL_H

#include "ringtrain/nn.h"

typedef struct rt_model rt_model;

typedef enum rt_task {
    RT_TASK_CLASSIFY, /* loss = mean cross-entropy; metric accuracy */
    RT_TASK_DENSITY,  /* loss = mean NLL in nats per sample; metric bits/dim */
    RT_TASK_FLOW      /* loss = mean over rows of the per-element velocity MSE */
} rt_task;

/* Builds the model the config describes and initialises its parameters from
 * train.seed (same seed, same bits). Aborts only on allocation failure; the
 * config was validated when loaded. */
rt_model *rt_model_create(const rt_config *cfg);
void rt_model_destroy(rt_model *m);
rt_params *rt_model_params(rt_model *m);
rt_task rt_model_task(const rt_model *m);
/* Elements per sample of the input. */
int64_t rt_model_input_size(const rt_model *m);
/* Classes of a classifier (labels must lie in [0, classes)); 0 for the
 * generative models, which ignore labels. */
int rt_model_num_classes(const rt_model *m);
/* Tape nodes one training step of this model records, at most (for rt_graph_create). */
int rt_model_tape_nodes(const rt_model *m);
/* Sequential models: x (b, input size) -> logits (b, classes). */
rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x);

/* One batch as the trainer hands it to a model. */
typedef struct rt_model_batch {
    rt_tensor *x;         /* (b, input size) normalised inputs, no gradient */
    const int32_t *y;     /* (b) labels (classification) */
    const uint64_t *keys; /* (b) one random key per row (rt_row_key) */
    bool quantized;       /* x holds 8-bit pixels k/255: density models dequantise */
    bool train;           /* training (dropout on) or evaluation */
} rt_model_batch;

/* Per-batch sums a task reports alongside its loss. */
typedef struct rt_batch_stats {
    double loss_sum; /* sum over rows of the per-row loss (unscaled) */
    int64_t correct; /* classification: rows whose argmax matches the label */
    int64_t count;   /* rows */
} rt_batch_stats;

/* Forward plus loss: returns scale * sum of per-row losses and adds to *st. */
rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                         rt_batch_stats *st);

/* Bits per dimension of a density model from its mean NLL in nats per sample,
 * for 8-bit data dequantised to [0, 1]: (nll / D + ln 256) / ln 2. */
double rt_model_bits_per_dim(const rt_model *m, double nll);

/* Generative models: draws n samples into out (n, input size), in the
 * normalised data space, from seed. steps: Euler steps of a rectified flow
 * (0 = model.sample_steps); ignored by NICE. RT_EBADINPUT for classifiers. */
int rt_model_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps, float *out);

/* NICE only: x (n, D) -> z (n, D) through the couplings and scaling, or back
 * with inverse. Also gives the log-determinant (sum of the scales). */
int rt_model_nice_transform(rt_model *m, rt_graph *g, int64_t n, const float *in, float *out,
                            bool inverse);
double rt_model_nice_logdet(const rt_model *m);

#endif
