/*
 * tinyecg_text.c - decimal text without printf (see tinyecg_text.h).
 */
#include "tinyecg_text.h"

#include <stddef.h>
#include <string.h>

char *tinyecg_text_uint64(uint64_t v, char *buf)
{
    char digits[TINYECG_TEXT_UINT64_BYTES];
    int n = 0, k = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        buf[k++] = digits[--n];
    }
    buf[k] = '\0';
    return buf;
}

char *tinyecg_text_int(int32_t v, char *buf)
{
    /* the magnitude in unsigned arithmetic: -INT32_MIN does not fit an int32_t */
    uint32_t magnitude = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    if (v < 0) {
        buf[0] = '-';
        (void)tinyecg_text_uint64(magnitude, buf + 1);
    } else {
        (void)tinyecg_text_uint64(magnitude, buf);
    }
    return buf;
}

char *tinyecg_text_float(float v, char *buf)
{
    double x = (double)v;
    int exponent = 0, k = 0, i;
    int32_t mantissa;
    char digits[TINYECG_TEXT_INT_BYTES];
    if (x != x) {
        strcpy(buf, "nan");
        return buf;
    }
    if (x < 0.0) {
        buf[k++] = '-';
        x = -x;
    }
    if (x != 0.0) {
        /* |float| < 3.5e38 and >= 1.4e-45: |exponent| stays below 60 */
        while (x >= 10.0 && exponent < 60) {
            x /= 10.0;
            exponent++;
        }
        while (x < 1.0 && exponent > -60) {
            x *= 10.0;
            exponent--;
        }
    }
    mantissa = (int32_t)(x * 1000000.0 + 0.5); /* 7 significant digits: d.dddddd */
    if (mantissa >= 10000000) {
        mantissa /= 10;
        exponent++;
    }
    (void)tinyecg_text_int(mantissa, digits);
    buf[k++] = digits[0];
    buf[k++] = '.';
    for (i = 1; i < 7; i++) { /* 0.0 has one digit: pad with zeros, never read past its NUL */
        int have = mantissa != 0;
        buf[k++] = have ? digits[i] : '0';
    }
    buf[k++] = 'e';
    buf[k++] = exponent < 0 ? '-' : '+';
    if (exponent < 0) {
        exponent = -exponent;
    }
    buf[k++] = (char)('0' + exponent / 10);
    buf[k++] = (char)('0' + exponent % 10);
    buf[k] = '\0';
    return buf;
}

void tinyecg_text_put(tinyecg_write_fn write, void *ctx, const char *text)
{
    if (write != NULL) {
        write(ctx, text);
    }
}

void tinyecg_text_put_int(tinyecg_write_fn write, void *ctx, int32_t v)
{
    char buf[TINYECG_TEXT_INT_BYTES];
    tinyecg_text_put(write, ctx, tinyecg_text_int(v, buf));
}

void tinyecg_text_put_uint64(tinyecg_write_fn write, void *ctx, uint64_t v)
{
    char buf[TINYECG_TEXT_UINT64_BYTES];
    tinyecg_text_put(write, ctx, tinyecg_text_uint64(v, buf));
}
