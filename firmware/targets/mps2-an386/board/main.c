/*
 * main.c - the QEMU board layer of the tinyecg firmware (mps2-an386 Cortex-M4F, or v6-M code
 * on mps2-an385): UART0, the SysTick clock, and a semihosting measurement build. Everything
 * else is the board-independent application of firmware/lib/tinyecg_app (tinyecg_firmware.h),
 * the same C the PlatformIO boards build, with the classifier chosen at build time
 * (ecg_config.h TINYECG_CLASSIFIER: TFLM, the C backend, or none).
 *
 * Two builds (TINYECG_QEMU_IO):
 *
 *   TINYECG_IO_UART (default) - the board. It waits for the host to speak first (a serial
 *     client drops what arrives before its port is open: pyserial's socket:// does), boots
 *     (first line, classifier start, golden self-test, the core's "# tinyecg ..." line) and
 *     serves the core's line protocol (docs/detector.md) on UART0 for ever:
 *         qemu-system-arm -M mps2-an386 ... -serial tcp:127.0.0.1:PORT,server -kernel app.elf
 *         tinyecg stream --port socket://127.0.0.1:PORT --record ...
 *     Between bytes it sleeps in WFI, woken by UART0's RX interrupt or by SysTick (every
 *     2^24 ticks = 0.67 s of virtual time), and ticks the application with the time in ms:
 *     a replay silent for a second is reported ("# input stopped") as on a board.
 *     Lines starting with "#qemu " are this target's own and never reach the core:
 *         #qemu perf      -> "# qemu beats=.. pre_instr=.. rhythm_instr=.. inf_instr=..
 *                             write_instr=.. rdecisions=.. rmodel_instr=.. stack_peak=..
 *                             stack_size=.. instructions=.."
 *         #qemu selftest  -> the golden self-test, run again
 *         #qemu exit      -> QEMU exits (code 0 if the boot self-test passed, else 1)
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
 *     with TINYECG_RHYTHM also "rdecisions=.. rmodel_instr=.. rmodel_max=.. rfe_instr=..
 *     rwindows=.. rwin_instr=.. rwin_max=..": the rhythm model's classify() calls (timed by
 *     the probe), and a stand-alone rhythm front end run over each block like the detector
 *     (its pushes, and tinyecg_rhythm_window at each of its decisions, timed alone), so a
 *     decision's cost = 1 s of pushes + one window + one model call; then the core's
 *     "# stats" line, and exit code 0 if the self-tests passed, else 1.
 *
 * Instruction counts come from platform_instructions() (SysTick under -icount shift=0,
 * resolution 40; docs/qemu.md); the self-test prints each call's count (pre_instr=...).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mps2_an386.h"
#include "platform.h"
#include "tinyecg_classifiers.h" /* tinyecg_board_micros() */
#include "tinyecg_detector.h"
#include "tinyecg_firmware.h"

#define TINYECG_IO_UART 0
#define TINYECG_IO_SEMIHOST 1
#ifndef TINYECG_QEMU_IO
#define TINYECG_QEMU_IO TINYECG_IO_UART
#endif

#ifndef TINYECG_QEMU_INSTR_PER_US
#define TINYECG_QEMU_INSTR_PER_US 64u /* a 64 MHz Cortex-M4 at one instruction per cycle */
#endif

#ifndef TINYECG_QEMU_BOARD
#if defined(__ARM_ARCH_7EM__)
#define TINYECG_QEMU_BOARD "mps2-an386" /* Cortex-M4F */
#else
#define TINYECG_QEMU_BOARD "mps2-an385" /* v6-M code on the Cortex-M3 image */
#endif
#endif

#if TINYECG_QEMU_IO == TINYECG_IO_SEMIHOST
#include <stdio.h>
#include <stdlib.h>
#endif

static tinyecg_firmware_t firmware;

/* ---- instruction counts of the application's steps (its probes) ---- */

/* the probe points this build calls: the rhythm model's only with the rhythm task (a
 * beat-only image keeps its RAM as before) */
#define PROBES (TINYECG_RHYTHM ? TINYECG_PROBE_POINTS : TINYECG_PROBE_RHYTHM_MODEL)

typedef struct {
    uint64_t pre, rhythm, inf, write; /* instructions inside each step, summed */
    uint32_t beats;                   /* classify() calls */
    uint32_t beat[PROBES];            /* the current beat's, per TINYECG_PROBE_* */
    uint64_t entered[PROBES];         /* platform_instructions() at the step's start */
    int perf_pending;                 /* a "# perf" line is due after the current line */
#if TINYECG_RHYTHM
    uint64_t rmodel;                  /* instructions in the rhythm model's classify() */
    uint32_t rmodel_max;              /* the most one rhythm model call took */
    uint32_t rdecisions;              /* rhythm model calls */
#endif
} perf_t;

static perf_t perf;

static void probe_enter(void *ctx, int point)
{
    (void)ctx;
    perf.entered[point] = platform_instructions();
}

static void probe_leave(void *ctx, int point)
{
    uint32_t spent = (uint32_t)(platform_instructions() - perf.entered[point]);
    (void)ctx;
    perf.beat[point] = spent;
    if (point == TINYECG_PROBE_WINDOW) {
        perf.pre += spent;
    } else if (point == TINYECG_PROBE_RHYTHM) {
        perf.rhythm += spent;
#if TINYECG_RHYTHM
    } else if (point == TINYECG_PROBE_RHYTHM_MODEL) {
        perf.rmodel += spent;
        perf.rmodel_max = spent > perf.rmodel_max ? spent : perf.rmodel_max;
        perf.rdecisions++;
#endif
    } else {
        perf.inf += spent;
        perf.beats++;
        perf.perf_pending = 1;
    }
}

static const tinyecg_probe_t probes = {probe_enter, probe_leave, NULL};

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
    char buf[TINYECG_TEXT_UINT64_BYTES];
    raw_write(key);
    raw_write(tinyecg_text_uint64(value, buf));
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
        put_kv("# perf pre=", perf.beat[TINYECG_PROBE_WINDOW]);
        put_kv(" rhythm=", perf.beat[TINYECG_PROBE_RHYTHM]);
        put_kv(" inf=", perf.beat[TINYECG_PROBE_CLASSIFY]);
        raw_write("\n");
    }
#else
    (void)n;
#endif
    perf.write += platform_instructions() - t0;
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

static uint32_t instructions32(void *ctx)
{
    (void)ctx;
    return (uint32_t)platform_instructions();
}

/* the self-test's cost of each call, in instructions */
static const tinyecg_cost_counter_t instruction_counter = {instructions32, NULL, "instr"};

/* TFLM's profiler clock: -icount shift=0 runs one instruction per virtual nanosecond */
uint32_t tinyecg_board_micros(void)
{
    return (uint32_t)(platform_instructions() / 1000u);
}

/* The application's configuration: constant, so it sits in flash, not on the stack. The
 * measurement build adds the host harness's peak and RR lines. */
static const tinyecg_firmware_config_t firmware_config = {
    TINYECG_QEMU_BOARD,
    TINYECG_INPUT_SERIAL, /* a replay device: the host sends the samples */
#if TINYECG_QEMU_IO == TINYECG_IO_SEMIHOST
    TINYECG_OUT_PEAKS | TINYECG_OUT_RR,
#else
    0u,
#endif
    timed_write,
    NULL,
    clock_us,
    NULL,
    &instruction_counter,
    &probes,
    NULL, /* no ADC: no sample ring */
    NULL, /* ... and no command filter */
};

#if TINYECG_QEMU_IO == TINYECG_IO_UART

/* ---- the board: line protocol on UART0 ---- */

/* Sleep until UART0 has a byte or SysTick wraps: either interrupt wakes the core from WFI.
 * Polling the UART instead works too, but keeps QEMU's vCPU spinning, which starves the
 * thread that delivers the serial bytes (measured: 2-3x slower streaming). Registers: Arm
 * CMSDK TRM (DDI0479C) APB UART, IRQ number: QEMU hw/arm/mps2.c (startup.c's vector table). */
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

/* A byte from UART0, or -1 after one sleep that no byte ended (the SysTick wrap): the caller
 * ticks the application in between. Interrupts are masked around the check, so a byte
 * arriving between the check and WFI still ends the WFI (a pending interrupt wakes it
 * whatever PRIMASK says) and is taken right after. */
static int byte_or_timeout(void)
{
    int byte;
    __asm__ volatile("cpsid i" ::: "memory");
    byte = platform_uart_try_getc();
    if (byte < 0) {
        __asm__ volatile("wfi" ::: "memory");
    }
    __asm__ volatile("cpsie i" ::: "memory");
    return byte >= 0 ? byte : platform_uart_try_getc();
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
#if TINYECG_RHYTHM
    put_kv(" rdecisions=", perf.rdecisions);
    put_kv(" rmodel_instr=", perf.rmodel);
#endif
    put_kv(" stack_peak=", platform_stack_peak_bytes());
    put_kv(" stack_size=", platform_stack_size_bytes());
    put_kv(" instructions=", platform_instructions());
    raw_write("\n");
}

/* One byte to the application (the core assembles lines itself, no buffer here). */
static void feed_byte(char ch)
{
    tinyecg_firmware_serial(&firmware, &ch, 1u);
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
        (void)tinyecg_firmware_selftest(&firmware);
    } else if (cmd_is("exit")) {
        platform_exit(tinyecg_firmware_selftests_passed(&firmware) ? 0 : 1);
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
    /* speak only when spoken to: the host's first byte opens the session */
    do {
        byte = byte_or_timeout();
    } while (byte < 0);
    if (tinyecg_firmware_boot(&firmware, &firmware_config) != 0) {
        platform_exit(2);
    }
    for (;;) {
        if (byte >= 0) {
            on_byte((char)byte);
        }
        tinyecg_firmware_tick(&firmware, platform_milliseconds());
        byte = platform_uart_try_getc();
        if (byte < 0) {
            byte = byte_or_timeout();
        }
    }
}

#else /* TINYECG_IO_SEMIHOST */

/* ---- measurement build: samples from the semihosting console ---- */

#define BLOCK TINYECG_FS /* one second of samples per timed block */

static tinyecg_detector_t lone_det; /* the stand-alone detector, timed on its own */

typedef struct {
    uint64_t samples, det_instr, app_instr, det_peaks, bad_lines;
    uint64_t rfe_instr, rwin_instr, rwindows; /* the stand-alone rhythm front end */
    uint32_t rwin_max;
} run_t;

#if TINYECG_RHYTHM
static tinyecg_rhythm_frontend_t lone_fe; /* the stand-alone rhythm front end */
static int8_t lone_q[TINYECG_RHYTHM_WINDOW];

/* The rhythm front end's own cost on a block: its pushes (the block timed as a whole, as the
 * detector), and each window it makes (timed alone, and taken out of the pushes'). */
static void run_lone_frontend(run_t *run, const int16_t *x, unsigned n)
{
    unsigned i;
    uint64_t windows = 0, t0 = platform_instructions();
    for (i = 0; i < n; i++) {
        if (tinyecg_rhythm_frontend_push(&lone_fe, x[i] - TINYECG_REPLAY_BASELINE, NULL) ==
            TINYECG_RHYTHM_DECISION) {
            uint64_t w0 = platform_instructions();
            uint32_t spent;
            (void)tinyecg_rhythm_window(&lone_fe, TINYECG_REPLAY_GAIN_ADU_PER_MV, lone_q);
            spent = (uint32_t)(platform_instructions() - w0);
            windows += spent;
            run->rwin_instr += spent;
            run->rwin_max = spent > run->rwin_max ? spent : run->rwin_max;
            run->rwindows++;
        }
    }
    run->rfe_instr += platform_instructions() - t0 - windows;
}
#endif

static uint64_t timed_total(void)
{
    return perf.pre + perf.rhythm + perf.inf + perf.write;
}

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
#if TINYECG_RHYTHM
    run_lone_frontend(run, x, n);
#endif
    inside = timed_total();
    t0 = platform_instructions();
    for (i = 0; i < n; i++) {
        tinyecg_app_sample(&firmware.core, x[i]);
    }
    t1 = platform_instructions();
    /* the core's own work: everything but the timed steps */
    run->app_instr += (t1 - t0) - (timed_total() - inside);
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
    tinyecg_detector_init(&lone_det);
#if TINYECG_RHYTHM
    tinyecg_rhythm_frontend_init(&lone_fe);
#endif
    if (tinyecg_firmware_boot(&firmware, &firmware_config) != 0) {
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
    inside = timed_total();
    t0 = platform_instructions();
    tinyecg_app_finish(&firmware.core);
    run.app_instr += (platform_instructions() - t0) - (timed_total() - inside);
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
#if TINYECG_RHYTHM
    put_kv(" rdecisions=", perf.rdecisions);
    put_kv(" rmodel_instr=", perf.rmodel);
    put_kv(" rmodel_max=", perf.rmodel_max);
    put_kv(" rfe_instr=", run.rfe_instr);
    put_kv(" rwindows=", run.rwindows);
    put_kv(" rwin_instr=", run.rwin_instr);
    put_kv(" rwin_max=", run.rwin_max);
#endif
    put_kv(" stack_peak=", platform_stack_peak_bytes());
    put_kv(" stack_size=", platform_stack_size_bytes());
    raw_write("\n");
    tinyecg_app_stats(&firmware.core);
    fflush(stdout);
    return tinyecg_firmware_selftests_passed(&firmware) ? 0 : 1;
}

#endif
