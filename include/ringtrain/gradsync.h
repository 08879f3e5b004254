/** @file gradsync.h
 * Gradient buckets synchronised by the ring, alongside backward or after it.
 *
 * Parameters are grouped into buckets of about dist.bucket_mb in reverse
 * declaration order (the order backward finishes them); each bucket is one
 * contiguous range of the gradient arena. With overlap on, a communication
 * thread runs the ring on a bucket as soon as the autograd hook reports all its
 * gradients final, while backward carries on; the optimizer waits for the last
 * bucket. With overlap off, the same buckets are reduced in the same order
 * after backward, so both modes give identical bits.
 *
 * Sharded (dist.shard_optimizer, ZeRO stage 1): buckets are only
 * reduce-scattered. Each rank then owns one range of every bucket
 * (rt_gradsync_owned) holding the summed gradient, runs the optimizer on those
 * ranges alone, and rt_gradsync_gather copies the updated parameters (or any
 * other arena-shaped array, such as the optimizer's moments before a
 * checkpoint) from their owners to every rank. The owned sums are the bits a
 * full all-reduce gives, and the optimizer is elementwise, so sharding changes
 * who computes an update, not its value (with gradient clipping, the norm is
 * added up from the ranks' shares in another order: equal to rounding).
 */
#ifndef RINGTRAIN_GRADSYNC_H
#define RINGTRAIN_GRADSYNC_H

#include "ringtrain/api.h"
#include "ringtrain/nn.h"
#include "ringtrain/ring.h"

#include <stdbool.h>

typedef struct rt_gradsync rt_gradsync;

/** The buckets rt_gradsync_create makes for bucket_mb: ranges [lo[i], hi[i])
 * of p's trained prefix, bucket 0 at its end (the last parameters, which
 * backward finishes first), each at least bucket_mb unless it reaches the
 * start; of_param (p->count ints, or NULL) gets each trained parameter's
 * bucket. lo and hi hold p->count entries (1 if none). Returns the count. */
RT_API int rt_gradsync_plan(const rt_params *p, double bucket_mb, size_t *lo, size_t *hi, int *of_param);
/** Buckets over p's gradient arena, reduced with `ring` (which the gradsync
 * then owns between begin and finish). Starts the thread when overlap. */
RT_API rt_gradsync *rt_gradsync_create(rt_params *p, rt_ring *ring, double bucket_mb, bool overlap,
                                       bool shard);
/** Gradients travel as bf16 from now on (rt_ring_allreduce_bf16), with
 * resid (the arena's trained prefix, p->train_total floats, the caller's)
 * as the error-feedback residuals of every bucket at its range; NULL: float32
 * again. Call while no synchronisation is armed. */
RT_API void rt_gradsync_set_residuals(rt_gradsync *s, float *resid);
/** Frees the buckets and their ring (NULL: no-op). */
RT_API void rt_gradsync_destroy(rt_gradsync *s);
/** Arms one synchronisation: the next param_ready calls count towards it. */
RT_API void rt_gradsync_begin(rt_gradsync *s);
/** Autograd hook: parameter `index` has its final gradient for this step. */
RT_API void rt_gradsync_param_ready(void *s, int index);
/** Waits until every bucket is reduced (reducing them here when overlap is
 * off). Returns RT_OK or the ring's error. *t_comm gets the seconds the ring
 * ran, *t_wait the seconds this call blocked. */
RT_API int rt_gradsync_finish(rt_gradsync *s, double *t_comm, double *t_wait);
/** Buckets the parameters were split into. */
RT_API int rt_gradsync_num_buckets(const rt_gradsync *s);
/** The range [*lo, *hi) of the arena whose gradient sum this rank holds in
 * bucket i after finish: all of the bucket unless sharded. */
RT_API void rt_gradsync_owned(const rt_gradsync *s, int i, size_t *lo, size_t *hi);
/** Sharded, after finish: the sum of the squared gradients over this rank's
 * owned ranges, which the reduce-scatters took as they added (bucket by bucket
 * in index order). */
RT_API double rt_gradsync_owned_sumsq(const rt_gradsync *s);
/** Zeroes grad (the arena's gradients) outside this rank's owned ranges:
 * nothing unless sharded. */
RT_API void rt_gradsync_zero_unowned(const rt_gradsync *s, float *grad);
/** Sharded: the optimizer has updated this rank's owned range of bucket i
 * (reported in index order, after finish), so its all-gather may start; with
 * overlap it runs on the communication thread while the caller goes on. Not
 * sharded: nothing to do. */
RT_API void rt_gradsync_updated(rt_gradsync *s, int i);
/** Sharded: waits until every bucket reported updated has been all-gathered
 * (gathering them here when overlap is off), so every rank holds the whole
 * updated parameters. *t_comm gets the seconds the gathers ran, *t_wait the
 * seconds this call blocked. Returns RT_OK or the ring's error. */
RT_API int rt_gradsync_gather_finish(rt_gradsync *s, double *t_comm, double *t_wait);
/** Sharded: every rank's owned ranges of buf (an arena-shaped array) to every
 * rank, adding the seconds taken to *t_comm. Not sharded: nothing to do. Call
 * only while the communication thread is idle: after rt_gradsync_finish when
 * no bucket was reported updated, or after rt_gradsync_gather_finish, and
 * before the next begin. Returns RT_OK or the ring's error. */
RT_API int rt_gradsync_gather(rt_gradsync *s, float *buf, double *t_comm);

#endif
