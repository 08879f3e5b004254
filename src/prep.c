/* prep.c - public datasets converted to ringtrain's HDF5 layout. */
#include "ringtrain/prep.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---- Fashion-MNIST IDX -> HDF5 ---- */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads a gzipped IDX file: magic 0x0803 (images) or 0x0801 (labels). */
static int read_idx(const char *path, uint32_t magic, uint8_t **data, uint32_t dims[3]) {
    gzFile f = gzopen(path, "rb");
    if (!f) return rt_err(RT_EBADINPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char hdr[16];
    int nd = magic == 0x803 ? 3 : 1;
    int rc = RT_OK;
    if (gzread(f, hdr, (unsigned)(4 + 4 * nd)) != 4 + 4 * nd || be32(hdr) != magic)
        rc = rt_err(RT_EBADINPUT, "%s: not an IDX file with magic 0x%04x", path, magic);
    size_t total = 1;
    for (int i = 0; !rc && i < nd; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > (1u << 24))
            rc = rt_err(RT_EBADINPUT, "%s: implausible dimension %u", path, dims[i]);
        total = rt_mul_size(total, dims[i]);
    }
    if (!rc) {
        *data = rt_malloc(total);
        size_t got = 0;
        while (got < total) {
            unsigned chunk = total - got > (1u << 30) ? (1u << 30) : (unsigned)(total - got);
            int r = gzread(f, *data + got, chunk);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != total) {
            rt_free(*data);
            *data = NULL;
            rc = rt_err(RT_EBADINPUT, "%s: truncated (%zu of %zu bytes)", path, got, total);
        }
    }
    gzclose(f);
    return rc;
}

static int write_split(hid_t file, const char *split, const uint8_t *img, const uint8_t *lab,
                       const uint32_t idims[3]) {
    hid_t g = H5Gcreate2(file, split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rt_err(RT_ERUNTIME, "/%s: cannot create group", split);
    int32_t *y = rt_malloc(rt_mul_size(idims[0], sizeof(int32_t)));
    for (uint32_t i = 0; i < idims[0]; i++) y[i] = lab[i];
    hsize_t xd[3] = {idims[0], idims[1], idims[2]}, xc[3] = {64, idims[1], idims[2]};
    hsize_t yd[1] = {idims[0]}, yc[1] = {4096};
    if (xc[0] > xd[0]) xc[0] = xd[0];
    if (yc[0] > yd[0]) yc[0] = yd[0];
    int rc = rt_h5_write_chunked(g, "x", H5T_STD_U8LE, H5T_NATIVE_UINT8, 3, xd, xc, img);
    if (!rc) rc = rt_h5_write_chunked(g, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, yd, yc, y);
    rt_free(y);
    H5Gclose(g);
    return rc;
}

int rt_prep_fashion_mnist(const char *src_dir, const char *out_path) {
    rt_h5_init();
    rt_h5_lock();
    static const char *const files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    uint8_t *buf[4] = {0};
    uint32_t dims[4][3] = {{0}};
    int rc = RT_OK;
    for (int i = 0; i < 4 && !rc; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", src_dir, files[i]);
        rc = read_idx(p, i % 2 == 0 ? 0x803 : 0x801, &buf[i], dims[i]);
    }
    if (!rc && (dims[0][0] != dims[1][0] || dims[2][0] != dims[3][0]))
        rc = rt_err(RT_EBADINPUT, "%s: image and label counts differ", src_dir);
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
    hid_t f = H5I_INVALID_HID;
    if (!rc && (f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        rc = rt_err(RT_ERUNTIME, "%s: cannot create", tmp);
    if (!rc) rc = write_split(f, "train", buf[0], buf[1], dims[0]);
    if (!rc) rc = write_split(f, "test", buf[2], buf[3], dims[2]);
    if (!rc) rc = rt_h5_attr_write_str(f, "source", "fashion-mnist");
    if (!rc) rc = rt_h5_attr_write_int(f, "num_classes", 10);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = rt_err(RT_ERUNTIME, "%s: close failed", tmp);
    if (!rc) rc = rt_commit_file(tmp, out_path);
    if (rc) unlink(tmp);
    rt_h5_unlock();
    for (int i = 0; i < 4; i++) rt_free(buf[i]);
    return rc;
}
