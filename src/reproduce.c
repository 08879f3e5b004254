/* reproduce.c - checkpoints compared tensor by tensor and provenance by
 * provenance (ringtrain diff), and a run replayed from a checkpoint's stored
 * config and resume chain, then compared with it (ringtrain reproduce). */
#include "ringtrain/reproduce.h"

#include "ringtrain/cfgdiff.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/provenance.h"
#include "ringtrain/rundir.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_FIRST = 5 };

/* ---- tensors: every dataset of /params, /optim/m and /optim/v ---- */

typedef struct tensor_walk {
    hid_t a, b;
    const char *group, *path_a, *path_b;
    int ntensors, ndiff, rc;
    bool extra; /* walking b's group for the tensors a lacks */
    double max_rel;
    cJSON *first; /* [{"name", "max_rel_diff"}], at most MAX_FIRST */
} tensor_walk;

/* Reads dataset name of f as float32; *n its elements. NULL when missing. */
static float *read_floats(hid_t f, const char *name, hsize_t *n) {
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) return NULL;
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return NULL;
    hid_t sp = H5Dget_space(ds);
    *n = (hsize_t)H5Sget_simple_extent_npoints(sp);
    float *buf = rt_malloc(rt_mul_size((size_t)*n + 1, sizeof(float)));
    if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rt_free(buf);
        buf = NULL;
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return buf;
}

static void note_difference(tensor_walk *w, const char *name, double rel) {
    w->ndiff++;
    if (rel > w->max_rel) w->max_rel = rel;
    if (cJSON_GetArraySize(w->first) >= MAX_FIRST) return;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddNumberToObject(e, "max_rel_diff", rel);
    cJSON_AddItemToArray(w->first, e);
}

/* One tensor of w->group: compared with b's, or, on the walk over b's group
 * (w->extra), counted as differing when a lacks it. */
static herr_t visit_tensor(hid_t g, const char *leaf, const H5L_info_t *info, void *ctx) {
    (void)g;
    (void)info;
    tensor_walk *w = ctx;
    char name[RT_NAME_MAX + 64];
    rt_fmt(name, sizeof name, "%s/%s", w->group, leaf);
    if (w->extra) {
        if (H5Lexists(w->a, name, H5P_DEFAULT) <= 0) w->ntensors++, note_difference(w, name, INFINITY);
        return 0;
    }
    hsize_t na = 0, nb = 0;
    float *a = read_floats(w->a, name, &na), *b = read_floats(w->b, name, &nb);
    w->ntensors++;
    if (!a) {
        w->rc = rt_err(RT_EBADINPUT, "%s: /%s: cannot read (checksum?)", w->path_a, name);
    } else if (!b || na != nb) {
        note_difference(w, name, INFINITY); /* missing from b, or another shape */
    } else if (memcmp(a, b, (size_t)na * sizeof(float)) != 0) {
        double dmax = 0, amax = 0;
        for (hsize_t i = 0; i < na; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            if (d > dmax || isnan(d)) dmax = isnan(d) ? INFINITY : d;
            if (fabs((double)a[i]) > amax) amax = fabs((double)a[i]);
        }
        note_difference(w, name, amax > 0 ? dmax / amax : dmax);
    }
    rt_free(a);
    rt_free(b);
    return w->rc ? -1 : 0;
}

static void walk_group(tensor_walk *w, const char *group) {
    w->group = group;
    /* H5Lexists of optim/m is false, not an error, when optim is missing too */
    hid_t ga = H5Lexists(w->a, group, H5P_DEFAULT) > 0 ? H5Gopen2(w->a, group, H5P_DEFAULT) : -1;
    hid_t gb = H5Lexists(w->b, group, H5P_DEFAULT) > 0 ? H5Gopen2(w->b, group, H5P_DEFAULT) : -1;
    w->extra = false;
    if (ga >= 0) H5Literate(ga, H5_INDEX_NAME, H5_ITER_INC, NULL, visit_tensor, w);
    w->extra = true;
    if (gb >= 0 && !w->rc) H5Literate(gb, H5_INDEX_NAME, H5_ITER_INC, NULL, visit_tensor, w);
    if (ga >= 0) H5Gclose(ga);
    if (gb >= 0) H5Gclose(gb);
}

static int open_ckpt(const char *path, hid_t *f, int64_t *step) {
    static const char *const names[] = {"/params", "/optim", "/optim/m", "/optim/v", NULL};
    int rc = rt_h5_open_checked(path, RT_SEAL_REQUIRED, names, f);
    if (!rc && (rc = rt_h5_attr_int(*f, "step", step))) {
        rc = rt_err_prefix(rc, path);
        H5Fclose(*f);
    }
    return rc;
}

/* Fills v's "tensors", "differing", "max_rel_diff" and "first_differing". */
static int compare_tensors(const char *pa, const char *pb, cJSON *v) {
    rt_h5_init();
    rt_h5_lock();
    hid_t a, b;
    int64_t sa = 0, sb = 0;
    int rc = open_ckpt(pa, &a, &sa);
    if (!rc && (rc = open_ckpt(pb, &b, &sb))) H5Fclose(a);
    if (rc) {
        rt_h5_unlock();
        return rc;
    }
    tensor_walk w = {.a = a, .b = b, .path_a = pa, .path_b = pb, .first = cJSON_CreateArray()};
    static const char *const groups[] = {"params", "optim/m", "optim/v"};
    for (int i = 0; i < 3 && !w.rc; i++) walk_group(&w, groups[i]);
    H5Fclose(a);
    H5Fclose(b);
    rt_h5_unlock();
    cJSON_AddNumberToObject(v, "step_a", (double)sa);
    cJSON_AddNumberToObject(v, "step_b", (double)sb);
    cJSON_AddNumberToObject(v, "tensors", w.ntensors);
    cJSON_AddNumberToObject(v, "differing", w.ndiff);
    cJSON_AddNumberToObject(v, "max_rel_diff", isinf(w.max_rel) ? -1 : w.max_rel);
    cJSON_AddItemToObject(v, "first_differing", w.first);
    return w.rc;
}

/* ---- provenance and config: the fields that differ ---- */

static void add_change(cJSON *changed, const char *field, const char *a, const char *b) {
    if (strcmp(a, b) == 0) return;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "a", a);
    cJSON_AddStringToObject(e, "b", b);
    cJSON_AddItemToArray(changed, e);
}

/* A provenance field as text ("" when absent). */
static void field_text(const cJSON *p, const char *key, char *buf, size_t len) {
    const cJSON *v = cJSON_GetObjectItem(p, key);
    if (cJSON_IsString(v)) rt_fmt(buf, len, "%s", v->valuestring);
    else if (cJSON_IsNumber(v)) rt_fmt(buf, len, "%.0f", v->valuedouble);
    else buf[0] = '\0';
}

/* The file of that role as "size N, train R rows digest D, ...". */
static void file_text(const cJSON *p, const char *role, char *path, char *ident, size_t len) {
    path[0] = ident[0] = '\0';
    const cJSON *e, *sp;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "files")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "role")), role) != 0) continue;
        rt_fmt(path, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(e, "path")));
        size_t n = (size_t)snprintf(ident, len, "%.0f bytes", cJSON_GetNumberValue(cJSON_GetObjectItem(e, "size")));
        cJSON_ArrayForEach(sp, cJSON_GetObjectItem(e, "splits")) {
            if (n >= len) break;
            n += (size_t)snprintf(ident + n, len - n, ", %s %.0f rows digest %s", sp->string,
                                  cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "rows")),
                                  cJSON_GetStringValue(cJSON_GetObjectItem(sp, "digest")));
        }
    }
}

/* The resume chain as steps and world sizes ("150 at np 2, ..."), paths aside. */
static void chain_text(const cJSON *p, char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "chain")) {
        if (n >= len) break;
        n += (size_t)snprintf(buf + n, len - n, "%sresumed at step %.0f from np %.0f", n ? ", " : "",
                              cJSON_GetNumberValue(cJSON_GetObjectItem(e, "step")),
                              cJSON_GetNumberValue(cJSON_GetObjectItem(e, "world_size")));
    }
    if (!buf[0]) rt_fmt(buf, len, "none");
}

static void compare_provenance(const cJSON *pa, const cJSON *pb, bool with_command, cJSON *changed) {
    static const char *const keys[] = {"ringtrain_version", "git_commit", "openblas_version", "openblas_kernel",
                                       "openblas_threads", "gemm", "mpi_version", "world_size", "launcher",
                                       "command"};
    char a[4096], b[4096], path_a[RT_PATH_MAX], path_b[RT_PATH_MAX], field[64];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!with_command && strcmp(keys[i], "command") == 0) continue;
        field_text(pa, keys[i], a, sizeof a);
        field_text(pb, keys[i], b, sizeof b);
        add_change(changed, keys[i], a, b);
    }
    static const char *const roles[] = {"data.train", "data.test", "init.from"};
    for (int i = 0; i < 3; i++) {
        file_text(pa, roles[i], path_a, a, sizeof a);
        file_text(pb, roles[i], path_b, b, sizeof b);
        rt_fmt(field, sizeof field, "%s path", roles[i]);
        add_change(changed, field, path_a, path_b);
        rt_fmt(field, sizeof field, "%s content", roles[i]);
        add_change(changed, field, a, b);
    }
    chain_text(pa, a, sizeof a);
    chain_text(pb, b, sizeof b);
    add_change(changed, "resume chain", a, b);
}

static int compare_configs(const char *pa, const char *pb, cJSON *changed) {
    rt_config *ca = NULL, *cb = NULL;
    int rc = rt_ckpt_config(pa, &ca);
    if (!rc) rc = rt_ckpt_config(pb, &cb);
    if (!rc) {
        rt_cfg_change ch[RT_CFG_MAX_CHANGES];
        int n = rt_config_diff(ca, cb, ch, RT_CFG_MAX_CHANGES);
        char field[160];
        for (int i = 0; i < n && i < RT_CFG_MAX_CHANGES; i++) {
            rt_fmt(field, sizeof field, "config %s", ch[i].key);
            add_change(changed, field, ch[i].old, ch[i].now);
        }
    }
    rt_config_free(ca);
    rt_config_free(cb);
    return rc;
}

/* ---- the verdict ---- */

static void explain(cJSON *v) {
    const cJSON *e;
    char note[512] = "";
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(v, "changed")) {
        const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(e, "field"));
        /* ringtrain's kernels (avx512, avx2) share one order; OpenBLAS has its own */
        bool blas_gemm = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "a")), "openblas") == 0 ||
                         strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "b")), "openblas") == 0;
        const char *why = strcmp(f, "world_size") == 0 || strcmp(f, "resume chain") == 0
                              ? "another world size sums the gradients and the loss in another order"
                          : strcmp(f, "openblas_kernel") == 0 ? "other OpenBLAS kernels sum sgemm in another order"
                          : strcmp(f, "gemm") == 0 && blas_gemm ? "another sgemm sums its products in another order"
                                                                : NULL;
        if (why && !strstr(note, why)) {
            size_t n = strlen(note);
            snprintf(note + n, sizeof note - n, "%s%s", n ? "; " : "", why);
        }
    }
    if (note[0]) {
        size_t n = strlen(note);
        snprintf(note + n, sizeof note - n, ": the last bits are expected to differ, and such rounding "
                 "differences grow with the steps (Adam makes even tiny gradients full steps)");
        cJSON_AddStringToObject(v, "expected", note);
    }
}

static void print_verdict(const cJSON *v) {
    int ndiff = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(v, "differing"));
    int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(v, "tensors"));
    double rel = cJSON_GetNumberValue(cJSON_GetObjectItem(v, "max_rel_diff"));
    printf("a               %s (step %.0f)\nb               %s (step %.0f)\n",
           cJSON_GetStringValue(cJSON_GetObjectItem(v, "a")), cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_a")),
           cJSON_GetStringValue(cJSON_GetObjectItem(v, "b")), cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_b")));
    if (!ndiff) printf("verdict         bitwise identical: %d tensors\n", n);
    else if (rel < 0) printf("verdict         differs: %d of %d tensors (some missing or of another shape)\n", ndiff, n);
    else printf("verdict         differs: %d of %d tensors, max relative difference %.3g\n", ndiff, n, rel);
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(v, "first_differing"))
        printf("  %-36s max |a-b| / max |a| = %.3g\n", cJSON_GetStringValue(cJSON_GetObjectItem(e, "name")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(e, "max_rel_diff")));
    if (cJSON_GetArraySize(cJSON_GetObjectItem(v, "changed")) == 0) printf("changed         nothing in provenance or config\n");
    else printf("changed\n");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(v, "changed"))
        printf("  %-22s %s\n  %-22s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(e, "field")),
               cJSON_GetStringValue(cJSON_GetObjectItem(e, "a")), "",
               cJSON_GetStringValue(cJSON_GetObjectItem(e, "b")));
    const char *note = cJSON_GetStringValue(cJSON_GetObjectItem(v, "expected"));
    if (note) printf("note            %s\n", note);
    char *line = cJSON_PrintUnformatted(v);
    printf("%s\n", line);
    cJSON_free(line);
    fflush(stdout);
}

/* The comparison both verbs print; RT_OK, RT_DIFFERS or an error. */
static int verdict(const char *event, const char *pa, const char *pb, bool with_command) {
    cJSON *prov_a = NULL, *prov_b = NULL, *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "event", event);
    cJSON_AddStringToObject(v, "a", pa);
    cJSON_AddStringToObject(v, "b", pb);
    int rc = compare_tensors(pa, pb, v);
    cJSON *changed = cJSON_AddArrayToObject(v, "changed");
    if (!rc) {
        int64_t d = (int64_t)(cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_b")) -
                              cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_a")));
        char a[32], b[32];
        snprintf(a, sizeof a, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_a")));
        snprintf(b, sizeof b, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(v, "step_b")));
        if (d) add_change(changed, "step", a, b);
        rc = compare_configs(pa, pb, changed);
    }
    /* either side may predate provenance: diff says so, reproduce already refused */
    if (!rc && rt_prov_read(pa, &prov_a) == RT_OK && rt_prov_read(pb, &prov_b) == RT_OK)
        compare_provenance(prov_a, prov_b, with_command, changed);
    else if (!rc)
        add_change(changed, "provenance", prov_a ? "recorded" : "none (format 2)", prov_b ? "recorded" : "none (format 2)");
    cJSON_Delete(prov_a);
    cJSON_Delete(prov_b);
    if (!rc) {
        bool same = cJSON_GetNumberValue(cJSON_GetObjectItem(v, "differing")) == 0;
        cJSON_AddStringToObject(v, "verdict", same ? "bitwise identical" : "differs");
        explain(v);
        print_verdict(v);
        /* the verdict is the output: a difference leaves no error line */
        if (!same) rc = rt_err_remote(RT_DIFFERS, -1);
    }
    cJSON_Delete(v);
    return rc;
}

int rt_ckpt_diff(const char *a, const char *b) { return verdict("diff", a, b, true); }

/* ---- reproduce: the run again, segment by segment ---- */

typedef struct segment {
    int64_t from, to;
    int np;
} segment;

/* The runs that made ckpt: 0 -> the first resume's step at the world size
 * that wrote it, and so on, the last one ending at ckpt's step. */
static int plan(const cJSON *prov, int64_t step, int np, segment *seg, int max) {
    int n = 0;
    int64_t from = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(prov, "chain")) {
        int64_t s = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "step"));
        int w = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "world_size"));
        if (s > from && n < max - 1) seg[n++] = (segment){from, s, np > 0 ? np : w};
        if (s > from) from = s;
    }
    int w = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(prov, "world_size"));
    if (step > from) seg[n++] = (segment){from, step, np > 0 ? np : w};
    return n;
}

/* Every file the run read must still be there (its content is compared after). */
static int check_files(const char *ckpt, const cJSON *prov) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(prov, "files")) {
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(e, "path"));
        if (path && access(path, R_OK) != 0)
            return rt_err(RT_EBADINPUT, "%s: %s: %s: %s (the run read it; a reproduction needs it)", ckpt,
                          cJSON_GetStringValue(cJSON_GetObjectItem(e, "role")), path, strerror(errno));
    }
    return RT_OK;
}

/* mpirun -np N <this binary> train DIR/config.json --run-dir DIR ...,
 * stopped after step seg->to (RINGTRAIN_STOP_AT_STEP: a checkpoint, exit 3). */
static int run_segment(const char *dir, const segment *seg, bool resume, const char *const *sets, int nset) {
    char self[RT_PATH_MAX], np[16], cfg[RT_PATH_MAX + 16], run[RT_PATH_MAX + 16], stop[32];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return rt_err(RT_ERUNTIME, "/proc/self/exe: %s", strerror(errno));
    self[len] = '\0';
    snprintf(np, sizeof np, "%d", seg->np);
    rt_fmt(cfg, sizeof cfg, "%s/config.json", dir);
    rt_fmt(run, sizeof run, "%s", dir);
    snprintf(stop, sizeof stop, "%lld", (long long)seg->to);
    /* -q: a part that stops with exit 3 is no failure to explain */
    const char *head[] = {"mpirun", "-q", "-np", np, "--oversubscribe", self, "train", cfg, "--run-dir", run, "--quiet"};
    const char **argv = rt_calloc(16 + 2 * (size_t)nset, sizeof *argv);
    int k = 0;
    for (; k < (int)(sizeof head / sizeof head[0]); k++) argv[k] = head[k];
    if (resume) argv[k++] = "--resume", argv[k++] = "auto";
    for (int i = 0; i < nset; i++) argv[k++] = "--set", argv[k++] = sets[i];
    printf("reproduce: steps %lld -> %lld at np %d\n", (long long)seg->from, (long long)seg->to, seg->np);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        rt_free(argv);
        return rt_err(RT_ERUNTIME, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setenv("RINGTRAIN_STOP_AT_STEP", stop, 1);
        if (getuid() == 0) { /* as root, mpirun refuses without these; the user ran ringtrain as root */
            setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
            setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
        }
        execvp("mpirun", (char *const *)argv);
        fprintf(stderr, "ringtrain: error: mpirun: %s\n", strerror(errno));
        _exit(127);
    }
    rt_free(argv);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && code != RT_ESIGNAL) /* 3: stopped after step seg->to with its checkpoint */
        return rt_err(RT_ERUNTIME, "reproduce: the run of steps %lld -> %lld at np %d failed (exit %d); its files "
                      "are in %s", (long long)seg->from, (long long)seg->to, seg->np, code, run);
    return RT_OK;
}

/* DIR as a fresh run directory holding the checkpoint's stored config,
 * once the --set overrides are known to apply to it. */
static int prepare_dir(const char *ckpt, const char *dir, const char *const *sets, int nset) {
    char *json = NULL, latest[RT_PATH_MAX + 16];
    rt_config *c = NULL;
    int rc = rt_ckpt_read_config(ckpt, &json);
    if (!rc) rc = rt_config_parse(json, ckpt, sets, nset, &c);
    rt_config_free(c);
    rt_fmt(latest, sizeof latest, "%s/ckpt/latest", dir);
    if (!rc && access(latest, F_OK) == 0)
        rc = rt_err(RT_EBADINPUT, "--run-dir: %s already holds a run; a reproduction needs a new directory", dir);
    if (!rc) rc = rt_rundir_prepare(dir, json, false);
    rt_free(json);
    return rc;
}

int rt_reproduce(const char *ckpt, int np, const char *run_dir, const char *const *sets, int nset) {
    cJSON *prov = NULL;
    int rc = rt_prov_read(ckpt, &prov);
    if (!rc) rc = check_files(ckpt, prov);
    int64_t step = 0;
    hid_t f;
    rt_h5_lock();
    if (!rc && !(rc = open_ckpt(ckpt, &f, &step))) H5Fclose(f);
    rt_h5_unlock();
    char dir[RT_PATH_MAX];
    if (!rc && run_dir) {
        rt_fmt(dir, sizeof dir, "%s", run_dir);
    } else if (!rc) {
        time_t now = time(NULL);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
        rt_fmt(dir, sizeof dir, "runs/reproduce-%s", stamp);
    }
    if (!rc) rc = prepare_dir(ckpt, dir, sets, nset);
    segment seg[64];
    int n = rc ? 0 : plan(prov, step, np, seg, 64);
    cJSON_Delete(prov);
    if (!rc) printf("reproduce: %s, step %lld, in %d run%s, in %s\n", ckpt, (long long)step, n, n == 1 ? "" : "s", dir);
    for (int i = 0; i < n && !rc; i++) rc = run_segment(dir, &seg[i], i > 0, sets, nset);
    if (rc) return rc;
    char out[RT_PATH_MAX + 32];
    rt_rundir_ckpt_path(dir, step, out, sizeof out);
    return verdict("reproduce", ckpt, out, false);
}
