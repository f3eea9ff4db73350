/*
 * tinyecg_model_files.h - the generated model library, by file name: the one place to edit
 * if the exporter renames a file or a symbol.
 *
 * The files come from `tinyecg export --out firmware/lib/tinyecg_model --force` (PlatformIO
 * builds that folder as the library "tinyecg_model"; see docs/export.md for their content).
 * Included by tinyecg_fw_model.c (C) and tflm_classifier.cpp (C++) only: tinyecg_model_meta.h
 * defines TINYECG_VERSION (the exporter's version) as does the core's tinyecg_app.h, so this
 * header and tinyecg_app.h never meet in one translation unit.
 */
#ifndef TINYECG_MODEL_FILES_H
#define TINYECG_MODEL_FILES_H

#include "tinyecg_model_data.h" /* tinyecg_model_data[], tinyecg_model_data_len, SHA-256 */
#include "tinyecg_model_meta.h" /* labels, tensor quantization (TINYECG_INPUT_*, TINYECG_OUTPUT_*) */
#include "tinyecg_arena.h"      /* TINYECG_ARENA_BYTES */
#include "tinyecg_preprocess_params.h" /* tinyecg_model_preprocess for tinyecg_preprocess_window(), tinyecg_rhythm_features() */
#include "tinyecg_golden.h"     /* tinyecg_golden[TINYECG_GOLDEN_COUNT] */

/* C++ only: the op resolver type and its registration function (tinyecg_op_resolver.h). */
#define TINYECG_OP_RESOLVER_HEADER "tinyecg_op_resolver.h"
#define TINYECG_FW_OP_RESOLVER tinyecg::OpResolver
#define TINYECG_FW_REGISTER_OPS(resolver) tinyecg::RegisterOps(resolver)

#endif /* TINYECG_MODEL_FILES_H */
