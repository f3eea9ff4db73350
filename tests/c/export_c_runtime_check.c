/*
 * export_c_runtime_check.c - host harness for `tinyecg export --runtime c`
 * (tests/test_export_sources.py): the generated preprocessing feeds the interpreter-free C
 * model (tinyecg_model.c from tinyecg.export.cbackend, linked with the kernels of
 * firmware/lib/tinyecg_nn) with every golden beat, and the output must equal the golden
 * output, which the export took from the TFLM host runtime.
 * Prints "golden INDEX DIFF" per beat and "mismatches N"; exit status 0 when N is 0.
 */
#include <stdio.h>

#include "tinyecg_golden.h"
#include "tinyecg_model.h"
#include "tinyecg_model_meta.h"
#include "tinyecg_preprocess_params.h"

int main(void)
{
    int g, i, mismatches = 0;
    for (g = 0; g < TINYECG_GOLDEN_COUNT; ++g) {
        const tinyecg_golden_t *t = &tinyecg_golden[g];
        const int8_t *in[2] = {NULL, NULL};
        int8_t beat[TINYECG_WINDOW];
        int8_t out[TINYECG_NUM_LABELS];
        int diff = 0;
#if TINYECG_RHYTHM_FEATURES > 0
        int8_t rr[TINYECG_RHYTHM_FEATURES];
        tinyecg_rhythm_features(&tinyecg_model_preprocess, t->pre_rr, t->post_rr, t->local_rr_sum,
                                t->local_rr_count, rr);
        in[TINYECG_INPUT_RHYTHM_INDEX] = rr;
#endif
        tinyecg_preprocess_window(&tinyecg_model_preprocess, t->raw, &t->adc, beat);
        in[TINYECG_INPUT_BEAT_INDEX] = beat;
        if (tinyecg_model_invoke(in[0], in[1], out) != 0) {
            printf("golden %d invoke failed\n", g);
            return 2;
        }
        for (i = 0; i < TINYECG_NUM_LABELS; ++i) {
            diff += (out[i] != t->output[i]);
        }
        printf("golden %d %d\n", g, diff);
        mismatches += diff;
    }
    printf("mismatches %d\n", mismatches);
    return mismatches == 0 ? 0 : 1;
}
