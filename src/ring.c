/* ring.c - pipelined ring all-reduce over MPI_Isend / MPI_Irecv.
 *
 * The buffer is cut into N chunks, chunk i = [floor(i*count/N), floor((i+1)*count/N)).
 * Rank r sends to r+1 and receives from r-1. In reduce-scatter step k it sends
 * chunk (r-k) and adds the received chunk (r-k-1) into its own copy; after N-1
 * steps it holds the full sum of chunk (r+1). In all-gather step k it sends
 * chunk (r+1-k) and stores the received chunk (r-k).
 *
 * N = 3, chunks c0 c1 c2 ("c0 > / < c2": sends c0 to the right, receives c2
 * from the left):
 *
 *                      rank 0          rank 1          rank 2
 *   reduce-scatter
 *     step 0           c0 > / < c2     c1 > / < c0     c2 > / < c1
 *     step 1           c2 > / < c1     c0 > / < c2     c1 > / < c0
 *   holds the sum of   c1              c2              c0
 *   all-gather
 *     step 0           c1 > / < c0     c2 > / < c1     c0 > / < c2
 *     step 1           c0 > / < c2     c1 > / < c0     c2 > / < c1
 *
 * Within a step the chunk moves as segments of segment_bytes: all receives and
 * sends are posted at once and each segment is reduced as soon as it lands,
 * while later segments are still in flight. Every rank moves 2(N-1)/N of the
 * buffer in each direction, whatever N is.
 */
#include "ringtrain/ring.h"

#include "ringtrain/common.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct rt_ring {
    MPI_Comm comm;
    int tag, rank, size;
    size_t max_count;
    size_t seg;            /* floats per segment */
    double timeout_s;
    float *scratch;        /* (max chunk) incoming data of a reduce-scatter step */
    MPI_Request *rreq;     /* (max segments) */
    MPI_Request *sreq;     /* (max segments) */
    int max_segs;
};

static size_t chunk_lo(size_t count, int i, int n) { return (count * (size_t)i) / (size_t)n; }

static int mod(int a, int n) { return ((a % n) + n) % n; }

rt_ring *rt_ring_create(MPI_Comm comm, int tag, size_t max_count, size_t segment_bytes,
                        double timeout_s) {
    rt_ring *r = rt_calloc(1, sizeof *r);
    r->comm = comm;
    r->tag = tag;
    MPI_Comm_rank(comm, &r->rank);
    MPI_Comm_size(comm, &r->size);
    r->max_count = max_count;
    r->seg = segment_bytes / sizeof(float);
    if (r->seg < 16) r->seg = 16;
    r->timeout_s = timeout_s;
    size_t max_chunk = (max_count + (size_t)r->size - 1) / (size_t)r->size + 1;
    r->scratch = rt_alloc_aligned(rt_mul_size(max_chunk, sizeof(float)));
    r->max_segs = (int)((max_chunk + r->seg - 1) / r->seg) + 1;
    r->rreq = rt_calloc((size_t)r->max_segs, sizeof *r->rreq);
    r->sreq = rt_calloc((size_t)r->max_segs, sizeof *r->sreq);
    return r;
}

void rt_ring_destroy(rt_ring *r) {
    if (!r) return;
    rt_free(r->scratch);
    rt_free(r->rreq);
    rt_free(r->sreq);
    rt_free(r);
}

int rt_ring_size(const rt_ring *r) { return r->size; }
int rt_ring_rank(const rt_ring *r) { return r->rank; }

/* ---- ring: the reduction kernel ---- */

/* dst += src; written so the compiler vectorises it (checked with -fopt-info-vec). */
static void add_into(float *restrict dst, const float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- ring: waiting with a deadline ---- */

static const char *mpi_errstr(int code, char *buf) {
    int len = 0;
    if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) snprintf(buf, 64, "MPI error %d", code);
    return buf;
}

/* Waits for any of the n receive requests; returns its index in *idx. Polls with
 * MPI_Testany so a dead or stopped neighbour turns into an error at the deadline. */
static int wait_any(rt_ring *r, int n, int *idx, double deadline, const char *phase, int step) {
    int spins = 0;
    for (;;) {
        int flag = 0, rc;
        char es[MPI_MAX_ERROR_STRING];
        rc = MPI_Testany(n, r->rreq, idx, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ERUNTIME, "ring %s step %d: receive from rank %d failed: %s", phase,
                          step, mod(r->rank - 1, r->size), mpi_errstr(rc, es));
        if (flag) return RT_OK;
        if (++spins % 64 == 0) {
            if (rt_now() > deadline)
                return rt_err(RT_ERUNTIME,
                              "ring %s step %d: no data from rank %d for %.0f s (waiting for a "
                              "segment of chunk %d); is that rank dead or stopped?",
                              phase, step, mod(r->rank - 1, r->size), r->timeout_s,
                              mod(r->rank - step - 1, r->size));
            sched_yield();
        }
    }
}

static int wait_sends(rt_ring *r, int n, double deadline, const char *phase, int step) {
    int spins = 0;
    for (;;) {
        int flag = 0;
        char es[MPI_MAX_ERROR_STRING];
        int rc = MPI_Testall(n, r->sreq, &flag, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ERUNTIME, "ring %s step %d: send to rank %d failed: %s", phase, step,
                          mod(r->rank + 1, r->size), mpi_errstr(rc, es));
        if (flag) return RT_OK;
        if (++spins % 64 == 0) {
            if (rt_now() > deadline)
                return rt_err(RT_ERUNTIME, "ring %s step %d: rank %d took no data for %.0f s", phase,
                              step, mod(r->rank + 1, r->size), r->timeout_s);
            sched_yield();
        }
    }
}

/* ---- ring: one step ---- */

/* Sends [sbuf, sbuf+sn) to the right and receives rn floats from the left into
 * rbuf, segment by segment. With `reduce`, rbuf is scratch and each arrived
 * segment is added into dst; otherwise data lands in place. */
static int ring_step(rt_ring *r, const float *sbuf, size_t sn, float *rbuf, size_t rn, float *dst,
                     bool reduce, const char *phase, int step) {
    int right = mod(r->rank + 1, r->size), left = mod(r->rank - 1, r->size);
    int nr = (int)((rn + r->seg - 1) / r->seg), ns = (int)((sn + r->seg - 1) / r->seg);
    char es[MPI_MAX_ERROR_STRING];
    for (int i = 0; i < nr; i++) {
        size_t off = (size_t)i * r->seg, len = rn - off < r->seg ? rn - off : r->seg;
        int rc = MPI_Irecv(rbuf + off, (int)len, MPI_FLOAT, left, r->tag, r->comm, &r->rreq[i]);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ERUNTIME, "ring %s step %d: MPI_Irecv from rank %d: %s", phase, step,
                          left, mpi_errstr(rc, es));
    }
    for (int i = 0; i < ns; i++) {
        size_t off = (size_t)i * r->seg, len = sn - off < r->seg ? sn - off : r->seg;
        int rc = MPI_Isend(sbuf + off, (int)len, MPI_FLOAT, right, r->tag, r->comm, &r->sreq[i]);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ERUNTIME, "ring %s step %d: MPI_Isend to rank %d: %s", phase, step,
                          right, mpi_errstr(rc, es));
    }
    double deadline = rt_now() + r->timeout_s;
    for (int done = 0; done < nr; done++) {
        int idx = MPI_UNDEFINED;
        int rc = wait_any(r, nr, &idx, deadline, phase, step);
        if (rc) return rc;
        if (reduce && idx != MPI_UNDEFINED) {
            size_t off = (size_t)idx * r->seg, len = rn - off < r->seg ? rn - off : r->seg;
            add_into(dst + off, rbuf + off, len);
        }
    }
    return wait_sends(r, ns, deadline, phase, step);
}

/* ---- ring: reduce-scatter then all-gather ---- */

int rt_ring_allreduce(rt_ring *r, float *buf, size_t count) {
    int n = r->size;
    RT_CHECK(count <= r->max_count, "ring: %zu floats exceed the %zu it was built for", count,
             r->max_count);
    if (n == 1 || count == 0) return RT_OK;
    for (int k = 0; k < n - 1; k++) {
        int sc = mod(r->rank - k, n), rcv = mod(r->rank - k - 1, n);
        size_t slo = chunk_lo(count, sc, n), shi = chunk_lo(count, sc + 1, n);
        size_t rlo = chunk_lo(count, rcv, n), rhi = chunk_lo(count, rcv + 1, n);
        int rc = ring_step(r, buf + slo, shi - slo, r->scratch, rhi - rlo, buf + rlo, true,
                           "reduce-scatter", k);
        if (rc) return rc;
    }
    for (int k = 0; k < n - 1; k++) {
        int sc = mod(r->rank + 1 - k, n), rcv = mod(r->rank - k, n);
        size_t slo = chunk_lo(count, sc, n), shi = chunk_lo(count, sc + 1, n);
        size_t rlo = chunk_lo(count, rcv, n), rhi = chunk_lo(count, rcv + 1, n);
        int rc = ring_step(r, buf + slo, shi - slo, buf + rlo, rhi - rlo, NULL, false,
                           "all-gather", k);
        if (rc) return rc;
    }
    return RT_OK;
}
