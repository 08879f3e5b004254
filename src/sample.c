/* sample.c - `ringtrain sample`: generative checkpoints to image grids or HDF5. */
#include "ringtrain/sample.h"

#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/config.h"
#include "ringtrain/h5util.h"
#include "ringtrain/model.h"

#include <cJSON.h>
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

/* x (n, D) in data scale -> one PNG grid: `rows` rows with sample k at row
 * k % rows (one row per class), or nearly square when rows is 0. */
static int write_grid(const rt_config *c, const float *x, int64_t n, int rows_by_class, const char *path) {
    int ch, h, w;
    int rc = image_shape(c, &ch, &h, &w);
    if (rc) return rc;
    int64_t cols = (int64_t)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
    if (rows_by_class) rows = rows_by_class, cols = (n + rows - 1) / rows;
    int64_t W64 = cols * (w + GRID_PAD) + GRID_PAD, H64 = rows * (h + GRID_PAD) + GRID_PAD;
    if (W64 > (1 << 15) || H64 > (1 << 15) || W64 * H64 > (1 << 28))
        return rt_err(RT_EBADINPUT, "%s: a grid of %lld images of %dx%d would be too large", path,
                      (long long)n, h, w);
    int W = (int)W64, H = (int)H64;
    uint8_t *px = rt_calloc((size_t)W * (size_t)H * (size_t)ch, 1);
    int64_t D = (int64_t)ch * h * w;
    for (int64_t k = 0; k < n; k++) {
        int64_t r = rows_by_class ? k % rows : k / cols, q = rows_by_class ? k / rows : k % cols;
        int gy = (int)r * (h + GRID_PAD) + GRID_PAD, gx = (int)q * (w + GRID_PAD) + GRID_PAD;
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

/* The drawn samples and what produced them. */
typedef struct drawn {
    float *noise, *x;      /* (n, D): the start, and the result in the model's space */
    int32_t *labels;       /* (n), or NULL */
    int64_t n, D;
    int steps;
    double cfg, temperature;
    uint64_t seed;
    const char *weights; /* "params" or "ema" */
} drawn;

static int write_rows(hid_t f, const char *name, const rt_config *c, int ndim, const int *shape, int64_t n,
                      hid_t type, hid_t mem, const void *v) {
    hsize_t dims[RT_MAX_DIMS + 1] = {(hsize_t)n}, chunk[RT_MAX_DIMS + 1] = {n < 256 ? (hsize_t)n : 256};
    for (int i = 0; i < ndim; i++) dims[i + 1] = chunk[i + 1] = (hsize_t)shape[i];
    (void)c;
    return rt_h5_write_chunked(f, name, type, mem, ndim + 1, dims, chunk, v);
}

static int write_attrs(hid_t f, const drawn *d) {
    int rc = rt_h5_attr_write_int(f, "steps", d->steps);
    if (!rc) rc = rt_h5_attr_write_double(f, "cfg", d->cfg);
    if (!rc) rc = rt_h5_attr_write_double(f, "temperature", d->temperature);
    if (!rc) rc = rt_h5_attr_write_str(f, "weights", d->weights ? d->weights : "params");
    if (!rc) rc = rt_h5_attr_write_int(f, "seed", (int64_t)d->seed);
    return rc;
}

static int write_h5(const rt_config *c, const drawn *d, const char *path) {
    char tmp[RT_PATH_MAX + 16];
    if (rt_fmt(tmp, sizeof tmp, "%s.tmp", path)) return rt_err(RT_EBADINPUT, "%s: path too long", path);
    int ch, h, w;
    bool image = image_shape(c, &ch, &h, &w) == RT_OK;
    float *img = NULL;
    if (image) { /* back to the data's scale, clamped */
        img = rt_malloc(rt_mul_size((size_t)(d->n * d->D), sizeof(float)));
        for (int64_t i = 0; i < d->n * d->D; i++) {
            float v = d->x[i] * (float)c->data.std + (float)c->data.mean;
            img[i] = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
    rt_h5_lock();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0 ? rt_err(RT_EBADINPUT, "%s: cannot create", path) : RT_OK;
    if (!rc) {
        const int *in = c->model.input, nd = c->model.input_ndim;
        int ishape[3] = {ch, h, w};
        rc = write_rows(f, "noise", c, nd, in, d->n, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, d->noise);
        if (!rc) rc = write_rows(f, "samples", c, nd, in, d->n, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, d->x);
        if (!rc && d->labels) rc = write_rows(f, "labels", c, 0, NULL, d->n, H5T_STD_I32LE, H5T_NATIVE_INT32, d->labels);
        if (!rc && image) rc = write_rows(f, "images", c, 3, ishape, d->n, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, img);
        if (!rc) rc = write_attrs(f, d);
        H5Fclose(f);
    }
    rt_h5_unlock();
    rt_free(img);
    if (!rc) rc = rt_commit_file(tmp, path);
    if (rc) unlink(tmp);
    return rc;
}

/* model.sample_steps of a rectified flow's resolved config (0 where there is none) */
static int sample_steps(const rt_config *c) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c->resolved, "model"),
                                                      "sample_steps");
    return cJSON_IsNumber(s) ? (int)s->valuedouble : 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The labels the request asks of a model of `classes` classes (NULL:
 * unconditional), or RT_EBADINPUT when it cannot take them. */
static int labels_of(const rt_sample_req *req, int classes, const char *ckpt, int32_t **out) {
    *out = NULL;
    if (!classes && req->klass != RT_CLASS_NONE)
        return rt_err(RT_EBADINPUT, "%s: --class: this model is not class-conditional", ckpt);
    if (!classes && !isnan(req->cfg) && req->cfg != 1.0)
        return rt_err(RT_EBADINPUT, "%s: --cfg: this model has no classes to guide by", ckpt);
    if (req->klass >= classes)
        return rt_err(RT_EBADINPUT, "%s: --class: %d is not a class of this model (0 to %d)", ckpt, req->klass,
                      classes - 1);
    if (req->klass == RT_CLASS_NONE) return RT_OK;
    *out = rt_malloc(rt_mul_size((size_t)req->n, sizeof(int32_t)));
    for (int64_t i = 0; i < req->n; i++) (*out)[i] = req->klass == RT_CLASS_ALL ? (int32_t)(i % classes) : req->klass;
    return RT_OK;
}

int rt_sample_checkpoint(const char *ckpt, const rt_sample_req *req, const char *out) {
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
    int classes = rt_model_num_classes(m);
    drawn d = {.n = req->n, .D = rt_model_input_size(m), .steps = req->steps ? req->steps : sample_steps(cfg),
               .seed = req->seed,
               .cfg = isnan(req->cfg) ? 1.0 : req->cfg, .temperature = req->temperature};
    rc = labels_of(req, classes, ckpt, &d.labels);
    if (!rc) rc = rt_ckpt_load_weights(ckpt, rt_model_params(m), req->weights, &d.weights);
    if (!rc) {
        d.x = rt_malloc(rt_mul_size(rt_mul_size((size_t)d.n, (size_t)d.D), sizeof(float)));
        d.noise = rt_malloc(rt_mul_size(rt_mul_size((size_t)d.n, (size_t)d.D), sizeof(float)));
        rt_graph *g = rt_graph_create(16u << 20, 256);
        rt_sample_opts o = {.n = d.n, .seed = d.seed, .steps = d.steps, .temperature = d.temperature,
                            .labels = d.labels, .cfg = d.cfg, .noise = d.noise};
        rc = rt_model_sample_opts(m, g, &o, d.x);
        rt_graph_destroy(g);
    }
    if (!rc && png) { /* back to the data's scale */
        for (int64_t i = 0; i < d.n * d.D; i++) d.x[i] = d.x[i] * (float)cfg->data.std + (float)cfg->data.mean;
        rc = write_grid(cfg, d.x, d.n, req->klass == RT_CLASS_ALL ? classes : 0, out);
    } else if (!rc) {
        rc = write_h5(cfg, &d, out);
    }
    rt_free(d.x);
    rt_free(d.noise);
    rt_free(d.labels);
    rt_model_destroy(m);
    rt_config_free(cfg);
    return rc;
}
