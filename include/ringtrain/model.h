/** @file model.h
 * Ready models built from the config's "model" section.
 *
 * model.type names a family, one row of a table (src/models/model.c), each in
 * its own file, owning its config keys, its checks and size bound, its
 * parameters and the loss and metrics of its task:
 *
 *   sequential      classifier (softmax cross-entropy; test_loss, test_acc), or with
 *                   model.head a keypoint regressor (heads: regression, simcc, rle;
 *                   test_loss, kp_err_px, pck_2px, pck_4px)
 *   nice            NICE normalizing flow (exact NLL; test_nll, test_bpd)
 *   rectified_flow  flow matching on straight paths (velocity MSE, test_loss; Euler sampler)
 *
 * Every random draw a model makes for a row (dequantisation noise, the flow's
 * noise and timestep, dropout masks) is a pure function of that row's key, so
 * results do not depend on how rows are split across ranks. */
#ifndef RINGTRAIN_MODEL_H
#define RINGTRAIN_MODEL_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"
#include "ringtrain/nn.h"

#include <stdbool.h>

struct cJSON;
typedef struct rt_model rt_model;

typedef enum rt_task {
    RT_TASK_CLASSIFY, /**< loss = mean cross-entropy; metrics loss and acc */
    RT_TASK_DENSITY,  /**< loss = mean NLL in nats per sample; metrics nll and bpd */
    RT_TASK_FLOW,     /**< loss = mean over rows of the per-element velocity MSE */
    RT_TASK_KEYPOINT, /**< loss = the head's, mean over rows; metrics loss, pixel error, PCK */
    RT_TASK_COUNT
} rt_task;

/* ---- the config's model section ---- */

/** Reads the model object of a config (NULL: missing) into c->model: the
 * family model.type names, its keys (defaults written into the tree), the
 * input shape, and the family's checks, up to its parameter count. Unknown
 * keys, and keys of another family, are errors naming the key. The other
 * sections of c are read already. Returns RT_OK or RT_EBADINPUT. */
RT_API int rt_model_cfg_parse(struct cJSON *model, rt_config *c, const char *origin);
/** Frees what rt_model_cfg_parse kept (mc itself is the caller's). */
RT_API void rt_model_cfg_free(rt_model_cfg *mc);
/** Calls fn(path) for every model.* key some family accepts (for the docs test). */
RT_API void rt_model_cfg_each_key(void (*fn)(const char *key, void *ctx), void *ctx);
/** RT_OK when the family draws samples; else RT_EBADINPUT "<where>: model.type:
 * sampling needs a <generative families> model, this ... holds a <type> model". */
RT_API int rt_model_cfg_require_sampler(const rt_model_cfg *mc, const char *where);
/** A class-conditional model whose config leaves model.num_classes 0 takes
 * its class count from the training data: true when c still needs it. */
RT_API bool rt_model_cfg_needs_classes(const rt_config *c);
/** Records n classes for such a model, also into the resolved tree (so the
 * run directory and checkpoints say what ran). RT_EBADINPUT naming `where`
 * when n < 1. */
RT_API int rt_model_cfg_set_classes(rt_config *c, int n, const char *where);

/* ---- building and running ---- */

/** Builds the model the config describes and initialises its parameters from
 * train.seed (same seed, same bits). The model keeps what it needs: the
 * config may be freed afterwards. Aborts only on allocation failure; the
 * config was validated when loaded. */
RT_API rt_model *rt_model_create(const rt_config *cfg);
/** Frees the model and its parameters (NULL: no-op). */
RT_API void rt_model_destroy(rt_model *m);
/** The model's parameters: the arenas the ring, the optimizer and checkpoints use. */
RT_API rt_params *rt_model_params(rt_model *m);
/** What the model learns (classify, keypoints, flow), which picks its loss and metrics. */
RT_API rt_task rt_model_task(const rt_model *m);
/** Keypoints per row a keypoint model predicts (0 for the others), and the
 * canvas they lie in (the input's last two sizes: *w, *h; either may be NULL). */
RT_API int rt_model_keypoints(const rt_model *m, int *w, int *h);
/** Elements per sample of the input. */
RT_API int64_t rt_model_input_size(const rt_model *m);
/** Classes of a classifier (labels must lie in [0, classes)); 0 for the
 * generative models, which ignore labels. */
RT_API int rt_model_num_classes(const rt_model *m);
/** Models that map an input to an output (sequential): x (b, input size) ->
 * (b, outputs). Aborts for the others. */
RT_API rt_tensor *rt_model_forward(rt_model *m, rt_graph *g, rt_tensor *x);
/** A classifier's penultimate features: x (b, input size) through every layer
 * before its last linear one, flattened to (b, features) (what FID compares).
 * NULL for a model without a last linear layer (a keypoint or generative model). */
RT_API rt_tensor *rt_model_features(rt_model *m, rt_graph *g, rt_tensor *x);

/** One batch as the trainer hands it to a model. */
typedef struct rt_model_batch {
    rt_tensor *x;         /**< (b, input size) normalised inputs, no gradient */
    const int32_t *y;     /**< (b) labels (classification) */
    const float *kp;      /**< (b, K, 2) target keypoints in pixels (keypoint models) */
    const uint64_t *keys; /**< (b) one random key per row (rt_row_key) */
    bool quantized;       /**< x holds 8-bit pixels k/255: density models dequantise */
    bool train;           /**< training (dropout on) or evaluation */
} rt_model_batch;

/** Per-batch sums a task reports alongside its loss; sums of these over
 * batches and ranks give the metrics. */
typedef struct rt_batch_stats {
    double loss_sum; /**< sum over rows of the per-row loss (unscaled) */
    int64_t correct; /**< classification: rows whose argmax matches the label */
    int64_t count;   /**< rows */
    double kp_err;   /**< keypoints: sum of the Euclidean pixel errors */
    int64_t kp_within2, kp_within4; /**< keypoints within 2 and 4 pixels */
    int64_t kp_points;              /**< keypoints scored */
} rt_batch_stats;

/** Forward plus loss: returns scale * sum of per-row losses and adds to *st. */
RT_API rt_tensor *rt_model_loss(rt_model *m, rt_graph *g, const rt_model_batch *b, float scale,
                                rt_batch_stats *st);

/** Whether the config initialises some parameters from data (a NICE model's
 * model.scale_init "data"): then rt_model_data_init must see the first batch
 * before training starts. */
RT_API bool rt_model_needs_data_init(const rt_model *m);
/** Sets the parameters the config initialises from data, from batch b (a NICE
 * model's scale: the per-dimension maximum-likelihood log-scale of the
 * couplings' output on b, the couplings made the identity). The trainer calls
 * it on rank 0 only, with the first global batch, before the replicas copy
 * rank 0's parameters: the result does not depend on the world size. RT_OK
 * and nothing changed for a model that needs none. */
RT_API int rt_model_data_init(rt_model *m, rt_graph *g, const rt_model_batch *b);

/* ---- metrics: names fixed per task, the same in metrics.jsonl, eval and the done line ---- */

#define RT_MAX_METRICS 4

typedef struct rt_metric {
    const char *name; /**< as DESIGN.md fixes it: "test_loss", "test_acc", ..., "kp_err_px" */
    const char *fmt;  /**< how the progress line prints the value: "%.4f" */
    double value;
} rt_metric;

/** The task's metrics from stats summed over a split (NaN when it had no
 * rows). Returns how many were written to out (at most RT_MAX_METRICS). */
RT_API int rt_model_metrics(const rt_model *m, const rt_batch_stats *st, rt_metric *out);
/** A family's own diagnostics of the weights alone (NICE: "logdet"); returns
 * how many were written to out (at most RT_MAX_METRICS). */
RT_API int rt_model_info(const rt_model *m, rt_metric *out);

/** How to draw samples. */
typedef struct rt_sample_opts {
    int64_t n;             /**< samples */
    uint64_t seed;         /**< of the starting noise */
    int steps;             /**< Euler steps of a rectified flow (0: model.sample_steps); NICE: unused */
    double temperature;    /**< the starting noise is scaled by it (1: the prior itself) */
    const int32_t *labels; /**< (n) the class of each sample (class-conditional models), or NULL */
    double cfg;            /**< classifier-free guidance: v = v(x,t,null) + cfg (v(x,t,y) - v(x,t,null));
                              1 is the conditional velocity alone */
    float *noise;          /**< (n, input size) receives the starting point, or NULL */
} rt_sample_opts;

/** Generative models: draws o->n samples into out (n, input size), in the
 * normalised data space. RT_EBADINPUT for the other models. */
RT_API int rt_model_sample_opts(rt_model *m, rt_graph *g, const rt_sample_opts *o, float *out);
/** The same with labels NULL, cfg and temperature 1, from seed. */
RT_API int rt_model_sample(rt_model *m, rt_graph *g, int64_t n, uint64_t seed, int steps,
                           float *out);
/** Rectified flows: *v gets the velocity (n, input size) at xt (n, input size)
 * and t (n), conditioned on labels (n; NULL: the null class), recorded on g
 * (gradients flow to the parameters when g records). RT_EBADINPUT for the
 * other models. */
RT_API int rt_model_velocity(rt_model *m, rt_graph *g, rt_tensor *xt, const float *t,
                             const int32_t *labels, rt_tensor **v);

/** NICE only: x (n, D) -> z (n, D) through the couplings and scaling, or back
 * with inverse. With model.logit_alpha, x is the logit of the pixels: the
 * loss and sampling apply it, this does not. */
RT_API int rt_model_nice_transform(rt_model *m, rt_graph *g, int64_t n, const float *in,
                                   float *out, bool inverse);
/** NICE only: the log-determinant of x -> z, the same for every x (sum of the scales). */
RT_API double rt_model_nice_logdet(const rt_model *m);

#endif
