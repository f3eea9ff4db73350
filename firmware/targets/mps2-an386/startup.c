/*
 * startup.c - reset and exception entry for the mps2-an386 target.
 *
 * Reset_Handler does what a real board needs, not just what QEMU tolerates:
 *   1. enable the FPU (hard-float builds), before any floating-point code;
 *   2. fill the unused stack with PLATFORM_STACK_FILL (high-water mark);
 *   3. copy .data from its load address in code memory to RAM;
 *   4. zero .bss;
 *   5. bring up newlib: rdimon semihosting handles, static constructors;
 *   6. run main(); its return value becomes QEMU's exit status, through
 *      exit() (atexit handlers, stdio flushed) if the program linked exit(),
 *      else fflush(NULL) if it uses stdio, then platform_exit().
 * newlib's own crt0 (_start) is not used: it moves SP to whatever the
 * semihosting HEAPINFO call returns, which would defeat the stack measurement.
 *
 * Every exception without its own handler lands in Default_Handler, which
 * prints the exception name and the stacked PC/LR (plus CFSR/HFSR on v7-M) over
 * semihosting and exits with 128 + exception number instead of spinning.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mps2_an386.h"
#include "platform.h"
#include "semihost.h"

/* Linker-script symbols (mps2_an386.ld). */
extern uint32_t __StackTop[];       /* initial SP: end of SRAM */
extern uint32_t __StackLimit[];     /* lowest stack address */
extern uint32_t __data_load__[];    /* .data image in code memory */
extern uint32_t __data_start__[];   /* .data in RAM */
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];

/* newlib / librdimon (libgloss). The weak references do not pull anything in:
 * they are non-null only when the application's own use of stdio, malloc or
 * exit() linked them, so a program without printf stays small (about 2 KB of
 * target code instead of about 9 KB with exit() and its stdio teardown). */
extern uint32_t __heap_limit __attribute__((weak)); /* rdimon _sbrk's heap ceiling */
extern void initialise_monitor_handles(void) __attribute__((weak));
extern void exit(int status) __attribute__((weak));
extern int fflush(FILE *stream) __attribute__((weak));
extern void __libc_init_array(void);
extern int main(void);

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void) __attribute__((naked));
void fault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));

/* Exceptions an application may override by defining a function of this name. */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));
/* External interrupt 0: CMSDK UART0 RX (QEMU hw/arm/mps2.c, AN385/AN386: uartirq[] =
 * {0, 2, 4, 18, 20} are the RX lines of UART0..4, TX is RX + 1). The firmware app defines
 * it to sleep in WFI until a byte arrives; without a definition it is Default_Handler. */
void UART0RX_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));

typedef void (*handler_t)(void);

struct vector_table {
    uint32_t *initial_sp;          /* word 0: loaded into MSP at reset */
    handler_t system[15];          /* exceptions 1..15 */
    handler_t irq[MPS2_NUM_IRQ];   /* exceptions 16..47: external interrupts */
};

#define D_ Default_Handler
__attribute__((section(".vectors"), used))
const struct vector_table vector_table = {
    __StackTop,
    {
        Reset_Handler,      /* 1 */
        NMI_Handler,        /* 2 */
        HardFault_Handler,  /* 3 */
        MemManage_Handler,  /* 4  (v7-M) */
        BusFault_Handler,   /* 5  (v7-M) */
        UsageFault_Handler, /* 6  (v7-M) */
        0, 0, 0, 0,         /* 7..10 reserved */
        SVC_Handler,        /* 11 */
        DebugMon_Handler,   /* 12 (v7-M) */
        0,                  /* 13 reserved */
        PendSV_Handler,     /* 14 */
        SysTick_Handler,    /* 15 */
    },
    {
        UART0RX_IRQHandler, /* 16: IRQ 0 */
        D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_,
        D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_, D_,
    },
};
#undef D_

void Reset_Handler(void)
{
    uint32_t *sp;
    volatile uint32_t *fill;
    const uint32_t *src;
    uint32_t *dst;

#if defined(__ARM_FP)
    /* CPACR bits 23:20 = 0b1111: full access to CP10/CP11 (the FPU). */
    SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif

    /* Everything below the current SP is unused: mark it. volatile keeps the
     * compiler from turning this into a memset call, whose own frame would
     * lie inside the region being filled. */
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (fill = __StackLimit; fill < sp; ++fill) {
        *fill = PLATFORM_STACK_FILL;
    }

    for (src = __data_load__, dst = __data_start__; dst < __data_end__; ++src, ++dst) {
        *dst = *src;
    }
    for (dst = __bss_start__; dst < __bss_end__; ++dst) {
        *dst = 0u;
    }

    if (&__heap_limit != 0) {
        __heap_limit = (uint32_t)(uintptr_t)__StackLimit;
    }
    if (initialise_monitor_handles != 0) {
        initialise_monitor_handles();
    }
    __libc_init_array();
    {
        const int status = main();
        if (exit != 0) {
            exit(status);
        }
        if (fflush != 0) {
            (void)fflush(NULL);
        }
        platform_exit(status);
    }
}

/* newlib's __libc_init_array/__libc_fini_array call these (normally from crti.o,
 * which -nostartfiles leaves out). Nothing to do on this target. */
void _init(void);
void _fini(void);
void _init(void) {}
void _fini(void) {}

/* Exception entry: r0 = the stacked frame (MSP or PSP per EXC_RETURN bit 2),
 * r1 = EXC_RETURN, then switch to a private stack so a blown main stack can
 * still be reported. Thumb-1 only, so the same code serves v6-M.
 * Its size: the deepest chain below the handler is fault_report -> semihost_write_hex ->
 * semihost_write0 -> semihost_call, 64 bytes at -Os and 88 at -O0 on Cortex-M4 and M0+
 * (gcc -fstack-usage: 24 + 32 + 16 + 16); nothing nests (the exception frame goes on the
 * faulting stack), so 96 bytes hold it (8-byte aligned, 8 to spare at -O0). It was 512,
 * then 128 bytes: the C-backend image's RAM budget (16 KB) needed the difference. */
#define FAULT_STACK_BYTES 96
#define TEXT_OF(x) #x
#define NUMBER_TEXT(x) TEXT_OF(x) /* a macro's value as a string, for the naked asm */
static uint32_t fault_stack[FAULT_STACK_BYTES / 4] __attribute__((aligned(8), used));

void Default_Handler(void)
{
    __asm__(
        "movs r0, #4\n\t"
        "mov r1, lr\n\t"
        "tst r0, r1\n\t"
        "beq 1f\n\t"
        "mrs r0, psp\n\t"
        "b 2f\n"
        "1:\n\t"
        "mrs r0, msp\n"
        "2:\n\t"
        "ldr r2, =fault_stack + " NUMBER_TEXT(FAULT_STACK_BYTES) "\n\t"
        "mov sp, r2\n\t"
        "bl fault_report\n\t"
        ".ltorg\n");
}

static const char *exception_name(uint32_t number)
{
    switch (number) {
    case 2u: return "NMI";
    case 3u: return "HardFault";
    case 4u: return "MemManage";
    case 5u: return "BusFault";
    case 6u: return "UsageFault";
    case 11u: return "SVCall";
    case 12u: return "DebugMonitor";
    case 14u: return "PendSV";
    case 15u: return "SysTick";
    default: return number >= 16u ? "IRQ" : "reserved exception";
    }
}

void fault_report(const uint32_t *frame, uint32_t exc_return)
{
    /* Basic frame: r0 r1 r2 r3 r12 lr pc xpsr (the FP extension goes after). */
    const uint32_t number = SCB_ICSR & SCB_ICSR_VECTACTIVE;
    semihost_write0("\n*** FAULT: ");
    semihost_write0(exception_name(number));
    semihost_write0(" (exception ");
    semihost_write_hex(number);
    semihost_write0(") pc=");
    semihost_write_hex(frame[6]);
    semihost_write0(" lr=");
    semihost_write_hex(frame[5]);
    semihost_write0(" exc_return=");
    semihost_write_hex(exc_return);
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__)
    semihost_write0(" cfsr=");
    semihost_write_hex(SCB_CFSR);
    semihost_write0(" hfsr=");
    semihost_write_hex(SCB_HFSR);
    semihost_write0(" mmfar=");
    semihost_write_hex(SCB_MMFAR);
    semihost_write0(" bfar=");
    semihost_write_hex(SCB_BFAR);
#endif
    semihost_write0("\n");
    semihost_exit(PLATFORM_EXIT_FAULT_BASE + (int)number);
}
