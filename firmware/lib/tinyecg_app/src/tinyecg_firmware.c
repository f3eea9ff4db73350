/*
 * tinyecg_firmware.c - the firmware application (see tinyecg_firmware.h).
 */
#include "tinyecg_firmware.h"

#include <string.h>

#include "tinyecg_exported.h"

#if TINYECG_FS_HZ != TINYECG_FS
#error "TINYECG_FS_HZ must equal the core's TINYECG_FS (360 Hz, the MIT-BIH rate)"
#endif

#if defined(__GNUC__)
#define TINYECG_NOINLINE __attribute__((noinline))
#else
#define TINYECG_NOINLINE
#endif

/* The core's preprocessing callbacks carry no context: they reach the instance through this
 * (set by tinyecg_firmware_start; one instance per program). */
static tinyecg_firmware_t *active;

static void probe(const tinyecg_firmware_t *fw, int point, int entering)
{
    const tinyecg_probe_t *p = fw->cfg->probe;
    if (p != NULL) {
        if (entering) {
            p->enter(p->ctx, point);
        } else {
            p->leave(p->ctx, point);
        }
    }
}

static void preprocess_window(const int16_t *raw, int8_t *out)
{
    tinyecg_firmware_t *fw = active;
    probe(fw, TINYECG_PROBE_WINDOW, 1);
    tinyecg_exported_model()->window(raw, fw->adc_baseline, fw->adc_gain_adu_per_mv, out);
    probe(fw, TINYECG_PROBE_WINDOW, 0);
}

static void rhythm_features(const tinyecg_rr_t *rr, int8_t *out)
{
    tinyecg_firmware_t *fw = active;
    const tinyecg_exported_model_t *m = tinyecg_exported_model();
    if (m->rhythm != NULL) {
        probe(fw, TINYECG_PROBE_RHYTHM, 1);
        m->rhythm(rr, out);
        probe(fw, TINYECG_PROBE_RHYTHM, 0);
    }
}

static int gated_classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                          int8_t *scores_q)
{
    tinyecg_firmware_t *fw = (tinyecg_firmware_t *)ctx;
    int rc;
    if (!fw->enabled) {
        return -1; /* the core reports "# classify-error <r>" */
    }
    probe(fw, TINYECG_PROBE_CLASSIFY, 1);
    rc = fw->model->classify(fw->model->ctx, window_q, rhythm_q, scores_q);
    probe(fw, TINYECG_PROBE_CLASSIFY, 0);
    return rc;
}

static void put(const tinyecg_firmware_t *fw, const char *text)
{
    tinyecg_text_put(fw->cfg->write, fw->cfg->write_ctx, text);
}

#if TINYECG_RHYTHM
static int gated_rhythm_classify(void *ctx, const int8_t *window_q, int8_t *scores_q)
{
    tinyecg_firmware_t *fw = (tinyecg_firmware_t *)ctx;
    int rc;
    if (!fw->rhythm_enabled) {
        return -1; /* the core prints "# rhythm unreadable" and counts a rhythm error */
    }
    probe(fw, TINYECG_PROBE_RHYTHM_MODEL, 1);
    rc = fw->rhythm_model->classify(fw->rhythm_model->ctx, window_q, scores_q);
    probe(fw, TINYECG_PROBE_RHYTHM_MODEL, 0);
    return rc;
}

static int run_rhythm_selftest(tinyecg_firmware_t *fw)
{
    const tinyecg_firmware_config_t *cfg = fw->cfg;
    return tinyecg_rhythm_selftest_run(fw->rhythm_model, TINYECG_GOLDEN_TOLERANCE, cfg->cost,
                                       cfg->write, cfg->write_ctx, &fw->rhythm_selftest);
}

/* The rhythm classifier's start and golden self-test at boot, and what they decide: the same
 * rule as the beat classifier's (a model that fails is disabled with TINYECG_SELFTEST_STRICT;
 * its decisions are then "unreadable"). */
static TINYECG_NOINLINE void boot_rhythm(tinyecg_firmware_t *fw)
{
    const tinyecg_firmware_config_t *cfg = fw->cfg;
    int started = 0;
    memset(&fw->rhythm_selftest, 0, sizeof fw->rhythm_selftest);
    fw->rhythm_model = tinyecg_rhythm_classifier_start(cfg->write, cfg->write_ctx, &started);
    if (started) {
        (void)run_rhythm_selftest(fw);
    }
    fw->rhythm_enabled = started && (fw->rhythm_selftest.passed || !TINYECG_SELFTEST_STRICT);
    if (started && !fw->rhythm_enabled) {
        put(fw, "# error: rhythm self-test failed, disabled (TINYECG_SELFTEST_STRICT)\n");
    }
    fw->rhythm_gate = *fw->rhythm_model; /* name, hash, shockable output; classify() gated */
    fw->rhythm_gate.classify = gated_rhythm_classify;
    fw->rhythm_gate.ctx = fw;
}
#endif

/* the self-test on the core's window buffer, free between beats and before the core starts
 * (inlined into its two callers: one frame less under the preprocessing's at boot) */
static int run_selftest(tinyecg_firmware_t *fw)
{
    const tinyecg_firmware_config_t *cfg = fw->cfg;
    return tinyecg_selftest_run(tinyecg_exported_model(), fw->model, TINYECG_GOLDEN_TOLERANCE,
                                cfg->cost, fw->core.window_q, cfg->write, cfg->write_ctx,
                                &fw->selftest);
}

int tinyecg_firmware_selftest(tinyecg_firmware_t *fw)
{
    int passed;
    if (fw->model != NULL && !fw->classifier.started) {
        put(fw, "# selftest FAIL the classifier did not start\n");
        passed = 0;
    } else {
        passed = run_selftest(fw);
    }
#if TINYECG_RHYTHM
    passed = run_rhythm_selftest(fw) && passed;
#endif
    return passed;
}

int tinyecg_firmware_selftests_passed(const tinyecg_firmware_t *fw)
{
#if TINYECG_RHYTHM
    if (!fw->rhythm_selftest.passed) {
        return 0;
    }
#endif
    return fw->selftest.passed;
}

/* The golden self-test at boot, and what it decides. A function of its own, so that no
 * other frame's locals sit on the stack under the preprocessing's (the deepest call of the
 * firmware: the boot must not raise the stack's high-water mark above a beat's). */
static TINYECG_NOINLINE void boot_selftest(tinyecg_firmware_t *fw)
{
    if (fw->model == NULL || fw->classifier.started) {
        (void)run_selftest(fw); /* the preprocessing alone without a classifier */
    }
    fw->enabled = fw->classifier.started && (fw->selftest.passed || !TINYECG_SELFTEST_STRICT);
    if (fw->classifier.started && !fw->enabled) {
        put(fw, "# error: golden self-test failed, classifier disabled "
                "(TINYECG_SELFTEST_STRICT)\n");
    }
}

/* The core's configuration for the input mode, and the core's start (its info line). */
static TINYECG_NOINLINE int start_core(tinyecg_firmware_t *fw)
{
    const tinyecg_firmware_config_t *cfg = fw->cfg;
    tinyecg_app_config_t core;
    memset(&core, 0, sizeof core);
    core.preprocess_window = preprocess_window;
    core.rhythm_features = rhythm_features;
    core.write = cfg->write;
    core.write_ctx = cfg->write_ctx;
    core.clock_us = cfg->clock_us;
    core.clock_ctx = cfg->clock_ctx;
    core.adc_min = fw->adc_min;
    core.adc_max = fw->adc_max;
    core.flat_tolerance = cfg->input_mode == TINYECG_INPUT_ADC ? TINYECG_ADC_FLAT_TOLERANCE
                                                               : TINYECG_REPLAY_FLAT_TOLERANCE;
    core.outputs = cfg->outputs;
    if (fw->model != NULL) {
        fw->gate = *fw->model; /* labels, sizes and name; classify() goes through the gate */
        fw->gate.classify = gated_classify;
        fw->gate.ctx = fw;
        core.classifier = &fw->gate;
        core.outputs |= TINYECG_OUT_BEATS;
    } else {
        core.outputs |= TINYECG_OUT_PEAKS;
    }
#if TINYECG_RHYTHM
    /* the rhythm task reads the samples with the input mode's calibration, as the beats do */
    if (tinyecg_rhythm_task_setup(&fw->rhythm, &fw->rhythm_gate, fw->adc_baseline,
                                  fw->adc_gain_adu_per_mv) == 0) {
        core.rhythm = &fw->rhythm;
    }
#endif
    if (tinyecg_app_init(&fw->core, &core) != 0) {
        put(fw, "# error: invalid core configuration (ADC range, classifier)\n");
        return -1;
    }
    return 0;
}

/* Everything but the classifier's status (which boot() has just filled), and the boot. */
static int begin(tinyecg_firmware_t *fw, const tinyecg_firmware_config_t *cfg,
                 const tinyecg_classifier_t *classifier)
{
    memset(&fw->core, 0, sizeof fw->core);
    memset(&fw->gate, 0, sizeof fw->gate);
    memset(&fw->selftest, 0, sizeof fw->selftest);
    fw->cfg = cfg;
    fw->model = classifier;
    fw->enabled = 0;
    fw->classifier.started = classifier != NULL && fw->classifier.started;
    fw->overruns_reported = 0u;
    fw->last_input_ms = 0u;
    fw->got_input = 0u;
    active = fw;
    if (cfg->input_mode == TINYECG_INPUT_ADC) {
        /* live AD8232 front end (ecg_config.h) */
        fw->adc_baseline = (int16_t)TINYECG_ADC_BASELINE;
        fw->adc_gain_adu_per_mv = (uint16_t)TINYECG_ADC_GAIN_ADU_PER_MV;
        fw->adc_min = TINYECG_ADC_MIN;
        fw->adc_max = TINYECG_ADC_MAX;
    } else {
        /* MIT-BIH digital samples sent by the host */
        fw->adc_baseline = (int16_t)TINYECG_REPLAY_BASELINE;
        fw->adc_gain_adu_per_mv = (uint16_t)TINYECG_REPLAY_GAIN_ADU_PER_MV;
        fw->adc_min = TINYECG_REPLAY_ADC_MIN;
        fw->adc_max = TINYECG_REPLAY_ADC_MAX;
    }
    if (cfg->ring != NULL) {
        tinyecg_sample_ring_init(cfg->ring);
    }
    if (cfg->commands != NULL) {
        tinyecg_command_filter_init(cfg->commands);
    }
    boot_selftest(fw);
#if TINYECG_RHYTHM
    boot_rhythm(fw);
#endif
    return start_core(fw);
}

int tinyecg_firmware_start(tinyecg_firmware_t *fw, const tinyecg_firmware_config_t *cfg,
                           const tinyecg_classifier_t *classifier, int started)
{
    memset(&fw->classifier, 0, sizeof fw->classifier);
    fw->classifier.runtime = classifier != NULL && classifier->name != NULL ? classifier->name
                                                                            : "none";
    fw->classifier.started = started;
    return begin(fw, cfg, classifier);
}

int tinyecg_firmware_boot(tinyecg_firmware_t *fw, const tinyecg_firmware_config_t *cfg)
{
    const tinyecg_exported_model_t *m = tinyecg_exported_model();
    const tinyecg_classifier_t *classifier;
    tinyecg_text_put(cfg->write, cfg->write_ctx, "# tinyecg firmware board=");
    tinyecg_text_put(cfg->write, cfg->write_ctx, cfg->board != NULL ? cfg->board : "unknown");
    tinyecg_text_put(cfg->write, cfg->write_ctx,
                     cfg->input_mode == TINYECG_INPUT_ADC ? " input=adc" : " input=serial");
    tinyecg_text_put(cfg->write, cfg->write_ctx, " model=");
    tinyecg_text_put(cfg->write, cfg->write_ctx, m->exporter_version);
    tinyecg_text_put(cfg->write, cfg->write_ctx, " export=");
    tinyecg_text_put(cfg->write, cfg->write_ctx, m->runtime);
    tinyecg_text_put(cfg->write, cfg->write_ctx, "\n");
    classifier = tinyecg_classifier_start(cfg->write, cfg->write_ctx, &fw->classifier);
    return begin(fw, cfg, classifier);
}

static void feed_command(void *ctx, const char *line, size_t len)
{
    tinyecg_app_feed((tinyecg_app_t *)ctx, line, len);
}

void tinyecg_firmware_serial(tinyecg_firmware_t *fw, const char *data, size_t len)
{
    fw->got_input = 1;
    if (fw->cfg->input_mode == TINYECG_INPUT_ADC) {
        if (fw->cfg->commands != NULL) {
            tinyecg_command_filter_feed(fw->cfg->commands, data, len, feed_command, &fw->core);
        }
    } else {
        tinyecg_app_feed(&fw->core, data, len);
    }
}

int16_t tinyecg_firmware_adc_sample(int32_t reading, int lead_off, int32_t adc_min,
                                    int32_t adc_max)
{
    int32_t v = lead_off ? adc_max : reading;
    v = v < adc_min ? adc_min : (v > adc_max ? adc_max : v);
    return (int16_t)v;
}

void tinyecg_firmware_adc(tinyecg_firmware_t *fw, int32_t reading, int lead_off)
{
    if (fw->cfg->ring != NULL) {
        (void)tinyecg_sample_ring_push(
            fw->cfg->ring, tinyecg_firmware_adc_sample(reading, lead_off, fw->adc_min, fw->adc_max));
    }
}

void tinyecg_firmware_poll(tinyecg_firmware_t *fw)
{
    int16_t s;
    uint32_t overruns;
    if (fw->cfg->ring == NULL) {
        return; /* replay mode: the samples come with the serial bytes */
    }
    while (tinyecg_sample_ring_pop(fw->cfg->ring, &s)) {
        tinyecg_app_sample(&fw->core, s);
    }
    overruns = tinyecg_sample_ring_overruns(fw->cfg->ring);
    if (overruns != fw->overruns_reported) {
        fw->overruns_reported = overruns;
        put(fw, "# adc-overrun ");
        tinyecg_text_put_uint64(fw->cfg->write, fw->cfg->write_ctx, overruns);
        put(fw, "\n");
    }
}

void tinyecg_firmware_tick(tinyecg_firmware_t *fw, uint32_t now_ms)
{
    if (fw->cfg->input_mode != TINYECG_INPUT_SERIAL) {
        return; /* ADC mode: the sampling timer keeps the samples coming */
    }
    if (fw->got_input) {
        fw->got_input = 0;
        fw->last_input_ms = now_ms;
    } else if (now_ms - fw->last_input_ms >= TINYECG_REPLAY_IDLE_MS) {
        tinyecg_app_input_stalled(&fw->core); /* reports once until samples come back */
    }
}
