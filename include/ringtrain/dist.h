/** @file dist.h
 * The small collectives around the ring: agreeing on an error,
 * summing a few doubles, broadcasting parameters, and checking that replicas
 * are bit-identical. None of them uses MPI_Allreduce: sums are gathered and
 * added in rank order, so every rank gets the same bits. */
#ifndef RINGTRAIN_DIST_H
#define RINGTRAIN_DIST_H

#include "ringtrain/api.h"

#include <mpi.h>
#include <stdbool.h>
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
/** Rank 0's all (size x n floats; ignored elsewhere) gets every rank's buf
 * of n floats, row q from comm's rank q (in pieces: any n). Collective; a
 * rank that never joins is an RT_ECOMM error after the timeout. */
RT_API int rt_dist_gather(const float *buf, size_t n, float *all, MPI_Comm comm);
/** Cores this rank can call its own: the CPUs of its affinity mask, or the
 * node's online cores shared among the ranks on it, whichever is fewer (at
 * least 1). Collective over comm (it counts the ranks on each node). */
RT_API int rt_dist_cores_per_rank(MPI_Comm comm);
/** Where a rank runs: its host among the job's, and its place on that host. */
typedef struct rt_topology {
    int hosts;       /**< hosts in the job */
    int host;        /**< this rank's host, 0..hosts-1, ordered by each host's lowest rank */
    int local_rank;  /**< this rank's place among the ranks of its host */
    int local_size;  /**< ranks on this rank's host */
    int max_local;   /**< the most ranks any host has */
    int min_local;   /**< the fewest ranks any host has (= max_local: every host alike) */
} rt_topology;

/** Learns the topology (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)) and,
 * with order, makes *ring a communicator of the same ranks in host-major
 * order (host 0's ranks, then host 1's, ...), so that ring neighbours share a
 * host wherever they can, whatever the launcher's mapping (--map-by node
 * places ranks round-robin). Without order, *ring has comm's order. The
 * caller frees *ring with MPI_Comm_free. Collective over comm. */
RT_API int rt_dist_topology(MPI_Comm comm, bool order, rt_topology *t, MPI_Comm *ring);
/** FNV-1a over the bytes of buf (n floats). */
RT_API uint64_t rt_dist_checksum(const float *buf, size_t n);
/** Compares every rank's 64-bit digest of buf with rank 0's (the checkpoint
 * seal's digest, not rt_dist_checksum's FNV-1a: 20x faster). Returns RT_OK,
 * or RT_ERUNTIME naming the ranks that differ, on every rank. */
RT_API int rt_dist_check_replicas(const float *buf, size_t n, int64_t step, MPI_Comm comm);

#endif
