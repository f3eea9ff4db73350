/*
 * tinyecg_format.h - decimal text of integers for the protocol lines (no printf: it pulls
 * kilobytes of library code into a firmware image and may use the heap).
 */
#ifndef TINYECG_FORMAT_H
#define TINYECG_FORMAT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_FORMAT_BUF 12 /* "-2147483648" and its NUL */

/* Decimal text of v into buf (TINYECG_FORMAT_BUF bytes); returns buf. */
char *tinyecg_format_i32(char *buf, int32_t v);
char *tinyecg_format_u32(char *buf, uint32_t u);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_FORMAT_H */
