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

/* ---- TFLite Micro ---- */

/* Which distribution the environment links (set in platformio.ini; printed at boot). */
#define TINYECG_TFLM_ARDUINO_EXAMPLES 1 /* tensorflow/tflite-micro-arduino-examples, 2023-02 */
#define TINYECG_TFLM_ELOQUENT_ESP32 2   /* eloquentarduino/tflm_esp32 2.0.0, TFLM 2024-07 */
#ifndef TINYECG_TFLM_DIST
#define TINYECG_TFLM_DIST TINYECG_TFLM_ARDUINO_EXAMPLES
#endif

/* 1 when the library's optimized kernels run (CMSIS-NN on Cortex-M, ESP-NN on ESP32-S3),
 * 0 for TFLM's reference kernels. */
#ifndef TINYECG_TFLM_OPTIMIZED_KERNELS
#define TINYECG_TFLM_OPTIMIZED_KERNELS 1
#endif

/* Golden self-test tolerance on the model's int8 outputs, in LSB. The golden outputs come
 * from today's TFLM reference kernels (PyPI tflite-micro); the same kernels on the board
 * must match exactly. Optimized kernels may round differently where the TFLite int8 spec
 * leaves room (single vs double rounding of the requantization multiplier, the fixed-point
 * exp of SOFTMAX), so one LSB is allowed there; the max difference is always printed.
 * The preprocessing (integer C) is always checked bit-exactly. */
#ifndef TINYECG_GOLDEN_TOLERANCE
#if TINYECG_TFLM_OPTIMIZED_KERNELS
#define TINYECG_GOLDEN_TOLERANCE 1
#else
#define TINYECG_GOLDEN_TOLERANCE 0
#endif
#endif

/* Governs only the golden self-test. 1: a failed self-test (preprocessing not bit-exact,
 * or model outputs beyond TINYECG_GOLDEN_TOLERANCE) disables the classifier: every beat
 * becomes "# classify-error <r>" instead of a label that may not be the exported model's.
 * 0: report the failure and classify anyway. A failed model-metadata check (tensor type,
 * element count, scale or zero point against tinyecg_model_meta.h) always disables the
 * classifier, whatever this says: such a model gives meaningless scores (tflm_classifier.cpp,
 * tinyecg_tflm_init). */
#ifndef TINYECG_SELFTEST_STRICT
#define TINYECG_SELFTEST_STRICT 1
#endif

#endif /* ECG_CONFIG_H */
