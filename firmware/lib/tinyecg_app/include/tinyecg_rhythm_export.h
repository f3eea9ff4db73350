/*
 * tinyecg_rhythm_export.h - the rhythm model's export in this build (lib/tinyecg_rhythm_model,
 * or the folder a QEMU/host build puts first on the include path) and which kind it is:
 *
 *   TINYECG_RHYTHM_MODEL_IS_TFLM 1  a `tinyecg export --task rhythm --runtime tflm` export
 *                                   (tinyecg_rhythm_model_data.h, _op_resolver.h, _arena.h):
 *                                   a second TFLM interpreter runs it (tinyecg_classifier_tflm.cpp);
 *                                   needs TINYECG_CLASSIFIER_TFLM
 *   TINYECG_RHYTHM_MODEL_IS_TFLM 0  a `--runtime c` export (tinyecg_rhythm_model.h/.c): the C
 *                                   backend runs it (tinyecg_rhythm_classifier.c), whatever
 *                                   TINYECG_CLASSIFIER says
 *
 * Told apart by what the metadata includes: a TFLM export's tinyecg_rhythm_model_meta.h
 * includes tinyecg_rhythm_model_arena.h, the only header defining
 * TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES (the host runtime's arena figure); a C export's
 * includes tinyecg_rhythm_model.h instead.
 */
#ifndef TINYECG_RHYTHM_EXPORT_H
#define TINYECG_RHYTHM_EXPORT_H

#include "tinyecg_rhythm_model_meta.h"

#if defined(TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES)
#define TINYECG_RHYTHM_MODEL_IS_TFLM 1
#else
#define TINYECG_RHYTHM_MODEL_IS_TFLM 0
#endif

#endif /* TINYECG_RHYTHM_EXPORT_H */
