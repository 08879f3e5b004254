/* ring.h - hand-written ring all-reduce (sum of float32) on MPI point-to-point.
 *
 * A reduce-scatter followed by an all-gather (baidu-allreduce), pipelined: each
 * rank's chunk travels in segments, so reducing one segment overlaps the
 * transfer of the next. The communicator and the tag are the caller's; every
 * MPI call's result is checked; a neighbour that stays silent past the
 * deadline is reported, never waited on forever.
 */
#ifndef RINGTRAIN_RING_H
#define RINGTRAIN_RING_H

#include <mpi.h>
#include <stddef.h>

typedef struct rt_ring rt_ring;

/* A ring over comm for buffers of up to max_count floats. segment_bytes sets
 * the pipelining grain; timeout_s bounds every wait for a neighbour. Messages
 * use tags [tag, tag + 1024) on comm: no other traffic may use those while the
 * ring runs. Scratch memory is allocated here, once. The handle belongs to one
 * thread at a time. */
rt_ring *rt_ring_create(MPI_Comm comm, int tag, size_t max_count, size_t segment_bytes,
                        double timeout_s);
void rt_ring_destroy(rt_ring *r);
/* In place: buf[i] becomes the sum of buf[i] over all ranks, identical bits on
 * every rank. count may be 0 and need not divide by the world size; it must
 * be the same on every rank and <= max_count. Returns RT_OK, or RT_ECOMM
 * with rt_errmsg() naming the failed call, or the silent neighbour and the
 * segment it owes once timeout_s has passed. */
int rt_ring_allreduce(rt_ring *r, float *buf, size_t count);
/* Size and rank of the ring's communicator. */
int rt_ring_size(const rt_ring *r);
int rt_ring_rank(const rt_ring *r);

#endif
