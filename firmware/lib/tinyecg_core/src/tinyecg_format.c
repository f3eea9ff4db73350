/*
 * tinyecg_format.c - see tinyecg_format.h.
 */
#include "tinyecg_format.h"

#include <stddef.h>

char *tinyecg_format_u32(char *buf, uint32_t u)
{
    char tmp[11];
    size_t n = 0, i = 0;
    do {
        tmp[n++] = (char)('0' + (char)(u % 10u));
        u /= 10u;
    } while (u != 0u);
    while (n > 0u) {
        buf[i++] = tmp[--n];
    }
    buf[i] = '\0';
    return buf;
}

char *tinyecg_format_i32(char *buf, int32_t v)
{
    /* the magnitude in unsigned arithmetic: -INT32_MIN does not fit an int32 */
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    if (v < 0) {
        buf[0] = '-';
        (void)tinyecg_format_u32(buf + 1, u);
        return buf;
    }
    return tinyecg_format_u32(buf, u);
}
