/* hash64.h - a fast 64-bit digest of bytes (internal to the library): the
 * checkpoint seal's (h5util.c) and the replica check's (dist.c).
 *
 * 8 lanes, each taking every 8th 64-bit little-endian word by multiply,
 * rotate, multiply (independent chains, so a core runs them side by side: it
 * costs little more than reading the bytes, where zlib's CRC-32 ran at
 * 2.5 GB/s and added 15% to a 600 MB checkpoint, and FNV-1a's one byte per
 * multiply made a replica check of 7.4 MB take 7 ms), then the lanes, the
 * tail bytes and the length folded and avalanched. Any change of input bits
 * changes the digest except with chance ~2^-64. The seal's format depends on
 * every detail: a change here is a new seal version. */
#ifndef RINGTRAIN_HASH64_H
#define RINGTRAIN_HASH64_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_hash64_state {
    uint64_t lane[8];
    uint64_t len;
} rt_hash64_state;

/* Starts a digest in *h (caller-owned; nothing to free). */
void rt_hash64_init(rt_hash64_state *h);
/* Adds n bytes. Every call but the last must give a multiple of 64 bytes:
 * otherwise the digest silently differs from that of the same bytes in one call. */
void rt_hash64_update(rt_hash64_state *h, const unsigned char *p, size_t n);
/* The digest of every byte added so far (h is left as it was). */
uint64_t rt_hash64_final(const rt_hash64_state *h);
/* The digest of n bytes at p, in one call. */
uint64_t rt_hash64(const void *p, size_t n);

#endif
