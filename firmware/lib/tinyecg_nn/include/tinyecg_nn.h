/*
 * tinyecg_nn.h - int8 kernels of tinyecg's interpreter-free C backend: TensorFlow Lite's
 * reference int8 arithmetic (reference_integer_ops, reference_ops) in C99, named after the
 * TFLM kernels they reimplement. No heap, no floating point, no global state.
 *
 * Every kernel takes a `const` parameter struct (shapes, strides, padding, zero points, the
 * per-channel multipliers and shifts, the activation clamp, pointers to weights and biases
 * in flash), the input and output tensors (batch 1, NHWC, int8), and where it needs one a
 * scratch buffer. The generator (tinyecg.export.cbackend) computes every parameter at export
 * time as TFLM's Prepare functions do and writes the structs as commented `const` objects;
 * the generated tinyecg_model.c holds only those, the weights, the memory plan and the calls.
 *
 * Every kernel returns 0 (TFLM's kTfLiteOk: it cannot fail, the generator checked its
 * parameters). The generated invoke() returns the result of its last call, which lets the
 * compiler make that call a jump (a sibling call; Thumb-1 has none): invoke's frame is
 * released before the last kernel's is pushed, so the deepest stack is the larger of the
 * two, not their sum.
 *
 * Two groups:
 *  - the generic kernels (src/): any stride, padding, kernel size, activation; and
 *  - the fast kernels (tinyecg_nn_fast.h, static inline): the one-row convolution and the
 *    dense layer with weight zero point 0, the input zero point folded into the bias; they
 *    are inlined at each call so that their parameters become literals;
 *  - and SOFTMAX (tinyecg_nn_softmax.h, static, see there why).
 * Paths for Cortex-M DSP cores and ARMv6-M: tinyecg_nn_config.h. Arithmetic: tinyecg_nn_math.h.
 */
#ifndef TINYECG_NN_H
#define TINYECG_NN_H

#include <stdint.h>

#include "tinyecg_nn_config.h"
#include "tinyecg_nn_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the shared arena ----------------------------------------------------------------------
 * Each generated model keeps its intermediate tensors in a static arena of its own. A build
 * that links several models which never run at the same time (the firmware's beat and
 * rhythm models: the core calls one invoke() at a time, from one thread) defines
 * TINYECG_NN_SHARED_ARENA as the largest model's arena in bytes: every model then uses this
 * one buffer (src/tinyecg_nn_arena.c), and the image holds the largest arena, not their sum.
 * A model whose arena is larger stops the build (#error in its .c). */
#ifdef TINYECG_NN_SHARED_ARENA
typedef union {
    int32_t words[(TINYECG_NN_SHARED_ARENA + 3) / 4]; /* word view: kernel scratch */
    int8_t bytes[TINYECG_NN_SHARED_ARENA];
} tinyecg_nn_arena_t;
extern tinyecg_nn_arena_t tinyecg_nn_shared_arena;
#endif

/* ---- CONV_2D (reference_integer_ops::ConvPerChannel) ------------------------------------ */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;           /* padding rows / columns before the first input one */
    int32_t in_offset;              /* -(input zero point) */
    int32_t out_offset;             /* output zero point */
    int32_t act_min, act_max;       /* fused activation clamp, output units */
    const int8_t *weights;          /* [out_c][k_h][k_w][in_c] (OHWI), zero point 0 */
    const int32_t *bias;            /* [out_c] or NULL */
    const int32_t *mult;            /* [out_c] Q31 multipliers */
    const int8_t *shift;            /* [out_c] their shifts */
} tinyecg_nn_conv_params_t;

/* Taps that fall in the padding are skipped, which is what a zero-point padded input gives. */
int tinyecg_nn_conv_per_channel(const tinyecg_nn_conv_params_t *p, const int8_t *input,
                                 int8_t *output);

/* ---- DEPTHWISE_CONV_2D (reference_integer_ops::DepthwiseConvPerChannel) ----------------- */
typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t depth_mult;             /* output channels per input channel */
    int32_t in_offset, out_offset;
    int32_t act_min, act_max;
    const int8_t *weights;          /* [1][k_h][k_w][out_c] (1HWO) */
    const int32_t *bias;            /* [out_c] or NULL */
    const int32_t *mult;            /* [out_c] */
    const int8_t *shift;            /* [out_c] */
} tinyecg_nn_depthwise_conv_params_t;

/* Output channel oc = ic * depth_mult + m reads input channel ic only. */
int tinyecg_nn_depthwise_conv_per_channel(const tinyecg_nn_depthwise_conv_params_t *p,
                                           const int8_t *input, int8_t *output);

/* ---- FULLY_CONNECTED (reference_integer_ops::FullyConnected) ---------------------------- */
typedef struct {
    int32_t batches, in_depth, out_depth;
    int32_t in_offset, w_offset, out_offset;   /* -(input zp), -(weights zp), output zp */
    int32_t act_min, act_max;
    int32_t per_channel;            /* 1: mult/shift per output unit, 0: one pair */
    const int8_t *weights;          /* [out_depth][in_depth] */
    const int32_t *bias;            /* [out_depth] or NULL */
    const int32_t *mult;
    const int8_t *shift;
} tinyecg_nn_fully_connected_params_t;

int tinyecg_nn_fully_connected(const tinyecg_nn_fully_connected_params_t *p,
                                const int8_t *input, int8_t *output);

/* ---- AVERAGE_POOL_2D / MAX_POOL_2D (reference_integer_ops::AveragePool, MaxPool) -------- */
typedef struct {
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_h, pad_w;
    int32_t act_min, act_max;       /* input and output share scale and zero point */
} tinyecg_nn_pool_params_t;

/* Mean of the window's taps inside the input, rounded half away from zero. Every window
 * must hold at least one tap (the generator checks it). */
int tinyecg_nn_average_pool(const tinyecg_nn_pool_params_t *p, const int8_t *input,
                             int8_t *output);
/* Largest tap inside the input. */
int tinyecg_nn_max_pool(const tinyecg_nn_pool_params_t *p, const int8_t *input,
                         int8_t *output);

/* ---- MEAN (reference_ops::QuantizedMeanOrSum) ------------------------------------------- */
typedef struct {
    int32_t outer, count, inner;    /* reduce `count` blocks of `inner` values, `outer` times */
    int32_t in_zp;
    int32_t mult, shift;            /* input scale / output scale / count */
    int32_t out_zp;
} tinyecg_nn_mean_params_t;

/* (sum - count * in_zp) * mult * 2^(shift - 31) + out_zp, clamped to int8. */
int tinyecg_nn_mean(const tinyecg_nn_mean_params_t *p, const int8_t *input, int8_t *output);

/* ---- Requantize (reference_ops::Requantize) and CONCATENATION --------------------------- */
typedef struct {
    int32_t in_zp;
    int32_t mult, shift;            /* input scale / output scale */
    int32_t out_zp;
} tinyecg_nn_requantize_params_t;

/* output[i] = clamp(MultiplyByQuantizedMultiplier(input[i] - in_zp, mult, shift) + out_zp). */
int tinyecg_nn_requantize(const tinyecg_nn_requantize_params_t *p, const int8_t *input,
                           int32_t size, int8_t *output);

typedef struct {
    int32_t outer;                  /* blocks before the axis */
    int32_t copy;                   /* values per block from this input */
    int32_t out_stride;             /* values per block in the output */
    int32_t out_pos;                /* where this input starts inside a block */
    int32_t requantize;             /* 0: same quantization, a copy; 1: rescale (rq) */
    tinyecg_nn_requantize_params_t rq;
} tinyecg_nn_concatenation_params_t;

/* One input of a CONCATENATION (call once per input): `copy` values of every block go to
 * out_pos of the output's block. Same quantization: a copy (TFLM's int8 concatenation);
 * otherwise tinyecg_nn_requantize. */
int tinyecg_nn_concatenation(const tinyecg_nn_concatenation_params_t *p, const int8_t *input,
                              int8_t *output);

#ifdef __cplusplus
}
#endif

#include "tinyecg_nn_fast.h"
#include "tinyecg_nn_softmax.h"

#endif /* TINYECG_NN_H */
