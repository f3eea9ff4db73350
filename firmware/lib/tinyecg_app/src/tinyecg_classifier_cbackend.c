/*
 * tinyecg_classifier_cbackend.c - TINYECG_CLASSIFIER_CBACKEND: the interpreter-free C backend
 * (`tinyecg export --runtime c`: tinyecg_model.c, weights and the call sequence, over the
 * kernels of firmware/lib/tinyecg_nn) as the core's classifier (see tinyecg_classifiers.h).
 */
#include "tinyecg_classifiers.h"

#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_CBACKEND

#include <string.h>

#include "tinyecg_exported.h"
#include "tinyecg_model.h"             /* tinyecg_model_invoke(), TINYECG_MODEL_* */
#include "tinyecg_model_meta.h"        /* tinyecg_labels[], TINYECG_NUM_LABELS */
#include "tinyecg_preprocess_params.h" /* TINYECG_RHYTHM_FEATURES */

#ifndef TINYECG_MODEL_BEAT_INPUT
#error "tinyecg_model.h does not say which input is the beat window (re-export)"
#endif

/* The C backend takes its inputs in flatbuffer order; the core hands over the beat window
 * and the rhythm features, so route each to its slot (TINYECG_MODEL_*_INPUT). */
static int cbackend_classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                             int8_t *scores_q)
{
    const int8_t *in[2] = {NULL, NULL};
    (void)ctx;
    in[TINYECG_MODEL_BEAT_INPUT] = window_q;
#ifdef TINYECG_MODEL_RHYTHM_INPUT
    in[TINYECG_MODEL_RHYTHM_INPUT] = rhythm_q;
#else
    (void)rhythm_q;
#endif
    return tinyecg_model_invoke(in[0], in[1], scores_q);
}

/* constant: in flash, no RAM */
static const tinyecg_classifier_t cbackend = {
    cbackend_classify, NULL, TINYECG_NUM_LABELS, TINYECG_RHYTHM_FEATURES, tinyecg_labels,
    "cbackend",
};

const tinyecg_classifier_t *tinyecg_classifier_start(tinyecg_write_fn write, void *ctx,
                                                     tinyecg_classifier_status_t *status)
{
    const tinyecg_exported_model_t *m = tinyecg_exported_model();
    char hash[17];
    int i;
    memset(status, 0, sizeof *status);
    status->runtime = "cbackend";
    status->arena_bytes = TINYECG_MODEL_ARENA_BYTES;
    status->arena_used = TINYECG_MODEL_ARENA_BYTES; /* placed at export time: all of it */
    memcpy(hash, m->sha256, 16);
    hash[16] = '\0';
    tinyecg_text_put(write, ctx, "# cbackend tinyecg_nn arena=");
    tinyecg_text_put_int(write, ctx, TINYECG_MODEL_ARENA_BYTES);
    tinyecg_text_put(write, ctx, " model=");
    tinyecg_text_put_uint64(write, ctx, m->model_bytes);
    tinyecg_text_put(write, ctx, " sha256=");
    tinyecg_text_put(write, ctx, hash);
    tinyecg_text_put(write, ctx, " labels=");
    for (i = 0; i < m->n_classes; i++) {
        tinyecg_text_put(write, ctx, i > 0 ? "," : "");
        tinyecg_text_put(write, ctx, m->labels[i]);
    }
    tinyecg_text_put(write, ctx, "\n");
    /* both hashes are 64 hex digits: the model of tinyecg_model.h is the one of the metadata */
    if (TINYECG_MODEL_OUTPUT_SIZE != m->n_classes ||
        memcmp(TINYECG_MODEL_SHA256, m->sha256, 64) != 0) {
        tinyecg_text_put(write, ctx, "# cbackend error: tinyecg_model.h is not the model of "
                                     "tinyecg_model_meta.h (export both again)\n");
        return &cbackend;
    }
    status->started = 1;
    return &cbackend;
}

#else
typedef int tinyecg_classifier_cbackend_unused; /* ISO C: a translation unit declares something */
#endif
