/*
 * tinyecg_nn_concatenation.c - Requantize (TFLM reference_ops::Requantize, int8 -> int8)
 * and one input of a CONCATENATION.
 */
#include "tinyecg_nn.h"

#include <string.h>

int tinyecg_nn_requantize(const tinyecg_nn_requantize_params_t *p, const int8_t *input,
                           int32_t size, int8_t *output)
{
    int32_t i;
    for (i = 0; i < size; ++i) {
        const int32_t v = tinyecg_nn_multiply_by_quantized_multiplier(
                              (int32_t)input[i] - p->in_zp, p->mult, p->shift)
                          + p->out_zp;
        output[i] = tinyecg_nn_clamp_to_int8(v, -128, 127);
    }
    return 0;
}

/* TFLM's int8 concatenation copies bytes whatever the scales (the converter always gives
 * the inputs the output's quantization); an input whose quantization differs is rescaled
 * here, as TFLite's Requantize would. */
int tinyecg_nn_concatenation(const tinyecg_nn_concatenation_params_t *p, const int8_t *input,
                              int8_t *output)
{
    int32_t k;
    for (k = 0; k < p->outer; ++k) {
        const int8_t *src = input + k * p->copy;
        int8_t *dst = output + k * p->out_stride + p->out_pos;
        if (p->requantize) {
            tinyecg_nn_requantize(&p->rq, src, p->copy, dst);
        } else {
            memcpy(dst, src, (size_t)p->copy);
        }
    }
    return 0;
}
