/* fid.c - FID and class agreement of generated images on a classifier's
 * penultimate features; the matrix square roots from LAPACK (OpenBLAS). */
#include "ringtrain/fid.h"

#include "ringtrain/autograd.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/data.h"
#include "ringtrain/events.h"
#include "ringtrain/h5util.h"
#include "ringtrain/model.h"
#include "ringtrain/sample.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* LAPACK's symmetric eigensolver, as OpenBLAS exports it */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info);

void rt_fid_moments(const float *x, int64_t n, int64_t d, double *mean, double *cov) {
    double *c = rt_malloc(rt_mul_size(rt_mul_size((size_t)n, (size_t)d), sizeof(double)));
    for (int64_t j = 0; j < d; j++) mean[j] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) mean[j] += (double)x[i * d + j];
    for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) c[i * d + j] = (double)x[i * d + j] - mean[j];
    /* cov = c^T c / (n - 1), both triangles */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)n, 1.0 / (double)(n - 1), c, (int)d,
                c, (int)d, 0.0, cov, (int)d);
    rt_free(c);
}

/* eigenvalues of the symmetric a (d x d, overwritten) into w; with vectors,
 * a's columns (column-major) become the eigenvectors */
static int eig(double *a, int d, double *w, bool vectors) {
    int info = 0, lwork = -1;
    double query = 0.0;
    const char *job = vectors ? "V" : "N";
    dsyev_(job, "U", &d, a, &d, w, &query, &lwork, &info);
    lwork = info == 0 ? (int)query : 0;
    double *work = rt_malloc(rt_mul_size((size_t)(lwork > 1 ? lwork : 1), sizeof(double)));
    if (info == 0) dsyev_(job, "U", &d, a, &d, w, work, &lwork, &info);
    rt_free(work);
    return info == 0 ? RT_OK : rt_err(RT_ERUNTIME, "FID: LAPACK dsyev failed (info %d)", info);
}

int rt_fid_distance(const double *m1, const double *s1, const double *m2, const double *s2, int64_t d,
                    double *out) {
    size_t dd = rt_mul_size((size_t)d, (size_t)d);
    double *a = rt_malloc(dd * sizeof(double)), *h = rt_malloc(dd * sizeof(double));
    double *t = rt_malloc(dd * sizeof(double)), *w = rt_malloc((size_t)d * sizeof(double));
    memcpy(a, s1, dd * sizeof(double));
    int rc = eig(a, (int)d, w, true);
    if (!rc) { /* h = s1^1/2 = (V w^1/4)(V w^1/4)^T */
        for (int64_t j = 0; j < d; j++) {
            double f = sqrt(sqrt(w[j] > 0.0 ? w[j] : 0.0));
            for (int64_t i = 0; i < d; i++) a[i + j * d] *= f;
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, 1.0, a, (int)d, a, (int)d,
                    0.0, h, (int)d);
        /* a = h s2 h, symmetric PSD: tr of its square root is the sum of sqrt(eigenvalues) */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, h, (int)d, s2, (int)d,
                    0.0, t, (int)d);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, t, (int)d, h, (int)d,
                    0.0, a, (int)d);
        rc = eig(a, (int)d, w, false);
    }
    if (!rc) {
        double diff = 0.0, tr = 0.0, root = 0.0;
        for (int64_t i = 0; i < d; i++) {
            diff += (m1[i] - m2[i]) * (m1[i] - m2[i]);
            tr += s1[i * d + i] + s2[i * d + i];
            root += sqrt(w[i] > 0.0 ? w[i] : 0.0);
        }
        *out = diff + tr - 2.0 * root;
    }
    rt_free(a), rt_free(h), rt_free(t), rt_free(w);
    return rc;
}

/* ---- the eval verb ---- */

typedef struct images {
    int64_t n, D;
    float *x;       /* (n, D) in the classifier's normalised space */
    int32_t *y;     /* (n) labels, or NULL */
} images;

static void images_free(images *im) { rt_free(im->x), rt_free(im->y); }

static void images_alloc(images *im, int64_t n, int64_t D, bool labels) {
    im->n = n, im->D = D;
    im->x = rt_malloc(rt_mul_size(rt_mul_size((size_t)n, (size_t)D), sizeof(float)));
    if (labels) im->y = rt_malloc(rt_mul_size((size_t)n, sizeof(int32_t)));
}

/* the first n rows of a dataset split, normalised as the classifier's config says */
static int read_split(const char *path, const char *split, const rt_config *c, int64_t n, int64_t D, images *im) {
    rt_dataset *d = NULL;
    int rc = rt_dataset_open(path, split, D, 0, &d);
    if (!rc && rt_dataset_rows(d) < n)
        rc = rt_err(RT_EBADINPUT, "%s: /%s/x: %lld rows, fewer than --n %lld", path, split,
                    (long long)rt_dataset_rows(d), (long long)n);
    if (!rc) {
        rt_dataset_set_normalize(d, (float)c->data.mean, (float)c->data.std);
        int64_t *rows = rt_malloc(rt_mul_size((size_t)n, sizeof(int64_t)));
        for (int64_t i = 0; i < n; i++) rows[i] = i;
        images_alloc(im, n, D, true);
        rc = rt_dataset_read(d, rows, n, im->x, im->y);
        rt_free(rows);
    }
    rt_dataset_close(d);
    return rc;
}

/* dataset name of f into out (n rows of `per` values of type mem); RT_EBADINPUT naming it */
static int read_rows(hid_t f, const char *path, const char *name, int ndim, int64_t per, int64_t n, hid_t mem,
                     void *out) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return rt_err(RT_EBADINPUT, "%s: %s: missing", path, name);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd == ndim) H5Sget_simple_extent_dims(sp, dims, NULL);
    int64_t have = 1;
    for (int i = 1; i < nd && nd == ndim; i++) have *= (int64_t)dims[i];
    int rc = RT_OK;
    if (nd != ndim || have != per || (int64_t)dims[0] < n) {
        rc = rt_err(RT_EBADINPUT, "%s: %s: expected %d dimensions, %lld values a row and at least %lld rows",
                    path, name, ndim, (long long)per, (long long)n);
    } else {
        hsize_t start[8] = {0}, count[8];
        for (int i = 0; i < nd; i++) count[i] = i ? dims[i] : (hsize_t)n;
        hid_t ms = H5Screate_simple(nd, count, NULL);
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, count, NULL);
        if (H5Dread(ds, mem, ms, sp, H5P_DEFAULT, out) < 0)
            rc = rt_err(RT_EBADINPUT, "%s: %s: read failed (not numbers, or corrupt)", path, name);
        H5Sclose(ms);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

/* /images [N, C, H, W] in [0, 1] (and /labels) of a samples file, normalised */
static int read_samples(const char *path, const rt_config *c, int64_t n, int64_t D, images *im) {
    rt_h5_lock();
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open(path, &f);
    if (!rc) {
        bool labels = H5Lexists(f, "labels", H5P_DEFAULT) > 0;
        images_alloc(im, n, D, labels);
        rc = read_rows(f, path, "/images", 4, D, n, H5T_NATIVE_FLOAT, im->x);
        if (!rc && labels) rc = read_rows(f, path, "/labels", 1, 1, n, H5T_NATIVE_INT32, im->y);
        H5Fclose(f);
    }
    rt_h5_unlock();
    for (int64_t i = 0; !rc && i < n * D; i++) im->x[i] = (im->x[i] - (float)c->data.mean) / (float)c->data.std;
    return rc;
}

/* features (n, F) and predicted classes of im through the classifier */
static void classify(rt_model *m, const images *im, float *feat, int64_t F, int32_t *pred) {
    rt_graph *g = rt_graph_create(64u << 20, 256);
    rt_graph_set_grad(g, false);
    for (int64_t lo = 0; lo < im->n; lo += 250) {
        int b = (int)(im->n - lo < 250 ? im->n - lo : 250), shape[2] = {b, (int)im->D};
        rt_graph_reset(g);
        rt_tensor *x = rt_graph_tensor(g, 2, shape, false);
        memcpy(x->data, im->x + lo * im->D, (size_t)b * (size_t)im->D * sizeof(float));
        rt_tensor *h = rt_model_features(m, g, x), *logits = rt_model_forward(m, g, x);
        memcpy(feat + lo * F, h->data, (size_t)b * (size_t)F * sizeof(float));
        for (int i = 0; i < b; i++) {
            const float *row = logits->data + (int64_t)i * logits->shape[1];
            int best = 0;
            for (int j = 1; j < logits->shape[1]; j++) best = row[j] > row[best] ? j : best;
            pred[lo + i] = best;
        }
    }
    rt_graph_destroy(g);
}

/* the moments of im's features, and its class agreement (NaN without labels) */
static void moments_of(rt_model *m, const images *im, int64_t F, double *mean, double *cov, double *agree) {
    float *feat = rt_malloc(rt_mul_size(rt_mul_size((size_t)im->n, (size_t)F), sizeof(float)));
    int32_t *pred = rt_malloc(rt_mul_size((size_t)im->n, sizeof(int32_t)));
    classify(m, im, feat, F, pred);
    rt_fid_moments(feat, im->n, F, mean, cov);
    int64_t same = 0;
    for (int64_t i = 0; im->y && i < im->n; i++) same += pred[i] == im->y[i];
    *agree = im->y ? (double)same / (double)im->n : NAN;
    rt_free(feat), rt_free(pred);
}

/* n samples of a generative checkpoint into a temporary file */
static int draw(const rt_fid_req *req, char *tmp, size_t len) {
    rt_config *g = NULL;
    int rc = rt_ckpt_config(req->gen, &g);
    if (rc) return rc;
    rt_model *gm = rt_model_create(g);
    int classes = rt_model_num_classes(gm);
    rt_model_destroy(gm);
    rt_config_free(g);
    rt_fmt(tmp, len, "%s/ringtrain-fid-%d.h5", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    rt_sample_req s = {.n = req->n, .seed = req->seed, .klass = classes > 0 ? RT_CLASS_ALL : RT_CLASS_NONE,
                       .cfg = NAN, .temperature = 1.0};
    return rt_sample_checkpoint(req->gen, &s, tmp);
}

static void print_fid(const rt_fid_req *req, const char *samples, double fid, double floor, double agree) {
    rt_event *e = rt_event_new("fid");
    rt_event_num(e, "fid", fid);
    rt_event_num(e, "fid_train", floor);
    rt_event_num(e, "class_agreement", agree); /* NaN is written as null */
    rt_event_num(e, "n", (double)req->n);
    rt_event_str(e, "samples", req->gen ? req->gen : samples);
    rt_event_str(e, "classifier", req->classifier);
    rt_event_emit(e, stdout, NULL);
}

int rt_fid_eval(const rt_fid_req *req) {
    rt_config *c = NULL;
    int rc = rt_ckpt_config(req->classifier, &c);
    if (rc) return rc;
    rt_model *m = rt_model_create(c);
    int64_t D = rt_model_input_size(m), F = 0;
    if (!(rc = rt_ckpt_load_params(req->classifier, rt_model_params(m)))) {
        rt_graph *g = rt_graph_create(16u << 20, 256);
        int one[2] = {1, (int)D};
        rt_graph_set_grad(g, false);
        rt_tensor *h = rt_model_features(m, g, rt_graph_tensor(g, 2, one, false));
        F = h ? h->shape[1] : 0;
        rt_graph_destroy(g);
        if (!F) rc = rt_err(RT_EBADINPUT, "%s: not a classifier (no last linear layer to take features from)",
                            req->classifier);
    }
    char tmp[RT_PATH_MAX] = "";
    const char *samples = req->samples, *data = req->data ? req->data : c->data.test;
    if (!rc && req->gen && !(rc = draw(req, tmp, sizeof tmp))) samples = tmp;
    images gen = {0}, test = {0}, train = {0};
    if (!rc) rc = read_samples(samples, c, req->n, D, &gen);
    if (!rc) rc = read_split(data, "test", c, req->n, D, &test);
    if (!rc) rc = read_split(data, "train", c, req->n, D, &train);
    if (tmp[0]) unlink(tmp);
    if (!rc) {
        size_t ff = rt_mul_size((size_t)F, (size_t)F);
        double *mu[3], *cov[3], agree[3], fid = 0.0, floor = 0.0;
        const images *sets[3] = {&gen, &test, &train};
        for (int k = 0; k < 3; k++) {
            mu[k] = rt_malloc((size_t)F * sizeof(double)), cov[k] = rt_malloc(ff * sizeof(double));
            moments_of(m, sets[k], F, mu[k], cov[k], &agree[k]);
        }
        rc = rt_fid_distance(mu[0], cov[0], mu[1], cov[1], F, &fid);
        if (!rc) rc = rt_fid_distance(mu[2], cov[2], mu[1], cov[1], F, &floor);
        if (!rc) print_fid(req, samples, fid, floor, agree[0]);
        for (int k = 0; k < 3; k++) rt_free(mu[k]), rt_free(cov[k]);
    }
    images_free(&gen), images_free(&test), images_free(&train);
    rt_model_destroy(m);
    rt_config_free(c);
    return rc;
}
