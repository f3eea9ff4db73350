/*
 * tflm_selftest_main.c - the board firmware's TFLM path as a program of its own, for the
 * host and for QEMU (mps2-an386 Cortex-M4F, mps2-an385 running Cortex-M0+ code).
 *
 * It runs what a board runs at boot, with the same sources (firmware/src/tflm_classifier.cpp,
 * tflm_platform.cpp, tinyecg_fw.c, tinyecg_fw_model.c, an exported model folder) and the
 * library the boards pin, built by tinyecg/device/tflm_lib.py:
 *   tinyecg_tflm_init()  interpreter, model check against the metadata, golden self-test;
 *                        its status lines, as a board prints them ("# tflm ...",
 *                        "# selftest ...");
 * then one inference per golden vector on the golden inputs, one line each:
 *   # golden <i> out=<v0>,<v1>,... [instructions=<n>]      (or classify-error=<r>)
 * so the outputs of host, Cortex-M4 and Cortex-M0+ can be compared value by value, and
 * instructions=<n> (QEMU only, -icount shift=0) is the cost of one classify() call: the
 * copy of the inputs, Invoke() and the copy of the outputs. Last:
 *   # memory arena_used=<bytes> arena_bytes=<n> [stack_peak=<bytes>]
 *   # result selftest=pass|FAIL classifier=enabled|disabled exit=<code>
 * Exit code 0 when the golden self-test passed and the classifier is enabled, 1 when the
 * self-test failed or the classifier was disabled, 2 when the interpreter could not start.
 *
 * Output goes to stdout: on QEMU newlib's, through semihosting (--specs=rdimon.specs), so it
 * arrives on QEMU's stdout (semihosting's WRITE0 would land on its stderr).
 */
#if !defined(TINYECG_SELFTEST_QEMU)
#define _POSIX_C_SOURCE 199309L /* clock_gettime() under -std=c99 */
#endif

#include <stdint.h>
#include <stdio.h>

#include "tflm_classifier.h"
#include "tinyecg_fw.h"
#include "tinyecg_fw_model.h"

#if defined(TINYECG_SELFTEST_QEMU)
#include "platform.h"
#else
#include <time.h>
#endif

#ifndef TINYECG_SELFTEST_TARGET
#define TINYECG_SELFTEST_TARGET "unknown"
#endif

static void put(const char *text)
{
    fputs(text, stdout);
}

static void put_int(int32_t value)
{
    char digits[12];
    put(tinyecg_fw_itoa(value, digits));
}

/* the adapter's text output (tinyecg_fw_write_fn) */
static void write_console(void *ctx, const char *text)
{
    (void)ctx;
    put(text);
}

/* TFLM's profiler clock (tflm_classifier.h); a board's main.cpp gives micros(). */
uint32_t tinyecg_platform_micros(void)
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
    const tinyecg_fw_golden_t *golden = tinyecg_fw_model_golden();
    int i, k;
    for (i = 0; i < golden->count; i++) {
        tinyecg_fw_vector_t vector;
        int8_t scores[TINYECG_MAX_CLASSES];
        uint64_t start;
        uint32_t spent;
        int status;
        golden->get(i, &vector);
        start = instructions_now();
        status = classifier->classify(classifier->ctx, vector.input, vector.rhythm, scores);
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
    tinyecg_tflm_status_t status;
    const tinyecg_classifier_t *classifier;
    int exit_code;

#if defined(TINYECG_SELFTEST_QEMU)
    platform_init(); /* starts the instruction counter */
#endif
    put("# tflm-selftest target=" TINYECG_SELFTEST_TARGET "\n");
    classifier = tinyecg_tflm_init(write_console, NULL, &status);
    if (status.interpreter_ok) {
        run_goldens(classifier);
    }
    exit_code = !status.interpreter_ok ? 2 : (status.selftest.passed && status.enabled ? 0 : 1);

    put("# memory arena_used=");
    put_int((int32_t)status.arena_used);
    put(" arena_bytes=");
    put_int((int32_t)status.arena_bytes);
#if defined(TINYECG_SELFTEST_QEMU)
    put(" stack_peak=");
    put_int((int32_t)platform_stack_peak_bytes());
#endif
    put("\n# result selftest=");
    put(status.selftest.passed ? "pass" : "FAIL");
    put(" classifier=");
    put(status.enabled ? "enabled" : "disabled");
    put(" exit=");
    put_int(exit_code);
    put("\n");
    fflush(stdout);
    return exit_code;
}
