/** @file ring.h
 * Hand-written ring all-reduce (sum of float32) on MPI point-to-point.
 *
 * A reduce-scatter followed by an all-gather (baidu-allreduce), pipelined: each
 * rank's chunk travels in segments, so reducing one segment overlaps the
 * transfer of the next. The communicator and the tag are the caller's; every
 * MPI call's result is checked; a neighbour that stays silent past the
 * deadline is reported, never waited on forever. The ring's order is comm's
 * rank order (rt_dist_topology makes a host-major one); errors name ranks of
 * MPI_COMM_WORLD.
 */
#ifndef RINGTRAIN_RING_H
#define RINGTRAIN_RING_H

#include "ringtrain/api.h"

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_ring rt_ring;

/** A ring over comm for buffers of up to max_count floats. segment_bytes sets
 * the pipelining grain; timeout_s bounds every wait for a neighbour. Messages
 * use tags [tag, tag + 1024) on comm: no other traffic may use those while the
 * ring runs. Scratch memory is allocated here, once. The handle belongs to one
 * thread at a time. */
RT_API rt_ring *rt_ring_create(MPI_Comm comm, int tag, size_t max_count, size_t segment_bytes,
                               double timeout_s);
/** A hierarchical all-reduce over comm: this rank is local rank local_rank
 * of host `host` (rt_dist_topology), and every host must have the same
 * number of ranks R (the caller checks). Counts of at least min_count floats
 * take three stages, each a ring like the one above: a reduce-scatter within
 * each host; R inter-host rings at once, local rank i of every host summing
 * chunk i; an all-gather within the host. Per host, 2(H-1)/H of the buffer
 * crosses the network, against 2(N-1)/N for a flat ring over N = H x R.
 * Smaller counts, and rt_ring_sum_f64, take a flat ring over comm. The
 * guarantees are the ring's: the same bits on every rank, a summation order
 * that does not depend on timing (it differs from the flat ring's), a
 * deadline on every wait; errors say which stage's ring timed out. The rest
 * of this API takes the handle as it takes a flat ring's. Collective. */
RT_API rt_ring *rt_ring_create_hierarchical(MPI_Comm comm, int host, int local_rank, int tag,
                                            size_t max_count, size_t segment_bytes, size_t min_count,
                                            double timeout_s);
/** Whether some rank's neighbour in r (or, hierarchical, in any of its
 * stages: the flat ring over all ranks crosses whenever they do) is on
 * another host, so that its calls wait on a network. */
RT_API bool rt_ring_crosses_hosts(const rt_ring *r);
/** Whether a count-float call on r takes the hierarchical stages. */
RT_API bool rt_ring_is_hierarchical(const rt_ring *r, size_t count);
/** Frees the ring and its scratch (NULL: no-op); collective only in that no
 * rank may still be inside a ring call on it. */
RT_API void rt_ring_destroy(rt_ring *r);
/** In place: buf[i] becomes the sum of buf[i] over all ranks, identical bits on
 * every rank. count may be 0 and need not divide by the world size; it must
 * be the same on every rank and <= max_count. Returns RT_OK, or RT_ECOMM
 * with rt_errmsg() naming the failed call, or the silent neighbour and the
 * segment it owes once timeout_s has passed. */
RT_API int rt_ring_allreduce(rt_ring *r, float *buf, size_t count);

/** @{ */
/** The two halves of the all-reduce, for a sharded optimizer. After
 * rt_ring_reduce_scatter, the rank's owned range of buf (rt_ring_owned) holds
 * the sum over all ranks, the same bits rt_ring_allreduce gives there; the
 * rest of buf is partly reduced scratch. With sumsq non-NULL it also gets the
 * sum of the owned range's squares in double, taken while the last step adds
 * (the same bits for the same count, world size and segment size).
 * rt_ring_allgather copies every rank's owned range of buf to all the others.
 * Same count rules and errors. */
RT_API int rt_ring_reduce_scatter(rt_ring *r, float *buf, size_t count, double *sumsq);
RT_API int rt_ring_allgather(rt_ring *r, float *buf, size_t count);
/** @} */
/** @{ */
/** rt_ring_allreduce and rt_ring_reduce_scatter with the data on the wire
 * as bfloat16 (round to nearest even), half the bytes, and error feedback.
 * resid (count floats, this rank's own, zero at the start of a run) holds
 * the rounding errors of the last call: they are added into buf first, then
 * resid starts over and gets this call's. A rank rounds what it sends of its
 * partial sums (and, in the all-reduce, its owned sums, which every rank then
 * gets as the same bf16 values); what it receives it adds in float32. So
 * over all ranks, the sums of resid plus the result are the sums of the
 * inputs, up to float32 rounding: what one call's result lacks, the next
 * call's inputs carry. Every rank ends with the same bits; the order of the
 * operations is fixed by the ranks' places, as in the float32 ring. The
 * reduce-scatter's owned range is float32 (it never leaves the rank), and
 * resid is zero there. At one rank nothing is rounded. */
RT_API int rt_ring_allreduce_bf16(rt_ring *r, float *buf, size_t count, float *resid);
RT_API int rt_ring_reduce_scatter_bf16(rt_ring *r, float *buf, size_t count, double *sumsq,
                                       float *resid);
/** @} */
/** Bytes this rank has handed to MPI_Isend on r (and its stages) since it
 * was created: the payload on the wire, bf16 or float32. */
RT_API uint64_t rt_ring_bytes_sent(const rt_ring *r);
/** This rank's owned range [*lo, *hi) of a count-float buffer: one chunk of
 * about count / N (chunk rank + 1 of the schedule above; for a hierarchical
 * count, the inter-host ring's chunk of the intra-host ring's). */
RT_API void rt_ring_owned(const rt_ring *r, size_t count, size_t *lo, size_t *hi);
/** In place: v (n doubles, n small) becomes the sum over all ranks, added in
 * rank order in double, identical bits on every rank. scratch holds n * N
 * doubles; 2 * n * N floats must fit the ring's max_count. */
RT_API int rt_ring_sum_f64(rt_ring *r, double *v, int n, double *scratch);
/** @{ */
/** Size and rank of the ring's communicator. */
RT_API int rt_ring_size(const rt_ring *r);
RT_API int rt_ring_rank(const rt_ring *r);
/** @} */

#endif
