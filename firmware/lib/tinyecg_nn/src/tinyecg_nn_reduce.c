/*
 * tinyecg_nn_reduce.c - MEAN over adjacent axes (TFLM reference_ops::QuantizedMeanOrSum):
 * the sum less count * zero point, rescaled by input scale / output scale / count (the
 * generator folds 1 / count into the multiplier as TFLM's reduce kernel does).
 */
#include "tinyecg_nn.h"

int tinyecg_nn_mean(const tinyecg_nn_mean_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t o, i, r;
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->inner; ++i) {
            int32_t sum = 0;
            int32_t v;
            for (r = 0; r < p->count; ++r) {
                sum += input[(o * p->count + r) * p->inner + i];
            }
            v = tinyecg_nn_multiply_by_quantized_multiplier(sum - p->in_zp * p->count, p->mult,
                                                            p->shift)
                + p->out_zp;
            output[o * p->inner + i] = tinyecg_nn_clamp_to_int8(v, -128, 127);
        }
    }
    return 0;
}
