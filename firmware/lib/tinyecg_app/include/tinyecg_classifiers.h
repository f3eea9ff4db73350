/*
 * tinyecg_classifiers.h - the classifier the firmware links, chosen at build time
 * (ecg_config.h TINYECG_CLASSIFIER), behind the core's tinyecg_classifier_t:
 *
 *   TINYECG_CLASSIFIER_TFLM      src/tinyecg_classifier_tflm.cpp: TensorFlow Lite Micro on the
 *                                exported flatbuffer (model data, op resolver, arena of a
 *                                `tinyecg export --runtime tflm`); C++, links the TFLM library
 *   TINYECG_CLASSIFIER_CBACKEND  src/tinyecg_classifier_cbackend.c: the generated
 *                                tinyecg_model_invoke() (`tinyecg export --runtime c`) and the
 *                                kernels of firmware/lib/tinyecg_nn
 *   TINYECG_CLASSIFIER_NONE      src/tinyecg_classifier_none.c: no model, detection only
 *
 * Every implementation file is compiled in every build (PlatformIO compiles a library's
 * whole src/); all but the chosen one are empty, so exactly one defines
 * tinyecg_classifier_start().
 */
#ifndef TINYECG_CLASSIFIERS_H
#define TINYECG_CLASSIFIERS_H

#include <stddef.h>
#include <stdint.h>

#include "ecg_config.h" /* TINYECG_CLASSIFIER, TINYECG_CLASSIFIER_* */
#include "tinyecg_classifier.h"
#include "tinyecg_text.h"

#ifdef __cplusplus
extern "C" {
#endif

#if TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_NONE && \
    TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_CBACKEND && \
    TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_TFLM
#error "TINYECG_CLASSIFIER: TINYECG_CLASSIFIER_TFLM, _CBACKEND or _NONE (ecg_config.h)"
#endif

typedef struct {
    const char *runtime; /* "tflm", "cbackend" or "none" */
    int started;         /* the classifier runs the exported model (checks passed) */
    size_t arena_bytes;  /* memory reserved for the model's tensors */
    size_t arena_used;   /* of which the model uses (TFLM: arena_used_bytes()) */
} tinyecg_classifier_status_t;

/* Start the build's classifier on the exported model and check that it can run it: it
 * prints one "# <runtime> ..." line (library, arena, model size and hash, labels) and, for
 * every reason it cannot run the model, one "# <runtime> error: ..." line (model schema,
 * tensors against tinyecg_model_meta.h, weights the library would compute wrongly, arena).
 * Returns NULL for TINYECG_CLASSIFIER_NONE, else the classifier (status->started says
 * whether it may be used; tinyecg_firmware disables it when not). */
const tinyecg_classifier_t *tinyecg_classifier_start(tinyecg_write_fn write, void *ctx,
                                                     tinyecg_classifier_status_t *status);

/* Microseconds since some start, wrapping at 2^32, from the board layer: TFLM's profiler
 * clock on the Arduino TFLM library (src/tinyecg_tflm_platform.cpp). main.cpp defines it with
 * micros(), the QEMU target and the self-test program with their clocks. */
uint32_t tinyecg_board_micros(void);

/* TFLM's own log text (DebugLog / MicroPrintf), as "# tflm ..." status lines through the
 * writer tinyecg_classifier_start() was given. */
void tinyecg_tflm_log(const char *text);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_CLASSIFIERS_H */
