/*
 * Event driver for the tinyecg firmware core: a test and benchmark program, not firmware
 * (tinyecg.device.device_path.events builds it with the strict flags; `make events` here).
 *
 * It runs the firmware core (tinyecg_app: signal quality, detector, beat assembly) on
 * protocol text from stdin exactly as main.c does, with R-peak output only, and prefixes
 * every output line with the number of samples the core had received when the line was
 * written. The harness cannot tell when an R-peak was reported; the device path needs it,
 * because the report time decides the core's 2 s beat timeout.
 *
 *     <n> <r>             R-peak r, reported once sample n-1 had arrived
 *     <n> # signal ok     a new RR sequence starts before sample n is pushed
 *
 * Usage: tinyecg_events ADC_MIN ADC_MAX FLAT_TOLERANCE < samples
 */
#include <stdio.h>
#include <stdlib.h>

#include "tinyecg_app.h"

static tinyecg_app_t app;
static int at_line_start = 1;

static void write_text(void *ctx, const char *text)
{
    (void)ctx;
    for (; *text != '\0'; text++) {
        if (at_line_start) {
            printf("%lu ", (unsigned long)app.beats.n); /* sample count at this line */
            at_line_start = 0;
        }
        putchar((unsigned char)*text);
        at_line_start = *text == '\n';
    }
}

int main(int argc, char **argv)
{
    tinyecg_app_config_t cfg = {0};
    static char buf[4096];
    size_t n;
    if (argc != 4) {
        fprintf(stderr, "usage: tinyecg_events ADC_MIN ADC_MAX FLAT_TOLERANCE < samples\n");
        return 2;
    }
    cfg.adc_min = (int32_t)strtol(argv[1], NULL, 10);
    cfg.adc_max = (int32_t)strtol(argv[2], NULL, 10);
    cfg.flat_tolerance = (int32_t)strtol(argv[3], NULL, 10);
    cfg.outputs = TINYECG_OUT_PEAKS;
    cfg.write = write_text;
    if (tinyecg_app_init(&app, &cfg) != 0) {
        fprintf(stderr, "tinyecg_events: invalid configuration\n");
        return 2;
    }
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        tinyecg_app_feed(&app, buf, n);
    }
    tinyecg_app_finish(&app);
    return 0;
}
