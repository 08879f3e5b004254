/** @file nn.h
 * Parameters and modules.
 *
 * Parameters live in one contiguous arena and their gradients in a second one
 * with the same layout (llm.c style), so the ring and the optimizer each work
 * on one flat float*. Modules declare their parameters into an rt_params, which
 * is then finalised once; a module keeps rt_tensor pointers into it.
 * Each module's forward calls the functional op of ops.h: one core, two forms.
 */
#ifndef RINGTRAIN_NN_H
#define RINGTRAIN_NN_H

#include "ringtrain/api.h"
#include "ringtrain/autograd.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"
#include "ringtrain/rng.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct rt_param {
    char name[RT_NAME_MAX + 16]; /**< PyTorch-style, e.g. "fc1.weight" */
    rt_tensor t;                 /**< data/grad point into the arenas after finalise */
    size_t offset;               /**< first element in the arenas */
    bool frozen;                 /**< a fixed tensor (DiT's pos_embed): stored, never trained */
} rt_param;

typedef struct rt_params {
    int count, cap;
    rt_param *items;  /**< (cap) owned; never reallocated, so &items[i].t is stable */
    size_t total;     /**< elements in each arena */
    int ntrain;       /**< items [0, ntrain) are trained; the frozen ones follow */
    size_t train_total; /**< elements [0, train_total) of the arenas are trained: the ring,
                         * the optimizer and the gradient norm work on this prefix */
    float *data;      /**< (total) parameter arena, owned */
    float *grad;      /**< (total) gradient arena, same layout, owned */
} rt_params;

/** Prepares room for at most `cap` parameter tensors. */
RT_API void rt_params_init(rt_params *p, int cap);
/** Declares a parameter; returns its tensor (buffers set by rt_params_finalize). */
RT_API rt_tensor *rt_params_add(rt_params *p, const char *name, int ndim, const int *shape);
/** Declares a frozen tensor: in the parameter arena and in checkpoints under
 * its name, as a torch parameter with requires_grad False, but without a
 * gradient and never updated. Frozen tensors are declared after every
 * trained one. */
RT_API rt_tensor *rt_params_add_frozen(rt_params *p, const char *name, int ndim, const int *shape);
/** Allocates both arenas (64-byte aligned, zeroed) and points every tensor in. */
RT_API void rt_params_finalize(rt_params *p);
/** Frees both arenas and the tensor table (p itself is the caller's). */
RT_API void rt_params_free(rt_params *p);
/** Index of a parameter by name, or -1. */
RT_API int rt_params_find(const rt_params *p, const char *name);
/** Zeroes the whole gradient arena. */
RT_API void rt_params_zero_grad(rt_params *p);

/* ---- Linear: y = x W^T + b, W (out,in) exactly as torch.nn.Linear ---- */

typedef struct rt_linear_mod {
    rt_tensor *weight; /**< (out, in) */
    rt_tensor *bias;   /**< (out), or NULL */
    int in, out;
} rt_linear_mod;

/** Declares name.weight (out, in) and, with bias, name.bias (out) in p; the
 * values are set by rt_linear_mod_reset once p is finalised. */
RT_API void rt_linear_mod_init(rt_linear_mod *m, rt_params *p, const char *name, int in, int out,
                               bool bias);
/** PyTorch's default init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)). */
RT_API void rt_linear_mod_reset(const rt_linear_mod *m, rt_rng *rng);
/** x (b, in) -> (b, out) */
RT_API rt_tensor *rt_linear_mod_forward(rt_graph *g, const rt_linear_mod *m, rt_tensor *x);

/* ---- Conv2d: weight (out, in, kh, kw), bias (out), exactly as torch.nn.Conv2d ---- */

typedef struct rt_conv2d_mod {
    rt_tensor *weight; /**< (out, in, kh, kw) */
    rt_tensor *bias;   /**< (out), or NULL */
    int in, out, kh, kw;
    rt_conv2d_args args;
} rt_conv2d_mod;

/** Declares name.weight (out, in, kh, kw) and, with bias, name.bias (out)
 * in p, with the stride, padding and dilation of a. */
RT_API void rt_conv2d_mod_init(rt_conv2d_mod *m, rt_params *p, const char *name, int in, int out,
                               int kh, int kw, const rt_conv2d_args *a, bool bias);
/** PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in*kh*kw. */
RT_API void rt_conv2d_mod_reset(const rt_conv2d_mod *m, rt_rng *rng);
/** x (b, in, h, w) -> (b, out, oh, ow) */
RT_API rt_tensor *rt_conv2d_mod_forward(rt_graph *g, const rt_conv2d_mod *m, rt_tensor *x);

/* ---- LayerNorm over the last dimension d: weight (d) = 1, bias (d) = 0 at init ---- */

typedef struct rt_layernorm_mod {
    rt_tensor *weight, *bias; /**< (d) each, or both NULL (affine false) */
    int d;
    float eps;
} rt_layernorm_mod;

/** Declares name.weight and name.bias (d) in p when affine. */
RT_API void rt_layernorm_mod_init(rt_layernorm_mod *m, rt_params *p, const char *name, int d,
                                  float eps, bool affine);
/** Sets weight to 1 and bias to 0, as torch.nn.LayerNorm does. */
RT_API void rt_layernorm_mod_reset(const rt_layernorm_mod *m);
/** x (..., d) -> the same shape, normalised over its last dimension. */
RT_API rt_tensor *rt_layernorm_mod_forward(rt_graph *g, const rt_layernorm_mod *m, rt_tensor *x);

/* ---- MLP: Linear, act, Linear, act, ..., Linear, named as torch.nn.Sequential
 * (prefix.0, prefix.2, ...), so it loads into the same torch module. ---- */

#define RT_MLP_MAX 33

typedef struct rt_mlp {
    int n;                       /**< linear layers: hidden_layers + 1 */
    rt_op act;                   /**< an elementwise op (rt_unary): RT_OP_RELU, RT_OP_GELU, ... */
    rt_linear_mod lin[RT_MLP_MAX];
} rt_mlp;

/** in -> hidden (hidden_layers times, each followed by act) -> out. */
RT_API void rt_mlp_init(rt_mlp *m, rt_params *p, const char *prefix, int in, int hidden,
                        int hidden_layers, int out, rt_op act);
/** PyTorch's default init of every linear layer, in order, from rng. */
RT_API void rt_mlp_reset(const rt_mlp *m, rt_rng *rng);
/** x (b, in) -> (b, out) */
RT_API rt_tensor *rt_mlp_forward(rt_graph *g, const rt_mlp *m, rt_tensor *x);

#endif
