/* test_h5.c - checkpoint datasets against libhdf5's own filter pipeline:
 *
 *   fletcher  rt_fletcher32 equals the checksum libhdf5's Fletcher32 filter
 *             appends (read back raw with H5Dread_chunk) for odd and even
 *             lengths across its 360-word fold, random bytes, all 0x00 and
 *             all 0xff, and sums that are 0 mod 65535.
 *   chunks    rt_h5_write_f32_checked writes chunks identical, byte for byte,
 *             to those H5Dwrite stores through the pipeline (a 2-D tensor
 *             whose edge chunk is partial, a 1-D one, one whose chunk is the
 *             whole tensor), the data reads back bit for bit through the
 *             checksum, and a flipped byte in a chunk fails that read.
 *   residual  /dist/residual (dist.compress bf16) round-trips through
 *             rt_ckpt_save and rt_ckpt_load_residual: each row at the world
 *             size that wrote it; at another, ring position 0 gets the rows'
 *             sum and the others zeros; none in the file gives zeros.
 *
 * Usage: test_h5 DIR (a scratch directory). Output: "ok ..."/"FAIL ..." lines
 * and "N passed, M failed". */
#include "../src/h5chunk.h"
#include "report.h"
#include "ringtrain/ckpt.h"
#include "ringtrain/common.h"
#include "ringtrain/h5util.h"
#include "ringtrain/rng.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The bytes libhdf5 stores for chunk `offset` of dataset d (rt_free them). */
static unsigned char *raw_chunk(hid_t d, const hsize_t *offset, hsize_t *size) {
    *size = 0;
    if (H5Dget_chunk_storage_size(d, offset, size) < 0 || *size == 0) return NULL;
    unsigned char *b = rt_malloc((size_t)*size);
    uint32_t filters = 0;
    if (H5Dread_chunk(d, H5P_DEFAULT, offset, &filters, b) < 0) {
        rt_free(b);
        return NULL;
    }
    return b;
}

/* Writes len bytes through libhdf5's Fletcher32 filter; its checksum, or 0 and *ok false. */
static uint32_t library_fletcher(hid_t f, const unsigned char *bytes, size_t len, bool *ok) {
    static int seq;
    char name[32];
    snprintf(name, sizeof name, "bytes%d", seq++);
    hsize_t dims[1] = {len};
    hid_t s = H5Screate_simple(1, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, 1, dims);
    H5Pset_fletcher32(p);
    hid_t d = H5Dcreate2(f, name, H5T_NATIVE_UCHAR, s, H5P_DEFAULT, p, H5P_DEFAULT);
    *ok = d >= 0 && H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes) >= 0;
    hsize_t off[1] = {0}, size = 0;
    unsigned char *raw = *ok ? raw_chunk(d, off, &size) : NULL;
    *ok = raw && size == len + 4;
    uint32_t sum = 0;
    for (int k = 0; *ok && k < 4; k++) sum |= (uint32_t)raw[len + (size_t)k] << (8 * k);
    rt_free(raw);
    if (d >= 0) H5Dclose(d);
    H5Pclose(p);
    H5Sclose(s);
    return sum;
}

static void fletcher_cases(hid_t f) {
    static const size_t lens[] = {1, 2, 3, 718, 719, 720, 721, 722, 1441, 65536, 65537, (1 << 20) + 6};
    const char *fills[] = {"random", "0x00", "0xff", "one 0xffff word"};
    unsigned char *buf = rt_malloc((1 << 20) + 8);
    rt_rng r;
    rt_rng_seed(&r, 7, 0);
    for (int fill = 0; fill < 4; fill++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            size_t n = lens[i];
            for (size_t k = 0; k < n; k++)
                buf[k] = fill == 0 ? (unsigned char)(rt_rng_u64(&r) >> 56) : fill == 2 ? 0xff : 0;
            if (fill == 3 && n >= 2) buf[n / 2 & ~(size_t)1] = buf[(n / 2 & ~(size_t)1) + 1] = 0xff;
            bool ok = false;
            uint32_t want = library_fletcher(f, buf, n, &ok), got = rt_fletcher32(buf, n);
            report(ok && got == want, "fletcher32 of %zu bytes, %s: %08x, libhdf5 %08x", n, fills[fill],
                   got, want);
        }
    rt_free(buf);
}

/* dims[0..nd) written both ways; compares every chunk's stored bytes and the read-back. */
static void chunk_case(hid_t f, const char *what, int nd, const hsize_t *dims, hsize_t chunk_elems,
                       hsize_t chunk_rows) {
    static int seq;
    hsize_t row = 1, chunk[H5S_MAX_RANK];
    for (int i = 1; i < nd; i++) row *= dims[i];
    size_t n = (size_t)(dims[0] * row);
    float *x = rt_malloc(n * sizeof(float)), *back = rt_malloc(n * sizeof(float));
    rt_rng r;
    rt_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < n; i++) x[i] = rt_rng_normal(&r) * 3.0f;
    char ours[32], lib[32];
    snprintf(ours, sizeof ours, "ours%d", seq);
    snprintf(lib, sizeof lib, "lib%d", seq++);
    rt_h5_scratch scratch = {0};
    bool ok = rt_h5_write_f32_checked(f, ours, nd, dims, chunk_elems, x, &scratch) == RT_OK;
    rt_free(scratch.p);
    for (int i = 0; i < nd; i++) chunk[i] = i ? dims[i] : chunk_rows;
    hid_t s = H5Screate_simple(nd, dims, NULL), p = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(p, nd, chunk);
    H5Pset_fletcher32(p);
    hid_t dl = H5Dcreate2(f, lib, H5T_IEEE_F32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    ok = ok && dl >= 0 && H5Dwrite(dl, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0;
    hid_t d = H5Dopen2(f, ours, H5P_DEFAULT);
    int chunks = 0, same = 0;
    for (hsize_t r0 = 0; ok && r0 < dims[0]; r0 += chunk_rows, chunks++) {
        hsize_t off[H5S_MAX_RANK] = {r0}, sa = 0, sb = 0;
        unsigned char *a = raw_chunk(d, off, &sa), *b = raw_chunk(dl, off, &sb);
        same += a && b && sa == sb && memcmp(a, b, (size_t)sa) == 0;
        rt_free(a);
        rt_free(b);
    }
    report(ok && chunks > 0 && same == chunks, "%s: %d of %d chunks stored as libhdf5 stores them", what,
           same, chunks);
    bool read = d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0;
    report(read && memcmp(back, x, n * sizeof(float)) == 0, "%s: reads back bit for bit through the checksum",
           what);
    if (d >= 0) H5Dclose(d);
    if (dl >= 0) H5Dclose(dl);
    H5Pclose(p);
    H5Sclose(s);
    rt_free(x);
    rt_free(back);
}

/* A byte flipped inside the stored chunk of a file written here fails its read. */
static void flipped_chunk(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/flip.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = 0.25f * (float)i - 3.0f;
    hsize_t dims[1] = {64};
    rt_h5_scratch scratch = {0};
    bool ok = f >= 0 && rt_h5_write_f32_checked(f, "x", 1, dims, 1 << 20, x, &scratch) == RT_OK;
    rt_free(scratch.p);
    haddr_t at = HADDR_UNDEF;
    hid_t d = ok ? H5Dopen2(f, "x", H5P_DEFAULT) : -1;
    if (d >= 0) {
        hsize_t off[1] = {0};
        H5Dget_chunk_info_by_coord(d, off, NULL, &at, NULL);
        H5Dclose(d);
    }
    if (f >= 0) H5Fclose(f);
    FILE *fp = ok && at != HADDR_UNDEF ? fopen(path, "r+b") : NULL;
    if (fp) {
        fseek(fp, (long)at + 40, SEEK_SET);
        int c = fgetc(fp);
        fseek(fp, (long)at + 40, SEEK_SET);
        fputc(c ^ 0x10, fp);
        fclose(fp);
    }
    f = fp ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    d = f >= 0 ? H5Dopen2(f, "x", H5P_DEFAULT) : -1;
    float back[64];
    bool refused = d >= 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) < 0;
    report(refused, "a byte flipped in a chunk written here fails libhdf5's checksum on read");
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    unlink(path);
}

/* A checkpoint of a two-tensor model (7 floats trained, 3 frozen) with 2
 * rows of residuals, read back at world sizes 2 and 3, and one without. */
static void residual_rows(const char *dir) {
    rt_params p;
    rt_params_init(&p, 4);
    rt_params_add(&p, "w", 1, (int[]){7});
    rt_params_add_frozen(&p, "f", 1, (int[]){3});
    rt_params_finalize(&p);
    size_t n = p.train_total;
    float *rows = rt_calloc(2 * n, sizeof(float)), *out = rt_calloc(n, sizeof(float));
    for (size_t i = 0; i < n; i++) rows[i] = 0.25f * (float)i + 1.0f, rows[n + i] = -0.5f * (float)i;
    char path[1024], bare[1024];
    snprintf(path, sizeof path, "%s/test_h5_resid.h5", dir);
    snprintf(bare, sizeof bare, "%s/test_h5_bare.h5", dir);
    rt_ckpt_meta meta = {.world_size = 2, .optim_type = "adamw", .config_json = "{}", .residual = rows,
                         .residual_rows = 2};
    int rc = rt_ckpt_save(path, &p, NULL, NULL, &meta);
    meta.residual = NULL;
    rc |= rt_ckpt_save(bare, &p, NULL, NULL, &meta);
    int64_t found = -1;
    bool ok = rc == 0;
    for (int q = 0; q < 2 && ok; q++)
        ok = rt_ckpt_load_residual(path, q, 2, out, n, &found) == 0 && found == 2 &&
             memcmp(out, rows + (size_t)q * n, n * sizeof *out) == 0;
    report(ok, "residual: each of 2 rows read back bit for bit at world size 2 (%zu floats a row)", n);
    ok = rt_ckpt_load_residual(path, 0, 3, out, n, &found) == 0 && found == 2;
    for (size_t i = 0; i < n && ok; i++) ok = out[i] == rows[i] + rows[n + i];
    bool zeros = true;
    for (int q = 1; q < 3 && zeros; q++) {
        zeros = rt_ckpt_load_residual(path, q, 3, out, n, &found) == 0;
        for (size_t i = 0; i < n; i++) zeros &= out[i] == 0.0f;
    }
    report(ok && zeros, "residual: at world size 3, position 0 gets the 2 rows' sum, positions 1 and 2 zeros");
    out[0] = 9.0f;
    ok = rt_ckpt_load_residual(bare, 0, 2, out, n, &found) == 0 && found == 0 && out[0] == 0.0f;
    report(ok, "residual: a checkpoint without /dist/residual gives zeros and 0 rows");
    unlink(path);
    unlink(bare);
    rt_free(rows);
    rt_free(out);
    rt_params_free(&p);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_h5 DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rt_h5_init();
    char path[1024];
    snprintf(path, sizeof path, "%s/test_h5.h5", argv[1]);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        fprintf(stderr, "test_h5: cannot create %s\n", path);
        return 1;
    }
    fletcher_cases(f);
    chunk_case(f, "[3000, 700] in chunks of 1497 rows (a partial edge chunk)", 2, (hsize_t[]){3000, 700}, 1 << 20,
               1497);
    chunk_case(f, "[1000001] in chunks of 262144", 1, (hsize_t[]){1000001}, 1 << 18, 262144);
    chunk_case(f, "[7, 3, 5] in one chunk", 3, (hsize_t[]){7, 3, 5}, 1 << 20, 7);
    H5Fclose(f);
    unlink(path);
    flipped_chunk(argv[1]);
    residual_rows(argv[1]);
    return report_finish();
}
