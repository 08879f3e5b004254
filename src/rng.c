/* rng.c - xoshiro256** generator seeded through splitmix64. */
#include "ringtrain/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rt_rng_seed(rt_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t rt_rng_u64(rt_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float rt_rng_uniform(rt_rng *r) { return (float)(rt_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t rt_rng_below(rt_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rt_rng_u64(r); while (x >= limit);
    return x % n;
}

float rt_rng_normal(rt_rng *r) {
    double u1 = ((double)(rt_rng_u64(r) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
    double u2 = (double)(rt_rng_u64(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void rt_rng_permutation(rt_rng *r, int64_t *perm, int64_t n) {
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rt_rng_below(r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

uint64_t rt_row_key(uint64_t seed, uint64_t stream, int64_t row) {
    uint64_t x = seed ^ 0x726f776b6579ULL; /* "rowkey" */
    uint64_t a = splitmix64(&x);
    x = a ^ (stream * 0x9e3779b97f4a7c15ULL);
    uint64_t b = splitmix64(&x);
    x = b ^ ((uint64_t)row * 0xc2b2ae3d27d4eb4fULL);
    return splitmix64(&x);
}
