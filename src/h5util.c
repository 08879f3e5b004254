/* h5util.c - HDF5 attribute/dataset helpers and atomic file commit. */
#include "ringtrain/h5util.h"

#include "ringtrain/common.h"
#include "hash64.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* A scalar attribute of file type ft from memory of type mt. */
static int attr_write_scalar(hid_t obj, const char *name, hid_t ft, hid_t mt, const void *v) {
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ft, s, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, mt, v) < 0) ? rt_err(RT_ERUNTIME, "%s: cannot write attribute", name) : RT_OK;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc;
}

int rt_h5_attr_write_int(hid_t obj, const char *name, int64_t v) {
    return attr_write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

int rt_h5_attr_write_double(hid_t obj, const char *name, double v) {
    return attr_write_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
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

/* ---- seals ---- */

#define SEAL_MAGIC "ringtrain-seal 1\n"

hid_t rt_h5_seal_fcpl(void) {
    hid_t p = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_userblock(p, RT_SEAL_BYTES);
    return p;
}

/* The digest of fd's bytes [off, off+len), read in 1 MiB blocks. */
static int digest_range(int fd, const char *path, off_t off, uint64_t len, uint64_t *out) {
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = rt_malloc(BLOCK);
    rt_hash64_state h;
    rt_hash64_init(&h);
    int rc = RT_OK;
    while (len > 0) {
        size_t want = len < BLOCK ? (size_t)len : BLOCK; /* whole blocks: only the last is not a multiple of 64 */
        long long k = rt_pread_full(fd, buf, want, (long long)off);
        if (k != (long long)want) {
            rc = rt_err(RT_EBADINPUT, "%s: read failed: %s", path, k < 0 ? strerror(errno) : "unexpected end");
            break;
        }
        rt_hash64_update(&h, buf, want);
        off += (off_t)want;
        len -= want;
    }
    rt_free(buf);
    *out = rt_hash64_final(&h);
    return rc;
}

int rt_h5_seal(const char *path) {
    int fd = open(path, O_RDWR);
    if (fd < 0) return rt_err(RT_ERUNTIME, "%s: %s", path, strerror(errno));
    struct stat st;
    unsigned char head[8];
    int rc = RT_OK;
    if (fstat(fd, &st) != 0 || st.st_size < RT_SEAL_BYTES + 8 ||
        rt_pread_full(fd, head, 8, RT_SEAL_BYTES) != 8 || memcmp(head, "\211HDF\r\n\032\n", 8) != 0)
        rc = rt_err(RT_EBADINPUT, "%s: no %d-byte user block before the HDF5 superblock to hold a "
                    "seal (h5py: write it with userblock_size=%d)", path, RT_SEAL_BYTES, RT_SEAL_BYTES);
    uint64_t digest = 0;
    uint64_t n = rc ? 0 : (uint64_t)st.st_size - RT_SEAL_BYTES;
    if (!rc) rc = digest_range(fd, path, RT_SEAL_BYTES, n, &digest);
    if (!rc) {
        char block[RT_SEAL_BYTES] = {0};
        snprintf(block, sizeof block, SEAL_MAGIC "digest %016llx\nbytes %llu\n",
                 (unsigned long long)digest, (unsigned long long)n);
        if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block)
            rc = rt_err(RT_ERUNTIME, "%s: cannot write its seal: %s", path, strerror(errno));
    }
    close(fd);
    return rc;
}

static int check_seal(const char *path, rt_seal_rule rule, bool *sealed_out) {
    *sealed_out = false;
    if (rule == RT_SEAL_IGNORED) return RT_OK;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return rt_err(RT_EBADINPUT, "%s: %s", path, strerror(errno));
    char block[RT_SEAL_BYTES + 1] = {0};
    struct stat st;
    int rc = RT_OK;
    bool sealed = fstat(fd, &st) == 0 && rt_pread_full(fd, block, RT_SEAL_BYTES, 0) == RT_SEAL_BYTES &&
                  memcmp(block, SEAL_MAGIC, strlen(SEAL_MAGIC)) == 0;
    unsigned long long want = 0, n = 0;
    if (!sealed) {
        if (rule == RT_SEAL_REQUIRED)
            rc = rt_err(RT_EBADINPUT, "%s: not a ringtrain checkpoint: no seal in its first %d bytes "
                        "(truncated, or written by another tool or by ringtrain before format_version 2)",
                        path, RT_SEAL_BYTES);
    } else if (sscanf(block + strlen(SEAL_MAGIC), "digest %16llx\nbytes %llu", &want, &n) != 2) {
        rc = rt_err(RT_EBADINPUT, "%s: its seal is unreadable (corrupt)", path);
    } else if ((unsigned long long)st.st_size != RT_SEAL_BYTES + n) {
        rc = rt_err(RT_EBADINPUT, "%s: %lld bytes, its seal says %llu: truncated or appended to", path,
                    (long long)st.st_size, RT_SEAL_BYTES + n);
    } else {
        uint64_t digest = 0;
        rc = digest_range(fd, path, RT_SEAL_BYTES, n, &digest);
        if (!rc && digest != want)
            rc = rt_err(RT_EBADINPUT, "%s: contents do not match its seal (digest %016llx, sealed %016llx): "
                        "corrupt, or edited after it was written (`ringtrain seal` accepts an edit "
                        "made on purpose)", path, (unsigned long long)digest, want);
    }
    close(fd);
    *sealed_out = sealed && !rc;
    return rc;
}

/* ---- probing a file before libhdf5 reads it here ---- */

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *ai, void *op) {
    (void)ai;
    (void)op;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    if (t >= 0) {
        H5Tget_class(t);
        H5Tget_size(t);
        H5Tis_variable_str(t);
        H5Tclose(t);
    }
    if (s >= 0) {
        H5Sget_simple_extent_npoints(s);
        H5Sclose(s);
    }
    H5Aget_storage_size(a);
    H5Aclose(a);
    return 0;
}

/* A dataset's type, shape, layout and chunk index (up to 2^20 chunks). */
static void probe_dataset(hid_t d) {
    hid_t t = H5Dget_type(d), s = H5Dget_space(d), p = H5Dget_create_plist(d);
    hsize_t dims[H5S_MAX_RANK] = {0}, cdims[H5S_MAX_RANK] = {0};
    int nd = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
    int cnd = p >= 0 && H5Pget_layout(p) == H5D_CHUNKED ? H5Pget_chunk(p, H5S_MAX_RANK, cdims) : 0;
    if (p >= 0) H5Pget_nfilters(p);
    H5Dget_storage_size(d);
    H5Dget_offset(d);
    if (nd > 0 && cnd == nd) {
        hsize_t grid[H5S_MAX_RANK], total = 1, off[H5S_MAX_RANK];
        for (int i = 0; i < nd; i++) {
            grid[i] = cdims[i] ? (dims[i] + cdims[i] - 1) / cdims[i] : 0;
            total = grid[i] && total <= (1u << 20) ? total * grid[i] : (1u << 20) + 1;
        }
        for (hsize_t k = 0; k < total && k < (1u << 20); k++) {
            hsize_t rest = k;
            for (int i = nd - 1; i >= 0; i--) {
                off[i] = (rest % grid[i]) * cdims[i];
                rest /= grid[i];
            }
            unsigned mask = 0;
            haddr_t addr = 0;
            hsize_t size = 0;
            H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size);
        }
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    if (p >= 0) H5Pclose(p);
}

static void probe_object(hid_t o, H5O_type_t type) {
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, NULL, probe_attr, NULL);
    if (type == H5O_TYPE_DATASET) probe_dataset(o);
}

static herr_t probe_visit(hid_t root, const char *name, const H5O_info_t *info, void *op) {
    (void)op;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT); /* looks the name up again, by path */
    if (o >= 0) {
        probe_object(o, info->type);
        H5Oclose(o);
    }
    return 0;
}

/* The probe process: everything libhdf5 parses when ringtrain opens the file. */
static void probe_child(const char *path, const char *const *names) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) _exit(0); /* not HDF5: the caller's own open says so */
    for (int i = 0; names && names[i]; i++) {
        if (H5Lexists(f, names[i], H5P_DEFAULT) <= 0) continue;
        H5O_info_t info;
        hid_t o = H5Oopen(f, names[i], H5P_DEFAULT);
        if (o >= 0 && H5Oget_info2(o, &info, H5O_INFO_BASIC) >= 0) probe_object(o, info.type);
        if (o >= 0) H5Oclose(o);
    }
    probe_object(f, H5O_TYPE_GROUP);
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, probe_visit, NULL, H5O_INFO_BASIC);
    H5Fclose(f);
    _exit(0);
}

static int probe(const char *path, const char *const *names) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return RT_OK; /* no probe possible: read it directly, as before */
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) { /* a sanitizer's report of libhdf5's crash is not ours to print */
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        probe_child(path, names);
    }
    int status = 0;
    double deadline = rt_now() + RT_H5_PROBE_SECONDS;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && rt_now() < deadline) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return rt_err(RT_EBADINPUT, "%s: corrupt HDF5 metadata: libhdf5 did not finish reading it "
                      "in %d s (in a probe process)", path, RT_H5_PROBE_SECONDS);
    }
    if (w < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) return RT_OK;
    return rt_err(RT_EBADINPUT, "%s: corrupt HDF5 metadata: libhdf5 crashed reading it (%s %d, in a "
                  "probe process; nothing was read here)", path,
                  WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status)
                                                                          : WEXITSTATUS(status));
}

int rt_h5_open_checked(const char *path, rt_seal_rule rule, const char *const *names, hid_t *file) {
    *file = H5I_INVALID_HID;
    if (access(path, R_OK) != 0) return rt_err(RT_EBADINPUT, "%s: %s", path, strerror(errno));
    bool sealed = false;
    int rc = check_seal(path, rule, &sealed);
    if (!rc && !sealed) rc = probe(path, names); /* a file that is not HDF5 passes: rt_h5_open says so */
    return rc ? rc : rt_h5_open(path, file);
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
