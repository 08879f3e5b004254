/* report.c - run summaries and plots from metrics.jsonl. */
#include "ringtrain/report.h"

#include "ringtrain/common.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- reading metrics ---- */

typedef struct series {
    double *step, *v;
    int n, cap;
} series;

static void push(series *s, double step, double v) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->step = rt_realloc(s->step, (size_t)s->cap * sizeof *s->step);
        s->v = rt_realloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->step[s->n] = step;
    s->v[s->n++] = v;
}

static void series_free(series *s) {
    rt_free(s->step);
    rt_free(s->v);
}

enum { S_LOSS, S_LR, S_SPS, S_COMPUTE, S_COMM, S_WAIT, S_EVAL_LOSS, S_EVAL_ACC, S_COUNT };

typedef struct runlog {
    series s[S_COUNT];
    cJSON *done;   /* the last done event, or NULL */
    cJSON *eval;   /* the last eval event, or NULL */
    int starts;    /* start events (1 + restarts) */
} runlog;

static double num(const cJSON *o, const char *k) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

/* Calls fn on every JSON object line of path. */
static int each_line(const char *path, void (*fn)(cJSON *o, void *ctx), void *ctx) {
    FILE *f = fopen(path, "r");
    if (!f) return rt_err(RT_EBADINPUT, "%s: %s", path, strerror(errno));
    char line[8192];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            fclose(f);
            return rt_err(RT_EBADINPUT, "%s: line %d: not a JSON object", path, lineno);
        }
        fn(o, ctx);
        cJSON_Delete(o);
    }
    fclose(f);
    return RT_OK;
}

static void take_line(cJSON *o, void *ctx) {
    runlog *r = ctx;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    double step = num(o, "step");
    if (!ev) {
        const char *keys[] = {"loss", "lr", "samples_per_s", "t_compute_s", "t_comm_s", "t_wait_s"};
        for (int i = 0; i < 6; i++)
            if (isfinite(num(o, keys[i]))) push(&r->s[i], step, num(o, keys[i]));
    } else if (cJSON_IsString(ev) && strcmp(ev->valuestring, "eval") == 0) {
        push(&r->s[S_EVAL_LOSS], step, num(o, "test_loss"));
        push(&r->s[S_EVAL_ACC], step, num(o, "test_acc"));
        cJSON_Delete(r->eval);
        r->eval = cJSON_Duplicate(o, true);
    } else if (cJSON_IsString(ev) && strcmp(ev->valuestring, "done") == 0) {
        cJSON_Delete(r->done);
        r->done = cJSON_Duplicate(o, true);
    } else if (cJSON_IsString(ev) && strcmp(ev->valuestring, "start") == 0) {
        r->starts++;
    }
}

static int load_run(const char *run_dir, runlog *r) {
    memset(r, 0, sizeof *r);
    char p[RT_PATH_MAX];
    rt_fmt(p, sizeof p, "%s/metrics.jsonl", run_dir);
    return each_line(p, take_line, r);
}

static void free_run(runlog *r) {
    for (int i = 0; i < S_COUNT; i++) series_free(&r->s[i]);
    cJSON_Delete(r->done);
    cJSON_Delete(r->eval);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    if (n == 0) return NAN;
    double *c = rt_malloc((size_t)n * sizeof *c);
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
    rt_free(c);
    return m;
}

static double mean(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n ? s / n : NAN;
}

/* ---- report ---- */

struct rank_ctx {
    series step_s;
};

static void take_rank(cJSON *o, void *ctx) {
    struct rank_ctx *r = ctx;
    if (isfinite(num(o, "step_s"))) push(&r->step_s, num(o, "step"), num(o, "step_s"));
}

int rt_report(const char *run_dir, FILE *out) {
    runlog r;
    int rc = load_run(run_dir, &r);
    if (rc) {
        free_run(&r);
        return rc;
    }
    const series *loss = &r.s[S_LOSS];
    fprintf(out, "run              %s\n", run_dir);
    fprintf(out, "logged steps     %d (last step %.0f), %d start%s\n", loss->n,
            loss->n ? loss->step[loss->n - 1] : 0.0, r.starts, r.starts == 1 ? "" : "s (resumed)");
    const series *sps = &r.s[S_SPS];
    /* the first window includes warm-up; leave it out when there are others */
    int skip = sps->n > 1 ? 1 : 0;
    fprintf(out, "throughput       median %.0f samples/s, mean %.0f samples/s\n",
            median(sps->v + skip, sps->n - skip), mean(sps->v + skip, sps->n - skip));
    double tc = mean(r.s[S_COMPUTE].v + skip, r.s[S_COMPUTE].n - skip);
    double tm = mean(r.s[S_COMM].v + skip, r.s[S_COMM].n - skip);
    double tw = mean(r.s[S_WAIT].v + skip, r.s[S_WAIT].n - skip);
    double tot = tc + tw;
    if (isfinite(tot) && tot > 0)
        fprintf(out,
                "step time        %.2f ms: compute %.2f ms (%.0f%%), waiting %.2f ms (%.0f%%); "
                "the ring ran %.2f ms (inside the wait, or alongside backward with dist.overlap)\n",
                1e3 * tot, 1e3 * tc, 100 * tc / tot, 1e3 * tw, 100 * tw / tot, 1e3 * tm);
    /* stragglers, from per-rank files */
    double rank_mean[1024];
    int nr = 0;
    for (; nr < 1024; nr++) {
        char p[RT_PATH_MAX];
        rt_fmt(p, sizeof p, "%s/metrics.rank%d.jsonl", run_dir, nr);
        if (access(p, R_OK) != 0) break;
        struct rank_ctx rc2 = {0};
        if (each_line(p, take_rank, &rc2) != RT_OK) {
            series_free(&rc2.step_s);
            break;
        }
        int k = rc2.step_s.n > 1 ? 1 : 0;
        rank_mean[nr] = mean(rc2.step_s.v + k, rc2.step_s.n - k);
        series_free(&rc2.step_s);
    }
    if (nr > 0) {
        int slow = 0;
        for (int i = 1; i < nr; i++) slow = rank_mean[i] > rank_mean[slow] ? i : slow;
        double med = median(rank_mean, nr);
        fprintf(out, "ranks            %d with per-rank metrics; slowest rank %d: %.2f ms/step, %.1f%% over the median %.2f ms\n",
                nr, slow, 1e3 * rank_mean[slow], 100 * (rank_mean[slow] / med - 1), 1e3 * med);
    } else {
        fprintf(out, "ranks            no per-rank metrics (train with --per-rank-metrics to see stragglers)\n");
    }
    if (r.eval) { /* the task's own metrics, whichever they are */
        fprintf(out, "last eval        step %.0f:", num(r.eval, "step"));
        const cJSON *it;
        cJSON_ArrayForEach(it, r.eval) {
            if (cJSON_IsNumber(it) && strcmp(it->string, "step") != 0 && strcmp(it->string, "epoch") != 0)
                fprintf(out, " %s %.4f", it->string, it->valuedouble);
        }
        fputc('\n', out);
    }
    if (r.done) {
        char *d = cJSON_PrintUnformatted(r.done);
        fprintf(out, "final            %s\n", d);
        cJSON_free(d);
    } else {
        fprintf(out, "final            (no done event: the run is going on, or stopped early)\n");
    }
    free_run(&r);
    return RT_OK;
}

/* ---- plot ---- */

static int write_series(const char *path, const series *s) {
    FILE *f = fopen(path, "w");
    if (!f) return rt_err(RT_ERUNTIME, "%s: %s", path, strerror(errno));
    for (int i = 0; i < s->n; i++) fprintf(f, "%.17g %.9g\n", s->step[i], s->v[i]);
    if (s->n == 0) fprintf(f, "0 NaN\n");
    return fclose(f) == 0 ? RT_OK : rt_err(RT_ERUNTIME, "%s: write failed", path);
}

int rt_plot(const char *run_dir, const char *out_png) {
    runlog r;
    int rc = load_run(run_dir, &r);
    if (rc) {
        free_run(&r);
        return rc;
    }
    char dir[] = "/tmp/ringtrain-plot.XXXXXX";
    if (!mkdtemp(dir)) {
        free_run(&r);
        return rt_err(RT_ERUNTIME, "cannot make a temporary directory: %s", strerror(errno));
    }
    static const char *const names[S_COUNT] = {"loss", "lr", "sps", "compute", "comm", "wait", "eval_loss", "eval_acc"};
    char p[RT_PATH_MAX];
    for (int i = 0; i < S_COUNT && !rc; i++) {
        rt_fmt(p, sizeof p, "%s/%s.dat", dir, names[i]);
        rc = write_series(p, &r.s[i]);
    }
    char script[RT_PATH_MAX];
    rt_fmt(script, sizeof script, "%s/plot.gp", dir);
    FILE *g = rc ? NULL : fopen(script, "w");
    if (!rc && !g) rc = rt_err(RT_ERUNTIME, "%s: %s", script, strerror(errno));
    if (g) {
        fprintf(g,
                "set terminal pngcairo size 1200,900 font 'sans,10'\n"
                "set output '%s'\n"
                "set multiplot layout 2,2 title 'ringtrain: %s'\n"
                "set grid\nset xlabel 'step'\n"
                "set title 'loss'\nset key top right\n"
                "plot '%s/loss.dat' using 1:2 with lines title 'train', "
                "'%s/eval_loss.dat' using 1:2 with linespoints title 'eval'\n"
                "set title 'test accuracy'\nset key off\n"
                "plot '%s/eval_acc.dat' using 1:2 with linespoints lc 3\n"
                "set title 'learning rate'\n"
                "plot '%s/lr.dat' using 1:2 with lines lc 4\n"
                "set title 'samples/s'\n"
                "plot '%s/sps.dat' using 1:2 with lines lc 7\n"
                "unset multiplot\n",
                out_png, run_dir, dir, dir, dir, dir, dir);
        if (fclose(g) != 0) rc = rt_err(RT_ERUNTIME, "%s: write failed", script);
    }
    if (!rc) {
        pid_t pid;
        char *argv[] = {"gnuplot", script, NULL};
        int err = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
        int status = 0;
        if (err != 0)
            rc = rt_err(RT_ERUNTIME, "gnuplot: cannot run it (%s); install gnuplot-nox", strerror(err));
        else if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = rt_err(RT_ERUNTIME, "gnuplot: failed to draw %s (exit status %d)", out_png,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    for (int i = 0; i < S_COUNT; i++) {
        rt_fmt(p, sizeof p, "%s/%s.dat", dir, names[i]);
        unlink(p);
    }
    unlink(script);
    rmdir(dir);
    free_run(&r);
    return rc;
}
