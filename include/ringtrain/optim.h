/** @file optim.h
 * AdamW and SGD over one flat parameter array, LR schedules and
 * global-norm clipping. Semantics follow torch.optim (1.13) exactly:
 *   AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 *   SGD:   g += wd p; buf = g (first step) or mu buf + g; p -= lr * buf
 *          (with nesterov: p -= lr * (g + mu buf)).
 */
#ifndef RINGTRAIN_OPTIM_H
#define RINGTRAIN_OPTIM_H

#include "ringtrain/api.h"
#include "ringtrain/config.h"
#include "ringtrain/nn.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rt_optim rt_optim;

/** An optimizer for n parameters with the config's type and hyperparameters;
 * its state (moments, step count) starts at zero. */
RT_API rt_optim *rt_optim_create(const rt_config *cfg, size_t n);
/** The config's optim.groups over p's parameters (p->total == the optimizer's
 * n): each parameter takes the first group whose glob (fnmatch) matches its
 * name, so its elements update at lr_scale x the rate given and with the
 * group's weight decay; the rest keep the config's. RT_EBADINPUT naming the
 * group whose glob matches no parameter. Without groups a no-op. */
RT_API int rt_optim_set_groups(rt_optim *o, const rt_params *p, const rt_config *cfg);
/** Frees the optimizer and its state (NULL: no-op). */
RT_API void rt_optim_destroy(rt_optim *o);
/** One update of param (n) from grad (n) at learning rate lr. */
RT_API void rt_optim_step(rt_optim *o, float *param, const float *grad, double lr);
/** @{ */
/** The same update in pieces, for a sharded optimizer: rt_optim_begin counts
 * the step once, then rt_optim_apply updates elements [lo, hi) of param (and
 * of the state); any split of [0, n) gives the bits of one rt_optim_step. */
RT_API void rt_optim_begin(rt_optim *o);
RT_API void rt_optim_apply(rt_optim *o, float *param, const float *grad, double lr, size_t lo,
                           size_t hi);
/** @} */
/** rt_optim_apply, leaving grad[lo, hi) zero for the next step to accumulate
 * into: the update's own pass over grad clears it, instead of a memset's. */
RT_API void rt_optim_apply_zero(rt_optim *o, float *param, float *grad, double lr, size_t lo,
                                size_t hi);
/** @{ */
/** State for checkpoints: AdamW m and v, or SGD momentum in m (v NULL); the
 * step counter t, set on resume; and the optimizer's kind. */
RT_API float *rt_optim_m(rt_optim *o);
RT_API float *rt_optim_v(rt_optim *o);
RT_API int64_t rt_optim_t(const rt_optim *o);
RT_API void rt_optim_set_t(rt_optim *o, int64_t t);
RT_API rt_optim_kind rt_optim_type(const rt_optim *o);
/** @} */
/** "adamw" or "sgd": the type as checkpoints name it. */
RT_API const char *rt_optim_name(const rt_optim *o);

/** @{ */
/** The exponential moving average of the parameters (train.ema_decay d > 0;
 * NULL when it is 0): ema = ema * d + p * (1 - d) in float after each update,
 * starting from the parameters before the first one (rt_optim_ema_start,
 * a no-op once it holds a value, as after rt_optim_ema_loaded on resume). */
RT_API float *rt_optim_ema(rt_optim *o);
RT_API void rt_optim_ema_loaded(rt_optim *o);
RT_API void rt_optim_ema_start(rt_optim *o, const float *param);
RT_API void rt_optim_ema_update(rt_optim *o, const float *param);
/** @} */

/** Learning rate for 0-based step `step` of `total` under the config's schedule. */
RT_API double rt_lr_at(const rt_config *cfg, int64_t step, int64_t total);
/** L2 norm of g (n): the sum of g[i]^2 in eight fixed lanes, in double. */
RT_API double rt_grad_norm(const float *g, size_t n);
/** torch.nn.utils.clip_grad_norm_: scales g when norm > max_norm. Returns the
 * coefficient applied (1 when none). */
RT_API float rt_clip_grad(float *g, size_t n, double norm, double max_norm);

#endif
