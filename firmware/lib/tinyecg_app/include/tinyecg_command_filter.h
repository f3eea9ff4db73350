/*
 * tinyecg_command_filter.h - ADC mode: only protocol commands ('#' lines) from the serial
 * port reach the core (a sample line sent by mistake must not inject samples between the
 * ADC's). The filter lives with the board layer (only an ADC build has one).
 */
#ifndef TINYECG_COMMAND_FILTER_H
#define TINYECG_COMMAND_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_COMMAND_LINE_MAX 256 /* as TINYECG_LINE_MAX of the core's parser */

/* Receives complete command lines, '\n' included. */
typedef void (*tinyecg_command_sink_fn)(void *ctx, const char *line, size_t len);

typedef struct {
    char line[TINYECG_COMMAND_LINE_MAX];
    size_t len;
    int overlong;
    uint32_t ignored; /* non-command (or over-long) lines dropped */
} tinyecg_command_filter_t;

void tinyecg_command_filter_init(tinyecg_command_filter_t *f);
void tinyecg_command_filter_feed(tinyecg_command_filter_t *f, const char *data, size_t len,
                                 tinyecg_command_sink_fn sink, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_COMMAND_FILTER_H */
