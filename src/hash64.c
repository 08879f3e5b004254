/* hash64.c - the seal's 64-bit digest (hash64.h). */
#include "hash64.h"

#include <string.h>

#define P1 0x9E3779B97F4A7C15ull
#define P2 0xC2B2AE3D27D4EB4Full

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

void rt_hash64_init(rt_hash64_state *h) {
    for (int i = 0; i < 8; i++) h->lane[i] = P1 * (uint64_t)(2 * i + 1);
    h->len = 0;
}

void rt_hash64_update(rt_hash64_state *h, const unsigned char *p, size_t n) {
    size_t blocks = n / 64;
    for (size_t b = 0; b < blocks; b++, p += 64)
        for (int i = 0; i < 8; i++) {
            uint64_t w;
            memcpy(&w, p + 8 * i, 8);
            h->lane[i] = rotl64(h->lane[i] ^ (w * P2), 31) * P1;
        }
    for (size_t i = 0, rest = n % 64; i < rest; i++) /* the tail, a byte at a time */
        h->lane[i % 8] = rotl64(h->lane[i % 8] ^ ((uint64_t)p[i] * P2), 31) * P1;
    h->len += n;
}

uint64_t rt_hash64_final(const rt_hash64_state *h) {
    uint64_t d = h->len * P2;
    for (int i = 0; i < 8; i++) d = rotl64(d ^ h->lane[i], 27) * P1 + P2;
    d ^= d >> 33;
    d *= P2;
    d ^= d >> 29;
    d *= P1;
    return d ^ (d >> 32);
}

uint64_t rt_hash64(const void *p, size_t n) {
    rt_hash64_state h;
    rt_hash64_init(&h);
    rt_hash64_update(&h, p, n);
    return rt_hash64_final(&h);
}
