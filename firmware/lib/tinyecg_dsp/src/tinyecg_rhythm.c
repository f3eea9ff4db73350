/*
 * tinyecg_rhythm.c - the RR context of a beat -> the model's int8 input "rhythm".
 *
 * Features as tinyecg.dsp.rhythm: pre/360, post/360, local/360 (seconds), pre/local,
 * post/local, with local = local_rr_sum / local_rr_count. Each is an exact fraction num/den
 * and becomes round(num / den * mult * 2^-shift) + zp, clamped to int8, with the multipliers
 * of params (1 / (360 s_r) for seconds, 1 / s_r for ratios). Python:
 * tinyecg/dsp/fixedpoint/rhythm.py (rhythm_features_int).
 */
#include "tinyecg_dsp_internal.h"

/* round(num / den * m.mult * 2^-m.shift) + zero point, clamped to int8 (num >= 0, den >= 1):
 * whole * mult + (rest * mult) / den with whole = num / den, then one rounding shift; a whole
 * part above limit saturates (which also keeps whole * mult inside int64). */
static int8_t rr_quant(int64_t num, int64_t den, const tinyecg_rr_multiplier_t *m,
                       int32_t zero_point)
{
    int64_t whole = num, rest = 0, q = 256; /* 256: saturates */
    if (den != 1) { /* seconds of one interval need no division */
        whole = num / den;
        rest = num % den;
    }
    if (whole <= m->limit) {
        const int64_t mult = m->m.mult;
        const int64_t acc = whole * mult + (rest != 0 ? (rest * mult) / den : 0);
        q = (acc + ((int64_t)1 << (m->m.shift - 1u))) >> m->m.shift;
    }
    q += zero_point; /* 0 <= q <= 256 before */
    return (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
}

void tinyecg_rhythm_features(const tinyecg_preprocess_params_t *params, int32_t pre_rr,
                             int32_t post_rr, int32_t local_rr_sum, int32_t local_rr_count,
                             int8_t out[TINYECG_DSP_RHYTHM_FEATURES])
{
    const tinyecg_rr_multiplier_t *const sec = &params->rhythm_seconds;
    const tinyecg_rr_multiplier_t *const ratio = &params->rhythm_ratio;
    const int32_t zp = params->rhythm_zero_point;
    const int64_t pre = pre_rr < 1 ? 1 : pre_rr;
    const int64_t post = post_rr < 1 ? 1 : post_rr;
    int64_t lsum = local_rr_sum, count = local_rr_count;
    if (params->rhythm_features == 0) {
        return; /* the model has no rhythm input */
    }
    if (count < 1) { /* no history: the local mean is pre_rr */
        lsum = pre;
        count = 1;
    } else if (lsum < count) {
        lsum = count;
    }
    out[0] = rr_quant(pre, 1, sec, zp);               /* pre_rr / 360 s */
    out[1] = rr_quant(post, 1, sec, zp);              /* post_rr / 360 s */
    out[2] = rr_quant(lsum, count, sec, zp);          /* local / 360 s */
    out[3] = rr_quant(pre * count, lsum, ratio, zp);  /* pre / local */
    out[4] = rr_quant(post * count, lsum, ratio, zp); /* post / local */
}
