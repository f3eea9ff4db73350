/* stack.c - stack high-water mark: report it before and after a function
 * that touches STACK_USE bytes of locals. */
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

#ifndef STACK_USE
#define STACK_USE 4096
#endif

__attribute__((noinline)) static unsigned touch_stack(unsigned seed)
{
    volatile uint8_t buffer[STACK_USE];
    unsigned i;
    unsigned sum = 0u;
    for (i = 0u; i < STACK_USE; ++i) {
        buffer[i] = (uint8_t)(seed + i);
    }
    for (i = 0u; i < STACK_USE; ++i) {
        sum += buffer[i];
    }
    return sum;
}

int main(void)
{
    unsigned before;
    unsigned sum;
    platform_init();
    before = (unsigned)platform_stack_peak_bytes();
    sum = touch_stack(7u);
    printf("stack before=%u after=%u size=%u use=%u sum=%u\n", before,
           (unsigned)platform_stack_peak_bytes(), (unsigned)platform_stack_size_bytes(),
           (unsigned)STACK_USE, sum);
    return 0;
}
