/*
 * main.c - the tinyecg firmware on QEMU's mps2-an386 (Cortex-M4F): the portable core
 * (detector, beats, RR, line protocol), the generated fixed-point preprocessing and the
 * generated C backend model (app_model.h), exactly as a board runs them.
 *
 * Two builds (TINYECG_QEMU_IO):
 *
 *   TINYECG_IO_UART (default) - the board. At reset the golden self-test runs (preprocessing
 *     and model outputs, bit-exact). Then the firmware waits for the host to speak first (a
 *     serial client drops what arrives before its port is open: pyserial's socket:// does),
 *     prints the self-test report and the core's "# tinyecg ..." line on UART0 and serves
 *     the core's line protocol (docs/detector.md) on UART0 for ever:
 *         qemu-system-arm -M mps2-an386 ... -serial tcp:127.0.0.1:PORT,server -kernel app.elf
 *         tinyecg.device.stream.stream_record("socket://127.0.0.1:PORT", record)
 *     Lines starting with "#qemu " are this target's own and never reach the core:
 *         #qemu perf      -> "# qemu beats=.. pre_instr=.. rhythm_instr=.. inf_instr=..
 *                             write_instr=.. stack_peak=.. stack_size=.. instructions=.."
 *         #qemu selftest  -> the self-test report again
 *         #qemu exit      -> QEMU exits (code 0 if the self-test passed, else 1)
 *     inference_us of the "B" lines is classify()'s instruction count divided by
 *     TINYECG_QEMU_INSTR_PER_US (default 64: a 64 MHz Cortex-M4 at one instruction per
 *     cycle, a lower bound on the real time; 1 gives the instruction count itself).
 *
 *   TINYECG_IO_SEMIHOST - measurement and cross-check build. ADC samples, one integer per
 *     line, come from the semihosting console (QEMU's stdin); every output line goes to
 *     QEMU's stdout. Output selection: R-peaks, RR context and (with a classifier) beat
 *     lines, as the host harness prints them with --peaks --rr, plus after every beat line
 *     "# perf pre=<n> rhythm=<n> inf=<n>" (instructions of that beat's preprocessing,
 *     rhythm features and classify()). Samples are processed in blocks of one second: a
 *     second, stand-alone detector runs over each block first, timed alone, so the detector's
 *     own cost is known exactly; then the core, timed as a whole, minus the timed callbacks.
 *     At the end: "# qemu samples=.. det_peaks=.. det_instr=.. app_instr=.. pre_instr=..
 *     rhythm_instr=.. inf_instr=.. write_instr=.. beats=.. stack_peak=.. stack_size=..",
 *     the core's "# stats" line, and exit code 0 if the self-test passed, else 1.
 *
 * Instruction counts come from platform_instructions() (SysTick under -icount shift=0,
 * resolution 40; docs/qemu.md).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "app_model.h"
#include "mps2_an386.h"
#include "platform.h"
#include "tinyecg_app.h"
#include "tinyecg_detector.h"

#define TINYECG_IO_UART 0
#define TINYECG_IO_SEMIHOST 1
#ifndef TINYECG_QEMU_IO
#define TINYECG_QEMU_IO TINYECG_IO_UART
#endif

#ifndef TINYECG_ADC_MIN
#define TINYECG_ADC_MIN 0 /* MIT-BIH: 11-bit ADC, adc_zero 1024 -> 0..2047 */
#endif
#ifndef TINYECG_ADC_MAX
#define TINYECG_ADC_MAX 2047
#endif
#ifndef TINYECG_FLAT_TOLERANCE
#define TINYECG_FLAT_TOLERANCE 2 /* ADC counts; as the host harness */
#endif
#ifndef TINYECG_QEMU_INSTR_PER_US
#define TINYECG_QEMU_INSTR_PER_US 64u
#endif

#if TINYECG_QEMU_IO == TINYECG_IO_SEMIHOST
#include <stdio.h>
#include <stdlib.h>
#endif

static tinyecg_app_t app;
static app_selftest_t selftest;

/* ---- timed callbacks ---- */

typedef struct {
    uint64_t pre, rhythm, inf, write; /* instructions inside each callback, summed */
    uint32_t beats;                   /* classify() calls */
    uint32_t beat_pre, beat_rhythm, beat_inf; /* the current beat's */
    int perf_pending;                 /* a "# perf" line is due after the current line */
} perf_t;

static perf_t perf;

static void raw_write(const char *text)
{
#if TINYECG_QEMU_IO == TINYECG_IO_SEMIHOST
    fputs(text, stdout);
#else
    platform_uart_write(text, strlen(text));
#endif
}

static void put_kv(const char *key, uint64_t value)
{
    char buf[21];
    raw_write(key);
    raw_write(app_fmt_u64(buf, value));
}

static void timed_write(void *ctx, const char *text)
{
    uint64_t t0 = platform_instructions();
    size_t n = strlen(text);
    (void)ctx;
    raw_write(text);
#if TINYECG_QEMU_IO == TINYECG_IO_SEMIHOST
    if (perf.perf_pending && n > 0u && text[n - 1u] == '\n') {
        perf.perf_pending = 0;
        put_kv("# perf pre=", perf.beat_pre);
        put_kv(" rhythm=", perf.beat_rhythm);
        put_kv(" inf=", perf.beat_inf);
        raw_write("\n");
    }
#else
    (void)n;
#endif
    perf.write += platform_instructions() - t0;
}

static void timed_window(const int16_t *raw, int8_t *out)
{
    uint64_t t0 = platform_instructions();
    app_model_window(raw, out);
    perf.beat_pre = (uint32_t)(platform_instructions() - t0);
    perf.pre += perf.beat_pre;
}

static void timed_rhythm(const tinyecg_rr_t *rr, int8_t *out)
{
    uint64_t t0 = platform_instructions();
    app_model_rhythm(rr, out);
    perf.beat_rhythm = (uint32_t)(platform_instructions() - t0);
    perf.rhythm += perf.beat_rhythm;
}

static int timed_classify(void *ctx, const int8_t *window_q, const int8_t *rhythm_q,
                          int8_t *scores_q)
{
    const tinyecg_classifier_t *c = (const tinyecg_classifier_t *)ctx;
    uint64_t t0 = platform_instructions();
    int rc = c->classify(c->ctx, window_q, rhythm_q, scores_q);
    perf.beat_inf = (uint32_t)(platform_instructions() - t0);
    perf.inf += perf.beat_inf;
    perf.beats++;
    perf.perf_pending = 1;
    return rc;
}

static uint32_t clock_us(void *ctx)
{
    (void)ctx;
#if TINYECG_QEMU_INSTR_PER_US == 1
    return (uint32_t)platform_instructions();
#else
    return (uint32_t)(platform_instructions() / TINYECG_QEMU_INSTR_PER_US);
#endif
}

/* The model's classifier behind the timing wrapper (same labels, sizes and name). */
static tinyecg_classifier_t timed_classifier;

static void selftest_write(void *ctx, const char *text)
{
    (void)ctx;
    raw_write(text);
}

static int start_app(unsigned outputs)
{
    tinyecg_app_config_t cfg;
    const tinyecg_classifier_t *c = app_model_classifier();
    memset(&cfg, 0, sizeof cfg);
    cfg.preprocess_window = timed_window;
    cfg.rhythm_features = timed_rhythm;
    if (c != NULL) {
        timed_classifier = *c;
        timed_classifier.classify = timed_classify;
        timed_classifier.ctx = (void *)c;
        cfg.classifier = &timed_classifier;
        cfg.outputs = outputs | TINYECG_OUT_BEATS;
    } else {
        cfg.outputs = outputs;
    }
    cfg.write = timed_write;
    cfg.clock_us = clock_us;
    cfg.adc_min = TINYECG_ADC_MIN;
    cfg.adc_max = TINYECG_ADC_MAX;
    cfg.flat_tolerance = TINYECG_FLAT_TOLERANCE;
    return tinyecg_app_init(&app, &cfg);
}

#if TINYECG_QEMU_IO == TINYECG_IO_UART

/* ---- the board: line protocol on UART0 ---- */

/* Sleep until UART0 has a byte: its RX interrupt wakes the core from WFI. Polling the UART
 * instead works too, but keeps QEMU's vCPU spinning, which starves the thread that delivers
 * the serial bytes (measured: 2-3x slower streaming). Registers: Arm CMSDK TRM (DDI0479C)
 * APB UART, IRQ number: QEMU hw/arm/mps2.c (startup.c's vector table). */
#define CMSDK_UART_CTRL_RXINTEN 0x8u   /* CTRL bit 3: RX interrupt enable */
#define CMSDK_UART_INTSTATUS_RX 0x2u   /* INTSTATUS bit 1: RX interrupt, write 1 to clear */
#define UART0_RX_IRQ 0u                /* external interrupt 0 = exception 16 */
#define NVIC_ISER0 MPS2_REG32(0xE000E100u) /* Armv7-M B3.4: interrupt set-enable 0..31 */

void UART0RX_IRQHandler(void);
void UART0RX_IRQHandler(void)
{
    CMSDK_UART_INTSTATUS(CMSDK_UART0_BASE) = CMSDK_UART_INTSTATUS_RX; /* the byte stays */
}

static void rx_wakeup_init(void)
{
    CMSDK_UART_CTRL(CMSDK_UART0_BASE) |= CMSDK_UART_CTRL_RXINTEN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

static int wait_byte(void)
{
    int byte;
    for (;;) {
        /* masked, so a byte arriving between the check and WFI still ends the WFI (a pending
         * interrupt wakes it whatever PRIMASK says) and is taken right after */
        __asm__ volatile("cpsid i" ::: "memory");
        byte = platform_uart_try_getc();
        if (byte < 0) {
            __asm__ volatile("wfi" ::: "memory");
        }
        __asm__ volatile("cpsie i" ::: "memory");
        if (byte >= 0) {
            return byte;
        }
    }
}

static const char qemu_prefix[] = "#qemu "; /* "#qemux" is the core's (unknown) command */
#define QEMU_PREFIX_LEN (sizeof qemu_prefix - 1u)

static char cmd[24]; /* "#qemu <command>": the longest is "#qemu selftest" */
static size_t cmd_len;
static enum { LINE_START, LINE_CORE, LINE_QEMU } line_state = LINE_START;

static void perf_report(void)
{
    put_kv("# qemu beats=", perf.beats);
    put_kv(" pre_instr=", perf.pre);
    put_kv(" rhythm_instr=", perf.rhythm);
    put_kv(" inf_instr=", perf.inf);
    put_kv(" write_instr=", perf.write);
    put_kv(" stack_peak=", platform_stack_peak_bytes());
    put_kv(" stack_size=", platform_stack_size_bytes());
    put_kv(" instructions=", platform_instructions());
    raw_write("\n");
}

/* One byte to the core's protocol parser (it assembles lines itself, no buffer here). */
static void feed_byte(char ch)
{
    tinyecg_app_feed(&app, &ch, 1u);
}

static int cmd_is(const char *word)
{
    size_t n = strlen(word);
    size_t i = QEMU_PREFIX_LEN;
    while (i < cmd_len && (cmd[i] == ' ' || cmd[i] == '\t')) {
        i++;
    }
    while (cmd_len > i && (cmd[cmd_len - 1u] == ' ' || cmd[cmd_len - 1u] == '\r')) {
        cmd_len--;
    }
    return cmd_len - i == n && memcmp(cmd + i, word, n) == 0;
}

static void qemu_command(void)
{
    if (cmd_is("perf")) {
        perf_report();
    } else if (cmd_is("selftest")) {
        app_selftest_print(&selftest, selftest_write, NULL);
    } else if (cmd_is("exit")) {
        platform_exit(selftest.passed ? 0 : 1);
    } else {
        raw_write("# qemu unknown command (perf, selftest, exit)\n");
    }
}

/* Lines starting with "#qemu " are ours; every other byte goes to the core unchanged. */
static void on_byte(char ch)
{
    switch (line_state) {
    case LINE_CORE:
        feed_byte(ch);
        if (ch == '\n') {
            line_state = LINE_START;
        }
        return;
    case LINE_QEMU:
        if (ch == '\n') {
            qemu_command();
            cmd_len = 0u;
            line_state = LINE_START;
        } else if (cmd_len < sizeof cmd - 1u) {
            cmd[cmd_len++] = ch;
        }
        return;
    case LINE_START:
    default:
        if (cmd_len < QEMU_PREFIX_LEN && ch == qemu_prefix[cmd_len]) {
            cmd[cmd_len++] = ch;
            if (cmd_len == QEMU_PREFIX_LEN) {
                line_state = LINE_QEMU;
            }
            return;
        }
        {
            size_t i;
            for (i = 0; i < cmd_len; i++) {
                feed_byte(cmd[i]); /* a line that only began like "#qemu " */
            }
        }
        cmd_len = 0u;
        feed_byte(ch);
        line_state = ch == '\n' ? LINE_START : LINE_CORE;
        return;
    }
}

int main(void)
{
    int byte;
    platform_init();
    rx_wakeup_init();
    (void)app_selftest_run(&selftest, app.window_q); /* app not started yet */
    /* speak only when spoken to: the host's first byte opens the session */
    byte = wait_byte();
    app_selftest_print(&selftest, selftest_write, NULL);
    if (start_app(0u) != 0) {
        raw_write("# tinyecg: invalid configuration (ADC range or classifier)\n");
        platform_exit(2);
    }
    for (;;) {
        on_byte((char)byte);
        byte = platform_uart_try_getc();
        if (byte < 0) {
            byte = wait_byte();
        }
    }
}

#else /* TINYECG_IO_SEMIHOST */

/* ---- measurement build: samples from the semihosting console ---- */

#define BLOCK TINYECG_FS /* one second of samples per timed block */

static tinyecg_detector_t lone_det; /* the stand-alone detector, timed on its own */

typedef struct {
    uint64_t samples, det_instr, app_instr, det_peaks, bad_lines;
} run_t;

static void run_block(run_t *run, const int16_t *x, unsigned n)
{
    unsigned i;
    uint64_t t0, t1, inside;
    t0 = platform_instructions();
    for (i = 0; i < n; i++) {
        if (tinyecg_detector_push(&lone_det, x[i]) != 0u) {
            run->det_peaks++;
        }
    }
    t1 = platform_instructions();
    run->det_instr += t1 - t0;
    inside = perf.pre + perf.rhythm + perf.inf + perf.write;
    t0 = platform_instructions();
    for (i = 0; i < n; i++) {
        tinyecg_app_sample(&app, x[i]);
    }
    t1 = platform_instructions();
    /* the core's own work: everything but the timed callbacks */
    run->app_instr += (t1 - t0) - (perf.pre + perf.rhythm + perf.inf + perf.write - inside);
    run->samples += n;
}

int main(void)
{
    static int16_t block[BLOCK];
    static char line[64];
    run_t run;
    unsigned n = 0;
    uint64_t t0, inside;
    memset(&run, 0, sizeof run);
    platform_init();
    (void)app_selftest_run(&selftest, app.window_q); /* app not started yet */
    app_selftest_print(&selftest, selftest_write, NULL);
    tinyecg_detector_init(&lone_det);
    if (start_app(TINYECG_OUT_PEAKS | TINYECG_OUT_RR) != 0) {
        raw_write("# tinyecg: invalid configuration (ADC range or classifier)\n");
        return 2;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *end;
        long v = strtol(line, &end, 10);
        if (end == line || v < INT16_MIN || v > INT16_MAX) {
            run.bad_lines++;
            continue;
        }
        block[n++] = (int16_t)v;
        if (n == BLOCK) {
            run_block(&run, block, n);
            n = 0;
        }
    }
    if (n > 0u) {
        run_block(&run, block, n);
    }
    inside = perf.pre + perf.rhythm + perf.inf + perf.write;
    t0 = platform_instructions();
    tinyecg_app_finish(&app);
    run.app_instr += (platform_instructions() - t0) -
                     (perf.pre + perf.rhythm + perf.inf + perf.write - inside);
    put_kv("# qemu samples=", run.samples);
    put_kv(" bad_lines=", run.bad_lines);
    put_kv(" det_peaks=", run.det_peaks);
    put_kv(" det_instr=", run.det_instr);
    put_kv(" app_instr=", run.app_instr);
    put_kv(" pre_instr=", perf.pre);
    put_kv(" rhythm_instr=", perf.rhythm);
    put_kv(" inf_instr=", perf.inf);
    put_kv(" write_instr=", perf.write);
    put_kv(" beats=", perf.beats);
    put_kv(" stack_peak=", platform_stack_peak_bytes());
    put_kv(" stack_size=", platform_stack_size_bytes());
    raw_write("\n");
    tinyecg_app_stats(&app);
    fflush(stdout);
    return selftest.passed ? 0 : 1;
}

#endif
