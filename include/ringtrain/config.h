/** @file config.h
 * Strict JSON run configs (cJSON).
 *
 * A config is read from a file, patched by `--set key.path=value` overrides,
 * completed with defaults and validated against rows of known keys (keys.h):
 * the sections data, optim, train, init and dist here, and the model section
 * by the model family that model.type names (model.h). Unknown keys, wrong
 * types and out-of-range values are errors that name the file and the key
 * path. The resolved tree (defaults filled in) is kept so the run directory
 * and checkpoints can record exactly what ran.
 */
#ifndef RINGTRAIN_CONFIG_H
#define RINGTRAIN_CONFIG_H

#include "ringtrain/api.h"
#include "ringtrain/common.h"
#include "ringtrain/tensor.h"

#include <stdbool.h>
#include <stdint.h>

/** The model section: model.type names a family of src/models (model.h), which
 * reads and checks its own keys and keeps them in `arch`. */
struct rt_family;
typedef struct rt_model_cfg {
    const struct rt_family *family; /**< model.type's row of the family table */
    int input_ndim;
    int input[RT_MAX_DIMS];         /**< per-sample input shape */
    void *arch;                     /**< the family's parsed keys, owned (rt_model_cfg_free) */
} rt_model_cfg;

/** Entries optim.groups may hold. */
#define RT_MAX_PARAM_GROUPS 16

typedef enum rt_optim_kind { RT_OPTIM_ADAMW, RT_OPTIM_SGD } rt_optim_kind;
typedef enum rt_sched_kind {
    RT_SCHED_CONSTANT,
    RT_SCHED_COSINE,
    RT_SCHED_STEP,
    RT_SCHED_INVERSE_TIME
} rt_sched_kind;

enum { RT_NONFINITE_ABORT, RT_NONFINITE_SKIP };
enum { RT_RING_ORDER_TOPOLOGY, RT_RING_ORDER_RANK };
enum { RT_ALGO_RING, RT_ALGO_HIERARCHICAL, RT_ALGO_AUTO }; /* dist.algorithm */
enum { RT_COMPRESS_NONE, RT_COMPRESS_BF16 };                /* dist.compress */
enum { RT_OFF, RT_ON, RT_AUTO }; /* a switch that may be left to the machine */

typedef struct rt_config {
    char path[RT_PATH_MAX];  /**< file the config came from */
    char name[RT_NAME_MAX];  /**< file name without directory and .json */
    rt_model_cfg model;
    struct {
        char train[RT_PATH_MAX];
        char test[RT_PATH_MAX];
        bool shuffle;
        double mean, std;         /**< inputs become (x - mean) / std after scaling */
        double memory_budget_mb;  /**< bound on the data path's resident memory per rank; 0: none */
    } data;
    struct {
        rt_optim_kind type;
        double lr, beta1, beta2, eps, weight_decay;
        double momentum;          /**< sgd */
        bool nesterov;            /**< sgd */
        double clip_grad_norm;    /**< 0 = off */
        int64_t accum_steps;      /**< micro-batches per step */
        struct {
            rt_sched_kind type;
            int64_t warmup_steps; /**< linear warmup from 0, before any schedule */
            double min_lr;        /**< cosine floor */
            int64_t step_size;    /**< step decay period */
            double gamma;         /**< step decay factor */
            double tau;           /**< inverse time: lr0 / (1 + t / tau) */
        } schedule;
        int ngroups;              /**< entries of optim.groups */
        /** optim.groups: parameters whose name matches the glob (the first
         * group that matches wins) take lr_scale x the schedule's rate and
         * their own weight decay. */
        struct rt_param_group {
            char match[128];
            double lr_scale, weight_decay;
        } groups[RT_MAX_PARAM_GROUPS];
    } optim;
    struct {
        int64_t global_batch;
        int64_t epochs;
        int64_t steps;            /**< 0 = epochs * steps per epoch */
        uint64_t seed;
        int64_t log_every;
        int64_t eval_every;       /**< 0 = at the end of each epoch */
        int64_t eval_batch;
        int64_t checkpoint_every; /**< 0 = only at the end */
        int64_t keep_checkpoints;
        int nonfinite;            /**< RT_NONFINITE_ABORT or _SKIP */
        double ema_decay;         /**< EMA of the parameters: ema = d ema + (1 - d) p; 0 = off */
    } train;
    struct {
        char from[RT_PATH_MAX];   /**< "" = none */
    } init;
    struct {
        double bucket_mb;
        int64_t segment_kb;
        int overlap;              /**< RT_OFF, RT_ON or RT_AUTO: on with 2+ cores per rank */
        bool shard_optimizer;
        int64_t check_every;
        double timeout_s;
        int ring_order;           /**< RT_RING_ORDER_TOPOLOGY (host-major) or _RANK */
        int algorithm;            /**< RT_ALGO_RING, _HIERARCHICAL or _AUTO */
        int compress;             /**< RT_COMPRESS_NONE or _BF16: gradients on the wire */
    } dist;
    void *resolved; /**< cJSON tree with defaults filled in, owned */
} rt_config;

/** Loads `path`, applies `nset` overrides of the form "key.path=value" and
 * validates. Returns RT_OK, or RT_EBADINPUT with rt_errmsg() naming the file
 * and key. On success the caller owns *out and frees it with rt_config_free. */
RT_API int rt_config_load(const char *path, const char *const *sets, int nset, rt_config **out);
/** Same, from JSON text; `origin` names it in errors. */
RT_API int rt_config_parse(const char *json, const char *origin, const char *const *sets, int nset,
                           rt_config **out);
/** Frees a config from rt_config_load or rt_config_parse (NULL: no-op). */
RT_API void rt_config_free(rt_config *c);
/** The resolved config as pretty JSON; the caller frees it with rt_free. */
RT_API char *rt_config_to_json(const rt_config *c);
/** Calls fn(path) for every leaf key the parser accepts (for the docs test). */
RT_API void rt_config_each_key(void (*fn)(const char *key, void *ctx), void *ctx);

#endif
