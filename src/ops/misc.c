/* misc.c - placeholder: kernels not written yet. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

void rt_fwd_layernorm(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "layernorm: not implemented"); }
void rt_bwd_layernorm(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "layernorm: not implemented"); }
void rt_fwd_dropout(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "dropout: not implemented"); }
void rt_bwd_dropout(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "dropout: not implemented"); }
void rt_fwd_concat(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "concat: not implemented"); }
void rt_bwd_concat(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "concat: not implemented"); }
void rt_fwd_slice(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "slice: not implemented"); }
void rt_bwd_slice(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "slice: not implemented"); }
void rt_fwd_exp(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "exp: not implemented"); }
void rt_bwd_exp(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "exp: not implemented"); }
void rt_fwd_log(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "log: not implemented"); }
void rt_bwd_log(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "log: not implemented"); }
void rt_fwd_softplus(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "softplus: not implemented"); }
void rt_bwd_softplus(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "softplus: not implemented"); }
void rt_fwd_sum_axis(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "sum_axis: not implemented"); }
void rt_bwd_sum_axis(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "sum_axis: not implemented"); }
void rt_fwd_scale(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "scale: not implemented"); }
void rt_bwd_scale(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "scale: not implemented"); }
void rt_fwd_affine(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "affine: not implemented"); }
void rt_bwd_affine(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "affine: not implemented"); }
