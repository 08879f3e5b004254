/* ckpt.c - HDF5 checkpoint write (atomic) and parameter load. */
#include "ringtrain/ckpt.h"

#include "ckpt_resid.h"
#include "h5chunk.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/hooks.h"
#include "ringtrain/rundir.h"

#include <cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Refuses to start a checkpoint that cannot fit: a write that runs out of
 * space half-way leaves libhdf5 in a state it does not recover from. */
static int check_space(const char *path, size_t bytes) {
    char dir[RT_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    struct statvfs st;
    if (statvfs(dir, &st) != 0) return RT_OK; /* cannot tell: let the write decide */
    double avail = (double)st.f_bavail * (double)st.f_frsize;
    double need = (double)bytes * 1.05 + (1 << 20);
    if (avail < need)
        return rt_err(RT_ERUNTIME, "%s: not enough disk space for a checkpoint: needs %.1f MB, %.1f MB free",
                      dir, need / 1e6, avail / 1e6);
    return RT_OK;
}

/* the paths the readers look up, for the probe of an unsealed file (h5util.h) */
static const char *const CKPT_NAMES[] = {"/params", "/optim", "/optim/m", "/optim/v", "/ema",
                                         "/dist", "/dist/residual", NULL};

/* ---- write ---- */

/* Chunks of about 1M elements along the first axis (Fletcher32 needs chunks). */
static int write_tensor(hid_t g, const char *name, const rt_tensor *t, const float *data,
                        rt_h5_scratch *scratch) {
    hsize_t dims[RT_MAX_DIMS];
    int nd = t->ndim ? t->ndim : 1;
    for (int i = 0; i < nd; i++) dims[i] = t->ndim ? (hsize_t)t->shape[i] : 1;
    return rt_h5_write_f32_checked(g, name, nd, dims, 1 << 20, data, scratch);
}

/* Starts the kernel writing what file holds so far back to disk, without
 * waiting, so the final fsync has less left to wait for. */
static void start_writeback(hid_t file) {
    int *fd = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) >= 0 && fd)
        (void)sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static int write_group(hid_t file, const char *gname, const rt_params *p, const float *base,
                       rt_h5_scratch *scratch) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, gname, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return rt_err(RT_ERUNTIME, "%s: cannot create group", gname);
    int rc = RT_OK;
    for (int i = 0; i < p->count && !rc; i++)
        rc = write_tensor(g, p->items[i].name, &p->items[i].t, base + p->items[i].offset, scratch);
    H5Gclose(g);
    start_writeback(file);
    return rc;
}

static int ckpt_save_locked(const char *path, const rt_params *p, const float *m, const float *v,
                            const rt_ckpt_meta *meta, const rt_prov *prov) {
    rt_h5_init();
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int copies = 1 + (m != NULL) + (v != NULL) + (meta->ema != NULL);
    size_t resid = meta->residual ? (size_t)meta->residual_rows * p->train_total * sizeof(float) : 0;
    int space = check_space(path, rt_mul_size(p->total * sizeof(float), (size_t)copies) + resid);
    if (space) return space;
    hid_t fcpl = rt_h5_seal_fcpl();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (f < 0) return rt_err(RT_ERUNTIME, "%s: cannot create checkpoint", tmp);
    rt_h5_scratch scratch = {0};
    int rc = write_group(f, "params", p, p->data, &scratch);
    /* testing switch: die half-way through writing the checkpoint of step N */
    if (rt_hooks_get()->ckpt_crash_step == meta->step) {
        H5Fflush(f, H5F_SCOPE_GLOBAL);
        raise(SIGKILL);
    }
    if (!rc && m) rc = write_group(f, "optim/m", p, m, &scratch);
    if (!rc && v) rc = write_group(f, "optim/v", p, v, &scratch);
    if (!rc && meta->ema) rc = write_group(f, "ema", p, meta->ema, &scratch);
    if (!rc && meta->residual)
        rc = rt_ckpt_write_residual(f, meta->residual, meta->residual_rows, p->train_total, &scratch);
    rt_free(scratch.p);
    if (!rc) rc = rt_h5_attr_write_int(f, "step", meta->step);
    if (!rc) rc = rt_h5_attr_write_int(f, "epoch", meta->epoch);
    /* without provenance the file is what format 2 was */
    if (!rc) rc = rt_h5_attr_write_int(f, "format_version", prov ? RT_CKPT_FORMAT_VERSION : 2);
    if (!rc) rc = rt_h5_attr_write_int(f, "world_size", meta->world_size);
    if (!rc) rc = rt_h5_attr_write_int(f, "seed", meta->seed);
    if (!rc) rc = rt_h5_attr_write_int(f, "optim_t", meta->optim_t);
    if (!rc) rc = rt_h5_attr_write_str(f, "optim_type", meta->optim_type);
    if (!rc) rc = rt_h5_attr_write_str(f, "config", meta->config_json);
    if (!rc) rc = rt_h5_attr_write_str(f, "ringtrain_version", RT_VERSION);
    if (!rc) rc = rt_h5_attr_write_int(f, "data_cursor", meta->step);
    if (!rc) rc = rt_h5_attr_write_str(f, "job_id", meta->job_id ? meta->job_id : "");
    if (!rc) rc = rt_h5_attr_write_int(f, "requeue_count", meta->requeue_count);
    if (!rc) rc = rt_h5_attr_write_int(f, "skipped_steps", meta->skipped_steps);
    if (!rc) rc = rt_prov_write(prov, f, meta->step);
    if (H5Fclose(f) < 0) {
        if (!rc) rc = rt_err(RT_ERUNTIME, "%s: close failed (disk full?)", tmp);
        H5Fclose(f); /* release what the failed close left open */
    }
    if (!rc) rc = rt_h5_seal(tmp);
    if (!rc) rc = rt_commit_file(tmp, path);
    if (rc) {
        unlink(tmp);
        return rt_err_prefix(rc, path);
    }
    return RT_OK;
}

/* ---- load ---- */

static void dims_str(int nd, const hsize_t *d, char *buf, size_t len) {
    size_t off = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < nd && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ", %llu" : "%llu", (unsigned long long)d[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
}

static int load_tensor(hid_t g, const char *gname, const char *path, const rt_param *pr,
                       float *dst) {
    if (H5Lexists(g, pr->name, H5P_DEFAULT) <= 0)
        return rt_err(RT_EBADINPUT, "%s: /%s/%s: missing from the file", path, gname, pr->name);
    hid_t d = H5Dopen2(g, pr->name, H5P_DEFAULT);
    if (d < 0) return rt_err(RT_EBADINPUT, "%s: /%s/%s: cannot open", path, gname, pr->name);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[H5S_MAX_RANK] = {0};
    int nd = H5Sget_simple_extent_ndims(s);
    int rc = RT_OK;
    if (nd < 0 || nd > 8) nd = 0;
    else H5Sget_simple_extent_dims(s, dims, NULL);
    bool same = nd == (pr->t.ndim ? pr->t.ndim : 1);
    for (int i = 0; same && i < nd; i++)
        same = dims[i] == (hsize_t)(pr->t.ndim ? pr->t.shape[i] : 1);
    if (!same) {
        char have[128], want[128];
        dims_str(nd, dims, have, sizeof have);
        rt_tensor_shape_str(&pr->t, want, sizeof want);
        rc = rt_err(RT_EBADINPUT, "%s: /%s/%s: shape %s in the file, model needs %s", path,
                    gname, pr->name, have, want);
    } else if (H5Tget_class(t) != H5T_FLOAT) {
        rc = rt_err(RT_EBADINPUT, "%s: /%s/%s: not a float dataset", path, gname, pr->name);
    } else if (pr->t.numel > 0 &&
               H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = rt_err(RT_EBADINPUT, "%s: /%s/%s: read failed (checksum mismatch or truncated)",
                    path, gname, pr->name);
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return rc;
}

/* First name in group g that p does not declare, for the "extra parameter" error. */
struct extra_ctx {
    const rt_params *p;
    char name[256];
};

static herr_t find_extra(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    (void)g, (void)info;
    struct extra_ctx *ctx = arg;
    if (rt_params_find(ctx->p, name) >= 0) return 0;
    snprintf(ctx->name, sizeof ctx->name, "%s", name);
    return 1;
}

/* Loads group gname of an open file into base (p's layout); every parameter
 * must be there with its shape, and no other. */
static int load_group(hid_t f, const char *path, const char *gname, const rt_params *p, float *base) {
    /* H5Lexists wants every intermediate link to exist: check "optim" first */
    char parent[64];
    snprintf(parent, sizeof parent, "%s", gname);
    char *slash = strchr(parent, '/');
    if (slash) *slash = '\0';
    if ((slash && H5Lexists(f, parent, H5P_DEFAULT) <= 0) || H5Lexists(f, gname, H5P_DEFAULT) <= 0)
        return rt_err(RT_EBADINPUT, "%s: /%s: missing group", path, gname);
    hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
    if (g < 0) return rt_err(RT_EBADINPUT, "%s: /%s: cannot open group", path, gname);
    int rc = RT_OK;
    for (int i = 0; i < p->count && !rc; i++)
        rc = load_tensor(g, gname, path, &p->items[i], base + p->items[i].offset);
    if (!rc) {
        struct extra_ctx ctx = {.p = p};
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, find_extra, &ctx);
        if (ctx.name[0])
            rc = rt_err(RT_EBADINPUT, "%s: /%s/%s: not a parameter of this model", path, gname,
                        ctx.name);
    }
    H5Gclose(g);
    return rc;
}

static int ckpt_load_params_locked(const char *path, rt_params *p) {
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_IF_PRESENT, CKPT_NAMES, &f);
    if (rc) return rc;
    rc = load_group(f, path, "params", p, p->data);
    H5Fclose(f);
    return rc;
}

static int ckpt_load_locked(const char *path, rt_params *p, float *m, float *v,
                            const char *optim_type, rt_ckpt_info *info) {
    rt_h5_init();
    memset(info, 0, sizeof *info);
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_REQUIRED, CKPT_NAMES, &f);
    if (rc) return rc;
    char *type = NULL;
    const char *attrs[] = {"format_version", "step", "epoch", "world_size", "seed", "optim_t"};
    int64_t *dst[] = {&info->format_version, &info->step, &info->epoch, &info->world_size,
                      &info->seed, &info->optim_t};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && !rc; i++)
        if ((rc = rt_h5_attr_int(f, attrs[i], dst[i]))) rc = rt_err_prefix(rc, path);
    if (!rc && (info->format_version < 2 || info->format_version > RT_CKPT_FORMAT_VERSION))
        rc = rt_err(RT_EBADINPUT, "%s: format_version: %lld is not one this build reads (2 to %d)", path,
                    (long long)info->format_version, RT_CKPT_FORMAT_VERSION);
    if (!rc && H5Aexists(f, "skipped_steps") > 0 && (rc = rt_h5_attr_int(f, "skipped_steps", &info->skipped_steps)))
        rc = rt_err_prefix(rc, path);
    if (!rc && (rc = rt_h5_attr_str(f, "optim_type", &type))) rc = rt_err_prefix(rc, path);
    if (!rc && strcmp(type, optim_type) != 0)
        rc = rt_err(RT_EBADINPUT, "%s: optim_type: the checkpoint holds %s state, the config asks for %s",
                    path, type, optim_type);
    if (!rc) snprintf(info->optim_type, sizeof info->optim_type, "%s", type);
    rt_free(type);
    if (!rc) rc = load_group(f, path, "params", p, p->data);
    if (!rc && m) rc = load_group(f, path, "optim/m", p, m);
    if (!rc && v) rc = load_group(f, path, "optim/v", p, v);
    H5Fclose(f);
    return rc;
}

static int ckpt_read_config_locked(const char *path, char **json) {
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_REQUIRED, CKPT_NAMES, &f);
    if (rc) return rc;
    rc = rt_h5_attr_str(f, "config", json);
    H5Fclose(f);
    return rc ? rt_err_prefix(rc, path) : RT_OK;
}

int rt_ckpt_save_prov(const char *path, const rt_params *p, const float *m, const float *v,
                      const rt_ckpt_meta *meta, const rt_prov *prov) {
    rt_h5_lock();
    int rc = ckpt_save_locked(path, p, m, v, meta, prov);
    rt_h5_unlock();
    return rc;
}

int rt_ckpt_save(const char *path, const rt_params *p, const float *m, const float *v,
                 const rt_ckpt_meta *meta) {
    return rt_ckpt_save_prov(path, p, m, v, meta, NULL);
}

int rt_ckpt_load_params(const char *path, rt_params *p) {
    rt_h5_lock();
    int rc = ckpt_load_params_locked(path, p);
    rt_h5_unlock();
    return rc;
}

static int ckpt_load_ema_locked(const char *path, const rt_params *p, float *ema, bool *found) {
    rt_h5_init();
    *found = false;
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_IF_PRESENT, CKPT_NAMES, &f);
    if (rc) return rc;
    *found = H5Lexists(f, "ema", H5P_DEFAULT) > 0;
    if (*found) rc = load_group(f, path, "ema", p, ema);
    H5Fclose(f);
    return rc;
}

int rt_ckpt_load_ema(const char *path, const rt_params *p, float *ema, bool *found) {
    rt_h5_lock();
    int rc = ckpt_load_ema_locked(path, p, ema, found);
    rt_h5_unlock();
    return rc;
}

int rt_ckpt_load_weights(const char *path, rt_params *p, const char *which, const char **used) {
    if (which && strcmp(which, "params") != 0 && strcmp(which, "ema") != 0)
        return rt_err(RT_EBADINPUT, "--weights: params or ema, not \"%s\"", which);
    bool found = false;
    int rc = which && strcmp(which, "params") == 0 ? RT_OK : rt_ckpt_load_ema(path, p, p->data, &found);
    if (!rc && which && strcmp(which, "ema") == 0 && !found)
        rc = rt_err(RT_EBADINPUT, "%s: /ema: missing group (the run had train.ema_decay 0); use --weights params", path);
    if (!rc && !found) rc = rt_ckpt_load_params(path, p);
    if (used) *used = found ? "ema" : "params";
    return rc;
}

int rt_ckpt_read_config(const char *path, char **json) {
    rt_h5_lock();
    int rc = ckpt_read_config_locked(path, json);
    rt_h5_unlock();
    return rc;
}

/* p without its last component ("." for none, ".." for ".") into out */
static void parent_dir(const char *p, char *out, size_t len) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--; /* "runs/x/" is "runs/x" */
    if ((n == 1 && p[0] == '.') || (n >= 2 && p[n - 1] == '.' && p[n - 2] == '/')) {
        rt_fmt(out, len, "%.*s/..", (int)n, p);
        return;
    }
    while (n > 0 && p[n - 1] != '/') n--;
    while (n > 1 && p[n - 1] == '/') n--;
    if (n == 0)
        rt_fmt(out, len, ".");
    else
        rt_fmt(out, len, "%.*s", (int)n, p);
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int rt_ckpt_resolve(const char *arg, char *out, size_t len) {
    char run[RT_PATH_MAX], sub[RT_PATH_MAX + 8], last[RT_PATH_MAX];
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && arg[b - 1] != '/') b--;
    rt_fmt(last, sizeof last, "%.*s", (int)(n - b), arg + b); /* the last component */
    rt_fmt(sub, sizeof sub, "%s/ckpt", arg);
    if (is_dir(arg) && is_dir(sub)) { /* a run directory */
        rt_fmt(run, sizeof run, "%.*s", (int)n, arg);
    } else if (is_dir(arg)) { /* its ckpt/ directory, or no run at all */
        rt_fmt(sub, sizeof sub, "%s/latest", arg);
        if (access(sub, F_OK) != 0 && strcmp(last, "ckpt") != 0)
            return rt_err(RT_EBADINPUT, "%s: a directory that is not a run directory (no ckpt/ in it)", arg);
        parent_dir(arg, run, sizeof run);
    } else if (strcmp(last, "latest") == 0) { /* ckpt/latest names the newest */
        char ckdir[RT_PATH_MAX];
        parent_dir(arg, ckdir, sizeof ckdir);
        parent_dir(ckdir, run, sizeof run);
    } else {
        rt_fmt(out, len, "%s", arg);
        return RT_OK;
    }
    static char list[64][RT_CKPT_PATH_MAX];
    int nc = rt_rundir_candidates(run, list, 64);
    for (int i = 0; i < nc; i++) {
        char *json = NULL;
        int rc = rt_ckpt_read_config(list[i], &json);
        rt_free(json);
        if (rc == RT_OK) {
            rt_fmt(out, len, "%s", list[i]);
            return RT_OK;
        }
    }
    return rt_err(RT_EBADINPUT, "%s: no complete checkpoint in %s/ckpt", arg, run);
}

int rt_ckpt_config(const char *path, rt_config **out) {
    *out = NULL;
    char *json = NULL;
    int rc = rt_ckpt_read_config(path, &json);
    if (!rc) {
        char origin[RT_PATH_MAX + 16];
        snprintf(origin, sizeof origin, "%s:config", path);
        rc = rt_config_parse(json, origin, NULL, 0, out);
    }
    rt_free(json);
    return rc;
}

int rt_ckpt_load(const char *path, rt_params *p, float *m, float *v, const char *optim_type,
                 rt_ckpt_info *info) {
    rt_h5_lock();
    int rc = ckpt_load_locked(path, p, m, v, optim_type, info);
    rt_h5_unlock();
    return rc;
}

/* ---- inspect ---- */

struct inspect_ctx {
    FILE *out;
    const char *path;
    int rc;
    int64_t total;
    int count;
};

static herr_t inspect_one(hid_t g, const char *name, const H5L_info_t *info, void *arg) {
    (void)info;
    struct inspect_ctx *c = arg;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) {
        c->rc = rt_err(RT_EBADINPUT, "%s: /params/%s: not a dataset", c->path, name);
        return -1;
    }
    hid_t sp = H5Dget_space(d);
    hsize_t dims[H5S_MAX_RANK] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > 8) nd = 0;
    else H5Sget_simple_extent_dims(sp, dims, NULL);
    /* sizes come from the file: bound them before allocating */
    int64_t n = 1;
    for (int i = 0; i < nd && n >= 0; i++)
        n = dims[i] > (hsize_t)(INT64_C(1) << 40) || (dims[i] && n > (INT64_C(1) << 40) / (int64_t)dims[i])
                ? -1 : n * (int64_t)dims[i];
    if (n < 0 || (hsize_t)n * sizeof(float) > H5Dget_storage_size(d) + (1u << 20)) {
        c->rc = rt_err(RT_EBADINPUT, "%s: /params/%s: its shape does not fit the data stored (truncated or corrupt)",
                       c->path, name);
        H5Sclose(sp);
        H5Dclose(d);
        return -1;
    }
    char shape[128];
    dims_str(nd, dims, shape, sizeof shape);
    float *buf = rt_malloc(rt_mul_size((size_t)(n ? n : 1), sizeof(float)));
    double norm = 0.0;
    if (n > 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        c->rc = rt_err(RT_EBADINPUT, "%s: /params/%s: read failed (checksum mismatch or truncated)",
                       c->path, name);
    } else {
        for (int64_t i = 0; i < n; i++) norm += (double)buf[i] * (double)buf[i];
        fprintf(c->out, "  %-28s %-16s %12lld %14.6g\n", name, shape, (long long)n, sqrt(norm));
    }
    rt_free(buf);
    H5Sclose(sp);
    H5Dclose(d);
    c->total += n;
    c->count++;
    return c->rc ? -1 : 0;
}

static int ckpt_inspect_locked(const char *path, FILE *out, rt_seal_rule rule) {
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open_checked(path, rule, CKPT_NAMES, &f);
    if (rc) return rc;
    int64_t v[6] = {0};
    const char *names[6] = {"step", "epoch", "world_size", "format_version", "seed", "optim_t"};
    for (int i = 0; i < 6 && !rc; i++)
        if ((rc = rt_h5_attr_int(f, names[i], &v[i]))) rc = rt_err_prefix(rc, path);
    char *config = NULL, *version = NULL, *optim = NULL;
    if (!rc && (rc = rt_h5_attr_str(f, "config", &config))) rc = rt_err_prefix(rc, path);
    if (!rc) {
        if (rt_h5_attr_str(f, "ringtrain_version", &version)) version = rt_strdup("?");
        if (rt_h5_attr_str(f, "optim_type", &optim)) optim = rt_strdup("?");
        uint64_t digest = rt_fnv1a(config, strlen(config));
        fprintf(out, "checkpoint      %s\n", path);
        fprintf(out, "step            %lld\n", (long long)v[0]);
        fprintf(out, "epoch           %lld\n", (long long)v[1]);
        fprintf(out, "world size      %lld\n", (long long)v[2]);
        fprintf(out, "format          %lld (ringtrain %s)\n", (long long)v[3], version);
        fprintf(out, "seed            %lld\n", (long long)v[4]);
        fprintf(out, "optimizer       %s, %lld steps\n", optim, (long long)v[5]);
        fprintf(out, "config digest   %016llx (fnv1a-64 of the stored JSON, %zu bytes)\n",
                (unsigned long long)digest, strlen(config));
        fprintf(out, "parameters\n  %-28s %-16s %12s %14s\n", "name", "shape", "count", "L2 norm");
    }
    if (!rc && H5Lexists(f, "params", H5P_DEFAULT) <= 0) rc = rt_err(RT_EBADINPUT, "%s: /params: missing group", path);
    if (!rc) {
        struct inspect_ctx c = {.out = out, .path = path};
        hid_t g = H5Gopen2(f, "params", H5P_DEFAULT);
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, inspect_one, &c);
        H5Gclose(g);
        rc = c.rc;
        if (!rc) fprintf(out, "  %d tensors, %lld parameters\n", c.count, (long long)c.total);
    }
    rt_free(config);
    rt_free(version);
    rt_free(optim);
    H5Fclose(f);
    return rc;
}

int rt_ckpt_inspect(const char *path, FILE *out) {
    rt_h5_lock();
    int rc = ckpt_inspect_locked(path, out, RT_SEAL_REQUIRED);
    rt_h5_unlock();
    cJSON *prov;
    if (rc) return rc;
    if (rt_prov_read(path, &prov) == RT_OK) {
        rt_prov_print(prov, out);
        cJSON_Delete(prov);
    } else {
        fprintf(out, "provenance      none (written before format 3, or by rt_ckpt_save)\n");
    }
    return RT_OK;
}

int rt_ckpt_seal(const char *path, FILE *out) {
    FILE *null = fopen("/dev/null", "w");
    if (!null) return rt_err(RT_ERUNTIME, "/dev/null: %s", strerror(errno));
    rt_h5_lock();
    /* every attribute and checksum first; the old seal is about to be replaced */
    int rc = ckpt_inspect_locked(path, null, RT_SEAL_IGNORED);
    rt_h5_unlock();
    fclose(null);
    if (!rc) rc = rt_h5_seal(path);
    if (!rc) fprintf(out, "sealed %s\n", path);
    return rc;
}
