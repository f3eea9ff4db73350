/* uart_echo.c - UART0 round trip: wait for ENQ (0x05) from the host, announce
 * READY, echo every byte upper-cased until EOT (0x04), then report the count on
 * both UART0 and semihosting.
 * Why wait first: a serial client may throw away bytes that arrive before it has
 * finished opening the port (pyserial's socket:// and most tty setups flush
 * input on open), so a board should speak only when spoken to. */
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

int main(void)
{
    unsigned count = 0u;
    char line[40];
    int length;
    int byte;

    platform_init();
    while (platform_uart_getc() != 0x05) {
    }
    platform_uart_write("READY\n", 6u);
    for (;;) {
        byte = platform_uart_getc();
        if (byte == 0x04) {
            break;
        }
        if (byte >= 'a' && byte <= 'z') {
            byte -= 'a' - 'A';
        }
        platform_uart_putc((uint8_t)byte);
        ++count;
    }
    length = snprintf(line, sizeof line, "BYE %u\n", count);
    platform_uart_write(line, (size_t)length);
    printf("echoed %u bytes\n", count);
    platform_exit(0);
}
