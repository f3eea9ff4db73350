/*
 * tinyecg_classifier_none.c - TINYECG_CLASSIFIER_NONE: no model, the firmware reports
 * R-peaks only (see tinyecg_classifiers.h).
 */
#include "tinyecg_classifiers.h"

#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_NONE

#include <string.h>

const tinyecg_classifier_t *tinyecg_classifier_start(tinyecg_write_fn write, void *ctx,
                                                     tinyecg_classifier_status_t *status)
{
    memset(status, 0, sizeof *status);
    status->runtime = "none";
    tinyecg_text_put(write, ctx, "# classifier none: detection only\n");
    return NULL;
}

#else
typedef int tinyecg_classifier_none_unused; /* ISO C: a translation unit declares something */
#endif
