/** @file ops.h
 * Functional ops: stateless, shape-checked wrappers that run on the
 * autograd core (autograd.h). Modules in nn.h call these same functions.
 * Every op aborts via RT_CHECK on a shape mismatch: those are bugs in model
 * code, not user input (configs are validated before any op runs). */
#ifndef RINGTRAIN_OPS_H
#define RINGTRAIN_OPS_H

#include "ringtrain/api.h"
#include "ringtrain/autograd.h"

/** a (m,k) @ b (k,n) -> (m,n) */
RT_API rt_tensor *rt_matmul(rt_graph *g, rt_tensor *a, rt_tensor *b);
/** x (b,in), w (out,in) as torch.nn.Linear, bias (out) or NULL -> (b,out) */
RT_API rt_tensor *rt_linear(rt_graph *g, rt_tensor *x, rt_tensor *w, rt_tensor *bias);
/** @{ */
/** elementwise, same shapes */
RT_API rt_tensor *rt_add(rt_graph *g, rt_tensor *a, rt_tensor *b);
RT_API rt_tensor *rt_mul(rt_graph *g, rt_tensor *a, rt_tensor *b);
/** @} */
/** x (..., c) + bias (c) */
RT_API rt_tensor *rt_bias_add(rt_graph *g, rt_tensor *x, rt_tensor *bias);
/** an elementwise op by id (one whose rt_op_table row is unary: the
 * activations, exp, log, softplus), x's shape */
RT_API rt_tensor *rt_unary(rt_graph *g, rt_op op, rt_tensor *x);
/** @{ */
/** activations */
RT_API rt_tensor *rt_relu(rt_graph *g, rt_tensor *x);
RT_API rt_tensor *rt_gelu(rt_graph *g, rt_tensor *x);
RT_API rt_tensor *rt_gelu_tanh(rt_graph *g, rt_tensor *x);
RT_API rt_tensor *rt_tanh(rt_graph *g, rt_tensor *x);
RT_API rt_tensor *rt_sigmoid(rt_graph *g, rt_tensor *x);
/** @} */
/** x * sigmoid(x), as torch.nn.functional.silu */
RT_API rt_tensor *rt_silu(rt_graph *g, rt_tensor *x);
/** a view with a new shape of the same numel; one size may be -1 */
RT_API rt_tensor *rt_reshape(rt_graph *g, rt_tensor *x, int ndim, const int *shape);
/** x (b, ...) -> (b, prod(...)) */
RT_API rt_tensor *rt_flatten(rt_graph *g, rt_tensor *x);
/** @{ */
/** reductions to a scalar */
RT_API rt_tensor *rt_sum(rt_graph *g, rt_tensor *x);
RT_API rt_tensor *rt_mean(rt_graph *g, rt_tensor *x);
/** @} */
/** @{ */
/** losses: scale * sum over rows. logits (b,c), labels (b) in [0,c). */
RT_API rt_tensor *rt_softmax_ce(rt_graph *g, rt_tensor *logits, const int32_t *labels, float scale);
RT_API rt_tensor *rt_mse(rt_graph *g, rt_tensor *a, rt_tensor *b, float scale);
/** @} */

/* ---- convolution and pooling: NCHW, PyTorch semantics and weight layout ---- */

/** Geometry of a 2-D window op; out = (in + 2*pad - dil*(k-1) - 1) / stride + 1. */
typedef struct rt_conv2d_args {
    int stride[2], pad[2], dilation[2]; /**< (h, w); stride and dilation >= 1 */
} rt_conv2d_args;
/** x (b,ci,h,w), w (co,ci,kh,kw) as torch.nn.Conv2d (groups 1), bias (co) or
 * NULL -> (b,co,oh,ow). im2col + sgemm. */
RT_API rt_tensor *rt_conv2d(rt_graph *g, rt_tensor *x, rt_tensor *w, rt_tensor *bias,
                            const rt_conv2d_args *a);
/** @{ */
/** torch.nn.MaxPool2d / AvgPool2d(kernel, stride, padding); ceil_mode false;
 * max pads with -inf, avg counts the padding (count_include_pad true).
 * Gradients of max go to the first maximum in window order, as torch. */
RT_API rt_tensor *rt_maxpool2d(rt_graph *g, rt_tensor *x, int kernel, int stride, int pad);
RT_API rt_tensor *rt_avgpool2d(rt_graph *g, rt_tensor *x, int kernel, int stride, int pad);
/** @} */
/** Output size of a window op along one dimension, or -1 when it is < 1. */
RT_API int rt_window_out(int in, int kernel, int stride, int pad, int dilation);

/* ---- upsampling: as torch.nn.Upsample(scale_factor=(sh,sw)) and nn.PixelShuffle ---- */

/** @{ */
/** x (b,c,h,w) -> (b,c,h*sh,w*sw); integer factors >= 1 */
RT_API rt_tensor *rt_upsample_nearest(rt_graph *g, rt_tensor *x, int sh, int sw);
RT_API rt_tensor *rt_upsample_bilinear(rt_graph *g, rt_tensor *x, int sh, int sw,
                                       bool align_corners);
/** @} */
/** @{ */
/** (b, c*r*r, h, w) -> (b, c, h*r, w*r) and back */
RT_API rt_tensor *rt_pixel_shuffle(rt_graph *g, rt_tensor *x, int r);
RT_API rt_tensor *rt_pixel_unshuffle(rt_graph *g, rt_tensor *x, int r);
/** @} */

/* ---- normalisation ---- */

/** torch.nn.LayerNorm over the last dimension d: (x - mean) / sqrt(var + eps)
 * with the biased variance, times weight (d) plus bias (d); either may be NULL. */
RT_API rt_tensor *rt_layernorm(rt_graph *g, rt_tensor *x, rt_tensor *weight, rt_tensor *bias,
                               float eps);
/** Inverted dropout: zeroes each element with probability p and scales the
 * rest by 1/(1-p). The mask of element j of row r is a pure function of
 * (seed, row_keys[r], j), so it does not depend on how rows are split across
 * ranks. With train false (evaluation) or p == 0 it returns x itself. */
RT_API rt_tensor *rt_dropout(rt_graph *g, rt_tensor *x, float p, uint64_t seed,
                             const uint64_t *row_keys, bool train);

/* ---- tensor ops ---- */

/** Joins 2 or 3 tensors along axis; the other dimensions must match. */
RT_API rt_tensor *rt_concat(rt_graph *g, rt_tensor *const *xs, int n, int axis);
/** x[..., start:start+len, ...] along axis (a copy). */
RT_API rt_tensor *rt_slice(rt_graph *g, rt_tensor *x, int axis, int start, int len);
/** Splits x along axis into n pieces of sizes[i] (summing to the dimension). */
RT_API void rt_split(rt_graph *g, rt_tensor *x, int axis, int n, const int *sizes, rt_tensor **out);

/* ---- elementwise ---- */

/** exp(x), elementwise. */
RT_API rt_tensor *rt_exp(rt_graph *g, rt_tensor *x);
/** log(x), elementwise (x > 0). */
RT_API rt_tensor *rt_log(rt_graph *g, rt_tensor *x);
/** log(1 + exp(x)), x itself above 20 (torch.nn.functional.softplus defaults) */
RT_API rt_tensor *rt_softplus(rt_graph *g, rt_tensor *x);
/** a * x + b with scalars a and b */
RT_API rt_tensor *rt_affine(rt_graph *g, rt_tensor *x, float a, float b);
/** x (..., c) * s (c), s broadcast over the leading dimensions */
RT_API rt_tensor *rt_scale(rt_graph *g, rt_tensor *x, rt_tensor *s);

/* ---- transformer ops ---- */

/** a (..., m, k) @ b (..., k, n) -> (..., m, n), one sgemm per leading index */
RT_API rt_tensor *rt_bmm(rt_graph *g, rt_tensor *a, rt_tensor *b);
/** softmax over the last axis (its maximum taken out first, the sum in double) */
RT_API rt_tensor *rt_softmax(rt_graph *g, rt_tensor *x);
/** Multi-head scaled dot-product attention, fused: q, k, v (batch, heads,
 * tokens, d) -> softmax(q k^T / sqrt(d)) v of the same shape, as
 * torch.nn.functional.scaled_dot_product_attention. Recording keeps the
 * attention probabilities (batch * heads * tokens^2 floats) and nothing else. */
RT_API rt_tensor *rt_attention(rt_graph *g, rt_tensor *q, rt_tensor *k, rt_tensor *v);
/** x's dimensions in a new order (a copy): out.shape[i] = x.shape[perm[i]],
 * as torch.permute. Splitting heads is reshape (b, t, h, d) then permute
 * {0, 2, 1, 3}; merging them is the same permute then reshape (b, t, h d). */
RT_API rt_tensor *rt_permute(rt_graph *g, rt_tensor *x, const int *perm);
/** @{ */
/** images (b, c, h, w) -> patches (b, (h/p)(w/p), p p c), token by token in
 * row-major order, each patch laid out (pi, qi, ci) as DiT's unpatchify
 * reads it; rt_unpatchify is the inverse, to (b, c, h, w). p divides h and w. */
RT_API rt_tensor *rt_patchify(rt_graph *g, rt_tensor *x, int p);
RT_API rt_tensor *rt_unpatchify(rt_graph *g, rt_tensor *x, int p, int c, int h, int w);
/** @} */
/** RMSNorm over the last dimension d: x / sqrt(mean(x^2) + eps) * weight (d),
 * as torch.nn.RMSNorm; weight may be NULL. */
RT_API rt_tensor *rt_rmsnorm(rt_graph *g, rt_tensor *x, rt_tensor *weight, float eps);
/** adaLN's modulation: x (b, t, d) * (1 + scale (b, d)) + shift (b, d) */
RT_API rt_tensor *rt_modulate(rt_graph *g, rt_tensor *x, rt_tensor *shift, rt_tensor *scale);
/** a gated residual: x (b, t, d) + gate (b, d) * u (b, t, d) */
RT_API rt_tensor *rt_gate_add(rt_graph *g, rt_tensor *x, rt_tensor *gate, rt_tensor *u);
/** rows idx[0..n) of table (v, d) -> (n, d), as torch.nn.Embedding; idx must
 * stay valid until backward. */
RT_API rt_tensor *rt_embedding(rt_graph *g, rt_tensor *table, const int32_t *idx, int n);

/* ---- the coordinate heads' ops ---- */

/** |x|, its gradient sign(x) (0 at 0) */
RT_API rt_tensor *rt_abs(rt_graph *g, rt_tensor *x);
/** x for x > 0, else slope * x, as torch.nn.functional.leaky_relu */
RT_API rt_tensor *rt_leaky_relu(rt_graph *g, rt_tensor *x, float slope);
/** a / b elementwise, same shapes */
RT_API rt_tensor *rt_div(rt_graph *g, rt_tensor *a, rt_tensor *b);
/** log softmax over the last axis, the log-sum-exp in double */
RT_API rt_tensor *rt_log_softmax(rt_graph *g, rt_tensor *x);
/** scale * sum target * (log target - logp): torch.nn.KLDivLoss(reduction
 * "sum") times scale; target is fixed (no gradient), its zeros add 0 */
RT_API rt_tensor *rt_kl_div(rt_graph *g, rt_tensor *logp, rt_tensor *target, float scale);

/* ---- reductions ---- */

/** Sum over one axis, which is removed: (2,3,4) over axis 1 -> (2,4). */
RT_API rt_tensor *rt_sum_axis(rt_graph *g, rt_tensor *x, int axis);

#endif
