/*
 * tinyecg_nn_fast.h - the fast kernels of the int8 backend, static inline (included by
 * tinyecg_nn.h): CONV_2D over one row (input and filter one row high, the (1, k)
 * convolutions of the tinyecg models) and FULLY_CONNECTED with weight zero point 0 (what the
 * converter writes). Same integers as the generic kernels, in a faster order:
 *
 *  - the input zero point is folded into the bias by the generator:
 *      bias + sum w * (x - zp) = (bias - zp * sum w) + sum w * x,
 *    so the inner loop is a plain dot product and a padding tap is the value zp (w * zp,
 *    cancelled by the folded bias exactly as a skipped tap); the generator checks that
 *    |folded bias| + 128 * sum |w| < 2^30, so no partial sum, nor twice the total, leaves int32;
 *  - two output channels x two output columns (conv) or two units (dense) per pass: each
 *    loaded weight and input value serves two multiply-accumulates;
 *  - requantization in one rounding multiply when the shifts allow it
 *    (tinyecg_nn_requantize_one_multiply);
 *  - TINYECG_NN_DSP: SXTB16 + SMLAD inner loops in inline assembly (so that -Os keeps the
 *    accumulators in registers); TINYECG_NN_V6M: a 9-instruction assembly loop.
 * TINYECG_NN_INLINE inlines each call, where the parameter struct is a `const` object: loop
 * bounds, strides and table addresses become literals.
 */
#ifndef TINYECG_NN_FAST_H
#define TINYECG_NN_FAST_H

#include <stdint.h>
#include <string.h>

#include "tinyecg_nn_config.h"
#include "tinyecg_nn_math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The output stage of the fast kernels: per-channel requantization, output zero point,
 * fused activation clamp. */
typedef struct {
    int32_t out_zp;                 /* output zero point */
    int32_t act_min, act_max;       /* clamp, output units */
    int32_t one_multiply;           /* 1: tinyecg_nn_requantize_one_multiply with `add`,
                                       0: MultiplyByQuantizedMultiplier + out_zp */
    const int32_t *mult;            /* Q31 multipliers */
    const int8_t *shift;            /* their shifts */
    const int32_t *add;             /* 2^(-shift-1) + out_zp * 2^-shift, or NULL */
} tinyecg_nn_output_stage_t;

/* Output value of channel c for the accumulator acc. */
TINYECG_NN_INLINE int8_t tinyecg_nn_output_stage(const tinyecg_nn_output_stage_t *q, int32_t acc,
                                                 int32_t c)
{
    int32_t v = q->one_multiply
        ? tinyecg_nn_requantize_one_multiply(acc, q->mult[c], q->add[c], q->shift[c])
        : tinyecg_nn_multiply_by_quantized_multiplier(acc, q->mult[c], q->shift[c]) + q->out_zp;
    /* the int8 range first, then the activation if narrower */
#if TINYECG_NN_DSP
    __asm__("ssat %0, #8, %1" : "=r"(v) : "r"(v));
#else
    v = v < -128 ? -128 : (v > 127 ? 127 : v);
#endif
    if (q->act_min > -128) {
        v = v < q->act_min ? q->act_min : v;
    }
    if (q->act_max < 127) {
        v = v > q->act_max ? q->act_max : v;
    }
    return (int8_t)v;
}

/* o[0] = output_stage(s0, c) and o[d] = output_stage(s1, c): channel c of two output columns
 * d bytes apart. */
TINYECG_NN_INLINE void tinyecg_nn_output_stage_two(const tinyecg_nn_output_stage_t *q,
                                                   int32_t s0, int32_t s1, int32_t c,
                                                   int8_t *o, int32_t d)
{
#if TINYECG_NN_DSP
    if (q->one_multiply && q->act_min == -128 && q->act_max == 127) {
        /* one multiply + SSAT, 5 instructions per output, in assembly because at -Os the
           compiler spills around it */
        int32_t t0, t1;
        __asm__(
            "lsl %[t0], %[s0], #1\n\t"
            "lsl %[t1], %[s1], #1\n\t"
            "smmlar %[t0], %[t0], %[m], %[a]\n\t"
            "smmlar %[t1], %[t1], %[m], %[a]\n\t"
            "sub %[t0], %[t0], %[s0], lsr #31\n\t"
            "sub %[t1], %[t1], %[s1], lsr #31\n\t"
            "asr %[t0], %[t0], %[r]\n\t"
            "asr %[t1], %[t1], %[r]\n\t"
            "ssat %[t0], #8, %[t0]\n\t"
            "ssat %[t1], #8, %[t1]"
            : [t0] "=&r"(t0), [t1] "=&r"(t1)
            : [s0] "r"(s0), [s1] "r"(s1), [m] "r"(q->mult[c]), [a] "r"(q->add[c]),
              [r] "r"(-(int32_t)q->shift[c]));
        o[0] = (int8_t)t0;
        o[d] = (int8_t)t1;
        return;
    }
#endif
    o[0] = tinyecg_nn_output_stage(q, s0, c);
    o[d] = tinyecg_nn_output_stage(q, s1, c);
}

/* *s0 += sum w[t] * x[t] and *s1 += sum w[t] * y[t] over t < n (n >= 1): the portable inner
 * loop of the fast kernels. */
TINYECG_NN_INLINE void tinyecg_nn_dot_1x2(const int8_t *w, const int8_t *x, const int8_t *y,
                                          int32_t n, int32_t *s0, int32_t *s1)
{
    int32_t a0 = *s0, a1 = *s1;
#if TINYECG_NN_V6M
    /* compilers keep one of the sums on the stack here; this loop keeps everything in
       registers (the sums may go to high registers: ADD takes any), the index running from
       -n up to 0: 9 instructions per 2 MACs */
    int32_t t = -n, k, q;
    __asm__(
        ".syntax unified\n\t"       /* GCC may hand Thumb-1 inline assembly divided syntax */
        "1:\n\t"
        "ldrsb %[k], [%[w], %[t]]\n\t"
        "ldrsb %[q], [%[x], %[t]]\n\t"
        "muls %[q], %[k], %[q]\n\t"
        "add %[a0], %[q]\n\t"
        "ldrsb %[q], [%[y], %[t]]\n\t"
        "muls %[q], %[k], %[q]\n\t"
        "add %[a1], %[q]\n\t"
        "adds %[t], %[t], #1\n\t"
        "bne 1b"
        : [a0] "+&r"(a0), [a1] "+&r"(a1), [t] "+&l"(t), [k] "=&l"(k), [q] "=&l"(q)
        : [w] "l"(w + n), [x] "l"(x + n), [y] "l"(y + n)
        : "cc", "memory");
#else
    int32_t t;
    for (t = 0; t < n; ++t) {
        a0 += w[t] * x[t];
        a1 += w[t] * y[t];
    }
#endif
    *s0 = a0;
    *s1 = a1;
}

#if TINYECG_NN_DSP
/* SXTB16 of v rotated right by 8: bytes 1 and 3 as int16 lanes (ACLE has no rotate form) */
TINYECG_NN_INLINE int16x2_t tinyecg_nn_sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
#endif

/* ---- CONV_2D over one row ---------------------------------------------------------------
 * Input [1, 1, in_w, in_c], filter [out_c, 1, k, in_c], any stride, SAME or VALID padding.
 * A filter's taps (k * in_c values, OHWI) are one contiguous run of the input row: the
 * columns whose window (rounded up to whole words) lies inside the input ("interior", found
 * by the generator) read it in place, the few border columns gather their taps with zp for
 * the padding. Portable build: the weights are the flatbuffer's int8 rows. TINYECG_NN_DSP
 * build: the weights are int16, one block per pair of output channels (u, v), taps
 * zero-padded to taps4 (a multiple of 4); per group of 4 taps the block holds
 * u0 u2 v0 v2 u1 u3 v1 v3: the lane order of SXTB16, which splits 4 input bytes into the int16
 * pairs (x0, x2) and (x1, x3). The two input columns are split that way once into the
 * scratch, interleaved the same way (x0 x2 y0 y2 x1 x3 y1 y3 per group), and one SMLAD
 * multiplies a weight pair by an input pair: per group 4 LDRD + 8 SMLAD. */
typedef struct {
    int32_t in_w, in_c;             /* input row: in_w columns of in_c channels */
    int32_t out_w, out_c;
    int32_t stride, pad;            /* pad: padding columns before the first input column */
    int32_t taps, taps4;            /* k_w * in_c, and that rounded up to a multiple of 4 */
    int32_t interior_first, interior_end;  /* output columns whose taps4 inputs are all inside */
    int32_t in_zp;                  /* input zero point: the value of a padding tap */
#if TINYECG_NN_DSP
    const int16_t *weights;         /* [(out_c + 1) / 2][taps4 / 4][8], see above */
#else
    const int8_t *weights;          /* [out_c][taps]: the flatbuffer's OHWI bytes */
#endif
    const int32_t *bias;            /* [out_c], input zero point folded in */
    tinyecg_nn_output_stage_t out;
} tinyecg_nn_conv_1_x_n_params_t;

/* Bytes of scratch tinyecg_nn_conv_1_x_n needs (word aligned): two columns of taps4 int16. */
#define TINYECG_NN_CONV_1_X_N_SCRATCH_BYTES(taps4) (4 * (taps4))

/* Tap t of the window starting at input column `start`: zp in the padding, 0 past the
 * filter (t >= taps, matched by zero weights). */
TINYECG_NN_STATIC int32_t tinyecg_nn_row_tap(const tinyecg_nn_conv_1_x_n_params_t *p,
                                             const int8_t *in, int32_t start, int32_t t)
{
    const int32_t i = start * p->in_c + t;
    if (t >= p->taps) {
        return 0;
    }
    return i >= 0 && i < p->in_w * p->in_c ? (int32_t)in[i] : p->in_zp;
}

#if TINYECG_NN_DSP
/* The taps of output column ox as int16 pairs (x0, x2), (x1, x3), ... into words slot and
 * slot + 2 of every group of 4 words of cols. */
TINYECG_NN_INLINE void tinyecg_nn_row_column(const tinyecg_nn_conv_1_x_n_params_t *p,
                                             const int8_t *in, int32_t ox, int32_t *cols,
                                             int32_t slot)
{
    const int32_t start = ox * p->stride - p->pad;
    int32_t *c = cols + slot;
    int32_t t;
    if (ox >= p->interior_first && ox < p->interior_end) {
        const int8_t *x = in + start * p->in_c;
        for (t = 0; t < p->taps4; t += 4) {
            uint32_t v;
            memcpy(&v, x + t, sizeof v);
            c[0] = __sxtb16((int8x4_t)v);
            c[2] = tinyecg_nn_sxtb16_ror8(v);
            c += 4;
        }
    } else {
        for (t = 0; t < p->taps4; t += 4) {
            c[0] = (int32_t)((uint32_t)(uint16_t)tinyecg_nn_row_tap(p, in, start, t)
                             | (uint32_t)(uint16_t)tinyecg_nn_row_tap(p, in, start, t + 2) << 16);
            c[2] = (int32_t)((uint32_t)(uint16_t)tinyecg_nn_row_tap(p, in, start, t + 1)
                             | (uint32_t)(uint16_t)tinyecg_nn_row_tap(p, in, start, t + 3) << 16);
            c += 4;
        }
    }
}
#else
/* The taps of output column ox: in place for an interior column, else gathered (with zp for
 * the padding, 0 past the filter) into stage + slot * taps4. */
TINYECG_NN_INLINE const int8_t *tinyecg_nn_row_column(const tinyecg_nn_conv_1_x_n_params_t *p,
                                                      const int8_t *in, int32_t ox,
                                                      int8_t *stage, int32_t slot)
{
    const int32_t start = ox * p->stride - p->pad;
    int8_t *col = stage + slot * p->taps4;
    int32_t t;
    if (ox >= p->interior_first && ox < p->interior_end) {
        return in + start * p->in_c;
    }
    for (t = 0; t < p->taps4; ++t) {
        col[t] = (int8_t)tinyecg_nn_row_tap(p, in, start, t);
    }
    return col;
}
#endif

/* scratch: TINYECG_NN_CONV_1_X_N_SCRATCH_BYTES(taps4) bytes, word aligned, not overlapping
 * input or output. */
TINYECG_NN_INLINE int tinyecg_nn_conv_1_x_n(const tinyecg_nn_conv_1_x_n_params_t *p,
                                             const int8_t *input, int8_t *output,
                                             int32_t *scratch)
{
    int32_t ox, oc;
    /* two output columns at a time; an odd last one is computed twice (same bytes) */
    for (ox = 0; ox < p->out_w; ox += 2) {
        const int32_t ox1 = ox + 1 < p->out_w ? ox + 1 : ox;
        int8_t *o0 = output + ox * p->out_c;
        const int32_t d = (ox1 - ox) * p->out_c;   /* column ox1's outputs: o0 + d */
#if TINYECG_NN_DSP
        const int16_t *w = p->weights;
        tinyecg_nn_row_column(p, input, ox, scratch, 0);
        tinyecg_nn_row_column(p, input, ox1, scratch, 1);
#else
        const int8_t *c0 = tinyecg_nn_row_column(p, input, ox, (int8_t *)scratch, 0);
        const int8_t *c1 = tinyecg_nn_row_column(p, input, ox1, (int8_t *)scratch, 1);
#endif
        /* two output channels at a time (an odd last one twice, same bytes); aij: channel
           oc + i, column j */
        for (oc = 0; oc < p->out_c; oc += 2) {
            const int32_t oc1 = oc + 1 < p->out_c ? oc + 1 : oc;
            int32_t a00 = p->bias[oc], a01 = p->bias[oc];
            int32_t a10 = p->bias[oc1], a11 = p->bias[oc1];
#if TINYECG_NN_DSP
            const int32_t *xy = scratch;
            int32_t n = p->taps4 / 4, x, y, u, v;
            __asm__(
                "1:\n\t"
                "ldrd %[x], %[y], [%[xy]], #8\n\t"      /* (x0, x2), (y0, y2) */
                "ldrd %[u], %[v], [%[w]], #8\n\t"       /* (u0, u2), (v0, v2) */
                "smlad %[a00], %[u], %[x], %[a00]\n\t"
                "smlad %[a01], %[u], %[y], %[a01]\n\t"
                "smlad %[a10], %[v], %[x], %[a10]\n\t"
                "smlad %[a11], %[v], %[y], %[a11]\n\t"
                "ldrd %[x], %[y], [%[xy]], #8\n\t"      /* (x1, x3), (y1, y3) */
                "ldrd %[u], %[v], [%[w]], #8\n\t"       /* (u1, u3), (v1, v3) */
                "smlad %[a00], %[u], %[x], %[a00]\n\t"
                "smlad %[a01], %[u], %[y], %[a01]\n\t"
                "smlad %[a10], %[v], %[x], %[a10]\n\t"
                "smlad %[a11], %[v], %[y], %[a11]\n\t"
                "subs %[n], %[n], #1\n\t"
                "bne 1b"
                : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
                  [xy] "+r"(xy), [w] "+r"(w), [n] "+r"(n),
                  [x] "=&r"(x), [y] "=&r"(y), [u] "=&r"(u), [v] "=&r"(v)
                :
                : "cc", "memory");
#else
            /* one channel at a time: few enough live values for a Cortex-M0+ */
            tinyecg_nn_dot_1x2(p->weights + oc * p->taps, c0, c1, p->taps, &a00, &a01);
            tinyecg_nn_dot_1x2(p->weights + oc1 * p->taps, c0, c1, p->taps, &a10, &a11);
#endif
            tinyecg_nn_output_stage_two(&p->out, a00, a01, oc, o0 + oc, d);
            tinyecg_nn_output_stage_two(&p->out, a10, a11, oc1, o0 + oc1, d);
        }
    }
    return 0;
}

/* ---- FULLY_CONNECTED with weight zero point 0 --------------------------------------------
 * The input zero point folded into the bias as above, two output units per pass over the
 * input; with TINYECG_NN_DSP four inputs at a time through SXTB16 + SMLAD. Rows of `weights`
 * are depth4 = depth rounded up to a multiple of 4 long (zero-padded, so each row starts on
 * a word); the input is read up to depth only. */
typedef struct {
    int32_t batches, depth, depth4, units;
    int32_t per_channel;            /* 1: output stage tables per unit, 0: one entry for all */
    const int8_t *weights;          /* [units][depth4] */
    const int32_t *bias;            /* [units], input zero point folded in */
    tinyecg_nn_output_stage_t out;
} tinyecg_nn_fully_connected_folded_params_t;

TINYECG_NN_INLINE int tinyecg_nn_fully_connected_folded(
    const tinyecg_nn_fully_connected_folded_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, u, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *x = input + b * p->depth;
        for (u = 0; u < p->units; u += 2) {
            const int32_t u1 = u + 1 < p->units ? u + 1 : u;   /* odd last unit: twice */
            const int8_t *w0 = p->weights + u * p->depth4;
            const int8_t *w1 = p->weights + u1 * p->depth4;
            int32_t a0 = p->bias[u], a1 = p->bias[u1];
            d = 0;
#if TINYECG_NN_DSP
            if (p->depth >= 4) {
                /* per 4 inputs: SXTB16 splits inputs and weights into lanes (0, 2), (1, 3),
                   4 SMLAD; in assembly so that -Os keeps everything in registers */
                const int8_t *px = x, *pu = w0, *pv = w1;
                int32_t n = p->depth / 4, xe, xo, wu, wv, t;
                __asm__(
                    "1:\n\t"
                    "ldr %[xo], [%[px]], #4\n\t"
                    "ldr %[wu], [%[pu]], #4\n\t"
                    "ldr %[wv], [%[pv]], #4\n\t"
                    "sxtb16 %[xe], %[xo]\n\t"
                    "sxtb16 %[xo], %[xo], ror #8\n\t"
                    "sxtb16 %[t], %[wu]\n\t"
                    "smlad %[a0], %[t], %[xe], %[a0]\n\t"
                    "sxtb16 %[t], %[wu], ror #8\n\t"
                    "smlad %[a0], %[t], %[xo], %[a0]\n\t"
                    "sxtb16 %[t], %[wv]\n\t"
                    "smlad %[a1], %[t], %[xe], %[a1]\n\t"
                    "sxtb16 %[t], %[wv], ror #8\n\t"
                    "smlad %[a1], %[t], %[xo], %[a1]\n\t"
                    "subs %[n], %[n], #1\n\t"
                    "bne 1b"
                    : [a0] "+r"(a0), [a1] "+r"(a1), [px] "+r"(px), [pu] "+r"(pu),
                      [pv] "+r"(pv), [n] "+r"(n), [xe] "=&r"(xe), [xo] "=&r"(xo),
                      [wu] "=&r"(wu), [wv] "=&r"(wv), [t] "=&r"(t)
                    :
                    : "cc", "memory");
                d = p->depth & ~3;
            }
#endif
            if (d < p->depth) {
                tinyecg_nn_dot_1x2(x + d, w0 + d, w1 + d, p->depth - d, &a0, &a1);
            }
            output[b * p->units + u] =
                tinyecg_nn_output_stage(&p->out, a0, p->per_channel ? u : 0);
            output[b * p->units + u1] =
                tinyecg_nn_output_stage(&p->out, a1, p->per_channel ? u1 : 0);
        }
    }
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_NN_FAST_H */
