/** @file costmodel.h
 * The α-β-γ cost model of the ring, fitted to measured all-reduce times.
 *
 * A ring of p ranks all-reducing n bytes in segments of s bytes takes
 *
 *     t = 2(p-1) [α + (k-1) σ] + 2(p-1)/p · n · β + (p-1)/p · n · γ,
 *     k = ceil(n / (p s)), the segments of one step,
 *
 * α the latency of one step, β the seconds per byte on the link, γ the
 * seconds per byte reduced, and σ what each further segment of a step adds
 * (the pipelining's cost per message). The hierarchical all-reduce over H
 * hosts of R ranks is its three stages: a reduce-scatter within the host,
 * R rings across the hosts at once on the host's one link (so each carries
 * its chunk at R β), an all-gather within the host. γ is measured apart (the
 * reduction kernel alone); α, β and σ are a weighted least-squares fit per
 * link class, within a host and between hosts.
 */
#ifndef RINGTRAIN_COSTMODEL_H
#define RINGTRAIN_COSTMODEL_H

#include "ringtrain/api.h"

#include <stdbool.h>
#include <stddef.h>

/** One link class's fit. */
typedef struct rt_link_fit {
    bool present;        /**< the class was measured */
    int ranks;           /**< p of the rings timed (the largest) */
    int points;          /**< samples fitted */
    double alpha_s;      /**< seconds per ring step */
    double beta_s;       /**< seconds per byte on the link */
    double sigma_s;      /**< seconds per segment after a step's first */
    double link_gbit;    /**< the link's nominal rate during the fit (0: not given) */
    double rms_rel;      /**< root mean square of the fit's relative errors */
} rt_link_fit;

/** A fit: what `ringtrain bench allreduce --fit` writes. */
typedef struct rt_cost_fit {
    double gamma_s;       /**< seconds per byte reduced (the float32 add) */
    size_t segment_bytes; /**< the ring's segment during the fit */
    rt_link_fit intra, inter;
} rt_cost_fit;

/** One measurement: a ring of p ranks in segments of segment_bytes
 * all-reduced `bytes` in `secs`. */
typedef struct rt_cost_sample {
    int p;
    double bytes, secs;
    size_t segment_bytes;
} rt_cost_sample;

/** Fits α, β and σ of one link class to n samples (γ given), minimising the
 * squared relative errors; a negative coefficient is dropped and the rest
 * refitted. RT_EBADINPUT with fewer than 2 samples or no two distinct
 * sizes. */
RT_API int rt_cost_fit_link(const rt_cost_sample *s, int n, double gamma_s, rt_link_fit *out);

/** The model's seconds for a flat ring of p ranks over link l, n bytes. */
RT_API double rt_cost_ring(const rt_link_fit *l, double gamma_s, size_t segment_bytes, int p, double bytes);

/** The model's seconds for the hierarchical all-reduce (H hosts of R ranks;
 * the intra class within a host, the inter class between hosts). */
RT_API double rt_cost_hierarchical(const rt_cost_fit *f, int hosts, int ranks_per_host, double bytes);

/** The model's seconds for a host-major flat ring over H hosts of R ranks:
 * each step lasts as long as its slowest link's (the inter class's when
 * H > 1), and every host's one outgoing link carries one chunk a step. */
RT_API double rt_cost_flat(const rt_cost_fit *f, int hosts, int ranks_per_host, double bytes);

/** A training step's seconds: forward fwd_s, backward bwd_s, the update
 * opt_s, and nb gradient buckets, bucket i taking bucket_s[i] on the ring
 * and final once backward has done ready_frac[i] of its work (bucket 0
 * first). Without overlap the buckets follow backward; with it each leaves
 * when it is final, one at a time, and the step waits for the last. */
RT_API double rt_cost_step(const double *bucket_s, const double *ready_frac, int nb, double fwd_s, double bwd_s,
                           double opt_s, bool overlap);

/** Writes f as JSON ({"format": "ringtrain-allreduce-fit", "version": 1, ...})
 * atomically to path. */
RT_API int rt_cost_fit_write(const char *path, const rt_cost_fit *f);

/** Reads a fit written by rt_cost_fit_write; another format or version, a
 * missing or non-finite field is an RT_EBADINPUT error naming the file and
 * key. */
RT_API int rt_cost_fit_read(const char *path, rt_cost_fit *f);

#endif
