/*
 * export_golden_check.c - host harness for the files of `tinyecg export` (tests/test_export.py).
 *
 * Compiled with gcc -std=c99 -Wall -Wextra -Werror -Wconversion together with the generated
 * tinyecg_model_data.c, tinyecg_preprocess_params.c and tinyecg_golden.c and the library
 * firmware/lib/tinyecg_dsp (with tinyecg_core/include for tinyecg_spec.h). It
 *   - writes tinyecg_model_data[] to the file argv[1] (the test compares it with the .tflite),
 *   - prints the constants of tinyecg_model_meta.h and tinyecg_arena.h as "key value" lines,
 *   - runs tinyecg_preprocess_window() (and tinyecg_rhythm_features()) on every golden beat and
 *     counts the int8 values that differ from the expected model inputs,
 *   - prints every golden beat's expected inputs and output, read from the compiled tables,
 *     so the test can re-run the model on them.
 * Exit status: 0 when every golden input is reproduced exactly, 1 otherwise, 2 on usage/IO.
 */
#include <stdint.h>
#include <stdio.h>

#include "tinyecg_golden.h"
#include "tinyecg_model_data.h"
#include "tinyecg_model_meta.h"
#include "tinyecg_preprocess_params.h"

/* the arena declared the way tinyecg_arena.h documents it */
TINYECG_ALIGN16 static uint8_t tensor_arena[TINYECG_ARENA_BYTES];

static void print_int8(const char *key, const int8_t *v, int n)
{
    int i;
    printf("%s", key);
    for (i = 0; i < n; ++i) {
        printf(" %d", (int)v[i]);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    FILE *f;
    int g, i, mismatches = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL_OUT\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "wb");
    if (f == NULL) {
        return 2;
    }
    if (fwrite(tinyecg_model_data, 1u, tinyecg_model_data_len, f) != tinyecg_model_data_len) {
        (void)fclose(f);
        return 2;
    }
    if (fclose(f) != 0) {
        return 2;
    }

    printf("model_len %u %u\n", tinyecg_model_data_len, (unsigned)TINYECG_MODEL_DATA_LEN);
    printf("model_sha256 %s\n", tinyecg_model_sha256);
    printf("meta_hash %s\n", TINYECG_MODEL_HASH);
    printf("meta_bytes %u\n", (unsigned)TINYECG_MODEL_BYTES);
    printf("model_aligned16 %d\n", (int)(((uintptr_t)tinyecg_model_data & 15u) == 0u));
    printf("arena_aligned16 %d\n", (int)(((uintptr_t)tensor_arena & 15u) == 0u));
    printf("version %s\n", TINYECG_VERSION);
    printf("runtime %s\n", TINYECG_RUNTIME);
    printf("fs %d\n", TINYECG_MODEL_FS);
    printf("window %d %d %d\n", TINYECG_MODEL_WINDOW, TINYECG_MODEL_PRE_R,
           TINYECG_MODEL_WINDOW - TINYECG_MODEL_PRE_R);
    printf("labels");
    for (i = 0; i < TINYECG_NUM_LABELS; ++i) {
        printf(" %s", tinyecg_labels[i]);
    }
    printf("\n");
    printf("input beat %d %u %d %ld %d\n", TINYECG_INPUT_BEAT_INDEX,
           (unsigned)TINYECG_INPUT_BEAT_ELEMENTS, TINYECG_INPUT_BEAT_ZERO_POINT,
           (long)TINYECG_INPUT_BEAT_SCALE_MANT, TINYECG_INPUT_BEAT_SCALE_EXP);
#if TINYECG_RHYTHM_FEATURES > 0
    printf("input rhythm %d %u %d %ld %d\n", TINYECG_INPUT_RHYTHM_INDEX,
           (unsigned)TINYECG_INPUT_RHYTHM_ELEMENTS, TINYECG_INPUT_RHYTHM_ZERO_POINT,
           (long)TINYECG_INPUT_RHYTHM_SCALE_MANT, TINYECG_INPUT_RHYTHM_SCALE_EXP);
#endif
    printf("output_quant %u %d %ld %d\n", (unsigned)TINYECG_OUTPUT_ELEMENTS, TINYECG_OUTPUT_ZERO_POINT,
           (long)TINYECG_OUTPUT_SCALE_MANT, TINYECG_OUTPUT_SCALE_EXP);
    printf("ops %u %u\n", (unsigned)TINYECG_OP_COUNT, (unsigned)TINYECG_OPERATOR_COUNT);
    printf("arena %u %u %u\n", (unsigned)TINYECG_ARENA_BYTES, (unsigned)TINYECG_ARENA_HOST_BYTES,
           (unsigned)TINYECG_ARENA_MARGIN_BYTES);
    printf("golden_count %d\n", TINYECG_GOLDEN_COUNT);

    for (g = 0; g < TINYECG_GOLDEN_COUNT; ++g) {
        const tinyecg_golden_t *t = &tinyecg_golden[g];
        int8_t beat[TINYECG_WINDOW];
        int diff = 0;
        tinyecg_preprocess_window(&tinyecg_model_preprocess, t->raw, &t->adc, beat);
        for (i = 0; i < TINYECG_WINDOW; ++i) {
            diff += (beat[i] != t->beat[i]);
        }
#if TINYECG_RHYTHM_FEATURES > 0
        {
            int8_t rr[TINYECG_RHYTHM_FEATURES];
            tinyecg_rhythm_features(&tinyecg_model_preprocess, t->pre_rr, t->post_rr,
                                    t->local_rr_sum, t->local_rr_count, rr);
            for (i = 0; i < TINYECG_RHYTHM_FEATURES; ++i) {
                diff += (rr[i] != t->rhythm[i]);
            }
        }
#endif
        mismatches += diff;
        printf("golden %d %s %lu %u %u %d %u %d\n", g, t->record, (unsigned long)t->r_sample,
               (unsigned)t->label, (unsigned)t->predicted, (int)t->adc.baseline,
               (unsigned)t->adc.gain_adu_per_mv, diff);
        printf("rr %ld %ld %ld %ld\n", (long)t->pre_rr, (long)t->post_rr, (long)t->local_rr_sum,
               (long)t->local_rr_count);
        print_int8("beat", t->beat, TINYECG_WINDOW);
#if TINYECG_RHYTHM_FEATURES > 0
        print_int8("rhythm", t->rhythm, TINYECG_RHYTHM_FEATURES);
#endif
        print_int8("output", t->output, TINYECG_NUM_LABELS);
    }
    printf("mismatches %d\n", mismatches);
    return mismatches == 0 ? 0 : 1;
}
