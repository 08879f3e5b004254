/* flight.c - each rank's last phase in a mapped file, and the stall report. */
#include "ringtrain/flight.h"

#include "ringtrain/common.h"
#include "ringtrain/events.h"
#include "ringtrain/timeline.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLIGHT_MAGIC "RTFLT01"

/* One rank's record, as mapped. The main thread writes the phase fields and
 * the communication thread the comm fields; a reader in another process may
 * see a field a moment old, never a torn record that matters. */
typedef struct flight_rec {
    char magic[8];
    int32_t rank, world, pid, done;
    int64_t step;
    int32_t phase, op, bucket, nb;
    double t_phase, t_comm; /* wall clock of the last change */
    char host[64];
} flight_rec;

static volatile flight_rec *rec;
static char dir[RT_PATH_MAX];

static const char *const phase_names[RT_NPHASES] = {"setup",     "data",          "forward", "backward",
                                                    "exchange",  "optimizer",     "replica check",
                                                    "eval",      "checkpoint",    "done"};
static const char *const comm_names[RT_NCOMM] = {"idle", "all-reduce", "reduce-scatter", "all-gather",
                                                 "step scalars"};

const char *rt_phase_name(rt_phase ph) { return ph >= 0 && ph < RT_NPHASES ? phase_names[ph] : "?"; }
const char *rt_comm_name(rt_comm_op op) { return op >= 0 && op < RT_NCOMM ? comm_names[op] : "?"; }

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void rank_path(int rank, char *buf, size_t len) { rt_fmt(buf, len, "%s/rank-%05d", dir, rank); }

void rt_flight_open(const char *run_dir, int rank) {
    char path[RT_PATH_MAX + 32];
    rt_flight_close();
    rt_fmt(dir, sizeof dir, "%s/flight", run_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
    if (rank == 0) { /* a stall reported by an earlier attempt of this run */
        rt_fmt(path, sizeof path, "%s/stall", dir);
        unlink(path);
    }
    rank_path(rank, path, sizeof path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) goto fail;
    void *m = MAP_FAILED;
    if (ftruncate(fd, sizeof(flight_rec)) == 0)
        m = mmap(NULL, sizeof(flight_rec), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) goto fail;
    flight_rec *r = m;
    memset(r, 0, sizeof *r);
    int world = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    r->rank = rank;
    r->world = world;
    r->pid = (int32_t)getpid();
    r->bucket = -1;
    gethostname(r->host, sizeof r->host - 1);
    r->t_phase = r->t_comm = wall();
    memcpy(r->magic, FLIGHT_MAGIC, sizeof r->magic);
    rec = r;
    rt_timeline_start(rank);
    rt_timeline_mark(0, RT_PHASE_SETUP, -1, 0, r->t_phase);
    return;
fail:
    fprintf(stderr, "ringtrain: warning: %s: %s; no stall report for this run\n", path, strerror(errno));
    dir[0] = '\0';
}

void rt_flight_close(void) {
    if (!rec) return;
    rec->done = 1;
    rec->phase = RT_PHASE_DONE;
    rec->t_phase = wall();
    munmap((void *)rec, sizeof(flight_rec));
    rec = NULL;
}

void rt_flight_phase(rt_phase ph, int64_t step) {
    if (!rec) return;
    double t = wall();
    if (rec->phase != (int32_t)ph || rec->step != step) rt_timeline_mark(0, ph, -1, step, t);
    rec->step = step;
    rec->phase = ph;
    rec->t_phase = t;
}

void rt_flight_phase_only(rt_phase ph) {
    if (!rec || rec->phase == (int32_t)ph) return;
    double t = wall();
    rt_timeline_mark(0, ph, -1, rec->step, t);
    rec->phase = ph;
    rec->t_phase = t;
}

void rt_flight_comm(rt_comm_op op, int bucket, int nb) {
    if (!rec) return;
    double t = wall();
    rt_timeline_mark(1, op, bucket, rec->step, t);
    rec->op = op;
    rec->bucket = bucket;
    rec->nb = nb;
    rec->t_comm = t;
}

static void comm_text(const flight_rec *r, char *buf, size_t len) {
    if (r->op == RT_COMM_IDLE || r->op == RT_COMM_SCALARS || r->bucket < 0)
        rt_fmt(buf, len, "%s", rt_comm_name(r->op));
    else
        rt_fmt(buf, len, "%s of bucket %d of %d", rt_comm_name(r->op), r->bucket, r->nb);
}

void rt_flight_where(char *buf, size_t len) {
    if (!len) return;
    buf[0] = '\0';
    if (!rec) return;
    flight_rec r = *(const flight_rec *)rec;
    char comm[96];
    comm_text(&r, comm, sizeof comm);
    rt_fmt(buf, len, "at step %lld, phase %s, communication %s", (long long)r.step, rt_phase_name(r.phase),
           comm);
}

static bool read_rec(int rank, flight_rec *r) {
    char path[RT_PATH_MAX + 32];
    rank_path(rank, path, sizeof path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return false;
    ssize_t n = pread(fd, r, sizeof *r, 0);
    close(fd);
    return n == (ssize_t)sizeof *r && memcmp(r->magic, FLIGHT_MAGIC, sizeof r->magic) == 0 && r->rank == rank;
}

/* The state of a rank's process, where it runs on this host: "running",
 * "sleeping", "stopped", "zombie" or "gone"; NULL on another host. */
static const char *process_state(const flight_rec *r) {
    char host[64] = "", path[64], buf[256];
    gethostname(host, sizeof host - 1);
    if (strcmp(host, r->host) != 0) return NULL;
    rt_fmt(path, sizeof path, "/proc/%d/stat", r->pid);
    FILE *f = fopen(path, "r");
    if (!f) return "gone";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    char st = p && p[1] ? p[2] : '?';
    return st == 'R' ? "running" : st == 'S' || st == 'D' ? "sleeping" : st == 'T' || st == 't' ? "stopped"
           : st == 'Z'                                      ? "zombie" : "unknown";
}

/* One rank's line on out and its object in the event. */
static void report_rank(FILE *out, cJSON *ranks, const flight_rec *r, double now) {
    char comm[96];
    comm_text(r, comm, sizeof comm);
    const char *state = process_state(r);
    fprintf(out, "ringtrain: stall: rank %d (%s, pid %d%s%s): step %lld, phase %s for %.1f s; communication %s",
            r->rank, r->host, r->pid, state ? ", " : "", state ? state : "", (long long)r->step,
            rt_phase_name(r->phase), now - r->t_phase, comm);
    if (r->op != RT_COMM_IDLE) fprintf(out, " for %.1f s", now - r->t_comm);
    fprintf(out, "\n");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", r->rank);
    cJSON_AddStringToObject(o, "host", r->host);
    cJSON_AddNumberToObject(o, "pid", r->pid);
    if (state) cJSON_AddStringToObject(o, "process", state);
    cJSON_AddNumberToObject(o, "step", (double)r->step);
    cJSON_AddStringToObject(o, "phase", rt_phase_name(r->phase));
    cJSON_AddNumberToObject(o, "phase_s", now - r->t_phase);
    cJSON_AddStringToObject(o, "comm", rt_comm_name(r->op));
    cJSON_AddNumberToObject(o, "bucket", r->bucket);
    cJSON_AddNumberToObject(o, "buckets", r->nb);
    cJSON_AddNumberToObject(o, "comm_s", now - r->t_comm);
    cJSON_AddItemToArray(ranks, o);
}

int rt_flight_report(FILE *out, const char *reason) {
    if (!rec || !dir[0]) return 0;
    char path[RT_PATH_MAX + 32];
    rt_fmt(path, sizeof path, "%s/stall", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return 0; /* another rank reports */
    close(fd);
    int me = rec->rank, world = rec->world, n = 0;
    double now = wall();
    cJSON *ranks = cJSON_CreateArray();
    for (int i = 0; i < world; i++) {
        flight_rec r;
        if (!read_rec(i, &r)) {
            fprintf(out, "ringtrain: stall: rank %d: no flight record in %s\n", i, dir);
            continue;
        }
        report_rank(out, ranks, &r, now);
        n++;
    }
    fflush(out);
    rt_event *e = rt_event_new("stall");
    rt_event_num(e, "step", (double)rec->step);
    rt_event_num(e, "reported_by", me);
    rt_event_str(e, "reason", reason);
    rt_event_json(e, "ranks", ranks);
    rt_fmt(path, sizeof path, "%.*s/metrics.jsonl", (int)(strlen(dir) - strlen("/flight")), dir);
    FILE *m = fopen(path, "a");
    rt_event_emit(e, m, NULL);
    if (m) fclose(m);
    return n;
}
