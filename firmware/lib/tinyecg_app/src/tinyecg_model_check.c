/*
 * tinyecg_model_check.c - interpreter tensors against the exported metadata (see
 * tinyecg_model_check.h).
 */
#include "tinyecg_model_check.h"

#include <stddef.h>
#include <string.h>

int32_t tinyecg_tensor_elements(const tinyecg_tensor_info_t *t)
{
    int32_t n = 1;
    int i;
    if (t->n_dims < 0 || t->n_dims > TINYECG_TENSOR_MAX_DIMS) {
        return 0;
    }
    for (i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 1) {
            return 0;
        }
        n *= t->dims[i];
    }
    return n;
}

/* 2^e as a double, exactly (|e| stays below 160 for any float32 scale) */
static double power_of_two(int32_t e)
{
    double p = 1.0;
    while (e > 0) {
        p *= 2.0;
        e--;
    }
    while (e < 0) {
        p *= 0.5;
        e++;
    }
    return p;
}

int tinyecg_scale_equal(float scale, tinyecg_scale_t want)
{
    /* both sides are exact in double: a float32, and an integer below 2^53 times 2^exp */
    double got = (double)scale, expected = (double)want.mant * power_of_two(want.exp);
    return !(got < expected) && !(got > expected);
}

static int problem(tinyecg_write_fn write, void *ctx, const char *what, const char *got,
                   const char *want)
{
    tinyecg_text_put(write, ctx, "# model-check ");
    tinyecg_text_put(write, ctx, what);
    tinyecg_text_put(write, ctx, ": ");
    tinyecg_text_put(write, ctx, got);
    tinyecg_text_put(write, ctx, " (metadata ");
    tinyecg_text_put(write, ctx, want);
    tinyecg_text_put(write, ctx, ")\n");
    return 1;
}

static int check_int(tinyecg_write_fn write, void *ctx, const char *what, int32_t got,
                     int32_t want)
{
    char a[TINYECG_TEXT_INT_BYTES], b[TINYECG_TEXT_INT_BYTES];
    if (got == want) {
        return 0;
    }
    return problem(write, ctx, what, tinyecg_text_int(got, a), tinyecg_text_int(want, b));
}

/* type, scale and zero point of one tensor against the metadata */
static int check_quantization(tinyecg_write_fn write, void *ctx, const tinyecg_tensor_info_t *t,
                              const char *name, tinyecg_scale_t scale, int32_t zero_point)
{
    char what[40], got[TINYECG_TEXT_FLOAT_BYTES], want[40];
    int bad = 0;
    size_t n = strlen(name); /* the longest name is "rhythm input" */
    memcpy(what, name, n);
    strcpy(what + n, " type");
    if (t->type != TINYECG_TENSOR_TYPE_INT8) {
        bad += problem(write, ctx, what, tinyecg_text_int(t->type, got), "9 (int8)");
    }
    strcpy(what + n, " scale");
    if (!tinyecg_scale_equal(t->scale, scale)) {
        size_t k;
        (void)tinyecg_text_int(scale.mant, want);
        k = strlen(want);
        strcpy(want + k, "*2^");
        (void)tinyecg_text_int(scale.exp, want + k + 3);
        bad += problem(write, ctx, what, tinyecg_text_float(t->scale, got), want);
    }
    strcpy(what + n, " zero point");
    bad += check_int(write, ctx, what, t->zero_point, zero_point);
    return bad;
}

int tinyecg_model_check_tensors(const tinyecg_model_expect_t *e,
                                const tinyecg_tensor_info_t *inputs, int n_inputs,
                                const tinyecg_tensor_info_t *outputs, int n_outputs,
                                tinyecg_io_map_t *map, tinyecg_write_fn write, void *ctx)
{
    int bad = 0, i;
    int want_inputs = e->n_rhythm > 0 ? 2 : 1;
    map->beat_input = -1;
    map->rhythm_input = -1;
    bad += check_int(write, ctx, "inputs", n_inputs, want_inputs);
    bad += check_int(write, ctx, "outputs", n_outputs, 1);
    for (i = 0; i < n_inputs; i++) {
        int32_t n = tinyecg_tensor_elements(&inputs[i]);
        if (n == e->beat_elems && map->beat_input < 0) {
            map->beat_input = i;
        } else if (e->n_rhythm > 0 && n == e->n_rhythm && map->rhythm_input < 0) {
            map->rhythm_input = i;
        } else {
            char what[32];
            strcpy(what, "elements of input ");
            (void)tinyecg_text_int(i, what + strlen(what));
            bad += check_int(write, ctx, what, n, e->beat_elems);
        }
    }
    if (map->beat_input < 0) {
        bad += problem(write, ctx, "beat input", "none", "360 int8 values");
    } else {
        bad += check_quantization(write, ctx, &inputs[map->beat_input], "beat input",
                                  e->beat_scale, e->beat_zero_point);
    }
    if (e->n_rhythm > 0) {
        if (map->rhythm_input < 0) {
            bad += problem(write, ctx, "rhythm input", "none", "n_rhythm int8 values");
        } else {
            bad += check_quantization(write, ctx, &inputs[map->rhythm_input], "rhythm input",
                                      e->rhythm_scale, e->rhythm_zero_point);
        }
    }
    if (n_outputs >= 1) {
        bad += check_int(write, ctx, "output elements", tinyecg_tensor_elements(&outputs[0]),
                         e->n_classes);
        bad += check_quantization(write, ctx, &outputs[0], "output", e->output_scale,
                                  e->output_zero_point);
    }
    return bad;
}
