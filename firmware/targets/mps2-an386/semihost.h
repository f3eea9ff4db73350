/*
 * semihost.h - raw Arm semihosting calls (QEMU `-semihosting-config
 * enable=on,target=native`, or a debugger). Used where newlib's stdio is not
 * safe (fault handlers) and for exit codes.
 *
 * Operation numbers and the exit reason are from the Arm "Semihosting for
 * AArch32 and AArch64" specification, version 2.0. On M-profile the trap is
 * `BKPT 0xAB`; without a debugger or QEMU it faults, so do not ship it on a board.
 */
#ifndef TINYECG_SEMIHOST_H
#define TINYECG_SEMIHOST_H

#include <stdint.h>

#define SEMIHOST_SYS_WRITEC        0x03u    /* write one char, r1 -> char */
#define SEMIHOST_SYS_WRITE0        0x04u    /* write NUL-terminated string, r1 -> string */
#define SEMIHOST_SYS_READC         0x07u    /* read one char from the console */
#define SEMIHOST_SYS_EXIT          0x18u    /* 32-bit form: exit code is 0 or 1 only */
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20u    /* r1 -> {reason, subcode}: any exit code */
#define SEMIHOST_ADP_STOPPED_APPLICATION_EXIT 0x20026u /* reason for a normal exit */
#define SEMIHOST_ADP_STOPPED_RUNTIME_ERROR    0x20023u /* ADP_Stopped_RunTimeErrorUnknown */

/* One semihosting call: op in r0, arg in r1, result returned in r0. */
uintptr_t semihost_call(uint32_t op, uintptr_t arg);

/* Write a NUL-terminated string to the host console (QEMU's stdout). */
void semihost_write0(const char *text);

/* Write an unsigned value as 0x%08x (no stdio needed). */
void semihost_write_hex(uint32_t value);

/* Stop the program; QEMU exits with `code` (0..255). Does not return. */
void semihost_exit(int code) __attribute__((noreturn));

#endif /* TINYECG_SEMIHOST_H */
