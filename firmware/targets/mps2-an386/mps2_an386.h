/*
 * mps2_an386.h - memory map and registers of the Arm MPS2 board with the AN386
 * FPGA image (Cortex-M4F) as QEMU 7.2 models it (`-M mps2-an386`).
 *
 * Sources, checked rather than guessed:
 *   - QEMU hw/arm/mps2.c: SSRAM1 4 MiB at 0x00000000 (mirror at 0x00400000),
 *     SSRAM2&3 4 MiB at 0x20000000 (mirror at 0x20400000), PSRAM 16 MiB at
 *     0x21000000, CMSDK APB UART0..4 at 0x40004000/5000/6000/7000/9000,
 *     SYSCLK 25 MHz, 32 external interrupts (num-irq 32).
 *   - QEMU hw/char/cmsdk-apb-uart.c and the CMSDK TRM (ARM DDI0479C):
 *     DATA 0x00, STATE 0x04, CTRL 0x08, INTSTATUS 0x0C, BAUDDIV 0x10.
 *   - Armv7-M / Armv6-M Architecture Reference Manual: SysTick at 0xE000E010,
 *     SCB at 0xE000ED00 (ICSR, VTOR, CPACR, CFSR, HFSR, MMFAR, BFAR).
 */
#ifndef TINYECG_MPS2_AN386_H
#define TINYECG_MPS2_AN386_H

#include <stdint.h>

/* Memory regions (bytes). The linker script mps2_an386.ld uses the same numbers. */
#define MPS2_CODE_BASE      0x00000000u /* ZBT SSRAM1: code ("flash" on a real board) */
#define MPS2_CODE_SIZE      0x00400000u /* 4 MiB */
#define MPS2_SRAM_BASE      0x20000000u /* ZBT SSRAM2&3: data, heap, stack */
#define MPS2_SRAM_SIZE      0x00400000u /* 4 MiB */

/* System clock feeding SysTick when CLKSOURCE = 1 (processor clock). */
#define MPS2_SYSCLK_HZ      25000000u   /* SYSCLK_FRQ in QEMU hw/arm/mps2.c */

#define MPS2_REG32(addr)    (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- CMSDK APB UART0 (polled; QEMU's first -serial backend) ---------------- */
#define CMSDK_UART0_BASE        0x40004000u
#define CMSDK_UART_DATA(b)      MPS2_REG32((b) + 0x00u) /* rx byte on read, tx on write */
#define CMSDK_UART_STATE(b)     MPS2_REG32((b) + 0x04u)
#define CMSDK_UART_CTRL(b)      MPS2_REG32((b) + 0x08u)
#define CMSDK_UART_INTSTATUS(b) MPS2_REG32((b) + 0x0Cu)
#define CMSDK_UART_BAUDDIV(b)   MPS2_REG32((b) + 0x10u)
#define CMSDK_UART_STATE_TXFULL 0x1u    /* STATE bit 0 */
#define CMSDK_UART_STATE_RXFULL 0x2u    /* STATE bit 1 */
#define CMSDK_UART_STATE_TXOVR  0x4u    /* STATE bit 2, write 1 to clear */
#define CMSDK_UART_STATE_RXOVR  0x8u    /* STATE bit 3, write 1 to clear */
#define CMSDK_UART_CTRL_TXEN    0x1u    /* CTRL bit 0 */
#define CMSDK_UART_CTRL_RXEN    0x2u    /* CTRL bit 1 */
/* BAUDDIV must be >= 16 (TRM); 25 MHz / 115200 baud = 217 (QEMU only uses it to
 * set the host tty speed, the CPU never waits for bit times). */
#define CMSDK_UART_BAUDDIV_115200 (MPS2_SYSCLK_HZ / 115200u)

/* ---- SysTick (Armv7-M B3.3, Armv6-M B3.3) -------------------------------- */
#define SYST_CSR            MPS2_REG32(0xE000E010u) /* control and status */
#define SYST_RVR            MPS2_REG32(0xE000E014u) /* reload value, 24 bits */
#define SYST_CVR            MPS2_REG32(0xE000E018u) /* current value, counts down */
#define SYST_CSR_ENABLE     0x1u                    /* bit 0 */
#define SYST_CSR_TICKINT    0x2u                    /* bit 1: interrupt on wrap to 0 */
#define SYST_CSR_CLKSOURCE  0x4u                    /* bit 2: 1 = processor clock */
#define SYST_MAX_RELOAD     0x00FFFFFFu             /* 24-bit counter */

/* ---- System control block ------------------------------------------------ */
#define SCB_ICSR            MPS2_REG32(0xE000ED04u)
#define SCB_ICSR_PENDSTSET  (1u << 26)              /* SysTick exception pending */
#define SCB_ICSR_VECTACTIVE 0x1FFu                  /* bits 8:0, active exception */
#define SCB_CPACR           MPS2_REG32(0xE000ED88u) /* v7-M with FPU only */
#define SCB_CFSR            MPS2_REG32(0xE000ED28u) /* v7-M only */
#define SCB_HFSR            MPS2_REG32(0xE000ED2Cu) /* v7-M only */
#define SCB_MMFAR           MPS2_REG32(0xE000ED34u) /* v7-M only */
#define SCB_BFAR            MPS2_REG32(0xE000ED38u) /* v7-M only */

/* Number of external interrupts QEMU wires on this board (mps2.c: num-irq 32). */
#define MPS2_NUM_IRQ        32u

#endif /* TINYECG_MPS2_AN386_H */
