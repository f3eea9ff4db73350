/*
 * app_model.h - the exported model as the QEMU firmware application sees it.
 *
 * app_model.c is the only file of the application that includes the generated headers
 * (tinyecg_model.h, tinyecg_model_meta.h, tinyecg_preprocess_params.h, tinyecg_golden.h from
 * `tinyecg export --runtime c`); this header includes none of them, so main.c can use it next
 * to the core's tinyecg_app.h (tinyecg_model_meta.h and tinyecg_app.h both define
 * TINYECG_VERSION).
 *
 * Build flags (the Makefile's DEFS, or tinyecg.device.firmware.build_firmware):
 *   TINYECG_CLASSIFIER   which classifier implements tinyecg_classifier_t:
 *                          TINYECG_CLASSIFIER_CBACKEND (1, default) the generated C backend
 *                                                 (tinyecg_model_invoke(), no interpreter)
 *                          TINYECG_CLASSIFIER_NONE (0)  no model: detection only; the golden
 *                                                 self-test then checks the preprocessing only
 *                        (TFLM needs C++ and libstdc++ for arm-none-eabi, which this target's
 *                        Makefile does not build: the PlatformIO firmware in firmware/ runs it.)
 *   TINYECG_ADC_BASELINE ADC counts at 0 mV (default 1024, MIT-BIH's adc_zero)
 *   TINYECG_ADC_GAIN     ADC counts per mV (default 200, MIT-BIH's gain)
 *                        The preprocessing z-scores each window, so the baseline cancels; the
 *                        gain only matters for the 0.01 mV floor on the standard deviation.
 */
#ifndef APP_MODEL_H
#define APP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tinyecg_classifier.h"
#include "tinyecg_rr.h"

#define TINYECG_CLASSIFIER_NONE 0
#define TINYECG_CLASSIFIER_CBACKEND 1
#ifndef TINYECG_CLASSIFIER
#define TINYECG_CLASSIFIER TINYECG_CLASSIFIER_CBACKEND
#endif
#if TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_NONE && \
    TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_CBACKEND
#error "TINYECG_CLASSIFIER: 0 (none) or 1 (C backend); TFLM is built by the PlatformIO project"
#endif

#ifndef TINYECG_ADC_BASELINE
#define TINYECG_ADC_BASELINE 1024 /* MIT-BIH header: adc_zero 1024 (11-bit ADC, 0..2047) */
#endif
#ifndef TINYECG_ADC_GAIN
#define TINYECG_ADC_GAIN 200 /* MIT-BIH header: 200 ADC counts per mV */
#endif

/* Text output, as the core's: NUL-terminated pieces, a line ends with '\n'. */
typedef void (*app_write_fn)(void *ctx, const char *text);

/* The core's preprocessing callbacks (tinyecg_app_config_t): the generated fixed-point
 * preprocessing with the calibration above. app_model_rhythm writes nothing for a model
 * without a rhythm input. */
void app_model_window(const int16_t *raw, int8_t *out);
void app_model_rhythm(const tinyecg_rr_t *rr, int8_t *out);

/* The classifier chosen by TINYECG_CLASSIFIER, or NULL for TINYECG_CLASSIFIER_NONE. */
const tinyecg_classifier_t *app_model_classifier(void);

/* Short name of the build's classifier ("cbackend" or "none"). */
const char *app_model_classifier_name(void);

/* SHA-256 of the exported .tflite (hex), from tinyecg_model_meta.h. */
const char *app_model_hash(void);

/* ---- golden self-test ---- */

/* ok bits: the window input equals the golden "beat" (every value); the rhythm input equals
 * the golden "rhythm" (set without a rhythm input); the classifier output equals the golden
 * TFLM output (set without a classifier). */
#define APP_SELFTEST_WINDOW_OK 1u
#define APP_SELFTEST_RHYTHM_OK 2u
#define APP_SELFTEST_OUTPUT_OK 4u

typedef struct {
    uint32_t pre_instr;    /* instructions of tinyecg_preprocess_window() */
    uint32_t inf_instr;    /* instructions of the classifier (0 without one) */
    uint16_t rhythm_instr; /* instructions of tinyecg_rhythm_features() (saturates) */
    uint8_t ok;            /* APP_SELFTEST_*_OK bits that held */
    uint8_t max_diff;      /* largest |output - golden output| in LSB */
} app_selftest_vector_t;

typedef struct {
    int count;           /* golden vectors run */
    int window_ok;       /* vectors whose window input matched */
    int rhythm_ok;       /* ... rhythm input */
    int output_ok;       /* ... model output (when a classifier is linked) */
    int outputs_checked; /* 1 when a classifier was run on the golden inputs */
    int passed;          /* every check of every vector held */
    const app_selftest_vector_t *v; /* count results (static storage in app_model.c) */
} app_selftest_t;

/* Run every golden vector of tinyecg_golden.h: the preprocessing on its raw window and RR
 * context (compared bit for bit with the Python integer reference), then the classifier on
 * the golden inputs (so a preprocessing fault cannot hide a model fault), compared exactly
 * with the TFLM output. Instruction counts need QEMU's -icount shift=0. Returns passed.
 * scratch: 360 bytes for the window the preprocessing writes (the caller lends a buffer it
 * does not need yet, e.g. the core's window_q before tinyecg_app_init(): keeps the 360
 * bytes off the stack on top of the preprocessing's 2.9 KB frame). */
int app_selftest_run(app_selftest_t *res, int8_t *scratch);

/* One "# selftest <i> ..." line per vector and a summary line
 * "# selftest pass|FAIL vectors=<n> window=<ok> rhythm=<ok> output=<ok>|- classifier=<name>". */
void app_selftest_print(const app_selftest_t *res, app_write_fn write, void *ctx);

/* ---- text without printf ---- */

/* Decimal text of v into buf (at least 21 bytes); returns buf. */
char *app_fmt_u64(char *buf, uint64_t v);

#endif /* APP_MODEL_H */
