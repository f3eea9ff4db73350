/*
 * tinyecg_nn_fully_connected.c - FULLY_CONNECTED, any weight zero point, per-tensor or
 * per-channel (TFLM reference_integer_ops::FullyConnected).
 */
#include "tinyecg_nn.h"

#include <stddef.h>

int tinyecg_nn_fully_connected(const tinyecg_nn_fully_connected_params_t *p,
                                const int8_t *input, int8_t *output)
{
    int32_t b, u, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->in_depth;
        for (u = 0; u < p->out_depth; ++u) {
            const int8_t *w = p->weights + u * p->in_depth;
            const int32_t k = p->per_channel ? u : 0;
            int32_t acc;
            if (p->w_offset == 0) {
                acc = tinyecg_nn_dot_with_offset(x, w, p->in_depth, p->in_offset);
            } else {
                acc = 0;
                for (d = 0; d < p->in_depth; ++d) {
                    acc += ((int32_t)x[d] + p->in_offset) * ((int32_t)w[d] + p->w_offset);
                }
            }
            if (p->bias != NULL) {
                acc += p->bias[u];
            }
            acc = tinyecg_nn_multiply_by_quantized_multiplier(acc, p->mult[k], p->shift[k])
                  + p->out_offset;
            output[b * p->out_depth + u] = tinyecg_nn_clamp_to_int8(acc, p->act_min, p->act_max);
        }
    }
    return 0;
}
