/*
 * tinyecg_nn_conv.c - CONV_2D and DEPTHWISE_CONV_2D, any shape (TFLM
 * reference_integer_ops::ConvPerChannel and DepthwiseConvPerChannel), NHWC, batch 1.
 */
#include "tinyecg_nn.h"

#include <stddef.h>

int tinyecg_nn_conv_per_channel(const tinyecg_nn_conv_params_t *p, const int8_t *input,
                                 int8_t *output)
{
    int32_t oy, ox, oc, ky;
    const int32_t filter_size = p->k_h * p->k_w * p->in_c;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        const int32_t ky_start = iy0 < 0 ? -iy0 : 0;
        const int32_t ky_end = p->in_h - iy0 < p->k_h ? p->in_h - iy0 : p->k_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            const int32_t kx_start = ix0 < 0 ? -ix0 : 0;
            const int32_t kx_end = p->in_w - ix0 < p->k_w ? p->in_w - ix0 : p->k_w;
            /* in each filter row the taps inside the input are one contiguous run of values,
               in the input (NHWC) as in the filter (OHWI) */
            const int32_t run = (kx_end - kx_start) * p->in_c;
            int8_t *dst = output + (oy * p->out_w + ox) * p->out_c;
            for (oc = 0; oc < p->out_c; ++oc) {
                const int8_t *w = p->weights + oc * filter_size;
                int32_t acc = 0;
                for (ky = ky_start; ky < ky_end; ++ky) {
                    const int8_t *x = input + ((iy0 + ky) * p->in_w + ix0 + kx_start) * p->in_c;
                    acc += tinyecg_nn_dot_with_offset(x, w + (ky * p->k_w + kx_start) * p->in_c,
                                                      run, p->in_offset);
                }
                if (p->bias != NULL) {
                    acc += p->bias[oc];
                }
                acc = tinyecg_nn_multiply_by_quantized_multiplier(acc, p->mult[oc], p->shift[oc])
                      + p->out_offset;
                dst[oc] = tinyecg_nn_clamp_to_int8(acc, p->act_min, p->act_max);
            }
        }
    }
    return 0;
}

int tinyecg_nn_depthwise_conv_per_channel(const tinyecg_nn_depthwise_conv_params_t *p,
                                           const int8_t *input, int8_t *output)
{
    int32_t oy, ox, ic, m, ky, kx;
    for (oy = 0; oy < p->out_h; ++oy) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h;
        for (ox = 0; ox < p->out_w; ++ox) {
            const int32_t ix0 = ox * p->stride_w - p->pad_w;
            int8_t *dst = output + (oy * p->out_w + ox) * p->out_c;
            for (ic = 0; ic < p->in_c; ++ic) {
                for (m = 0; m < p->depth_mult; ++m) {
                    const int32_t oc = ic * p->depth_mult + m;
                    int32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t iy = iy0 + ky;
                        if (iy < 0 || iy >= p->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int32_t ix = ix0 + kx;
                            if (ix < 0 || ix >= p->in_w) {
                                continue;
                            }
                            acc += ((int32_t)input[(iy * p->in_w + ix) * p->in_c + ic]
                                    + p->in_offset)
                                   * (int32_t)p->weights[(ky * p->k_w + kx) * p->out_c + oc];
                        }
                    }
                    if (p->bias != NULL) {
                        acc += p->bias[oc];
                    }
                    acc = tinyecg_nn_multiply_by_quantized_multiplier(acc, p->mult[oc],
                                                                      p->shift[oc])
                          + p->out_offset;
                    dst[oc] = tinyecg_nn_clamp_to_int8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
    return 0;
}
