/*
 * tinyecg_rhythm_classifier.c - the rhythm model's golden self-test and, with a C backend
 * export (`tinyecg export --task rhythm --runtime c`), the C backend as the core's rhythm
 * classifier (see tinyecg_rhythm_app.h). With a TFLM export (`--runtime tflm`) the classifier
 * is a second TFLM interpreter, in tinyecg_classifier_tflm.cpp beside the beat model's.
 */
#include "tinyecg_rhythm_app.h"

#if TINYECG_RHYTHM

#include <stddef.h>
#include <string.h>

#include "tinyecg_rhythm_model_golden.h" /* tinyecg_rhythm_model_golden[] */
#include "tinyecg_rhythm_model_meta.h"   /* labels, shockable output, quantization */

/* Which export this build has (tinyecg_rhythm_app.h): a `--runtime tflm` export's metadata
 * includes tinyecg_rhythm_model_arena.h, the only header that defines
 * TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES; a `--runtime c` export's, tinyecg_rhythm_model.h. */
#if defined(TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES)
#define TINYECG_RHYTHM_MODEL_IS_TFLM 1
#else
#define TINYECG_RHYTHM_MODEL_IS_TFLM 0
#endif

/* What the core hands the model must be what it was trained on; the export checked these
 * against the .tflite, this checks the export against the front end it will read. */
#if TINYECG_RHYTHM_MODEL_NUM_LABELS != TINYECG_RHYTHM_CLASSES
#error "the rhythm model must have two outputs (non-shockable, shockable)"
#endif
#if TINYECG_RHYTHM_MODEL_INPUT_ZERO_POINT != 0 || TINYECG_RHYTHM_MODEL_INPUT_Q_PER_STD != 16
#error "the rhythm model's input is not the front end's (scale 1/16 std, zero point 0)"
#endif

#if TINYECG_RHYTHM_MODEL_IS_TFLM
#if TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_TFLM
#error "a --runtime tflm rhythm export needs TINYECG_CLASSIFIER_TFLM: export it with --runtime c"
#endif
/* tinyecg_rhythm_classifier_start(): tinyecg_classifier_tflm.cpp */
#else
#include "tinyecg_rhythm_model.h" /* tinyecg_rhythm_model_invoke(), its SHA-256 */

static int cbackend_rhythm_classify(void *ctx, const int8_t *window_q, int8_t *scores_q)
{
    (void)ctx;
    return tinyecg_rhythm_model_invoke(window_q, scores_q);
}

/* constant: in flash, no RAM */
static const tinyecg_rhythm_classifier_t cbackend_rhythm = {
    cbackend_rhythm_classify, NULL, TINYECG_RHYTHM_MODEL_SHOCKABLE_OUTPUT, "cbackend",
    TINYECG_RHYTHM_MODEL_SHA256,
};

const tinyecg_rhythm_classifier_t *tinyecg_rhythm_classifier_start(tinyecg_write_fn write,
                                                                   void *ctx, int *started)
{
    char hash[17];
    int i;
    memcpy(hash, TINYECG_RHYTHM_MODEL_SHA256, 16);
    hash[16] = '\0';
    tinyecg_text_put(write, ctx, "# rhythm-classifier cbackend arena=");
    tinyecg_text_put_int(write, ctx, TINYECG_RHYTHM_MODEL_ARENA_BYTES);
    tinyecg_text_put(write, ctx, " model=");
    tinyecg_text_put_uint64(write, ctx, TINYECG_RHYTHM_MODEL_BYTES);
    tinyecg_text_put(write, ctx, " sha256=");
    tinyecg_text_put(write, ctx, hash);
    tinyecg_text_put(write, ctx, " labels=");
    for (i = 0; i < TINYECG_RHYTHM_MODEL_NUM_LABELS; i++) {
        tinyecg_text_put(write, ctx, i > 0 ? "," : "");
        tinyecg_text_put(write, ctx, tinyecg_rhythm_model_labels[i]);
    }
    tinyecg_text_put(write, ctx, "\n");
    /* both are 64 hex digits: the C of tinyecg_rhythm_model.h is the model of the metadata */
    *started = memcmp(TINYECG_RHYTHM_MODEL_SHA256, TINYECG_RHYTHM_MODEL_HASH, 64) == 0;
    if (!*started) {
        tinyecg_text_put(write, ctx, "# rhythm-classifier error: model C and metadata differ "
                                     "(export again)\n");
    }
    return &cbackend_rhythm;
}
#endif /* TINYECG_RHYTHM_MODEL_IS_TFLM */

static uint32_t cost_now(const tinyecg_cost_counter_t *cost)
{
    return cost != NULL ? cost->read(cost->ctx) : 0u;
}

int tinyecg_rhythm_selftest_run(const tinyecg_rhythm_classifier_t *c, int tolerance,
                                const tinyecg_cost_counter_t *cost, tinyecg_write_fn write,
                                void *ctx, tinyecg_rhythm_selftest_t *res)
{
    int i, ok_all = 0;
    memset(res, 0, sizeof *res);
    for (i = 0; i < TINYECG_RHYTHM_MODEL_GOLDEN_COUNT; i++) {
        const tinyecg_rhythm_model_golden_t *g = &tinyecg_rhythm_model_golden[i];
        int8_t scores_q[TINYECG_RHYTHM_CLASSES];
        uint32_t t0 = cost_now(cost), inf;
        int rc = c->classify(c->ctx, g->window, scores_q);
        int diff = -1, ok = 0;
        inf = cost_now(cost) - t0;
        res->vectors++;
        if (rc != 0) {
            res->classify_errors++;
        } else {
            diff = tinyecg_selftest_max_abs_diff(scores_q, g->output, TINYECG_RHYTHM_CLASSES);
            ok = diff <= tolerance;
            res->max_diff = diff > res->max_diff ? diff : res->max_diff;
        }
        res->output_ok += ok;
        ok_all += ok;
        tinyecg_text_put(write, ctx, "# rhythm-selftest ");
        tinyecg_text_put_int(write, ctx, i);
        tinyecg_text_put(write, ctx, " record=");
        tinyecg_text_put(write, ctx, g->record);
        tinyecg_text_put(write, ctx, " end=");
        tinyecg_text_put_uint64(write, ctx, g->end);
        tinyecg_text_put(write, ctx, rc != 0 ? " output=ERROR" : (ok ? " output=ok" : " output=DIFF"));
        tinyecg_text_put(write, ctx, " maxdiff=");
        tinyecg_text_put_int(write, ctx, diff);
        if (cost != NULL) {
            tinyecg_text_put(write, ctx, " inf_");
            tinyecg_text_put(write, ctx, cost->unit);
            tinyecg_text_put(write, ctx, "=");
            tinyecg_text_put_uint64(write, ctx, inf);
        }
        tinyecg_text_put(write, ctx, "\n");
    }
    res->passed = ok_all == TINYECG_RHYTHM_MODEL_GOLDEN_COUNT;
    tinyecg_text_put(write, ctx, res->passed ? "# rhythm-selftest pass " : "# rhythm-selftest FAIL ");
    tinyecg_text_put_int(write, ctx, ok_all);
    tinyecg_text_put(write, ctx, "/");
    tinyecg_text_put_int(write, ctx, TINYECG_RHYTHM_MODEL_GOLDEN_COUNT);
    tinyecg_text_put(write, ctx, " tolerance=");
    tinyecg_text_put_int(write, ctx, tolerance);
    tinyecg_text_put(write, ctx, " maxdiff=");
    tinyecg_text_put_int(write, ctx, res->max_diff);
    tinyecg_text_put(write, ctx, "\n");
    return res->passed;
}

#else
typedef int tinyecg_rhythm_classifier_unused; /* ISO C: a translation unit declares something */
#endif
