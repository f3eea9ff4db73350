/*
 * tinyecg_tflm_platform.cpp - the platform hooks TFLM needs from the application, for the
 * tensorflow/tflite-micro-arduino-examples library (TINYECG_TFLM_DIST 1) at bd7e861.
 *
 * That library ships them in board-specific files: tensorflow/lite/micro/system_setup.cpp
 * (DebugLog on SerialUSB, tflite::InitializeTarget() initialising the Nano 33 BLE Sense /
 * Teensy audio-kit peripherals and waiting up to 4 s for the USB serial) and
 * tensorflow/lite/micro/micro_time.cpp (via src/peripherals/, whose peripherals.h stops with
 * "unsupported board" on anything but a Nano 33 BLE or a Teensy 4). scripts/tflm_arduino_skip.txt
 * leaves those files (and src/peripherals/, src/test_over_serial/) out of the build on every
 * board, and this file supplies, for all boards alike:
 *   DebugLog(const char *)   TFLM's log output (MicroPrintf), to the serial port as
 *                            "# tflm ..." status lines of the protocol;
 *   ticks_per_second(), GetCurrentTimeTicks()   microseconds, for TFLM's profiler hooks;
 *                            bd7e861's micro_time.h declares both uint32_t (the 2021-12-09
 *                            sync 2be8092 had int32_t).
 * tflite::InitializeTarget() is not needed: the board layer opens its serial port itself.
 *
 * No Arduino.h here: the clock is tinyecg_board_micros() (tinyecg_classifiers.h), which
 * main.cpp defines with micros() and the QEMU target and the self-test program with their own
 * clocks, so this file compiles unchanged for all of them. The eloquentarduino/tflm_esp32
 * library (TINYECG_TFLM_DIST 2) brings its own hooks.
 */
#include "tinyecg_classifiers.h"

#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_TFLM && \
    TINYECG_TFLM_DIST == TINYECG_TFLM_ARDUINO_EXAMPLES

#include <stdint.h>

#include "tensorflow/lite/micro/debug_log.h"
#include "tensorflow/lite/micro/micro_time.h"

extern "C" void DebugLog(const char *s)
{
    tinyecg_tflm_log(s);
}

namespace tflite {

uint32_t ticks_per_second()
{
    return 1000000u; /* one tick per microsecond, as tinyecg_board_micros() counts */
}

uint32_t GetCurrentTimeTicks()
{
    return tinyecg_board_micros();
}

} // namespace tflite

#endif
