/** @file rng.h
 * Seeded, portable random numbers (xoshiro256**; splitmix64 seeding).
 * The same seed gives the same bits on every machine and every world size. */
#ifndef RINGTRAIN_RNG_H
#define RINGTRAIN_RNG_H

#include "ringtrain/api.h"

#include <stdint.h>
#include <stddef.h>

typedef struct rt_rng { uint64_t s[4]; } rt_rng; /* plain value; copy to snapshot */

/** Seeds from (seed, stream): different streams give independent sequences. */
RT_API void rt_rng_seed(rt_rng *r, uint64_t seed, uint64_t stream);
/** The next 64 random bits of the stream. */
RT_API uint64_t rt_rng_u64(rt_rng *r);
/** Uniform float in [0, 1) with 24 random bits. */
RT_API float rt_rng_uniform(rt_rng *r);
/** Uniform integer in [0, n) without modulo bias; n > 0. */
RT_API uint64_t rt_rng_below(rt_rng *r, uint64_t n);
/** Standard normal (Box-Muller, double internally). */
RT_API float rt_rng_normal(rt_rng *r);
/** Fills perm[0..n) with a permutation of 0..n-1 (Fisher-Yates) drawn from r. */
RT_API void rt_rng_permutation(rt_rng *r, int64_t *perm, int64_t n);
/** The random key of dataset row `row` in `stream` (a training epoch, or an
 * evaluation tag) of a run seeded with seed: models seed a row's draws from
 * it, so they do not depend on which rank reads the row. */
RT_API uint64_t rt_row_key(uint64_t seed, uint64_t stream, int64_t row);

#endif
