/*
 * main.cpp - the Arduino board layer of the tinyecg firmware: serial port, sampling timer and
 * clock. Everything else is the board-independent application in lib/tinyecg_app
 * (tinyecg_firmware.h), the same C the QEMU target builds:
 *
 *   samples (ADC at 360 Hz, or text lines from the host)
 *     -> lib/tinyecg_core: QRS detector, 360-sample beat windows, RR context, serial protocol
 *     -> lib/tinyecg_dsp with the exported parameters: fixed-point denoise + z-score, RR features
 *     -> the classifier chosen at build time (ecg_config.h TINYECG_CLASSIFIER; TensorFlow Lite
 *        Micro on these boards)
 *     -> "B <r> <label> <score_q> <inference_us>" on the serial port
 *
 * Input mode, pins, calibration and baud rate: include/ecg_config.h (one header). At boot the
 * application checks the model against its metadata and the golden vectors and prints the
 * results as "# ..." status lines before the core's "# tinyecg ..." line.
 *
 * Sampling (TINYECG_INPUT_ADC) is driven by a hardware timer, never by delay(): the tick
 * reads the ADC (directly in the interrupt on STM32; in a high-priority thread/task woken by
 * the tick on Mbed and ESP32, where analogRead may not run in an interrupt) and pushes the
 * sample into a ring; loop() drains the ring into the core, so an inference (a few ms to a
 * few tens of ms) delays the processing of samples but never their timing.
 */
#include <Arduino.h>
#include <string.h>

#include "ecg_config.h"
#include "tinyecg_firmware.h"

#if TINYECG_INPUT_MODE == TINYECG_INPUT_ADC && defined(ARDUINO_ARCH_MBED)
#include <mbed.h> /* mbed::Ticker, rtos::Thread, rtos::Semaphore */
#endif

#if defined(ARDUINO_ARDUINO_NANO33BLE)
#define TINYECG_BOARD_NAME "nano33ble"
#elif defined(ARDUINO_RASPBERRY_PI_PICO)
#define TINYECG_BOARD_NAME "pico"
#elif defined(ARDUINO_NUCLEO_L432KC)
#define TINYECG_BOARD_NAME "nucleo_l432kc"
#elif defined(ARDUINO_ESP32S3_DEV)
#define TINYECG_BOARD_NAME "esp32s3"
#else
#define TINYECG_BOARD_NAME "arduino"
#endif

/* TFLM's profiler clock (tinyecg_classifiers.h, used by tinyecg_tflm_platform.cpp). */
extern "C" uint32_t tinyecg_board_micros(void)
{
    return static_cast<uint32_t>(micros());
}

namespace {

tinyecg_firmware_t g_firmware;
#if TINYECG_INPUT_MODE == TINYECG_INPUT_ADC
tinyecg_sample_ring_t g_ring;          /* sampling tick -> loop() */
tinyecg_command_filter_t g_commands;   /* '#' lines of the serial port */
#endif

void write_serial(void *ctx, const char *text)
{
    (void)ctx;
    Serial.write(reinterpret_cast<const uint8_t *>(text), strlen(text));
}

uint32_t clock_us(void *ctx)
{
    (void)ctx;
    return static_cast<uint32_t>(micros());
}

/* the self-test prints each call's cost in microseconds */
const tinyecg_cost_counter_t g_cost = {clock_us, nullptr, "us"};

#if TINYECG_INPUT_MODE == TINYECG_INPUT_ADC

int lead_off_now()
{
    int off = 0;
#if TINYECG_LO_PLUS_PIN >= 0
    off |= digitalRead(TINYECG_LO_PLUS_PIN) == HIGH;
#endif
#if TINYECG_LO_MINUS_PIN >= 0
    off |= digitalRead(TINYECG_LO_MINUS_PIN) == HIGH;
#endif
    return off;
}

/* One sample per timer tick (in the interrupt on STM32, in the sampling thread elsewhere). */
void take_sample()
{
    tinyecg_firmware_adc(&g_firmware, static_cast<int32_t>(analogRead(TINYECG_ADC_PIN)),
                         lead_off_now());
}

#if defined(ARDUINO_ARCH_MBED)
/* Nano 33 BLE, Pico (Arduino Mbed OS cores): mbed::Ticker interrupt -> semaphore -> a
 * realtime-priority thread that reads the ADC (AnalogIn takes a mutex: not from an ISR).
 * Period 2778 us = 1 s / 360 rounded to the Ticker's microsecond: 359.97 Hz (-0.008 %). */

mbed::Ticker g_ticker;
rtos::Semaphore g_tick(0, TINYECG_SAMPLE_RING);
/* a static stack: with stack_mem = nullptr Mbed would take the 2 KB from the heap */
alignas(8) unsigned char g_sampler_stack[2048];
rtos::Thread g_sampler(osPriorityRealtime, sizeof g_sampler_stack, g_sampler_stack, "tinyecg-adc");

void on_tick()
{
    g_tick.release();
}

void sampler_main()
{
    for (;;) {
        g_tick.acquire();
        take_sample();
    }
}

void start_sampling()
{
    g_sampler.start(mbed::callback(sampler_main));
    g_ticker.attach(mbed::callback(on_tick),
                    std::chrono::microseconds((1000000 + TINYECG_FS_HZ / 2) / TINYECG_FS_HZ));
}

#elif defined(ARDUINO_ARCH_ESP32)
/* ESP32-S3: hardware timer at 40 MHz (APB 80 MHz / 2), alarm every 111111 ticks =
 * 360.0003 Hz -> task notification -> a max-priority task on core 0 reads the ADC (loop()
 * runs on core 1). Task stack and control block are static. */
hw_timer_t *g_timer;
TaskHandle_t g_sampler;
StackType_t g_sampler_stack[2048];
StaticTask_t g_sampler_tcb;

void IRAM_ATTR on_tick()
{
    BaseType_t woken = pdFALSE;
    vTaskNotifyGiveFromISR(g_sampler, &woken);
    if (woken == pdTRUE) {
        portYIELD_FROM_ISR();
    }
}

void sampler_main(void *arg)
{
    (void)arg;
    for (;;) {
        (void)ulTaskNotifyTake(pdFALSE, portMAX_DELAY); /* one sample per tick, none lost */
        take_sample();
    }
}

void start_sampling()
{
    g_sampler = xTaskCreateStaticPinnedToCore(sampler_main, "tinyecg-adc",
                                              sizeof g_sampler_stack / sizeof g_sampler_stack[0],
                                              nullptr, configMAX_PRIORITIES - 1,
                                              g_sampler_stack, &g_sampler_tcb, 0);
#if defined(ESP_ARDUINO_VERSION_MAJOR) && ESP_ARDUINO_VERSION_MAJOR >= 3
    g_timer = timerBegin(40000000u);
    timerAttachInterrupt(g_timer, &on_tick);
    timerAlarm(g_timer, 40000000u / TINYECG_FS_HZ, true, 0);
#else
    g_timer = timerBegin(0, 2, true);
    timerAttachInterrupt(g_timer, &on_tick, false); /* level: 2.0.x has no edge mode */
    timerAlarmWrite(g_timer, 40000000u / TINYECG_FS_HZ, true);
    timerAlarmEnable(g_timer);
#endif
}

#elif defined(ARDUINO_ARCH_STM32)
/* STM32duino: HardwareTimer update interrupt at 360 Hz (prescaler and reload computed by
 * the core from the timer clock); analogRead() is a polled HAL conversion of a few
 * microseconds, done in the interrupt itself. */
#ifndef TINYECG_STM32_TIMER
#define TINYECG_STM32_TIMER TIM2
#endif

void start_sampling()
{
    static HardwareTimer timer(TINYECG_STM32_TIMER);
    timer.setOverflow(TINYECG_FS_HZ, HERTZ_FORMAT);
    timer.attachInterrupt(take_sample);
    timer.resume();
}

#else
#error "no sampling timer for this board: build with -DTINYECG_INPUT_MODE=TINYECG_INPUT_SERIAL"
#endif

#endif /* TINYECG_INPUT_ADC */

void read_serial()
{
    char buf[64];
    size_t n = 0;
    while (n < sizeof buf && Serial.available() > 0) {
        int ch = Serial.read();
        if (ch < 0) {
            break;
        }
        buf[n++] = static_cast<char>(ch);
    }
    if (n > 0) {
        tinyecg_firmware_serial(&g_firmware, buf, n);
    }
}

/* The application's configuration (constant: it must outlive setup()). */
const tinyecg_firmware_config_t g_config = {
    TINYECG_BOARD_NAME,
    TINYECG_INPUT_MODE,
    0u,           /* the beat lines only */
    write_serial,
    nullptr,
    clock_us,     /* inference_us of the beat lines */
    nullptr,
    &g_cost,      /* the self-test prints each call's microseconds */
    nullptr,      /* no probes */
#if TINYECG_INPUT_MODE == TINYECG_INPUT_ADC
    &g_ring,
    &g_commands,
#else
    nullptr,      /* replay: the samples come with the serial bytes */
    nullptr,
#endif
};

} // namespace

void setup()
{
    uint32_t t0;

#if defined(ARDUINO_ARCH_ESP32)
    Serial.setRxBufferSize(2048); /* a replay line burst during an inference */
#endif
    Serial.begin(TINYECG_SERIAL_BAUD);
    t0 = millis();
    while (!Serial && millis() - t0 < 2000u) {
        /* USB CDC: give the host up to 2 s to open the port, then run without it */
    }
    /* model checks, golden self-test, then the core's "# tinyecg ..." line */
    (void)tinyecg_firmware_boot(&g_firmware, &g_config);

#if TINYECG_INPUT_MODE == TINYECG_INPUT_ADC
#if TINYECG_LO_PLUS_PIN >= 0
    pinMode(TINYECG_LO_PLUS_PIN, INPUT);
#endif
#if TINYECG_LO_MINUS_PIN >= 0
    pinMode(TINYECG_LO_MINUS_PIN, INPUT);
#endif
    analogReadResolution(TINYECG_ADC_BITS);
    start_sampling();
#endif
}

void loop()
{
    read_serial();
    tinyecg_firmware_poll(&g_firmware); /* ADC mode: ring -> core; replay mode: nothing */
    tinyecg_firmware_tick(&g_firmware, static_cast<uint32_t>(millis())); /* replay: silence */
}
