/** @file autograd.h
 * Define-by-run reverse-mode autograd.
 *
 * Every functional op (ops.h) computes its output at once and, when gradients
 * are on and an input carries a gradient buffer, records one node on the tape:
 * {op, inputs, params, output}. rt_graph_backward() walks the tape in reverse
 * and calls each op's backward from one table (rt_op_table), which accumulates
 * into the inputs' gradients. Zeroing gradients is always explicit.
 *
 * The graph owns the per-step activation arena: rt_graph_reset() forgets the
 * tape and every activation without freeing memory.
 */
#ifndef RINGTRAIN_AUTOGRAD_H
#define RINGTRAIN_AUTOGRAD_H

#include "ringtrain/api.h"
#include "ringtrain/tensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum rt_op {
    RT_OP_MATMUL,      /**< (m,k) @ (k,n) -> (m,n) */
    RT_OP_LINEAR,      /**< x (b,in), w (out,in), bias (out) or none -> (b,out) */
    RT_OP_ADD,         /**< a + b, same shape */
    RT_OP_MUL,         /**< a * b, same shape */
    RT_OP_BIAS_ADD,    /**< x (..., c) + bias (c) */
    RT_OP_RELU,
    RT_OP_GELU,        /**< erf form, PyTorch approximate='none' */
    RT_OP_GELU_TANH,   /**< tanh form, PyTorch approximate='tanh' */
    RT_OP_TANH,
    RT_OP_SIGMOID,
    RT_OP_SILU,        /**< x * sigmoid(x) */
    RT_OP_RESHAPE,     /**< view: shares data and grad with its input */
    RT_OP_SUM,         /**< all elements -> scalar */
    RT_OP_MEAN,        /**< all elements -> scalar */
    RT_OP_SOFTMAX_CE,  /**< logits (b,c), labels -> scale * sum_i -log softmax(x_i)[y_i] */
    RT_OP_MSE,         /**< a, b same shape -> scale * sum (a-b)^2 */
    /** convolution and pooling, NCHW (src/ops/conv.c) */
    RT_OP_CONV2D,      /**< x (b,ci,h,w), w (co,ci,kh,kw), bias (co) or none; arg: stride, pad, dilation */
    RT_OP_MAXPOOL2D,   /**< arg: kernel, stride, pad (padding is -inf) */
    RT_OP_AVGPOOL2D,   /**< arg: kernel, stride, pad (count_include_pad, as torch's default) */
    /** upsampling (src/ops/resample.c) */
    RT_OP_UPSAMPLE_NEAREST,  /**< arg: integer scale (sh, sw) */
    RT_OP_UPSAMPLE_BILINEAR, /**< arg: integer scale (sh, sw), align_corners */
    RT_OP_PIXEL_SHUFFLE,     /**< (b, c*r*r, h, w) -> (b, c, h*r, w*r); arg: r */
    RT_OP_PIXEL_UNSHUFFLE,   /**< (b, c, h*r, w*r) -> (b, c*r*r, h, w); arg: r */
    /** normalisation, tensor and elementwise ops (src/ops/misc.c) */
    RT_OP_LAYERNORM,   /**< x (..., d), weight (d) and bias (d) or none; f: eps */
    RT_OP_DROPOUT,     /**< f: p; seed and row_keys pick the mask */
    RT_OP_CONCAT,      /**< 2 or 3 inputs joined along arg[0] */
    RT_OP_SLICE,       /**< x[..., start:start+len, ...] along arg[0]; arg: axis, start, len */
    RT_OP_EXP,
    RT_OP_LOG,
    RT_OP_SOFTPLUS,    /**< log(1 + e^x), linear above 20 as torch (beta 1, threshold 20) */
    RT_OP_SUM_AXIS,    /**< sum over arg[0], that dimension removed */
    RT_OP_SCALE,       /**< x (..., c) * s (c) */
    RT_OP_AFFINE,      /**< f * x + f2 with scalars f, f2 */
    /** transformer ops (src/ops/attention.c, layout.c, condition.c, norm.c) */
    RT_OP_BMM,         /**< (..., m, k) @ (..., k, n) -> (..., m, n) */
    RT_OP_SOFTMAX,     /**< over the last axis */
    RT_OP_ATTENTION,   /**< q, k, v (b, h, t, d) -> softmax(q k^T / sqrt(d)) v */
    RT_OP_PERMUTE,     /**< arg[0..ndim): the new order of the dimensions */
    RT_OP_PATCHIFY,    /**< (b, c, h, w) -> (b, tokens, p p c); arg: p, c, h, w */
    RT_OP_UNPATCHIFY,  /**< the inverse */
    RT_OP_RMSNORM,     /**< x (..., d), weight (d) or none; f: eps */
    RT_OP_MODULATE,    /**< x (b, t, d) * (1 + scale (b, d)) + shift (b, d) */
    RT_OP_GATE_ADD,    /**< x (b, t, d) + gate (b, d) * u (b, t, d) */
    RT_OP_EMBEDDING,   /**< table (v, d) rows by labels (n) -> (n, d) */
    /** the coordinate heads' ops (src/ops/keypoint.c) */
    RT_OP_ABS,
    RT_OP_LEAKY_RELU,  /**< f: the negative slope */
    RT_OP_DIV,         /**< a / b, same shape */
    RT_OP_LOG_SOFTMAX, /**< over the last axis */
    RT_OP_KL_DIV,      /**< logp, target (no gradient) same shape -> scale * sum t (log t - logp) */
    RT_OP_COUNT
} rt_op;

/** Per-node parameters; each op documents which fields it reads. */
typedef struct rt_op_params {
    float scale;            /**< loss scale (1/B for a mean over the global batch) */
    const int32_t *labels;  /**< (b) class indices: RT_OP_SOFTMAX_CE, RT_OP_EMBEDDING */
    int arg[8];             /**< integer arguments (conv, pooling, resampling, axes) */
    float f, f2;            /**< float arguments (eps, dropout p, affine a and b) */
    uint64_t seed;          /**< dropout: run seed mixed with the step */
    const uint64_t *row_keys; /**< dropout: (b) one key per row, e.g. its dataset row */
} rt_op_params;

typedef struct rt_graph rt_graph;

typedef struct rt_node {
    rt_op op;
    int nin;
    rt_tensor *in[3];   /**< inputs; in[i]->grad NULL means no gradient wanted */
    rt_tensor *out;     /**< output, allocated in the graph's arena */
    rt_op_params p;
    void *saved;        /**< forward-time scratch kept for backward (arena) */
} rt_node;

typedef void (*rt_forward_fn)(rt_graph *g, rt_node *n);
typedef void (*rt_backward_fn)(rt_graph *g, rt_node *n);

typedef struct rt_op_def {
    const char *name;
    rt_forward_fn forward;
    rt_backward_fn backward;
    bool unary;   /**< elementwise, one input, no arguments: rt_unary() takes it by id */
} rt_op_def;

/** The op table, indexed by rt_op; every entry is filled (checked at build time
 * for its size and by tests/test_ops for its contents). */
extern RT_API const rt_op_def rt_op_table[RT_OP_COUNT];

/** Creates a graph with an activation arena of `arena_bytes` and a tape of
 * `nodes` nodes to start with; both grow during the first steps to what a
 * step records, and then never again. Aborts on allocation failure. */
RT_API rt_graph *rt_graph_create(size_t arena_bytes, int nodes);
/** Frees the graph, its arena and its tape (NULL: no-op). */
RT_API void rt_graph_destroy(rt_graph *g);
/** Forgets the tape and every activation; no memory is freed. */
RT_API void rt_graph_reset(rt_graph *g);
/** @{ */
/** Turns recording on (training) or off (evaluation, no gradient buffers). */
RT_API void rt_graph_set_grad(rt_graph *g, bool enabled);
RT_API bool rt_graph_grad_enabled(const rt_graph *g);
/** @} */

/** A new activation tensor of the given shape from the arena. Its gradient
 * buffer is allocated (zeroed) only when `with_grad` and recording is on. */
RT_API rt_tensor *rt_graph_tensor(rt_graph *g, int ndim, const int *shape, bool with_grad);
/** Arena scratch memory valid until the next reset. */
RT_API void *rt_graph_scratch(rt_graph *g, size_t bytes);

/** Runs op on `in` producing a tensor of `shape`, recording it when needed.
 * Used by the functional ops in ops.h; shapes are validated there. */
RT_API rt_tensor *rt_graph_apply(rt_graph *g, rt_op op, rt_tensor *const *in, int nin,
                                 const rt_op_params *p, int ndim, const int *shape);

/** Called during backward once a parameter's gradient is final for this tape:
 * after the last node that reads it, or at the end for unused parameters. */
typedef void (*rt_param_hook)(void *ctx, int param_index);
/** Installs (fn != NULL) or removes the hook for a model of nparams parameters.
 * Its bookkeeping is allocated the first time and kept, so turning the hook
 * on and off each step never allocates. */
RT_API void rt_graph_set_param_hook(rt_graph *g, int nparams, rt_param_hook fn, void *ctx);
/** Called by an op's backward once it has written the gradients of the
 * parameters node n reads, before the rest of its work (its input gradient):
 * the hook then runs for those of them n was the last reader of, so their
 * bucket travels while that work computes. Optional; without it the hook
 * runs after the op returns. */
RT_API void rt_graph_params_final(rt_graph *g, const rt_node *n);

/** Seeds d(loss)/d(loss) = 1 on a scalar and runs the tape backwards. */
RT_API void rt_graph_backward(rt_graph *g, rt_tensor *loss);

/** @{ */
/** Tape length and arena statistics, for tests. */
RT_API int rt_graph_num_nodes(const rt_graph *g);
RT_API const rt_arena *rt_graph_arena(const rt_graph *g);
/** @} */

#endif
