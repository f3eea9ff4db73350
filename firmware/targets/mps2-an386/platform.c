/* platform.c - see platform.h. */
#include "platform.h"

#include "cmsdk_uart.h"
#include "mps2_an386.h"
#include "semihost.h"

#if PLATFORM_SYSTICK_RELOAD < 1 || PLATFORM_SYSTICK_RELOAD > 0x00FFFFFF
#error "PLATFORM_SYSTICK_RELOAD must fit SysTick's 24-bit reload register (1..0xFFFFFF)"
#endif

#define SCB_ICSR_PENDSTCLR (1u << 25) /* write 1: clear a pending SysTick */

extern uint32_t __StackTop[];
extern uint32_t __StackLimit[];

static volatile uint32_t systick_wraps;  /* SysTick interrupts since start */
static uint64_t ticks_at_init;            /* raw tick count platform_init() saw */
static int initialised;

void SysTick_Handler(void)
{
    systick_wraps = systick_wraps + 1u;
}

/* Ticks since SysTick was started. The counter runs R, R-1, ..., 1, 0, R, ...
 * (R = PLATFORM_SYSTICK_RELOAD) and the SysTick exception is raised on the
 * 1 -> 0 step, so a period of R + 1 ticks starts when the counter reaches 0:
 * position in the period is 0 at value 0, else R + 1 - value. Periods =
 * interrupts handled + one whose interrupt is still pending (taken between two
 * reads, or interrupts masked: ICSR.PENDSTSET). Re-read until the handled count
 * and the pending bit are the same on both sides of the counter read. */
static uint64_t raw_ticks(void)
{
    uint32_t wraps;
    uint32_t pending_before;
    uint32_t pending_after;
    uint32_t current;
    uint64_t periods;
    do {
        wraps = systick_wraps;
        pending_before = SCB_ICSR & SCB_ICSR_PENDSTSET;
        current = SYST_CVR;
        pending_after = SCB_ICSR & SCB_ICSR_PENDSTSET;
    } while (wraps != systick_wraps || pending_before != pending_after);
    periods = (uint64_t)wraps + (pending_before != 0u ? 1u : 0u);
    return periods * ((uint64_t)PLATFORM_SYSTICK_RELOAD + 1u)
           + (current == 0u ? 0u : (uint64_t)(PLATFORM_SYSTICK_RELOAD + 1u - current));
}

static void systick_start(void)
{
    SYST_CSR = 0u;
    SYST_RVR = PLATFORM_SYSTICK_RELOAD;
    SYST_CVR = 0u; /* any write clears the counter (and COUNTFLAG) */
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_ENABLE;
    /* The first tick loads R into the cleared counter without raising the
     * exception; count periods from there. */
    while (SYST_CVR == 0u) {
    }
    SCB_ICSR = SCB_ICSR_PENDSTCLR;
    systick_wraps = 0u;
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

void platform_init(void)
{
    if (initialised) {
        return;
    }
    cmsdk_uart_init(CMSDK_UART0_BASE, CMSDK_UART_BAUDDIV_115200);
    systick_start();
    __asm__ volatile("cpsie i" ::: "memory");
    ticks_at_init = raw_ticks();
    initialised = 1;
}

void platform_uart_putc(uint8_t byte)
{
    cmsdk_uart_putc(CMSDK_UART0_BASE, byte);
}

void platform_uart_write(const void *data, size_t length)
{
    const uint8_t *bytes = (const uint8_t *)data;
    size_t i;
    for (i = 0u; i < length; ++i) {
        cmsdk_uart_putc(CMSDK_UART0_BASE, bytes[i]);
    }
}

int platform_uart_try_getc(void)
{
    return cmsdk_uart_try_getc(CMSDK_UART0_BASE);
}

int platform_uart_getc(void)
{
    int byte;
    do {
        byte = cmsdk_uart_try_getc(CMSDK_UART0_BASE);
    } while (byte < 0);
    return byte;
}

void platform_uart_read(void *data, size_t length)
{
    uint8_t *bytes = (uint8_t *)data;
    size_t i;
    for (i = 0u; i < length; ++i) {
        bytes[i] = (uint8_t)platform_uart_getc();
    }
}

uint64_t platform_instructions(void)
{
    if (!initialised) {
        return 0u;
    }
    return (raw_ticks() - ticks_at_init) * PLATFORM_INSTRUCTIONS_PER_TICK;
}

uint32_t platform_milliseconds(void)
{
    if (!initialised) {
        return 0u;
    }
    /* SysTick counts MPS2_SYSCLK_HZ ticks per second */
    return (uint32_t)((raw_ticks() - ticks_at_init) / (MPS2_SYSCLK_HZ / 1000u));
}

size_t platform_stack_peak_bytes(void)
{
    const volatile uint32_t *word = __StackLimit;
    while (word < __StackTop && *word == PLATFORM_STACK_FILL) {
        ++word;
    }
    return (size_t)((uintptr_t)__StackTop - (uintptr_t)word);
}

size_t platform_stack_size_bytes(void)
{
    return (size_t)((uintptr_t)__StackTop - (uintptr_t)__StackLimit);
}

void platform_exit(int code)
{
    if (initialised) {
        /* Let the last byte leave UART0 before QEMU stops. */
        cmsdk_uart_flush(CMSDK_UART0_BASE);
    }
    semihost_exit(code);
}
