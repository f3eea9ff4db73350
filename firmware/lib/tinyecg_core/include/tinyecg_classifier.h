/*
 * tinyecg_classifier.h - what a beat classifier looks like to the firmware core.
 *
 * Implemented by the TFLM adapter and by the generated C backend; the core only calls
 * classify() through this struct, so it depends on neither.
 *
 * classify(ctx, window_q, rhythm_q, scores_q):
 *   window_q  TINYECG_WINDOW (360) int8 values: the preprocessed beat window, quantized
 *             with the model input's scale and zero point; with TINYECG_PATIENT_CONTEXT
 *             2 * TINYECG_WINDOW: [window, the patient's template] per sample (tinyecg_beats.h)
 *   rhythm_q  n_rhythm int8 values: the quantized rhythm features (8 long-term ones with
 *             TINYECG_PATIENT_CONTEXT)
 *   scores_q  n_classes int8 outputs (the model's quantized scores; larger = more likely)
 *   returns 0 on success, non-zero on failure (the beat is then reported as an error line)
 */
#ifndef TINYECG_CLASSIFIER_H
#define TINYECG_CLASSIFIER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_MAX_CLASSES 16 /* upper bound on n_classes (sizes the score buffer) */
#define TINYECG_MAX_RHYTHM 16  /* upper bound on n_rhythm */

typedef struct {
    int (*classify)(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                    int8_t *scores_q);
    void *ctx;                  /* passed back to classify() */
    int n_classes;              /* scores written by classify(), <= TINYECG_MAX_CLASSES */
    int n_rhythm;               /* rhythm features read by classify(), <= TINYECG_MAX_RHYTHM */
    const char *const *labels;  /* n_classes label strings, e.g. "N", "S", "V", "F", "Q" */
    const char *name;           /* shown in the start-up status line */
} tinyecg_classifier_t;

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_CLASSIFIER_H */
