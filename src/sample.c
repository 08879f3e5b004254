/* sample.c - `ringtrain sample`: generative checkpoints to image grids or HDF5. */
#include "ringtrain/sample.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/h5util.h"
#include "ringtrain/model.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define GRID_PAD 2 /* pixels between images and around the grid */

int rt_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    char tmp[RT_PATH_MAX + 16];
    if (rt_fmt(tmp, sizeof tmp, "%s.tmp", path)) return rt_err(RT_EBADINPUT, "%s: path too long", path);
    if (!png_image_write_to_file(&img, tmp, 0, pixels, 0, NULL)) {
        int rc = rt_err(RT_EBADINPUT, "%s: cannot write PNG: %s", path,
                        img.message[0] ? img.message : strerror(errno));
        unlink(tmp);
        return rc;
    }
    int rc = rt_commit_file(tmp, path);
    if (rc) unlink(tmp);
    return rc;
}

/* Image geometry of a sample: (channels, height, width) from model.input. */
static int image_shape(const rt_config *c, int *ch, int *h, int *w) {
    const int *in = c->model.input;
    switch (c->model.input_ndim) {
    case 3: *ch = in[0], *h = in[1], *w = in[2]; break;
    case 2: *ch = 1, *h = in[0], *w = in[1]; break;
    default: {
        int side = (int)lround(sqrt((double)in[0]));
        *ch = 1, *h = side, *w = side;
        if (side * side != in[0])
            return rt_err(RT_EBADINPUT,
                          "model.input: %d-element samples are not square images; write them "
                          "with --out FILE.h5",
                          in[0]);
    }
    }
    if (*ch != 1 && *ch != 3)
        return rt_err(RT_EBADINPUT, "model.input: %d channels cannot be drawn (1 or 3); use --out FILE.h5",
                      *ch);
    return RT_OK;
}

/* x (n, D) in data scale -> one PNG grid, nearly square. */
static int write_grid(const rt_config *c, const float *x, int64_t n, const char *path) {
    int ch, h, w;
    int rc = image_shape(c, &ch, &h, &w);
    if (rc) return rc;
    int64_t cols = (int64_t)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
    int64_t W64 = cols * (w + GRID_PAD) + GRID_PAD, H64 = rows * (h + GRID_PAD) + GRID_PAD;
    if (W64 > (1 << 15) || H64 > (1 << 15) || W64 * H64 > (1 << 28))
        return rt_err(RT_EBADINPUT, "%s: a grid of %lld images of %dx%d would be too large", path,
                      (long long)n, h, w);
    int W = (int)W64, H = (int)H64;
    uint8_t *px = rt_calloc((size_t)W * (size_t)H * (size_t)ch, 1);
    int64_t D = (int64_t)ch * h * w;
    for (int64_t k = 0; k < n; k++) {
        int gy = (int)(k / cols) * (h + GRID_PAD) + GRID_PAD, gx = (int)(k % cols) * (w + GRID_PAD) + GRID_PAD;
        for (int cc = 0; cc < ch; cc++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    float v = x[k * D + ((int64_t)cc * h + y) * w + xx];
                    v = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                    px[((size_t)(gy + y) * (size_t)W + (size_t)(gx + xx)) * (size_t)ch + (size_t)cc] =
                        (uint8_t)lrintf(v * 255.0f);
                }
    }
    rc = rt_png_write(path, W, H, ch, px);
    rt_free(px);
    return rc;
}

static int write_h5(const rt_config *c, const float *x, int64_t n, const char *path) {
    char tmp[RT_PATH_MAX + 16];
    if (rt_fmt(tmp, sizeof tmp, "%s.tmp", path)) return rt_err(RT_EBADINPUT, "%s: path too long", path);
    rt_h5_lock();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0 ? rt_err(RT_EBADINPUT, "%s: cannot create", path) : RT_OK;
    if (!rc) {
        hsize_t dims[RT_MAX_DIMS + 1] = {(hsize_t)n}, chunk[RT_MAX_DIMS + 1] = {1};
        for (int i = 0; i < c->model.input_ndim; i++) {
            dims[i + 1] = (hsize_t)c->model.input[i];
            chunk[i + 1] = dims[i + 1];
        }
        chunk[0] = n < 256 ? (hsize_t)n : 256;
        rc = rt_h5_write_chunked(f, "samples", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                                 c->model.input_ndim + 1, dims, chunk, x);
        H5Fclose(f);
    }
    rt_h5_unlock();
    if (!rc) rc = rt_commit_file(tmp, path);
    if (rc) unlink(tmp);
    return rc;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int rt_sample_checkpoint(const char *ckpt, int64_t n, uint64_t seed, int steps, const char *out) {
    bool png = ends_with(out, ".png"), h5 = ends_with(out, ".h5");
    if (!png && !h5) return rt_err(RT_EBADINPUT, "%s: --out must end in .png or .h5", out);
    rt_config *cfg = NULL;
    int rc = rt_ckpt_config(ckpt, &cfg);
    if (rc) return rc;
    if ((rc = rt_model_cfg_require_sampler(&cfg->model, ckpt))) {
        rt_config_free(cfg);
        return rc;
    }
    int ch, h, w;
    if (png && (rc = image_shape(cfg, &ch, &h, &w))) {
        rt_config_free(cfg);
        return rt_err_prefix(rc, ckpt);
    }
    rt_model *m = rt_model_create(cfg);
    rc = rt_ckpt_load_params(ckpt, rt_model_params(m));
    float *x = NULL;
    if (!rc) {
        int64_t D = rt_model_input_size(m);
        x = rt_malloc(rt_mul_size(rt_mul_size((size_t)n, (size_t)D), sizeof(float)));
        rt_graph *g = rt_graph_create(16u << 20, 256);
        rc = rt_model_sample(m, g, n, seed, steps, x);
        rt_graph_destroy(g);
        for (int64_t i = 0; !rc && i < n * D; i++) /* back to the data's scale */
            x[i] = x[i] * (float)cfg->data.std + (float)cfg->data.mean;
    }
    if (!rc) rc = png ? write_grid(cfg, x, n, out) : write_h5(cfg, x, n, out);
    rt_free(x);
    rt_model_destroy(m);
    rt_config_free(cfg);
    return rc;
}
