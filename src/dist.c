/* dist.c - agreement, small sums, broadcast and replica checks. */
#include "ringtrain/dist.h"

#include "ringtrain/common.h"
#include "ringtrain/flight.h"
#include "hash64.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static double timeout_s = 300.0;

void rt_dist_set_timeout(double seconds) { timeout_s = seconds; }

/* Waits for a non-blocking collective, polling so a rank that never joins
 * becomes an RT_ECOMM error after timeout_s instead of a hang. */
static int wait_collective(MPI_Request *req, int rc, const char *what) {
    if (rc != MPI_SUCCESS) return rt_err(RT_ECOMM, "MPI: %s failed (is a rank gone?)", what);
    double deadline = rt_now() + timeout_s;
    for (int spins = 0;; spins++) {
        int flag = 0;
        if (MPI_Test(req, &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return rt_err(RT_ECOMM, "MPI: %s failed (is a rank gone?)", what);
        if (flag) return RT_OK;
        if (spins % 64 == 63) {
            if (rt_now() > deadline)
                return rt_err(RT_ECOMM, "%s: some rank did not answer for %.0f s (dead or stopped?)",
                              what, timeout_s);
            sched_yield();
        }
    }
}

static int allgather(const void *send, int n, MPI_Datatype type, void *recv, MPI_Comm comm,
                     const char *what) {
    MPI_Request req;
    int rc = MPI_Iallgather(send, n, type, recv, n, type, comm, &req);
    return wait_collective(&req, rc, what);
}

int rt_dist_cores_per_rank(MPI_Comm comm) {
    MPI_Comm local;
    int local_size = 1;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &local_size);
        MPI_Comm_free(&local);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN) / local_size;
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0 && CPU_COUNT(&mask) < cores)
        cores = CPU_COUNT(&mask);
    return cores < 1 ? 1 : (int)cores;
}

int rt_dist_topology(MPI_Comm comm, bool order, rt_topology *t, MPI_Comm *ring) {
    int rank = 0, size = 1, leader = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *t = (rt_topology){.hosts = 0, .local_size = 1, .max_local = 1, .min_local = size};
    *ring = MPI_COMM_NULL;
    MPI_Comm local;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local) != MPI_SUCCESS)
        return rt_err(RT_ECOMM, "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed");
    MPI_Comm_rank(local, &t->local_rank);
    MPI_Comm_size(local, &t->local_size);
    leader = rank; /* split by rank: local rank 0 is the host's lowest rank */
    int brc = MPI_Bcast(&leader, 1, MPI_INT, 0, local);
    MPI_Comm_free(&local);
    if (brc != MPI_SUCCESS) return rt_err(RT_ECOMM, "MPI: learning the topology failed (is a rank gone?)");
    /* each rank's host leader and host size */
    int mine[2] = {leader, t->local_size}, *all = rt_malloc(2 * (size_t)size * sizeof(int));
    int rc = allgather(mine, 2, MPI_INT, all, comm, "learning the topology");
    for (int q = 0; !rc && q < size; q++) {
        bool leads = all[2 * q] == q;
        t->hosts += leads;
        t->host += leads && q < leader;
        if (all[2 * q + 1] > t->max_local) t->max_local = all[2 * q + 1];
        if (all[2 * q + 1] < t->min_local) t->min_local = all[2 * q + 1];
    }
    rt_free(all);
    int key = order ? t->host * size + t->local_rank : rank;
    if (!rc && MPI_Comm_split(comm, 0, key, ring) != MPI_SUCCESS)
        rc = rt_err(RT_ECOMM, "MPI_Comm_split for the ring's order failed");
    return rc;
}

int rt_dist_agree(int rc, MPI_Comm comm) {
    int n = 1;
    MPI_Comm_size(comm, &n);
    int small[64], *all = n <= 64 ? small : rt_malloc((size_t)n * sizeof(int));
    int worst = rc, origin = -1;
    int grc = allgather(&rc, 1, MPI_INT, all, comm, "agreeing on a result");
    if (grc) {
        worst = grc;
    } else {
        for (int i = 0; i < n; i++)
            if (all[i] > worst || (all[i] == worst && worst && origin < 0)) worst = all[i], origin = i;
        if (worst && !rc) rt_err_remote(worst, origin);
    }
    if (all != small) rt_free(all);
    return worst;
}

int rt_dist_first(int flag, MPI_Comm comm) {
    int n = 1, first;
    MPI_Comm_size(comm, &n);
    int small[64], *all = n <= 64 ? small : rt_malloc((size_t)n * sizeof(int));
    int mine = flag != 0;
    if (allgather(&mine, 1, MPI_INT, all, comm, "choosing who reports") != RT_OK) {
        MPI_Comm_rank(comm, &first); /* cannot agree: everyone speaks for itself */
        first = mine ? first : n;
    } else {
        for (first = 0; first < n && !all[first]; first++) {}
    }
    if (all != small) rt_free(all);
    return first;
}

int rt_dist_sum(double *v, int n, MPI_Comm comm) {
    RT_CHECK(n >= 1 && n <= 16, "rt_dist_sum: n = %d", n);
    int w = 1;
    MPI_Comm_size(comm, &w);
    double *all = rt_malloc(rt_mul_size((size_t)w * 16, sizeof(double)));
    int rc = RT_OK;
    if ((rc = allgather(v, n, MPI_DOUBLE, all, comm, "summing evaluation results")) == RT_OK) {
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int r = 0; r < w; r++) s += all[r * n + j];
            v[j] = s;
        }
    }
    rt_free(all);
    return rc;
}

int rt_dist_max(double *v, MPI_Comm comm) {
    int w = 1;
    MPI_Comm_size(comm, &w);
    double *all = rt_malloc(rt_mul_size((size_t)w, sizeof(double)));
    int rc = allgather(v, 1, MPI_DOUBLE, all, comm, "gathering a maximum");
    for (int r = 0; !rc && r < w; r++) *v = all[r] > *v ? all[r] : *v;
    rt_free(all);
    return rc;
}

int rt_dist_bcast(float *buf, size_t n, MPI_Comm comm) {
    const size_t max = 1u << 30; /* MPI counts are int */
    for (size_t off = 0; off < n; off += max) {
        int len = (int)(n - off < max ? n - off : max);
        MPI_Request req;
        int rc = wait_collective(&req, MPI_Ibcast(buf + off, len, MPI_FLOAT, 0, comm, &req),
                                 "broadcasting parameters from rank 0");
        if (rc) return rc;
    }
    return RT_OK;
}

/* Straight into all when n fits MPI's int counts; otherwise in pieces of at
 * most INT_MAX / size floats per rank, each gathered into rank 0's tmp and
 * moved to its rows of all. */
int rt_dist_gather(const float *buf, size_t n, float *all, MPI_Comm comm) {
    int size = 1, rank = 0;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    size_t piece = (size_t)INT_MAX / (size_t)size, step = n < piece ? n : piece;
    if (n <= piece) {
        MPI_Request req;
        return wait_collective(&req, MPI_Igather(buf, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, 0, comm, &req),
                               "gathering rank state to rank 0");
    }
    float *tmp = rank == 0 ? rt_malloc(rt_mul_size(step, (size_t)size * sizeof(float))) : NULL;
    int rc = RT_OK;
    for (size_t off = 0; off < n && !rc; off += step) {
        int len = (int)(n - off < step ? n - off : step);
        MPI_Request req;
        rc = wait_collective(&req, MPI_Igather(buf + off, len, MPI_FLOAT, tmp, len, MPI_FLOAT, 0, comm, &req),
                             "gathering rank state to rank 0");
        for (int q = 0; !rc && rank == 0 && q < size; q++)
            memcpy(all + (size_t)q * n + off, tmp + (size_t)q * (size_t)len, (size_t)len * sizeof(float));
    }
    rt_free(tmp);
    return rc;
}

uint64_t rt_dist_checksum(const float *buf, size_t n) { return rt_fnv1a(buf, n * sizeof(float)); }

int rt_dist_check_replicas(const float *buf, size_t n, int64_t step, MPI_Comm comm) {
    int w = 1;
    MPI_Comm_size(comm, &w);
    rt_flight_phase_only(RT_PHASE_CHECK);
    uint64_t mine = rt_hash64(buf, n * sizeof *buf); /* not FNV-1a: a byte per multiply is 7 ms at 7.4 MB */
    uint64_t small[64], *all = w <= 64 ? small : rt_malloc((size_t)w * sizeof(uint64_t));
    int rc = RT_OK;
    if ((rc = allgather(&mine, 1, MPI_UINT64_T, all, comm, "comparing parameter checksums")) == RT_OK) {
        char list[256] = "";
        size_t len = 0;
        int bad = 0, first = 0;
        for (int r = 1; r < w; r++)
            if (all[r] != all[0]) {
                if (!bad) first = r;
                bad++;
                if (len < sizeof list - 16)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", bad > 1 ? ", " : "", r);
            }
        if (bad)
            rc = rt_err(RT_ERUNTIME,
                        "step %lld: replicas differ: rank%s %s ha%s parameters different from "
                        "rank 0 (checksum %016llx vs %016llx)",
                        (long long)step, bad > 1 ? "s" : "", list, bad > 1 ? "ve" : "s",
                        (unsigned long long)all[first], (unsigned long long)all[0]);
    }
    if (all != small) rt_free(all);
    return rc;
}
