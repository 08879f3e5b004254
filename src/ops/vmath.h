/* vmath.h - exp and tanh written so that loops over them vectorise (glibc's
 * expf and tanhf are scalar calls: tanhf was half of a DiT step). Both are
 * accurate to about 1 ulp over float's range (tests/test_ops.c sweeps them
 * against double). Not installed: src/ops only. */
#ifndef RINGTRAIN_OPS_VMATH_H
#define RINGTRAIN_OPS_VMATH_H

#include <stdint.h>
#include <string.h>

/* e^z for z in float's range: z = n ln2 + r, |r| <= ln2/2, e^r by Cephes'
 * degree-6 polynomial, 2^n put into the exponent; below -87.3 it flushes to
 * 0, above 88.7 it is +inf. NaN propagates. */
static inline float rt_vexpf(float z) {
    float zc = z < -87.33654f ? -87.33654f : z > 88.72284f ? 88.72284f : z;
    /* round to nearest by the 1.5 * 2^23 trick: plain arithmetic, so it vectorises */
    float n = (zc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = zc - n * 0.693359375f - n * -2.12194440e-4f;
    float r2 = r * r;
    float p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
                1.6666665459e-1f) * r + 5.0000001201e-1f) * r2 + r + 1.0f;
    int32_t k = (int32_t)n, k1 = k >> 1, b1 = (k1 + 127) << 23, b2 = (k - k1 + 127) << 23;
    float s1, s2; /* 2^n as two factors, so n = 128 does not overflow the exponent */
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float y = p * s1 * s2;
    y = z < -87.33654f ? 0.0f : y;
    y = z > 88.72284f ? __builtin_inff() : y;
    return z != z ? z : y;
}

/* tanh(u): an odd polynomial below |u| = 0.625 (Cephes' tanhf), else
 * (1 - e) / (1 + e) with e = e^(-2|u|), the sign put back; both computed and
 * one selected, so the loop has no branch. */
static inline float rt_vtanhf(float u) {
    float a = u < 0.0f ? -u : u, u2 = u * u;
    float small = ((((-5.70498872745e-3f * u2 + 2.06390887954e-2f) * u2 - 5.37397155531e-2f) * u2 +
                    1.33314422036e-1f) * u2 - 3.33332819422e-1f) * u2 * u + u;
    float e = rt_vexpf(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    big = u < 0.0f ? -big : big;
    return a < 0.625f ? small : big;
}

#endif
