/*
 * tinyecg_firmware.h - the tinyecg firmware application, the same on every target: the boards
 * (src/main.cpp, Arduino) and the QEMU target (targets/mps2-an386/board) only add a board
 * layer that moves serial bytes, ADC readings and the time in here.
 *
 *   tinyecg_firmware_boot()    the first line "# tinyecg firmware board=... classifier=...",
 *                              the build's classifier started and checked against the
 *                              export (tinyecg_classifiers.h), the golden self-test
 *                              (tinyecg_selftest.h; a failure disables the classifier with
 *                              TINYECG_SELFTEST_STRICT), with TINYECG_RHYTHM the rhythm
 *                              classifier and its self-test (tinyecg_rhythm_app.h), then the
 *                              core's protocol instance and its "# tinyecg ..." line
 *   tinyecg_firmware_serial()  bytes from the serial port: the whole protocol in replay mode;
 *                              in ADC mode only the '#' command lines
 *   tinyecg_firmware_adc()     one ADC reading + the lead-off pins, from the sampling
 *                              interrupt or thread (producer side of the sample ring)
 *   tinyecg_firmware_poll()    from the main loop: ring -> core (consumer side); reports
 *                              "# adc-overrun <n>" when the ring overflowed
 *   tinyecg_firmware_tick()    from the main loop with the time in ms: in replay mode a line
 *                              silent for TINYECG_REPLAY_IDLE_MS (1 s) tells the core the
 *                              input stopped ("# input stopped" once, waiting beats out)
 * Every line the core writes (B, R-peak, status, ... whatever its protocol grows) passes
 * through the board's writer unchanged.
 *
 * Input mode, calibration, tolerance and strictness come from ecg_config.h. State: one
 * tinyecg_firmware_t that the board layer owns (static); the core's preprocessing callbacks
 * carry no context, so one instance per program. C99, valid C++.
 */
#ifndef TINYECG_FIRMWARE_H
#define TINYECG_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "ecg_config.h"
#include "tinyecg_app.h"
#include "tinyecg_classifiers.h"
#include "tinyecg_command_filter.h"
#include "tinyecg_rhythm_app.h"
#include "tinyecg_sample_ring.h"
#include "tinyecg_selftest.h"
#include "tinyecg_text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a probe is called: around the preprocessing of a window, of the RR features, and
 * around classify(); around the rhythm model's classify() (TINYECG_RHYTHM). */
#define TINYECG_PROBE_WINDOW 0
#define TINYECG_PROBE_RHYTHM 1
#define TINYECG_PROBE_CLASSIFY 2
#define TINYECG_PROBE_RHYTHM_MODEL 3
#define TINYECG_PROBE_POINTS 4

/* A board's measurement hooks (QEMU counts instructions in each step); optional. */
typedef struct {
    void (*enter)(void *ctx, int point);
    void (*leave)(void *ctx, int point);
    void *ctx;
} tinyecg_probe_t;

typedef struct {
    const char *board;  /* printed in the first line, e.g. "nano33ble", "mps2-an386" */
    int input_mode;     /* TINYECG_INPUT_SERIAL (replay) or TINYECG_INPUT_ADC */
    unsigned outputs;   /* extra core outputs (TINYECG_OUT_PEAKS, _RR, ...); the beat lines,
                           or without a classifier the R-peak lines, are always on */
    tinyecg_write_fn write; /* the serial port */
    void *write_ctx;
    uint32_t (*clock_us)(void *ctx); /* for the beat lines' inference_us (NULL: 0) */
    void *clock_ctx;
    const tinyecg_cost_counter_t *cost; /* the self-test's cost fields (NULL: none) */
    const tinyecg_probe_t *probe;       /* NULL: none */
    tinyecg_sample_ring_t *ring;        /* ADC mode: the sampling side's ring */
    tinyecg_command_filter_t *commands; /* ADC mode: assembles '#' lines */
} tinyecg_firmware_config_t;

typedef struct {
    tinyecg_app_t core;                /* the protocol instance (detector, beats, RR) */
    const tinyecg_firmware_config_t *cfg; /* the board's (static: it must outlive boot) */
    const tinyecg_classifier_t *model; /* the classifier that computes (NULL: none) */
    tinyecg_classifier_t gate;         /* what the core calls: model while enabled */
    int enabled;                       /* model runs (started, and self-test passed or lax) */
    tinyecg_classifier_status_t classifier;
    tinyecg_selftest_t selftest;       /* the boot self-test */
    int16_t adc_baseline;              /* calibration of the input mode */
    uint16_t adc_gain_adu_per_mv;
    int32_t adc_min, adc_max;
#if TINYECG_RHYTHM
    tinyecg_rhythm_task_t rhythm;      /* the core's rhythm task (front end, model input) */
    const tinyecg_rhythm_classifier_t *rhythm_model; /* the rhythm classifier that computes */
    tinyecg_rhythm_classifier_t rhythm_gate; /* what the core calls: rhythm_model while enabled */
    int rhythm_enabled;                /* started, and self-test passed or lax */
    tinyecg_rhythm_selftest_t rhythm_selftest;
#endif
    uint32_t overruns_reported;
    uint32_t last_input_ms;            /* tick time of the last serial input */
    uint8_t got_input;                 /* serial bytes since the last tick */
} tinyecg_firmware_t;

/* The whole boot (see above). cfg must stay valid while the firmware runs (a static const in
 * the board layer). Returns 0, or -1 when the core rejects the configuration (printed as
 * "# error ..."). */
int tinyecg_firmware_boot(tinyecg_firmware_t *fw, const tinyecg_firmware_config_t *cfg);

/* Boot with a given classifier instead of the build's (tests, or a board's own): the golden
 * self-test when `started`, then the core. classifier NULL: detection only; started 0: the
 * classifier is kept disabled (every beat a "# classify-error"). */
int tinyecg_firmware_start(tinyecg_firmware_t *fw, const tinyecg_firmware_config_t *cfg,
                           const tinyecg_classifier_t *classifier, int started);

/* Run the golden self-tests again (QEMU's "#qemu selftest"): the beat model's and, with
 * TINYECG_RHYTHM, the rhythm model's; returns 1 if they passed. */
int tinyecg_firmware_selftest(tinyecg_firmware_t *fw);

/* 1 when the boot's golden self-tests (beat and, with TINYECG_RHYTHM, rhythm) passed. */
int tinyecg_firmware_selftests_passed(const tinyecg_firmware_t *fw);

void tinyecg_firmware_serial(tinyecg_firmware_t *fw, const char *data, size_t len);
void tinyecg_firmware_adc(tinyecg_firmware_t *fw, int32_t reading, int lead_off);
void tinyecg_firmware_poll(tinyecg_firmware_t *fw);
void tinyecg_firmware_tick(tinyecg_firmware_t *fw, uint32_t now_ms);

/* An ADC reading -> the sample the core gets: the top of the valid range while an AD8232
 * lead-off output is high (the core turns a run of railed samples into "# lead-off"), else
 * the reading clamped to [adc_min, adc_max]. */
int16_t tinyecg_firmware_adc_sample(int32_t reading, int lead_off, int32_t adc_min,
                                    int32_t adc_max);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_FIRMWARE_H */
