/*
 * tinyecg_rhythm_frontend.c - see tinyecg_rhythm_frontend.h. The Python twin is
 * tinyecg/dsp/rhythm_frontend.py; each step below names the function it mirrors.
 */
#include "tinyecg_rhythm_frontend.h"

#include <stddef.h>

/* rhythm_frontend.FIR_Q15: scipy.signal.firwin(48, 25.0, fs=360, window="hamming") x 2^15,
 * rounded (the taps sum to 2^15: unit DC gain). sum |h| = 44016, so with int16 inputs the
 * accumulator stays below 32768 x 44016 < 2^31. The taps are symmetric (linear phase:
 * h[47 - k] = h[k]): the first half is all the folded FIR below reads. */
static const int16_t fir_q15[TINYECG_RHYTHM_FIR_TAPS / 2u] = {
    -26, -15, 2, 27, 61, 98, 128, 134, 99, 12, -128, -304, -480, -607, -626, -483,
    -143, 404, 1128, 1968, 2829, 3605, 4192, 4509,
};

#define FIR_BITS 15          /* rhythm_frontend.FIR_BITS: the taps are Q15 */
#define DC_SHIFT 4           /* rhythm_frontend.DC_SHIFT: pole 1 - 2^-4 (-3 dB ~0.9 Hz) */
#define DC_FRAC 8            /* rhythm_frontend.DC_FRAC: fractional bits of the state */
#define Q_PER_STD 16         /* spec.RHYTHM_Q_PER_STD: int8 input scale 1/16 std */
#define STD_FLOOR_UV 50      /* spec.RHYTHM_STD_FLOOR_UV */
#define AMP_GATE_UV 200      /* spec.AMP_GATE_UV: Kerber 1997's coarse-VF amplitude */
#define UV_PER_MV 1000       /* gain is in ADC counts per mV */

/* floor(v / 2^n) without relying on >> of a negative value (implementation-defined in
 * C99); Python's >> on ints is this floor. */
static int32_t floor_shift(int32_t v, unsigned n)
{
    if (v >= 0) {
        return (int32_t)((uint32_t)v >> n);
    }
    return -(int32_t)((uint32_t)(-(v + 1)) >> n) - 1;
}

static int16_t clamp16(int32_t v)
{
    return (int16_t)(v < INT16_MIN ? INT16_MIN : (v > INT16_MAX ? INT16_MAX : v));
}

/* rhythm_frontend.div_round: a / d rounded half away from zero, d > 0. */
static int32_t div_round32(int32_t a, int32_t d)
{
    uint32_t mag = (2u * (uint32_t)(a < 0 ? -a : a) + (uint32_t)d) / (2u * (uint32_t)d);
    return a < 0 ? -(int32_t)mag : (int32_t)mag;
}

/* rhythm_frontend.uv_to_counts: div_round(gain x uV, 1000). */
static int32_t uv_to_counts(uint16_t gain_adu_per_mv, int32_t microvolts)
{
    return div_round32((int32_t)gain_adu_per_mv * microvolts, UV_PER_MV);
}

/* rhythm_frontend.isqrt_round: round(sqrt(v)); v <= 2^31 here (a window's variance is at
 * most 32768^2). Bit by bit floor square root, then +1 when v - r^2 > r. */
static int32_t isqrt_round(uint32_t v)
{
    uint32_t r = 0;
    uint32_t bit = 1u << 30;
    uint32_t rest = v;
    while (bit > rest) {
        bit >>= 2;
    }
    while (bit != 0u) {
        if (rest >= r + bit) {
            rest -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return (int32_t)(rest > r ? r + 1u : r); /* rest = v - r^2 */
}

void tinyecg_rhythm_frontend_init(tinyecg_rhythm_frontend_t *fe)
{
    size_t i;
    for (i = 0; i < 2u * TINYECG_RHYTHM_FIR_TAPS; i++) {
        fe->fir_history[i] = 0;
    }
    for (i = 0; i < TINYECG_RHYTHM_WINDOW; i++) {
        fe->ring[i] = 0;
    }
    fe->fir_newest = 0;
    fe->phase = 0;
    fe->dc_state = 0;
    fe->dc_previous = 0;
    fe->ring_next = 0;
    fe->n_stream = 0;
}

int tinyecg_rhythm_frontend_push(tinyecg_rhythm_frontend_t *fe, int32_t x,
                                 int16_t *stream_sample)
{
    int32_t acc = 0;
    int32_t y;
    int16_t z;
    unsigned k;
    const int16_t *oldest, *newest;
    int16_t v = clamp16(x);

    fe->fir_newest = (uint8_t)(fe->fir_newest + 1u == TINYECG_RHYTHM_FIR_TAPS
                                   ? 0u
                                   : fe->fir_newest + 1u);
    fe->fir_history[fe->fir_newest] = v;
    fe->fir_history[fe->fir_newest + TINYECG_RHYTHM_FIR_TAPS] = v;
    fe->phase++;
    if (fe->phase < TINYECG_RHYTHM_DECIMATION) {
        return TINYECG_RHYTHM_NOTHING;
    }
    fe->phase = 0;
    /* decimate_int: y = round_half_up(sum_k h[k] x[n - k] / 2^15). The last 48 inputs are
     * fir_history[newest + 1 .. newest + 48], oldest first; the taps are symmetric
     * (h[k] = h[47 - k]), so each product takes the pair x[n - k] + x[n - 47 + k]: 24
     * multiplies, the same integer sum (|pair| < 2^16, and the sum of |h| bounds it as before) */
    oldest = &fe->fir_history[fe->fir_newest + 1u];
    newest = &fe->fir_history[fe->fir_newest + TINYECG_RHYTHM_FIR_TAPS];
    for (k = 0; k < TINYECG_RHYTHM_FIR_TAPS / 2u; k++) {
        acc += (int32_t)fir_q15[k] * ((int32_t)newest[-(int)k] + oldest[k]);
    }
    y = clamp16(floor_shift(acc + (1 << (FIR_BITS - 1)), FIR_BITS));
    /* dc_block_int: s = s - floor(s / 16) + 256 (y - y_prev); z = floor((s + 128) / 256) */
    fe->dc_state = fe->dc_state - floor_shift(fe->dc_state, DC_SHIFT) +
                   (y - fe->dc_previous) * (1 << DC_FRAC);
    fe->dc_previous = (int16_t)y;
    z = clamp16(floor_shift(fe->dc_state + (1 << (DC_FRAC - 1)), DC_FRAC));
    fe->ring[fe->ring_next] = z;
    fe->ring_next = (uint16_t)(fe->ring_next + 1u == TINYECG_RHYTHM_WINDOW ? 0u
                                                                          : fe->ring_next + 1u);
    if (fe->n_stream < UINT32_MAX) {
        fe->n_stream++;
    }
    if (stream_sample != NULL) {
        *stream_sample = z;
    }
    /* data.rhythm.window_ends: one decision per second once warm-up + window have passed */
    if (fe->n_stream >= (TINYECG_RHYTHM_WINDOW_S + TINYECG_RHYTHM_WARMUP_S) * TINYECG_RHYTHM_FS &&
        fe->n_stream % TINYECG_RHYTHM_FS == 0u) {
        return TINYECG_RHYTHM_DECISION;
    }
    return TINYECG_RHYTHM_SAMPLE;
}

int tinyecg_rhythm_window(const tinyecg_rhythm_frontend_t *fe, uint16_t gain_adu_per_mv,
                          int8_t q[TINYECG_RHYTHM_WINDOW])
{
    int32_t sum = 0;
    uint64_t sum_sq = 0;
    int32_t mean, std, floor_counts, p2p[TINYECG_RHYTHM_WINDOW_S];
    uint32_t var;
    unsigned i, s, pos;

    for (i = 0; i < TINYECG_RHYTHM_WINDOW; i++) {
        sum += fe->ring[i]; /* |sum| <= 720 x 32768 < 2^25 */
    }
    mean = div_round32(sum, (int32_t)TINYECG_RHYTHM_WINDOW);
    for (i = 0; i < TINYECG_RHYTHM_WINDOW; i++) {
        int32_t e = fe->ring[i] - mean;
        sum_sq += (uint64_t)((int64_t)e * e); /* <= 720 x 65535^2 < 2^42 */
    }
    /* normalise_int: var = div_round(sum (y - m)^2, L), at most 32768^2 */
    var = (uint32_t)((2u * sum_sq + TINYECG_RHYTHM_WINDOW) / (2u * TINYECG_RHYTHM_WINDOW));
    std = isqrt_round(var);
    floor_counts = uv_to_counts(gain_adu_per_mv, STD_FLOOR_UV);
    if (floor_counts < 1) {
        floor_counts = 1;
    }
    if (std < floor_counts) {
        std = floor_counts;
    }
    /* oldest first: the ring is full, its oldest sample is where the next one goes */
    pos = fe->ring_next;
    for (s = 0; s < TINYECG_RHYTHM_WINDOW_S; s++) {
        int32_t lo = INT16_MAX, hi = INT16_MIN;
        for (i = 0; i < TINYECG_RHYTHM_FS; i++) {
            int32_t v = fe->ring[pos];
            int32_t r = div_round32(Q_PER_STD * (v - mean), std);
            q[s * TINYECG_RHYTHM_FS + i] = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            pos = (pos + 1u == TINYECG_RHYTHM_WINDOW) ? 0u : pos + 1u;
        }
        /* amplitude_gate: insertion sort of the 1-s peak to peaks (8 values) */
        p2p[s] = hi - lo;
        for (i = s; i > 0u && p2p[i - 1u] > p2p[i]; i--) {
            int32_t t = p2p[i];
            p2p[i] = p2p[i - 1u];
            p2p[i - 1u] = t;
        }
    }
    return p2p[(TINYECG_RHYTHM_WINDOW_S - 1u) / 2u] + p2p[TINYECG_RHYTHM_WINDOW_S / 2u] >=
           2 * uv_to_counts(gain_adu_per_mv, AMP_GATE_UV);
}
