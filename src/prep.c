/* prep.c - public datasets converted to ringtrain's HDF5 layout. */
#include "ringtrain/prep.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/rng.h"

#include <errno.h>
#include <math.h>
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

/* The four IDX files of src_dir: buf[0], buf[1] train images and labels,
 * buf[2], buf[3] test; dims of each. */
static int read_fashion(const char *src_dir, uint8_t *buf[4], uint32_t dims[4][3]) {
    static const char *const files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    int rc = RT_OK;
    for (int i = 0; i < 4 && !rc; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", src_dir, files[i]);
        rc = read_idx(p, i % 2 == 0 ? 0x803 : 0x801, &buf[i], dims[i]);
    }
    if (!rc && (dims[0][0] != dims[1][0] || dims[2][0] != dims[3][0]))
        rc = rt_err(RT_EBADINPUT, "%s: image and label counts differ", src_dir);
    return rc;
}

/* Creates out_path's temporary file, has fill write into it, and renames it
 * into place; on any error nothing is left behind. */
static int write_file(const char *out_path, int (*fill)(hid_t f, void *ctx), void *ctx) {
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0 ? rt_err(RT_EBADINPUT, "%s: cannot create", tmp) : fill(f, ctx);
    if (f >= 0 && H5Fclose(f) < 0 && !rc) rc = rt_err(RT_ERUNTIME, "%s: close failed", tmp);
    if (!rc) rc = rt_commit_file(tmp, out_path);
    if (rc) unlink(tmp);
    return rc;
}

typedef struct fashion {
    uint8_t *buf[4];
    uint32_t dims[4][3];
} fashion;

static int fill_fashion(hid_t f, void *ctx) {
    fashion *d = ctx;
    int rc = write_split(f, "train", d->buf[0], d->buf[1], d->dims[0]);
    if (!rc) rc = write_split(f, "test", d->buf[2], d->buf[3], d->dims[2]);
    if (!rc) rc = rt_h5_attr_write_str(f, "source", "fashion-mnist");
    if (!rc) rc = rt_h5_attr_write_int(f, "num_classes", 10);
    return rc;
}

int rt_prep_fashion_mnist(const char *src_dir, const char *out_path) {
    rt_h5_init();
    rt_h5_lock();
    fashion d;
    memset(&d, 0, sizeof d);
    int rc = read_fashion(src_dir, d.buf, d.dims);
    if (!rc) rc = write_file(out_path, fill_fashion, &d);
    rt_h5_unlock();
    for (int i = 0; i < 4; i++) rt_free(d.buf[i]);
    return rc;
}

/* ---- the keypoint task: garments pasted into a larger canvas ---- */

#define KP_COUNT 5
#define KP_NOISE 0.03f
#define KP_STREAM 0x6b70707265ULL /* "kppre" */

/* One garment g (28 x 28, [0,1]) scaled to side n by bilinear sampling
 * (pixel centres: source coordinate (j + 0.5) 28 / n - 0.5, clamped) into
 * out (n x n). */
static void resample(const float *g, int n, float *out) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double sy = ((double)i + 0.5) * 28.0 / n - 0.5, sx = ((double)j + 0.5) * 28.0 / n - 0.5;
            sy = sy < 0 ? 0 : sy > 27 ? 27 : sy;
            sx = sx < 0 ? 0 : sx > 27 ? 27 : sx;
            int y0 = (int)sy, x0 = (int)sx, y1 = y0 < 27 ? y0 + 1 : 27, x1 = x0 < 27 ? x0 + 1 : 27;
            double fy = sy - y0, fx = sx - x0;
            double v = (1 - fy) * ((1 - fx) * g[y0 * 28 + x0] + fx * g[y0 * 28 + x1]) +
                       fy * ((1 - fx) * g[y1 * 28 + x0] + fx * g[y1 * 28 + x1]);
            out[i * n + j] = (float)v;
        }
}

/* The mean of one coordinate of the pixels >= thr on line `at` of the other
 * (rows when by_row: the mean x of row at; else the mean y of column at). */
static double line_mean(const float *c, int size, int at, bool by_row, float thr) {
    double s = 0.0;
    int k = 0;
    for (int t = 0; t < size; t++) {
        float v = by_row ? c[at * size + t] : c[t * size + at];
        if (v >= thr) s += t, k++;
    }
    return k ? s / k : 0.0;
}

/* The 5 keypoints (x, y) of a canvas (size x size): the intensity-weighted
 * centre, then the top-most, bottom-most, left-most and right-most pixels of
 * intensity >= 0.5 (half the maximum for a garment fainter than that), each
 * the mean along its extreme row or column. */
static void keypoints(const float *c, int size, float *kp) {
    double w = 0.0, sx = 0.0, sy = 0.0;
    float mx = 0.0f;
    for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++) {
            float v = c[i * size + j];
            w += v, sx += v * (double)j, sy += v * (double)i;
            mx = v > mx ? v : mx;
        }
    kp[0] = (float)(w > 0 ? sx / w : size / 2.0), kp[1] = (float)(w > 0 ? sy / w : size / 2.0);
    float thr = mx >= 0.5f ? 0.5f : 0.5f * mx;
    int top = size, bottom = -1, left = size, right = -1;
    for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++)
            if (c[i * size + j] >= thr && mx > 0.0f) {
                top = i < top ? i : top, bottom = i > bottom ? i : bottom;
                left = j < left ? j : left, right = j > right ? j : right;
            }
    if (bottom < 0) top = bottom = left = right = size / 2;
    kp[2] = (float)line_mean(c, size, top, true, thr), kp[3] = (float)top;
    kp[4] = (float)line_mean(c, size, bottom, true, thr), kp[5] = (float)bottom;
    kp[6] = (float)left, kp[7] = (float)line_mean(c, size, left, false, thr);
    kp[8] = (float)right, kp[9] = (float)line_mean(c, size, right, false, thr);
}

typedef struct kp_split {
    const char *name;
    const uint8_t *img, *lab;
    uint32_t n;
    uint64_t stream;
} kp_split;

typedef struct kp_job {
    fashion src;
    int size;
    uint64_t seed;
} kp_job;

/* Row r of a split: its canvas x (size x size, uint8), keypoints kp (5, 2)
 * and placement (scale, x0, y0), a pure function of (seed, split, r). */
static void paste_row(const kp_job *j, const kp_split *sp, uint32_t r, float *canvas, float *g, float *scaled,
                      uint8_t *x, float *kp, float *place) {
    int size = j->size;
    rt_rng rng;
    rt_rng_seed(&rng, rt_row_key(j->seed, sp->stream, r), KP_STREAM);
    float scale = 0.7f + 0.6f * rt_rng_uniform(&rng);
    int n = (int)lround(28.0 * scale);
    int x0 = (int)(rt_rng_uniform(&rng) * (float)(size - n + 1)), y0 = (int)(rt_rng_uniform(&rng) * (float)(size - n + 1));
    for (int k = 0; k < 28 * 28; k++) g[k] = (float)sp->img[(size_t)r * 784 + k] / 255.0f;
    resample(g, n, scaled);
    memset(canvas, 0, (size_t)size * size * sizeof *canvas);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < n; t++) canvas[(y0 + i) * size + x0 + t] = scaled[i * n + t];
    keypoints(canvas, size, kp);
    for (int k = 0; k < size * size; k++) { /* light noise, after the keypoints */
        float v = canvas[k] + KP_NOISE * rt_rng_normal(&rng);
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        x[k] = (uint8_t)lrintf(v * 255.0f);
    }
    place[0] = scale, place[1] = (float)x0, place[2] = (float)y0;
}

static int write_kp_split(hid_t f, const kp_job *j, const kp_split *sp) {
    int size = j->size;
    size_t n = sp->n, px = (size_t)size * size;
    uint8_t *x = rt_malloc(rt_mul_size(n, px));
    float *kp = rt_malloc(rt_mul_size(n, 2 * KP_COUNT * sizeof(float)));
    float *place = rt_malloc(rt_mul_size(n, 3 * sizeof(float)));
    int32_t *y = rt_malloc(rt_mul_size(n, sizeof(int32_t)));
    float *canvas = rt_malloc(px * sizeof(float)), g[784], *scaled = rt_malloc(37 * 37 * sizeof(float));
    for (uint32_t r = 0; r < sp->n; r++) {
        paste_row(j, sp, r, canvas, g, scaled, x + r * px, kp + (size_t)r * 2 * KP_COUNT, place + (size_t)r * 3);
        y[r] = sp->lab[r];
    }
    hid_t grp = H5Gcreate2(f, sp->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = grp < 0 ? rt_err(RT_ERUNTIME, "cannot create group %s", sp->name) : RT_OK;
    hsize_t c0 = n < 64 ? n : 64;
    hsize_t xd[4] = {n, 1, (hsize_t)size, (hsize_t)size}, xc[4] = {c0, 1, (hsize_t)size, (hsize_t)size};
    hsize_t kd[3] = {n, KP_COUNT, 2}, kc[3] = {c0, KP_COUNT, 2}, pd[2] = {n, 3}, pc[2] = {c0, 3};
    hsize_t yd[1] = {n}, yc[1] = {c0};
    if (!rc) rc = rt_h5_write_chunked(grp, "x", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, xd, xc, x);
    if (!rc) rc = rt_h5_write_chunked(grp, "kp", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, kd, kc, kp);
    if (!rc) rc = rt_h5_write_chunked(grp, "place", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, pd, pc, place);
    if (!rc) rc = rt_h5_write_chunked(grp, "y", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, yd, yc, y);
    if (grp >= 0) H5Gclose(grp);
    rt_free(x), rt_free(kp), rt_free(place), rt_free(y), rt_free(canvas), rt_free(scaled);
    return rc;
}

static int fill_keypoints(hid_t f, void *ctx) {
    kp_job *j = ctx;
    kp_split train = {"train", j->src.buf[0], j->src.buf[1], j->src.dims[0][0], 1};
    kp_split test = {"test", j->src.buf[2], j->src.buf[3], j->src.dims[2][0], 2};
    int rc = write_kp_split(f, j, &train);
    if (!rc) rc = write_kp_split(f, j, &test);
    if (!rc) rc = rt_h5_attr_write_str(f, "source", "fashion-keypoints (ringtrain prep)");
    if (!rc) rc = rt_h5_attr_write_int(f, "num_classes", 10);
    if (!rc) rc = rt_h5_attr_write_str(f, "keypoints", "centre,top,bottom,left,right");
    if (!rc) rc = rt_h5_attr_write_int(f, "size", j->size);
    if (!rc) rc = rt_h5_attr_write_int(f, "seed", (int64_t)j->seed);
    return rc;
}

int rt_prep_fashion_keypoints(const char *src_dir, const char *out_path, int size, uint64_t seed) {
    if (size < 36 || size > 512)
        return rt_err(RT_EBADINPUT, "--size: %d is not in [36, 512] (the largest garment is 36 pixels)", size);
    rt_h5_init();
    rt_h5_lock();
    kp_job j = {.size = size, .seed = seed};
    int rc = read_fashion(src_dir, j.src.buf, j.src.dims);
    if (!rc && (j.src.dims[0][1] != 28 || j.src.dims[0][2] != 28))
        rc = rt_err(RT_EBADINPUT, "%s: images are not 28 x 28", src_dir);
    if (!rc) rc = write_file(out_path, fill_keypoints, &j);
    rt_h5_unlock();
    for (int i = 0; i < 4; i++) rt_free(j.src.buf[i]);
    return rc;
}
