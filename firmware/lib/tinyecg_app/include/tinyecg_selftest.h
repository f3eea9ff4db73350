/*
 * tinyecg_selftest.h - the golden self-test every tinyecg firmware runs at boot.
 *
 * For each golden vector of the export (real MIT-BIH beats with the bits Python computed):
 *   1. the generated preprocessing on its raw window and RR context must give the golden
 *      "beat" and "rhythm" inputs bit for bit (integer C: no excuse for a difference);
 *   2. the classifier on the golden inputs (not on step 1's, so a preprocessing fault and a
 *      kernel fault cannot mask each other) must give the golden output within `tolerance`
 *      LSB (0 in every build: ecg_config.h TINYECG_GOLDEN_TOLERANCE).
 * Without a classifier (detection-only build) only step 1 runs.
 *
 * One line per vector, then a summary:
 *   # selftest <i> record=<rec> r=<sample> label=<L> input=ok|DIFF@<k> rhythm=ok|DIFF|-
 *       output=ok|DIFF|ERROR|- maxdiff=<d>|- [pre_<unit>=<n> rhythm_<unit>=<n> inf_<unit>=<n>]
 *   # selftest <i> got <v0> <v1> ... want <w0> <w1> ...          (only when they differ)
 *   # selftest pass|FAIL <ok>/<n> tolerance=<t> maxdiff=<d>|- input=<n> rhythm=<n>
 *       output=<n>|- classifier=<name>|none
 * The bracketed costs appear when the board gives a counter (instructions on QEMU, "instr";
 * microseconds on a board, "us"): the cost of each preprocessing and classifier call.
 */
#ifndef TINYECG_SELFTEST_H
#define TINYECG_SELFTEST_H

#include <stdint.h>

#include "tinyecg_classifier.h"
#include "tinyecg_exported.h"
#include "tinyecg_text.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A monotonic counter the board offers to time each call (optional). */
typedef struct {
    uint32_t (*read)(void *ctx); /* wraps at 2^32; differences are taken modulo 2^32 */
    void *ctx;
    const char *unit; /* suffix of the cost fields: "instr", "us" */
} tinyecg_cost_counter_t;

typedef struct {
    int vectors;         /* golden vectors run */
    int input_ok;        /* preprocessing reproduced the golden "beat" input exactly */
    int rhythm_ok;       /* ... and the golden "rhythm" input (all, without a rhythm input) */
    int output_ok;       /* classifier output within the tolerance (all, without a classifier) */
    int classify_errors; /* classify() returned non-zero */
    int max_diff;        /* largest |output - golden| over every output value compared */
    int tolerance;
    int outputs_checked; /* 1 when a classifier ran on the golden inputs */
    int passed;          /* every check of every vector held */
} tinyecg_selftest_t;

/* Largest |got[i] - want[i]| over n values. */
int tinyecg_selftest_max_abs_diff(const int8_t *got, const int8_t *want, int n);

/* Run every golden vector of `model` (see above). classifier: NULL checks the preprocessing
 * alone. cost: NULL prints no cost fields. scratch: TINYECG_WINDOW bytes for the window the
 * preprocessing writes (lent by the caller, e.g. the core's window_q while no beat is in
 * flight: keeps 360 bytes off the stack on top of the preprocessing's own frame). Returns
 * res->passed. */
int tinyecg_selftest_run(const tinyecg_exported_model_t *model,
                         const tinyecg_classifier_t *classifier, int tolerance,
                         const tinyecg_cost_counter_t *cost, int8_t *scratch,
                         tinyecg_write_fn write, void *ctx, tinyecg_selftest_t *res);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_SELFTEST_H */
