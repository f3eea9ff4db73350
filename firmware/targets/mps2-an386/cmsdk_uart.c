/* cmsdk_uart.c - see cmsdk_uart.h. Register layout in mps2_an386.h. */
#include "cmsdk_uart.h"

#include "mps2_an386.h"

void cmsdk_uart_init(uint32_t base, uint32_t bauddiv)
{
    CMSDK_UART_CTRL(base) = 0u;
    CMSDK_UART_BAUDDIV(base) = bauddiv;
    /* Write-1-to-clear any stale overrun flags. */
    CMSDK_UART_STATE(base) = CMSDK_UART_STATE_TXOVR | CMSDK_UART_STATE_RXOVR;
    CMSDK_UART_CTRL(base) = CMSDK_UART_CTRL_TXEN | CMSDK_UART_CTRL_RXEN;
}

void cmsdk_uart_putc(uint32_t base, uint8_t byte)
{
    while ((CMSDK_UART_STATE(base) & CMSDK_UART_STATE_TXFULL) != 0u) {
    }
    CMSDK_UART_DATA(base) = byte;
}

void cmsdk_uart_flush(uint32_t base)
{
    while ((CMSDK_UART_STATE(base) & CMSDK_UART_STATE_TXFULL) != 0u) {
    }
}

int cmsdk_uart_try_getc(uint32_t base)
{
    const uint32_t state = CMSDK_UART_STATE(base);
    if ((state & CMSDK_UART_STATE_RXOVR) != 0u) {
        CMSDK_UART_STATE(base) = CMSDK_UART_STATE_RXOVR;
    }
    if ((state & CMSDK_UART_STATE_RXFULL) == 0u) {
        return -1;
    }
    return (int)(CMSDK_UART_DATA(base) & 0xFFu);
}
