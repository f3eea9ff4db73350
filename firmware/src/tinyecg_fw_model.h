/*
 * tinyecg_fw_model.h - the exported model as the firmware logic sees it: expected tensor
 * metadata, golden vectors, preprocessing and labels, read from the generated files
 * (tinyecg_model_files.h) by tinyecg_fw_model.c. This header includes none of them, so
 * main.cpp can use it next to the core's tinyecg_app.h.
 */
#ifndef TINYECG_FW_MODEL_H
#define TINYECG_FW_MODEL_H

#include <stdint.h>

#include "tinyecg_fw.h"

#ifdef __cplusplus
extern "C" {
#endif

const tinyecg_fw_expect_t *tinyecg_fw_model_expect(void);
const tinyecg_fw_golden_t *tinyecg_fw_model_golden(void);
const tinyecg_fw_preprocess_t *tinyecg_fw_model_preprocess(void);
const char *const *tinyecg_fw_model_labels(void);
int tinyecg_fw_model_n_classes(void);
int tinyecg_fw_model_n_rhythm(void);
const char *tinyecg_fw_model_sha256(void);     /* SHA-256 of the .tflite, hex */
const char *tinyecg_fw_model_version(void);    /* tinyecg version that exported it */
uint32_t tinyecg_fw_model_bytes(void);         /* size of the .tflite */

/* The core's preprocessing callbacks (tinyecg_app_config_t.preprocess_window and
 * .rhythm_features): the generated functions with the calibration set here. */
void tinyecg_fw_model_set_adc(int16_t baseline, uint16_t gain_adu_per_mv);
void tinyecg_fw_model_window(const int16_t *raw, int8_t *out);
void tinyecg_fw_model_rhythm(const tinyecg_rr_t *rr, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_FW_MODEL_H */
