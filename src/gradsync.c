/* gradsync.c - bucketed gradient all-reduce with a communication thread. */
#include "ringtrain/gradsync.h"

#include "ringtrain/common.h"
#include "ringtrain/flight.h"

#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define COMM_NICE 19 /* measured: fashion_mlp np = 2 at nice 0, 10 and 19 (README, "The ring") */
#define COMM_NICE_NET 0

typedef struct bucket {
    size_t lo, hi;   /* range of the gradient arena */
    int pending;     /* parameters not yet final this step */
    int nparams;
} bucket;

struct rt_gradsync {
    rt_params *p;
    rt_ring *ring;
    bool overlap;
    bool shard;       /* reduce-scatter only: each rank keeps its owned ranges */
    float *resid;     /* bf16 on the wire: residuals by arena position; NULL: float32 */
    int nb;
    bucket *b;        /* (nb) buckets, b[0] holds the last parameters */
    int *of_param;    /* (p->count) bucket of each parameter */
    double *sumsq;    /* (nb) sharded: squared norm of this rank's owned range */
    /* Buckets are reduced strictly in index order (b[0] first: backward
     * finishes it first), whatever order the hook reports them in, so every
     * rank runs the same sequence of rings even when one rank's backward is
     * unusual (it had no data and reports every parameter at once). */
    int ready;        /* buckets whose gradients are all final */
    int taken, done;  /* buckets the ring has started / finished */
    /* sharded: buckets whose owned ranges are updated (reported in index
     * order), and those the all-gather has started / finished */
    int gready, gtaken, gdone;
    double t_gather;
    int rc;           /* first ring error of this step */
    char err[512];
    double t_comm;
    bool stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int reduce_bucket(rt_gradsync *s, int i, double *secs) {
    double t0 = rt_now();
    float *g = s->p->grad + s->b[i].lo;
    size_t n = s->b[i].hi - s->b[i].lo;
    rt_flight_comm(s->shard ? RT_COMM_REDUCE_SCATTER : RT_COMM_ALLREDUCE, i, s->nb);
    float *res = s->resid ? s->resid + s->b[i].lo : NULL;
    int rc = res && s->shard ? rt_ring_reduce_scatter_bf16(s->ring, g, n, &s->sumsq[i], res)
             : res           ? rt_ring_allreduce_bf16(s->ring, g, n, res)
             : s->shard      ? rt_ring_reduce_scatter(s->ring, g, n, &s->sumsq[i])
                             : rt_ring_allreduce(s->ring, g, n);
    if (!rc) rt_flight_comm(RT_COMM_IDLE, -1, 0);
    *secs += rt_now() - t0;
    return rc;
}

/* Bucket i's range of buf (arena-shaped: the parameters, or a moment) from
 * its owners to every rank. */
static int gather_bucket(rt_gradsync *s, float *buf, int i, double *secs) {
    double t0 = rt_now();
    rt_flight_comm(RT_COMM_ALLGATHER, i, s->nb);
    int rc = rt_ring_allgather(s->ring, buf + s->b[i].lo, s->b[i].hi - s->b[i].lo);
    if (!rc) rt_flight_comm(RT_COMM_IDLE, -1, 0);
    *secs += rt_now() - t0;
    return rc;
}

/* Keeps the first ring error and its message. Called with the lock held. */
static void set_error(rt_gradsync *s, int rc) {
    if (rc && !s->rc) {
        s->rc = rc;
        memcpy(s->err, rt_errmsg(), sizeof s->err - 1);
    }
}

static bool reduce_pending(const rt_gradsync *s) {
    return s->taken < s->nb && s->b[s->taken].pending == 0;
}

/* The thread runs, in order, the reduce-scatters (or all-reduces) of a step's
 * buckets as backward completes them and, sharded, the all-gathers of the
 * updated parameters as the optimizer completes them. */
static void *comm_main(void *arg) {
    rt_gradsync *s = arg;
    /* Lowest priority (Linux keeps a nice value per thread) where the ring
     * stays on this host. This thread shares its rank's cores with backward
     * (OpenBLAS threads fill them): at normal priority its polls preempt
     * sgemm at every wake-up, at 19 it runs when backward leaves a core, at
     * rt_gradsync_finish at the latest. A ring that crosses hosts waits on
     * the network instead, and Open MPI's TCP transport moves data only
     * while this thread polls: there it keeps normal priority (fashion_mlp,
     * 2 hosts x 1 rank at 1.1 Gbit/s: 5,754 and 5,617 samples/s at nice 19,
     * 6,022 and 5,882 at 0, alternated). A refusal leaves the default. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
                      rt_ring_crosses_hosts(s->ring) ? COMM_NICE_NET : COMM_NICE);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !reduce_pending(s) && s->gtaken == s->gready)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->stop) break;
        bool gather = !reduce_pending(s);
        int i = gather ? s->gtaken++ : s->taken++;
        bool skip = s->rc != 0; /* after a failure the ring is not reused */
        pthread_mutex_unlock(&s->mu);
        double secs = 0.0;
        int rc = skip         ? RT_OK
                 : gather     ? gather_bucket(s, s->p->data, i, &secs)
                              : reduce_bucket(s, i, &secs);
        pthread_mutex_lock(&s->mu);
        set_error(s, rc);
        if (gather) {
            s->t_gather += secs;
            s->gdone++;
        } else {
            s->t_comm += secs;
            s->done++;
        }
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int rt_gradsync_plan(const rt_params *p, double bucket_mb, size_t *lo, size_t *hi, int *of_param) {
    size_t target = (size_t)(bucket_mb * 1024.0 * 1024.0 / sizeof(float));
    if (target < 1) target = 1;
    int nb = 0;
    /* walk parameters from the last: ranges [offset(i), end) grow downwards */
    size_t end = p->train_total; /* the trained prefix: frozen tensors are not summed */
    for (int i = p->ntrain - 1; i >= 0; i--) {
        if (of_param) of_param[i] = nb;
        size_t at = p->items[i].offset;
        if (end - at >= target || i == 0) {
            lo[nb] = i == 0 ? 0 : at;
            hi[nb] = end;
            end = lo[nb++];
        }
    }
    return nb;
}

rt_gradsync *rt_gradsync_create(rt_params *p, rt_ring *ring, double bucket_mb, bool overlap,
                                bool shard) {
    rt_gradsync *s = rt_calloc(1, sizeof *s);
    s->p = p;
    s->ring = ring;
    s->shard = shard;
    /* the communication thread needs MPI calls from a second thread */
    int level = MPI_THREAD_SINGLE;
    MPI_Query_thread(&level);
    s->overlap = overlap && rt_ring_size(ring) > 1 && level >= MPI_THREAD_SERIALIZED;
    size_t cap = (size_t)(p->count ? p->count : 1);
    s->b = rt_calloc(cap, sizeof *s->b);
    s->of_param = rt_calloc(cap, sizeof *s->of_param);
    s->sumsq = rt_calloc(cap, sizeof *s->sumsq);
    size_t *lo = rt_calloc(cap, sizeof *lo), *hi = rt_calloc(cap, sizeof *hi);
    s->nb = rt_gradsync_plan(p, bucket_mb, lo, hi, s->of_param);
    for (int i = 0; i < s->nb; i++) s->b[i].lo = lo[i], s->b[i].hi = hi[i];
    for (int i = 0; i < p->ntrain; i++) s->b[s->of_param[i]].nparams++;
    rt_free(lo);
    rt_free(hi);
    s->taken = s->done = s->nb; /* idle until the first rt_gradsync_begin */
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (s->overlap)
        RT_CHECK(pthread_create(&s->thread, NULL, comm_main, s) == 0, "cannot start comm thread");
    return s;
}

void rt_gradsync_destroy(rt_gradsync *s) {
    if (!s) return;
    if (s->overlap) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    rt_free(s->b);
    rt_free(s->of_param);
    rt_free(s->sumsq);
    rt_free(s);
}

int rt_gradsync_num_buckets(const rt_gradsync *s) { return s->nb; }

void rt_gradsync_set_residuals(rt_gradsync *s, float *resid) {
    pthread_mutex_lock(&s->mu);
    s->resid = resid;
    pthread_mutex_unlock(&s->mu);
}

void rt_gradsync_begin(rt_gradsync *s) {
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nb; i++) s->b[i].pending = s->b[i].nparams;
    s->ready = s->taken = s->done = 0;
    s->gready = s->gtaken = s->gdone = 0;
    s->rc = 0;
    s->t_comm = s->t_gather = 0.0;
    pthread_mutex_unlock(&s->mu);
}

void rt_gradsync_param_ready(void *arg, int index) {
    rt_gradsync *s = arg;
    int i = s->of_param[index];
    pthread_mutex_lock(&s->mu);
    if (--s->b[i].pending == 0) {
        s->ready++;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

int rt_gradsync_finish(rt_gradsync *s, double *t_comm, double *t_wait) {
    double t0 = rt_now();
    pthread_mutex_lock(&s->mu);
    RT_CHECK(s->ready == s->nb, "gradsync: %d of %d buckets were reported ready", s->ready, s->nb);
    if (s->overlap) {
        while (s->done < s->nb) pthread_cond_wait(&s->cv, &s->mu);
    } else {
        for (; s->taken < s->nb && !s->rc; s->taken++, s->done++)
            set_error(s, reduce_bucket(s, s->taken, &s->t_comm));
    }
    int rc = s->rc;
    *t_comm = s->t_comm;
    pthread_mutex_unlock(&s->mu);
    *t_wait = rt_now() - t0;
    if (rc) return rt_err(rc, "%s", s->err);
    return RT_OK;
}

void rt_gradsync_owned(const rt_gradsync *s, int i, size_t *lo, size_t *hi) {
    const bucket *b = &s->b[i];
    if (!s->shard) {
        *lo = b->lo;
        *hi = b->hi;
        return;
    }
    rt_ring_owned(s->ring, b->hi - b->lo, lo, hi);
    *lo += b->lo;
    *hi += b->lo;
}

double rt_gradsync_owned_sumsq(const rt_gradsync *s) {
    double sum = 0.0;
    for (int i = 0; i < s->nb; i++) sum += s->sumsq[i];
    return sum;
}

void rt_gradsync_zero_unowned(const rt_gradsync *s, float *grad) {
    if (!s->shard) return;
    for (int i = 0; i < s->nb; i++) {
        size_t lo, hi;
        rt_gradsync_owned(s, i, &lo, &hi);
        memset(grad + s->b[i].lo, 0, (lo - s->b[i].lo) * sizeof *grad);
        memset(grad + hi, 0, (s->b[i].hi - hi) * sizeof *grad);
    }
}

void rt_gradsync_updated(rt_gradsync *s, int i) {
    if (!s->shard) return;
    pthread_mutex_lock(&s->mu);
    RT_CHECK(i == s->gready && s->ready == s->nb, "gradsync: bucket %d updated out of order", i);
    s->gready++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int rt_gradsync_gather_finish(rt_gradsync *s, double *t_comm, double *t_wait) {
    double t0 = rt_now();
    int rc = RT_OK;
    if (s->shard) {
        pthread_mutex_lock(&s->mu);
        RT_CHECK(s->gready == s->nb, "gradsync: %d of %d buckets were updated", s->gready, s->nb);
        if (s->overlap) {
            while (s->gdone < s->gready) pthread_cond_wait(&s->cv, &s->mu);
        } else {
            for (; s->gtaken < s->gready && !s->rc; s->gtaken++, s->gdone++)
                set_error(s, gather_bucket(s, s->p->data, s->gtaken, &s->t_gather));
        }
        rc = s->rc;
        *t_comm = s->t_gather;
        pthread_mutex_unlock(&s->mu);
    }
    *t_wait = rt_now() - t0;
    if (rc) return rt_err(rc, "%s", s->err);
    return RT_OK;
}

int rt_gradsync_gather(rt_gradsync *s, float *buf, double *t_comm) {
    if (!s->shard) return RT_OK;
    pthread_mutex_lock(&s->mu); /* the ring must be this thread's alone */
    bool idle = s->done == s->taken && s->gdone == s->gready;
    pthread_mutex_unlock(&s->mu);
    RT_CHECK(idle, "gradsync: gather while the communication thread runs the ring");
    int rc = RT_OK;
    for (int i = 0; i < s->nb && !rc; i++) rc = gather_bucket(s, buf, i, t_comm);
    return rc;
}
