/*
 * tinyecg_exported.h - the exported model as the firmware sees it: labels, tensor metadata,
 * golden vectors and the preprocessing, read from the generated files of `tinyecg export`
 * (either runtime: tinyecg_model_meta.h, tinyecg_golden.h, tinyecg_preprocess_params.h) by
 * tinyecg_exported.c, the one file of the application that includes them. This header
 * includes none of them.
 */
#ifndef TINYECG_EXPORTED_H
#define TINYECG_EXPORTED_H

#include <stdint.h>

#include "tinyecg_model_check.h"
#include "tinyecg_rr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One golden vector of the export (tinyecg_golden.h). */
typedef struct {
    const char *record;      /* the MIT-BIH record it was cut from */
    uint32_t r_sample;       /* its R-peak in that record */
    const char *label;       /* its annotated class (NULL if out of the label list) */
    const int16_t *raw;      /* TINYECG_WINDOW raw ADC counts around the R-peak */
    int16_t baseline;        /* ADC calibration of that window */
    uint16_t gain_adu_per_mv;
    tinyecg_rr_t rr;         /* its RR context in samples */
    const int8_t *input;     /* expected model input "beat" (Python integer reference) */
    const int8_t *rhythm;    /* expected model input "rhythm" (n_rhythm values; NULL if none) */
    const int8_t *output;    /* expected model output (TFLM reference kernels) */
} tinyecg_golden_vector_t;

typedef struct {
    const char *sha256;           /* SHA-256 of the .tflite, hex */
    const char *exporter_version; /* tinyecg version that exported it */
    const char *runtime;          /* "tflm" or "c": what the export was made for */
    uint32_t model_bytes;         /* size of the .tflite */
    int n_classes;
    int n_rhythm;                 /* 0: no rhythm input */
    const char *const *labels;    /* n_classes names */
    tinyecg_model_expect_t expect; /* the tensors' shapes and quantization */
    int golden_count;
    void (*golden)(int index, tinyecg_golden_vector_t *out);
    /* the generated preprocessing, with a calibration: raw window -> input "beat" */
    void (*window)(const int16_t *raw, int16_t baseline, uint16_t gain_adu_per_mv, int8_t *out);
    /* RR context -> input "rhythm" (NULL when n_rhythm == 0) */
    void (*rhythm)(const tinyecg_rr_t *rr, int8_t *out);
} tinyecg_exported_model_t;

const tinyecg_exported_model_t *tinyecg_exported_model(void);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_EXPORTED_H */
