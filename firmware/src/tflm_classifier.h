/*
 * tflm_classifier.h - the exported model under TensorFlow Lite Micro, behind the core's
 * classifier interface (tinyecg_classifier.h).
 *
 * tinyecg_tflm_init() builds the interpreter from the generated files (model bytes, op
 * resolver, TINYECG_ARENA_BYTES), checks the model's input/output tensors against the
 * generated metadata, runs the golden self-test and prints, one line each:
 *   # tflm <distribution> arena=<used>/<TINYECG_ARENA_BYTES> model=<bytes> sha256=<16 hex> ...
 *   # model-check ...                      (one per problem, if any)
 *   # selftest <i> ... / # selftest pass|FAIL <ok>/<n> tolerance=<t> maxdiff=<d>
 * It always returns a classifier. When the model cannot run or does not match its metadata
 * (always), or fails the golden self-test (only with TINYECG_SELFTEST_STRICT), that
 * classifier's classify() returns non-zero, so every beat is reported as
 * "# classify-error <r>" rather than with a label from the wrong model.
 */
#ifndef TFLM_CLASSIFIER_H
#define TFLM_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "tinyecg_classifier.h"
#include "tinyecg_fw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int interpreter_ok;   /* model parsed, ops registered, tensors allocated */
    int model_ok;         /* tensors match tinyecg_model_meta.h */
    tinyecg_fw_selftest_t selftest;
    int enabled;          /* classify() runs the model */
    size_t arena_bytes;   /* TINYECG_ARENA_BYTES */
    size_t arena_used;    /* interpreter.arena_used_bytes() after AllocateTensors() */
} tinyecg_tflm_status_t;

const tinyecg_classifier_t *tinyecg_tflm_init(tinyecg_fw_write_fn write, void *ctx,
                                              tinyecg_tflm_status_t *status);

/* Where TFLM's own log text goes (DebugLog / MicroPrintf on the Arduino export): set by
 * tinyecg_tflm_init(); lines are prefixed "# tflm " so the host reads them as status. */
void tinyecg_tflm_log(const char *text);

/* Microseconds since some start, wrapping at 2^32: TFLM's profiler clock
 * (tflm_platform.cpp). Not defined here but by the platform, so the adapter needs no
 * Arduino.h: main.cpp defines it with micros() on the boards, the self-test programs of
 * firmware/targets/selftest with the host's or QEMU's clock. */
uint32_t tinyecg_platform_micros(void);

#ifdef __cplusplus
}
#endif

#endif /* TFLM_CLASSIFIER_H */
