/*
 * tinyecg_nn_config.h - which code paths the int8 kernels take, chosen by the compiler's own
 * target macros; every path gives the same output bytes (the tests run each against TFLM).
 *
 *   TINYECG_NN_DSP  1 on cores with the DSP extension (Cortex-M4/M7/M33/M55:
 *                   __ARM_FEATURE_DSP), GCC or Clang, little-endian: SMLAD/SMMLAR paths
 *                   (ACLE intrinsics and inline assembly). Weights of the one-row convolution
 *                   are then int16 in SMLAD lane order (the generated file holds that copy).
 *   TINYECG_NN_V6M  1 on ARMv6-M (Cortex-M0/M0+), GCC: an assembly inner loop and a 32-bit
 *                   multiply-high (no 64-bit product in the instruction set).
 *
 * Build options (all optional, the same for the library and the generated model file):
 *   TINYECG_NO_DSP     the portable C on a DSP core
 *   TINYECG_NO_ASM     no inline assembly at all: the portable C everywhere
 *   TINYECG_NO_INLINE  the fast kernels are plain `static inline` (the compiler decides; at
 *                      -Os usually one shared copy: smaller, slower) instead of always
 *                      inlined at each call, where their const parameters fold into literals
 *   TINYECG_MULHI16    the ARMv6-M multiply-high on any target (for the host tests)
 */
#ifndef TINYECG_NN_CONFIG_H
#define TINYECG_NN_CONFIG_H

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(__ARM_BIG_ENDIAN) \
    && !defined(TINYECG_NO_DSP) && !defined(TINYECG_NO_ASM)
#include <arm_acle.h>
#define TINYECG_NN_DSP 1
#else
#define TINYECG_NN_DSP 0
#endif

#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && !defined(TINYECG_NO_ASM)
#define TINYECG_NN_V6M 1
#else
#define TINYECG_NN_V6M 0
#endif

/* The fast kernels (tinyecg_nn_fast.h) are inlined at each call: there the parameter struct
 * is a `const` object the compiler folds, so loop bounds, strides and table addresses become
 * literals (one copy of the kernel per layer). */
#if defined(__GNUC__) && !defined(TINYECG_NO_INLINE)
#define TINYECG_NN_INLINE static inline __attribute__((always_inline))
#else
#define TINYECG_NN_INLINE static inline
#endif

/* The arithmetic helpers and the softmax: `static`, without an inline hint, so that the
 * compiler weighs inlining as for any static function of the translation unit (at -O2 on
 * the Cortex-M0+, inlining them all into invoke() made its frame 112 bytes larger);
 * `unused` because a translation unit may call none of them. */
#if defined(__GNUC__)
#define TINYECG_NN_STATIC static __attribute__((unused))
#else
#define TINYECG_NN_STATIC static inline
#endif

/* Weight rows that the SMLAD loops load as words start on a word boundary (the C loads are
 * memcpy, correct either way). */
#if defined(__GNUC__)
#define TINYECG_NN_ALIGN4 __attribute__((aligned(4)))
#else
#define TINYECG_NN_ALIGN4
#endif

#endif /* TINYECG_NN_CONFIG_H */
