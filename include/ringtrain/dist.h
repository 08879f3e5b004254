/** @file dist.h
 * The small collectives around the ring: agreeing on an error,
 * summing a few doubles, broadcasting parameters, and checking that replicas
 * are bit-identical. None of them uses MPI_Allreduce: sums are gathered and
 * added in rank order, so every rank gets the same bits. */
#ifndef RINGTRAIN_DIST_H
#define RINGTRAIN_DIST_H

#include "ringtrain/api.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/** Bounds every wait in these collectives (default 300 s): past it they return
 * RT_ECOMM instead of blocking on a dead or stopped rank. */
RT_API void rt_dist_set_timeout(double seconds);

/** Every rank learns the largest rc of all ranks. A rank whose own rc was 0
 * but another's was not records a remote error (rt_err_remote) naming the
 * lowest rank that failed with that code. Every rank must call it. */
RT_API int rt_dist_agree(int rc, MPI_Comm comm);
/** The lowest rank for which `flag` is true, or the world size if none. */
RT_API int rt_dist_first(int flag, MPI_Comm comm);
/** v[0..n) becomes the sum over ranks (n <= 16), added in rank order. */
RT_API int rt_dist_sum(double *v, int n, MPI_Comm comm);
/** *v becomes the largest of every rank's *v (any world size). */
RT_API int rt_dist_max(double *v, MPI_Comm comm);
/** Copies rank 0's buffer of n floats to every rank. */
RT_API int rt_dist_bcast(float *buf, size_t n, MPI_Comm comm);
/** Cores this rank can call its own: the CPUs of its affinity mask, or the
 * node's online cores shared among the ranks on it, whichever is fewer (at
 * least 1). Collective over comm (it counts the ranks on each node). */
RT_API int rt_dist_cores_per_rank(MPI_Comm comm);
/** FNV-1a over the bytes of buf (n floats). */
RT_API uint64_t rt_dist_checksum(const float *buf, size_t n);
/** Compares every rank's checksum of buf with rank 0's. Returns RT_OK, or
 * RT_ERUNTIME naming the ranks that differ, on every rank. */
RT_API int rt_dist_check_replicas(const float *buf, size_t n, int64_t step, MPI_Comm comm);

#endif
