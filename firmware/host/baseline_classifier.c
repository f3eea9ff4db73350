/* baseline_classifier.c - see baseline_classifier.h. */
#include "baseline_classifier.h"

#include "tinyecg_beats.h"

#define WIDE_SAMPLES 24  /* 67 ms at 360 Hz above 40 % of the peak: wide QRS */
#define LEVEL_Q7 51      /* 40 % of 127 */
#define PREMATURE_Q6 56  /* 7/8 in Q6 (64 = 1.0) */
#define QRS_HALF 36      /* look +-100 ms around the R-peak for the QRS */

static const char *const labels[3] = {"N", "S", "V"};

static int8_t clamp8(int32_t v)
{
    return (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
}

void baseline_preprocess_window(const int16_t *raw, int8_t *out)
{
    int32_t sum = 0, mean, peak = 1;
    int i;
    for (i = 0; i < TINYECG_WINDOW; i++) {
        sum += raw[i];
    }
    mean = sum / TINYECG_WINDOW;
    for (i = 0; i < TINYECG_WINDOW; i++) {
        int32_t a = raw[i] - mean;
        a = a < 0 ? -a : a;
        peak = a > peak ? a : peak;
    }
    for (i = 0; i < TINYECG_WINDOW; i++) {
        out[i] = clamp8(((raw[i] - mean) * 127) / peak);
    }
}

void baseline_rhythm_features(const tinyecg_rr_t *rr, int8_t *out)
{
    /* pre_rr / local_rr and post_rr / local_rr in Q6 */
    out[0] = clamp8((rr->pre_rr * 64 * rr->local_rr_count) / rr->local_rr_sum);
    out[1] = clamp8((rr->post_rr * 64 * rr->local_rr_count) / rr->local_rr_sum);
}

static int classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                    int8_t *scores_q)
{
    int i, above = 0, cls;
    (void)ctx;
    for (i = TINYECG_PRE_R - QRS_HALF; i < TINYECG_PRE_R + QRS_HALF; i++) {
        int v = window_q[i] < 0 ? -window_q[i] : window_q[i];
        above += v >= LEVEL_Q7;
    }
    if (above > WIDE_SAMPLES) {
        cls = 2;
    } else if (rhythm_q[0] < PREMATURE_Q6) {
        cls = 1;
    } else {
        cls = 0;
    }
    for (i = 0; i < 3; i++) {
        scores_q[i] = (int8_t)(i == cls ? 127 : -128);
    }
    return 0;
}

const tinyecg_classifier_t baseline_classifier = {
    classify, 0, 3, 2, labels, "baseline-rules",
};
