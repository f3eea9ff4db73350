/*
 * tinyecg_fw_app.c - the core instance and its inputs (see tinyecg_fw_app.h).
 */
#include "tinyecg_fw_app.h"

#include <string.h>

#include "ecg_config.h"
#include "tinyecg_fw_model.h"

static tinyecg_app_t app;
static tinyecg_fw_ring_t ring;
static tinyecg_fw_cmdfilter_t cmdfilter;
static int mode = TINYECG_INPUT_SERIAL;
static int32_t adc_min = TINYECG_ADC_MIN, adc_max = TINYECG_ADC_MAX;
static uint32_t overruns_reported;
static tinyecg_fw_write_fn out_write;
static void *out_ctx;
static uint8_t got_input;        /* serial bytes since the last tick */
static uint32_t last_input_ms;   /* tick time of the last serial input */

#ifndef TINYECG_REPLAY_IDLE_MS
#define TINYECG_REPLAY_IDLE_MS 1000u /* replay: this long without a byte = input stopped */
#endif

tinyecg_app_t *tinyecg_fw_app(void)
{
    return &app;
}

int tinyecg_fw_app_start(int input_mode, const tinyecg_classifier_t *classifier,
                         unsigned outputs, tinyecg_fw_write_fn write, void *write_ctx,
                         uint32_t (*clock_us)(void *ctx), void *clock_ctx)
{
    tinyecg_app_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    mode = input_mode;
    out_write = write;
    out_ctx = write_ctx;
    if (input_mode == TINYECG_INPUT_ADC) {
        /* live AD8232 front end (ecg_config.h) */
        tinyecg_fw_model_set_adc((int16_t)TINYECG_ADC_BASELINE,
                                 (uint16_t)TINYECG_ADC_GAIN_ADU_PER_MV);
        cfg.adc_min = TINYECG_ADC_MIN;
        cfg.adc_max = TINYECG_ADC_MAX;
        cfg.flat_tolerance = TINYECG_ADC_FLAT_TOLERANCE;
    } else {
        /* MIT-BIH digital samples sent by the host */
        tinyecg_fw_model_set_adc((int16_t)TINYECG_REPLAY_BASELINE,
                                 (uint16_t)TINYECG_REPLAY_GAIN_ADU_PER_MV);
        cfg.adc_min = TINYECG_REPLAY_ADC_MIN;
        cfg.adc_max = TINYECG_REPLAY_ADC_MAX;
        cfg.flat_tolerance = TINYECG_REPLAY_FLAT_TOLERANCE;
    }
    adc_min = cfg.adc_min;
    adc_max = cfg.adc_max;
    cfg.preprocess_window = tinyecg_fw_model_window;
    cfg.rhythm_features = tinyecg_fw_model_rhythm;
    cfg.classifier = classifier;
    cfg.write = write;
    cfg.write_ctx = write_ctx;
    cfg.clock_us = clock_us;
    cfg.clock_ctx = clock_ctx;
    cfg.outputs = outputs;
    tinyecg_fw_ring_init(&ring);
    tinyecg_fw_cmdfilter_init(&cmdfilter);
    overruns_reported = 0;
    got_input = 0;
    last_input_ms = 0;
    if (tinyecg_app_init(&app, &cfg) != 0) {
        if (write != NULL) {
            write(write_ctx, "# error: invalid core configuration (ADC range, classifier)\n");
        }
        return -1;
    }
    return 0;
}

static void feed_command(void *ctx, const char *line, size_t len)
{
    tinyecg_app_feed((tinyecg_app_t *)ctx, line, len);
}

void tinyecg_fw_app_serial(const char *data, size_t len)
{
    got_input = 1;
    if (mode == TINYECG_INPUT_ADC) {
        tinyecg_fw_cmdfilter_feed(&cmdfilter, data, len, feed_command, &app);
    } else {
        tinyecg_app_feed(&app, data, len);
    }
}

void tinyecg_fw_app_adc(int32_t reading, int lead_off)
{
    (void)tinyecg_fw_ring_push(&ring, tinyecg_fw_adc_sample(reading, lead_off, adc_min, adc_max));
}

void tinyecg_fw_app_poll(void)
{
    int16_t s;
    uint32_t overruns;
    while (tinyecg_fw_ring_pop(&ring, &s)) {
        tinyecg_app_sample(&app, s);
    }
    overruns = tinyecg_fw_ring_overruns(&ring);
    if (overruns != overruns_reported && out_write != NULL) {
        char buf[12];
        overruns_reported = overruns;
        out_write(out_ctx, "# adc-overrun ");
        out_write(out_ctx, tinyecg_fw_itoa((int32_t)overruns, buf));
        out_write(out_ctx, "\n");
    }
}

void tinyecg_fw_app_tick(uint32_t now_ms)
{
    if (mode != TINYECG_INPUT_SERIAL) {
        return; /* ADC mode: the sampling timer keeps the samples coming */
    }
    if (got_input) {
        got_input = 0;
        last_input_ms = now_ms;
    } else if (now_ms - last_input_ms >= TINYECG_REPLAY_IDLE_MS) {
        tinyecg_app_input_stalled(&app); /* reports once until samples come back */
    }
}
