/*
 * platform.h - the small board API the firmware's C code uses on the QEMU
 * mps2-an386 target (Cortex-M4F). All calls are polled; no heap is used.
 *
 *   platform_init()             UART0 on, SysTick instruction counter started.
 *   platform_uart_*()           CMSDK APB UART0 at 0x40004000, polled. QEMU's
 *                               first -serial backend drives it
 *                               (-serial stdio, -serial tcp:127.0.0.1:PORT,server).
 *   platform_instructions()     64-bit monotonic count of executed instructions.
 *   platform_milliseconds()     virtual time in ms (SysTick), for timeouts.
 *   platform_stack_peak_bytes() stack high-water mark since reset.
 *   platform_exit(code)         stop; QEMU exits with `code` (semihosting).
 *
 * Instruction counting: only meaningful under `qemu-system-arm -icount shift=0`,
 * where virtual time advances 2^0 = 1 ns per executed instruction and SysTick,
 * clocked from the 25 MHz SYSCLK, ticks every 40 ns, i.e. once per 40
 * instructions (PLATFORM_INSTRUCTIONS_PER_TICK). The 24-bit counter wraps every
 * (RELOAD+1) ticks; the SysTick interrupt adds the wraps to a 32-bit count, so
 * the total is 64-bit. Resolution: 40 instructions. It counts instructions,
 * not cycles (a real M4 spends 1..~12 cycles per instruction), and includes
 * everything executed: interrupt handlers, semihosting traps (one instruction
 * each). Interrupts must not stay masked for longer than one wrap period
 * (about 671 M instructions with the default reload).
 */
#ifndef TINYECG_PLATFORM_H
#define TINYECG_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* 1e9 ns/s / 25e6 ticks/s = 40 ns per SysTick tick; 1 instruction per ns at
 * -icount shift=0, hence 40 instructions per tick. */
#define PLATFORM_INSTRUCTIONS_PER_TICK 40u

/* SysTick reload value (24-bit). Default: full range, one wrap interrupt per
 * 2^24 ticks. Tests build with a small value to exercise wrap accounting. */
#ifndef PLATFORM_SYSTICK_RELOAD
#define PLATFORM_SYSTICK_RELOAD 0x00FFFFFFu
#endif

/* Exit codes the fault handlers use: 128 + exception number (like a signal),
 * e.g. HardFault (3) -> 131, UsageFault (6) -> 134. */
#define PLATFORM_EXIT_FAULT_BASE 128

/* UART0 on (115200 8N1, polled), SysTick counter running, interrupts enabled.
 * Safe to call more than once. */
void platform_init(void);

/* Blocking write of one byte / n bytes to UART0. */
void platform_uart_putc(uint8_t byte);
void platform_uart_write(const void *data, size_t length);

/* Blocking read of one byte from UART0 (0..255). */
int platform_uart_getc(void);

/* Non-blocking read: a byte (0..255), or -1 when none has arrived. */
int platform_uart_try_getc(void);

/* Blocking read of exactly n bytes. */
void platform_uart_read(void *data, size_t length);

/* Instructions executed since platform_init() (0 before it). Monotonic.
 * Resolution PLATFORM_INSTRUCTIONS_PER_TICK; see the note at the top. */
uint64_t platform_instructions(void);

/* Milliseconds of virtual time since platform_init(), wrapping at 2^32 (49.7 days): SysTick
 * ticks / 25,000 (MPS2_SYSCLK_HZ / 1000). Under -icount shift=0 virtual time is instructions
 * while the core runs and real time while it sleeps in WFI (QEMU's default sleep=on), so a
 * wait for a host that went silent lasts as long as it would on a board. */
uint32_t platform_milliseconds(void);

/* Bytes of stack touched since reset (high-water mark). Startup fills the
 * whole stack with PLATFORM_STACK_FILL; this scans for the deepest word that
 * changed. A frame that happens to store the fill word exactly is missed. */
#define PLATFORM_STACK_FILL 0x5AC3A5C3u
size_t platform_stack_peak_bytes(void);

/* Size of the stack region reserved by the linker script (__stack_size). */
size_t platform_stack_size_bytes(void);

/* Stop; QEMU exits with `code` (0..255) via semihosting SYS_EXIT_EXTENDED. */
void platform_exit(int code) __attribute__((noreturn));

#endif /* TINYECG_PLATFORM_H */
