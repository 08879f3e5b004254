/* bench.c - ring vs MPI_Allreduce bus bandwidth, and the bf16 ring vs the
 * float32 ring. MPI_Allreduce appears here only as the yardstick; training
 * never calls it. */
#include "ringtrain/bench.h"

#include "ringtrain/common.h"
#include "ringtrain/ring.h"

#include <stdio.h>
#include <string.h>

/* What a round times: the ring, MPI_Allreduce, or the ring with bf16 on the
 * wire (resid its residuals). */
typedef enum { BY_RING, BY_MPI, BY_BF16 } bench_by;

/* Seconds per call over iters calls: the slowest rank's mean. One untimed
 * call leads: it spends the burst credit a shaped link (tbf's bucket, a
 * switch's buffer) saved while the ranks idled at the barrier, so the timed
 * calls see the rate the link sustains, as a step's buckets do. */
static int time_round(MPI_Comm comm, rt_ring *ring, float *buf, float *resid, size_t count, int iters,
                      bench_by by, double *secs) {
    MPI_Barrier(comm);
    double t0 = 0.0;
    for (int i = -1; i < iters; i++) {
        if (i == 0) t0 = rt_now();
        int rc = RT_OK;
        if (by == BY_RING)
            rc = rt_ring_allreduce(ring, buf, count);
        else if (by == BY_BF16)
            rc = rt_ring_allreduce_bf16(ring, buf, count, resid);
        else if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
            rc = rt_err(RT_ERUNTIME, "MPI_Allreduce failed");
        if (rc) return rc;
    }
    double mine = (rt_now() - t0) / iters;
    MPI_Allreduce(&mine, secs, 1, MPI_DOUBLE, MPI_MAX, comm);
    return RT_OK;
}

/* Best of ROUNDS rounds for each, the two sides' rounds alternated so a
 * burst of load on this shared machine falls on both alike. */
#define ROUNDS 7
static int time_pair(MPI_Comm comm, rt_ring *ring, float *buf, float *resid, size_t count, int iters,
                     bench_by mine, bench_by peer, double *t_ring, double *t_mpi) {
    *t_ring = *t_mpi = 1e30;
    for (int round = 0; round < ROUNDS; round++) {
        double a, b;
        int rc = time_round(comm, ring, buf, resid, count, iters, mine, &a);
        if (!rc) rc = time_round(comm, ring, buf, resid, count, iters, peer, &b);
        if (rc) return rc;
        if (a < *t_ring) *t_ring = a;
        if (b < *t_mpi) *t_mpi = b;
    }
    return RT_OK;
}

int rt_bench_allreduce(MPI_Comm comm, const size_t *sizes, int nsizes, size_t segment_bytes,
                       bool json) {
    return rt_bench_allreduce_iters(comm, sizes, nsizes, segment_bytes, 0, json);
}

size_t rt_bench_max_count(const size_t *sizes, int nsizes) {
    size_t max_count = 0;
    for (int i = 0; i < nsizes; i++)
        if (sizes[i] / sizeof(float) > max_count) max_count = sizes[i] / sizeof(float);
    return max_count;
}

int rt_bench_allreduce_iters(MPI_Comm comm, const size_t *sizes, int nsizes, size_t segment_bytes,
                             int fixed_iters, bool json) {
    rt_ring *ring = rt_ring_create(comm, 202, rt_bench_max_count(sizes, nsizes), segment_bytes, 300.0);
    int rc = rt_bench_allreduce_on(comm, ring, sizes, nsizes, segment_bytes, fixed_iters, json);
    rt_ring_destroy(ring);
    return rc;
}

static int bench_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes, size_t segment_bytes,
                    int fixed_iters, bool json, bool bf16);

int rt_bench_allreduce_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes, size_t segment_bytes,
                          int fixed_iters, bool json) {
    return bench_on(comm, ring, sizes, nsizes, segment_bytes, fixed_iters, json, false);
}

int rt_bench_allreduce_bf16_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes,
                               size_t segment_bytes, int fixed_iters, bool json) {
    return bench_on(comm, ring, sizes, nsizes, segment_bytes, fixed_iters, json, true);
}

/* The ring (bf16: with bf16 on the wire) against its peer (MPI_Allreduce;
 * bf16: the float32 ring), size by size; busbw in float32 bytes either way. */
static int bench_on(MPI_Comm comm, rt_ring *ring, const size_t *sizes, int nsizes, size_t segment_bytes,
                    int fixed_iters, bool json, bool bf16) {
    int rank, n;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n);
    size_t max_count = rt_bench_max_count(sizes, nsizes);
    float *buf = rt_alloc_aligned(rt_mul_size(max_count ? max_count : 1, sizeof(float)));
    float *resid = bf16 ? rt_calloc(max_count ? max_count : 1, sizeof(float)) : NULL;
    for (size_t i = 0; i < max_count; i++) buf[i] = (float)((i % 251) * 1e-3);
    const char *algo = rt_ring_is_hierarchical(ring, max_count) ? "hierarchical" : "ring";
    bench_by mine = bf16 ? BY_BF16 : BY_RING, peer = bf16 ? BY_RING : BY_MPI;
    if (rank == 0 && !json) {
        printf("%s all-reduce%s vs %s, %d ranks, segment %zu KiB (busbw = 2(N-1)/N x float32 bytes / time)\n",
               algo, bf16 ? " with bf16 on the wire" : "", bf16 ? "the float32 ring" : "MPI_Allreduce", n,
               segment_bytes / 1024);
        printf("%12s %8s %14s %14s %8s\n", "bytes", "iters", bf16 ? "bf16 GB/s" : "ring GB/s",
               bf16 ? "float32 GB/s" : "MPI GB/s", "ratio");
    }
    int rc = RT_OK;
    for (int s = 0; s < nsizes && !rc; s++) {
        size_t count = sizes[s] / sizeof(float), bytes = count * sizeof(float);
        int iters = (int)((128u << 20) / (bytes ? bytes : 1));
        iters = fixed_iters > 0 ? fixed_iters : iters < 5 ? 5 : iters > 200 ? 200 : iters;
        double t_ring = 0, t_mpi = 0, warm;
        rc = time_round(comm, ring, buf, resid, count, 2, mine, &warm); /* warm up both */
        if (!rc) rc = time_round(comm, ring, buf, resid, count, 2, peer, &warm);
        if (!rc) rc = time_pair(comm, ring, buf, resid, count, iters, mine, peer, &t_ring, &t_mpi);
        if (rc) break;
        double factor = n > 1 ? 2.0 * (n - 1) / n : 1.0;
        double bw_ring = factor * (double)bytes / t_ring / 1e9, bw_mpi = factor * (double)bytes / t_mpi / 1e9;
        if (rank == 0) {
            if (json)
                printf("{\"bench\":\"allreduce\",\"algorithm\":\"%s\",\"compress\":\"%s\",\"peer\":\"%s\",\"ranks\":%d,"
                       "\"segment_bytes\":%zu,\"rounds\":%d,\"bytes\":%zu,"
                       "\"iters\":%d,\"ring_busbw_gbs\":%.4f,\"%s_busbw_gbs\":%.4f,\"ratio\":%.4f,"
                       "\"ring_s\":%.9f,\"%s_s\":%.9f}\n",
                       algo, bf16 ? "bf16" : "none", bf16 ? "float32 ring" : "MPI_Allreduce", n, segment_bytes,
                       ROUNDS, bytes, iters, bw_ring, bf16 ? "f32" : "mpi", bw_mpi, bw_ring / bw_mpi, t_ring,
                       bf16 ? "f32" : "mpi", t_mpi);
            else
                printf("%12zu %8d %14.3f %14.3f %7.2fx\n", bytes, iters, bw_ring, bw_mpi, bw_ring / bw_mpi);
            fflush(stdout);
        }
    }
    rt_free(buf);
    rt_free(resid);
    return rc;
}
