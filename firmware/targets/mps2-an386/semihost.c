/* semihost.c - see semihost.h. */
#include "semihost.h"

uintptr_t semihost_call(uint32_t op, uintptr_t arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    /* The host reads/writes guest memory through r1, hence the "memory" clobber. */
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_write0(const char *text)
{
    (void)semihost_call(SEMIHOST_SYS_WRITE0, (uintptr_t)text);
}

void semihost_write_hex(uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char text[11];
    unsigned i;
    text[0] = '0';
    text[1] = 'x';
    for (i = 0u; i < 8u; ++i) {
        text[2u + i] = digits[(value >> (28u - 4u * i)) & 0xFu];
    }
    text[10] = '\0';
    semihost_write0(text);
}

void semihost_exit(int code)
{
    /* SYS_EXIT_EXTENDED takes a two-word block: the reason and the exit code
     * (QEMU's exit status for ADP_Stopped_ApplicationExit). */
    volatile uint32_t block[2];
    block[0] = SEMIHOST_ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)code;
    (void)semihost_call(SEMIHOST_SYS_EXIT_EXTENDED, (uintptr_t)block);
    /* Only reached if the host ignored the call: fall back to the 32-bit form,
     * which can only say success or failure. */
    (void)semihost_call(SEMIHOST_SYS_EXIT, code == 0 ? SEMIHOST_ADP_STOPPED_APPLICATION_EXIT
                                                     : SEMIHOST_ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}
