/*
 * tflm_classifier.cpp - TensorFlow Lite Micro adapter (see tflm_classifier.h).
 *
 * Written for the two TFLM distributions pinned in platformio.ini:
 *   - tensorflow/tflite-micro-arduino-examples (Arduino_TensorFlowLite) at bd7e861 of
 *     2023-02-27, its last TFLM sync, CMSIS-NN kernels: nano33ble, nucleo_l432kc, pico;
 *   - eloquentarduino/tflm_esp32 2.0.0, TFLM of 2024-07: esp32s3.
 * Both have tflite::MicroInterpreter(model, resolver, arena, arena_size) (the resource
 * variables and profiler arguments default to nullptr), AllocateTensors(), input(i),
 * output(i), inputs_size(), outputs_size(), Invoke() and arena_used_bytes().
 *
 * The TFLM headers are included one by one, not through the library's umbrella header: the
 * bd7e861 export's TensorFlowLite.h includes peripherals/peripherals.h, which stops with
 * "#error unsupported board" on anything but a Nano 33 BLE. PlatformIO's dependency finder
 * (lib_ldf_mode = chain) resolves "tensorflow/lite/micro/micro_interpreter.h" against each
 * library's src/ folder, so this include alone names Arduino_TensorFlowLite (lib_deps names it
 * as well). The same file builds off-board against the vendored library (tinyecg/device/
 * tflm_lib.py: host, Cortex-M4F and Cortex-M0+ under QEMU).
 *
 * No heap: the interpreter lives in a static buffer (placement new), the arena is a static
 * 16-byte aligned array of TINYECG_ARENA_BYTES.
 */
#include "tflm_classifier.h"

#include <new>
#include <stdint.h>
#include <string.h>

#include "ecg_config.h"
#include "tinyecg_fw.h"
#include "tinyecg_fw_model.h"
#include "tinyecg_model_files.h"

#if defined(ARDUINO_ARCH_ESP32)
#include <tflm_esp32.h> /* eloquentarduino/tflm_esp32 (names the library for PlatformIO's LDF) */
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"
#include TINYECG_OP_RESOLVER_HEADER

#ifndef TFLITE_SCHEMA_VERSION
#define TFLITE_SCHEMA_VERSION 3 /* tensorflow/lite/version.h: the flatbuffer schema in use */
#endif

#if TINYECG_TFLM_DIST == TINYECG_TFLM_ARDUINO_EXAMPLES
#define TINYECG_TFLM_NAME "Arduino_TensorFlowLite@bd7e861 (TFLM 2023-02-27)"
#elif TINYECG_TFLM_DIST == TINYECG_TFLM_ELOQUENT_ESP32
#define TINYECG_TFLM_NAME "tflm_esp32@2.0.0 (TFLM 2024-07)"
#else
#define TINYECG_TFLM_NAME "unknown"
#endif

namespace {

TINYECG_ALIGN16 uint8_t g_arena[TINYECG_ARENA_BYTES];
alignas(tflite::MicroInterpreter) unsigned char g_interp_mem[sizeof(tflite::MicroInterpreter)];
TINYECG_FW_OP_RESOLVER g_resolver;

struct State {
    tflite::MicroInterpreter *interp;
    TfLiteTensor *beat;
    TfLiteTensor *rhythm;
    TfLiteTensor *output;
    int enabled;
};
State g_state;
tinyecg_classifier_t g_classifier;
tinyecg_fw_write_fn g_write;
void *g_write_ctx;

void put(const char *text)
{
    if (g_write != nullptr) {
        g_write(g_write_ctx, text);
    }
}

void put_int(int32_t v)
{
    char buf[12];
    put(tinyecg_fw_itoa(v, buf));
}

void describe(const TfLiteTensor *t, tinyecg_fw_tensor_t *d)
{
    int i;
    memset(d, 0, sizeof *d);
    d->type = static_cast<int>(t->type);
    d->n_dims = t->dims != nullptr ? t->dims->size : 0;
    if (d->n_dims > TINYECG_FW_MAX_DIMS) {
        d->n_dims = -1; /* reported as 0 elements */
    }
    for (i = 0; i < d->n_dims; i++) {
        d->dims[i] = t->dims->data[i];
    }
    d->scale = t->params.scale;
    d->zero_point = t->params.zero_point;
}

int classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q, int8_t *scores_q)
{
    State *s = static_cast<State *>(ctx);
    if (!s->enabled) {
        return -1;
    }
    memcpy(s->beat->data.int8, window_q, TINYECG_WINDOW);
    if (s->rhythm != nullptr) {
        memcpy(s->rhythm->data.int8, rhythm_q, static_cast<size_t>(TINYECG_RHYTHM_FEATURES));
    }
    if (s->interp->Invoke() != kTfLiteOk) {
        return -2;
    }
    memcpy(scores_q, s->output->data.int8, static_cast<size_t>(TINYECG_NUM_LABELS));
    return 0;
}

/* The Arduino export (bd7e861, 2023-02-27) predates the 2023-04 change of TFLM's MEAN
 * kernel (tflite-micro PR 1908): a model with MEAN can give outputs there that differ from
 * the golden vectors of today's runtime. The student has no MEAN (docs/firmware.md); say so
 * if a model does. */
void note_changed_ops(const tflite::Model *model)
{
    const auto *codes = model->operator_codes();
    if (codes == nullptr) {
        return;
    }
    for (unsigned i = 0; i < codes->size(); i++) {
        if (tflite::GetBuiltinCode(codes->Get(i)) == tflite::BuiltinOperator_MEAN) {
            put("# tflm note: the model has MEAN, whose kernel changed in 2023-04 "
                "(tflite-micro PR 1908)");
            put(TINYECG_TFLM_DIST == TINYECG_TFLM_ARDUINO_EXAMPLES
                    ? "; this library (2023-02-27) predates it: golden outputs may differ\n"
                    : "; this library has it\n");
        }
    }
}

} // namespace

extern "C" void tinyecg_tflm_log(const char *text)
{
    static int at_line_start = 1;
    while (text != nullptr && *text != '\0') {
        const char *end = text;
        char piece[64];
        size_t n;
        if (at_line_start) {
            put("# tflm ");
            at_line_start = 0;
        }
        while (*end != '\0' && *end != '\n' && *end != '\r' && end - text < 62) {
            end++;
        }
        n = static_cast<size_t>(end - text);
        memcpy(piece, text, n);
        piece[n] = '\0';
        put(piece);
        text = end;
        if (*text == '\r' || *text == '\n') {
            while (*text == '\r' || *text == '\n') {
                text++;
            }
            put("\n");
            at_line_start = 1;
        }
    }
}

extern "C" const tinyecg_classifier_t *tinyecg_tflm_init(tinyecg_fw_write_fn write, void *ctx,
                                                         tinyecg_tflm_status_t *status)
{
    const tinyecg_fw_expect_t *expect = tinyecg_fw_model_expect();
    tinyecg_fw_tensor_t ins[4], outs[4];
    tinyecg_fw_io_map_t map;
    const tflite::Model *model;
    tflite::MicroInterpreter *interp;
    int n_in, n_out, i;

    g_write = write;
    g_write_ctx = ctx;
    memset(status, 0, sizeof *status);
    memset(&g_state, 0, sizeof g_state);
    status->arena_bytes = TINYECG_ARENA_BYTES;
    g_classifier.classify = classify;
    g_classifier.ctx = &g_state;
    g_classifier.n_classes = TINYECG_NUM_LABELS;
    g_classifier.n_rhythm = TINYECG_RHYTHM_FEATURES;
    g_classifier.labels = tinyecg_fw_model_labels();
    g_classifier.name = "tflm";

    model = tflite::GetModel(tinyecg_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        put("# tflm error: model schema ");
        put_int(static_cast<int32_t>(model->version()));
        put(", this TFLM reads schema 3\n");
        return &g_classifier;
    }
    if (TINYECG_FW_REGISTER_OPS(g_resolver) != kTfLiteOk) {
        put("# tflm error: op resolver registration failed\n");
        return &g_classifier;
    }
    interp = ::new (static_cast<void *>(g_interp_mem))
        tflite::MicroInterpreter(model, g_resolver, g_arena, sizeof g_arena);
    if (interp->AllocateTensors() != kTfLiteOk) {
        put("# tflm error: AllocateTensors failed (TINYECG_ARENA_BYTES ");
        put_int(static_cast<int32_t>(TINYECG_ARENA_BYTES));
        put(" too small, or an op is missing)\n");
        return &g_classifier;
    }
    status->interpreter_ok = 1;
    status->arena_used = interp->arena_used_bytes();
    put("# tflm " TINYECG_TFLM_NAME " arena=");
    put_int(static_cast<int32_t>(status->arena_used));
    put("/");
    put_int(static_cast<int32_t>(TINYECG_ARENA_BYTES));
    put(" model=");
    put_int(static_cast<int32_t>(tinyecg_model_data_len));
    put(" sha256=");
    {
        char h[17];
        memcpy(h, tinyecg_model_sha256, 16);
        h[16] = '\0';
        put(h);
    }
    put(" kernels=");
    put(TINYECG_TFLM_OPTIMIZED_KERNELS ? "optimized" : "reference");
    put(" labels=");
    for (i = 0; i < TINYECG_NUM_LABELS; i++) {
        put(i > 0 ? "," : "");
        put(g_classifier.labels[i]);
    }
    put("\n");
    note_changed_ops(model);

    n_in = static_cast<int>(interp->inputs_size());
    n_out = static_cast<int>(interp->outputs_size());
    for (i = 0; i < n_in && i < 4; i++) {
        describe(interp->input(static_cast<size_t>(i)), &ins[i]);
    }
    for (i = 0; i < n_out && i < 4; i++) {
        describe(interp->output(static_cast<size_t>(i)), &outs[i]);
    }
    /* the real output count, so a model with extra outputs fails "outputs" */
    status->model_ok = n_in <= 4 && n_out <= 4 &&
                       tinyecg_fw_check_tensors(expect, ins, n_in, outs, n_out, &map, write,
                                                ctx) == 0;
    if (!status->model_ok) {
        put("# tflm error: the model does not match tinyecg_model_meta.h (re-export?)\n");
        return &g_classifier;
    }
    g_state.interp = interp;
    g_state.beat = interp->input(static_cast<size_t>(map.beat_input));
    g_state.rhythm =
        map.rhythm_input >= 0 ? interp->input(static_cast<size_t>(map.rhythm_input)) : nullptr;
    g_state.output = interp->output(0);
    g_state.enabled = 1;

    tinyecg_fw_selftest(tinyecg_fw_model_golden(), tinyecg_fw_model_preprocess(), &g_classifier,
                        TINYECG_GOLDEN_TOLERANCE, write, ctx, &status->selftest);
    if (!status->selftest.passed && TINYECG_SELFTEST_STRICT) {
        g_state.enabled = 0;
        put("# tflm error: golden self-test failed, classifier disabled "
            "(TINYECG_SELFTEST_STRICT)\n");
    }
    status->enabled = g_state.enabled;
    return &g_classifier;
}
