/*
 * tinyecg_nn_pooling.c - AVERAGE_POOL_2D and MAX_POOL_2D (TFLM
 * reference_integer_ops::AveragePool, MaxPool), NHWC, batch 1; input and output share scale
 * and zero point, so no requantization.
 */
#include "tinyecg_nn.h"

int tinyecg_nn_average_pool(const tinyecg_nn_pool_params_t *p, const int8_t *input,
                             int8_t *output)
{
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        const int32_t ky_start = iy0 < 0 ? -iy0 : 0;
        const int32_t ky_end = p->in_h - iy0 < p->k_h ? p->in_h - iy0 : p->k_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            const int32_t kx_start = ix0 < 0 ? -ix0 : 0;
            const int32_t kx_end = p->in_w - ix0 < p->k_w ? p->in_w - ix0 : p->k_w;
            const int32_t count = (ky_end - ky_start) * (kx_end - kx_start);
            for (c = 0; c < p->channels; ++c) {
                int32_t acc = 0;
                for (ky = ky_start; ky < ky_end; ++ky) {
                    for (kx = kx_start; kx < kx_end; ++kx) {
                        acc += input[((iy0 + ky) * p->in_w + ix0 + kx) * p->channels + c];
                    }
                }
                if (count > 0) {  /* the generator checks that every window has a tap */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                }
                output[(oy * p->out_w + ox) * p->channels + c] =
                    tinyecg_nn_clamp_to_int8(acc, p->act_min, p->act_max);
            }
        }
    }
    return 0;
}

int tinyecg_nn_max_pool(const tinyecg_nn_pool_params_t *p, const int8_t *input,
                         int8_t *output)
{
    int32_t oy, ox, c, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        const int32_t ky_start = iy0 < 0 ? -iy0 : 0;
        const int32_t ky_end = p->in_h - iy0 < p->k_h ? p->in_h - iy0 : p->k_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            const int32_t kx_start = ix0 < 0 ? -ix0 : 0;
            const int32_t kx_end = p->in_w - ix0 < p->k_w ? p->in_w - ix0 : p->k_w;
            for (c = 0; c < p->channels; ++c) {
                int32_t best = -128;
                for (ky = ky_start; ky < ky_end; ++ky) {
                    for (kx = kx_start; kx < kx_end; ++kx) {
                        const int32_t v =
                            input[((iy0 + ky) * p->in_w + ix0 + kx) * p->channels + c];
                        best = v > best ? v : best;
                    }
                }
                output[(oy * p->out_w + ox) * p->channels + c] =
                    tinyecg_nn_clamp_to_int8(best, p->act_min, p->act_max);
            }
        }
    }
    return 0;
}
