/*
 * tinyecg_model_check.h - an interpreter's input and output tensors checked against the
 * exported metadata (tinyecg_model_meta.h), and which input is the beat window and which the
 * rhythm features.
 *
 * The TFLM adapter fills one tinyecg_tensor_info_t per TfLiteTensor; everything else is plain
 * C, so the host tests drive it with the tensors of the TFLM host runtime.
 */
#ifndef TINYECG_MODEL_CHECK_H
#define TINYECG_MODEL_CHECK_H

#include <stdint.h>

#include "tinyecg_text.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_TENSOR_TYPE_INT8 9 /* TfLiteType kTfLiteInt8 (tensorflow/lite/c/c_api_types.h) */
#define TINYECG_TENSOR_MAX_DIMS 6  /* TFLite Micro's kernels handle at most 6 */

/* One tensor as the interpreter reports it. */
typedef struct {
    int type; /* TfLiteType code */
    int n_dims;
    int32_t dims[TINYECG_TENSOR_MAX_DIMS];
    float scale;        /* params.scale (per-tensor quantization) */
    int32_t zero_point; /* params.zero_point */
} tinyecg_tensor_info_t;

/* A scale as the metadata gives it, exactly: scale = mant * 2^exp. */
typedef struct {
    int32_t mant;
    int32_t exp;
} tinyecg_scale_t;

/* What the exported metadata says the model's tensors look like. */
typedef struct {
    int32_t beat_elems; /* TINYECG_WINDOW (360) */
    tinyecg_scale_t beat_scale;
    int32_t beat_zero_point;
    int32_t n_rhythm; /* 0: the model has no rhythm input */
    tinyecg_scale_t rhythm_scale;
    int32_t rhythm_zero_point;
    int32_t n_classes;
    tinyecg_scale_t output_scale;
    int32_t output_zero_point;
} tinyecg_model_expect_t;

/* Interpreter input index of each model input (-1: absent). */
typedef struct {
    int beat_input;
    int rhythm_input;
} tinyecg_io_map_t;

/* Element count of a tensor (product of its dims; 0 for a bad shape). */
int32_t tinyecg_tensor_elements(const tinyecg_tensor_info_t *t);

/* 1 when the interpreter's float32 scale is exactly mant * 2^exp (the metadata writes the
 * flatbuffer's float32 as integers, so the comparison is exact, no tolerance). */
int tinyecg_scale_equal(float scale, tinyecg_scale_t want);

/* Check the interpreter's tensors against the metadata and find which input is which (by
 * element count: 360 = beat, n_rhythm = rhythm). Returns 0, or the number of problems; each
 * problem is written as one line "# model-check <what>: <got> (metadata <want>)". */
int tinyecg_model_check_tensors(const tinyecg_model_expect_t *expect,
                                const tinyecg_tensor_info_t *inputs, int n_inputs,
                                const tinyecg_tensor_info_t *outputs, int n_outputs,
                                tinyecg_io_map_t *map, tinyecg_write_fn write, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_MODEL_CHECK_H */
