/*
 * app_model.c - binds the generated files of `tinyecg export --runtime c` to the firmware
 * core: preprocessing callbacks, the C backend as a tinyecg_classifier_t, and the golden
 * self-test. See app_model.h. C99, no heap, no floating point.
 */
#include "app_model.h"

#include "platform.h"
#include "tinyecg_golden.h"     /* tinyecg_golden[], TINYECG_GOLDEN_COUNT */
#include "tinyecg_model_meta.h" /* tinyecg_labels[], TINYECG_NUM_LABELS, TINYECG_MODEL_HASH */
#include "tinyecg_preprocess_params.h" /* tinyecg_model_preprocess (tinyecg_dsp.h) */
#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_CBACKEND
#include "tinyecg_model.h" /* tinyecg_model_invoke() */
#endif

#if TINYECG_WINDOW != 360
#error "the firmware core and the generated preprocessing disagree on the window length"
#endif
#if TINYECG_NUM_LABELS > TINYECG_MAX_CLASSES
#error "more labels than the core's score buffer (TINYECG_MAX_CLASSES)"
#endif
#if TINYECG_RHYTHM_FEATURES > TINYECG_MAX_RHYTHM
#error "more rhythm features than the core's buffer (TINYECG_MAX_RHYTHM)"
#endif

/* ADC calibration of the lead (app_model.h): mV = (adc - baseline) / gain. */
static const tinyecg_adc_t adc_calibration = {
    (int16_t)TINYECG_ADC_BASELINE,  /* ADC counts at 0 mV */
    (uint16_t)TINYECG_ADC_GAIN,     /* ADC counts per mV */
};

void app_model_window(const int16_t *raw, int8_t *out)
{
    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc_calibration, out);
}

void app_model_rhythm(const tinyecg_rr_t *rr, int8_t *out)
{
#if TINYECG_RHYTHM_FEATURES > 0
    tinyecg_rhythm_features(&tinyecg_model_preprocess, rr->pre_rr, rr->post_rr, rr->local_rr_sum,
                            rr->local_rr_count, out);
#else
    (void)rr;
    (void)out;
#endif
}

const char *app_model_hash(void)
{
    return TINYECG_MODEL_HASH;
}

/* ---- the classifier ---- */

#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_CBACKEND

#if TINYECG_MODEL_OUTPUT_SIZE != TINYECG_NUM_LABELS
#error "tinyecg_model.h and tinyecg_model_meta.h disagree on the number of classes"
#endif
#ifndef TINYECG_MODEL_BEAT_INPUT
#error "tinyecg_model.h does not say which input is the beat window"
#endif

/* The C backend takes its inputs in flatbuffer order; the core hands over the beat window
 * and the rhythm features, so route each to its slot (TINYECG_MODEL_*_INPUT). */
static int cbackend_classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                             int8_t *scores_q)
{
    const int8_t *in[2] = {NULL, NULL};
    (void)ctx;
    in[TINYECG_MODEL_BEAT_INPUT] = window_q;
#ifdef TINYECG_MODEL_RHYTHM_INPUT
    in[TINYECG_MODEL_RHYTHM_INPUT] = rhythm_q;
#else
    (void)rhythm_q;
#endif
    return tinyecg_model_invoke(in[0], in[1], scores_q);
}

static const tinyecg_classifier_t cbackend_classifier = {
    cbackend_classify,
    NULL,
    TINYECG_NUM_LABELS,
    TINYECG_RHYTHM_FEATURES,
    tinyecg_labels,
    "cbackend",
};

const tinyecg_classifier_t *app_model_classifier(void)
{
    return &cbackend_classifier;
}

const char *app_model_classifier_name(void)
{
    return "cbackend";
}

#else /* TINYECG_CLASSIFIER_NONE */

const tinyecg_classifier_t *app_model_classifier(void)
{
    return NULL;
}

const char *app_model_classifier_name(void)
{
    return "none";
}

#endif

/* ---- golden self-test ---- */

static int same_bytes(const int8_t *a, const int8_t *b, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

static uint8_t max_abs_diff(const int8_t *a, const int8_t *b, int n)
{
    int i, worst = 0;
    for (i = 0; i < n; i++) {
        int d = (int)a[i] - (int)b[i];
        if (d < 0) {
            d = -d;
        }
        if (d > worst) {
            worst = d;
        }
    }
    return (uint8_t)worst;
}

/* one result per golden vector */
static app_selftest_vector_t results[TINYECG_GOLDEN_COUNT];

int app_selftest_run(app_selftest_t *res, int8_t *window_q)
{
    int8_t rhythm_q[TINYECG_RHYTHM_FEATURES > 0 ? TINYECG_RHYTHM_FEATURES : 1];
    int8_t scores_q[TINYECG_NUM_LABELS];
    const tinyecg_classifier_t *c = app_model_classifier();
    int i;
    res->count = TINYECG_GOLDEN_COUNT;
    res->window_ok = 0;
    res->rhythm_ok = 0;
    res->output_ok = 0;
    res->outputs_checked = c != NULL;
    res->v = results;
    for (i = 0; i < TINYECG_GOLDEN_COUNT; i++) {
        const tinyecg_golden_t *g = &tinyecg_golden[i];
        app_selftest_vector_t *v = &results[i];
        uint64_t t0 = platform_instructions();
        uint64_t t1;
        unsigned ok = 0u;
        tinyecg_preprocess_window(&tinyecg_model_preprocess, g->raw, &g->adc, window_q);
        t1 = platform_instructions();
        v->pre_instr = (uint32_t)(t1 - t0);
        if (same_bytes(window_q, g->beat, TINYECG_WINDOW)) {
            ok |= APP_SELFTEST_WINDOW_OK;
        }
#if TINYECG_RHYTHM_FEATURES > 0
        t0 = platform_instructions();
        tinyecg_rhythm_features(&tinyecg_model_preprocess, g->pre_rr, g->post_rr,
                                g->local_rr_sum, g->local_rr_count, rhythm_q);
        t1 = platform_instructions();
        v->rhythm_instr = (uint16_t)(t1 - t0 > 0xFFFFu ? 0xFFFFu : t1 - t0);
        if (same_bytes(rhythm_q, g->rhythm, TINYECG_RHYTHM_FEATURES)) {
            ok |= APP_SELFTEST_RHYTHM_OK;
        }
#else
        rhythm_q[0] = 0;
        v->rhythm_instr = 0u;
        ok |= APP_SELFTEST_RHYTHM_OK;
#endif
        v->inf_instr = 0u;
        v->max_diff = 0u;
        if (c != NULL) {
            int rc;
            /* the golden inputs, not ours: a preprocessing fault cannot hide a model fault */
#if TINYECG_RHYTHM_FEATURES > 0
            const int8_t *rhythm_in = g->rhythm;
#else
            const int8_t *rhythm_in = rhythm_q;
#endif
            t0 = platform_instructions();
            rc = c->classify(c->ctx, g->beat, rhythm_in, scores_q);
            t1 = platform_instructions();
            v->inf_instr = (uint32_t)(t1 - t0);
            v->max_diff = max_abs_diff(scores_q, g->output, TINYECG_NUM_LABELS);
            if (rc == 0 && v->max_diff == 0u) {
                ok |= APP_SELFTEST_OUTPUT_OK;
            }
        } else {
            ok |= APP_SELFTEST_OUTPUT_OK;
        }
        v->ok = (uint8_t)ok;
        res->window_ok += (ok & APP_SELFTEST_WINDOW_OK) != 0u;
        res->rhythm_ok += (ok & APP_SELFTEST_RHYTHM_OK) != 0u;
        res->output_ok += (ok & APP_SELFTEST_OUTPUT_OK) != 0u;
    }
    res->passed = res->window_ok == res->count && res->rhythm_ok == res->count &&
                  res->output_ok == res->count;
    return res->passed;
}

static void put_kv(app_write_fn write, void *ctx, const char *key, uint64_t value)
{
    char buf[21];
    write(ctx, key);
    write(ctx, app_fmt_u64(buf, value));
}

static const char *ok_text(unsigned ok)
{
    return ok ? "ok" : "FAIL";
}

void app_selftest_print(const app_selftest_t *res, app_write_fn write, void *ctx)
{
    int i;
    char buf[21];
    for (i = 0; i < res->count; i++) {
        const app_selftest_vector_t *v = &res->v[i];
        const tinyecg_golden_t *g = &tinyecg_golden[i];
        write(ctx, "# selftest ");
        write(ctx, app_fmt_u64(buf, (uint64_t)i));
        write(ctx, " record=");
        write(ctx, g->record);
        put_kv(write, ctx, " r=", g->r_sample);
        write(ctx, " window=");
        write(ctx, ok_text(v->ok & APP_SELFTEST_WINDOW_OK));
        write(ctx, " rhythm=");
        write(ctx, TINYECG_RHYTHM_FEATURES > 0 ? ok_text(v->ok & APP_SELFTEST_RHYTHM_OK) : "-");
        write(ctx, " output=");
        write(ctx, res->outputs_checked ? ok_text(v->ok & APP_SELFTEST_OUTPUT_OK) : "-");
        put_kv(write, ctx, " maxdiff=", v->max_diff);
        put_kv(write, ctx, " pre_instr=", v->pre_instr);
        put_kv(write, ctx, " rhythm_instr=", v->rhythm_instr);
        put_kv(write, ctx, " inf_instr=", v->inf_instr);
        write(ctx, "\n");
    }
    write(ctx, "# selftest ");
    write(ctx, res->passed ? "pass" : "FAIL");
    put_kv(write, ctx, " vectors=", (uint64_t)res->count);
    put_kv(write, ctx, " window=", (uint64_t)res->window_ok);
    put_kv(write, ctx, " rhythm=", (uint64_t)res->rhythm_ok);
    if (res->outputs_checked) {
        put_kv(write, ctx, " output=", (uint64_t)res->output_ok);
    } else {
        write(ctx, " output=-");
    }
    write(ctx, " classifier=");
    write(ctx, app_model_classifier_name());
    write(ctx, "\n");
}

char *app_fmt_u64(char *buf, uint64_t v)
{
    char tmp[21];
    int n = 0, i = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        buf[i++] = tmp[--n];
    }
    buf[i] = '\0';
    return buf;
}
