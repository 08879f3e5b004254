/* h5chunk.h - float32 datasets written chunk by chunk with their Fletcher32
 * checksum computed here (internal to the library: checkpoints use it). */
#ifndef RINGTRAIN_H5CHUNK_H
#define RINGTRAIN_H5CHUNK_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* libhdf5's Fletcher32 filter checksum of len bytes, bit for bit: the sums of
 * big-endian 16-bit words (an odd last byte is a word's high half) and of their
 * running totals, each an end-around-carry value in [0, 65535] that is 0 only
 * when every byte is 0; the second sum is the high half. */
uint32_t rt_fletcher32(const void *data, size_t len);

/* A buffer reused across calls; zero-initialise it, rt_free(s.p) when done. */
typedef struct rt_h5_scratch {
    unsigned char *p;
    size_t cap;
} rt_h5_scratch;

/* Writes data, float32 of shape dims[0..ndim) (ndim >= 1), as dataset `name`
 * under loc in chunks of as many rows (along the first axis, all of the
 * others) as fit chunk_elems elements, at least one, with Fletcher32 its one
 * filter, so libhdf5 verifies every chunk on read.
 * Each chunk goes to H5Dwrite_chunk from scratch, zero-padded at the edge as
 * libhdf5 pads it, with its checksum appended. An empty dataset is written
 * unchunked. */
int rt_h5_write_f32_checked(hid_t loc, const char *name, int ndim, const hsize_t *dims,
                            hsize_t chunk_elems, const float *data, rt_h5_scratch *scratch);

#endif
