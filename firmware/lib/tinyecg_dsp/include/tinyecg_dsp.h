/*
 * tinyecg_dsp.h - the fixed-point preprocessing: a beat window of raw ADC counts and the
 * beat's RR context -> the model's int8 inputs "beat" and "rhythm".
 *
 * tinyecg_preprocess_window() computes, with integers only, the float reference
 * tinyecg.dsp.denoise (sym4 DWT, 3 levels, periodization; universal soft threshold from the
 * median of |cD1|, applied to cD1..cD3; inverse DWT; z-score with the population std and a
 * 0.01 mV floor) followed by the int8 quantization of the model input "beat".
 * tinyecg_rhythm_features() gives the model input "rhythm" (tinyecg.dsp.rhythm: pre/360,
 * post/360, local/360 in seconds, pre/local, post/local). Both equal the Python integer
 * reference (tinyecg.dsp.fixedpoint: preprocess_windows_int, rhythm_features_int) bit for bit.
 *
 * The model enters only through tinyecg_preprocess_params_t, the quantization of its two
 * inputs: `tinyecg export` computes it from the model and writes it as
 * tinyecg_preprocess_params.c (const tinyecg_model_preprocess). The sym4 taps, the threshold
 * constant and the number formats are fixed in this library (src/).
 *
 *     #include "tinyecg_preprocess_params.h"   (generated; includes this header)
 *     tinyecg_adc_t adc = {1024, 200};         (the lead's calibration)
 *     tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc, beat_q);
 *     tinyecg_rhythm_features(&tinyecg_model_preprocess, pre, post, sum, count, rhythm_q);
 *
 * C99, valid C++; no floating point, no heap, no static state (reentrant). Number formats,
 * rounding and the overflow argument: docs/preprocessing.md. Speed: on Cortex-M4 compile the
 * library with -O2 where the build allows per-library flags (66,000 instead of 80,000
 * instructions per window at -Os, for 0.7 KB more code); on Cortex-M0+ -Os is both smaller
 * and faster (docs/preprocessing.md).
 */
#ifndef TINYECG_DSP_H
#define TINYECG_DSP_H

#include <stdint.h>

#include "tinyecg_spec.h" /* TINYECG_WINDOW, TINYECG_PRE_R, TINYECG_FS (tinyecg/spec.py) */

#ifdef __cplusplus
extern "C" {
#endif

#if TINYECG_WINDOW != 360 || TINYECG_FS != 360
#error "tinyecg_dsp: the 3-level DWT and the rhythm features are for 360-sample windows at 360 Hz"
#endif

#define TINYECG_DSP_RHYTHM_FEATURES 5 /* values tinyecg_rhythm_features() writes (tinyecg.dsp.rhythm) */
#define TINYECG_DSP_LONGTERM_FEATURES 8 /* values tinyecg_longterm_features() writes
                                           (tinyecg.dsp.patient.LONGTERM_FEATURES) */

/*
 * Stack used by one call of tinyecg_preprocess_window() (the deeper of the two functions), in
 * bytes: 2880 bytes of int32_t buffers (two windows of 360 words: w in its own frame, the
 * signal then the denoised window; c1 in tinyecg_denoise_window()'s, the wavelet
 * coefficients) plus 840 for scalars, saved registers and the deepest helper call chain (a
 * synthesis level with its edge buffers, or a libgcc 64-bit division).
 * tests/test_fixedpoint_c.py checks it with gcc -fcallgraph-info=su for x86-64, Cortex-M0+
 * and Cortex-M4 at -O0, -O2 and -Os (deepest measured: 3640 bytes, Cortex-M0+ -O0; at most
 * 3536 at -O2 and -Os). No recursion, no heap. tinyecg.export.preprocess.STACK_BYTES is the
 * same number (the board budget uses it).
 */
#define TINYECG_PREPROCESS_STACK_BYTES 3720

/* ADC calibration of the lead: mV = (adc - baseline) / gain_adu_per_mv. */
typedef struct {
    int16_t baseline;         /* ADC counts at 0 mV (cancels in this preprocessing) */
    uint16_t gain_adu_per_mv; /* ADC counts per mV (0 is treated as 1) */
} tinyecg_adc_t;

/* A positive real multiplier as mult * 2^-shift (tinyecg.quantmath.right_shift_multiplier:
 * TFLite's QuantizeMultiplier with the shift counted to the right). */
typedef struct {
    int32_t mult;   /* Q31 mantissa, 2^30 <= mult < 2^31 */
    uint32_t shift; /* right shift, 1..52 */
} tinyecg_multiplier_t;

/* The multiplier of one kind of RR feature and where it saturates. */
typedef struct {
    tinyecg_multiplier_t m; /* feature value -> int8 steps */
    int64_t limit;          /* a whole part num/den above ceil(256 * 2^shift / mult) gives
                               at least 256 steps: the feature saturates */
} tinyecg_rr_multiplier_t;

/*
 * The model's side of the preprocessing: the quantization of its inputs, real = s * (q - zp).
 * Written by `tinyecg export` (tinyecg.dsp.fixedpoint.preprocess_params ->
 * tinyecg.export.preprocess); every field there is commented with its origin.
 */
typedef struct {
    /* input "beat": q = clamp(round(z / s) + zp, -128, 127) with z in Q20 */
    tinyecg_multiplier_t beat; /* 1 / (s * 2^20) */
    int32_t beat_zero_point;   /* zp, -128..127 */
    /* input "rhythm": q = clamp(round(f / s_r) + zp_r, -128, 127) */
    int32_t rhythm_features;   /* TINYECG_DSP_RHYTHM_FEATURES, or 0: the model has no rhythm
                                  input (tinyecg_rhythm_features() then writes nothing) */
    tinyecg_rr_multiplier_t rhythm_seconds; /* 1 / (360 * s_r): RR in samples -> steps */
    tinyecg_rr_multiplier_t rhythm_ratio;   /* 1 / s_r: RR ratios -> steps */
    int32_t rhythm_zero_point;              /* zp_r, -128..127 */
} tinyecg_preprocess_params_t;

/*
 * raw: ADC counts of the window raw[r - TINYECG_PRE_R .. r - TINYECG_PRE_R + 359] around the
 * R-peak r; out: the model's int8 input "beat". params must come from
 * tinyecg.dsp.fixedpoint.preprocess_params (the C cannot check them).
 */
void tinyecg_preprocess_window(const tinyecg_preprocess_params_t *params,
                               const int16_t raw[TINYECG_WINDOW], const tinyecg_adc_t *adc,
                               int8_t out[TINYECG_WINDOW]);

/*
 * RR intervals in samples at 360 Hz: pre_rr = r - previous r, post_rr = next r - r,
 * local_rr_sum / local_rr_count = the mean of the recent intervals (count 0: no history, the
 * mean is pre_rr) -> the model's int8 input "rhythm" (params->rhythm_features values; none
 * when the model has no rhythm input). Out of range values are clamped: pre_rr, post_rr < 1
 * become 1, a local_rr_sum below local_rr_count becomes local_rr_count (every interval is at
 * least 1 sample).
 */
void tinyecg_rhythm_features(const tinyecg_preprocess_params_t *params, int32_t pre_rr,
                             int32_t post_rr, int32_t local_rr_sum, int32_t local_rr_count,
                             int8_t out[TINYECG_DSP_RHYTHM_FEATURES]);

/*
 * A patient-context model's input "rhythm" (params->rhythm_features == 8): the eight
 * long-term features of tinyecg.dsp.patient (pre/A, post/A, local/A, pre/local, post/pre,
 * A in s, D/A, pre in s), each an exact fraction clipped at 4 and quantized with
 * params->rhythm_ratio as tinyecg_rhythm_features() quantizes its ratios. mean_rr16 and
 * irregularity16 are A and D (Q4 samples) as the beat saw them before its own update
 * (tinyecg_beats.h); local_rr_count >= 1 (the core's RR context). Equal to
 * tinyecg.dsp.fixedpoint.longterm_features_int bit for bit for RR intervals below 2^24
 * samples (12.9 h); values out of range are clamped first (RR to 1 .. 2^24 - 1, count to
 * 1 .. 8, the sum to count .. 8 * (2^24 - 1), A to 1 .. 2^28, D to 0 .. 2^28). Writes
 * nothing when the model's rhythm input is not the long-term set.
 */
void tinyecg_longterm_features(const tinyecg_preprocess_params_t *params, int32_t pre_rr,
                               int32_t post_rr, int32_t local_rr_sum, int32_t local_rr_count,
                               int32_t mean_rr16, int32_t irregularity16,
                               int8_t out[TINYECG_DSP_LONGTERM_FEATURES]);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_DSP_H */
