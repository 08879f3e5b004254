/* conv.c - placeholder: kernels not written yet. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

void rt_fwd_conv2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "conv2d: not implemented"); }
void rt_bwd_conv2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "conv2d: not implemented"); }
void rt_fwd_maxpool2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "maxpool2d: not implemented"); }
void rt_bwd_maxpool2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "maxpool2d: not implemented"); }
void rt_fwd_avgpool2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "avgpool2d: not implemented"); }
void rt_bwd_avgpool2d(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "avgpool2d: not implemented"); }
