/* bf16.h - bfloat16 on the ring's wire: float32's sign, exponent and top 7
 * mantissa bits, rounded to nearest even. Internal to the ring. */
#ifndef RINGTRAIN_BF16_H
#define RINGTRAIN_BF16_H

#include <stddef.h>
#include <stdint.h>

/* out[i] = bf16(x[i]); resid[i] += x[i] - float(out[i]) (the rounding error,
 * kept for error feedback); with round_x, x[i] becomes float(out[i]) too. */
void rt_bf16_encode(uint16_t *restrict out, float *restrict x, float *restrict resid, size_t n,
                    int round_x);

/* dst[i] = float(src[i]) */
void rt_bf16_decode(float *restrict dst, const uint16_t *restrict src, size_t n);

/* dst[i] += float(src[i]); rt_bf16_add_sumsq also returns the sum of the
 * squared results in double, in eight lanes as the ring's float kernel. */
void rt_bf16_add(float *restrict dst, const uint16_t *restrict src, size_t n);
double rt_bf16_add_sumsq(float *restrict dst, const uint16_t *restrict src, size_t n);

#endif
