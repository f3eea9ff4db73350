/*
 * tinyecg_dsp_internal.h - what the library's source files share: the number formats and the
 * denoising step. Not part of the API.
 *
 * The formats are those of the Python integer reference (tinyecg/dsp/fixedpoint/formats.py
 * defines the same names; tests/test_fixedpoint_c.py checks every value here against it).
 */
#ifndef TINYECG_DSP_INTERNAL_H
#define TINYECG_DSP_INTERNAL_H

#include <stdint.h>

#include "tinyecg_dsp.h"

#define HALF1 (TINYECG_WINDOW / 2) /* 180: cA1, cD1 */
#define HALF2 (TINYECG_WINDOW / 4) /* 90: cA2, cD2 */
#define HALF3 (TINYECG_WINDOW / 8) /* 45: cA3, cD3 */

#define FILTER_BITS 31u /* sym4 taps are Q31; every filter output is round_shift(acc, 31) */
#define BLOCK_BITS 22u  /* per window, S is the largest with max|x| * 2^S <= 2^22 */
#define BIAS_BITS 60u   /* accumulators are biased by 2^60 > any |sum| (< 2^57) */
#define RECIP_BITS 29u  /* 1/std = recip * 2^-(29 + bit length of std), recip in [2^29, 2^30] */
#define Z_PRE_BITS 24u  /* y - mean is scaled by 2^max(0, 24 - bit length of std) */
#define Z_BITS 20u      /* z-score in Q20 */
#define THR_BITS 29u    /* the threshold multiplier is Q29 */
#define STD_FLOOR_DIV 100 /* std floor 0.01 mV = gain / 100 ADC counts */
#define MEDIAN_HI 90    /* the median of the 180 |cD1| is the mean of ranks 89 and 90 */

/* The filter kernels are small and hot: inline them even when optimizing for size (not at
 * -O0, where inlined locals would all get their own stack slots). */
#if defined(__GNUC__) && defined(__OPTIMIZE__)
#define HOT_INLINE static inline __attribute__((always_inline)) /* GCC, clang */
#else
#define HOT_INLINE static inline /* a request only */
#endif
/* The filter kernels' pointers never alias (helps register allocation, notably at -Os). */
#if defined(__cplusplus)
#define RESTRICT __restrict /* compiled as C++ (GCC, clang, MSVC spelling) */
#else
#define RESTRICT restrict /* C99 */
#endif

/* tinyecg_denoise.c: w holds v = x * 2^S (|v| <= 2^22); replaced by the denoised window y
 * (3 analysis levels, universal soft threshold on cD1..cD3, 3 synthesis levels). */
void tinyecg_denoise_window(int32_t w[TINYECG_WINDOW]);

#endif /* TINYECG_DSP_INTERNAL_H */
