/* rundir.c - the run directory: config, metric logs, checkpoints' names. */
#include "ringtrain/rundir.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTED 4096

static int mkdir_p(const char *path) {
    char buf[RT_PATH_MAX];
    rt_fmt(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}

/* Writes text to path through path.tmp, an fsync and a rename. */
static int write_text_atomic(const char *path, const char *text) {
    char tmp[RT_PATH_MAX + 16];
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return rt_err(RT_ERUNTIME, "%s: %s", tmp, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return rt_err(RT_ERUNTIME, "%s: write failed", tmp);
    }
    return rt_commit_file(tmp, path);
}

int rt_rundir_prepare(const char *dir, const char *config_json, bool resume) {
    char p[RT_PATH_MAX + 32];
    rt_fmt(p, sizeof p, "%s/ckpt/latest", dir);
    if (!resume && access(p, F_OK) == 0)
        return rt_err(RT_EBADINPUT,
                      "%s: run directory already holds checkpoints; pass --resume auto to continue it or "
                      "--run-dir to start a new run",
                      dir);
    rt_fmt(p, sizeof p, "%s/ckpt", dir);
    if (mkdir_p(p) != 0) return rt_err(RT_EBADINPUT, "%s: cannot create run directory: %s", dir, strerror(errno));
    rt_fmt(p, sizeof p, "%s/config.json", dir);
    size_t n = strlen(config_json);
    char *withnl = rt_malloc(n + 2);
    memcpy(withnl, config_json, n);
    memcpy(withnl + n, "\n", 2);
    int rc = write_text_atomic(p, withnl);
    rt_free(withnl);
    return rc ? rt_err_prefix(RT_EBADINPUT, dir) : RT_OK;
}

/* Keeps the lines of steps <= step of a log (not its done or stopped
 * events), atomically. What happened to the run (a stall report, an elastic
 * restart) is its history, and stays whatever its step. */
static int trim_log(const char *path, int64_t step) {
    FILE *in = fopen(path, "r");
    if (!in) return RT_OK;
    char tmp[RT_PATH_MAX + 16];
    rt_fmt(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return rt_err(RT_EBADINPUT, "%s: %s", tmp, strerror(errno));
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        const char *k = strstr(line, "\"step\":");
        long long s = k ? atoll(k + 7) : 0;
        bool history = strstr(line, "\"event\":\"stall\"") || strstr(line, "\"event\":\"elastic_restart\"");
        if (history || (s <= step && !strstr(line, "\"event\":\"done\"") && !strstr(line, "\"event\":\"stopped\"")))
            fputs(line, out);
    }
    bool ok = !ferror(in);
    fclose(in);
    ok = fclose(out) == 0 && ok;
    if (!ok) {
        unlink(tmp);
        return rt_err(RT_EBADINPUT, "%s: cannot read it back to resume", path);
    }
    int rc = rt_commit_file(tmp, path);
    if (rc) unlink(tmp);
    return rc ? rt_err(RT_EBADINPUT, "%s", rt_errmsg()) : RT_OK;
}

int rt_rundir_open_log(const char *dir, const char *name, bool resume, int64_t keep_step, FILE **out) {
    char p[RT_PATH_MAX + 64];
    rt_fmt(p, sizeof p, "%s/%s", dir, name);
    *out = NULL;
    if (resume) {
        int rc = trim_log(p, keep_step);
        if (rc) return rc;
    }
    *out = fopen(p, resume ? "a" : "w");
    return *out ? RT_OK : rt_err(RT_EBADINPUT, "%s: %s", p, strerror(errno));
}

void rt_rundir_ckpt_path(const char *dir, int64_t step, char *buf, size_t len) {
    rt_fmt(buf, len, "%s/ckpt/step_%08lld.h5", dir, (long long)step);
}

/* Steps of the complete checkpoints (ckpt/step_XXXXXXXX.h5, not .tmp), in
 * directory order; at most max. */
static int list_steps(const char *dir, long long *steps, int max) {
    char d[RT_PATH_MAX + 8];
    rt_fmt(d, sizeof d, "%s/ckpt", dir);
    DIR *dh = opendir(d);
    int n = 0;
    for (struct dirent *e; dh && n < max && (e = readdir(dh));) {
        long long s;
        char tail[8];
        if (sscanf(e->d_name, "step_%8lld.h%7s", &s, tail) == 2 && strcmp(tail, "5") == 0) steps[n++] = s;
    }
    if (dh) closedir(dh);
    return n;
}

int rt_rundir_candidates(const char *dir, char (*out)[RT_CKPT_PATH_MAX], int max) {
    int n = 0;
    char p[RT_PATH_MAX + 64], name[128] = "";
    rt_fmt(p, sizeof p, "%s/ckpt/latest", dir);
    FILE *f = fopen(p, "r");
    if (f) {
        if (fgets(name, sizeof name, f)) name[strcspn(name, "\r\n")] = '\0';
        fclose(f);
        if (name[0] && !strchr(name, '/') && max > 0) rt_fmt(out[n++], RT_CKPT_PATH_MAX, "%s/ckpt/%s", dir, name);
    }
    static long long steps[MAX_LISTED];
    int ns = list_steps(dir, steps, MAX_LISTED);
    while (n < max && ns > 0) { /* pick the largest remaining step */
        int best = 0;
        for (int i = 1; i < ns; i++) best = steps[i] > steps[best] ? i : best;
        rt_rundir_ckpt_path(dir, steps[best], out[n], RT_CKPT_PATH_MAX);
        steps[best] = steps[--ns];
        if (n == 0 || strcmp(out[n], out[0]) != 0) n++;
    }
    return n;
}

int rt_rundir_commit_checkpoint(const char *dir, int64_t step, int64_t keep) {
    char latest[RT_PATH_MAX + 32], line[80];
    rt_fmt(latest, sizeof latest, "%s/ckpt/latest", dir);
    snprintf(line, sizeof line, "step_%08lld.h5\n", (long long)step);
    int rc = write_text_atomic(latest, line);
    if (rc) return rc;
    static long long steps[MAX_LISTED];
    int all = list_steps(dir, steps, MAX_LISTED), n = 0;
    for (int i = 0; i < all; i++)
        if (steps[i] <= (long long)step) steps[n++] = steps[i];
    for (int i = 0; i < n; i++) { /* keep the newest `keep` */
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= keep) {
            char p[RT_CKPT_PATH_MAX];
            rt_rundir_ckpt_path(dir, steps[i], p, sizeof p);
            unlink(p);
        }
    }
    return RT_OK;
}
