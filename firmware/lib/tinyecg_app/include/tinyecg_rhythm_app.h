/*
 * tinyecg_rhythm_app.h - the firmware's shockable-rhythm classifier and its golden self-test
 * (ecg_config.h TINYECG_RHYTHM, on by default with a classifier).
 *
 * The classifier behind the core's tinyecg_rhythm_classifier_t follows the rhythm export the
 * build has (TINYECG_RHYTHM_MODEL_IS_TFLM in the two files: a TFLM export's metadata includes
 * tinyecg_rhythm_model_arena.h):
 *   - a `tinyecg export --task rhythm --runtime c` export (the committed
 *     firmware/lib/tinyecg_rhythm_model): its C backend, tinyecg_rhythm_model_invoke() over
 *     the kernels of firmware/lib/tinyecg_nn (tinyecg_rhythm_classifier.c), in any build;
 *   - a `--runtime tflm` export, in a TFLM build (TINYECG_CLASSIFIER_TFLM): a second TFLM
 *     interpreter with its own arena and op resolver (tinyecg_classifier_tflm.cpp), checked
 *     as the beat model is. The QEMU and host TFLM builds of tinyecg.device export the
 *     shipped rhythm model so; a PlatformIO TFLM env takes whichever lib/tinyecg_rhythm_model
 *     holds (committed: the C backend's).
 * Lines:
 *
 *   # rhythm-classifier cbackend arena=<bytes> model=<bytes> sha256=<16 hex> labels=<a>,<b>
 *   # rhythm-classifier tflm arena=<used>/<bytes> model=<bytes> sha256=<16 hex>
 *       kernels=optimized|reference labels=<a>,<b>
 *   # rhythm-classifier error: <why>              (then every decision is "unreadable")
 *   # rhythm-selftest <i> record=<db/rec> end=<n> output=ok|DIFF|ERROR maxdiff=<d>
 *       [inf_<unit>=<n>]                          one per golden window
 *   # rhythm-selftest pass|FAIL <ok>/<n> tolerance=<t> maxdiff=<d>
 *
 * The golden windows are front-end outputs (int8[720]) with the outputs host TFLM gives
 * them; the self-test checks the model bit for bit (tolerance 0). The front end itself is
 * integer C checked against Python by the tests (tests/test_rhythm_frontend_c.py); the
 * golden file carries no raw input to check it again at boot.
 */
#ifndef TINYECG_RHYTHM_APP_H
#define TINYECG_RHYTHM_APP_H

#include <stdint.h>

#include "ecg_config.h"
#include "tinyecg_rhythm_task.h"
#include "tinyecg_selftest.h" /* tinyecg_cost_counter_t */
#include "tinyecg_text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int vectors;         /* golden windows run */
    int output_ok;       /* outputs equal to the golden ones within the tolerance */
    int classify_errors; /* classify() returned non-zero */
    int max_diff;        /* largest |output - golden| */
    int passed;          /* every window passed */
} tinyecg_rhythm_selftest_t;

/* Start the rhythm classifier: one "# rhythm-classifier ..." line, and an error line for each
 * reason it cannot run the export (*started is then 0). Returns the classifier. */
const tinyecg_rhythm_classifier_t *tinyecg_rhythm_classifier_start(tinyecg_write_fn write,
                                                                   void *ctx, int *started);

/* The golden self-test of the rhythm model (see above); returns res->passed. */
int tinyecg_rhythm_selftest_run(const tinyecg_rhythm_classifier_t *classifier, int tolerance,
                                const tinyecg_cost_counter_t *cost, tinyecg_write_fn write,
                                void *ctx, tinyecg_rhythm_selftest_t *res);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_RHYTHM_APP_H */
