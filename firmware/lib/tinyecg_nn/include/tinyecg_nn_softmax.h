/*
 * tinyecg_nn_softmax.h - SOFTMAX int8 -> int8 (TFLM reference_ops::Softmax), a static
 * function of the file that includes tinyecg_nn.h: gemmlowp fixed point. Differences x - max
 * are scaled to Q5.26 (MultiplyByQuantizedMultiplierGreaterThanOne with the generator's mult
 * and left_shift), exp is evaluated on them, the exps are summed in Q12.19, the reciprocal of
 * the sum comes from Newton-Raphson, and the output has scale 1/256 and zero point -128.
 *
 * Here rather than in src/ because it is the last op of a classifier: called once from
 * invoke(), the compiler inlines it and its frame merges with invoke's, where a call would
 * stack the two (Thumb-1, the Cortex-M0+, has no sibling calls to avoid that): 184 B instead
 * of 236 B of stack on the M0+ for the student.
 */
#ifndef TINYECG_NN_SOFTMAX_H
#define TINYECG_NN_SOFTMAX_H

#include <stdint.h>

#include "tinyecg_nn_math.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t outer, depth;           /* rows, classes per row */
    int32_t mult, left_shift;       /* beta * input scale * 2^26 as Q31 and its left shift */
    int32_t diff_min;               /* differences below this give exp = 0 */
} tinyecg_nn_softmax_params_t;

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent e: x * 2^e, saturated
 * (gemmlowp's bounds: |x| > 2^(31-e) - 1 saturates). */
TINYECG_NN_STATIC int32_t tinyecg_nn_saturating_rounding_multiply_by_pot(int32_t x, int32_t e)
{
    const int32_t threshold = (int32_t)(((int32_t)1 << (31 - e)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << e);
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31 in and out:
 * Taylor series of exp around -1/8 to the 4th order. */
TINYECG_NN_STATIC int32_t
tinyecg_nn_exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668;  /* exp(-1/8) in Q0.31 */
    const int32_t one_third = 715827883;              /* 1/3 in Q0.31 */
    const int32_t x = a + ((int32_t)1 << 28);         /* a + 1/8 */
    const int32_t x2 = tinyecg_nn_saturating_rounding_doubling_high_mul(x, x);
    const int32_t x3 = tinyecg_nn_saturating_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = tinyecg_nn_saturating_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = tinyecg_nn_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tinyecg_nn_rounding_divide_by_pot(
        tinyecg_nn_saturating_rounding_doubling_high_mul(x4_over_4 + x3, one_third) + x2, 1);
    return exp_minus_one_eighth
           + tinyecg_nn_saturating_rounding_doubling_high_mul(exp_minus_one_eighth, x + poly);
}

/* gemmlowp exp_on_negative_values: a <= 0 in Q5.26 -> exp(a) in Q0.31. The fraction of a
 * quarter goes through the series, each whole power-of-two quarter through a constant. */
TINYECG_NN_STATIC int32_t tinyecg_nn_exp_on_negative_values(int32_t a)
{
    /* exp(-2^k) in Q0.31 for k = -2 .. 4 */
    static const int32_t exp_of_minus_pot[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    const int32_t quarter = (int32_t)1 << 24;          /* 1/4 in Q5.26 */
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t result = tinyecg_nn_exp_on_interval_between_negative_one_quarter_and_0_excl(
        tinyecg_nn_saturating_rounding_multiply_by_pot(a_mod_quarter_minus_quarter, 5));
    int32_t k;
    for (k = 0; k < 7; ++k) {
        if ((remainder & ((int32_t)1 << (24 + k))) != 0) {
            result = tinyecg_nn_saturating_rounding_doubling_high_mul(result,
                                                                      exp_of_minus_pot[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: 1 / (1 + a), Q0.31 in and out, by three
 * Newton-Raphson steps from 48/17 - 32/17 d (d = (1 + a) / 2, Q2.29 iterate). */
TINYECG_NN_STATIC int32_t tinyecg_nn_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    /* 48/17 and -32/17 in Q2.29 */
    int32_t x = 1515870810
                + tinyecg_nn_saturating_rounding_doubling_high_mul(half_denominator, -1010580540);
    int32_t k;
    for (k = 0; k < 3; ++k) {
        const int32_t one_minus_dx = ((int32_t)1 << 29)
            - tinyecg_nn_saturating_rounding_doubling_high_mul(half_denominator, x);
        x = x + tinyecg_nn_saturating_rounding_multiply_by_pot(
                    tinyecg_nn_saturating_rounding_doubling_high_mul(x, one_minus_dx), 2);
    }
    return tinyecg_nn_saturating_rounding_multiply_by_pot(x, 1);
}

TINYECG_NN_STATIC int32_t tinyecg_nn_count_leading_zeros(uint32_t x)
{
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        ++n;
    }
    return n;
}

/* (x - max) * beta * input scale in Q5.26 */
TINYECG_NN_STATIC int32_t tinyecg_nn_softmax_scaled_difference(const tinyecg_nn_softmax_params_t *p,
                                                           int32_t diff)
{
    return tinyecg_nn_saturating_rounding_doubling_high_mul(
        (int32_t)((int64_t)diff * ((int64_t)1 << p->left_shift)), p->mult);
}

TINYECG_NN_STATIC int tinyecg_nn_softmax(const tinyecg_nn_softmax_params_t *p,
                                     const int8_t *input, int8_t *output)
{
    int32_t row, c;
    for (row = 0; row < p->outer; ++row) {
        const int8_t *x = input + row * p->depth;
        int8_t *y = output + row * p->depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0;    /* Q12.19 */
        int32_t headroom, bits_over_unit, shifted_scale;
        for (c = 0; c < p->depth; ++c) {
            max_in_row = x[c] > max_in_row ? x[c] : max_in_row;
        }
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t scaled = tinyecg_nn_softmax_scaled_difference(p, diff);
                sum_of_exps += tinyecg_nn_rounding_divide_by_pot(
                    tinyecg_nn_exp_on_negative_values(scaled), 12);
            }
        }
        headroom = tinyecg_nn_count_leading_zeros((uint32_t)sum_of_exps);
        bits_over_unit = 12 - headroom;
        shifted_scale = tinyecg_nn_one_over_one_plus_x_for_x_in_0_1(
            (int32_t)(((uint32_t)sum_of_exps << headroom) - 0x80000000u));
        for (c = 0; c < p->depth; ++c) {
            const int32_t diff = (int32_t)x[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t e = tinyecg_nn_exp_on_negative_values(
                    tinyecg_nn_softmax_scaled_difference(p, diff));
                const int32_t v = tinyecg_nn_rounding_divide_by_pot(
                    tinyecg_nn_saturating_rounding_doubling_high_mul(shifted_scale, e),
                    bits_over_unit + 31 - 8) - 128;
                y[c] = tinyecg_nn_clamp_to_int8(v, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_NN_SOFTMAX_H */
