/*
 * tinyecg_nn_math.h - TensorFlow Lite's fixed-point arithmetic (gemmlowp, common.h) as
 * static inline C99: the building blocks every int8 kernel requantizes with.
 *
 * Conventions (tensorflow/lite/kernels/internal/quantization_util.cc): a real multiplier is a
 * Q31 integer `multiplier` in [2^30, 2^31) and an exponent `shift`, real = multiplier *
 * 2^(shift - 31); shift > 0 is a left shift before the multiply, shift < 0 a rounding right
 * shift after it. The generator computes them (tinyecg.quantmath.quantize_multiplier).
 * Shifts of negative numbers go through tinyecg_nn_arithmetic_shift_right, never through the
 * implementation-defined `>>` of a negative value.
 */
#ifndef TINYECG_NN_MATH_H
#define TINYECG_NN_MATH_H

#include <stdint.h>
#include <string.h>

#include "tinyecg_nn_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* floor(x / 2^n) for 0 <= n <= 31, written with ~ so that it does not rely on the meaning
 * of >> on negative numbers. */
TINYECG_NN_STATIC int32_t tinyecg_nn_arithmetic_shift_right(int32_t x, int32_t n)
{
    return x >= 0 ? (x >> n) : (int32_t)~((int32_t)~x >> n);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: (a * b + 2^30) / 2^31 rounded half away from
 * zero; the one overflowing case, a == b == INT32_MIN, saturates to INT32_MAX. */
TINYECG_NN_STATIC int32_t tinyecg_nn_saturating_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero
 * (0 <= exponent <= 31). */
TINYECG_NN_STATIC int32_t tinyecg_nn_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return tinyecg_nn_arithmetic_shift_right(x, exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier, double-rounding build (TFLITE_SINGLE_ROUNDING off):
 * x * multiplier * 2^(shift - 31) = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(
 * x << max(shift, 0), multiplier), max(-shift, 0)). */
TINYECG_NN_STATIC int32_t tinyecg_nn_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier,
                                                                  int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    const int32_t scaled = left > 0 ? (int32_t)((uint32_t)x << left) : x;
    return tinyecg_nn_rounding_divide_by_pot(
        tinyecg_nn_saturating_rounding_doubling_high_mul(scaled, multiplier), right);
}

/* v clamped to [lo, hi] (a subrange of int8) as int8. */
TINYECG_NN_STATIC int8_t tinyecg_nn_clamp_to_int8(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

/* sum over i < n of (x[i] + x_offset) * w[i]: the inner product of the generic conv and dense
 * kernels. On DSP cores two products per SMLAD on int16 pairs, x + x_offset formed lane-wise
 * by SADD16 (|x + offset| <= 255); the sum is the same integer (no term or partial sum leaves
 * int32), so both paths give identical results. */
TINYECG_NN_STATIC int32_t tinyecg_nn_dot_with_offset(const int8_t *x, const int8_t *w, int32_t n,
                                                 int32_t x_offset)
{
    int32_t acc = 0;
    int32_t i = 0;
#if TINYECG_NN_DSP
    /* four values per step: SXTB16 sign-extends bytes 0 and 2 (and, after a rotation by 8,
       bytes 1 and 3) into int16 lanes; x and w are split the same way, so the pairs match */
    const int16x2_t off2 = (int16x2_t)(((uint32_t)(uint16_t)x_offset << 16)
                                       | (uint16_t)x_offset);
    for (; i + 3 < n; i += 4) {
        uint32_t xw, ww;
        memcpy(&xw, x + i, sizeof xw);
        memcpy(&ww, w + i, sizeof ww);
        acc = __smlad(__sadd16(__sxtb16((int8x4_t)xw), off2), __sxtb16((int8x4_t)ww), acc);
        acc = __smlad(__sadd16(__sxtb16((int8x4_t)((xw >> 8) | (xw << 24))), off2),
                      __sxtb16((int8x4_t)((ww >> 8) | (ww << 24))), acc);
    }
#endif
    for (; i < n; ++i) {
        acc += ((int32_t)x[i] + x_offset) * (int32_t)w[i];
    }
    return acc;
}

/* floor((x * m + 2^31) / 2^32) for m in [2^30, 2^31): the rounded high word of a 32 x 32-bit
 * product from four 16 x 16-bit ones, for ARMv6-M, which has no 64-bit product (the
 * library's __aeabi_lmul costs several times more). With x = xh * 2^16 + xl and m likewise:
 *   x * m + 2^31 = xh * mh * 2^32 + (a1 + a2') * 2^16 + lo + 2^31,  a1 = xh * ml,
 * and the floors nest: the result is xh * mh + floor((a1 + a2) / 2^16) with
 * a2 = xl * mh + (lo >> 16) + 2^15 < 2^31; a1 and a2 are split into high and low halves so
 * that their sum never leaves int32. Exact for every int32 x. */
TINYECG_NN_STATIC int32_t tinyecg_nn_rounded_high_mul_16x16(int32_t x, int32_t m)
{
    const int32_t xl = (int32_t)((uint32_t)x & 0xFFFFu);
    const int32_t xh = tinyecg_nn_arithmetic_shift_right(x, 16);
    const int32_t ml = (int32_t)((uint32_t)m & 0xFFFFu), mh = m >> 16;
    const uint32_t lo = (uint32_t)xl * (uint32_t)ml;
    const int32_t a1 = xh * ml;
    const int32_t a2 = xl * mh + (int32_t)(lo >> 16) + 0x8000;
    const uint32_t carry = (((uint32_t)a1 & 0xFFFFu) + ((uint32_t)a2 & 0xFFFFu)) >> 16;
    return xh * mh + tinyecg_nn_arithmetic_shift_right(a1, 16) + (a2 >> 16) + (int32_t)carry;
}

/* MultiplyByQuantizedMultiplier(x, mult, shift) + output zero point in one rounding multiply,
 * for mult > 0, shift in [-30, -1] and |x| < 2^30, which the generator guarantees where it
 * uses it (folded-bias accumulators):
 *   v = SaturatingRoundingDoublingHighMul(x, mult) = floor((x * mult + 2^30) / 2^31)
 *     = floor((2x * mult + 2^31) / 2^32): the rounded high word of 2x * mult (mult > 0 never
 *       saturates): one SMMLAR on a DSP core, which also adds `add`;
 *   RoundingDivideByPOT(v, r) = floor((v + 2^(r-1) - [v < 0]) / 2^r), r = -shift, with
 *       [x < 0] for [v < 0] (they differ only when v = 0, and then both give 0);
 *   + out_zp, folded in as out_zp * 2^r (a multiple of 2^r passes the floor unchanged).
 * add = 2^(r-1) + out_zp * 2^r comes from the generator, which checks |add| < 2^30; with
 * |v| <= 2^30 nothing leaves int32. */
TINYECG_NN_STATIC int32_t tinyecg_nn_requantize_one_multiply(int32_t x, int32_t mult, int32_t add,
                                                         int32_t shift)
{
    int32_t t;
#if TINYECG_NN_DSP
    __asm__("smmlar %0, %1, %2, %3" : "=r"(t) : "r"(x * 2), "r"(mult), "r"(add));
#elif TINYECG_NN_V6M || defined(TINYECG_MULHI16)
    t = tinyecg_nn_rounded_high_mul_16x16(x * 2, mult) + add;
#else
    const int64_t p = (int64_t)(x * 2) * mult + (int64_t)0x80000000u;
    t = (int32_t)(uint32_t)((uint64_t)p >> 32) + add;
#endif
    t -= (int32_t)((uint32_t)x >> 31);
    return tinyecg_nn_arithmetic_shift_right(t, -shift);
}

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_NN_MATH_H */
