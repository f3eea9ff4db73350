/*
 * tinyecg_longterm.c - the patient's long-term RR context -> a patient-context model's int8
 * input "rhythm" (the eight features of tinyecg.dsp.patient.LONGTERM_FEATURES).
 *
 * Each feature is an exact fraction num/den with num clipped to 4 * den
 * (tinyecg.dsp.patient.longterm_fractions, clipped_fractions) and becomes
 * round(num / den * mult * 2^-shift) + zp with the ratio multiplier 1 / s_r, clamped to
 * int8: the rounding of tinyecg_rhythm.c. Python: tinyecg/dsp/fixedpoint/longterm.py
 * (longterm_features_int). Its own file: a build whose model takes today's five features
 * links none of it.
 */
#include "tinyecg_dsp_internal.h"

#define PATIENT_ONE 16         /* A and D are Q4 samples (tinyecg.spec.PATIENT_Q = 4) */
#define FEATURE_CLIP 4         /* a feature's num is at most 4 * den
                                  (tinyecg.spec.LONGTERM_FEATURE_CLIP) */
#define MAX_RR 16777215        /* 2^24 - 1 samples (12.9 h): every den below stays < 2^31,
                                  rest * mult < 2^62 (tinyecg/dsp/fixedpoint/longterm.py) */
#define MAX_Q4 268435456       /* 2^28: A and D of RR intervals below 2^24, in Q4 */
#define MAX_LOCAL TINYECG_LOCAL_BEATS /* the local mean is over at most 8 intervals */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* round(min(num, 4 den) / den * m.mult * 2^-m.shift) + zero point, clamped to int8
 * (num >= 0, 1 <= den < 2^31): whole * mult + (rest * mult) / den, one rounding shift. */
static int8_t ratio_quant(int64_t num, int64_t den, const tinyecg_rr_multiplier_t *m,
                          int32_t zero_point)
{
    int64_t whole, rest, q = 256; /* 256: saturates */
    if (num > FEATURE_CLIP * den) {
        num = FEATURE_CLIP * den;
    }
    whole = num / den;
    rest = num % den;
    if (whole <= m->limit) {
        const int64_t mult = m->m.mult;
        q = (whole * mult + (rest * mult) / den + ((int64_t)1 << (m->m.shift - 1u))) >>
            m->m.shift;
    }
    q += zero_point; /* 0 <= q <= 256 before */
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

void tinyecg_longterm_features(const tinyecg_preprocess_params_t *params, int32_t pre_rr,
                               int32_t post_rr, int32_t local_rr_sum, int32_t local_rr_count,
                               int32_t mean_rr16, int32_t irregularity16,
                               int8_t out[TINYECG_DSP_LONGTERM_FEATURES])
{
    const tinyecg_rr_multiplier_t *const ratio = &params->rhythm_ratio;
    const int32_t zp = params->rhythm_zero_point;
    const int64_t pre = clamp64(pre_rr, 1, MAX_RR);
    const int64_t post = clamp64(post_rr, 1, MAX_RR);
    const int64_t count = clamp64(local_rr_count, 1, MAX_LOCAL);
    const int64_t lsum = clamp64(local_rr_sum, count, MAX_LOCAL * (int64_t)MAX_RR);
    const int64_t a16 = clamp64(mean_rr16, 1, MAX_Q4);
    const int64_t d16 = clamp64(irregularity16, 0, MAX_Q4);
    const int64_t second16 = (int64_t)TINYECG_FS * PATIENT_ONE; /* 1 s in Q4 samples */
    if (params->rhythm_features != TINYECG_DSP_LONGTERM_FEATURES) {
        return; /* the model's rhythm input is not the long-term set */
    }
    out[0] = ratio_quant(PATIENT_ONE * pre, a16, ratio, zp);          /* pre / A */
    out[1] = ratio_quant(PATIENT_ONE * post, a16, ratio, zp);         /* post / A */
    out[2] = ratio_quant(PATIENT_ONE * lsum, count * a16, ratio, zp); /* local / A */
    out[3] = ratio_quant(pre * count, lsum, ratio, zp);               /* pre / local */
    out[4] = ratio_quant(post, pre, ratio, zp);                       /* post / pre */
    out[5] = ratio_quant(a16, second16, ratio, zp);                   /* A in s */
    out[6] = ratio_quant(d16, a16, ratio, zp);                        /* D / A */
    out[7] = ratio_quant(pre, TINYECG_FS, ratio, zp);                 /* pre in s */
}
