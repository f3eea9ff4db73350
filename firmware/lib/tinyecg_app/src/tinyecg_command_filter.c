/*
 * tinyecg_command_filter.c - '#' lines only (see tinyecg_command_filter.h).
 */
#include "tinyecg_command_filter.h"

#include <string.h>

void tinyecg_command_filter_init(tinyecg_command_filter_t *f)
{
    memset(f, 0, sizeof *f);
}

/* the first character after leading blanks is '#' */
static int is_command(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) {
        i++;
    }
    return i < n && s[i] == '#';
}

void tinyecg_command_filter_feed(tinyecg_command_filter_t *f, const char *data, size_t len,
                                 tinyecg_command_sink_fn sink, void *ctx)
{
    size_t k;
    for (k = 0; k < len; k++) {
        char ch = data[k];
        if (ch == '\n') {
            if (!f->overlong && is_command(f->line, f->len)) {
                f->line[f->len] = '\n';
                sink(ctx, f->line, f->len + 1u);
            } else {
                f->ignored++;
            }
            f->len = 0;
            f->overlong = 0;
        } else if (f->len + 2u < sizeof f->line) { /* room for '\n' */
            f->line[f->len++] = ch;
        } else {
            f->overlong = 1;
        }
    }
}
