/*
 * tflm_selftest_main.c - the firmware's boot as a program of its own, for the host and for
 * QEMU (mps2-an386 Cortex-M4F, mps2-an385 running Cortex-M0+ code): a board layer that only
 * prints. Built by tinyecg/device/tflm_selftest.py with the application of
 * firmware/lib/tinyecg_app (TINYECG_CLASSIFIER_TFLM: the TFLM adapter), an exported model
 * folder and the library the boards pin (tinyecg/device/tflm_lib.py).
 *
 * It runs what a board runs at boot, through the same call, tinyecg_firmware_boot(): the first
 * line, the classifier's start and checks ("# tflm ..."), the golden self-test
 * ("# selftest ..."), the core's "# tinyecg ..." line. Then one inference per golden vector
 * on the golden inputs, through the classifier the core would call (disabled after a failed
 * self-test), one line each:
 *   # golden <i> out=<v0>,<v1>,... [instructions=<n>]      (or classify-error=<rc>)
 * so the outputs of host, Cortex-M4 and Cortex-M0+ can be compared value by value, and
 * instructions=<n> (QEMU only, -icount shift=0) is the cost of one classify() call: the
 * copy of the inputs, Invoke() and the copy of the outputs. Last:
 *   # memory arena_used=<bytes> arena_bytes=<n> [stack_peak=<bytes>]
 *   # result selftest=pass|FAIL classifier=enabled|disabled exit=<code>
 * Exit code 0 when the golden self-test passed and the classifier is enabled, 1 when the
 * self-test failed or the classifier was disabled, 2 when it could not start at all.
 *
 * Output goes to stdout: on QEMU newlib's, through semihosting (--specs=rdimon.specs), so it
 * arrives on QEMU's stdout (semihosting's WRITE0 would land on its stderr).
 */
#if !defined(TINYECG_SELFTEST_QEMU)
#define _POSIX_C_SOURCE 199309L /* clock_gettime() under -std=c99 */
#endif

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tinyecg_classifiers.h"
#include "tinyecg_exported.h"
#include "tinyecg_firmware.h"

#if defined(TINYECG_SELFTEST_QEMU)
#include "platform.h"
#else
#include <time.h>
#endif

/* which build this is, for the first line */
#if defined(__ARM_ARCH_7EM__)
#define SELFTEST_TARGET "m4"
#elif defined(__ARM_ARCH_6M__)
#define SELFTEST_TARGET "m0"
#else
#define SELFTEST_TARGET "host"
#endif

static tinyecg_firmware_t firmware;

static void put(const char *text)
{
    fputs(text, stdout);
}

static void put_int(int32_t value)
{
    char digits[TINYECG_TEXT_INT_BYTES];
    put(tinyecg_text_int(value, digits));
}

/* the application's text output */
static void write_console(void *ctx, const char *text)
{
    (void)ctx;
    put(text);
}

/* TFLM's profiler clock (tinyecg_classifiers.h); a board's main.cpp gives micros(). */
uint32_t tinyecg_board_micros(void)
{
#if defined(TINYECG_SELFTEST_QEMU)
    /* -icount shift=0: one instruction per virtual nanosecond */
    return (uint32_t)(platform_instructions() / 1000u);
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint32_t)now.tv_sec * 1000000u + (uint32_t)(now.tv_nsec / 1000);
#endif
}

/* Instructions executed so far (QEMU); 0 on the host, which counts none. */
static uint64_t instructions_now(void)
{
#if defined(TINYECG_SELFTEST_QEMU)
    return platform_instructions();
#else
    return 0u;
#endif
}

/* One classify() per golden vector, on the golden inputs: its outputs and its cost. */
static void run_goldens(const tinyecg_classifier_t *classifier)
{
    const tinyecg_exported_model_t *model = tinyecg_exported_model();
    int i, k;
    for (i = 0; i < model->golden_count; i++) {
        tinyecg_golden_vector_t vector;
        int8_t scores[TINYECG_MAX_CLASSES];
        int8_t no_rhythm = 0;
        uint64_t start;
        uint32_t spent;
        int status;
        model->golden(i, &vector);
        start = instructions_now();
        status = classifier->classify(classifier->ctx, vector.input,
                                      vector.rhythm != NULL ? vector.rhythm : &no_rhythm, scores);
        spent = (uint32_t)(instructions_now() - start);
        put("# golden ");
        put_int(i);
        if (status != 0) {
            put(" classify-error=");
            put_int(status);
            put("\n");
            continue;
        }
        put(" out=");
        for (k = 0; k < classifier->n_classes; k++) {
            put(k > 0 ? "," : "");
            put_int(scores[k]);
        }
#if defined(TINYECG_SELFTEST_QEMU)
        put(" instructions=");
        put_int((int32_t)spent);
#else
        (void)spent;
#endif
        put("\n");
    }
}

int main(void)
{
    tinyecg_firmware_config_t cfg;
    int exit_code;

#if defined(TINYECG_SELFTEST_QEMU)
    platform_init(); /* starts the instruction counter */
#endif
    memset(&cfg, 0, sizeof cfg);
    cfg.board = "tflm-selftest-" SELFTEST_TARGET;
    cfg.input_mode = TINYECG_INPUT_SERIAL;
    cfg.write = write_console;
    (void)tinyecg_firmware_boot(&firmware, &cfg);
    if (firmware.model != NULL && firmware.classifier.arena_used > 0u) {
        run_goldens(&firmware.gate); /* what the core calls: refuses while disabled */
    }
    exit_code = firmware.classifier.arena_used == 0u ? 2
                : (firmware.selftest.passed && firmware.enabled ? 0 : 1);

    put("# memory arena_used=");
    put_int((int32_t)firmware.classifier.arena_used);
    put(" arena_bytes=");
    put_int((int32_t)firmware.classifier.arena_bytes);
#if defined(TINYECG_SELFTEST_QEMU)
    put(" stack_peak=");
    put_int((int32_t)platform_stack_peak_bytes());
#endif
    put("\n# result selftest=");
    put(firmware.selftest.passed ? "pass" : "FAIL");
    put(" classifier=");
    put(firmware.enabled ? "enabled" : "disabled");
    put(" exit=");
    put_int(exit_code);
    put("\n");
    fflush(stdout);
    return exit_code;
}
