/* internal.h - forward/backward kernels shared between the files in src/ops and the op
 * table in src/autograd.c. Not installed: nothing outside src/ may use these. */
#ifndef RINGTRAIN_OPS_INTERNAL_H
#define RINGTRAIN_OPS_INTERNAL_H

#include "ringtrain/autograd.h"

/* Hot loops with no arithmetic to reorder (selects, copies, lane sums), built
 * for AVX2 and the baseline and picked at load time, as the ring's and the
 * optimizer's loops. */
#if defined(__GNUC__) && !defined(__clang__)
#define RT_VEC __attribute__((target_clones("avx2", "default")))
#else
#define RT_VEC
#endif

#define RT_KERNEL(name) \
    void rt_fwd_##name(rt_graph *g, rt_node *n); \
    void rt_bwd_##name(rt_graph *g, rt_node *n);

RT_KERNEL(matmul)
RT_KERNEL(linear)
RT_KERNEL(add)
RT_KERNEL(mul)
RT_KERNEL(bias_add)
RT_KERNEL(relu)
RT_KERNEL(gelu)
RT_KERNEL(gelu_tanh)
RT_KERNEL(tanh)
RT_KERNEL(sigmoid)
RT_KERNEL(silu)
RT_KERNEL(reshape)
RT_KERNEL(sum)
RT_KERNEL(mean)
RT_KERNEL(softmax_ce)
RT_KERNEL(mse)
RT_KERNEL(conv2d)
RT_KERNEL(maxpool2d)
RT_KERNEL(avgpool2d)
RT_KERNEL(upsample_nearest)
RT_KERNEL(upsample_bilinear)
RT_KERNEL(pixel_shuffle)
RT_KERNEL(pixel_unshuffle)
RT_KERNEL(layernorm)
RT_KERNEL(dropout)
RT_KERNEL(concat)
RT_KERNEL(slice)
RT_KERNEL(exp)
RT_KERNEL(log)
RT_KERNEL(softplus)
RT_KERNEL(sum_axis)
RT_KERNEL(scale)
RT_KERNEL(affine)
RT_KERNEL(bmm)
RT_KERNEL(softmax)
RT_KERNEL(attention)
RT_KERNEL(permute)
RT_KERNEL(patchify)
RT_KERNEL(unpatchify)
RT_KERNEL(rmsnorm)
RT_KERNEL(modulate)
RT_KERNEL(gate_add)
RT_KERNEL(embedding)
RT_KERNEL(abs)
RT_KERNEL(leaky_relu)
RT_KERNEL(div)
RT_KERNEL(log_softmax)
RT_KERNEL(kl_div)

#undef RT_KERNEL

#endif
