/*
 * ecg_config.h - the one configuration header of the tinyecg firmware.
 *
 * Every value can be overridden from platformio.ini (build_flags = -DNAME=value); the
 * defaults below are for an AD8232 single-lead front end (SparkFun "Heart Rate Monitor"
 * breakout: instrumentation amplifier gain 100 x second stage 11 = 1100 V/V, output centred
 * on REFOUT = VS/2) powered from the board's 3.3 V, read by a 12-bit ADC with a 3.3 V span.
 *
 * Input modes (TINYECG_INPUT_MODE):
 *   TINYECG_INPUT_SERIAL  replay: the host sends ADC samples as text lines over the serial
 *                         port (the core's protocol, tinyecg_app.h / docs/detector.md), e.g.
 *                         `tinyecg stream --port /dev/ttyACM0 --record ...`. The default, so
 *                         a board with no front end attached can be tested end to end.
 *   TINYECG_INPUT_ADC     live: a hardware timer samples the ADC at TINYECG_FS_HZ; the
 *                         serial port still accepts the protocol's '#' command lines
 *                         (#reset, #stats, #info, #end); sample lines are ignored.
 * Both modes print the same lines: "B <r> <label> <score_q> <inference_us>" per beat.
 */
#ifndef ECG_CONFIG_H
#define ECG_CONFIG_H

#define TINYECG_INPUT_SERIAL 0
#define TINYECG_INPUT_ADC 1

#ifndef TINYECG_INPUT_MODE
#define TINYECG_INPUT_MODE TINYECG_INPUT_SERIAL
#endif

/* Serial line speed. USB CDC boards (Nano 33 BLE, Pico) ignore it; UART bridges (Nucleo's
 * ST-LINK VCP, ESP32-S3 UART0) use it. 115200 is what `tinyecg stream` opens by default:
 * at 360 Hz a replay needs about 1.8 kB/s (4-digit samples + newline), 16 % of the line. */
#ifndef TINYECG_SERIAL_BAUD
#define TINYECG_SERIAL_BAUD 115200
#endif

/* Sampling rate in Hz: the detector, the beat windows and the model all assume MIT-BIH's
 * 360 Hz (TINYECG_FS in tinyecg_detector.h); this is checked at compile time. */
#ifndef TINYECG_FS_HZ
#define TINYECG_FS_HZ 360
#endif

/* ---- live ADC input (TINYECG_INPUT_ADC) ---- */

/* Pins: AD8232 OUTPUT -> TINYECG_ADC_PIN, LO+ -> TINYECG_LO_PLUS_PIN, LO- ->
 * TINYECG_LO_MINUS_PIN (both lead-off outputs are high while an electrode is off); a pin
 * number < 0 disables lead-off sensing. Defaults per board (Arduino pin numbers). */
#if defined(ARDUINO_ARDUINO_NANO33BLE)
#define TINYECG_DEFAULT_ADC_PIN A0
#define TINYECG_DEFAULT_LO_PLUS 10
#define TINYECG_DEFAULT_LO_MINUS 11
#elif defined(ARDUINO_ARCH_ESP32)
#define TINYECG_DEFAULT_ADC_PIN 1 /* GPIO1 = ADC1_CH0 (ADC2 is shared with Wi-Fi) */
#define TINYECG_DEFAULT_LO_PLUS 4
#define TINYECG_DEFAULT_LO_MINUS 5
#elif defined(ARDUINO_ARCH_STM32)
#define TINYECG_DEFAULT_ADC_PIN A0 /* Nucleo-32 L432KC: A0 = PA0 */
#define TINYECG_DEFAULT_LO_PLUS 2  /* D2 */
#define TINYECG_DEFAULT_LO_MINUS 3 /* D3 */
#else
#define TINYECG_DEFAULT_ADC_PIN A0 /* Pico (Arduino Mbed core): A0 = GP26 */
#define TINYECG_DEFAULT_LO_PLUS 14 /* GP14 */
#define TINYECG_DEFAULT_LO_MINUS 15 /* GP15 */
#endif

#ifndef TINYECG_ADC_PIN
#define TINYECG_ADC_PIN TINYECG_DEFAULT_ADC_PIN
#endif
#ifndef TINYECG_LO_PLUS_PIN
#define TINYECG_LO_PLUS_PIN TINYECG_DEFAULT_LO_PLUS
#endif
#ifndef TINYECG_LO_MINUS_PIN
#define TINYECG_LO_MINUS_PIN TINYECG_DEFAULT_LO_MINUS
#endif

/* ADC resolution (analogReadResolution) and span. */
#ifndef TINYECG_ADC_BITS
#define TINYECG_ADC_BITS 12
#endif
#ifndef TINYECG_ADC_SPAN_MV
#define TINYECG_ADC_SPAN_MV 3300 /* full-scale input in mV (3.3 V reference) */
#endif
/* Analog front-end gain from electrodes to ADC pin, V/V (AD8232 breakout: 100 x 11). */
#ifndef TINYECG_AFE_GAIN
#define TINYECG_AFE_GAIN 1100
#endif

/* Calibration handed to the generated preprocessing (tinyecg_adc_t): ADC counts at 0 mV and
 * counts per mV at the electrodes. 12-bit, 3.3 V, 1100 V/V: 4096 * 1100 / 3300 = 1365. The
 * preprocessing is a z-score, so the gain only sets the 0.01 mV std floor; the baseline does
 * not enter at all (the window is centred on its own midrange). */
#ifndef TINYECG_ADC_BASELINE
#define TINYECG_ADC_BASELINE (1 << (TINYECG_ADC_BITS - 1)) /* REFOUT = VS/2 = mid-scale */
#endif
#ifndef TINYECG_ADC_GAIN_ADU_PER_MV
#define TINYECG_ADC_GAIN_ADU_PER_MV \
    (((1L << TINYECG_ADC_BITS) * TINYECG_AFE_GAIN) / TINYECG_ADC_SPAN_MV)
#endif
/* Valid range: both ends count as railed (the core reports "# lead-off" after 0.25 s of
 * railed samples). While LO+ or LO- is high the firmware feeds the top rail, so a lead-off
 * seen by the AD8232 becomes the core's lead-off report. */
#define TINYECG_ADC_MIN 0
#define TINYECG_ADC_MAX ((1 << TINYECG_ADC_BITS) - 1)
/* A second whose max - min is at most this many counts is reported as "# flat". */
#ifndef TINYECG_ADC_FLAT_TOLERANCE
#define TINYECG_ADC_FLAT_TOLERANCE 4
#endif

/* Samples buffered between the sampling interrupt/thread and loop(): 2.8 s at 360 Hz,
 * far above the longest stall of loop() (one inference plus a burst of output lines). */
#ifndef TINYECG_SAMPLE_RING
#define TINYECG_SAMPLE_RING 1024u
#endif

/* ---- serial replay input (TINYECG_INPUT_SERIAL) ---- */

/* MIT-BIH Arrhythmia Database: 11-bit ADC, adczero 1024, gain 200 adu/mV on every record
 * (what `tinyecg stream` sends: the record's raw digital samples). */
#ifndef TINYECG_REPLAY_BASELINE
#define TINYECG_REPLAY_BASELINE 1024
#endif
#ifndef TINYECG_REPLAY_GAIN_ADU_PER_MV
#define TINYECG_REPLAY_GAIN_ADU_PER_MV 200
#endif
#ifndef TINYECG_REPLAY_ADC_MIN
#define TINYECG_REPLAY_ADC_MIN 0
#endif
#ifndef TINYECG_REPLAY_ADC_MAX
#define TINYECG_REPLAY_ADC_MAX 2047
#endif
#ifndef TINYECG_REPLAY_FLAT_TOLERANCE
#define TINYECG_REPLAY_FLAT_TOLERANCE 2
#endif

/* Replay mode: a serial line silent for this long means the host stopped sending: the core
 * reports "# input stopped" once and flushes the beats still waiting (tinyecg_firmware_tick).
 * 1 s: four times the longest gap a replay at real time leaves between two 0.1 s chunks. */
#ifndef TINYECG_REPLAY_IDLE_MS
#define TINYECG_REPLAY_IDLE_MS 1000u
#endif

/* ---- the classifier (chosen at build time) ---- */

/* Which implementation of the core's tinyecg_classifier_t the firmware links
 * (firmware/lib/tinyecg_app/include/tinyecg_classifiers.h):
 *   TINYECG_CLASSIFIER_TFLM      TensorFlow Lite Micro running the exported flatbuffer
 *                                (`tinyecg export --runtime tflm`, the boards' default)
 *   TINYECG_CLASSIFIER_CBACKEND  the interpreter-free C backend: firmware/lib/tinyecg_nn and the
 *                                generated tinyecg_model.c (`tinyecg export --runtime c`)
 *   TINYECG_CLASSIFIER_NONE      no model: QRS detection only (one line per R-peak) */
#define TINYECG_CLASSIFIER_NONE 0
#define TINYECG_CLASSIFIER_CBACKEND 1
#define TINYECG_CLASSIFIER_TFLM 2
#ifndef TINYECG_CLASSIFIER
#define TINYECG_CLASSIFIER TINYECG_CLASSIFIER_TFLM
#endif

/* ---- the shockable-rhythm task ---- */

/* 1: the core runs the shockable-rhythm (VF/VT) task beside the beats ("# rhythm ..." once a
 * second, "# alarm ..."; tinyecg_rhythm_task.h) with the model of lib/tinyecg_rhythm_model
 * and its golden self-test at boot (tinyecg_rhythm_app.h): on the C backend with a
 * `tinyecg export --task rhythm --runtime c` export (committed), in a second TFLM interpreter
 * with a `--runtime tflm` one (TFLM builds only). On by default whenever a beat classifier is built
 * in; 0 (or TINYECG_CLASSIFIER_NONE) gives the beat path alone, without its 2.4 KB of state
 * and the model's arena. */
#ifndef TINYECG_RHYTHM
#define TINYECG_RHYTHM (TINYECG_CLASSIFIER != TINYECG_CLASSIFIER_NONE)
#endif

/* ---- TFLite Micro ---- */

/* Which distribution the environment links (set in platformio.ini; printed at boot). */
#define TINYECG_TFLM_ARDUINO_EXAMPLES 1 /* tensorflow/tflite-micro-arduino-examples at bd7e861 (2023-02-27) */
#define TINYECG_TFLM_ELOQUENT_ESP32 2   /* eloquentarduino/tflm_esp32 2.0.0, TFLM 2024-07 */
#ifndef TINYECG_TFLM_DIST
#define TINYECG_TFLM_DIST TINYECG_TFLM_ARDUINO_EXAMPLES
#endif

/* 1 when the library's optimized kernels run (CMSIS-NN on Cortex-M, ESP-NN on ESP32-S3),
 * 0 for TFLM's reference kernels. Printed at boot; it does not change the tolerance. */
#ifndef TINYECG_TFLM_OPTIMIZED_KERNELS
#define TINYECG_TFLM_OPTIMIZED_KERNELS 1
#endif

/* 1: refuse, at start, a model whose FULLY_CONNECTED weights carry per-channel scales (one
 * "# tflm error ..." line, classifier disabled). Both pinned libraries predate per-channel
 * FULLY_CONNECTED: bd7e861 applies channel 0's scale to every output channel without a word
 * (issue 11), and TFLM added the same load-time refusal only in 2024-05 (tflite-micro PR 2602,
 * support in PR 2673, 2024-08). 0 only to show that the golden self-test catches such a model
 * too (tests/test_tflm_vendored.py). */
#ifndef TINYECG_TFLM_CHECK_PER_CHANNEL_FC
#define TINYECG_TFLM_CHECK_PER_CHANNEL_FC 1
#endif

/* ---- golden self-test ---- */

/* Tolerance on the model's int8 outputs, in LSB: 0. The golden outputs are what the board's
 * own library computes: today's TFLM reference kernels (PyPI tflite-micro) write them, the C
 * backend is bit-exact with those, and the pinned Arduino library with CMSIS-NN gives the same
 * bits on the host, Cortex-M4F and Cortex-M0+ (maxdiff 0, tests/test_tflm_vendored.py) for a
 * model it supports (per-tensor dense layers). A difference is a fault, not rounding. The
 * preprocessing (integer C) is always checked bit for bit. */
#ifndef TINYECG_GOLDEN_TOLERANCE
#define TINYECG_GOLDEN_TOLERANCE 0
#endif

/* 1: a failed golden self-test (preprocessing not bit-exact, or a model output off the golden
 * one) disables the classifier: every beat becomes "# classify-error <r>" instead of a label
 * that may not be the exported model's. 0: report the failure and classify anyway. A model
 * the classifier refuses at start (metadata mismatch, per-channel FULLY_CONNECTED on these
 * libraries, no room in the arena) is always disabled, whatever this says. */
#ifndef TINYECG_SELFTEST_STRICT
#define TINYECG_SELFTEST_STRICT 1
#endif

#endif /* ECG_CONFIG_H */
