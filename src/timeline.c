/* timeline.c - each rank's phases as Chrome trace events (train --timeline). */
#include "ringtrain/timeline.h"

#include "ringtrain/common.h"
#include "ringtrain/dist.h"
#include "ringtrain/flight.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TL_CAP (1 << 17) /* spans per track: 4 MiB */

typedef struct span {
    double t0, t1;
    int32_t kind, bucket;
    int64_t step;
} span;

typedef struct track {
    span *s;
    int n;
    int64_t dropped;
    bool open;
    span cur;
} track;

static char path[RT_PATH_MAX];
static int rank = -1;
static track tracks[2];

void rt_timeline_enable(const char *p) { rt_fmt(path, sizeof path, "%s", p ? p : ""); }

void rt_timeline_start(int r) {
    if (!path[0]) return;
    rank = r;
    for (int i = 0; i < 2; i++) {
        if (!tracks[i].s) tracks[i].s = rt_malloc(TL_CAP * sizeof(span));
        tracks[i].n = 0;
        tracks[i].dropped = 0;
        tracks[i].open = false;
    }
}

void rt_timeline_mark(int tr, int kind, int bucket, int64_t step, double t) {
    if (rank < 0 || tr < 0 || tr > 1) return;
    track *k = &tracks[tr];
    if (k->open) {
        k->cur.t1 = t;
        if (k->n < TL_CAP)
            k->s[k->n++] = k->cur;
        else
            k->dropped++;
    }
    k->open = !(tr == 1 && kind == RT_COMM_IDLE);
    k->cur = (span){.t0 = t, .kind = kind, .bucket = bucket, .step = step};
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void span_name(int tr, const span *s, char *buf, size_t len) {
    if (tr == 0)
        rt_fmt(buf, len, "%s", rt_phase_name((rt_phase)s->kind));
    else if (s->bucket >= 0)
        rt_fmt(buf, len, "%s b%d", rt_comm_name((rt_comm_op)s->kind), s->bucket);
    else
        rt_fmt(buf, len, "%s", rt_comm_name((rt_comm_op)s->kind));
}

/* This rank's part: its names, then a B and an E event per span, each line
 * ending in a comma (rank 0 closes the list). */
static int write_part(const char *part) {
    FILE *f = fopen(part, "w");
    if (!f) return rt_err(RT_ERUNTIME, "%s: %s", part, strerror(errno));
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d\"}},\n", rank, rank);
    fprintf(f, "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"sort_index\":%d}},\n", rank,
            rank);
    static const char *const tname[2] = {"main", "communication"};
    for (int tr = 0; tr < 2; tr++) {
        fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"%s\"}},\n",
                rank, tr, tname[tr]);
        const track *k = &tracks[tr];
        for (int i = 0; i < k->n; i++) {
            const span *s = &k->s[i];
            char name[64];
            span_name(tr, s, name, sizeof name);
            fprintf(f,
                    "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"B\",\"ts\":%.3f,\"pid\":%d,\"tid\":%d,"
                    "\"args\":{\"step\":%lld,\"bucket\":%d}},\n",
                    name, tname[tr], s->t0 * 1e6, rank, tr, (long long)s->step, s->bucket);
            fprintf(f, "{\"name\":\"%s\",\"ph\":\"E\",\"ts\":%.3f,\"pid\":%d,\"tid\":%d},\n", name, s->t1 * 1e6,
                    rank, tr);
        }
        if (k->dropped)
            fprintf(f, "{\"name\":\"dropped spans\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"count\":%lld}},\n",
                    rank, tr, (long long)k->dropped);
    }
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    return ok ? RT_OK : rt_err(RT_ERUNTIME, "%s: writing the timeline failed", part);
}

/* Rank 0: the parts of ranks 0..world-1, joined into path. */
static int join_parts(int world) {
    char tmp[RT_PATH_MAX + 16], part[RT_PATH_MAX + 16], line[512];
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) return rt_err(RT_ERUNTIME, "%s: %s", tmp, strerror(errno));
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", out);
    int rc = RT_OK;
    for (int r = 0; r < world && !rc; r++) {
        rt_fmt(part, sizeof part, "%s.rank%d", path, r);
        FILE *in = fopen(part, "r");
        if (!in) {
            rc = rt_err(RT_ERUNTIME, "%s: %s", part, strerror(errno));
            break;
        }
        size_t n;
        while ((n = fread(line, 1, sizeof line, in)) > 0) fwrite(line, 1, n, out);
        fclose(in);
        unlink(part);
    }
    fprintf(out, "{\"name\":\"ringtrain\",\"ph\":\"M\",\"pid\":0,\"args\":{\"ranks\":%d}}\n]}\n", world);
    bool ok = !ferror(out);
    ok = fclose(out) == 0 && ok;
    if (!rc && !ok) rc = rt_err(RT_ERUNTIME, "%s: writing the timeline failed", tmp);
    if (!rc && rename(tmp, path) != 0) rc = rt_err(RT_ERUNTIME, "%s: %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

int rt_timeline_write(MPI_Comm comm) {
    if (!path[0] || rank < 0) return RT_OK;
    double t = wall_now();
    for (int tr = 0; tr < 2; tr++) rt_timeline_mark(tr, tr == 0 ? RT_PHASE_DONE : RT_COMM_IDLE, -1, 0, t);
    tracks[0].open = false;
    char part[RT_PATH_MAX + 16];
    rt_fmt(part, sizeof part, "%s.rank%d", path, rank);
    int rc = rt_dist_agree(write_part(part), comm);
    int world = 1;
    MPI_Comm_size(comm, &world);
    if (!rc) rc = rt_dist_agree(rank == 0 ? join_parts(world) : RT_OK, comm);
    for (int tr = 0; tr < 2; tr++) {
        rt_free(tracks[tr].s);
        tracks[tr].s = NULL;
    }
    rank = -1;
    return rc;
}
