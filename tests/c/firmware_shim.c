/*
 * firmware_shim.c - the firmware application (firmware/lib/tinyecg_app) as a shared library the
 * host tests drive with ctypes (tests/test_firmware_project.py). It plays a board layer: it
 * owns the one tinyecg_firmware_t, a constant-per-start configuration, and in ADC mode the
 * sample ring and command filter, exactly as main.cpp does; the classifier comes from Python
 * (the TFLM host runtime) through tinyecg_firmware_start(), or is the build's own through
 * tinyecg_firmware_boot().
 *
 * Compiled with the project's strict C flags (-std=c99 -Wall -Wextra -Werror -Wconversion
 * -pedantic), like everything it links.
 */
#include <stddef.h>
#include <string.h>

#include "tinyecg_classifiers.h"
#include "tinyecg_exported.h"
#include "tinyecg_firmware.h"

static tinyecg_firmware_t firmware;
static tinyecg_firmware_config_t config;
static tinyecg_sample_ring_t ring;
static tinyecg_command_filter_t commands;

/* the application's clock for TFLM (unused here: no TFLM in this library) */
uint32_t tinyecg_board_micros(void)
{
    return 0u;
}

static void configure(int input_mode, unsigned outputs, tinyecg_write_fn write)
{
    memset(&config, 0, sizeof config);
    config.board = "host-shim";
    config.input_mode = input_mode;
    config.outputs = outputs;
    config.write = write;
    if (input_mode == TINYECG_INPUT_ADC) {
        config.ring = &ring;
        config.commands = &commands;
    }
}

/* tinyecg_firmware_start() with a classifier from the test (NULL: detection only). */
int shim_start(int input_mode, const tinyecg_classifier_t *classifier, unsigned outputs,
               tinyecg_write_fn write)
{
    configure(input_mode, outputs, write);
    return tinyecg_firmware_start(&firmware, &config, classifier, classifier != NULL);
}

/* tinyecg_firmware_boot(): the build's classifier (TINYECG_CLASSIFIER). */
int shim_boot(int input_mode, unsigned outputs, tinyecg_write_fn write)
{
    configure(input_mode, outputs, write);
    return tinyecg_firmware_boot(&firmware, &config);
}

void shim_serial(const char *data, size_t len)
{
    tinyecg_firmware_serial(&firmware, data, len);
}

void shim_adc(int32_t reading, int lead_off)
{
    tinyecg_firmware_adc(&firmware, reading, lead_off);
}

void shim_poll(void)
{
    tinyecg_firmware_poll(&firmware);
}

void shim_tick(uint32_t now_ms)
{
    tinyecg_firmware_tick(&firmware, now_ms);
}

int shim_selftest_again(void)
{
    return tinyecg_firmware_selftest(&firmware);
}

/* the boot's outcome: bit 0 self-test passed, bit 1 classifier enabled, bit 2 started */
int shim_state(void)
{
    return (firmware.selftest.passed ? 1 : 0) | (firmware.enabled ? 2 : 0) |
           (firmware.classifier.started ? 4 : 0);
}

/* the classifier the core calls (the gate), to classify through it from the test */
const tinyecg_classifier_t *shim_core_classifier(void)
{
    return firmware.core.cfg.classifier;
}

/* ---- the exported model, field by field ---- */

const tinyecg_model_expect_t *shim_expect(void)
{
    return &tinyecg_exported_model()->expect;
}

const char *const *shim_labels(void)
{
    return tinyecg_exported_model()->labels;
}

int shim_n_classes(void)
{
    return tinyecg_exported_model()->n_classes;
}

int shim_n_rhythm(void)
{
    return tinyecg_exported_model()->n_rhythm;
}

int shim_golden_count(void)
{
    return tinyecg_exported_model()->golden_count;
}

const char *shim_sha256(void)
{
    return tinyecg_exported_model()->sha256;
}

/* tinyecg_selftest_run() on the exported model with its own scratch */
int shim_selftest(const tinyecg_classifier_t *classifier, int tolerance, tinyecg_write_fn write,
                  tinyecg_selftest_t *res)
{
    static int8_t scratch[TINYECG_WINDOW];
    return tinyecg_selftest_run(tinyecg_exported_model(), classifier, tolerance, NULL, scratch,
                                write, NULL, res);
}
