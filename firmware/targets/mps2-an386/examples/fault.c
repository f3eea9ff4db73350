/* fault.c - provoke a fault on purpose; the target's handler must report it
 * over semihosting and exit with 128 + exception number instead of hanging.
 *   FAULT_KIND=1  load from unmapped 0xF0000000 (bus error -> HardFault)
 *   FAULT_KIND=2  permanently undefined instruction (UDF -> HardFault)   */
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

#ifndef FAULT_KIND
#define FAULT_KIND 1
#endif

int main(void)
{
    platform_init();
    printf("about to fault (kind %d)\n", FAULT_KIND);
#if FAULT_KIND == 1
    {
        volatile uint32_t *bad = (volatile uint32_t *)(uintptr_t)0xF0000000u;
        printf("read %lu\n", (unsigned long)*bad);
    }
#else
    __asm__ volatile("udf #0");
#endif
    printf("still running: the fault was not taken\n");
    return 0;
}
