/* ops.h - functional ops: stateless, shape-checked wrappers that run on the
 * autograd core (autograd.h). Modules in nn.h call these same functions.
 * Every op aborts via RT_CHECK on a shape mismatch: those are bugs in model
 * code, not user input (configs are validated before any op runs). */
#ifndef RINGTRAIN_OPS_H
#define RINGTRAIN_OPS_H

#include "ringtrain/autograd.h"

/* a (m,k) @ b (k,n) -> (m,n) */
rt_tensor *rt_matmul(rt_graph *g, rt_tensor *a, rt_tensor *b);
/* x (b,in), w (out,in) as torch.nn.Linear, bias (out) or NULL -> (b,out) */
rt_tensor *rt_linear(rt_graph *g, rt_tensor *x, rt_tensor *w, rt_tensor *bias);
/* elementwise, same shapes */
rt_tensor *rt_add(rt_graph *g, rt_tensor *a, rt_tensor *b);
rt_tensor *rt_mul(rt_graph *g, rt_tensor *a, rt_tensor *b);
/* x (..., c) + bias (c) */
rt_tensor *rt_bias_add(rt_graph *g, rt_tensor *x, rt_tensor *bias);
/* activations */
rt_tensor *rt_relu(rt_graph *g, rt_tensor *x);
rt_tensor *rt_gelu(rt_graph *g, rt_tensor *x);
rt_tensor *rt_gelu_tanh(rt_graph *g, rt_tensor *x);
rt_tensor *rt_tanh(rt_graph *g, rt_tensor *x);
rt_tensor *rt_sigmoid(rt_graph *g, rt_tensor *x);
/* a view with a new shape of the same numel; one size may be -1 */
rt_tensor *rt_reshape(rt_graph *g, rt_tensor *x, int ndim, const int *shape);
/* x (b, ...) -> (b, prod(...)) */
rt_tensor *rt_flatten(rt_graph *g, rt_tensor *x);
/* reductions to a scalar */
rt_tensor *rt_sum(rt_graph *g, rt_tensor *x);
rt_tensor *rt_mean(rt_graph *g, rt_tensor *x);
/* losses: scale * sum over rows. logits (b,c), labels (b) in [0,c). */
rt_tensor *rt_softmax_ce(rt_graph *g, rt_tensor *logits, const int32_t *labels, float scale);
rt_tensor *rt_mse(rt_graph *g, rt_tensor *a, rt_tensor *b, float scale);

#endif
