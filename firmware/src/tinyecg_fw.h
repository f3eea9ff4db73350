/*
 * tinyecg_fw.h - the board-independent logic of the firmware: no TFLM, no Arduino.
 *
 * Everything here is plain C99 (and valid C++), so tests/test_firmware_project.py compiles
 * it on the host with gcc and g++ and runs it against the files of a real export:
 *   - model checks: the interpreter's input/output tensors (type, element count, scale,
 *     zero point) against the exported metadata, and which input is "beat" / "rhythm";
 *   - the golden self-test: generated preprocessing on every golden raw window (bit-exact),
 *     the classifier on every golden input (within a tolerance in LSB), one line each;
 *   - the sample ring between the sampling interrupt (or thread) and loop();
 *   - the ADC -> core sample mapping (AD8232 lead-off pins -> railed samples);
 *   - the command filter of ADC mode (only '#' lines reach the core's protocol parser).
 * The TFLM adapter (tflm_classifier.cpp) and main.cpp only move data between these
 * functions and the hardware.
 *
 * This header includes none of the generated model headers (tinyecg_fw_model.h does) and
 * not tinyecg_app.h: tinyecg_model_meta.h and tinyecg_app.h both define TINYECG_VERSION
 * (the exporter's and the core's), so no translation unit includes both.
 */
#ifndef TINYECG_FW_H
#define TINYECG_FW_H

#include <stddef.h>
#include <stdint.h>

#include "ecg_config.h"
#include "tinyecg_beats.h" /* TINYECG_WINDOW */
#include "tinyecg_classifier.h"
#include "tinyecg_rr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Text output, as the core's: NUL-terminated pieces, a line ends with '\n'. */
typedef void (*tinyecg_fw_write_fn)(void *ctx, const char *text);

/* ---- model checks ---- */

#define TINYECG_FW_TYPE_INT8 9 /* TfLiteType kTfLiteInt8 (tensorflow/lite/c/c_api_types.h) */
#define TINYECG_FW_MAX_DIMS 6

/* One tensor as the interpreter reports it (filled by the adapter from a TfLiteTensor). */
typedef struct {
    int type; /* TfLiteType code */
    int n_dims;
    int32_t dims[TINYECG_FW_MAX_DIMS];
    float scale;        /* params.scale (per-tensor quantization) */
    int32_t zero_point; /* params.zero_point */
} tinyecg_fw_tensor_t;

/* A per-tensor scale as the metadata gives it, exactly: scale = mant * 2^exp. */
typedef struct {
    int32_t mant;
    int32_t exp;
} tinyecg_fw_scale_t;

/* What the exported metadata (tinyecg_model_meta.h) says the model looks like. */
typedef struct {
    int32_t beat_elems; /* 360 */
    tinyecg_fw_scale_t beat_scale;
    int32_t beat_zero_point;
    int32_t n_rhythm; /* 0: the model has no rhythm input */
    tinyecg_fw_scale_t rhythm_scale;
    int32_t rhythm_zero_point;
    int32_t n_classes;
    tinyecg_fw_scale_t output_scale;
    int32_t output_zero_point;
} tinyecg_fw_expect_t;

/* Interpreter input index of each model input (-1: absent). */
typedef struct {
    int beat_input;
    int rhythm_input;
} tinyecg_fw_io_map_t;

/* Element count of a tensor (product of its dims; 0 for a bad shape). */
int32_t tinyecg_fw_elems(const tinyecg_fw_tensor_t *t);

/* 1 when the interpreter's float32 scale is exactly mant * 2^exp (the metadata writes the
 * flatbuffer's float32 as integers, so the comparison is exact, no tolerance). */
int tinyecg_fw_scale_equal(float scale, tinyecg_fw_scale_t want);

/* Check the interpreter's tensors against the metadata and find which input is which (by
 * element count: 360 = beat, n_rhythm = rhythm). Returns 0, or the number of problems;
 * each problem is written as one line "# model-check <what>: <got> (metadata <want>)". */
int tinyecg_fw_check_tensors(const tinyecg_fw_expect_t *expect,
                             const tinyecg_fw_tensor_t *inputs, int n_inputs,
                             const tinyecg_fw_tensor_t *outputs, int n_outputs,
                             tinyecg_fw_io_map_t *map, tinyecg_fw_write_fn write, void *ctx);

/* ---- golden self-test ---- */

/* One golden vector of the export (tinyecg_golden.h), read through the model binding. */
typedef struct {
    const int16_t *raw;    /* TINYECG_WINDOW raw ADC counts around the R-peak */
    int16_t baseline;      /* ADC calibration of that window */
    uint16_t gain_adu_per_mv;
    tinyecg_rr_t rr;       /* its RR context in samples */
    const int8_t *input;   /* expected model input "beat" (Python integer reference) */
    const int8_t *rhythm;  /* expected model input "rhythm" (n_rhythm values) */
    const int8_t *output;  /* expected model output (TFLM reference kernels) */
    const char *label;     /* its annotated class, for the printout (may be NULL) */
} tinyecg_fw_vector_t;

typedef struct {
    int count;
    int n_rhythm;
    int n_classes;
    void (*get)(int index, tinyecg_fw_vector_t *out);
} tinyecg_fw_golden_t;

/* The generated preprocessing, wrapped so this file needs none of the generated headers. */
typedef struct {
    void (*window)(const int16_t *raw, int16_t baseline, uint16_t gain_adu_per_mv,
                   int8_t *out);
    void (*rhythm)(const tinyecg_rr_t *rr, int8_t *out); /* NULL when n_rhythm == 0 */
} tinyecg_fw_preprocess_t;

typedef struct {
    int vectors;         /* golden vectors run */
    int input_ok;        /* preprocessing reproduced the golden "beat" input exactly */
    int rhythm_ok;       /* ... and the golden "rhythm" input */
    int output_ok;       /* classifier output within the tolerance of the golden output */
    int classify_errors; /* classify() returned non-zero */
    int max_diff;        /* largest |output - golden| over every output value */
    int tolerance;
    int passed;          /* everything above checked out */
} tinyecg_fw_selftest_t;

/* Largest |got[i] - want[i]| over n values. */
int tinyecg_fw_max_abs_diff(const int8_t *got, const int8_t *want, int n);

/* Run every golden vector: preprocessing (bit-exact), then the classifier on the golden
 * inputs (so a preprocessing fault cannot hide a kernel fault, or the other way round),
 * output within `tolerance` LSB. Writes one "# selftest <i> ..." line per vector and a
 * summary "# selftest pass|FAIL <ok>/<n> tolerance=<t> maxdiff=<d>". Returns res->passed. */
int tinyecg_fw_selftest(const tinyecg_fw_golden_t *golden, const tinyecg_fw_preprocess_t *pre,
                        const tinyecg_classifier_t *classifier, int tolerance,
                        tinyecg_fw_write_fn write, void *ctx, tinyecg_fw_selftest_t *res);

/* ---- sample ring: one producer (timer interrupt or sampling thread), one consumer ---- */

#define TINYECG_FW_RING_MASK (TINYECG_SAMPLE_RING - 1u)
#if (TINYECG_SAMPLE_RING & (TINYECG_SAMPLE_RING - 1u)) != 0u
#error "TINYECG_SAMPLE_RING must be a power of two"
#endif

typedef struct {
    int16_t buf[TINYECG_SAMPLE_RING];
    uint32_t head;     /* written by the producer only */
    uint32_t tail;     /* written by the consumer only */
    uint32_t overruns; /* samples dropped because the ring was full (producer) */
} tinyecg_fw_ring_t;

void tinyecg_fw_ring_init(tinyecg_fw_ring_t *r);
int tinyecg_fw_ring_push(tinyecg_fw_ring_t *r, int16_t sample); /* 0, or -1 if full */
int tinyecg_fw_ring_pop(tinyecg_fw_ring_t *r, int16_t *sample); /* 1, or 0 if empty */
uint32_t tinyecg_fw_ring_overruns(const tinyecg_fw_ring_t *r);

/* An ADC reading -> the sample the core gets: the top of the valid range while an AD8232
 * lead-off output is high (the core turns a run of railed samples into "# lead-off"),
 * else the reading clamped to [adc_min, adc_max]. */
int16_t tinyecg_fw_adc_sample(int32_t reading, int lead_off, int32_t adc_min, int32_t adc_max);

/* ---- ADC mode: only protocol commands ('#' lines) from the serial port ---- */

#define TINYECG_FW_LINE_MAX 256 /* as TINYECG_LINE_MAX of the core's parser */

/* Receives complete command lines, '\n' included (main.cpp: tinyecg_app_feed). */
typedef void (*tinyecg_fw_sink_fn)(void *ctx, const char *line, size_t len);

typedef struct {
    char line[TINYECG_FW_LINE_MAX];
    size_t len;
    int overlong;
    uint32_t ignored; /* non-command lines dropped */
} tinyecg_fw_cmdfilter_t;

void tinyecg_fw_cmdfilter_init(tinyecg_fw_cmdfilter_t *f);
void tinyecg_fw_cmdfilter_feed(tinyecg_fw_cmdfilter_t *f, const char *data, size_t len,
                               tinyecg_fw_sink_fn sink, void *ctx);

/* ---- text helpers (no printf: some board C libraries lack %f) ---- */

/* Decimal text of v into buf (at least 12 bytes); returns buf. */
char *tinyecg_fw_itoa(int32_t v, char *buf);
/* A float with 7 significant digits, e.g. "3.921569e-03" (buf: at least 16 bytes). */
char *tinyecg_fw_ftoa(float v, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_FW_H */
