/* h5util.c - HDF5 attribute/dataset helpers and atomic file commit. */
#include "ringtrain/h5util.h"

#include "ringtrain/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t h5_mutex;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;

static void h5_mutex_init(void) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_mutex, &a);
    pthread_mutexattr_destroy(&a);
}

void rt_h5_lock(void) {
    pthread_once(&h5_once, h5_mutex_init);
    pthread_mutex_lock(&h5_mutex);
}

void rt_h5_unlock(void) { pthread_mutex_unlock(&h5_mutex); }

void rt_h5_init(void) {
    rt_h5_lock();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    rt_h5_unlock();
}

int rt_h5_open(const char *path, hid_t *file) {
    *file = H5I_INVALID_HID;
    if (access(path, R_OK) != 0) return rt_err(RT_EBADINPUT, "%s: %s", path, strerror(errno));
    if (H5Fis_hdf5(path) <= 0)
        return rt_err(RT_EBADINPUT, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return rt_err(RT_EBADINPUT, "%s: cannot open as HDF5", path);
    *file = f;
    return RT_OK;
}

int rt_h5_attr_int(hid_t obj, const char *name, int64_t *out) {
    if (H5Aexists(obj, name) <= 0) return rt_err(RT_EBADINPUT, "%s: missing attribute", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int rc = RT_OK;
    if (a < 0 || H5Tget_class(t) != H5T_INTEGER || H5Aread(a, H5T_NATIVE_INT64, out) < 0)
        rc = rt_err(RT_EBADINPUT, "%s: attribute is not an integer", name);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* Strings are stored fixed-length. Variable-length ones are refused without
 * being read: their bytes sit in a global heap that libhdf5 follows without
 * bounds checks, so a corrupt file could crash it (the fuzzer found one). */
#define RT_H5_STR_MAX ((size_t)64 << 20)

int rt_h5_attr_str(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return rt_err(RT_EBADINPUT, "%s: missing attribute", name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    size_t n = t >= 0 ? H5Tget_size(t) : 0;
    int rc = RT_OK;
    if (a < 0 || t < 0 || H5Tget_class(t) != H5T_STRING || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1)
        rc = rt_err(RT_EBADINPUT, "%s: attribute is not a string", name);
    else if (H5Tis_variable_str(t) != 0)
        rc = rt_err(RT_EBADINPUT, "%s: variable-length string attribute; ringtrain writes and "
                    "reads fixed-length strings only", name);
    else if (n == 0 || n > RT_H5_STR_MAX || H5Aget_storage_size(a) < n)
        rc = rt_err(RT_EBADINPUT, "%s: string attribute of %zu bytes, %llu stored (corrupt?)", name,
                    n, (unsigned long long)H5Aget_storage_size(a));
    if (!rc) {
        char *s = rt_calloc(n + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, s) < 0) {
            rt_free(s);
            rc = rt_err(RT_EBADINPUT, "%s: cannot read attribute", name);
        } else {
            *out = s;
        }
        H5Tclose(mt);
    }
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

int rt_h5_attr_write_int(hid_t obj, const char *name, int64_t v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0)
                 ? rt_err(RT_ERUNTIME, "%s: cannot write attribute", name)
                 : RT_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

int rt_h5_attr_write_str(hid_t obj, const char *name, const char *str) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(str) + 1); /* fixed-length, NUL-terminated: see rt_h5_attr_str */
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, t, str) < 0)
                 ? rt_err(RT_ERUNTIME, "%s: cannot write attribute", name)
                 : RT_OK;
    if (a >= 0) H5Aclose(a);
    H5Tclose(t);
    H5Sclose(s);
    return rc;
}

int rt_h5_write_chunked(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int ndim,
                        const hsize_t *dims, const hsize_t *chunk, const void *data) {
    hid_t s = H5Screate_simple(ndim, dims, NULL);
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    bool empty = false;
    for (int i = 0; i < ndim; i++) empty = empty || dims[i] == 0;
    if (!empty) H5Pset_chunk(p, ndim, chunk);
    hid_t d = H5Dcreate2(loc, name, file_type, s, H5P_DEFAULT, p, H5P_DEFAULT);
    int rc = RT_OK;
    if (d < 0 || (!empty && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
        rc = rt_err(RT_ERUNTIME, "%s: cannot write dataset", name);
    if (d >= 0) H5Dclose(d);
    H5Pclose(p);
    H5Sclose(s);
    return rc;
}

int rt_commit_file(const char *tmp, const char *dst) {
    int fd = open(tmp, O_RDONLY);
    if (fd < 0) return rt_err(RT_ERUNTIME, "%s: %s", tmp, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return rt_err(RT_ERUNTIME, "%s: fsync: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, dst) != 0) return rt_err(RT_ERUNTIME, "%s: rename: %s", dst, strerror(errno));
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", dst);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return rt_err(RT_ERUNTIME, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(dfd) == 0 ? RT_OK : rt_err(RT_ERUNTIME, "%s: fsync: %s", dir, strerror(errno));
    close(dfd);
    return rc;
}
