/* bf16.c - the ring's bfloat16 kernels, written so the compiler vectorises
 * them at the baseline's width. Not target_clones like the ring's float
 * kernel: its ifunc resolvers would be exported (they escape
 * -fvisibility=hidden), and these loops are bound by memory, not width. */
#include "bf16.h"

#include <string.h>

static inline uint32_t bits_of(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float float_of(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Round to nearest, ties to even: add 0x7fff plus the kept part's lowest bit,
 * then truncate. Overflow past the largest bf16 gives infinity, as IEEE
 * rounding does. A NaN keeps its top bits, with a mantissa bit forced on so
 * it cannot truncate to an infinity. */
static inline uint16_t round_bf16(float x) {
    uint32_t u = bits_of(x);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t nan = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : r);
}

void rt_bf16_encode(uint16_t *restrict out, float *restrict x, float *restrict resid, size_t n,
                    int round_x) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h = round_bf16(x[i]);
        float back = float_of((uint32_t)h << 16);
        out[i] = h;
        resid[i] += x[i] - back;
        if (round_x) x[i] = back;
    }
}

void rt_bf16_decode(float *restrict dst, const uint16_t *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = float_of((uint32_t)src[i] << 16);
}

void rt_bf16_add(float *restrict dst, const uint16_t *restrict src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += float_of((uint32_t)src[i] << 16);
}

double rt_bf16_add_sumsq(float *restrict dst, const uint16_t *restrict src, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float v = dst[i + k] + float_of((uint32_t)src[i + k] << 16);
            dst[i + k] = v;
            lane[k] += (double)v * (double)v;
        }
    for (int k = 0; i < n; i++, k++) {
        dst[i] += float_of((uint32_t)src[i] << 16);
        lane[k] += (double)dst[i] * (double)dst[i];
    }
    double s = 0.0;
    for (int k = 0; k < 8; k++) s += lane[k];
    return s;
}
