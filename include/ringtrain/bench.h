/** @file bench.h
 * `ringtrain bench allreduce`: the ring against MPI_Allreduce,
 * measured side by side in the same run, as bus bandwidth. */
#ifndef RINGTRAIN_BENCH_H
#define RINGTRAIN_BENCH_H

#include "ringtrain/api.h"
#include "ringtrain/costmodel.h"
#include "ringtrain/dist.h"
#include "ringtrain/ring.h"

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

/** Times the ring and MPI_Allreduce on buffers of each size (bytes) and prints,
 * on rank 0, a table (or JSON lines) of busbw = 2(N-1)/N * bytes / time and the
 * ratio. Collective over comm. Returns RT_OK or the ring's error. */
RT_API int rt_bench_allreduce(MPI_Comm comm, const size_t *sizes, int nsizes, size_t segment_bytes,
                              bool json);
/** rt_bench_allreduce with iters timed calls per round for every size (0:
 * as many as make 128 MiB, at least 5 and at most 200), for slow links. */
RT_API int rt_bench_allreduce_iters(MPI_Comm comm, const size_t *sizes, int nsizes, size_t segment_bytes,
                                    int iters, bool json);
/** rt_bench_allreduce_iters on the caller's ring (flat or hierarchical),
 * built over comm for at least rt_bench_max_count(sizes) floats; segment_bytes
 * is only printed. The table names the algorithm. */
RT_API int rt_bench_allreduce_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes,
                                 size_t segment_bytes, int iters, bool json);
/** The largest of sizes (bytes) in floats. */
RT_API size_t rt_bench_max_count(const size_t *sizes, int nsizes);
/** Measures the cost model's coefficients on comm (topology t): γ on every
 * rank, a ring within host 0 (when it holds 2+ ranks) and one across the
 * hosts (local rank 0 of each, when there are 2+) at every size and at
 * segment_bytes and a quarter of it, iters calls per round, best of 3; fits
 * each class and prints, on rank 0, the fit and every sample against it.
 * link_gbit (0: unknown) is recorded as the inter class's nominal rate.
 * The fit is rank 0's. Collective. */
RT_API int rt_bench_fit(MPI_Comm comm, const rt_topology *t, const size_t *sizes, int nsizes,
                        size_t segment_bytes, int iters, double link_gbit, rt_cost_fit *out);
/** rt_bench_allreduce_on with bf16 on the ring's wire (rt_ring_allreduce_bf16)
 * against the float32 ring on the same ring, rounds alternated; busbw counts
 * float32 bytes on both sides, so the ratio is what compression buys. */
RT_API int rt_bench_allreduce_bf16_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes,
                                      size_t segment_bytes, int fixed_iters, bool json);

#endif
