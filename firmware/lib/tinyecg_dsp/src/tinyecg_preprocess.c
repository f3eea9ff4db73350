/*
 * tinyecg_preprocess.c - one beat window of raw ADC counts -> the model's int8 input "beat":
 * centring and block scaling, wavelet denoising (tinyecg_denoise.c), z-score, quantization.
 * Computes the same integers as tinyecg.dsp.fixedpoint, step for step (where it takes a
 * cheaper route to one of them, an exact identity, the comment says so). Number formats:
 *   x = raw - midrange(raw)            ADC counts, -32768 <= x <= 32767 (the baseline
 *                                      cancels: denoising and z-score are shift-invariant)
 *   S = 22 - ceil(log2(max|x|))        per window, 7..22: the transform is that of
 *                                      v = x * 2^S, |v| <= 2^22
 *   wavelet coefficients, denoised y   Q(S) ADC counts, |y| < 2^25.95 (int32_t)
 *   z-score                            Q20, |z| < 46.5
 * The z-score multiplies by a reciprocal of the std computed once per window and rounds half
 * up; the int8 quantization rounds half away from zero; mean, variance and std floor use
 * div_round(), the std isqrt_round() (the integer nearest to the square root).
 *
 * Cost per window (gcc 12, QEMU -icount, scripts/bench_preprocess_qemu.py): about 66,000
 * instructions on Cortex-M4 at -O2 (80,000 at -Os), of which 40,000 are the wavelet filters
 * (10,080 multiply-accumulates, one SMLAL each); about 640,000 on Cortex-M0+ at -Os, which
 * has no 32x32->64 multiply (every product is a libgcc call).
 */
#include "tinyecg_dsp_internal.h"

/* a / d rounded half away from zero (d > 0, |a| < 2^61). */
static int64_t div_round(int64_t a, int64_t d)
{
    const int64_t q = (2 * (a >= 0 ? a : -a) + d) / (2 * d);
    return (a >= 0) ? q : -q;
}

/* The integer nearest to sqrt(v) (bit-by-bit square root, then one rounding step). */
static int64_t isqrt_round(uint64_t v)
{
    uint64_t rem = v, root = 0, bit = (uint64_t)1 << 62;
    while (bit > rem) {
        bit >>= 2;
    }
    while (bit != 0u) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    /* root = floor(sqrt(v)), rem = v - root^2; sqrt(v) >= root + 1/2 <=> rem > root */
    if (rem > root) {
        ++root;
    }
    return (int64_t)root;
}

/* floor(a / 2^32) + 2^28 for |a| < 2^60: the high word of a + 2^60, which is never negative.
 * (The high word of a's two's complement is floor(a / 2^32) mod 2^32; adding 2^28 modulo 2^32
 * gives the exact value, which lies in [0, 2^29).) */
HOT_INLINE uint32_t biased_high(int64_t a)
{
    return (uint32_t)((uint64_t)a >> 32) + ((uint32_t)1 << (BIAS_BITS - 32u));
}

/* q clamped to -128..127: one unsigned compare on the usual, in-range path (with the model's
 * shift a run-time value, this beats two conditional moves that need their own registers). */
HOT_INLINE int8_t saturate_int8(int32_t q)
{
    if ((uint32_t)q + 128u > 255u) {
        q = q < 0 ? -128 : 127;
    }
    return (int8_t)q;
}

/* q clamped to -128..127 (the 64-bit quantization path). */
static int8_t clamp_int8(int64_t q)
{
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

/* The z-score of y (Q(S) counts) in Q20, for one window: z = floor(e * recip / 2^(29 + bits
 * - 20) + 1/2) with e = y - mean and 1/std = recip * 2^-(29 + bits). e is below 46.5 std <
 * 2^(5.54 + bits), so e * 2^pre with pre = max(0, 24 - bits) stays below 2^29.6 and lifts the
 * shift to 33..41: then floor((x + 2^(shift-1)) / 2^shift) = floor((floor(x / 2^32) +
 * 2^(shift-33)) / 2^(shift-32)), and only the high word of the product is needed. */
typedef struct {
    int32_t mean;    /* of y */
    int32_t scale;   /* 2^pre */
    int32_t recip;   /* in [2^29, 2^30] */
    uint32_t shift;  /* of the high word: 29 + bits + pre - 20 - 32, 1..9 */
    uint32_t round;  /* 2^(shift - 1) */
    int32_t offset;  /* the bias 2^28 of biased_high() after the shift */
} zscore_t;

/* The constants of the z-score for a window with this mean and std_eff (1 <= std < 2^32). */
static zscore_t zscore_of(int32_t mean, int64_t std)
{
    zscore_t z;
    uint32_t bits, pre;
    for (bits = 0; ((uint64_t)std >> bits) != 0u; ++bits) {
    } /* bit length of std, 1..32 */
    pre = bits < Z_PRE_BITS ? Z_PRE_BITS - bits : 0u;
    z.mean = mean;
    z.scale = (int32_t)1 << pre;
    z.recip = (int32_t)div_round((int64_t)1 << (RECIP_BITS + bits), std);
    z.shift = RECIP_BITS + bits + pre - Z_BITS - 32u;
    z.round = (uint32_t)1 << (z.shift - 1u);
    z.offset = (int32_t)1 << (BIAS_BITS - 32u - z.shift);
    return z;
}

/* z of one sample y in Q20 (the fields of zscore_t as arguments, so that they stay in
 * registers: the int8 stores of the loop may alias anything a pointer reaches). */
HOT_INLINE int32_t zscore_q20(int32_t y, int32_t mean, int32_t scale, int32_t recip,
                              uint32_t shift, uint32_t round, int32_t offset)
{
    const uint32_t h = biased_high((int64_t)((y - mean) * scale) * recip);
    return (int32_t)((h + round) >> shift) - offset;
}

/* out[i] = clamp(round(z_i * mult * 2^-k) + zp, -128, 127), rounding half away from zero as an
 * unsigned shift: z * mult + 2^60 - [z < 0] is never negative (|z * mult| < 2^57), and its
 * shift by k after adding 2^(k - 1) is round(z * mult * 2^-k) + 2^(60 - k), which the offset
 * removes (adding zp). For k >= 33, the usual case (input scales above 3.8e-6), only the high
 * word of the product is needed, as for the z-score. */
static void quantize_window(const int32_t y[TINYECG_WINDOW], const zscore_t *zs,
                            const tinyecg_preprocess_params_t *params, int8_t out[TINYECG_WINDOW])
{
    const int32_t mean = zs->mean, scale = zs->scale, recip = zs->recip, z_offset = zs->offset;
    const uint32_t z_shift = zs->shift, z_round = zs->round;
    const int32_t mult = params->beat.mult;
    const uint32_t k = params->beat.shift;
    int32_t i;
    if (k >= 33u) {
        const uint32_t q_shift = k - 32u;                           /* of the high word */
        const uint32_t q_round = (uint32_t)1 << (k - 33u);          /* 2^(k - 1) / 2^32 */
        const int32_t q_offset = ((int32_t)1 << (BIAS_BITS - k)) - params->beat_zero_point;
        for (i = 0; i < TINYECG_WINDOW; ++i) {
            const int32_t z = zscore_q20(y[i], mean, scale, recip, z_shift, z_round, z_offset);
            const uint32_t h = biased_high((int64_t)z * mult - (z < 0));
            out[i] = saturate_int8((int32_t)((h + q_round) >> q_shift) - q_offset);
        }
    } else {
        const uint64_t q_round = (uint64_t)1 << (k - 1u);
        const int64_t q_offset = ((int64_t)1 << (BIAS_BITS - k)) - params->beat_zero_point;
        for (i = 0; i < TINYECG_WINDOW; ++i) {
            const int32_t z = zscore_q20(y[i], mean, scale, recip, z_shift, z_round, z_offset);
            const uint64_t u =
                (uint64_t)((int64_t)z * mult + ((int64_t)1 << BIAS_BITS) - (z < 0));
            out[i] = clamp_int8((int64_t)((u + q_round) >> k) - q_offset);
        }
    }
}

void tinyecg_preprocess_window(const tinyecg_preprocess_params_t *params,
                               const int16_t raw[TINYECG_WINDOW], const tinyecg_adc_t *adc,
                               int8_t out[TINYECG_WINDOW])
{
    int32_t w[TINYECG_WINDOW]; /* v, then (tinyecg_denoise_window) the denoised y */
    const int64_t gain = adc->gain_adu_per_mv != 0u ? (int64_t)adc->gain_adu_per_mv : 1;
    int32_t i, hi = raw[0], lo = raw[0], center, maxabs, scale, mean;
    uint32_t log2_max = 0, shift;
    int64_t sum = 0, sumsq = 0, std, std_floor;
    zscore_t zs;

    /* center on the midrange (adc->baseline cancels), block exponent S: the largest with
     * max|x| * 2^S <= 2^22 */
    for (i = 0; i < TINYECG_WINDOW; i += 2) { /* two samples per pass: fewer loop tests */
        const int32_t r0 = raw[i], r1 = raw[i + 1];
        hi = r0 > hi ? r0 : hi;
        lo = r0 < lo ? r0 : lo;
        hi = r1 > hi ? r1 : hi;
        lo = r1 < lo ? r1 : lo;
    }
    center = hi - (hi - lo) / 2;     /* hi - floor((hi - lo) / 2) */
    maxabs = center - lo;            /* >= hi - center; at most 32768 */
    while (((int32_t)1 << log2_max) < maxabs) {
        ++log2_max; /* ceil(log2(max|x|)), at most 15 */
    }
    shift = BLOCK_BITS - log2_max;   /* S */

    /* v = x * 2^S, then y = the denoised v */
    scale = (int32_t)1 << shift;
    for (i = 0; i < TINYECG_WINDOW; i += 2) {
        w[i] = ((int32_t)raw[i] - center) * scale;
        w[i + 1] = ((int32_t)raw[i + 1] - center) * scale;
    }
    tinyecg_denoise_window(w);

    /* z-score: mean, population variance, std with the 0.01 mV floor */
    for (i = 0; i < TINYECG_WINDOW; i += 2) {
        const int32_t y0 = w[i], y1 = w[i + 1];
        sum += (int64_t)y0 + y1;
        sumsq += (int64_t)y0 * y0; /* < 360 * 2^51.9 */
        sumsq += (int64_t)y1 * y1;
    }
    mean = (int32_t)div_round(sum, TINYECG_WINDOW);
    /* sum (y - mean)^2 = sum y^2 - mean * (2 sum y - 360 mean), exactly; |sum - 360 mean| <=
     * 180, so the product is below 360 mean^2 + 360 |mean| < 2^60.4 */
    sumsq -= (int64_t)mean * (2 * sum - (int64_t)TINYECG_WINDOW * mean);
    std = isqrt_round((uint64_t)div_round(sumsq, TINYECG_WINDOW));
    std_floor = div_round(gain * ((int64_t)1 << shift), STD_FLOOR_DIV);
    if (std < std_floor) {
        std = std_floor;
    }
    if (std < 1) {
        std = 1;
    }

    /* 1/std: one division per window; then z in Q20 and the int8 model input */
    zs = zscore_of(mean, std);
    quantize_window(w, &zs, params, out);
}
