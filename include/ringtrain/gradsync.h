/* gradsync.h - gradient buckets synchronised by the ring, overlapped with backward.
 *
 * Parameters are grouped into buckets of about dist.bucket_mb in reverse
 * declaration order (the order backward finishes them); each bucket is one
 * contiguous range of the gradient arena. With overlap on, a communication
 * thread runs the ring on a bucket as soon as the autograd hook reports all its
 * gradients final, while backward carries on; the optimizer waits for the last
 * bucket. With overlap off, the same buckets are reduced in the same order
 * after backward, so both modes give identical bits.
 */
#ifndef RINGTRAIN_GRADSYNC_H
#define RINGTRAIN_GRADSYNC_H

#include "ringtrain/nn.h"
#include "ringtrain/ring.h"

#include <stdbool.h>

typedef struct rt_gradsync rt_gradsync;

/* Buckets over p's gradient arena, reduced with `ring` (which the gradsync
 * then owns between begin and finish). Starts the thread when overlap. */
rt_gradsync *rt_gradsync_create(rt_params *p, rt_ring *ring, double bucket_mb, bool overlap);
void rt_gradsync_destroy(rt_gradsync *s);
/* Arms one synchronisation: the next param_ready calls count towards it. */
void rt_gradsync_begin(rt_gradsync *s);
/* Autograd hook: parameter `index` has its final gradient for this step. */
void rt_gradsync_param_ready(void *s, int index);
/* Waits until every bucket is reduced (reducing them here when overlap is
 * off). Returns RT_OK or the ring's error. *t_comm gets the seconds the ring
 * ran, *t_wait the seconds this call blocked. */
int rt_gradsync_finish(rt_gradsync *s, double *t_comm, double *t_wait);
int rt_gradsync_num_buckets(const rt_gradsync *s);

#endif
