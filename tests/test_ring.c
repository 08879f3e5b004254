/* test_ring.c - the ring all-reduce against MPI_Allreduce as the oracle.
 *
 * Run under mpirun with any number of ranks. For each count (0, 1, N-1, N,
 * N+1, 1000003, 2^20+7) and two segment sizes, it checks:
 *   - integer-valued data that depends on rank and index: exactly equal;
 *   - random floats: |ring - oracle| <= 1e-5 * sum over ranks of |x| (the
 *     summation order differs; cancellation makes plain relative error useless);
 *   - the same data reduced as uneven buckets (sub-ranges, as the trainer does);
 *   - the same data as a reduce-scatter then an all-gather (the sharded
 *     optimizer's path), with everything outside the owned range poisoned with
 *     NaN in between: the owned range after the reduce-scatter, and the whole
 *     buffer after the all-gather, are bit for bit what rt_ring_allreduce gives;
 *   - every rank ends with identical bits.
 * It also checks rt_ring_sum_f64 against sums computed from the known inputs,
 * and the bf16 wire (rt_ring_allreduce_bf16, run_bf16) at the same counts.
 * With RT_RING_ORDER=topology the rings run on rt_dist_topology's host-major
 * communicator (the trainer's), and the order is printed and checked: each
 * host's ranks are neighbours. With RT_ALGORITHM=hierarchical every case runs
 * on rt_ring_create_hierarchical instead (min_count 0: every count takes its
 * stages), on the hosts rt_dist_topology finds or, with RT_RANKS_PER_HOST=R,
 * on hosts of R consecutive ranks each (one machine playing several). Rank 0
 * prints one line per case and "N passed, M failed".
 */
#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/rng.h"
#include "ringtrain/ring.h"

#include <math.h>
#include <stdbool.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, world, passed, failed;
static MPI_Comm ring_comm; /* MPI_COMM_WORLD, or its host-major order */
static int hier_host = -1, hier_local; /* this rank's place, when the rings are hierarchical */

static rt_ring *new_ring(int tag, size_t max_count, size_t seg_bytes) {
    if (hier_host < 0) return rt_ring_create(ring_comm, tag, max_count, seg_bytes, 60.0);
    return rt_ring_create_hierarchical(ring_comm, hier_host, hier_local, tag, max_count, seg_bytes, 0, 60.0);
}

static void report(bool ok_local, const char *fmt, size_t count, size_t seg, double err) {
    int ok = ok_local, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    double worst = 0;
    MPI_Allreduce(&err, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("%s np=%d count=%zu seg=%zuB %s (max err %.2e)\n", all ? "ok  " : "FAIL", world,
               count, seg, fmt, worst);
        fflush(stdout);
    }
    all ? passed++ : failed++;
}

static bool same_on_all_ranks(const float *buf, size_t n) {
    uint64_t h = rt_dist_checksum(buf, n), h0 = h;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return h == h0;
}

typedef enum { WHOLE, BUCKETS, SPLIT } ring_mode;
static const char *mode_name[] = {"whole", "buckets", "scatter+gather"};

/* The halves of the split path: the owned range after the reduce-scatter must
 * be the all-reduce's bits (ref, or NULL to skip), and the sum of squares the
 * reduce-scatter returns must match one added up here from those values; then
 * the rest is poisoned, so only the all-gather can fill it. */
static int split_reduce(rt_ring *r, float *buf, size_t count, const float *ref, size_t *bad) {
    double sumsq = -1.0, want = 0.0;
    int rc = rt_ring_reduce_scatter(r, buf, count, &sumsq);
    size_t lo, hi;
    rt_ring_owned(r, count, &lo, &hi);
    if (ref) *bad += memcmp(buf + lo, ref + lo, (hi - lo) * sizeof *buf) != 0;
    for (size_t i = lo; i < hi; i++) want += (double)buf[i] * (double)buf[i];
    *bad += !(fabs(sumsq - want) <= 1e-12 * want);
    for (size_t i = 0; i < count; i++)
        if (i < lo || i >= hi) buf[i] = NAN;
    return rc ? rc : rt_ring_allgather(r, buf, count);
}

/* Reduces buf with the ring, whole, as three uneven buckets, or split. */
static int ring_reduce(rt_ring *r, float *buf, size_t count, ring_mode m, const float *ref, size_t *bad) {
    if (m == WHOLE) return rt_ring_allreduce(r, buf, count);
    if (m == SPLIT) return split_reduce(r, buf, count, ref, bad);
    size_t cut1 = count / 7, cut2 = count / 2 + 3 < count ? count / 2 + 3 : count;
    int rc = rt_ring_allreduce(r, buf, cut1);
    if (!rc) rc = rt_ring_allreduce(r, buf + cut1, cut2 - cut1);
    if (!rc) rc = rt_ring_allreduce(r, buf + cut2, count - cut2);
    return rc;
}

static void run(size_t count, size_t seg_bytes, ring_mode m) {
    float *a = rt_malloc((count + 1) * sizeof(float));
    float *want = rt_malloc((count + 1) * sizeof(float));
    float *mag = rt_malloc((count + 1) * sizeof(float));
    float *ref = rt_malloc((count + 1) * sizeof(float));
    rt_ring *r = new_ring(77, count, seg_bytes);
    const char *mode = mode_name[m];
    char what[128];

    /* integer-valued: exact */
    for (size_t i = 0; i < count; i++) a[i] = (float)((rank + 1) * 1000 + (int)(i % 997) - 400);
    MPI_Allreduce(a, want, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    size_t bad = 0;
    int rc = ring_reduce(r, a, count, m, want, &bad);
    for (size_t i = 0; i < count; i++) bad += a[i] != want[i];
    snprintf(what, sizeof what, "%s integer-valued: exact", mode);
    bool same = same_on_all_ranks(a, count); /* a collective: every rank calls it */
    report(rc == 0 && bad == 0 && same, what, count, seg_bytes, (double)bad);

    /* random floats: tolerance, and identical bits on every rank */
    rt_rng g;
    rt_rng_seed(&g, 12345, (uint64_t)rank);
    for (size_t i = 0; i < count; i++) a[i] = rt_rng_normal(&g) * (float)(1 + rank);
    MPI_Allreduce(a, want, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (size_t i = 0; i < count; i++) mag[i] = fabsf(a[i]);
    MPI_Allreduce(MPI_IN_PLACE, mag, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    memcpy(ref, a, count * sizeof *a);
    if (m == SPLIT) rc = rt_ring_allreduce(r, ref, count);
    bad = 0;
    rc = rc ? rc : ring_reduce(r, a, count, m, ref, &bad);
    double err = 0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs((double)a[i] - (double)want[i]) / ((double)mag[i] + 1e-30);
        if (e > err) err = e;
    }
    if (m == SPLIT) bad += count && memcmp(a, ref, count * sizeof *a) != 0;
    snprintf(what, sizeof what, "%s random floats: rel err <= 1e-5, same bits on all ranks%s", mode,
             m == SPLIT ? ", = all-reduce bits" : "");
    same = same_on_all_ranks(a, count);
    report(rc == 0 && bad == 0 && err <= 1e-5 && same, what, count, seg_bytes, err);

    rt_ring_destroy(r);
    rt_free(ref);
    rt_free(a);
    rt_free(want);
    rt_free(mag);
}

/* ---- bf16 on the wire, with error feedback ---- */

static bool all_bf16(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        if (u & 0xffffu) return false;
    }
    return true;
}

/* max over i of |got[i] - want[i]| / mag[i] */
static double rel_err(const float *got, const double *want, const float *mag, size_t n) {
    double err = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / ((double)mag[i] + 1e-30);
        if (e > err) err = e;
    }
    return err;
}

/* sum over ranks of resid, plus res, in double on every rank (the oracle's side) */
static void resid_plus(const float *resid, const float *res, double *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = (double)resid[i];
    MPI_Allreduce(MPI_IN_PLACE, out, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    for (size_t i = 0; i < n; i++) out[i] += (double)res[i];
}

/* The bf16 all-reduce and reduce-scatter against MPI_Allreduce: sums that
 * bf16 holds exactly come out exact with zero residuals; random floats come
 * out as bf16 values within N 2^-8 of the sum of |x| (one rounding per hop),
 * the same bits on every rank, and the residuals over all ranks plus the
 * result are the sum within float32 rounding (1e-5); four calls on the same
 * inputs add up to four times the sum, and without the feedback (residuals
 * dropped) they do not; half the bytes of the float32 ring. */
static void run_bf16(size_t count, size_t seg_bytes) {
    size_t n1 = count + 1;
    float *a = rt_malloc(n1 * sizeof(float)), *x = rt_malloc(n1 * sizeof(float));
    float *mag = rt_malloc(n1 * sizeof(float)), *resid = rt_calloc(n1, sizeof(float));
    float *acc = rt_calloc(n1, sizeof(float));
    double *want = rt_malloc(n1 * sizeof(double)), *got = rt_malloc(n1 * sizeof(double));
    rt_ring *r = new_ring(75, count, seg_bytes);
    double N = (double)world, tol_bf = N * 0x1.0p-8;

    /* small integers: every partial sum is a bf16 value */
    for (size_t i = 0; i < count; i++) a[i] = (float)((rank + 1) * (int)(i % 5) - 2);
    for (size_t i = 0; i < count; i++) want[i] = 0.0, x[i] = a[i];
    MPI_Allreduce(x, mag, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    int rc = rt_ring_allreduce_bf16(r, a, count, resid);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) bad += a[i] != mag[i] || resid[i] != 0.0f;
    report(rc == 0 && bad == 0 && same_on_all_ranks(a, count), "bf16 small integers: exact, zero residuals",
           count, seg_bytes, (double)bad);

    /* random floats, one call */
    rt_rng g;
    rt_rng_seed(&g, 999, (uint64_t)rank);
    for (size_t i = 0; i < count; i++) x[i] = rt_rng_normal(&g) * (float)(1 + rank), resid[i] = 0.0f;
    for (size_t i = 0; i < count; i++) want[i] = (double)x[i];
    MPI_Allreduce(MPI_IN_PLACE, want, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    for (size_t i = 0; i < count; i++) mag[i] = fabsf(x[i]);
    MPI_Allreduce(MPI_IN_PLACE, mag, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    memcpy(a, x, count * sizeof *a);
    uint64_t b0 = rt_ring_bytes_sent(r);
    rc = rt_ring_allreduce_bf16(r, a, count, resid);
    uint64_t b_bf16 = rt_ring_bytes_sent(r) - b0;
    double err = rel_err(a, want, mag, count);
    resid_plus(resid, a, got, count);
    double ident = 0.0;
    for (size_t i = 0; i < count; i++) ident = fmax(ident, fabs(got[i] - want[i]) / ((double)mag[i] + 1e-30));
    bool ok = rc == 0 && err <= tol_bf && ident <= 1e-5 && (world == 1 || all_bf16(a, count)) &&
              same_on_all_ranks(a, count);
    report(ok, "bf16 random floats: bf16 values (N > 1), err <= N 2^-8, same bits; sum(resid) + result = sum <= 1e-5",
           count, seg_bytes, ident);

    /* four calls with feedback add up: what they lack is one call's rounding
     * (the residuals left), not four; dropping the residuals breaks that */
    double e_acc[2] = {0.0, 0.0};
    for (int fb = 1; fb >= 0; fb--) {
        for (size_t i = 0; i < count; i++) acc[i] = 0.0f, resid[i] = 0.0f;
        for (int k = 0; k < 4 && !rc; k++) {
            memcpy(a, x, count * sizeof *a);
            if (!fb) memset(resid, 0, count * sizeof *resid);
            rc = rt_ring_allreduce_bf16(r, a, count, resid);
            for (size_t i = 0; i < count; i++) acc[i] += a[i];
        }
        for (size_t i = 0; i < count; i++)
            e_acc[fb] = fmax(e_acc[fb], fabs((double)acc[i] - 4.0 * want[i]) / (4.0 * mag[i] + 1e-30));
        if (!fb) continue;
        resid_plus(resid, acc, got, count);
        double e = 0.0;
        for (size_t i = 0; i < count; i++) e = fmax(e, fabs(got[i] - 4.0 * want[i]) / (4.0 * mag[i] + 1e-30));
        report(rc == 0 && e <= 1e-5 && e_acc[1] <= tol_bf / 4,
               "bf16 four calls with feedback: sum(results) + sum(resid) = 4 sum <= 1e-5, results alone <= N 2^-10",
               count, seg_bytes, e_acc[1]);
    }
    if (count >= 1000 && world > 1)
        report(rc == 0 && e_acc[0] > 2.0 * e_acc[1],
               "bf16 negative control: without feedback four calls miss 4 sum by over twice as much", count,
               seg_bytes, e_acc[0]);

    /* as three uneven buckets, each with its range of the residuals */
    memcpy(a, x, count * sizeof *a);
    memset(resid, 0, count * sizeof *resid);
    size_t cut1 = count / 7, cut2 = count / 2 + 3 < count ? count / 2 + 3 : count;
    size_t lo3[3] = {0, cut1, cut2}, hi3[3] = {cut1, cut2, count};
    for (int b = 0; b < 3 && !rc; b++)
        rc = rt_ring_allreduce_bf16(r, a + lo3[b], hi3[b] - lo3[b], resid + lo3[b]);
    resid_plus(resid, a, got, count);
    ident = 0.0;
    for (size_t i = 0; i < count; i++) ident = fmax(ident, fabs(got[i] - want[i]) / ((double)mag[i] + 1e-30));
    report(rc == 0 && ident <= 1e-5 && same_on_all_ranks(a, count),
           "bf16 buckets: sum(resid) + result = sum <= 1e-5, same bits", count, seg_bytes, ident);

    /* the float32 ring's bytes for the same count */
    memcpy(a, x, count * sizeof *a);
    b0 = rt_ring_bytes_sent(r);
    rc = rc ? rc : rt_ring_allreduce(r, a, count);
    uint64_t b_f32 = rt_ring_bytes_sent(r) - b0;
    report(rc == 0 && 2 * b_bf16 == b_f32 && (world == 1 || count < 2 || b_f32 > 0),
           "bf16 sends half the float32 ring's bytes", count, seg_bytes, (double)b_bf16);

    /* reduce-scatter: the owned range in float32, zero residuals there, the identity */
    memcpy(a, x, count * sizeof *a);
    memset(resid, 0, count * sizeof *resid);
    double sumsq = -1.0, sq = 0.0;
    rc = rc ? rc : rt_ring_reduce_scatter_bf16(r, a, count, &sumsq, resid);
    size_t lo, hi;
    rt_ring_owned(r, count, &lo, &hi);
    for (size_t i = 0; i < count; i++) acc[i] = i >= lo && i < hi ? a[i] : 0.0f;
    for (size_t i = lo; i < hi; i++) sq += (double)a[i] * (double)a[i];
    bad = !(fabs(sumsq - sq) <= 1e-12 * sq);
    for (size_t i = lo; i < hi; i++) bad += resid[i] != 0.0f;
    resid_plus(resid, acc, got, count); /* every rank's resid; acc is this rank's owned part */
    for (size_t i = 0; i < count; i++) got[i] -= (double)acc[i];
    MPI_Allreduce(MPI_IN_PLACE, acc, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* owned ranges tile */
    for (size_t i = 0; i < count; i++) got[i] += (double)acc[i];
    ident = 0.0;
    for (size_t i = 0; i < count; i++) ident = fmax(ident, fabs(got[i] - want[i]) / ((double)mag[i] + 1e-30));
    report(rc == 0 && bad == 0 && ident <= 1e-5,
           "bf16 reduce-scatter: sumsq, zero owned residuals, sum(resid) + owned = sum <= 1e-5", count, seg_bytes,
           ident);

    rt_ring_destroy(r);
    rt_free(a), rt_free(x), rt_free(mag), rt_free(resid), rt_free(acc), rt_free(want), rt_free(got);
}

/* The host-major ring: every host's ranks form one run of ring positions, in
 * rank order, and hosts follow in the order of their lowest ranks. */
static void check_topology(void) {
    rt_topology t;
    if (rt_dist_topology(MPI_COMM_WORLD, true, &t, &ring_comm)) {
        fprintf(stderr, "rank %d: %s\n", rank, rt_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int me[3] = {rank, t.host, t.local_rank}, *all = rt_malloc(3 * (size_t)world * sizeof(int));
    MPI_Allgather(me, 3, MPI_INT, all, 3, MPI_INT, ring_comm); /* in ring order */
    bool ok = true;
    char text[512] = "";
    size_t used = 0;
    for (int p = 0; p < world; p++) {
        const int *a = all + 3 * p, *prev = all + 3 * (p - 1);
        if (p > 0) ok &= a[1] > prev[1] ? a[2] == 0 && a[1] == prev[1] + 1 : a[1] == prev[1] && a[2] == prev[2] + 1;
        else ok &= a[1] == 0 && a[2] == 0;
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%d(h%d)", p ? " " : "", a[0], a[1]);
        if (used >= sizeof text) used = sizeof text - 1;
    }
    char what[700];
    snprintf(what, sizeof what, "topology: %d hosts, ring order %s: host-major", t.hosts, text);
    report(ok, what, 0, 0, 0.0);
    rt_free(all);
}

/* The hierarchical all-reduce's hosts: rt_dist_topology's, or (R > 0) R
 * consecutive ranks each. The case checks that the stages are taken and that
 * rt_ring_owned tiles the buffer: every element owned by exactly one rank. */
static void check_hierarchical(int R) {
    rt_topology t;
    MPI_Comm tmp;
    if (rt_dist_topology(MPI_COMM_WORLD, false, &t, &tmp)) {
        fprintf(stderr, "rank %d: %s\n", rank, rt_errmsg());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_free(&tmp);
    int my_ring_rank;
    MPI_Comm_rank(ring_comm, &my_ring_rank);
    hier_host = R > 0 ? my_ring_rank / R : t.host;
    hier_local = R > 0 ? my_ring_rank % R : t.local_rank;
    int hosts = R > 0 ? (world + R - 1) / R : t.hosts, per = R > 0 ? R : t.local_size;
    size_t count = 1000003;
    rt_ring *r = new_ring(76, count, 4096);
    size_t lo, hi;
    rt_ring_owned(r, count, &lo, &hi);
    int *owner = rt_calloc(count, sizeof *owner);
    for (size_t i = lo; i < hi; i++) owner[i] = 1;
    MPI_Allreduce(MPI_IN_PLACE, owner, (int)count, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) bad += owner[i] != 1;
    char what[160];
    snprintf(what, sizeof what, "hierarchical: %d hosts x %d ranks, stages taken, owned ranges tile the buffer",
             hosts, per);
    report(rt_ring_is_hierarchical(r, count) && bad == 0, what, count, 4096, (double)bad);
    rt_free(owner);
    rt_ring_destroy(r);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    rt_log_rank = rank;
    ring_comm = MPI_COMM_WORLD;
    const char *order = getenv("RT_RING_ORDER");
    if (order && strcmp(order, "topology") == 0) check_topology();
    const char *algo = getenv("RT_ALGORITHM"), *rph = getenv("RT_RANKS_PER_HOST");
    if (algo && strcmp(algo, "hierarchical") == 0) check_hierarchical(rph ? atoi(rph) : 0);
    size_t n = (size_t)world;
    size_t counts[] = {0, 1, n > 1 ? n - 1 : 0, n, n + 1, 1000003, (1u << 20) + 7};
    size_t segs[] = {256 * 1024, 256};
    for (size_t s = 0; s < 2; s++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            if (segs[s] == 256 && counts[c] > 100000) continue; /* tiny segments: small counts */
            for (int m = WHOLE; m <= SPLIT; m++) run(counts[c], segs[s], (ring_mode)m);
            run_bf16(counts[c], segs[s]);
        }
    /* sum_f64: rank q contributes {q + 0.1, 1e-17 * (q + 1), -q - 1}; the sum in
     * the ring's rank order is computed here from those formulas, in double */
    {
        double v[3] = {rank + 0.1, 1e-17 * (rank + 1), -(double)rank - 1.0}, want[3] = {0, 0, 0};
        int *ring_order = rt_malloc((size_t)world * sizeof(int));
        MPI_Allgather(&rank, 1, MPI_INT, ring_order, 1, MPI_INT, ring_comm);
        for (int p = 0; p < world; p++) {
            int q = ring_order[p];
            want[0] += q + 0.1;
            want[1] += 1e-17 * (q + 1);
            want[2] += -(double)q - 1.0;
        }
        double *scratch = rt_malloc(3 * (size_t)world * sizeof *scratch);
        rt_ring *r = new_ring(79, 6 * (size_t)world, 1024);
        int rc = rt_ring_sum_f64(r, v, 3, scratch);
        bool ok = rc == 0 && memcmp(v, want, sizeof v) == 0;
        report(ok, "sum_f64: exact double sums in the ring's order on every rank", 3, 1024, 0.0);
        rt_free(ring_order);
        rt_ring_destroy(r);
        rt_free(scratch);
    }
    /* negative control: one wrong element on the last rank must be caught by
     * both the exact comparison and the identical-bits check */
    {
        size_t count = 4099;
        float *a = rt_malloc(count * sizeof(float)), *want = rt_malloc(count * sizeof(float));
        for (size_t i = 0; i < count; i++) a[i] = (float)(rank * 7 + (int)(i % 13));
        MPI_Allreduce(a, want, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        rt_ring *r = new_ring(78, count, 1024);
        rt_ring_allreduce(r, a, count);
        if (rank == world - 1) a[count / 2] += 1.0f;
        size_t bad = 0;
        for (size_t i = 0; i < count; i++) bad += a[i] != want[i];
        int caught_exact = rank == world - 1 ? bad == 1 : bad == 0, all_exact = 0;
        MPI_Allreduce(&caught_exact, &all_exact, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        bool bits_differ = world > 1 ? !same_on_all_ranks(a, count) : true;
        int differ = bits_differ, any_differ = 0;
        MPI_Allreduce(&differ, &any_differ, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        bool ok = all_exact && any_differ;
        if (rank == 0)
            printf("%s negative control: a corrupted element is caught by both checks\n",
                   ok ? "ok  " : "FAIL");
        ok ? passed++ : failed++;
        rt_ring_destroy(r);
        rt_free(a);
        rt_free(want);
    }
    if (rank == 0) printf("%d passed, %d failed\n", passed, failed);
    MPI_Finalize();
    return failed ? 1 : 0;
}
