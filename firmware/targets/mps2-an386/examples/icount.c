/* icount.c - instruction counting check. spin_loop() runs a loop whose body
 * the test reads back from the disassembly; main measures it for N1 and N2
 * iterations with platform_instructions(), then hammers the counter to check
 * that it never goes backwards across SysTick wraps. */
#include <stdint.h>
#include <stdio.h>

#include "platform.h"

#ifndef SPIN_N1
#define SPIN_N1 200000u
#endif
#ifndef SPIN_N2
#define SPIN_N2 1000000u
#endif
#ifndef MASKED_N
#define MASKED_N 30000u
#endif
#ifndef MASKED_REPEATS
#define MASKED_REPEATS 4u
#endif
#ifndef MONOTONIC_READS
#define MONOTONIC_READS 20000u
#endif

/* One loop, no calls: the empty asm keeps the compiler from deleting it. */
__attribute__((noinline)) void spin_loop(uint32_t n);
void spin_loop(uint32_t n)
{
    uint32_t i;
    for (i = 0u; i < n; ++i) {
        __asm__ volatile("" ::: "memory");
    }
}

static unsigned long long measure(uint32_t n)
{
    const uint64_t start = platform_instructions();
    spin_loop(n);
    return (unsigned long long)(platform_instructions() - start);
}

/* The same, with interrupts masked: a SysTick wrap inside the window is seen
 * only through the pending bit (valid while the window is shorter than one
 * SysTick period). */
static unsigned long long measure_masked(uint32_t n)
{
    uint64_t start;
    uint64_t end;
    __asm__ volatile("cpsid i" ::: "memory");
    start = platform_instructions();
    spin_loop(n);
    end = platform_instructions();
    __asm__ volatile("cpsie i" ::: "memory");
    return (unsigned long long)(end - start);
}

int main(void)
{
    uint64_t previous;
    uint32_t i;
    unsigned backwards = 0u;
    unsigned long long empty;
    unsigned long long n1;
    unsigned long long n2;

    platform_init();
    empty = measure(0u);
    n1 = measure(SPIN_N1);
    n2 = measure(SPIN_N2);

    for (i = 0u; i < MASKED_REPEATS; ++i) {
        printf("masked n=%lu instructions=%llu\n", (unsigned long)MASKED_N, measure_masked(MASKED_N));
    }

    previous = platform_instructions();
    for (i = 0u; i < MONOTONIC_READS; ++i) {
        const uint64_t now = platform_instructions();
        if (now < previous) {
            ++backwards;
        }
        previous = now;
    }
    printf("reload=%lu\n", (unsigned long)PLATFORM_SYSTICK_RELOAD);
    printf("spin n=0 instructions=%llu\n", empty);
    printf("spin n=%lu instructions=%llu\n", (unsigned long)SPIN_N1, n1);
    printf("spin n=%lu instructions=%llu\n", (unsigned long)SPIN_N2, n2);
    printf("monotonic reads=%lu backwards=%u total=%llu\n", (unsigned long)MONOTONIC_READS, backwards,
           (unsigned long long)platform_instructions());
    return backwards == 0u ? 0 : 1;
}
