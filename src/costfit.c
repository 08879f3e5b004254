/* costfit.c - measuring the ring for the cost model (costmodel.h): γ from
 * the reduction alone, then rings within host 0 and across the hosts at
 * each size and two segment sizes, fitted per link class. */
#include "ringtrain/bench.h"

#include "ringtrain/common.h"
#include "ringtrain/costmodel.h"
#include "ringtrain/ring.h"

#include <stdio.h>
#include <string.h>

#define FIT_ROUNDS 3
#define MAX_SAMPLES 128
/* Each timed round moves at least this much: a shaper's burst credit (tbf's
 * bucket, a switch port's buffer) then spreads over the round, as it does
 * over a training step's buckets, instead of flattering a lone call. */
#define FIT_ROUND_BYTES (8u << 20)

/* Seconds per byte of dst += src over 16 MiB, the best of 5, measured on
 * every rank at once (as the ring's ranks reduce at once); the slowest rank's. */
static double measure_gamma(MPI_Comm comm) {
    size_t n = (16u << 20) / sizeof(float);
    float *a = rt_alloc_aligned(n * sizeof(float)), *b = rt_alloc_aligned(n * sizeof(float));
    for (size_t i = 0; i < n; i++) a[i] = 0.0f, b[i] = (float)(i % 7);
    double best = 1e30;
    for (int r = 0; r < 5; r++) {
        MPI_Barrier(comm);
        double t0 = rt_now();
        for (size_t i = 0; i < n; i++) a[i] += b[i];
        double t = rt_now() - t0;
        best = t < best ? t : best;
    }
    volatile float keep = a[n / 2];
    (void)keep;
    rt_free(a);
    rt_free(b);
    double g = best / (double)(n * sizeof(float)), worst = g;
    MPI_Allreduce(&g, &worst, 1, MPI_DOUBLE, MPI_MAX, comm);
    return worst;
}

/* The best of FIT_ROUNDS means over iters calls of a ring all-reduce of
 * count floats on sub (the slowest rank's), each round led by an untimed
 * call that spends the links' burst credit (as bench.c's rounds are). */
static int time_ring(MPI_Comm sub, rt_ring *r, float *buf, size_t count, int iters, double *secs) {
    *secs = 1e30;
    for (int round = 0; round < FIT_ROUNDS; round++) {
        MPI_Barrier(sub);
        double t0 = 0.0;
        for (int i = -1; i < iters; i++) {
            if (i == 0) t0 = rt_now();
            int rc = rt_ring_allreduce(r, buf, count);
            if (rc) return rc;
        }
        double mine = (rt_now() - t0) / iters, t = mine;
        MPI_Allreduce(&mine, &t, 1, MPI_DOUBLE, MPI_MAX, sub);
        *secs = t < *secs ? t : *secs;
    }
    return RT_OK;
}

/* Samples of one link class on sub (the ranks that take part; MPI_COMM_NULL
 * elsewhere): every size at segment seg and seg / 4, which moves the
 * segment count apart from the size so that σ and β separate. */
static int sample_class(MPI_Comm sub, const size_t *sizes, int nsizes, size_t seg, int iters,
                        rt_cost_sample *out, int *n) {
    *n = 0;
    if (sub == MPI_COMM_NULL) return RT_OK;
    int p;
    MPI_Comm_size(sub, &p);
    size_t max = rt_bench_max_count(sizes, nsizes);
    float *buf = rt_alloc_aligned((max ? max : 1) * sizeof(float));
    for (size_t i = 0; i < max; i++) buf[i] = (float)((i % 251) * 1e-3);
    int rc = RT_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        size_t s = k ? seg / 4 : seg;
        rt_ring *r = rt_ring_create(sub, 203 + k, max, s, 300.0);
        for (int i = 0; i < nsizes && !rc && *n < MAX_SAMPLES; i++) {
            double secs = 0.0;
            size_t count = sizes[i] / sizeof(float), bytes = count * sizeof(float);
            size_t need = bytes ? (FIT_ROUND_BYTES + bytes - 1) / bytes : 1;
            rc = time_ring(sub, r, buf, count, need > (size_t)iters ? (int)need : iters, &secs);
            out[(*n)++] = (rt_cost_sample){.p = p, .bytes = (double)bytes, .secs = secs,
                                           .segment_bytes = s};
        }
        rt_ring_destroy(r);
    }
    rt_free(buf);
    return rc;
}

static void print_class(const char *name, const rt_link_fit *l, const rt_cost_sample *s, int n, double gamma) {
    printf("%s: %d ranks, alpha %.3g s, beta %.4g s/B (%.3f GB/s), sigma %.3g s per segment, rms rel err %.3f\n",
           name, l->ranks, l->alpha_s, l->beta_s, 1e-9 / l->beta_s, l->sigma_s, l->rms_rel);
    printf("  %12s %10s %12s %12s %8s\n", "bytes", "segment", "measured s", "model s", "error");
    for (int i = 0; i < n; i++) {
        double m = rt_cost_ring(l, gamma, s[i].segment_bytes, s[i].p, s[i].bytes);
        printf("  %12.0f %10zu %12.6f %12.6f %+7.1f%%\n", s[i].bytes, s[i].segment_bytes, s[i].secs, m,
               100.0 * (m / s[i].secs - 1.0));
    }
}

int rt_bench_fit(MPI_Comm comm, const rt_topology *t, const size_t *sizes, int nsizes, size_t seg, int iters,
                 double link_gbit, rt_cost_fit *out) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    *out = (rt_cost_fit){.segment_bytes = seg};
    out->gamma_s = measure_gamma(comm);
    rt_cost_sample s[2][MAX_SAMPLES];
    int n[2] = {0, 0}, rc = RT_OK;
    /* within host 0 (the other hosts idle), then across: local rank 0 of each */
    for (int c = 0; c < 2 && !rc; c++) {
        bool in = c == 0 ? t->host == 0 && t->local_size > 1 : t->hosts > 1 && t->local_rank == 0;
        MPI_Comm sub;
        MPI_Comm_split(comm, in ? 0 : MPI_UNDEFINED, t->host * t->max_local + t->local_rank, &sub);
        rc = sample_class(sub, sizes, nsizes, seg, iters, s[c], &n[c]);
        if (sub != MPI_COMM_NULL) MPI_Comm_free(&sub);
        MPI_Barrier(comm);
    }
    rt_link_fit *l[2] = {&out->intra, &out->inter};
    for (int c = 0; c < 2 && !rc; c++)
        if (n[c]) rc = rt_cost_fit_link(s[c], n[c], out->gamma_s, l[c]);
    out->inter.link_gbit = out->inter.present ? link_gbit : 0.0;
    if (!rc && rank == 0) { /* rank 0 leads host 0 and is in both classes' rings */
        printf("gamma (float32 add): %.4g s/B (%.2f GB/s)\n", out->gamma_s, 1e-9 / out->gamma_s);
        if (n[0]) print_class("intra (within a host)", &out->intra, s[0], n[0], out->gamma_s);
        if (n[1]) print_class("inter (between hosts)", &out->inter, s[1], n[1], out->gamma_s);
        fflush(stdout);
    }
    return rc;
}
