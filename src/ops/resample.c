/* resample.c - placeholder: kernels not written yet. */
#include "internal.h"
#include "ringtrain/common.h"
#include "ringtrain/ops.h"

void rt_fwd_upsample_nearest(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "upsample_nearest: not implemented"); }
void rt_bwd_upsample_nearest(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "upsample_nearest: not implemented"); }
void rt_fwd_upsample_bilinear(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "upsample_bilinear: not implemented"); }
void rt_bwd_upsample_bilinear(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "upsample_bilinear: not implemented"); }
void rt_fwd_pixel_shuffle(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "pixel_shuffle: not implemented"); }
void rt_bwd_pixel_shuffle(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "pixel_shuffle: not implemented"); }
void rt_fwd_pixel_unshuffle(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "pixel_unshuffle: not implemented"); }
void rt_bwd_pixel_unshuffle(rt_graph *g, rt_node *n) { (void)g, (void)n; RT_CHECK(0, "pixel_unshuffle: not implemented"); }
