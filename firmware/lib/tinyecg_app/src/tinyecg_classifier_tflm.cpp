/*
 * tinyecg_classifier_tflm.cpp - TINYECG_CLASSIFIER_TFLM: the exported flatbuffer under
 * TensorFlow Lite Micro, behind the core's classifier interface (see tinyecg_classifiers.h).
 *
 * Written for the two TFLM distributions pinned in platformio.ini:
 *   - tensorflow/tflite-micro-arduino-examples (Arduino_TensorFlowLite) at bd7e861 of
 *     2023-02-27, its last TFLM sync, CMSIS-NN kernels: nano33ble, nucleo_l432kc, pico, and the
 *     off-board builds of tinyecg/device/tflm_lib.py (host, QEMU Cortex-M4F and Cortex-M0+);
 *   - eloquentarduino/tflm_esp32 2.0.0, TFLM of 2024-07: esp32s3.
 * Both have tflite::MicroInterpreter(model, resolver, arena, arena_size) (the resource
 * variables and profiler arguments default to nullptr), AllocateTensors(), input(i),
 * output(i), inputs_size(), outputs_size(), Invoke() and arena_used_bytes().
 *
 * tinyecg_classifier_start() builds the interpreter from the generated files (model bytes,
 * op resolver, TINYECG_ARENA_BYTES) and prints
 *   # tflm <library> arena=<used>/<TINYECG_ARENA_BYTES> model=<bytes> sha256=<16 hex> ...
 * then refuses, with one "# tflm error: ..." line each, a model this library cannot run as
 * exported: another flatbuffer schema, per-channel FULLY_CONNECTED weights (both libraries
 * predate them: bd7e861 silently applies channel 0's scale to every output channel, issue 11;
 * upstream TFLM refuses such a model at load time since 2024-05, tflite-micro PR 2602), an
 * arena too small or a missing op, tensors that do not match tinyecg_model_meta.h.
 *
 * The TFLM headers are included one by one, not through the library's umbrella header: the
 * bd7e861 export's TensorFlowLite.h includes peripherals/peripherals.h, which stops with
 * "#error unsupported board" on anything but a Nano 33 BLE. PlatformIO's dependency finder
 * (lib_ldf_mode = chain) resolves "tensorflow/lite/micro/micro_interpreter.h" against each
 * library's src/ folder, so this include alone names Arduino_TensorFlowLite (lib_deps names it
 * as well).
 *
 * No heap: the interpreter lives in a static buffer (placement new), the arena is a static
 * 16-byte aligned array of TINYECG_ARENA_BYTES.
 *
 * The rhythm model (TINYECG_RHYTHM) with a `tinyecg export --task rhythm --runtime tflm`
 * export (TINYECG_RHYTHM_MODEL_IS_TFLM below) runs in a second interpreter of its own: its
 * own static arena (TINYECG_RHYTHM_MODEL_ARENA_BYTES), op resolver and interpreter buffer,
 * so neither model's persistent allocations touch the other's.
 * tinyecg_rhythm_classifier_start() prints
 *   # rhythm-classifier tflm arena=<used>/<TINYECG_RHYTHM_MODEL_ARENA_BYTES> model=<bytes>
 *     sha256=<16 hex> kernels=... labels=non-shockable,shockable
 * and refuses, with one "# rhythm-classifier error: ..." line each, what the beat model's
 * start refuses (schema, arena or op, per-channel FULLY_CONNECTED) and tensors that do not
 * match tinyecg_rhythm_model_meta.h: one int8 input of TINYECG_RHYTHM_MODEL_INPUT_ELEMENTS
 * with the front end's scale and zero point, one int8 output per label with the metadata's
 * scale. The golden self-test of tinyecg_rhythm_classifier.c then runs on it.
 */
#include "tinyecg_classifiers.h"

#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_TFLM

#include <new>
#include <stdint.h>
#include <string.h>

#include "tinyecg_exported.h"
#include "tinyecg_model_check.h"
#include "tinyecg_spec.h"       /* TINYECG_WINDOW */
#include "tinyecg_arena.h"      /* TINYECG_ARENA_BYTES */
#include "tinyecg_model_data.h" /* tinyecg_model_data[], tinyecg_model_data_len, TINYECG_ALIGN16 */

#if defined(ARDUINO_ARCH_ESP32)
#include <tflm_esp32.h> /* eloquentarduino/tflm_esp32 (names the library for PlatformIO's LDF) */
#endif
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tensorflow/lite/schema/schema_utils.h"
#include "tinyecg_op_resolver.h" /* tinyecg::OpResolver, tinyecg::RegisterOps() (generated) */

#include "tinyecg_rhythm_app.h" /* TINYECG_RHYTHM, tinyecg_rhythm_classifier_start() */
#if TINYECG_RHYTHM
#include "tinyecg_rhythm_model_meta.h" /* the rhythm metadata */
/* Which export this build has (tinyecg_rhythm_app.h): a `--runtime tflm` export's metadata
 * includes tinyecg_rhythm_model_arena.h, the only header that defines
 * TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES; a `--runtime c` export's, tinyecg_rhythm_model.h. */
#if defined(TINYECG_RHYTHM_MODEL_ARENA_HOST_BYTES)
#define TINYECG_RHYTHM_MODEL_IS_TFLM 1
#else
#define TINYECG_RHYTHM_MODEL_IS_TFLM 0
#endif
#else
#define TINYECG_RHYTHM_MODEL_IS_TFLM 0 /* no rhythm task */
#endif
#if TINYECG_RHYTHM && TINYECG_RHYTHM_MODEL_IS_TFLM
#define TINYECG_TFLM_RHYTHM 1
#include "tinyecg_rhythm_model_data.h" /* tinyecg_rhythm_model_data[], its SHA-256 */
#include "tinyecg_rhythm_model_op_resolver.h" /* tinyecg_rhythm_model::OpResolver (generated) */
#else
#define TINYECG_TFLM_RHYTHM 0 /* no rhythm task, or its C backend export */
#endif

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

#define TINYECG_TFLM_MAX_TENSORS 4 /* inputs or outputs looked at: the model has 1 or 2 */

namespace {

TINYECG_ALIGN16 uint8_t g_arena[TINYECG_ARENA_BYTES];
alignas(tflite::MicroInterpreter) unsigned char g_interp_mem[sizeof(tflite::MicroInterpreter)];
tinyecg::OpResolver g_resolver;

struct State {
    tflite::MicroInterpreter *interp;
    TfLiteTensor *beat;
    TfLiteTensor *rhythm;
    TfLiteTensor *output;
    int n_rhythm;
    int n_classes;
};
State g_state;
tinyecg_classifier_t g_classifier;
tinyecg_write_fn g_write;
void *g_write_ctx;

void put(const char *text)
{
    tinyecg_text_put(g_write, g_write_ctx, text);
}

void put_int(int32_t v)
{
    tinyecg_text_put_int(g_write, g_write_ctx, v);
}

void describe(const TfLiteTensor *t, tinyecg_tensor_info_t *d)
{
    memset(d, 0, sizeof *d);
    d->type = static_cast<int>(t->type);
    d->n_dims = t->dims != nullptr ? t->dims->size : 0;
    if (d->n_dims > TINYECG_TENSOR_MAX_DIMS) {
        d->n_dims = -1; /* reported as 0 elements */
    }
    for (int i = 0; i < d->n_dims; i++) {
        d->dims[i] = t->dims->data[i];
    }
    d->scale = t->params.scale;
    d->zero_point = t->params.zero_point;
}

int classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q, int8_t *scores_q)
{
    State *s = static_cast<State *>(ctx);
    if (s->interp == nullptr) {
        return -1; /* never started */
    }
#if TINYECG_PATIENT_CONTEXT
    memcpy(s->beat->data.int8, window_q, 2 * TINYECG_WINDOW); /* [window, template] */
#else
    memcpy(s->beat->data.int8, window_q, TINYECG_WINDOW);
#endif
    if (s->rhythm != nullptr) {
        memcpy(s->rhythm->data.int8, rhythm_q, static_cast<size_t>(s->n_rhythm));
    }
    if (s->interp->Invoke() != kTfLiteOk) {
        return -2;
    }
    memcpy(scores_q, s->output->data.int8, static_cast<size_t>(s->n_classes));
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

/* The first FULLY_CONNECTED operator whose weights (input 1) carry more than one scale, or
 * -1. Neither pinned library computes those: bd7e861's reference and CMSIS-NN kernels read
 * params.scale, channel 0's, for every output channel; TFLM added per-channel support only
 * in 2024-08 (tflite-micro PR 2673). *scales: how many that operator's weights have. */
int per_channel_fully_connected(const tflite::Model *model, int *scales)
{
    const auto *codes = model->operator_codes();
    const auto *subgraphs = model->subgraphs();
    if (codes == nullptr || subgraphs == nullptr) {
        return -1;
    }
    for (unsigned g = 0; g < subgraphs->size(); g++) {
        const tflite::SubGraph *graph = subgraphs->Get(g);
        const auto *ops = graph->operators();
        const auto *tensors = graph->tensors();
        if (ops == nullptr || tensors == nullptr) {
            continue;
        }
        for (unsigned k = 0; k < ops->size(); k++) {
            const tflite::Operator *op = ops->Get(k);
            const auto *inputs = op->inputs();
            if (op->opcode_index() >= codes->size() ||
                tflite::GetBuiltinCode(codes->Get(op->opcode_index())) !=
                    tflite::BuiltinOperator_FULLY_CONNECTED ||
                inputs == nullptr || inputs->size() < 2 || inputs->Get(1) < 0 ||
                static_cast<unsigned>(inputs->Get(1)) >= tensors->size()) {
                continue;
            }
            const tflite::QuantizationParameters *q =
                tensors->Get(static_cast<unsigned>(inputs->Get(1)))->quantization();
            if (q != nullptr && q->scale() != nullptr && q->scale()->size() > 1) {
                *scales = static_cast<int>(q->scale()->size());
                return static_cast<int>(k);
            }
        }
    }
    return -1;
}

void put_banner(const tinyecg_exported_model_t *m, size_t arena_used)
{
    char hash[17];
    put("# tflm " TINYECG_TFLM_NAME " arena=");
    put_int(static_cast<int32_t>(arena_used));
    put("/");
    put_int(static_cast<int32_t>(TINYECG_ARENA_BYTES));
    put(" model=");
    put_int(static_cast<int32_t>(tinyecg_model_data_len));
    put(" sha256=");
    memcpy(hash, m->sha256, 16);
    hash[16] = '\0';
    put(hash);
    put(" kernels=");
    put(TINYECG_TFLM_OPTIMIZED_KERNELS ? "optimized" : "reference");
    put(" labels=");
    for (int i = 0; i < m->n_classes; i++) {
        put(i > 0 ? "," : "");
        put(m->labels[i]);
    }
    put("\n");
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

extern "C" const tinyecg_classifier_t *tinyecg_classifier_start(
    tinyecg_write_fn write, void *ctx, tinyecg_classifier_status_t *status)
{
    const tinyecg_exported_model_t *m = tinyecg_exported_model();
    tinyecg_tensor_info_t ins[TINYECG_TFLM_MAX_TENSORS], outs[TINYECG_TFLM_MAX_TENSORS];
    tinyecg_io_map_t map;
    int n_in, n_out, at, scales = 0;

    g_write = write;
    g_write_ctx = ctx;
    memset(status, 0, sizeof *status);
    memset(&g_state, 0, sizeof g_state);
    status->runtime = "tflm";
    status->arena_bytes = TINYECG_ARENA_BYTES;
    g_state.n_rhythm = m->n_rhythm;
    g_state.n_classes = m->n_classes;
    g_classifier.classify = classify;
    g_classifier.ctx = &g_state;
    g_classifier.n_classes = m->n_classes;
    g_classifier.n_rhythm = m->n_rhythm;
    g_classifier.labels = m->labels;
    g_classifier.name = "tflm";

    const tflite::Model *model = tflite::GetModel(tinyecg_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        put_banner(m, 0);
        put("# tflm error: model schema ");
        put_int(static_cast<int32_t>(model->version()));
        put(", this TFLM reads schema 3\n");
        return &g_classifier;
    }
    if (tinyecg::RegisterOps(g_resolver) != kTfLiteOk) {
        put_banner(m, 0);
        put("# tflm error: op resolver registration failed\n");
        return &g_classifier;
    }
    tflite::MicroInterpreter *interp = ::new (static_cast<void *>(g_interp_mem))
        tflite::MicroInterpreter(model, g_resolver, g_arena, sizeof g_arena);
    if (interp->AllocateTensors() != kTfLiteOk) {
        put_banner(m, 0);
        put("# tflm error: AllocateTensors failed (TINYECG_ARENA_BYTES ");
        put_int(static_cast<int32_t>(TINYECG_ARENA_BYTES));
        put(" too small, or an op is missing)\n");
        return &g_classifier;
    }
    status->arena_used = interp->arena_used_bytes();
    put_banner(m, status->arena_used);
    note_changed_ops(model);

    at = TINYECG_TFLM_CHECK_PER_CHANNEL_FC ? per_channel_fully_connected(model, &scales) : -1;
    if (at >= 0) {
        put("# tflm error: FULLY_CONNECTED operator ");
        put_int(at);
        put(" has per-channel weights (");
        put_int(scales);
        put(" scales), which this TFLM computes with channel 0's scale: classifier disabled "
            "(export a model with per-tensor dense layers)\n");
        return &g_classifier;
    }

    n_in = static_cast<int>(interp->inputs_size());
    n_out = static_cast<int>(interp->outputs_size());
    for (int i = 0; i < n_in && i < TINYECG_TFLM_MAX_TENSORS; i++) {
        describe(interp->input(static_cast<size_t>(i)), &ins[i]);
    }
    for (int i = 0; i < n_out && i < TINYECG_TFLM_MAX_TENSORS; i++) {
        describe(interp->output(static_cast<size_t>(i)), &outs[i]);
    }
    /* the real output count, so a model with extra outputs fails "outputs" */
    if (n_in > TINYECG_TFLM_MAX_TENSORS || n_out > TINYECG_TFLM_MAX_TENSORS ||
        tinyecg_model_check_tensors(&m->expect, ins, n_in, outs, n_out, &map, write, ctx) != 0) {
        put("# tflm error: the model does not match tinyecg_model_meta.h (re-export?)\n");
        return &g_classifier;
    }
    g_state.interp = interp;
    g_state.beat = interp->input(static_cast<size_t>(map.beat_input));
    g_state.rhythm =
        map.rhythm_input >= 0 ? interp->input(static_cast<size_t>(map.rhythm_input)) : nullptr;
    g_state.output = interp->output(0);
    status->started = 1;
    return &g_classifier;
}

#if TINYECG_TFLM_RHYTHM

/* TFLM's int8 SOFTMAX writes its output with zero point -128 and scale 1/256 (it refuses any
 * other: tensorflow/lite/micro/kernels/softmax_common.cc); the rhythm metadata gives the
 * scale (1 * 2^-8) but not the zero point, which the model's last op fixes. */
#define TINYECG_RHYTHM_TFLM_OUTPUT_ZERO_POINT (-128)

namespace {

TINYECG_ALIGN16 uint8_t g_rhythm_arena[TINYECG_RHYTHM_MODEL_ARENA_BYTES];
alignas(tflite::MicroInterpreter) unsigned char
    g_rhythm_interp_mem[sizeof(tflite::MicroInterpreter)];
tinyecg_rhythm_model::OpResolver g_rhythm_resolver;

struct RhythmState {
    tflite::MicroInterpreter *interp; /* nullptr until every check passed */
    TfLiteTensor *input;
    TfLiteTensor *output;
};
RhythmState g_rhythm;

int rhythm_classify(void *ctx, const int8_t *window_q, int8_t *scores_q)
{
    RhythmState *s = static_cast<RhythmState *>(ctx);
    if (s->interp == nullptr) {
        return -1; /* never started */
    }
    memcpy(s->input->data.int8, window_q, TINYECG_RHYTHM_MODEL_INPUT_ELEMENTS);
    if (s->interp->Invoke() != kTfLiteOk) {
        return -2;
    }
    memcpy(scores_q, s->output->data.int8, TINYECG_RHYTHM_MODEL_OUTPUT_ELEMENTS);
    return 0;
}

/* constant: in flash; classify() reads g_rhythm */
const tinyecg_rhythm_classifier_t g_rhythm_classifier = {
    rhythm_classify, &g_rhythm, TINYECG_RHYTHM_MODEL_SHOCKABLE_OUTPUT, "tflm",
    TINYECG_RHYTHM_MODEL_SHA256,
};

void put_rhythm_banner(size_t arena_used)
{
    char hash[17];
    put("# rhythm-classifier tflm arena=");
    put_int(static_cast<int32_t>(arena_used));
    put("/");
    put_int(static_cast<int32_t>(TINYECG_RHYTHM_MODEL_ARENA_BYTES));
    put(" model=");
    put_int(static_cast<int32_t>(tinyecg_rhythm_model_data_len));
    put(" sha256=");
    memcpy(hash, TINYECG_RHYTHM_MODEL_SHA256, 16);
    hash[16] = '\0';
    put(hash);
    put(" kernels=");
    put(TINYECG_TFLM_OPTIMIZED_KERNELS ? "optimized" : "reference");
    put(" labels=");
    for (int i = 0; i < TINYECG_RHYTHM_MODEL_NUM_LABELS; i++) {
        put(i > 0 ? "," : "");
        put(tinyecg_rhythm_model_labels[i]);
    }
    put("\n");
}

/* 1 when t is an int8 tensor of `elements` values quantized exactly as the metadata says;
 * otherwise one "# rhythm-classifier error: the model's <what> ..." line and 0. */
int rhythm_tensor_ok(const TfLiteTensor *t, const char *what, int32_t elements,
                     tinyecg_scale_t scale, int32_t zero_point)
{
    tinyecg_tensor_info_t d;
    describe(t, &d);
    if (d.type == TINYECG_TENSOR_TYPE_INT8 && tinyecg_tensor_elements(&d) == elements &&
        tinyecg_scale_equal(d.scale, scale) && d.zero_point == zero_point) {
        return 1;
    }
    put("# rhythm-classifier error: the model's ");
    put(what);
    put(" is not int8[");
    put_int(elements);
    put("] with the scale and zero point of tinyecg_rhythm_model_meta.h (re-export?)\n");
    return 0;
}

} // namespace

extern "C" const tinyecg_rhythm_classifier_t *tinyecg_rhythm_classifier_start(
    tinyecg_write_fn write, void *ctx, int *started)
{
    const tinyecg_scale_t in_scale = {TINYECG_RHYTHM_MODEL_INPUT_SCALE_MANT,
                                      TINYECG_RHYTHM_MODEL_INPUT_SCALE_EXP};
    const tinyecg_scale_t out_scale = {TINYECG_RHYTHM_MODEL_OUTPUT_SCALE_MANT,
                                       TINYECG_RHYTHM_MODEL_OUTPUT_SCALE_EXP};
    int at, scales = 0, ok;

    g_write = write;
    g_write_ctx = ctx;
    *started = 0;
    memset(&g_rhythm, 0, sizeof g_rhythm);
    const tflite::Model *model = tflite::GetModel(tinyecg_rhythm_model_data);
    if (model->version() != TFLITE_SCHEMA_VERSION) {
        put_rhythm_banner(0);
        put("# rhythm-classifier error: model schema ");
        put_int(static_cast<int32_t>(model->version()));
        put(", this TFLM reads schema 3\n");
        return &g_rhythm_classifier;
    }
    if (tinyecg_rhythm_model::RegisterOps(g_rhythm_resolver) != kTfLiteOk) {
        put_rhythm_banner(0);
        put("# rhythm-classifier error: op resolver registration failed\n");
        return &g_rhythm_classifier;
    }
    tflite::MicroInterpreter *interp = ::new (static_cast<void *>(g_rhythm_interp_mem))
        tflite::MicroInterpreter(model, g_rhythm_resolver, g_rhythm_arena, sizeof g_rhythm_arena);
    if (interp->AllocateTensors() != kTfLiteOk) {
        put_rhythm_banner(0);
        put("# rhythm-classifier error: AllocateTensors failed (TINYECG_RHYTHM_MODEL_ARENA_BYTES ");
        put_int(static_cast<int32_t>(TINYECG_RHYTHM_MODEL_ARENA_BYTES));
        put(" too small, or an op is missing)\n");
        return &g_rhythm_classifier;
    }
    put_rhythm_banner(interp->arena_used_bytes());
    note_changed_ops(model);

    at = TINYECG_TFLM_CHECK_PER_CHANNEL_FC ? per_channel_fully_connected(model, &scales) : -1;
    if (at >= 0) {
        put("# rhythm-classifier error: FULLY_CONNECTED operator ");
        put_int(at);
        put(" has per-channel weights (");
        put_int(scales);
        put(" scales), which this TFLM computes with channel 0's scale: disabled "
            "(export a model with per-tensor dense layers)\n");
        return &g_rhythm_classifier;
    }
    /* the flatbuffer is the model of the metadata (both 64 hex digits) */
    ok = memcmp(TINYECG_RHYTHM_MODEL_SHA256, TINYECG_RHYTHM_MODEL_HASH, 64) == 0;
    if (!ok) {
        put("# rhythm-classifier error: model data and metadata differ (export again)\n");
    }
    if (interp->inputs_size() != 1 || interp->outputs_size() != 1) {
        put("# rhythm-classifier error: the model has ");
        put_int(static_cast<int32_t>(interp->inputs_size()));
        put(" inputs and ");
        put_int(static_cast<int32_t>(interp->outputs_size()));
        put(" outputs (tinyecg_rhythm_model_meta.h: 1 and 1)\n");
        return &g_rhythm_classifier;
    }
    ok = rhythm_tensor_ok(interp->input(0), "input",
                          static_cast<int32_t>(TINYECG_RHYTHM_MODEL_INPUT_ELEMENTS), in_scale,
                          TINYECG_RHYTHM_MODEL_INPUT_ZERO_POINT) &&
         ok;
    ok = rhythm_tensor_ok(interp->output(0), "output",
                          static_cast<int32_t>(TINYECG_RHYTHM_MODEL_OUTPUT_ELEMENTS), out_scale,
                          TINYECG_RHYTHM_TFLM_OUTPUT_ZERO_POINT) &&
         ok;
    if (!ok) {
        return &g_rhythm_classifier;
    }
    g_rhythm.interp = interp;
    g_rhythm.input = interp->input(0);
    g_rhythm.output = interp->output(0);
    *started = 1;
    return &g_rhythm_classifier;
}

#endif /* TINYECG_TFLM_RHYTHM */

#endif /* TINYECG_CLASSIFIER_TFLM */
