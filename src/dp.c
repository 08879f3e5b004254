/* dp.c - the data-parallel step: bucketed ring sums, small sums, (sharded) update. */
#include "ringtrain/dp.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/flight.h"
#include "ringtrain/gradsync.h"
#include "ringtrain/hooks.h"
#include "ringtrain/ring.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SUMS 4 /* doubles of rt_step_sums on the ring */

struct rt_dp {
    rt_params *p;
    rt_graph *g;
    rt_ring *ring;        /* gradient all-reduce (and the step's sums) */
    rt_gradsync *sync;    /* the buckets, on a communication thread or after backward */
    int world, cores;
    bool overlap;
    bool shard;           /* dist.shard_optimizer, and the ring runs: each rank updates
                             its owned ranges, then the parameters are gathered */
    bool synced;          /* this step's gradients were summed */
    bool grad_zeroed;     /* the last update left the gradients zero */
    double *scratch;      /* (SUMS * world) for rt_ring_sum_f64 */
    rt_topology topo;
    MPI_Comm ring_comm;   /* comm's ranks in the ring's order */
    int position;         /* this rank's place in it */
    float *resid;         /* dist.compress bf16: this rank's residuals (p->train_total) */
    float *resid_all;     /* rank 0, at checkpoints: every position's, in ring order */
    uint64_t bytes_mark;  /* the ring's byte count when the step began */
    int warned;           /* the residuals' world-size warning was given */
};

/* dist.algorithm "auto" takes the hierarchical stages where every host holds
 * the same number R > 1 of ranks and there is more than one host: there they
 * send 2(H-1)/H of a bucket over the network per host instead of 2(N-1)/N,
 * in 2(R-1) + 2(H-1) steps instead of 2(N-1). Buckets under AUTO_MIN floats
 * per rank stay on the flat ring, where the chunks would be a few floats. */
#define AUTO_MIN 256

static bool uniform_hosts(const rt_topology *t) { return t->min_local == t->max_local; }

int rt_dp_check(const rt_config *c, MPI_Comm comm) {
    rt_topology t;
    MPI_Comm ring;
    int rc = rt_dist_topology(comm, false, &t, &ring);
    if (rc) return rc;
    MPI_Comm_free(&ring);
    if (c->dist.algorithm == RT_ALGO_HIERARCHICAL && !uniform_hosts(&t))
        return rt_err(RT_EBADINPUT,
                      "%s: dist.algorithm: \"hierarchical\" needs the same number of ranks on every host, "
                      "and this job's %d hosts have %d to %d; use \"ring\" or \"auto\"",
                      c->path, t.hosts, t.min_local, t.max_local);
    return RT_OK;
}

static rt_ring *make_ring(const rt_dp *d, const rt_config *c, size_t max_count) {
    size_t seg = (size_t)c->dist.segment_kb * 1024;
    const rt_topology *t = &d->topo;
    bool pays = t->hosts > 1 && t->min_local > 1 && uniform_hosts(t);
    int a = c->dist.algorithm;
    if (a == RT_ALGO_RING || (a == RT_ALGO_AUTO && !pays) || !uniform_hosts(t))
        return rt_ring_create(d->ring_comm, 101, max_count, seg, c->dist.timeout_s);
    size_t min = a == RT_ALGO_AUTO ? AUTO_MIN * (size_t)d->world : 0;
    return rt_ring_create_hierarchical(d->ring_comm, t->host, t->local_rank, 101, max_count, seg, min,
                                       c->dist.timeout_s);
}

rt_dp *rt_dp_create(rt_params *p, rt_graph *g, const rt_config *c, MPI_Comm comm) {
    rt_dp *d = rt_calloc(1, sizeof *d);
    d->p = p;
    d->g = g;
    MPI_Comm_size(comm, &d->world);
    /* the ring runs in host-major order: neighbours share a host where they can */
    if (rt_dist_topology(comm, c->dist.ring_order == RT_RING_ORDER_TOPOLOGY, &d->topo, &d->ring_comm))
        rt_fatal(__FILE__, __LINE__, "%s", rt_errmsg());
    d->ring = make_ring(d, c, p->total + 16 + 8 * (size_t)d->world);
    d->scratch = rt_calloc(SUMS * (size_t)d->world, sizeof *d->scratch);
    /* without the ring every rank runs the whole optimizer, as one replica alone would */
    d->shard = c->dist.shard_optimizer && d->world > 1 && rt_hooks_get()->no_sync != RT_SYNC_NEVER;
    /* A communication thread pays only where a core is spare: on one core per
     * rank it shares that core with backward, and there the ring measured
     * faster run after backward on this thread (README, "The ring"). */
    d->cores = rt_dist_cores_per_rank(comm);
    /* Across hosts the ring mostly waits on the network, and waiting costs
     * no core: there the thread runs whatever the cores (at normal priority,
     * gradsync.c), so buckets travel during backward. */
    d->overlap = c->dist.overlap == RT_ON ||
                 (c->dist.overlap == RT_AUTO && (d->cores > 1 || rt_ring_crosses_hosts(d->ring)));
    d->sync = rt_gradsync_create(p, d->ring, c->dist.bucket_mb, d->overlap, d->shard);
    MPI_Comm_rank(d->ring_comm, &d->position);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    RT_CHECK((d->position == 0) == (rank == 0), "dp: rank 0 is not the ring's position 0");
    /* at one rank nothing travels, but residuals resumed from a larger job
     * still join the first step's gradients */
    if (c->dist.compress == RT_COMPRESS_BF16 && rt_hooks_get()->no_sync != RT_SYNC_NEVER) {
        d->resid = rt_calloc(p->train_total ? p->train_total : 1, sizeof *d->resid);
        rt_gradsync_set_residuals(d->sync, d->resid);
    }
    rt_graph_set_param_hook(g, p->ntrain, rt_gradsync_param_ready, d->sync);
    return d;
}

void rt_dp_destroy(rt_dp *d) {
    if (!d) return;
    rt_gradsync_destroy(d->sync);
    rt_ring_destroy(d->ring);
    if (d->ring_comm != MPI_COMM_NULL) MPI_Comm_free(&d->ring_comm);
    rt_free(d->scratch);
    rt_free(d->resid);
    rt_free(d->resid_all);
    rt_free(d);
}

int rt_dp_cores(const rt_dp *d) { return d->cores; }
const char *rt_dp_algorithm(const rt_dp *d) {
    return rt_ring_is_hierarchical(d->ring, d->p->total) ? "hierarchical" : "ring";
}
bool rt_dp_overlap(const rt_dp *d) { return d->overlap; }
const char *rt_dp_compress(const rt_dp *d) { return d->resid ? "bf16" : "none"; }
uint64_t rt_dp_step_bytes(const rt_dp *d) { return rt_ring_bytes_sent(d->ring) - d->bytes_mark; }

/* Whatever the algorithm, a rank of N sends (N-1)/N of a buffer in each of
 * the reduce-scatter and the all-gather (the hierarchical stages too:
 * 2(R-1)/R within the host plus 2(H-1)/H of its 1/R chunk between hosts). */
uint64_t rt_dp_wire_bytes_nominal(const rt_dp *d) {
    if (d->world < 2 || rt_hooks_get()->no_sync == RT_SYNC_NEVER) return 0;
    double share = (double)(d->world - 1) / d->world, n = (double)d->p->train_total;
    double grad = d->resid ? 2.0 : 4.0; /* bytes per gradient element on the wire */
    double all_gather = d->shard ? 4.0 : grad; /* sharded: the updated float32 parameters */
    return (uint64_t)llround(share * n * (grad + all_gather));
}

size_t rt_dp_extra_bytes(const rt_dp *d) {
    if (!d->resid) return 0;
    size_t n = d->p->train_total, wire = d->world > 1 ? 2 * n : 0; /* the ring's bf16 copy of a bucket */
    return 4 * n + wire + (d->position == 0 && d->world > 1 ? 4 * n * (size_t)d->world : 0);
}

void rt_dp_begin_step(rt_dp *d) {
    d->bytes_mark = rt_ring_bytes_sent(d->ring);
    if (!d->grad_zeroed) rt_params_zero_grad(d->p);
    d->grad_zeroed = false;
    d->synced = false;
}

void rt_dp_arm(rt_dp *d, bool sync) {
    if (sync) rt_gradsync_begin(d->sync);
    rt_graph_set_param_hook(d->g, d->p->ntrain, sync ? rt_gradsync_param_ready : NULL, d->sync);
    d->synced = sync;
}

static int ring_sums(rt_dp *d, rt_step_sums *s) {
    rt_flight_comm(RT_COMM_SCALARS, -1, 0);
    double v[SUMS] = {s->loss, s->stop, s->failed, s->grad_sumsq};
    int rc = rt_ring_sum_f64(d->ring, v, SUMS, d->scratch);
    *s = (rt_step_sums){v[0], v[1], v[2], v[3]};
    if (!rc) rt_flight_comm(RT_COMM_IDLE, -1, 0);
    return rc;
}

int rt_dp_exchange(rt_dp *d, rt_step_sums *s, double *grad_norm, rt_dp_times *t) {
    *t = (rt_dp_times){0};
    bool shard = d->shard && d->synced;
    rt_flight_phase_only(RT_PHASE_EXCHANGE);
    if (d->synced) {
        int rc = rt_gradsync_finish(d->sync, &t->comm, &t->wait);
        /* sharded, each rank holds the sums of its owned ranges only: the
         * squared norm is added up from the ranks' shares, which the
         * reduce-scatters took as they added */
        if (!rc && shard) s->grad_sumsq = rt_gradsync_owned_sumsq(d->sync);
        if (!rc) rc = ring_sums(d, s);
        if (rc) return rc;
    }
    *grad_norm = shard ? sqrt(s->grad_sumsq) : rt_grad_norm(d->p->grad, d->p->train_total);
    /* a non-finite gradient (every rank sees the same norm) would live on in
     * the residuals and poison every later step: the skipped step drops them */
    if (d->resid && !isfinite(*grad_norm)) memset(d->resid, 0, d->p->train_total * sizeof *d->resid);
    return RT_OK;
}

int rt_dp_meet(rt_dp *d, rt_step_sums *s) { return ring_sums(d, s); }

int rt_dp_update(rt_dp *d, rt_optim *o, double lr, double grad_norm, double clip, rt_dp_times *t) {
    *t = (rt_dp_times){0};
    bool shard = d->shard && d->synced;
    rt_flight_phase_only(RT_PHASE_OPTIMIZER);
    rt_optim_ema_start(o, d->p->data); /* train.ema_decay: from the parameters before the first update */
    rt_optim_begin(o);
    int nb = shard ? rt_gradsync_num_buckets(d->sync) : 1;
    for (int i = 0; i < nb; i++) {
        size_t lo = 0, hi = d->p->train_total; /* frozen tensors follow: never updated */
        if (shard) rt_gradsync_owned(d->sync, i, &lo, &hi);
        if (clip > 0) rt_clip_grad(d->p->grad + lo, hi - lo, grad_norm, clip);
        /* the update clears the gradients it reads: the next step's zeroing */
        rt_optim_apply_zero(o, d->p->data, d->p->grad, lr, lo, hi);
        if (shard) rt_gradsync_updated(d->sync, i); /* its parameters go out while the next updates */
    }
    d->grad_zeroed = true;
    int rc = RT_OK;
    if (shard) { /* the rest of the zeroing, while the parameters travel */
        rt_gradsync_zero_unowned(d->sync, d->p->grad);
        rc = rt_gradsync_gather_finish(d->sync, &t->comm, &t->wait);
    }
    if (!rc) rt_optim_ema_update(o, d->p->data); /* every rank holds every parameter now */
    return rc;
}

int rt_dp_gather_state(rt_dp *d, rt_optim *o) {
    rt_flight_phase_only(RT_PHASE_CHECKPOINT);
    int rc = RT_OK;
    if (d->resid) { /* every position's residuals to rank 0 (position 0), the checkpoint's writer */
        size_t n = d->p->train_total;
        if (d->position == 0 && !d->resid_all)
            d->resid_all = rt_malloc(rt_mul_size(rt_mul_size(n, (size_t)d->world), sizeof(float)));
        rc = rt_dist_gather(d->resid, n, d->resid_all, d->ring_comm);
    }
    if (rc || !d->shard) return rc;
    double secs = 0.0;
    rc = rt_gradsync_gather(d->sync, rt_optim_m(o), &secs);
    if (!rc && rt_optim_v(o)) rc = rt_gradsync_gather(d->sync, rt_optim_v(o), &secs);
    return rc;
}

const float *rt_dp_residuals(const rt_dp *d) { return d->position == 0 ? d->resid_all : NULL; }

int rt_dp_load_residuals(rt_dp *d, const char *path) {
    if (!d->resid) return RT_OK;
    int64_t rows = 0;
    int rc = rt_ckpt_load_residual(path, d->position, d->world, d->resid, d->p->train_total, &rows);
    if (!rc && rows && rows != d->world && d->position == 0 && !d->warned++) /* once: resume may load twice */
        fprintf(stderr, "ringtrain: warning: %s: dist.compress bf16: its residuals are of %lld ranks, this job has "
                        "%d: rank 0 takes their sum, so none of the compensation is lost\n",
                path, (long long)rows, d->world);
    return rc;
}
