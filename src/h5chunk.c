/* h5chunk.c - float32 datasets with Fletcher32, written a chunk at a time.
 *
 * libhdf5's filter pipeline allocates a fresh buffer for every chunk, copies
 * the chunk into it and checksums it there; on a checkpoint the allocations
 * alone (4 MiB each, mapped, zeroed and unmapped by malloc) made the write
 * 3-4x a raw write of the same bytes. Here one scratch buffer is reused, the
 * checksum is the filter's own, and H5Dwrite_chunk stores the result, so the
 * file is byte for byte what the pipeline would have written and libhdf5
 * verifies every chunk on read as before. */
#include "h5chunk.h"

#include "ringtrain/common.h"

#include <stdbool.h>
#include <string.h>

/* File bytes are the host's: a float32 chunk is stored little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "h5chunk.c writes host floats as F32LE");

/* Fletcher32 as libhdf5 computes it. Its loop folds both 32-bit sums (high
 * half added to low half) every 360 words, which never overflows, so each sum
 * is congruent mod 65535 to the exact one and ends in [0, 65535], reaching 0
 * only when every word so far was 0. Here a block of n <= 256 words adds
 * sum(w) to a and n*a + sum((n-i) w_i) to b, both block sums fitting 32 bits
 * (a loop the compiler vectorises), and a and b are reduced mod 65535. */
uint32_t rt_fletcher32(const void *data, size_t len) {
    enum { BLOCK = 256 };
    const unsigned char *p = data;
    size_t words = len / 2;
    uint64_t a = 0, b = 0;
    bool any = false;
    while (words) {
        uint32_t n = words < BLOCK ? (uint32_t)words : BLOCK, s = 0, t = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t w = (uint32_t)p[2 * i] << 8 | p[2 * i + 1];
            s += w;
            t += (n - i) * w;
        }
        any = any || s;
        b = (b + n * a + t) % 65535;
        a = (a + s) % 65535;
        p += 2 * n;
        words -= n;
    }
    if (len % 2) { /* the odd byte, as the high half of a last word */
        any = any || p[0];
        a = (a + ((uint32_t)p[0] << 8)) % 65535;
        b = (b + a) % 65535;
    }
    if (any) { /* a positive sum that is 0 mod 65535 reads 65535 */
        if (a == 0) a = 65535;
        if (b == 0) b = 65535;
    }
    return (uint32_t)(b << 16 | a);
}

static unsigned char *scratch_get(rt_h5_scratch *s, size_t n) {
    if (s->cap < n) {
        rt_free(s->p);
        s->p = rt_malloc(n);
        s->cap = n;
    }
    return s->p;
}

int rt_h5_write_f32_checked(hid_t loc, const char *name, int ndim, const hsize_t *dims,
                            hsize_t chunk_elems, const float *data, rt_h5_scratch *scratch) {
    hsize_t chunk[H5S_MAX_RANK], row = 1;
    for (int i = 1; i < ndim; i++) row *= dims[i];
    bool empty = row == 0 || dims[0] == 0;
    hsize_t chunk_rows = row && chunk_elems / row > 1 ? chunk_elems / row : 1;
    if (chunk_rows > dims[0] && dims[0] > 0) chunk_rows = dims[0];
    for (int i = 0; i < ndim; i++) chunk[i] = i ? dims[i] : chunk_rows;
    hid_t s = H5Screate_simple(ndim, dims, NULL);
    hid_t p = H5Pcreate(H5P_DATASET_CREATE);
    if (!empty) {
        H5Pset_chunk(p, ndim, chunk);
        H5Pset_fletcher32(p);
    }
    hid_t d = H5Dcreate2(loc, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, p, H5P_DEFAULT);
    H5Pclose(p);
    H5Sclose(s);
    if (d < 0) return rt_err(RT_ERUNTIME, "%s: cannot create dataset", name);
    int rc = RT_OK;
    size_t chunk_bytes = (size_t)(chunk_rows * row) * sizeof(float);
    unsigned char *buf = empty ? NULL : scratch_get(scratch, chunk_bytes + 4);
    hsize_t offset[H5S_MAX_RANK] = {0};
    for (hsize_t r0 = 0; !empty && r0 < dims[0] && !rc; r0 += chunk_rows) {
        hsize_t rows = dims[0] - r0 < chunk_rows ? dims[0] - r0 : chunk_rows;
        size_t used = (size_t)(rows * row) * sizeof(float);
        memcpy(buf, data + r0 * row, used);
        memset(buf + used, 0, chunk_bytes - used); /* the edge chunk, padded with the fill value */
        uint32_t sum = rt_fletcher32(buf, chunk_bytes);
        for (int k = 0; k < 4; k++) buf[chunk_bytes + (size_t)k] = (unsigned char)(sum >> (8 * k));
        offset[0] = r0;
        if (H5Dwrite_chunk(d, H5P_DEFAULT, 0, offset, chunk_bytes + 4, buf) < 0)
            rc = rt_err(RT_ERUNTIME, "%s: cannot write dataset", name);
    }
    if (H5Dclose(d) < 0 && !rc) rc = rt_err(RT_ERUNTIME, "%s: cannot write dataset", name);
    return rc;
}
