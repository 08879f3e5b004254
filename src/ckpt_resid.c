/* ckpt_resid.c - the bf16 ring's error-feedback residuals in a checkpoint.
 *
 * /dist/residual is float32 [rows * P], row q (P floats, the trained prefix
 * of the parameter arena) the residuals of ring position q, with the number
 * of rows as its attribute "rows". One dimension, so its Fletcher32 chunks
 * stay about 1M floats whatever P is. */
#include "ckpt_resid.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <string.h>

int rt_ckpt_write_residual(hid_t f, const float *resid, int64_t rows, size_t cols, rt_h5_scratch *scratch) {
    hid_t g = H5Gcreate2(f, "dist", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rt_err(RT_ERUNTIME, "/dist: cannot create the group");
    hsize_t dims[1] = {(hsize_t)rows * (hsize_t)cols};
    int rc = rt_h5_write_f32_checked(g, "residual", 1, dims, 1 << 20, resid, scratch);
    hid_t d = rc ? -1 : H5Dopen2(g, "residual", H5P_DEFAULT);
    if (!rc) rc = d < 0 ? rt_err(RT_ERUNTIME, "/dist/residual: cannot reopen") : rt_h5_attr_write_int(d, "rows", rows);
    if (d >= 0) H5Dclose(d);
    H5Gclose(g);
    return rc;
}

/* Reads row q (n floats) of the open dataset d into out. */
static int read_row(hid_t d, int64_t q, size_t n, float *out) {
    hid_t fs = H5Dget_space(d);
    hsize_t start[1] = {(hsize_t)q * (hsize_t)n}, count[1] = {(hsize_t)n};
    hid_t ms = H5Screate_simple(1, count, NULL);
    herr_t e = H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (e >= 0) e = H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, out);
    H5Sclose(ms);
    H5Sclose(fs);
    return e < 0 ? RT_EBADINPUT : RT_OK;
}

/* Row `row` of the file's rows into out when they number `rows`; otherwise
 * (another world size) row 0 gets their sum, in row order, and the others
 * zero: the compensation still adds up over the ranks. */
static int load_rows(hid_t d, const char *path, int64_t have, int64_t row, int64_t rows, float *out, size_t n) {
    if (have == rows) {
        if (read_row(d, row, n, out)) return rt_err(RT_EBADINPUT, "%s: /dist/residual: read failed (checksum "
                                                                  "mismatch or truncated)", path);
        return RT_OK;
    }
    memset(out, 0, n * sizeof *out);
    if (row != 0) return RT_OK;
    float *tmp = rt_malloc(rt_mul_size(n, sizeof *tmp));
    int rc = RT_OK;
    for (int64_t q = 0; q < have && !rc; q++) {
        if (read_row(d, q, n, tmp))
            rc = rt_err(RT_EBADINPUT, "%s: /dist/residual: row %lld: read failed", path, (long long)q);
        for (size_t i = 0; i < n && !rc; i++) out[i] += tmp[i];
    }
    rt_free(tmp);
    return rc;
}

static int load_residual_locked(const char *path, int64_t row, int64_t rows, float *out, size_t n,
                                int64_t *rows_found) {
    rt_h5_init();
    *rows_found = 0;
    memset(out, 0, n * sizeof *out);
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_REQUIRED, NULL, &f);
    if (rc) return rc;
    if (H5Lexists(f, "dist", H5P_DEFAULT) <= 0 || H5Lexists(f, "dist/residual", H5P_DEFAULT) <= 0) {
        H5Fclose(f);
        return RT_OK;
    }
    hid_t d = H5Dopen2(f, "dist/residual", H5P_DEFAULT);
    int64_t have = 0;
    hsize_t len = 0;
    if (d < 0) rc = rt_err(RT_EBADINPUT, "%s: /dist/residual: cannot open", path);
    if (!rc && (rc = rt_h5_attr_int(d, "rows", &have))) rc = rt_err_prefix(rc, path);
    if (!rc) {
        hid_t s = H5Dget_space(d);
        if (H5Sget_simple_extent_ndims(s) != 1 || H5Sget_simple_extent_dims(s, &len, NULL) < 0) len = 0;
        H5Sclose(s);
        if (have < 1 || len != (hsize_t)have * (hsize_t)n)
            rc = rt_err(RT_EBADINPUT, "%s: /dist/residual: %llu floats, not %lld rows of the model's %zu trained "
                        "parameters", path, (unsigned long long)len, (long long)have, n);
    }
    if (!rc) rc = load_rows(d, path, have, row, rows, out, n);
    if (!rc) *rows_found = have;
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

int rt_ckpt_load_residual(const char *path, int64_t row, int64_t rows, float *out, size_t n, int64_t *rows_found) {
    rt_h5_lock();
    int rc = load_residual_locked(path, row, rows, out, n, rows_found);
    rt_h5_unlock();
    return rc;
}
