/* hello.c - semihosting printf, a line on UART0, .data/.bss initialisation, chosen exit code.
 * Build with DEFS="EXIT_CODE=<n>"; prints what the test checks. */
#include <stdio.h>

#include "platform.h"

#ifndef EXIT_CODE
#define EXIT_CODE 0
#endif

static volatile int initialised_word = 0x1234567; /* .data: copied from code memory */
static volatile int zeroed_words[64];             /* .bss: zeroed at reset */

int main(void)
{
    int sum = 0;
    int i;
    platform_init();
    for (i = 0; i < 64; ++i) {
        sum += zeroed_words[i];
    }
    platform_uart_write("uart0 says hi\n", 14u);
    printf("hello from the mps2 target\n");
    printf("data=0x%x bss_sum=%d exit=%d\n", (unsigned)initialised_word, sum, EXIT_CODE);
    printf("stack_peak=%u stack_size=%u\n", (unsigned)platform_stack_peak_bytes(),
           (unsigned)platform_stack_size_bytes());
    return EXIT_CODE;
}
