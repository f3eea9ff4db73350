/*
 * tinyecg_exported.c - the generated model files, read through tinyecg_exported.h.
 * The only file of the application that names the exporter's data symbols; it compiles
 * against an export for either runtime (the TFLM one adds tinyecg_model_data.c and the op
 * resolver, the C one tinyecg_model.c; neither is needed here).
 */
#include "tinyecg_exported.h"

#include <stddef.h>

#include "tinyecg_classifier.h"        /* TINYECG_MAX_CLASSES, TINYECG_MAX_RHYTHM */
#include "tinyecg_golden.h"            /* tinyecg_golden[], TINYECG_GOLDEN_COUNT */
#include "tinyecg_model_meta.h"        /* labels, tensor quantization, hash, version */
#include "tinyecg_preprocess_params.h" /* tinyecg_model_preprocess (tinyecg_dsp.h) */

#if TINYECG_WINDOW != 360
#error "the firmware core and the model disagree on the window length"
#endif
#if TINYECG_NUM_LABELS > TINYECG_MAX_CLASSES
#error "more labels than the core's score buffer (TINYECG_MAX_CLASSES)"
#endif
#if TINYECG_RHYTHM_FEATURES > TINYECG_MAX_RHYTHM
#error "more rhythm features than the core's buffer (TINYECG_MAX_RHYTHM)"
#endif
#ifdef TINYECG_BEAT_CHANNELS /* a patient-context model: the core must keep the patient */
#if !TINYECG_PATIENT_CONTEXT
#error "a patient-context model (2 beat channels): build with TINYECG_PATIENT_CONTEXT=1"
#endif
#if TINYECG_INPUT_BEAT_ELEMENTS != 720u
#error "tinyecg_model_meta.h: the beat input is not 360 values of 2 channels"
#endif
#else
#if TINYECG_PATIENT_CONTEXT
#error "TINYECG_PATIENT_CONTEXT=1 but the model is not a patient-context model (re-export)"
#endif
#if TINYECG_INPUT_BEAT_ELEMENTS != 360u
#error "tinyecg_model_meta.h: the beat input is not 360 values"
#endif
#endif

static void golden_vector(int index, tinyecg_golden_vector_t *v)
{
    const tinyecg_golden_t *g = &tinyecg_golden[index];
    v->record = g->record;
    v->r_sample = g->r_sample;
    v->label = g->label < TINYECG_NUM_LABELS ? tinyecg_labels[g->label] : NULL;
    v->raw = g->raw;
    v->baseline = g->adc.baseline;
    v->gain_adu_per_mv = g->adc.gain_adu_per_mv;
    v->rr.pre_rr = g->pre_rr;
    v->rr.post_rr = g->post_rr;
    v->rr.local_rr_sum = g->local_rr_sum;
    v->rr.local_rr_count = g->local_rr_count;
#if TINYECG_PATIENT_CONTEXT
    v->rr.mean_rr16 = g->mean_rr16;
    v->rr.irregularity16 = g->irregularity16;
#endif
    v->input = g->beat;
#if TINYECG_RHYTHM_FEATURES > 0
    v->rhythm = g->rhythm;
#else
    v->rhythm = NULL;
#endif
    v->output = g->output;
}

static void window_with(const int16_t *raw, int16_t baseline, uint16_t gain_adu_per_mv,
                        int8_t *out)
{
    tinyecg_adc_t adc;
    adc.baseline = baseline;
    adc.gain_adu_per_mv = gain_adu_per_mv;
    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc, out);
}

#if TINYECG_PATIENT_CONTEXT
static void rhythm_of(const tinyecg_rr_t *rr, int8_t *out)
{
    tinyecg_longterm_features(&tinyecg_model_preprocess, rr->pre_rr, rr->post_rr,
                              rr->local_rr_sum, rr->local_rr_count, rr->mean_rr16,
                              rr->irregularity16, out);
}
#elif TINYECG_RHYTHM_FEATURES > 0
static void rhythm_of(const tinyecg_rr_t *rr, int8_t *out)
{
    tinyecg_rhythm_features(&tinyecg_model_preprocess, rr->pre_rr, rr->post_rr, rr->local_rr_sum,
                            rr->local_rr_count, out);
}
#endif

static const tinyecg_exported_model_t exported = {
    TINYECG_MODEL_HASH,
    TINYECG_VERSION,
    TINYECG_RUNTIME,
    TINYECG_MODEL_BYTES,
    TINYECG_NUM_LABELS,
    TINYECG_RHYTHM_FEATURES,
    tinyecg_labels,
    {
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
    },
    TINYECG_GOLDEN_COUNT,
    golden_vector,
    window_with,
#if TINYECG_RHYTHM_FEATURES > 0
    rhythm_of,
#else
    NULL,
#endif
};

const tinyecg_exported_model_t *tinyecg_exported_model(void)
{
    return &exported;
}
