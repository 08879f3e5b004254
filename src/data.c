/* data.c - HDF5 datasets read by hyperslab, sampling, and IDX conversion. */
#include "ringtrain/data.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/rng.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct rt_dataset {
    char path[1024];
    hid_t file, x;       /* open file and its /<split>/x dataset */
    hid_t fspace;        /* file dataspace of x, reused for every selection */
    hid_t mspace;        /* memory dataspace, resized to each batch */
    int x_ndim;
    hsize_t xdims[8];
    bool x_uint8;        /* stored as uint8: scale by 1/255 on read */
    int64_t rows;        /* N */
    int64_t sample;      /* elements per row */
    int32_t *y;          /* (rows) labels, validated at open */
    char split[32];      /* the group: "train" or "test" */
    float *kp;           /* (rows, kp_count, 2) keypoints, when loaded */
    int kp_count;
    uint8_t *stage;      /* (stage_rows, sample) uint8 staging for conversion */
    int64_t stage_rows;
    int64_t rows_read;
    float mean, std;     /* normalisation applied after reading */
    /* direct reads (see setup_direct): */
    bool direct;
    int fd;              /* the file, opened again for pread */
    int64_t chunk_rows;  /* rows per chunk (all rows when contiguous) */
    uint64_t *chunk_addr; /* (ceil(rows / chunk_rows)) byte offset of each chunk in the file */
    size_t row_bytes;    /* bytes of one stored row */
};

/* ---- open and validate ---- */

static int bad(rt_dataset *d, const char *fmt, const char *what, long long a, long long b) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    int rc = rt_err(RT_EBADINPUT, "%s: %s: %s", d->path, what, msg);
    return rc;
}

static int check_x(rt_dataset *d, const char *name, int64_t sample_size) {
    hid_t t = H5Dget_type(d->x);
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_ERROR;
    H5Tclose(t);
    if (cls == H5T_FLOAT && size == 4)
        d->x_uint8 = false;
    else if (cls == H5T_INTEGER && size == 1 && sign == H5T_SGN_NONE)
        d->x_uint8 = true;
    else
        return rt_err(RT_EBADINPUT, "%s: %s: dtype must be float32 or uint8", d->path, name);
    d->fspace = H5Dget_space(d->x);
    int nd = H5Sget_simple_extent_ndims(d->fspace);
    if (nd < 1 || nd > 8)
        return rt_err(RT_EBADINPUT, "%s: %s: expected shape [N, ...], got rank %d", d->path, name,
                      nd);
    d->x_ndim = nd;
    H5Sget_simple_extent_dims(d->fspace, d->xdims, NULL);
    d->rows = (int64_t)d->xdims[0];
    int64_t per = 1;
    for (int i = 1; i < nd; i++) per *= (int64_t)d->xdims[i];
    if (per != sample_size)
        return bad(d, "rows have %lld elements but model.input needs %lld", name,
                   (long long)per, (long long)sample_size);
    d->sample = per;
    if (d->rows == 0) return rt_err(RT_EBADINPUT, "%s: %s: the set is empty", d->path, name);
    return RT_OK;
}

/* Compressed datasets store fewer bytes than they hold: only plain ones can be
 * checked against their declared size. */
static bool y_filtered(hid_t y) {
    hid_t p = H5Dget_create_plist(y);
    int n = p >= 0 ? H5Pget_nfilters(p) : 0;
    if (p >= 0) H5Pclose(p);
    return n > 0;
}

static int load_y(rt_dataset *d, const char *name, int num_classes) {
    hid_t y = H5Dopen2(d->file, name, H5P_DEFAULT);
    if (y < 0) return rt_err(RT_EBADINPUT, "%s: %s: missing dataset", d->path, name);
    int rc = RT_OK;
    hid_t t = H5Dget_type(y), s = H5Dget_space(y);
    hsize_t dims[2] = {0, 0};
    int nd = H5Sget_simple_extent_ndims(s);
    if (H5Tget_class(t) != H5T_INTEGER || H5Tget_size(t) != 4 || H5Tget_sign(t) != H5T_SGN_2)
        rc = rt_err(RT_EBADINPUT, "%s: %s: dtype must be int32", d->path, name);
    else if (nd != 1)
        rc = rt_err(RT_EBADINPUT, "%s: %s: expected shape [N], got rank %d", d->path, name, nd);
    else if (H5Sget_simple_extent_dims(s, dims, NULL) < 0 || (int64_t)dims[0] != d->rows)
        rc = bad(d, "has %lld labels for %lld rows of x", name, (long long)dims[0],
                 (long long)d->rows);
    else if (!y_filtered(y) && H5Dget_storage_size(y) < dims[0] * sizeof(int32_t)) /* bound before allocating */
        rc = rt_err(RT_EBADINPUT, "%s: %s: %lld labels declared, fewer stored (truncated or corrupt)",
                    d->path, name, (long long)dims[0]);
    if (!rc) {
        d->y = rt_malloc(rt_mul_size((size_t)d->rows, sizeof(int32_t)));
        if (H5Dread(y, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->y) < 0)
            rc = rt_err(RT_EBADINPUT, "%s: %s: read failed", d->path, name);
    }
    for (int64_t i = 0; !rc && i < d->rows; i++)
        if (num_classes > 0 && (d->y[i] < 0 || d->y[i] >= num_classes))
            rc = bad(d, "label %lld at row %lld is outside [0, num_classes)", name,
                     (long long)d->y[i], (long long)i);
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(y);
    return rc;
}

static int dataset_open_locked(const char *path, const char *split, int64_t sample_size,
                               int num_classes, rt_dataset **out);

/* ---- direct reads ----
 * A batch is a few hundred scattered rows. Through HDF5 every read builds a
 * union of hyperslabs and walks it, which cost the loader thread ~10% of a
 * core next to training on a 2-core machine. When x is stored unfiltered in
 * native byte order, chunked by whole rows (or contiguous), each chunk's byte
 * offset is asked from HDF5 once at open and rows are read with pread: one
 * system call per run of adjacent rows, no HDF5 call, no lock. Any other
 * layout (compression, checksums, partial-row chunks) reads through HDF5. */

static void setup_direct(rt_dataset *d) {
    hid_t dcpl = H5Dget_create_plist(d->x);
    if (dcpl < 0) return;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int nfilters = H5Pget_nfilters(dcpl);
    hsize_t cdims[8] = {0};
    int cnd = layout == H5D_CHUNKED ? H5Pget_chunk(dcpl, 8, cdims) : 0;
    H5Pclose(dcpl);
    hid_t t = H5Dget_type(d->x);
    bool native = H5Tequal(t, d->x_uint8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT) > 0;
    H5Tclose(t);
    if (nfilters != 0 || !native) return;
    hsize_t base = 0; /* addresses are relative to the end of any user block */
    hid_t fcpl = H5Fget_create_plist(d->file);
    if (fcpl >= 0) {
        H5Pget_userblock(fcpl, &base);
        H5Pclose(fcpl);
    }
    d->row_bytes = (size_t)d->sample * (d->x_uint8 ? 1 : sizeof(float));
    int64_t nchunks;
    if (layout == H5D_CONTIGUOUS) {
        haddr_t a = H5Dget_offset(d->x);
        if (a == HADDR_UNDEF) return;
        d->chunk_rows = d->rows;
        nchunks = 1;
        d->chunk_addr = rt_malloc(sizeof *d->chunk_addr);
        d->chunk_addr[0] = (uint64_t)(base + a);
    } else if (layout == H5D_CHUNKED && cnd == d->x_ndim) {
        for (int i = 1; i < cnd; i++)
            if (cdims[i] != d->xdims[i]) return;
        d->chunk_rows = (int64_t)cdims[0];
        nchunks = (d->rows + d->chunk_rows - 1) / d->chunk_rows;
        d->chunk_addr = rt_malloc(rt_mul_size((size_t)nchunks, sizeof *d->chunk_addr));
        for (int64_t c = 0; c < nchunks; c++) {
            hsize_t off[8] = {(hsize_t)(c * d->chunk_rows)};
            unsigned mask = 0;
            haddr_t a = HADDR_UNDEF;
            hsize_t size = 0;
            if (H5Dget_chunk_info_by_coord(d->x, off, &mask, &a, &size) < 0 || a == HADDR_UNDEF ||
                mask != 0 || size != (hsize_t)d->chunk_rows * d->row_bytes) {
                rt_free(d->chunk_addr);
                d->chunk_addr = NULL;
                return; /* a chunk never written, or filtered: HDF5 knows better */
            }
            d->chunk_addr[c] = (uint64_t)(base + a);
        }
    } else {
        return;
    }
    d->fd = open(d->path, O_RDONLY | O_CLOEXEC);
    if (d->fd < 0) {
        rt_free(d->chunk_addr);
        d->chunk_addr = NULL;
        return;
    }
    d->direct = true;
}

/* Reads rows (ascending) as stored into dst (n * row_bytes). */
static int read_direct(rt_dataset *d, const int64_t *rows, int64_t n, void *dst) {
    char *p = dst;
    for (int64_t i = 0; i < n;) {
        int64_t r = rows[i], c = r / d->chunk_rows, j = i + 1;
        while (j < n && rows[j] == rows[j - 1] + 1 && rows[j] / d->chunk_rows == c) j++;
        size_t bytes = (size_t)(j - i) * d->row_bytes;
        long long at = (long long)(d->chunk_addr[c] + (uint64_t)(r - c * d->chunk_rows) * d->row_bytes);
        long long k = rt_pread_full(d->fd, p, bytes, at);
        if (k != (long long)bytes)
            return rt_err(RT_ERUNTIME, "%s: reading %lld rows failed (%s)", d->path, (long long)n,
                          k < 0 ? strerror(errno) : "the file is truncated");
        p += bytes;
        i = j;
    }
    return RT_OK;
}

int rt_dataset_num_classes(const char *path, int *out) {
    *out = 0;
    rt_h5_lock();
    rt_h5_init();
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_IF_PRESENT, NULL, &f);
    if (!rc) {
        int64_t k = 0;
        if (H5Aexists(f, "num_classes") > 0 && rt_h5_attr_int(f, "num_classes", &k) == RT_OK && k > 0 &&
            k < (1 << 20))
            *out = (int)k;
        H5Fclose(f);
    }
    rt_h5_unlock();
    return rc;
}

int rt_dataset_open(const char *path, const char *split, int64_t sample_size, int num_classes,
                    rt_dataset **out) {
    rt_h5_lock();
    int rc = dataset_open_locked(path, split, sample_size, num_classes, out);
    rt_h5_unlock();
    return rc;
}

static int dataset_open_locked(const char *path, const char *split, int64_t sample_size,
                               int num_classes, rt_dataset **out) {
    *out = NULL;
    rt_h5_init();
    rt_dataset *d = rt_calloc(1, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    snprintf(d->split, sizeof d->split, "%s", split);
    d->mean = 0.0f;
    d->std = 1.0f;
    d->file = d->x = d->fspace = d->mspace = H5I_INVALID_HID;
    d->fd = -1;
    char xname[64], yname[64];
    snprintf(xname, sizeof xname, "/%s/x", split);
    snprintf(yname, sizeof yname, "/%s/y", split);
    char gname[64];
    snprintf(gname, sizeof gname, "/%s", split);
    const char *names[] = {gname, xname, yname, NULL};
    int rc = rt_h5_open_checked(path, RT_SEAL_IF_PRESENT, names, &d->file);
    if (!rc && H5Lexists(d->file, split, H5P_DEFAULT) <= 0)
        rc = rt_err(RT_EBADINPUT, "%s: /%s: missing group", path, split);
    if (!rc && H5Lexists(d->file, xname, H5P_DEFAULT) <= 0)
        rc = rt_err(RT_EBADINPUT, "%s: %s: missing dataset", path, xname);
    if (!rc && (d->x = H5Dopen2(d->file, xname, H5P_DEFAULT)) < 0)
        rc = rt_err(RT_EBADINPUT, "%s: %s: cannot open dataset", path, xname);
    if (!rc) rc = check_x(d, xname, sample_size);
    if (!rc) setup_direct(d);
    if (!rc) {
        int64_t attr = 0;
        if (num_classes > 0 && rt_h5_attr_int(d->file, "num_classes", &attr) == RT_OK && attr != num_classes)
            rc = rt_err(RT_EBADINPUT, "%s: num_classes: file has %lld classes, model has %d outputs",
                        path, (long long)attr, num_classes);
    }
    if (!rc) rc = load_y(d, yname, num_classes);
    if (!rc) {
        hsize_t one[1] = {1};
        d->mspace = H5Screate_simple(1, one, NULL);
    }
    if (rc) {
        rt_dataset_close(d);
        return rc;
    }
    *out = d;
    return RT_OK;
}

void rt_dataset_close(rt_dataset *d) {
    if (!d) return;
    rt_h5_lock();
    if (d->mspace >= 0) H5Sclose(d->mspace);
    if (d->fspace >= 0) H5Sclose(d->fspace);
    if (d->x >= 0) H5Dclose(d->x);
    if (d->file >= 0) H5Fclose(d->file);
    rt_h5_unlock();
    if (d->fd >= 0) close(d->fd);
    rt_free(d->chunk_addr);
    rt_free(d->y);
    rt_free(d->kp);
    rt_free(d->stage);
    rt_free(d);
}

bool rt_dataset_quantized(const rt_dataset *d) { return d->x_uint8; }

int64_t rt_dataset_rows(const rt_dataset *d) { return d->rows; }

void rt_dataset_set_normalize(rt_dataset *d, float mean, float std) {
    d->mean = mean;
    d->std = std;
}
int64_t rt_dataset_rows_read(const rt_dataset *d) { return d->rows_read; }

/* ---- keypoints ---- */

static int check_kp(rt_dataset *d, const char *name, int k, int w, int h) {
    for (int64_t i = 0; i < d->rows * k; i++) {
        float x = d->kp[2 * i], y = d->kp[2 * i + 1];
        if (!(x >= 0.0f && x < (float)w && y >= 0.0f && y < (float)h))
            return rt_err(RT_EBADINPUT, "%s: %s: keypoint %lld of row %lld, (%g, %g), is outside the %dx%d canvas",
                          d->path, name, (long long)(i % k), (long long)(i / k), (double)x, (double)y, w, h);
    }
    return RT_OK;
}

static int load_kp_locked(rt_dataset *d, int k, int w, int h) {
    char name[64];
    snprintf(name, sizeof name, "/%s/kp", d->split);
    if (H5Lexists(d->file, name, H5P_DEFAULT) <= 0)
        return rt_err(RT_EBADINPUT, "%s: %s: missing dataset (a keypoint head needs /%s/kp, float32 [N, K, 2])",
                      d->path, name, d->split);
    hid_t ds = H5Dopen2(d->file, name, H5P_DEFAULT);
    if (ds < 0) return rt_err(RT_EBADINPUT, "%s: %s: cannot open dataset", d->path, name);
    hid_t t = H5Dget_type(ds), s = H5Dget_space(ds);
    hsize_t dims[3] = {0, 0, 0};
    int nd = H5Sget_simple_extent_ndims(s), rc = RT_OK;
    if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 4)
        rc = rt_err(RT_EBADINPUT, "%s: %s: dtype must be float32", d->path, name);
    else if (nd != 3 || H5Sget_simple_extent_dims(s, dims, NULL) < 0 || (int64_t)dims[0] != d->rows ||
             (int)dims[1] != k || dims[2] != 2)
        rc = rt_err(RT_EBADINPUT, "%s: %s: shape must be [%lld, %d, 2] (rows of x, model.keypoints, (x, y))",
                    d->path, name, (long long)d->rows, k);
    if (!rc) {
        d->kp = rt_malloc(rt_mul_size(rt_mul_size((size_t)d->rows, (size_t)k), 2 * sizeof(float)));
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, d->kp) < 0)
            rc = rt_err(RT_EBADINPUT, "%s: %s: read failed", d->path, name);
    }
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(ds);
    if (!rc) rc = check_kp(d, name, k, w, h);
    if (!rc) d->kp_count = k;
    return rc;
}

int rt_dataset_load_keypoints(rt_dataset *d, int k, int w, int h) {
    rt_h5_lock();
    int rc = load_kp_locked(d, k, w, h);
    rt_h5_unlock();
    return rc;
}

void rt_dataset_keypoints(const rt_dataset *d, const int64_t *rows, int64_t n, float *out) {
    RT_CHECK(d->kp, "keypoints of %s were not loaded", d->path);
    for (int64_t i = 0; i < n; i++) memcpy(out + i * 2 * d->kp_count, d->kp + rows[i] * 2 * d->kp_count,
                                           (size_t)d->kp_count * 2 * sizeof(float));
}

/* ---- batch reads ---- */

static int dataset_read_locked(rt_dataset *d, const int64_t *rows, int64_t n, float *x,
                               int32_t *y);

/* uint8 staging (grown on first use by the reading thread) */
static uint8_t *stage(rt_dataset *d, int64_t n) {
    if (n > d->stage_rows) {
        rt_free(d->stage);
        d->stage = rt_malloc(rt_mul_size((size_t)n, (size_t)d->sample));
        d->stage_rows = n;
    }
    return d->stage;
}

/* After x holds the raw rows (or the uint8 stage does): scale, normalise, labels. */
static void finish_read(rt_dataset *d, const int64_t *rows, int64_t n, float *x, int32_t *y) {
    if (d->x_uint8)
        for (int64_t i = 0; i < n * d->sample; i++) x[i] = (float)d->stage[i] / 255.0f;
    if (d->mean != 0.0f || d->std != 1.0f)
        for (int64_t i = 0; i < n * d->sample; i++) x[i] = (x[i] - d->mean) / d->std;
    for (int64_t i = 0; i < n; i++) y[i] = d->y[rows[i]];
    d->rows_read += n;
}

int rt_dataset_read(rt_dataset *d, const int64_t *rows, int64_t n, float *x, int32_t *y) {
    if (d->direct) {
        if (n == 0) return RT_OK;
        for (int64_t i = 0; i < n; i++)
            RT_CHECK(rows[i] >= 0 && rows[i] < d->rows && (i == 0 || rows[i] > rows[i - 1]),
                     "row %lld out of range or order", (long long)rows[i]);
        int rc = read_direct(d, rows, n, d->x_uint8 ? (void *)stage(d, n) : (void *)x);
        if (!rc) finish_read(d, rows, n, x, y);
        return rc;
    }
    rt_h5_lock();
    int rc = dataset_read_locked(d, rows, n, x, y);
    rt_h5_unlock();
    return rc;
}

static int dataset_read_locked(rt_dataset *d, const int64_t *rows, int64_t n, float *x,
                               int32_t *y) {
    if (n == 0) return RT_OK;
    hsize_t start[8] = {0}, count[8];
    for (int i = 1; i < d->x_ndim; i++) count[i] = d->xdims[i];
    H5Sselect_none(d->fspace);
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && rows[j] == rows[j - 1] + 1) j++;
        RT_CHECK(rows[i] >= 0 && rows[j - 1] < d->rows, "row %lld out of range",
                 (long long)rows[j - 1]);
        start[0] = (hsize_t)rows[i];
        count[0] = (hsize_t)(j - i);
        if (H5Sselect_hyperslab(d->fspace, H5S_SELECT_OR, start, NULL, count, NULL) < 0)
            return rt_err(RT_ERUNTIME, "%s: hyperslab selection failed", d->path);
        i = j;
    }
    hsize_t mdims[1] = {(hsize_t)n * (hsize_t)d->sample};
    H5Sset_extent_simple(d->mspace, 1, mdims, NULL);
    herr_t st;
    if (d->x_uint8)
        st = H5Dread(d->x, H5T_NATIVE_UINT8, d->mspace, d->fspace, H5P_DEFAULT, stage(d, n));
    else
        st = H5Dread(d->x, H5T_NATIVE_FLOAT, d->mspace, d->fspace, H5P_DEFAULT, x);
    if (st < 0) return rt_err(RT_ERUNTIME, "%s: reading %lld rows failed", d->path, (long long)n);
    finish_read(d, rows, n, x, y);
    return RT_OK;
}

/* ---- prefetching loader ---- */

typedef struct slot {
    int64_t *rows; /* (max_rows) requested rows, sorted */
    float *x;      /* (max_rows, sample) */
    int32_t *y;    /* (max_rows) */
    int64_t n;
    int rc;        /* result of the read */
    char err[512]; /* its message when rc != 0 */
} slot;

struct rt_loader {
    rt_dataset *d;
    int64_t max_rows;
    /* A ring of three slots: the one last handed out by rt_loader_next (in use
     * by the trainer) sits just before head; head and head+1 hold up to two
     * queued requests, so a submit never overwrites the batch being used. */
    slot slots[3];
    int head, count;      /* oldest queued request, number queued */
    int done;             /* requests the thread has finished, counted from head */
    bool stop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void sort_rows(int64_t *a, int64_t n) {
    static const int64_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1}; /* Ciura */
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++)
        for (int64_t i = gaps[g]; i < n; i++) {
            int64_t v = a[i], j = i;
            for (; j >= gaps[g] && a[j - gaps[g]] > v; j -= gaps[g]) a[j] = a[j - gaps[g]];
            a[j] = v;
        }
}

static void *loader_main(void *arg) {
    rt_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->done == l->count) pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        slot *s = &l->slots[(l->head + l->done) % 3];
        pthread_mutex_unlock(&l->mu);
        s->rc = rt_dataset_read(l->d, s->rows, s->n, s->x, s->y);
        if (s->rc) snprintf(s->err, sizeof s->err, "%s", rt_errmsg());
        pthread_mutex_lock(&l->mu);
        l->done++;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

rt_loader *rt_loader_create(rt_dataset *d, int64_t max_rows) {
    rt_loader *l = rt_calloc(1, sizeof *l);
    l->d = d;
    l->max_rows = max_rows;
    size_t xbytes = rt_mul_size(rt_mul_size((size_t)max_rows, (size_t)d->sample), sizeof(float));
    for (int i = 0; i < 3; i++) {
        l->slots[i].rows = rt_malloc(rt_mul_size((size_t)max_rows, sizeof(int64_t)));
        l->slots[i].x = rt_alloc_aligned(xbytes);
        l->slots[i].y = rt_malloc(rt_mul_size((size_t)max_rows, sizeof(int32_t)));
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    RT_CHECK(pthread_create(&l->thread, NULL, loader_main, l) == 0, "cannot start loader thread");
    return l;
}

void rt_loader_destroy(rt_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    while (l->done < l->count) pthread_cond_wait(&l->cv, &l->mu); /* finish the read in flight */
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int i = 0; i < 3; i++) {
        rt_free(l->slots[i].rows);
        rt_free(l->slots[i].x);
        rt_free(l->slots[i].y);
    }
    rt_free(l);
}

void rt_loader_submit(rt_loader *l, const int64_t *rows, int64_t n) {
    RT_CHECK(n >= 0 && n <= l->max_rows, "loader: %lld rows exceed %lld", (long long)n,
             (long long)l->max_rows);
    pthread_mutex_lock(&l->mu);
    RT_CHECK(l->count < 2, "loader: more than two requests queued");
    slot *s = &l->slots[(l->head + l->count) % 3];
    memcpy(s->rows, rows, (size_t)n * sizeof *rows);
    sort_rows(s->rows, n);
    s->n = n;
    l->count++;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

int rt_loader_next(rt_loader *l, rt_batch *out) {
    pthread_mutex_lock(&l->mu);
    RT_CHECK(l->count > 0, "loader: next without a submitted request");
    while (l->done == 0) pthread_cond_wait(&l->cv, &l->mu);
    slot *s = &l->slots[l->head];
    l->head = (l->head + 1) % 3;
    l->count--;
    l->done--;
    pthread_mutex_unlock(&l->mu);
    out->x = s->x;
    out->y = s->y;
    out->rows = s->rows;
    out->n = s->n;
    out->kp = NULL;
    if (s->rc) return rt_err(s->rc, "%s", s->err);
    return RT_OK;
}

void rt_loader_drain(rt_loader *l) {
    pthread_mutex_lock(&l->mu);
    while (l->done < l->count) pthread_cond_wait(&l->cv, &l->mu);
    l->head = (l->head + l->count) % 3;
    l->count = l->done = 0;
    pthread_mutex_unlock(&l->mu);
}

/* ---- sampling ---- */

void rt_shard_range(int64_t B, int rank, int world, int64_t *lo, int64_t *hi) {
    *lo = (B * rank) / world;
    *hi = (B * (rank + 1)) / world;
}

void rt_epoch_order(int64_t *perm, int64_t nrows, uint64_t seed, int64_t epoch, bool shuffle) {
    if (!shuffle) {
        for (int64_t i = 0; i < nrows; i++) perm[i] = i;
        return;
    }
    rt_rng r;
    rt_rng_seed(&r, seed, 0x7368756666000000ULL + (uint64_t)epoch); /* "shuff" + epoch */
    rt_rng_permutation(&r, perm, nrows);
}
