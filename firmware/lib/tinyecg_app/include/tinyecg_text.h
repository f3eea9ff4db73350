/*
 * tinyecg_text.h - text output without printf (some board C libraries lack %f, and printf
 * pulls in kilobytes of code): the writer type every part of the firmware prints through,
 * and decimal formatting.
 */
#ifndef TINYECG_TEXT_H
#define TINYECG_TEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Text output, as the core's: NUL-terminated pieces, a line ends with '\n'. */
typedef void (*tinyecg_write_fn)(void *ctx, const char *text);

#define TINYECG_TEXT_INT_BYTES 12   /* "-2147483648" and its NUL */
#define TINYECG_TEXT_UINT64_BYTES 21 /* "18446744073709551615" and its NUL */
#define TINYECG_TEXT_FLOAT_BYTES 16 /* "-1.234567e-123" and its NUL */

/* Decimal text of v into buf (TINYECG_TEXT_INT_BYTES); returns buf. */
char *tinyecg_text_int(int32_t v, char *buf);

/* Decimal text of v into buf (TINYECG_TEXT_UINT64_BYTES); returns buf. */
char *tinyecg_text_uint64(uint64_t v, char *buf);

/* v with 7 significant digits, e.g. "3.921569e-03" (buf: TINYECG_TEXT_FLOAT_BYTES). */
char *tinyecg_text_float(float v, char *buf);

/* write(ctx, text) unless write is NULL. */
void tinyecg_text_put(tinyecg_write_fn write, void *ctx, const char *text);

/* The decimal text of v through write (NULL: nothing). */
void tinyecg_text_put_int(tinyecg_write_fn write, void *ctx, int32_t v);
void tinyecg_text_put_uint64(tinyecg_write_fn write, void *ctx, uint64_t v);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_TEXT_H */
