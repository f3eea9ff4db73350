/*
 * cmsdk_uart.h - polled driver for the Arm CMSDK APB UART (CMSDK TRM, ARM
 * DDI0479C, section 4.3), as found on MPS2 boards. 8N1, no FIFO: one byte in
 * each direction, STATE says whether the holding registers are full.
 */
#ifndef TINYECG_CMSDK_UART_H
#define TINYECG_CMSDK_UART_H

#include <stdint.h>

/* Program BAUDDIV and enable TX and RX (interrupts stay off). */
void cmsdk_uart_init(uint32_t base, uint32_t bauddiv);

/* Wait while the TX holding register is full, then write the byte. */
void cmsdk_uart_putc(uint32_t base, uint8_t byte);

/* Wait until the last byte written has left the TX holding register. */
void cmsdk_uart_flush(uint32_t base);

/* A received byte (0..255), or -1 if RX is empty. Clears an RX overrun. */
int cmsdk_uart_try_getc(uint32_t base);

#endif /* TINYECG_CMSDK_UART_H */
