/*
 * tinyecg_denoise.c - wavelet denoising of one window, in place on Q(S) ADC counts: the sym4
 * DWT, 3 levels, periodized (pywt mode "periodization"); the universal soft threshold
 * sigma * sqrt(2 ln 360), sigma = median(|cD1|) / 0.6745, on cD1..cD3; the inverse DWT.
 * Python: tinyecg/dsp/fixedpoint/dwt.py (denoise_int).
 *
 * Every filter output is floor(sum / 2^31 + 1/2) (round half up) of an int64 accumulator that
 * starts at 2^60 + 2^30: every |sum of products| is below 2^57 (docs/preprocessing.md,
 * headroom), so the accumulator is never negative and the division is an unsigned shift (a
 * right shift of a negative number is implementation-defined in C99). The interior outputs
 * read plain pointers into the input; the 4 output pairs per level whose filter wraps around
 * the period are gathered into a small buffer first. The levels are static functions of this
 * file so that the compiler can specialise them for each call (about 2,000 instructions per
 * window fewer on Cortex-M4 than as functions of another file).
 */
#include "tinyecg_dsp_internal.h"

#define TAPS 8 /* sym4 filter length */
#define RADIX_BITS 6u /* median selection: digits of 6 bits, */
#define RADIX_BINS 64 /* 2^6 buckets */
/* start of a Q31 filter accumulator: the bias 2^60 plus 1/2 for rounding */
#define ACC_START (((int64_t)1 << BIAS_BITS) + ((int64_t)1 << (FILTER_BITS - 1u)))
/* the bias after the shift by 31: 2^60 / 2^31 = 2^29 */
#define ACC_OFFSET ((int64_t)1 << (BIAS_BITS - FILTER_BITS))

/* sym4 filters, Q31: round(h * 2^31) (half away from zero) of pywt.Wavelet("sym4").dec_lo,
 * dec_hi, rec_lo, rec_hi, as tinyecg/dsp/fixedpoint/formats.py computes them (DEC_LO_Q, ...;
 * a test checks these equal). Stored in pairs {lo[j], hi[j]} because the two taps of a pair
 * always multiply together (the same sample in analysis, a cA and a cD value in synthesis);
 * h in the comments. The largest, 0.8037, is 1726015827 < 2^31. */
static const int32_t k_dec[TAPS][2] = { /* {dec_lo[j], dec_hi[j]}, Q31 */
    {-162705634, -69198582},  /* -0.075765714789273325, -0.032223100604042702 */
    {-63641811, -27066814},   /* -0.02963552764599851, -0.012603967262037833 */
    {1068627952, 213072347},  /* +0.49761866763201545, +0.099219543576847216 */
    {1726015827, 639644745},  /* +0.80373875180591614, +0.29785779560527736 */
    {639644745, -1726015827}, /* +0.29785779560527736, -0.80373875180591614 */
    {-213072347, 1068627952}, /* -0.099219543576847216, +0.49761866763201545 */
    {-27066814, 63641811},    /* -0.012603967262037833, +0.02963552764599851 */
    {69198582, -162705634},   /* +0.032223100604042702, -0.075765714789273325 */
};
static const int32_t k_rec[TAPS][2] = { /* {rec_lo[j], rec_hi[j]}, Q31 */
    {69198582, -162705634},   /* +0.032223100604042702, -0.075765714789273325 */
    {-27066814, 63641811},    /* -0.012603967262037833, +0.02963552764599851 */
    {-213072347, 1068627952}, /* -0.099219543576847216, +0.49761866763201545 */
    {639644745, -1726015827}, /* +0.29785779560527736, -0.80373875180591614 */
    {1726015827, 639644745},  /* +0.80373875180591614, +0.29785779560527736 */
    {1068627952, 213072347},  /* +0.49761866763201545, +0.099219543576847216 */
    {-63641811, -27066814},   /* -0.02963552764599851, -0.012603967262037833 */
    {-162705634, -69198582},  /* -0.075765714789273325, -0.032223100604042702 */
};

/* floor(sum / 2^31 + 1/2) from an accumulator started at ACC_START = 2^60 + 2^30: the
 * accumulator holds sum + 2^60 + 2^30 >= 0, so its unsigned shift by 31 is the result + 2^29. */
HOT_INLINE int32_t acc_result(int64_t acc)
{
    return (int32_t)((int64_t)((uint64_t)acc >> FILTER_BITS) - ACC_OFFSET);
}

/* lo += tap[0] * x, hi += tap[1] * x: one sample through both analysis filters. */
HOT_INLINE void mac_both(int64_t *lo, int64_t *hi, const int32_t tap[2], int32_t x)
{
    *lo += (int64_t)tap[0] * x;
    *hi += (int64_t)tap[1] * x;
}

/* acc += tap[0] * a + tap[1] * d: one cA and one cD value into a synthesis output. */
HOT_INLINE void mac_sum(int64_t *acc, const int32_t tap[2], int32_t a, int32_t d)
{
    *acc += (int64_t)tap[0] * a;
    *acc += (int64_t)tap[1] * d;
}

/* cA[o], cD[o] from p[0..7] = x[2o-3 .. 2o+4] (tap j multiplies x[2o+4-j]). */
HOT_INLINE void analysis_pair(const int32_t *RESTRICT p, int32_t *RESTRICT lo,
                              int32_t *RESTRICT hi)
{
    int64_t acc_lo = ACC_START, acc_hi = ACC_START;
    mac_both(&acc_lo, &acc_hi, k_dec[0], p[7]);
    mac_both(&acc_lo, &acc_hi, k_dec[1], p[6]);
    mac_both(&acc_lo, &acc_hi, k_dec[2], p[5]);
    mac_both(&acc_lo, &acc_hi, k_dec[3], p[4]);
    mac_both(&acc_lo, &acc_hi, k_dec[4], p[3]);
    mac_both(&acc_lo, &acc_hi, k_dec[5], p[2]);
    mac_both(&acc_lo, &acc_hi, k_dec[6], p[1]);
    mac_both(&acc_lo, &acc_hi, k_dec[7], p[0]);
    *lo = acc_result(acc_lo);
    *hi = acc_result(acc_hi);
}

/* Index i of a periodic signal of length n, for -n <= i < 2n. */
static int32_t wrap(int32_t i, int32_t n)
{
    return i < 0 ? i + n : (i >= n ? i - n : i);
}

/* The output pairs whose filter reaches across the ends of the period: o = 0, 1, half-2,
 * half-1 (the others read plain pointers into the input). */
static int32_t edge_pair(int32_t e, int32_t half)
{
    return e < 2 ? e : half - 4 + e;
}

/* One analysis level, periodized: x (n values) -> lo, hi (n/2 values each). */
static void analysis(const int32_t *x, int32_t n, int32_t *lo, int32_t *hi)
{
    int32_t g[TAPS];
    int32_t o, e, t;
    for (o = 2; o < n / 2 - 2; ++o) {
        analysis_pair(x + 2 * o - 3, lo + o, hi + o);
    }
    for (e = 0; e < 4; ++e) {
        o = edge_pair(e, n / 2);
        for (t = 0; t < TAPS; ++t) {
            g[t] = x[wrap(2 * o - 3 + t, n)];
        }
        analysis_pair(g, lo + o, hi + o);
    }
}

/* y[2p], y[2p+1] of one synthesis level from a[0..4] = cA[p-2 .. p+2] and d[0..4] =
 * cD[p-2 .. p+2]. Output m takes the taps j whose parity makes m + 3 - j even, at
 * o = (m + 3 - j) / 2: the odd taps for y[2p] (o = p+1, p, p-1, p-2), the even taps for
 * y[2p+1] (o = p+2, p+1, p, p-1). */
HOT_INLINE void synthesis_pair(const int32_t *RESTRICT a, const int32_t *RESTRICT d,
                               int32_t *RESTRICT y)
{
    int64_t even = ACC_START, odd = ACC_START;
    mac_sum(&odd, k_rec[0], a[4], d[4]);
    mac_sum(&even, k_rec[1], a[3], d[3]);
    mac_sum(&odd, k_rec[2], a[3], d[3]);
    mac_sum(&even, k_rec[3], a[2], d[2]);
    mac_sum(&odd, k_rec[4], a[2], d[2]);
    mac_sum(&even, k_rec[5], a[1], d[1]);
    mac_sum(&odd, k_rec[6], a[1], d[1]);
    mac_sum(&even, k_rec[7], a[0], d[0]);
    y[0] = acc_result(even);
    y[1] = acc_result(odd);
}

/* One synthesis level, periodized: ca, cd (half values each) -> out (2 * half values). */
static void synthesis(const int32_t *ca, const int32_t *cd, int32_t half, int32_t *out)
{
    int32_t ga[5], gd[5];
    int32_t p, e, t;
    for (p = 2; p < half - 2; ++p) {
        synthesis_pair(ca + p - 2, cd + p - 2, out + 2 * p);
    }
    for (e = 0; e < 4; ++e) {
        p = edge_pair(e, half);
        for (t = 0; t < 5; ++t) {
            const int32_t o = wrap(p - 2 + t, half);
            ga[t] = ca[o];
            gd[t] = cd[o];
        }
        synthesis_pair(ga, gd, out + 2 * p);
    }
}

/* Universal threshold: thr = sigma * sqrt(2 ln 360), sigma = median|cD1| / 0.6745, and the
 * median of 180 values is (a + b) / 2 with a, b the two middle ones, so
 * thr = (a + b) * 2.54341375086 = (a + b) * k_thr_mult * 2^-29
 * (2.54341375086 = sqrt(2 ln 360) / (2 * 0.6745); Q29, relative error 1.2e-11). The value is
 * tinyecg/dsp/fixedpoint/formats.py's THR_MULT (a test checks they are equal). */
static const int64_t k_thr_mult = INT64_C(1365484860);

/* a / 2^k rounded half away from zero (1 <= k <= 62, |a| < 2^62). */
static int64_t rshift_round(int64_t a, uint32_t k)
{
    const int64_t half = (int64_t)1 << (k - 1u);
    return (a >= 0) ? ((a + half) >> k) : -((half - a) >> k);
}

/* The values of ranks r-1 and r (0-based, ascending) among v[0..n-1] (0 <= v < 2^31, r >= 1):
 * radix selection on 6-bit digits from bit `shift` up. Count the digit of every candidate,
 * keep the candidates in the bucket that holds rank r, repeat with the next 6 bits down until
 * the digits are exhausted or one candidate is left: at most 4 passes for |cD1| < 2^23, each
 * O(n + 64). The values dropped for being below the kept bucket are below every candidate, so
 * their maximum is rank r-1 whenever rank r is the smallest candidate. count: RADIX_BINS
 * words of scratch. v is reordered. */
static void select_ranks(int32_t *v, int32_t n, int32_t r, uint32_t shift, int32_t *count,
                         int32_t *below_r, int32_t *at_r)
{
    int32_t below = 0; /* the largest value dropped for being below the candidates */
    for (;;) {
        int32_t i, kept = 0;
        uint32_t b = 0;
        for (i = 0; i < RADIX_BINS; ++i) {
            count[i] = 0;
        }
        for (i = 0; i < n; ++i) {
            ++count[((uint32_t)v[i] >> shift) & ((uint32_t)RADIX_BINS - 1u)];
        }
        while (r >= count[b]) { /* the bucket holding rank r; r becomes the rank inside it */
            r -= count[b];
            ++b;
        }
        for (i = 0; i < n; ++i) {
            const int32_t x = v[i];
            const uint32_t digit = ((uint32_t)x >> shift) & ((uint32_t)RADIX_BINS - 1u);
            if (digit == b) {
                v[kept++] = x;
            } else if (digit < b && x > below) {
                below = x;
            }
        }
        n = kept;
        if (shift == 0u || n == 1) { /* the candidates left are all equal */
            *at_r = v[r];
            *below_r = r > 0 ? v[r] : below;
            return;
        }
        shift = shift > RADIX_BITS ? shift - RADIX_BITS : 0u;
    }
}

/* Soft thresholding in place: sign(d) * max(|d| - thr, 0). */
static void soft_threshold(int32_t *d, int32_t n, int32_t thr)
{
    int32_t i;
    for (i = 0; i < n; ++i) {
        d[i] = d[i] > thr ? d[i] - thr : (d[i] < -thr ? d[i] + thr : 0);
    }
}

void tinyecg_denoise_window(int32_t w[TINYECG_WINDOW])
{
    int32_t c1[TINYECG_WINDOW]; /* cA1 | cD1; cA1's half then holds |cD1|, then cA1' */
    int32_t *const ca1 = c1, *const d1 = c1 + HALF1;
    /* w holds v; then cA2 (then cA2') | cD2 | cA3 | cD3 | scratch (the selection's counts);
     * then y */
    int32_t *const ca2 = w, *const d2 = w + HALF2;
    int32_t *const ca3 = w + HALF1, *const d3 = w + HALF1 + HALF3;
    int32_t i, thr, mid_lo, mid_hi;
    uint32_t bits, ored = 0;

    /* analysis: 360 -> 180 -> 90 -> 45 */
    analysis(w, TINYECG_WINDOW, ca1, d1);
    analysis(ca1, HALF1, ca2, d2);
    analysis(ca2, HALF2, ca3, d3);

    /* threshold from the two middle values (ranks 89 and 90) of |cD1|, selected from a copy */
    for (i = 0; i < HALF1; ++i) {
        ca1[i] = d1[i] < 0 ? -d1[i] : d1[i];
        ored |= (uint32_t)ca1[i];
    }
    for (bits = 0; (ored >> bits) != 0u; ++bits) {
    } /* bit length of the largest |cD1| */
    select_ranks(ca1, HALF1, MEDIAN_HI, bits > RADIX_BITS ? bits - RADIX_BITS : 0u,
                 w + HALF1 + HALF2, &mid_lo, &mid_hi); /* counts in w's free tail (90 words) */
    thr = (int32_t)rshift_round(((int64_t)mid_lo + mid_hi) * k_thr_mult, THR_BITS);
    soft_threshold(d1, HALF1, thr);
    soft_threshold(d2, HALF2, thr);
    soft_threshold(d3, HALF3, thr);

    /* synthesis: 45 -> 90 (over cA2) -> 180 (over the |cD1| copy) -> 360 (y, over w) */
    synthesis(ca3, d3, HALF3, ca2);
    synthesis(ca2, d2, HALF2, ca1);
    synthesis(ca1, d1, HALF1, w);
}
