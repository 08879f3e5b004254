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
 * The chunk a rank sends at step s+1 is the chunk it received at step s (in
 * both phases, and across the switch from one to the other). So chunks move
 * as segments of segment_bytes, and segment j of step s+1 goes out as soon as
 * segment j of step s has landed (and, in reduce-scatter, been added): one
 * segment's reduction overlaps the transfer of the others and of the next
 * step. Every rank moves 2(N-1)/N of the buffer in each direction, whatever N.
 */
#include "ringtrain/ring.h"

#include "ringtrain/common.h"

#include "bf16.h"

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Segment j of a step travels with tag `tag + j % RT_RING_TAGS`. Segments reach
 * a neighbour in the order they become ready, not in index order, so distinct
 * tags (not arrival order) must decide which receive each one lands in. The
 * segment size grows if needed so a step never has more segments than tags. */
#define RT_RING_TAGS 1024

/* A reduce-scatter step receives into RT_RING_SLOTS segment-sized slots, segment
 * j into slot j % RT_RING_SLOTS, and posts the receive of segment j + SLOTS once
 * segment j is added. So the incoming data lands in memory that stays in cache
 * (2 x 512 KiB: the core's L2) instead of streaming through a chunk-sized
 * scratch: at np = 2, 16 and 64 MiB all-reduces ran 3.2 -> 4.0 GB/s and
 * 2.9 -> 3.6 GB/s (busbw), 1-4 MiB unchanged; and scratch memory no longer
 * grows with the model. One slot measured the same as two; 128-256 KiB
 * segments with 3-4 slots were slower (more messages). */
#define RT_RING_SLOTS 2

/* Where the left neighbour is on another host, a reduce-scatter step posts
 * the receives of its whole chunk at once (up to RT_RING_NET_WINDOW bytes of
 * scratch). Over TCP a large segment waits for the receiver's go-ahead (Open
 * MPI's rendezvous), and at 2 ranks that answer travels on the connection
 * that carries the receiver's own chunk, queued behind it: on 2 hosts at 400
 * Mbit/s (tests/cluster) two 512 KiB slots held 16 and 64 MiB all-reduces to
 * 0.029 and 0.026 GB/s against the link's 0.05, a 16 MiB window to 0.048
 * and 0.036, and the whole chunk to 0.048 and 0.048. */
#define RT_RING_NET_WINDOW (64u << 20)

struct rt_ring {
    MPI_Comm comm;
    int tag, rank, size;
    int left_w, right_w;   /* the neighbours' ranks in MPI_COMM_WORLD, for messages */
    size_t max_count;
    size_t seg;            /* floats per segment */
    double timeout_s;
    float *scratch;        /* (slots x seg) incoming segments of a reduce-scatter step */
    int slots;             /* RT_RING_SLOTS, or a network window's worth */
    bool crosses;          /* some rank's left neighbour is on another host */
    MPI_Request *rreq;     /* (max segments) receives of the current step */
    MPI_Request *sreq[2];  /* (max segments) sends of steps s and s+1 */
    double *segsq;         /* (max segments) owned segments' sums of squares */
    int max_segs;
    const char *name;      /* in errors: "ring", "intra-host ring", "inter-host ring" */
    /* bf16 on the wire (rt_ring_allreduce_bf16): the call's residuals, NULL
     * when it sends float32; and the bf16 form of the buffer, by position
     * (max_count, allocated at the first such call) */
    float *resid;
    uint16_t *wire;
    uint64_t bytes_sent;   /* payload handed to MPI_Isend since creation */
    /* hierarchical (rt_ring_create_hierarchical): counts >= hier_min go through
     * intra's reduce-scatter, inter's all-reduce of the owned chunk, and
     * intra's all-gather; smaller ones, and rt_ring_sum_f64, take this ring */
    rt_ring *intra, *inter;
    MPI_Comm intra_comm, inter_comm;
    size_t hier_min;
};

static size_t chunk_lo(size_t count, int i, int n) { return (count * (size_t)i) / (size_t)n; }

static int mod(int a, int n) { return ((a % n) + n) % n; }

/* Whether comm's rank `left` shares no memory with this rank (another host),
 * and whether any rank of comm is on another host than this one: then the
 * ring, a cycle through every rank, crosses hosts somewhere. Collective. */
static void find_hosts(MPI_Comm comm, int left, bool *left_remote, bool *crosses) {
    MPI_Comm local;
    int me, size, local_size;
    *left_remote = *crosses = false;
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &size);
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, me, MPI_INFO_NULL, &local) != MPI_SUCCESS) return;
    MPI_Group g, lg;
    int there = MPI_UNDEFINED;
    MPI_Comm_group(comm, &g);
    MPI_Comm_group(local, &lg);
    MPI_Group_translate_ranks(g, 1, &left, lg, &there);
    MPI_Comm_size(local, &local_size);
    MPI_Group_free(&g);
    MPI_Group_free(&lg);
    MPI_Comm_free(&local);
    *left_remote = there == MPI_UNDEFINED;
    *crosses = local_size < size;
}

rt_ring *rt_ring_create(MPI_Comm comm, int tag, size_t max_count, size_t segment_bytes,
                        double timeout_s) {
    rt_ring *r = rt_calloc(1, sizeof *r);
    r->comm = comm;
    r->tag = tag;
    r->name = "ring";
    r->intra_comm = r->inter_comm = MPI_COMM_NULL;
    MPI_Comm_rank(comm, &r->rank);
    MPI_Comm_size(comm, &r->size);
    int nb[2] = {mod(r->rank - 1, r->size), mod(r->rank + 1, r->size)}, w[2];
    MPI_Group g, world;
    MPI_Comm_group(comm, &g);
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    MPI_Group_translate_ranks(g, 2, nb, world, w);
    MPI_Group_free(&g);
    MPI_Group_free(&world);
    r->left_w = w[0];
    r->right_w = w[1];
    r->max_count = max_count;
    r->seg = segment_bytes / sizeof(float);
    if (r->seg < 16) r->seg = 16;
    r->timeout_s = timeout_s;
    size_t max_chunk = (max_count + (size_t)r->size - 1) / (size_t)r->size + 1;
    if ((max_chunk + r->seg - 1) / r->seg > RT_RING_TAGS) r->seg = (max_chunk + RT_RING_TAGS - 1) / RT_RING_TAGS;
    r->slots = RT_RING_SLOTS;
    bool remote;
    find_hosts(comm, nb[0], &remote, &r->crosses);
    if (remote) {
        size_t want = RT_RING_NET_WINDOW / (r->seg * sizeof(float)), need = max_chunk / r->seg + 1;
        want = want < need ? want : need;
        r->slots = want > RT_RING_SLOTS ? (int)want : RT_RING_SLOTS;
    }
    r->scratch = rt_alloc_aligned(rt_mul_size((size_t)r->slots * r->seg, sizeof(float)));
    r->max_segs = (int)((max_chunk + r->seg - 1) / r->seg) + 1;
    r->rreq = rt_calloc((size_t)r->max_segs, sizeof *r->rreq);
    for (int i = 0; i < 2; i++) r->sreq[i] = rt_calloc((size_t)r->max_segs, sizeof *r->sreq[i]);
    r->segsq = rt_calloc((size_t)r->max_segs, sizeof *r->segsq);
    return r;
}

void rt_ring_destroy(rt_ring *r) {
    if (!r) return;
    rt_ring_destroy(r->intra);
    rt_ring_destroy(r->inter);
    if (r->intra_comm != MPI_COMM_NULL) MPI_Comm_free(&r->intra_comm);
    if (r->inter_comm != MPI_COMM_NULL) MPI_Comm_free(&r->inter_comm);
    rt_free(r->scratch);
    rt_free(r->rreq);
    rt_free(r->sreq[0]);
    rt_free(r->sreq[1]);
    rt_free(r->segsq);
    rt_free(r->wire);
    rt_free(r);
}

int rt_ring_size(const rt_ring *r) { return r->size; }
int rt_ring_rank(const rt_ring *r) { return r->rank; }

/* ---- ring: the reduction kernel ---- */

/* dst += src; written so the compiler vectorises it (checked with -fopt-info-vec),
 * built for AVX2 and the baseline and picked at load time, like the optimizer's
 * loops (the same IEEE additions either way, so the same bits). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static void add_into(float *restrict dst, const float *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* dst += src, returning the sum of the squared results in double: the last
 * reduce-scatter step hands the caller its owned range's squared norm while
 * the data is in cache, instead of a second pass over it. Eight lanes, like
 * rt_grad_norm, so the loop vectorises; same additions into dst as add_into. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
static double add_sumsq(float *restrict dst, const float *restrict src, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float v = dst[i + k] + src[i + k];
            dst[i + k] = v;
            lane[k] += (double)v * (double)v;
        }
    for (int k = 0; i < n; i++, k++) {
        dst[i] += src[i];
        lane[k] += (double)dst[i] * (double)dst[i];
    }
    double s = 0.0;
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}

/* ---- ring: waiting with a deadline ---- */

static const char *mpi_errstr(int code, char *buf) {
    int len = 0;
    if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) snprintf(buf, 64, "MPI error %d", code);
    return buf;
}

/* Between polls of a wait that has lasted `waited` seconds: spin at first (a
 * neighbour inside the same ring answers within microseconds), then yield,
 * then sleep briefly. A rank whose neighbour is still in its backward pass
 * waits milliseconds; sleeping then leaves the core to this rank's own
 * backward (ranks and their communication threads share few cores). */
static void backoff(double waited) {
    if (waited < 50e-6) return;
    if (waited < 500e-6) {
        sched_yield();
        return;
    }
    struct timespec ts = {0, waited < 5e-3 ? 20000 : 200000};
    nanosleep(&ts, NULL);
}

/* Waits for any of the n receive requests; returns its index in *idx and the
 * number of floats that arrived in *got. Polls with MPI_Testany so a dead or
 * stopped neighbour turns into an error at the deadline. */
static int wait_any(rt_ring *r, int n, int *idx, int *got, double deadline, const char *phase,
                    int step) {
    int spins = 0;
    double start = rt_now();
    for (;;) {
        int flag = 0, rc;
        char es[MPI_MAX_ERROR_STRING];
        MPI_Status st;
        rc = MPI_Testany(n, r->rreq, idx, &flag, &st);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ECOMM, "%s %s step %d: receive from rank %d failed: %s", r->name, phase,
                          step, r->left_w, mpi_errstr(rc, es));
        if (flag) {
            *got = 0;
            if (*idx != MPI_UNDEFINED) MPI_Get_count(&st, r->resid ? MPI_UINT16_T : MPI_FLOAT, got);
            return RT_OK;
        }
        if (++spins % 16 == 0) {
            if (rt_now() > deadline)
                return rt_err(RT_ECOMM,
                              "%s %s step %d: no data from rank %d for %.0f s (waiting for a "
                              "segment of chunk %d); is that rank dead or stopped?",
                              r->name, phase, step, r->left_w, r->timeout_s,
                              mod(r->rank - step - 1, r->size));
            backoff(rt_now() - start);
        }
    }
}

static int wait_sends(rt_ring *r, MPI_Request *req, int n, double deadline, const char *phase,
                      int step) {
    int spins = 0;
    double start = rt_now();
    for (;;) {
        int flag = 0;
        char es[MPI_MAX_ERROR_STRING];
        int rc = MPI_Testall(n, req, &flag, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            return rt_err(RT_ECOMM, "%s %s step %d: send to rank %d failed: %s", r->name, phase, step,
                          r->right_w, mpi_errstr(rc, es));
        if (flag) return RT_OK;
        if (++spins % 16 == 0) {
            if (rt_now() > deadline)
                return rt_err(RT_ECOMM, "%s %s step %d: rank %d took no data for %.0f s", r->name, phase,
                              step, r->right_w, r->timeout_s);
            backoff(rt_now() - start);
        }
    }
}

/* ---- ring: the schedule ---- */

/* Step s of 2(N-1): reduce-scatter for s < N-1, then all-gather. */
typedef struct step_plan {
    size_t slo, sn;  /* chunk sent to the right */
    size_t rlo, rn;  /* chunk received from the left */
    bool reduce;
    const char *phase;
    int k;           /* step within its phase */
} step_plan;

static step_plan plan(const rt_ring *r, size_t count, int s) {
    int n = r->size;
    step_plan p;
    p.reduce = s < n - 1;
    p.k = p.reduce ? s : s - (n - 1);
    p.phase = p.reduce ? "reduce-scatter" : "all-gather";
    int sc = p.reduce ? mod(r->rank - p.k, n) : mod(r->rank + 1 - p.k, n);
    int rc = p.reduce ? mod(r->rank - p.k - 1, n) : mod(r->rank - p.k, n);
    p.slo = chunk_lo(count, sc, n);
    p.sn = chunk_lo(count, sc + 1, n) - p.slo;
    p.rlo = chunk_lo(count, rc, n);
    p.rn = chunk_lo(count, rc + 1, n) - p.rlo;
    return p;
}

static int nsegs(const rt_ring *r, size_t n) { return (int)((n + r->seg - 1) / r->seg); }

/* Posts segment j of step p's send into req[j]. In bf16, a reduce-scatter
 * step sends its partial sums rounded, and adds the rounding error to the
 * residuals; the first all-gather step rounds the owned sums in buf as well
 * (so the owner keeps the bits the others get); later all-gather steps
 * forward the bf16 values as they arrived, unchanged. */
static int send_segment(rt_ring *r, float *buf, const step_plan *p, int j, MPI_Request *req) {
    char es[MPI_MAX_ERROR_STRING];
    size_t off = (size_t)j * r->seg, len = p->sn - off < r->seg ? p->sn - off : r->seg;
    size_t at = p->slo + off;
    int right = mod(r->rank + 1, r->size);
    void *data = buf + at;
    if (r->resid) {
        if (p->reduce || p->k == 0) rt_bf16_encode(r->wire + at, buf + at, r->resid + at, len, !p->reduce);
        data = r->wire + at;
    }
    r->bytes_sent += len * (r->resid ? sizeof(uint16_t) : sizeof(float));
    int rc = MPI_Isend(data, (int)len, r->resid ? MPI_UINT16_T : MPI_FLOAT, right, r->tag + j % RT_RING_TAGS,
                       r->comm, &req[j]);
    if (rc != MPI_SUCCESS)
        return rt_err(RT_ECOMM, "%s %s step %d: MPI_Isend to rank %d: %s", r->name, p->phase, p->k,
                      r->right_w, mpi_errstr(rc, es));
    return RT_OK;
}

/* Posts the receive of segment j of step p: into its place in buf (in
 * bf16: in wire) for an all-gather step, into scratch slot j % slots for a
 * reduce-scatter step. */
static int post_recv(rt_ring *r, float *buf, const step_plan *p, int j) {
    char es[MPI_MAX_ERROR_STRING];
    size_t off = (size_t)j * r->seg, len = p->rn - off < r->seg ? p->rn - off : r->seg;
    void *dst = r->resid ? (void *)(r->wire + p->rlo + off) : (void *)(buf + p->rlo + off);
    if (p->reduce) dst = r->scratch + (size_t)(j % r->slots) * r->seg;
    int left = mod(r->rank - 1, r->size);
    int rc = MPI_Irecv(dst, (int)len, r->resid ? MPI_UINT16_T : MPI_FLOAT, left, r->tag + j % RT_RING_TAGS,
                       r->comm, &r->rreq[j]);
    if (rc != MPI_SUCCESS)
        return rt_err(RT_ECOMM, "%s %s step %d: MPI_Irecv from rank %d: %s", r->name, p->phase, p->k,
                      r->left_w, mpi_errstr(rc, es));
    return RT_OK;
}

/* ---- ring: reduce-scatter then all-gather, one pipeline ---- */

/* dst += the segment that landed in slot (float32, or bf16 in its first
 * half), and with sq, *sq = the sum of the squared results. */
static void add_segment(const rt_ring *r, float *dst, float *slot, size_t len, double *sq) {
    if (r->resid && sq) *sq = rt_bf16_add_sumsq(dst, (const uint16_t *)slot, len);
    else if (r->resid) rt_bf16_add(dst, (const uint16_t *)slot, len);
    else if (sq) *sq = add_sumsq(dst, slot, len);
    else add_into(dst, slot, len);
}

/* Runs steps [s0, s1) of the 2(N-1) schedule: all of them for an all-reduce,
 * the first N-1 for a reduce-scatter, the last N-1 for an all-gather. With
 * sumsq (a reduce-scatter), the last reduce step keeps each owned segment's
 * sum of squares in segsq; they are added in segment order after it, so the
 * bits do not depend on the order segments arrive in. */
static int run_steps(rt_ring *r, float *buf, size_t count, int s0, int s1, double *sumsq) {
    int n = r->size;
    RT_CHECK(count <= r->max_count, "ring: %zu floats exceed the %zu it was built for", count,
             r->max_count);
    if (sumsq) *sumsq = 0.0;
    if (n == 1 || count == 0) {
        if (sumsq)
            for (size_t i = 0; i < count; i++) *sumsq += (double)buf[i] * (double)buf[i];
        return RT_OK;
    }
    if (r->resid && !r->wire) r->wire = rt_alloc_aligned(rt_mul_size(r->max_count + 1, sizeof *r->wire));
    step_plan cur = plan(r, count, s0);
    for (int j = 0; j < nsegs(r, cur.sn); j++) {
        int rc = send_segment(r, buf, &cur, j, r->sreq[s0 % 2]);
        if (rc) return rc;
    }
    for (int s = s0; s < s1; s++) {
        bool more = s + 1 < s1;
        step_plan next = more ? plan(r, count, s + 1) : cur;
        MPI_Request *sreq_now = r->sreq[s % 2], *sreq_next = r->sreq[(s + 1) % 2];
        int nr = nsegs(r, cur.rn);
        /* the last reduce step completes the owned chunk: square it as it adds */
        bool square = sumsq && cur.reduce && cur.k == n - 2;
        int window = cur.reduce && r->slots < nr ? r->slots : nr;
        for (int j = 0; j < nr; j++) {
            r->rreq[j] = MPI_REQUEST_NULL;
            r->segsq[j] = 0.0;
        }
        for (int j = 0; j < window; j++) {
            int rc = post_recv(r, buf, &cur, j);
            if (rc) return rc;
        }
        double deadline = rt_now() + r->timeout_s;
        for (int done = 0; done < nr; done++) {
            int j = MPI_UNDEFINED, got = 0;
            int rc = wait_any(r, nr, &j, &got, deadline, cur.phase, cur.k);
            if (rc) return rc;
            if (j == MPI_UNDEFINED) continue;
            size_t off = (size_t)j * r->seg, len = cur.rn - off < r->seg ? cur.rn - off : r->seg;
            if ((size_t)got != len) /* the two ranks disagree on the buffer: a bug, not bad luck */
                return rt_err(RT_ECOMM, "%s %s step %d: segment %d from rank %d has %d floats, expected %zu "
                              "(do all ranks pass the same count?)", r->name, cur.phase, cur.k, j, r->left_w, got, len);
            if (cur.reduce) {
                float *slot = r->scratch + (size_t)(j % r->slots) * r->seg;
                add_segment(r, buf + cur.rlo + off, slot, len, square ? &r->segsq[j] : NULL);
                if (j + window < nr && (rc = post_recv(r, buf, &cur, j + window))) return rc;
            } else if (r->resid) {
                rt_bf16_decode(buf + cur.rlo + off, r->wire + cur.rlo + off, len);
            }
            /* what just landed is what goes out next: forward it at once */
            if (more && (rc = send_segment(r, buf, &next, j, sreq_next))) return rc;
        }
        int rc = wait_sends(r, sreq_now, nsegs(r, cur.sn), deadline, cur.phase, cur.k);
        if (rc) return rc;
        if (square)
            for (int j = 0; j < nr; j++) *sumsq += r->segsq[j];
        cur = next;
    }
    return RT_OK;
}

/* ---- hierarchical: a ring within each host, R rings across hosts ---- */

rt_ring *rt_ring_create_hierarchical(MPI_Comm comm, int host, int local_rank, int tag, size_t max_count,
                                     size_t segment_bytes, size_t min_count, double timeout_s) {
    rt_ring *r = rt_ring_create(comm, tag, max_count, segment_bytes, timeout_s);
    MPI_Comm_split(comm, host, local_rank, &r->intra_comm);
    MPI_Comm_split(comm, local_rank, host, &r->inter_comm);
    r->intra = rt_ring_create(r->intra_comm, tag, max_count, segment_bytes, timeout_s);
    int local_size = r->intra->size;
    /* local rank i owns chunk i + 1 of the intra ring: at most ceil(count / R) */
    r->inter = rt_ring_create(r->inter_comm, tag, max_count / (size_t)local_size + 1, segment_bytes, timeout_s);
    r->intra->name = "intra-host ring";
    r->inter->name = "inter-host ring";
    r->hier_min = min_count;
    return r;
}

static bool hierarchical(const rt_ring *r, size_t count) { return r->intra && count >= r->hier_min; }

static void flat_owned(const rt_ring *r, size_t count, size_t *lo, size_t *hi) {
    int c = mod(r->rank + 1, r->size);
    *lo = chunk_lo(count, c, r->size);
    *hi = chunk_lo(count, c + 1, r->size);
}

/* The three calls below, on float32 (resid NULL) or bf16 with resid the
 * residuals: every stage's rings round into the same array, by position. */
static int allreduce(rt_ring *r, float *buf, size_t count, float *resid);
static int reduce_scatter(rt_ring *r, float *buf, size_t count, double *sumsq, float *resid);
static int allgather(rt_ring *r, float *buf, size_t count, float *resid);

/* Steps [s0, s1) of r's own schedule, with its residuals set for the call. */
static int flat(rt_ring *r, float *buf, size_t count, int s0, int s1, double *sumsq, float *resid) {
    r->resid = resid;
    int rc = run_steps(r, buf, count, s0, s1, sumsq);
    r->resid = NULL;
    return rc;
}

/* Within a host, a reduce-scatter leaves local rank i the host's sum of its
 * chunk; the ranks that own the same chunk on every host (one inter-host ring
 * per local rank, all running at once) sum it across hosts; an all-gather
 * within the host spreads the chunks. Each stage is a ring of its own, with
 * its own deadlines and a summation order fixed by the ranks' places, so
 * every rank gets the same bits whatever the timing. */
static int allreduce(rt_ring *r, float *buf, size_t count, float *resid) {
    if (!hierarchical(r, count)) return flat(r, buf, count, 0, 2 * (r->size - 1), NULL, resid);
    size_t lo, hi;
    rt_ring_owned(r->intra, count, &lo, &hi);
    int rc = reduce_scatter(r->intra, buf, count, NULL, resid);
    if (!rc) rc = allreduce(r->inter, buf + lo, hi - lo, resid ? resid + lo : NULL);
    return rc ? rc : allgather(r->intra, buf, count, resid);
}

static int reduce_scatter(rt_ring *r, float *buf, size_t count, double *sumsq, float *resid) {
    if (!hierarchical(r, count)) return flat(r, buf, count, 0, r->size - 1, sumsq, resid);
    size_t lo, hi;
    rt_ring_owned(r->intra, count, &lo, &hi);
    int rc = reduce_scatter(r->intra, buf, count, NULL, resid);
    return rc ? rc : reduce_scatter(r->inter, buf + lo, hi - lo, sumsq, resid ? resid + lo : NULL);
}

static int allgather(rt_ring *r, float *buf, size_t count, float *resid) {
    if (!hierarchical(r, count)) return flat(r, buf, count, r->size - 1, 2 * (r->size - 1), NULL, resid);
    size_t lo, hi;
    rt_ring_owned(r->intra, count, &lo, &hi);
    int rc = allgather(r->inter, buf + lo, hi - lo, resid ? resid + lo : NULL);
    return rc ? rc : allgather(r->intra, buf, count, resid);
}

int rt_ring_allreduce(rt_ring *r, float *buf, size_t count) { return allreduce(r, buf, count, NULL); }

int rt_ring_reduce_scatter(rt_ring *r, float *buf, size_t count, double *sumsq) {
    return reduce_scatter(r, buf, count, sumsq, NULL);
}

int rt_ring_allgather(rt_ring *r, float *buf, size_t count) { return allgather(r, buf, count, NULL); }

/* The last call's residuals join this call's sums, and start over at zero. */
static void feed_back(float *buf, float *resid, size_t count) {
    for (size_t i = 0; i < count; i++) {
        buf[i] += resid[i];
        resid[i] = 0.0f;
    }
}

int rt_ring_allreduce_bf16(rt_ring *r, float *buf, size_t count, float *resid) {
    feed_back(buf, resid, count);
    return r->size > 1 ? allreduce(r, buf, count, resid) : RT_OK;
}

int rt_ring_reduce_scatter_bf16(rt_ring *r, float *buf, size_t count, double *sumsq, float *resid) {
    feed_back(buf, resid, count);
    return reduce_scatter(r, buf, count, sumsq, r->size > 1 ? resid : NULL);
}

uint64_t rt_ring_bytes_sent(const rt_ring *r) {
    if (!r) return 0;
    return r->bytes_sent + rt_ring_bytes_sent(r->intra) + rt_ring_bytes_sent(r->inter);
}

void rt_ring_owned(const rt_ring *r, size_t count, size_t *lo, size_t *hi) {
    if (hierarchical(r, count)) { /* the inter ring's share of the intra ring's chunk */
        size_t a, b, c, d;
        rt_ring_owned(r->intra, count, &a, &b);
        rt_ring_owned(r->inter, b - a, &c, &d);
        *lo = a + c;
        *hi = a + d;
        return;
    }
    flat_owned(r, count, lo, hi);
}

bool rt_ring_is_hierarchical(const rt_ring *r, size_t count) { return hierarchical(r, count); }

bool rt_ring_crosses_hosts(const rt_ring *r) { return r->crosses; }

/* Each rank's n doubles travel as the raw bytes of 2n floats in its owned
 * chunk of an all-gather (a copy, so no bits change); every rank then adds the
 * same N vectors in rank order and gets the same bits. */
int rt_ring_sum_f64(rt_ring *r, double *v, int n, double *scratch) {
    int N = r->size;
    if (N == 1) return RT_OK;
    size_t count = (size_t)(2 * n * N), lo, hi;
    flat_owned(r, count, &lo, &hi); /* the flat ring, hierarchical or not */
    RT_CHECK(hi - lo == (size_t)(2 * n), "ring: sum_f64 chunk of %zu floats", hi - lo);
    memcpy(scratch + lo / 2, v, (size_t)n * sizeof *v);
    int rc = flat(r, (float *)scratch, count, N - 1, 2 * (N - 1), NULL, NULL);
    if (rc) return rc;
    for (int k = 0; k < n; k++) v[k] = 0.0;
    for (int q = 0; q < N; q++) /* rank q owns chunk q + 1 */
        for (int k = 0; k < n; k++) v[k] += scratch[(size_t)mod(q + 1, N) * (size_t)n + (size_t)k];
    return RT_OK;
}
