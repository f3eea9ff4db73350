/*
 * tinyecg_fw_model.c - the generated model files, read through tinyecg_fw_model.h.
 * C99, valid C++; the only C file that names the exporter's symbols.
 */
#include "tinyecg_fw_model.h"

#include <stddef.h>

#include "tinyecg_model_files.h"

#if TINYECG_WINDOW != 360
#error "the firmware core and the model disagree on the window length"
#endif
#if TINYECG_NUM_LABELS > TINYECG_MAX_CLASSES
#error "more labels than the core's score buffer (TINYECG_MAX_CLASSES)"
#endif
#if TINYECG_RHYTHM_FEATURES > TINYECG_MAX_RHYTHM
#error "more rhythm features than the core's buffer (TINYECG_MAX_RHYTHM)"
#endif
#if TINYECG_INPUT_BEAT_ELEMENTS != 360u
#error "tinyecg_model_meta.h: the beat input is not 360 values"
#endif

static const tinyecg_fw_expect_t expect = {
    TINYECG_INPUT_BEAT_ELEMENTS,
    {TINYECG_INPUT_BEAT_SCALE_MANT, TINYECG_INPUT_BEAT_SCALE_EXP},
    TINYECG_INPUT_BEAT_ZERO_POINT,
#if TINYECG_RHYTHM_FEATURES > 0
    TINYECG_INPUT_RHYTHM_ELEMENTS,
    {TINYECG_INPUT_RHYTHM_SCALE_MANT, TINYECG_INPUT_RHYTHM_SCALE_EXP},
    TINYECG_INPUT_RHYTHM_ZERO_POINT,
#else
    0,
    {0, 0},
    0,
#endif
    TINYECG_OUTPUT_ELEMENTS,
    {TINYECG_OUTPUT_SCALE_MANT, TINYECG_OUTPUT_SCALE_EXP},
    TINYECG_OUTPUT_ZERO_POINT,
};

static void golden_get(int index, tinyecg_fw_vector_t *v)
{
    const tinyecg_golden_t *g = &tinyecg_golden[index];
    v->raw = g->raw;
    v->baseline = g->adc.baseline;
    v->gain_adu_per_mv = g->adc.gain_adu_per_mv;
    v->rr.pre_rr = g->pre_rr;
    v->rr.post_rr = g->post_rr;
    v->rr.local_rr_sum = g->local_rr_sum;
    v->rr.local_rr_count = g->local_rr_count;
    v->input = g->beat;
#if TINYECG_RHYTHM_FEATURES > 0
    v->rhythm = g->rhythm;
#else
    v->rhythm = NULL;
#endif
    v->output = g->output;
    v->label = g->label < TINYECG_NUM_LABELS ? tinyecg_labels[g->label] : NULL;
}

static const tinyecg_fw_golden_t golden = {
    TINYECG_GOLDEN_COUNT,
    TINYECG_RHYTHM_FEATURES,
    TINYECG_NUM_LABELS,
    golden_get,
};

static void window_with(const int16_t *raw, int16_t baseline, uint16_t gain, int8_t *out)
{
    tinyecg_adc_t adc;
    adc.baseline = baseline;
    adc.gain_adu_per_mv = gain;
    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc, out);
}

void tinyecg_fw_model_rhythm(const tinyecg_rr_t *rr, int8_t *out)
{
#if TINYECG_RHYTHM_FEATURES > 0
    tinyecg_rhythm_features(&tinyecg_model_preprocess, rr->pre_rr, rr->post_rr, rr->local_rr_sum,
                            rr->local_rr_count, out);
#else
    (void)rr;
    (void)out;
#endif
}

static const tinyecg_fw_preprocess_t preprocess = {
    window_with,
#if TINYECG_RHYTHM_FEATURES > 0
    tinyecg_fw_model_rhythm,
#else
    NULL,
#endif
};

static tinyecg_adc_t active_adc = {0, 1};

void tinyecg_fw_model_set_adc(int16_t baseline, uint16_t gain_adu_per_mv)
{
    active_adc.baseline = baseline;
    active_adc.gain_adu_per_mv = gain_adu_per_mv;
}

void tinyecg_fw_model_window(const int16_t *raw, int8_t *out)
{
    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &active_adc, out);
}

const tinyecg_fw_expect_t *tinyecg_fw_model_expect(void)
{
    return &expect;
}

const tinyecg_fw_golden_t *tinyecg_fw_model_golden(void)
{
    return &golden;
}

const tinyecg_fw_preprocess_t *tinyecg_fw_model_preprocess(void)
{
    return &preprocess;
}

const char *const *tinyecg_fw_model_labels(void)
{
    return tinyecg_labels;
}

int tinyecg_fw_model_n_classes(void)
{
    return TINYECG_NUM_LABELS;
}

int tinyecg_fw_model_n_rhythm(void)
{
    return TINYECG_RHYTHM_FEATURES;
}

const char *tinyecg_fw_model_sha256(void)
{
    return tinyecg_model_sha256;
}

const char *tinyecg_fw_model_version(void)
{
    return TINYECG_VERSION;
}

uint32_t tinyecg_fw_model_bytes(void)
{
    return (uint32_t)tinyecg_model_data_len;
}
