/* ckpt.c - HDF5 checkpoint write (atomic) and parameter load. */
#include "ringtrain/ckpt.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- write ---- */

static int write_tensor(hid_t g, const char *name, const rt_tensor *t, const float *data) {
    hsize_t dims[RT_MAX_DIMS], chunk[RT_MAX_DIMS];
    int nd = t->ndim ? t->ndim : 1;
    int64_t inner = 1;
    for (int i = 0; i < nd; i++) {
        dims[i] = t->ndim ? (hsize_t)t->shape[i] : 1;
        chunk[i] = dims[i] ? dims[i] : 1;
        if (i > 0) inner *= (int64_t)chunk[i];
    }
    /* chunks of at most ~1M elements along the first axis (Fletcher32 needs chunks) */
    int64_t rows = (1 << 20) / (inner ? inner : 1);
    if (rows < 1) rows = 1;
    if ((hsize_t)rows < chunk[0]) chunk[0] = (hsize_t)rows;
    hid_t s = H5Screate_simple(nd, dims, NULL);
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    int rc = RT_OK;
    if (t->numel > 0) {
        H5Pset_chunk(p, nd, chunk);
        H5Pset_fletcher32(p);
    }
    hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    if (d < 0 || (t->numel > 0 && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                           data) < 0))
        rc = rt_err(RT_ERUNTIME, "%s: cannot write dataset", name);
    if (d >= 0) H5Dclose(d);
    H5Pclose(p);
    H5Sclose(s);
    return rc;
}

static int write_group(hid_t file, const char *gname, const rt_params *p, const float *base) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(file, gname, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return rt_err(RT_ERUNTIME, "%s: cannot create group", gname);
    int rc = RT_OK;
    for (int i = 0; i < p->count && !rc; i++)
        rc = write_tensor(g, p->items[i].name, &p->items[i].t, base + p->items[i].offset);
    H5Gclose(g);
    return rc;
}

static int ckpt_save_locked(const char *path, const rt_params *p, const float *m, const float *v,
                 const rt_ckpt_meta *meta) {
    rt_h5_init();
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return rt_err(RT_ERUNTIME, "%s: cannot create checkpoint", tmp);
    int rc = write_group(f, "params", p, p->data);
    if (!rc && m) rc = write_group(f, "optim/m", p, m);
    if (!rc && v) rc = write_group(f, "optim/v", p, v);
    if (!rc) rc = rt_h5_attr_write_int(f, "step", meta->step);
    if (!rc) rc = rt_h5_attr_write_int(f, "epoch", meta->epoch);
    if (!rc) rc = rt_h5_attr_write_int(f, "format_version", RT_CKPT_FORMAT_VERSION);
    if (!rc) rc = rt_h5_attr_write_int(f, "world_size", meta->world_size);
    if (!rc) rc = rt_h5_attr_write_int(f, "seed", meta->seed);
    if (!rc) rc = rt_h5_attr_write_int(f, "optim_t", meta->optim_t);
    if (!rc) rc = rt_h5_attr_write_str(f, "optim_type", meta->optim_type);
    if (!rc) rc = rt_h5_attr_write_str(f, "config", meta->config_json);
    if (!rc) rc = rt_h5_attr_write_str(f, "ringtrain_version", RT_VERSION);
    if (H5Fclose(f) < 0 && !rc) rc = rt_err(RT_ERUNTIME, "%s: close failed (disk full?)", tmp);
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

static int load_tensor(hid_t g, const char *path, const rt_param *pr, float *dst) {
    if (H5Lexists(g, pr->name, H5P_DEFAULT) <= 0)
        return rt_err(RT_EBADINPUT, "%s: /params/%s: missing from the file", path, pr->name);
    hid_t d = H5Dopen2(g, pr->name, H5P_DEFAULT);
    if (d < 0) return rt_err(RT_EBADINPUT, "%s: /params/%s: cannot open", path, pr->name);
    hid_t s = H5Dget_space(d), t = H5Dget_type(d);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_ndims(s);
    int rc = RT_OK;
    if (nd < 0 || nd > 8) nd = 0;
    H5Sget_simple_extent_dims(s, dims, NULL);
    bool same = nd == (pr->t.ndim ? pr->t.ndim : 1);
    for (int i = 0; same && i < nd; i++)
        same = dims[i] == (hsize_t)(pr->t.ndim ? pr->t.shape[i] : 1);
    if (!same) {
        char have[128], want[128];
        dims_str(nd, dims, have, sizeof have);
        rt_tensor_shape_str(&pr->t, want, sizeof want);
        rc = rt_err(RT_EBADINPUT, "%s: /params/%s: shape %s in the file, model needs %s", path,
                    pr->name, have, want);
    } else if (H5Tget_class(t) != H5T_FLOAT) {
        rc = rt_err(RT_EBADINPUT, "%s: /params/%s: not a float dataset", path, pr->name);
    } else if (pr->t.numel > 0 &&
               H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = rt_err(RT_EBADINPUT, "%s: /params/%s: read failed (checksum mismatch or truncated)",
                    path, pr->name);
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

static int ckpt_load_params_locked(const char *path, rt_params *p) {
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open(path, &f);
    if (rc) return rc;
    if (H5Lexists(f, "params", H5P_DEFAULT) <= 0) {
        H5Fclose(f);
        return rt_err(RT_EBADINPUT, "%s: /params: missing group", path);
    }
    hid_t g = H5Gopen2(f, "params", H5P_DEFAULT);
    for (int i = 0; i < p->count && !rc; i++)
        rc = load_tensor(g, path, &p->items[i], p->data + p->items[i].offset);
    if (!rc) {
        struct extra_ctx ctx = {.p = p};
        H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, find_extra, &ctx);
        if (ctx.name[0])
            rc = rt_err(RT_EBADINPUT, "%s: /params/%s: not a parameter of this model", path,
                        ctx.name);
    }
    H5Gclose(g);
    H5Fclose(f);
    return rc;
}

static int ckpt_read_config_locked(const char *path, char **json) {
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open(path, &f);
    if (rc) return rc;
    rc = rt_h5_attr_str(f, "config", json);
    H5Fclose(f);
    return rc ? rt_err_prefix(rc, path) : RT_OK;
}

int rt_ckpt_save(const char *path, const rt_params *p, const float *m, const float *v,
                 const rt_ckpt_meta *meta) {
    rt_h5_lock();
    int rc = ckpt_save_locked(path, p, m, v, meta);
    rt_h5_unlock();
    return rc;
}

int rt_ckpt_load_params(const char *path, rt_params *p) {
    rt_h5_lock();
    int rc = ckpt_load_params_locked(path, p);
    rt_h5_unlock();
    return rc;
}

int rt_ckpt_read_config(const char *path, char **json) {
    rt_h5_lock();
    int rc = ckpt_read_config_locked(path, json);
    rt_h5_unlock();
    return rc;
}
