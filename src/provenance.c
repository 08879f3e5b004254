/* provenance.c - what a checkpoint records about the run that wrote it. */
#include "ringtrain/provenance.h"

#include "gemm.h"

#include "ringtrain/common.h"
#include "ringtrain/h5util.h"

#include <cJSON.h>
#include <stdbool.h>
#include <cblas.h>
#include <mpi.h>
#include <string.h>
#include <sys/stat.h>

#ifndef RT_GIT_COMMIT
#define RT_GIT_COMMIT "unknown"
#endif

struct rt_prov {
    cJSON *json; /* the object provenance.h shows, step_to filled at each write */
};

static char *command_line; /* rt_prov_set_command's copy, for the process's life */

/* ---- the command line ---- */

void rt_prov_set_command(int argc, char *const *argv) {
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += 3 + 2 * strlen(argv[i]);
    rt_free(command_line);
    char *s = command_line = rt_malloc(n), *e = s;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool plain = a[0] && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                          "_-./=:,+@%") == strlen(a);
        if (i) *e++ = ' ';
        if (plain) {
            e = stpcpy(e, a);
            continue;
        }
        *e++ = '\'';
        for (; *a; a++) {
            if (*a == '\'') e = stpcpy(e, "'\\'");
            *e++ = *a;
        }
        *e++ = '\'';
    }
    *e = '\0';
}

/* ---- file identity: size, rows per split, a digest of every array ---- */

/* A 64-bit digest of a byte stream, 8 bytes at a time (multiply-xorshift),
 * independent of how the stream is cut into reads. */
typedef struct digest {
    uint64_t h, total;
    uint8_t pending[8];
    int npending;
} digest;

static uint64_t mix(uint64_t h, uint64_t w) {
    h ^= w * 0x9e3779b97f4a7c15ULL;
    h = (h << 27 | h >> 37) * 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 31);
}

static void digest_feed(digest *d, const uint8_t *p, size_t n) {
    d->total += n;
    while (n && d->npending) {
        d->pending[d->npending++] = *p++, n--;
        if (d->npending == 8) {
            uint64_t w;
            memcpy(&w, d->pending, 8);
            d->h = mix(d->h, w);
            d->npending = 0;
        }
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        d->h = mix(d->h, w);
    }
    for (; n; n--) d->pending[d->npending++] = *p++;
}

static uint64_t digest_end(digest *d) {
    uint64_t w = 0;
    memcpy(&w, d->pending, (size_t)d->npending);
    return mix(mix(d->h, w), d->total);
}

/* Feeds dataset `name` of group g to d in blocks of rows, as stored (native
 * form of its file type), and gives its rows. Returns 0, or -1 when a block
 * could not be read (a corrupt chunk, say). */
static int digest_dataset(hid_t g, const char *name, digest *d, int64_t *nrows) {
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return -1;
    hid_t fs = H5Dget_space(ds), ft = H5Dget_type(ds);
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    hsize_t dims[8] = {0};
    int nd = H5Sget_simple_extent_ndims(fs);
    int ok = -1;
    if (nd >= 1 && nd <= 8 && H5Sget_simple_extent_dims(fs, dims, NULL) == nd) {
        size_t row_bytes = H5Tget_size(mt);
        for (int i = 1; i < nd; i++) row_bytes = rt_mul_size(row_bytes, dims[i]);
        hsize_t block = row_bytes ? (hsize_t)(((size_t)4 << 20) / row_bytes + 1) : 1;
        uint8_t *buf = rt_malloc(rt_mul_size((size_t)block, row_bytes ? row_bytes : 1));
        *nrows = (int64_t)dims[0];
        ok = 0;
        for (hsize_t r = 0; r < dims[0] && ok == 0; r += block) {
            hsize_t start[8] = {r}, count[8];
            memcpy(count, dims, sizeof count);
            count[0] = dims[0] - r < block ? dims[0] - r : block;
            hid_t ms = H5Screate_simple(nd, count, NULL);
            if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                H5Dread(ds, mt, ms, fs, H5P_DEFAULT, buf) < 0)
                ok = -1;
            else
                digest_feed(d, buf, (size_t)count[0] * row_bytes);
            H5Sclose(ms);
        }
        rt_free(buf);
    }
    H5Tclose(mt);
    H5Tclose(ft);
    H5Sclose(fs);
    H5Dclose(ds);
    return ok;
}

/* {"rows", "digest"} of one split group: its x (the rows), then y and kp.
 * An array that cannot be read is recorded as unreadable, with a warning:
 * whether the run can go on is for the data path to say, when (and if) it
 * reads that part. */
static int split_identity(hid_t f, const char *path, const char *split, cJSON *splits) {
    if (H5Lexists(f, split, H5P_DEFAULT) <= 0) return RT_OK;
    hid_t g = H5Gopen2(f, split, H5P_DEFAULT);
    if (g < 0) return rt_err(RT_EBADINPUT, "%s: /%s: cannot open the group", path, split);
    digest d = {.h = 0xcbf29ce484222325ULL};
    static const char *const arrays[] = {"x", "y", "kp"};
    int64_t rows = -1, n = -1;
    char hex[64] = "";
    for (int i = 0; i < 3 && !hex[0]; i++) {
        if (H5Lexists(g, arrays[i], H5P_DEFAULT) <= 0) continue;
        if (digest_dataset(g, arrays[i], &d, &n) != 0) {
            rt_fmt(hex, sizeof hex, "unreadable: /%s/%s", split, arrays[i]);
            fprintf(stderr, "ringtrain: warning: %s: /%s/%s: a block failed to read while taking the digest for the "
                    "checkpoints' provenance\n", path, split, arrays[i]);
        }
        if (i == 0) rows = n;
    }
    H5Gclose(g);
    if (!hex[0]) snprintf(hex, sizeof hex, "%016llx", (unsigned long long)digest_end(&d));
    cJSON *s = cJSON_AddObjectToObject(splits, split);
    cJSON_AddNumberToObject(s, "rows", (double)rows);
    cJSON_AddStringToObject(s, "digest", hex);
    return RT_OK;
}

static int file_identity(const char *role, const char *path, cJSON *files) {
    const cJSON *seen;
    cJSON_ArrayForEach(seen, files) { /* data.test is often data.train's file: read it once */
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(seen, "path")), path) != 0) continue;
        cJSON *e = cJSON_Duplicate(seen, true);
        cJSON_ReplaceItemInObject(e, "role", cJSON_CreateString(role));
        cJSON_AddItemToArray(files, e);
        return RT_OK;
    }
    struct stat st;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "role", role);
    cJSON_AddStringToObject(e, "path", path);
    if (stat(path, &st) != 0) { /* recorded as absent: the reader of that file (a resumed run: none) says why */
        cJSON_AddNumberToObject(e, "size", -1);
        cJSON_AddObjectToObject(e, "splits");
        cJSON_AddItemToArray(files, e);
        return RT_OK;
    }
    rt_h5_lock();
    hid_t f;
    int rc = rt_h5_open(path, &f);
    cJSON_AddNumberToObject(e, "size", (double)st.st_size);
    cJSON *splits = cJSON_AddObjectToObject(e, "splits");
    if (!rc) {
        rc = split_identity(f, path, "train", splits);
        if (!rc) rc = split_identity(f, path, "test", splits);
        H5Fclose(f);
    }
    rt_h5_unlock();
    if (rc) {
        cJSON_Delete(e);
        return rt_err_prefix(rc, role);
    }
    cJSON_AddItemToArray(files, e);
    return RT_OK;
}

/* ---- making one ---- */

static void add_versions(cJSON *j) {
    cJSON_AddStringToObject(j, "ringtrain_version", RT_VERSION);
    cJSON_AddStringToObject(j, "git_commit", RT_GIT_COMMIT);
    /* openblas_get_config names the kernels in use too: they are a field of their own */
    char *core = openblas_get_corename(), version[256];
    rt_fmt(version, sizeof version, "%s", openblas_get_config() ? openblas_get_config() : "unknown");
    char *at = core && core[0] ? strstr(version, core) : NULL;
    if (at) memmove(at, at + strlen(core) + (at[strlen(core)] == ' '), strlen(at + strlen(core)) + 1);
    cJSON_AddStringToObject(j, "openblas_version", version);
    cJSON_AddStringToObject(j, "openblas_kernel", core ? core : "unknown");
    cJSON_AddNumberToObject(j, "openblas_threads", openblas_get_num_threads());
    cJSON_AddStringToObject(j, "gemm", rt_gemm_name());
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = "unknown";
    int len = 0;
    MPI_Get_library_version(mpi, &len);
    mpi[strcspn(mpi, "\n,")] = '\0'; /* "Open MPI v4.1.4, package: ..." -> its name and version */
    cJSON_AddStringToObject(j, "mpi_version", mpi);
}

int rt_prov_create(const rt_config *c, int world, const char *launcher, rt_prov **out) {
    *out = NULL;
    cJSON *j = cJSON_CreateObject();
    add_versions(j);
    cJSON_AddNumberToObject(j, "world_size", world);
    cJSON_AddStringToObject(j, "launcher", launcher ? launcher : "none");
    cJSON_AddStringToObject(j, "command", command_line ? command_line : "");
    cJSON_AddNumberToObject(j, "step_from", 0);
    cJSON_AddNumberToObject(j, "step_to", 0);
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    cJSON_AddArrayToObject(j, "chain");
    const char *roles[] = {"data.train", "data.test", "init.from"};
    const char *paths[] = {c->data.train, c->data.test, c->init.from};
    int rc = RT_OK;
    for (int i = 0; i < 3 && !rc; i++)
        if (paths[i][0]) rc = file_identity(roles[i], paths[i], files);
    if (rc) {
        cJSON_Delete(j);
        return rc;
    }
    rt_prov *p = rt_calloc(1, sizeof *p);
    p->json = j;
    *out = p;
    return RT_OK;
}

void rt_prov_resumed(rt_prov *p, const char *ckpt, int64_t step, int64_t world) {
    if (!p) return;
    cJSON *parent = NULL, *chain;
    if (rt_prov_read(ckpt, &parent) == RT_OK && cJSON_IsArray(cJSON_GetObjectItem(parent, "chain")))
        chain = cJSON_DetachItemFromObject(parent, "chain");
    else
        chain = cJSON_CreateArray();
    cJSON_Delete(parent);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "checkpoint", ckpt);
    cJSON_AddNumberToObject(e, "step", (double)step);
    cJSON_AddNumberToObject(e, "world_size", (double)world);
    cJSON_AddItemToArray(chain, e);
    cJSON_ReplaceItemInObject(p->json, "chain", chain);
    cJSON_SetNumberValue(cJSON_GetObjectItem(p->json, "step_from"), (double)step);
}

void rt_prov_destroy(rt_prov *p) {
    if (!p) return;
    cJSON_Delete(p->json);
    rt_free(p);
}

/* ---- in the checkpoint: one attribute per key of /provenance ---- */

typedef enum { PROV_STR, PROV_INT, PROV_JSON } prov_kind;
static const struct {
    const char *key;
    prov_kind kind;
} prov_keys[] = {
    {"ringtrain_version", PROV_STR}, {"git_commit", PROV_STR},      {"openblas_version", PROV_STR},
    {"openblas_kernel", PROV_STR},   {"openblas_threads", PROV_INT}, {"mpi_version", PROV_STR},
    {"world_size", PROV_INT},        {"launcher", PROV_STR},         {"command", PROV_STR},
    {"step_from", PROV_INT},         {"step_to", PROV_INT},          {"files", PROV_JSON},
    {"chain", PROV_JSON},            {"gemm", PROV_STR},
};
enum { NPROV = sizeof prov_keys / sizeof prov_keys[0] };

int rt_prov_write(const rt_prov *p, hid_t file, int64_t step) {
    if (!p) return RT_OK;
    cJSON_SetNumberValue(cJSON_GetObjectItem(p->json, "step_to"), (double)step);
    hid_t g = H5Gcreate2(file, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return rt_err(RT_ERUNTIME, "provenance: cannot create the group");
    int rc = RT_OK;
    for (int i = 0; i < NPROV && !rc; i++) {
        const cJSON *v = cJSON_GetObjectItem(p->json, prov_keys[i].key);
        if (prov_keys[i].kind == PROV_INT) {
            rc = rt_h5_attr_write_int(g, prov_keys[i].key, (int64_t)cJSON_GetNumberValue(v));
        } else if (prov_keys[i].kind == PROV_STR) {
            rc = rt_h5_attr_write_str(g, prov_keys[i].key, cJSON_GetStringValue(v));
        } else {
            char *s = cJSON_PrintUnformatted(v);
            rc = rt_h5_attr_write_str(g, prov_keys[i].key, s);
            cJSON_free(s);
        }
    }
    H5Gclose(g);
    return rc;
}

static int read_group(hid_t g, const char *path, cJSON *j) {
    char where[RT_PATH_MAX + 16];
    rt_fmt(where, sizeof where, "%s: /provenance", path);
    for (int i = 0; i < NPROV; i++) {
        const char *k = prov_keys[i].key;
        int rc;
        if (prov_keys[i].kind == PROV_INT) {
            int64_t v;
            if ((rc = rt_h5_attr_int(g, k, &v))) return rt_err_prefix(rc, where);
            cJSON_AddNumberToObject(j, k, (double)v);
            continue;
        }
        if (strcmp(k, "gemm") == 0 && H5Aexists(g, k) <= 0) { /* written before it was recorded */
            cJSON_AddStringToObject(j, k, "openblas");
            continue;
        }
        char *s;
        if ((rc = rt_h5_attr_str(g, k, &s))) return rt_err_prefix(rc, where);
        cJSON *v = prov_keys[i].kind == PROV_STR ? cJSON_CreateString(s) : cJSON_Parse(s);
        rt_free(s);
        if (!v) return rt_err(RT_EBADINPUT, "%s: /provenance: %s: not JSON", path, k);
        cJSON_AddItemToObject(j, k, v);
    }
    return RT_OK;
}

int rt_prov_read(const char *path, cJSON **out) {
    *out = NULL;
    static const char *const names[] = {"provenance", NULL};
    rt_h5_init();
    rt_h5_lock();
    hid_t f;
    int rc = rt_h5_open_checked(path, RT_SEAL_IF_PRESENT, names, &f);
    if (!rc) {
        int64_t version = 0;
        rt_h5_attr_int(f, "format_version", &version);
        if (H5Lexists(f, "provenance", H5P_DEFAULT) <= 0) {
            rc = rt_err(RT_EBADINPUT, "%s: no /provenance (format version %lld; from 3 on a checkpoint records "
                        "its versions, kernels, data digests, command line and resume chain)", path,
                        (long long)version);
        } else {
            hid_t g = H5Gopen2(f, "provenance", H5P_DEFAULT);
            cJSON *j = cJSON_CreateObject();
            rc = g < 0 ? rt_err(RT_EBADINPUT, "%s: /provenance: cannot open", path) : read_group(g, path, j);
            if (g >= 0) H5Gclose(g);
            if (rc) cJSON_Delete(j);
            else *out = j;
        }
        H5Fclose(f);
    }
    rt_h5_unlock();
    return rc;
}

/* ---- shown by inspect ---- */

void rt_prov_print(const cJSON *p, FILE *out) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(p, "ringtrain_version"));
    fprintf(out, "provenance\n  ringtrain       %s (git %s)\n", s ? s : "?",
            cJSON_GetStringValue(cJSON_GetObjectItem(p, "git_commit")));
    fprintf(out, "  openblas        %s, %s kernels, %d threads; sgemm on %s\n",
            cJSON_GetStringValue(cJSON_GetObjectItem(p, "openblas_version")),
            cJSON_GetStringValue(cJSON_GetObjectItem(p, "openblas_kernel")),
            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "openblas_threads")),
            cJSON_GetStringValue(cJSON_GetObjectItem(p, "gemm")));
    fprintf(out, "  mpi             %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(p, "mpi_version")));
    fprintf(out, "  world           %d ranks, launched by %s\n",
            (int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "world_size")),
            cJSON_GetStringValue(cJSON_GetObjectItem(p, "launcher")));
    fprintf(out, "  steps           %lld -> %lld\n",
            (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "step_from")),
            (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "step_to")));
    fprintf(out, "  command         %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(p, "command")));
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "files")) {
        fprintf(out, "  %-15s %s, %.0f bytes", cJSON_GetStringValue(cJSON_GetObjectItem(e, "role")),
                cJSON_GetStringValue(cJSON_GetObjectItem(e, "path")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(e, "size")));
        const cJSON *sp;
        cJSON_ArrayForEach(sp, cJSON_GetObjectItem(e, "splits"))
            fprintf(out, "; %s %.0f rows, digest %s", sp->string,
                    cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "rows")),
                    cJSON_GetStringValue(cJSON_GetObjectItem(sp, "digest")));
        fprintf(out, "\n");
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(p, "chain"))
        fprintf(out, "  resumed from    %s (step %.0f, %.0f ranks)\n",
                cJSON_GetStringValue(cJSON_GetObjectItem(e, "checkpoint")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(e, "step")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(e, "world_size")));
}
