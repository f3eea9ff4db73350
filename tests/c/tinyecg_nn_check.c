/*
 * tinyecg_nn_check.c - the kernels of firmware/lib/tinyecg_nn on their own, without any model
 * (tests/test_nn_kernels.py): reads cases from stdin and prints each kernel's output, which
 * the test compares with an integer reference written from the TFLite reference kernels
 * (tests/nn_reference.py). Built for the host (gcc -std=c99 -Wall -Wextra -Werror
 * -Wconversion, every build option) and for Cortex-M4 / M0+ under QEMU (stdin through
 * semihosting).
 *
 * Input: whitespace-separated tokens, per case a kernel name, then its parameters in the
 * order of its struct, then its tables and its input (arrays are not length-prefixed: their
 * lengths follow from the parameters). Output: one line of integers per case. Exit 2 on a
 * malformed case or a case too large for the buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyecg_nn.h"

#define MAX_BYTES 16384
#define MAX_WORDS 1024

static int8_t in8[MAX_BYTES];
static int8_t out8[MAX_BYTES];
static int8_t w8[MAX_BYTES];
static int16_t w16[MAX_BYTES] TINYECG_NN_ALIGN4;
static int32_t bias32[MAX_WORDS];
static int32_t mult32[MAX_WORDS];
static int8_t shift8[MAX_WORDS];
static int32_t add32[MAX_WORDS];
static int32_t scratch32[MAX_WORDS];

static void fail(const char *what)
{
    printf("error %s\n", what);
    exit(2);
}

static int32_t next(void)
{
    long v;
    if (scanf("%ld", &v) != 1) {
        fail("expected an integer");
    }
    return (int32_t)v;
}

static int32_t count(int32_t n, int32_t limit)
{
    if (n < 0 || n > limit) {
        fail("size");
    }
    return n;
}

static void read8(int8_t *dst, int32_t n)
{
    int32_t i;
    for (i = 0; i < count(n, MAX_BYTES); ++i) {
        dst[i] = (int8_t)next();
    }
}

static void read16(int16_t *dst, int32_t n)
{
    int32_t i;
    for (i = 0; i < count(n, MAX_BYTES); ++i) {
        dst[i] = (int16_t)next();
    }
}

static void read32(int32_t *dst, int32_t n)
{
    int32_t i;
    for (i = 0; i < count(n, MAX_WORDS); ++i) {
        dst[i] = next();
    }
}

static void print8(const int8_t *v, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        printf(i ? " %d" : "%d", v[i]);
    }
    printf("\n");
}

static void print32(int32_t v, int last)
{
    printf(last ? "%ld\n" : "%ld ", (long)v);
}

/* "mbqm n (x multiplier shift)*n" and the other scalar functions */
static void scalar_cases(const char *kernel)
{
    const int32_t n = next();
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t x = next(), m = next();
        int32_t r;
        if (strcmp(kernel, "mbqm") == 0) {
            r = tinyecg_nn_multiply_by_quantized_multiplier(x, m, next());
        } else if (strcmp(kernel, "srdhm") == 0) {
            r = tinyecg_nn_saturating_rounding_doubling_high_mul(x, m);
        } else if (strcmp(kernel, "rdbpot") == 0) {
            r = tinyecg_nn_rounding_divide_by_pot(x, m);
        } else if (strcmp(kernel, "mulhi16") == 0) {
            r = tinyecg_nn_rounded_high_mul_16x16(x, m);
        } else {  /* one_multiply: x mult add shift */
            const int32_t add = next();
            r = tinyecg_nn_requantize_one_multiply(x, m, add, next());
        }
        print32(r, i == n - 1);
    }
    if (n == 0) {
        printf("\n");
    }
}

static void conv_case(void)
{
    tinyecg_nn_conv_params_t p;
    int32_t has_bias;
    p.in_h = next(); p.in_w = next(); p.in_c = next();
    p.out_h = next(); p.out_w = next(); p.out_c = next();
    p.k_h = next(); p.k_w = next(); p.stride_h = next(); p.stride_w = next();
    p.pad_h = next(); p.pad_w = next(); p.in_offset = next(); p.out_offset = next();
    p.act_min = next(); p.act_max = next(); has_bias = next();
    read8(w8, p.out_c * p.k_h * p.k_w * p.in_c);
    if (has_bias) {
        read32(bias32, p.out_c);
    }
    read32(mult32, p.out_c);
    read8(shift8, p.out_c);
    read8(in8, p.in_h * p.in_w * p.in_c);
    p.weights = w8; p.bias = has_bias ? bias32 : NULL; p.mult = mult32; p.shift = shift8;
    count(p.out_h * p.out_w * p.out_c, MAX_BYTES);
    (void)tinyecg_nn_conv_per_channel(&p, in8, out8);
    print8(out8, p.out_h * p.out_w * p.out_c);
}

static void depthwise_case(void)
{
    tinyecg_nn_depthwise_conv_params_t p;
    int32_t has_bias;
    p.in_h = next(); p.in_w = next(); p.in_c = next();
    p.out_h = next(); p.out_w = next(); p.out_c = next();
    p.k_h = next(); p.k_w = next(); p.stride_h = next(); p.stride_w = next();
    p.pad_h = next(); p.pad_w = next(); p.depth_mult = next();
    p.in_offset = next(); p.out_offset = next();
    p.act_min = next(); p.act_max = next(); has_bias = next();
    read8(w8, p.k_h * p.k_w * p.out_c);
    if (has_bias) {
        read32(bias32, p.out_c);
    }
    read32(mult32, p.out_c);
    read8(shift8, p.out_c);
    read8(in8, p.in_h * p.in_w * p.in_c);
    p.weights = w8; p.bias = has_bias ? bias32 : NULL; p.mult = mult32; p.shift = shift8;
    count(p.out_h * p.out_w * p.out_c, MAX_BYTES);
    (void)tinyecg_nn_depthwise_conv_per_channel(&p, in8, out8);
    print8(out8, p.out_h * p.out_w * p.out_c);
}

static void fully_connected_case(void)
{
    tinyecg_nn_fully_connected_params_t p;
    int32_t has_bias, n_rq;
    p.batches = next(); p.in_depth = next(); p.out_depth = next();
    p.in_offset = next(); p.w_offset = next(); p.out_offset = next();
    p.act_min = next(); p.act_max = next(); p.per_channel = next(); has_bias = next();
    n_rq = p.per_channel ? p.out_depth : 1;
    read8(w8, p.out_depth * p.in_depth);
    if (has_bias) {
        read32(bias32, p.out_depth);
    }
    read32(mult32, n_rq);
    read8(shift8, n_rq);
    read8(in8, p.batches * p.in_depth);
    p.weights = w8; p.bias = has_bias ? bias32 : NULL; p.mult = mult32; p.shift = shift8;
    count(p.batches * p.out_depth, MAX_BYTES);
    (void)tinyecg_nn_fully_connected(&p, in8, out8);
    print8(out8, p.batches * p.out_depth);
}

static void output_stage(tinyecg_nn_output_stage_t *q, int32_t n)
{
    q->out_zp = next(); q->act_min = next(); q->act_max = next(); q->one_multiply = next();
    read32(mult32, n);
    read8(shift8, n);
    read32(add32, n);
    q->mult = mult32; q->shift = shift8; q->add = q->one_multiply ? add32 : NULL;
}

/* weights are given twice: int8 rows (portable build) and the SMLAD int16 blocks */
static void conv_1_x_n_case(void)
{
    tinyecg_nn_conv_1_x_n_params_t p;
    int32_t n_packed;
    p.in_w = next(); p.in_c = next(); p.out_w = next(); p.out_c = next();
    p.stride = next(); p.pad = next(); p.taps = next(); p.taps4 = next();
    p.interior_first = next(); p.interior_end = next(); p.in_zp = next();
    read8(w8, p.out_c * p.taps);
    n_packed = (p.out_c + 1) / 2 * 2 * p.taps4;
    read16(w16, n_packed);
    read32(bias32, p.out_c);
    output_stage(&p.out, p.out_c);
    read8(in8, p.in_w * p.in_c);
#if TINYECG_NN_DSP
    p.weights = w16;
#else
    p.weights = w8;
#endif
    p.bias = bias32;
    count(TINYECG_NN_CONV_1_X_N_SCRATCH_BYTES(p.taps4) / 4, MAX_WORDS);
    count(p.out_w * p.out_c, MAX_BYTES);
    (void)tinyecg_nn_conv_1_x_n(&p, in8, out8, scratch32);
    print8(out8, p.out_w * p.out_c);
}

static void fully_connected_folded_case(void)
{
    tinyecg_nn_fully_connected_folded_params_t p;
    p.batches = next(); p.depth = next(); p.depth4 = next(); p.units = next();
    p.per_channel = next();
    read8(w8, p.units * p.depth4);
    read32(bias32, p.units);
    output_stage(&p.out, p.per_channel ? p.units : 1);
    read8(in8, p.batches * p.depth);
    p.weights = w8; p.bias = bias32;
    count(p.batches * p.units, MAX_BYTES);
    (void)tinyecg_nn_fully_connected_folded(&p, in8, out8);
    print8(out8, p.batches * p.units);
}

static void pool_case(int average)
{
    tinyecg_nn_pool_params_t p;
    p.in_h = next(); p.in_w = next(); p.channels = next(); p.out_h = next(); p.out_w = next();
    p.k_h = next(); p.k_w = next(); p.stride_h = next(); p.stride_w = next();
    p.pad_h = next(); p.pad_w = next(); p.act_min = next(); p.act_max = next();
    read8(in8, p.in_h * p.in_w * p.channels);
    count(p.out_h * p.out_w * p.channels, MAX_BYTES);
    if (average) {
        (void)tinyecg_nn_average_pool(&p, in8, out8);
    } else {
        (void)tinyecg_nn_max_pool(&p, in8, out8);
    }
    print8(out8, p.out_h * p.out_w * p.channels);
}

static void softmax_case(void)
{
    tinyecg_nn_softmax_params_t p;
    p.outer = next(); p.depth = next(); p.mult = next(); p.left_shift = next();
    p.diff_min = next();
    read8(in8, p.outer * p.depth);
    (void)tinyecg_nn_softmax(&p, in8, out8);
    print8(out8, p.outer * p.depth);
}

static void mean_case(void)
{
    tinyecg_nn_mean_params_t p;
    p.outer = next(); p.count = next(); p.inner = next(); p.in_zp = next();
    p.mult = next(); p.shift = next(); p.out_zp = next();
    read8(in8, p.outer * p.count * p.inner);
    (void)tinyecg_nn_mean(&p, in8, out8);
    print8(out8, p.outer * p.inner);
}

static void requantize_case(void)
{
    tinyecg_nn_requantize_params_t p;
    int32_t n;
    p.in_zp = next(); p.mult = next(); p.shift = next(); p.out_zp = next(); n = next();
    read8(in8, n);
    (void)tinyecg_nn_requantize(&p, in8, n, out8);
    print8(out8, n);
}

/* the output buffer's previous contents are given too: the kernel writes only its part */
static void concatenation_case(void)
{
    tinyecg_nn_concatenation_params_t p;
    p.outer = next(); p.copy = next(); p.out_stride = next(); p.out_pos = next();
    p.requantize = next();
    p.rq.in_zp = next(); p.rq.mult = next(); p.rq.shift = next(); p.rq.out_zp = next();
    read8(in8, p.outer * p.copy);
    read8(out8, p.outer * p.out_stride);
    (void)tinyecg_nn_concatenation(&p, in8, out8);
    print8(out8, p.outer * p.out_stride);
}

int main(void)
{
    char kernel[32];
    while (scanf("%31s", kernel) == 1) {
        if (strcmp(kernel, "conv") == 0) {
            conv_case();
        } else if (strcmp(kernel, "depthwise") == 0) {
            depthwise_case();
        } else if (strcmp(kernel, "fc") == 0) {
            fully_connected_case();
        } else if (strcmp(kernel, "conv_1_x_n") == 0) {
            conv_1_x_n_case();
        } else if (strcmp(kernel, "fc_folded") == 0) {
            fully_connected_folded_case();
        } else if (strcmp(kernel, "avgpool") == 0 || strcmp(kernel, "maxpool") == 0) {
            pool_case(kernel[0] == 'a');
        } else if (strcmp(kernel, "softmax") == 0) {
            softmax_case();
        } else if (strcmp(kernel, "mean") == 0) {
            mean_case();
        } else if (strcmp(kernel, "requantize") == 0) {
            requantize_case();
        } else if (strcmp(kernel, "concat") == 0) {
            concatenation_case();
        } else if (strcmp(kernel, "mbqm") == 0 || strcmp(kernel, "srdhm") == 0
                   || strcmp(kernel, "rdbpot") == 0 || strcmp(kernel, "mulhi16") == 0
                   || strcmp(kernel, "one_multiply") == 0) {
            scalar_cases(kernel);
        } else {
            fail(kernel);
        }
    }
    printf("end\n");
    return 0;
}
