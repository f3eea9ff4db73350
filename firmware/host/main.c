/*
 * Host harness for the tinyecg firmware core: the same code as on the board, reading the
 * serial protocol (tinyecg_app.h) on stdin or on one TCP connection (127.0.0.1 only) and
 * writing protocol lines back.
 *
 *   tinyecg_host [--peaks] [--rr] [--windows] [--beats] [--quality] [--segments]
 *                [--adc-min N] [--adc-max N] [--flat-tol N] [--peak-file FILE] [--tcp PORT]
 *
 *   --peaks       detect only: one R-peak sample index per line
 *   --rr          "R <r> <pre> <post> <local_sum> <local_count>" per completed beat
 *   --windows     "W <r> <360 samples>" per completed beat
 *   --beats       "B <r> <label> <score_q> <inference_us>" (the default without any of these;
 *                 "U ..." for a beat the quality index finds unreadable)
 *   --quality     "Q <r> <score> <0|1>" per completed beat: its quality score (Q8, 256 = the
 *                 threshold) and 1 when it is unreadable (a U line)
 *   --segments    "S <k> <h> <b> <a> <aref> <rail> <score> <state>" per 0.1 s sub-block: the
 *                 quality index's features (tests compare them with tinyecg/dsp/quality.py)
 *   --peak-file   take R-peaks (one index per line) from FILE instead of the detector; each
 *                 is registered once the sample 100 after it has arrived
 *   --tcp PORT    listen on 127.0.0.1:PORT (0 = any free port, printed on stderr as
 *                 "listening <port>"), serve one connection, then exit
 *   --idle-ms N   no input for N ms calls tinyecg_app_input_stalled(), as the board
 *                 does in replay mode (default 0 = never: batch runs from a pipe must not
 *                 depend on how fast the writer is)
 *   --rhythm      the shockable-rhythm task beside the beats ("# rhythm ..." and
 *                 "# alarm ..." lines, tinyecg_rhythm_task.h) with the rhythm model's C
 *                 backend; only in a build with -DTINYECG_HOST_RHYTHM and the model's files
 *                 (tinyecg.device.detect.build_host_harness(rhythm_model=...))
 *   --baseline N, --gain N   the rhythm task's calibration: ADC counts at 0 mV and per mV
 *                 (default 1024 and 200, MIT-BIH's)
 * At end of input the pending beats are reported (as #end). Exit status 0, or 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200112L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baseline_classifier.h"
#include "tinyecg_app.h"

#ifdef TINYECG_HOST_RHYTHM
#include "tinyecg_rhythm_model.h"      /* tinyecg_rhythm_model_invoke(), its hash */
#include "tinyecg_rhythm_model_meta.h" /* TINYECG_RHYTHM_MODEL_SHOCKABLE_OUTPUT */

static int rhythm_classify(void *ctx, const int8_t *window_q, int8_t *scores_q)
{
    (void)ctx;
    return tinyecg_rhythm_model_invoke(window_q, scores_q);
}

static const tinyecg_rhythm_classifier_t rhythm_classifier = {
    rhythm_classify, NULL, TINYECG_RHYTHM_MODEL_SHOCKABLE_OUTPUT, "cbackend",
    TINYECG_RHYTHM_MODEL_SHA256,
};
static tinyecg_rhythm_task_t rhythm_task;
#endif

#define PEAK_FILE_LAG 100u

static tinyecg_app_t app;
static int out_fd = -1; /* TCP connection, or -1 for stdout */
static char out_buf[4096];
static size_t out_len;

static void flush_out(void)
{
    size_t off = 0;
    if (out_fd < 0) {
        fwrite(out_buf, 1, out_len, stdout);
    } else {
        while (off < out_len) {
            ssize_t w = send(out_fd, out_buf + off, out_len - off, 0);
            if (w <= 0) {
                break;
            }
            off += (size_t)w;
        }
    }
    out_len = 0;
}

static void write_text(void *ctx, const char *text)
{
    size_t n = strlen(text);
    (void)ctx;
    if (out_len + n > sizeof out_buf) {
        flush_out();
    }
    if (n > sizeof out_buf) {
        n = sizeof out_buf;
    }
    memcpy(out_buf + out_len, text, n);
    out_len += n;
    if (out_fd >= 0 && n > 0 && text[n - 1] == '\n') {
        flush_out(); /* a live stream wants each line at once */
    }
}

static uint32_t clock_us(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
}

static void usage(void)
{
    fprintf(stderr, "usage: tinyecg_host [--peaks] [--rr] [--windows] [--beats] "
                    "[--quality] [--segments] [--adc-min N] [--adc-max N] [--flat-tol N] "
                    "[--peak-file FILE] [--tcp PORT] [--idle-ms N] [--rhythm] "
                    "[--baseline N] [--gain N]\n");
    exit(2);
}

static long int_arg(int argc, char **argv, int *i)
{
    char *end;
    long v;
    if (*i + 1 >= argc) {
        usage();
    }
    v = strtol(argv[++*i], &end, 10);
    if (*end != '\0' || end == argv[*i]) {
        usage();
    }
    return v;
}

/* external peaks from a file, fed as the samples arrive */
static FILE *peak_file;
static long next_peak = -1;

static void feed_peaks(void)
{
    while (peak_file != NULL) {
        uint32_t n = app.beats.n;
        if (next_peak < 0) {
            if (fscanf(peak_file, "%ld", &next_peak) != 1) {
                fclose(peak_file);
                peak_file = NULL;
                return;
            }
        }
        if ((uint32_t)next_peak + PEAK_FILE_LAG > n) {
            return;
        }
        (void)tinyecg_app_peak(&app, (uint32_t)next_peak);
        next_peak = -1;
    }
}

static void feed(const char *data, size_t len)
{
    if (peak_file == NULL) {
        tinyecg_app_feed(&app, data, len);
        return;
    }
    /* byte by byte so every sample is followed by its due peaks */
    while (len > 0) {
        tinyecg_app_feed(&app, data, 1);
        feed_peaks();
        data++;
        len--;
    }
}

static int serve_tcp(long port)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0) {
        perror("socket");
        return -1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("bind");
        close(lfd);
        return -1;
    }
    fprintf(stderr, "listening %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stderr);
    out_fd = accept(lfd, NULL, NULL);
    close(lfd);
    return out_fd;
}

int main(int argc, char **argv)
{
    tinyecg_app_config_t cfg;
    char buf[4096];
    long tcp_port = -1, idle_ms = 0, baseline = 1024, gain = 200;
    int i, in_fd, rhythm = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.adc_min = -32768;
    cfg.adc_max = 32767;
    cfg.flat_tolerance = 2;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--peaks") == 0) {
            cfg.outputs |= TINYECG_OUT_PEAKS;
        } else if (strcmp(argv[i], "--rr") == 0) {
            cfg.outputs |= TINYECG_OUT_RR;
        } else if (strcmp(argv[i], "--windows") == 0) {
            cfg.outputs |= TINYECG_OUT_WINDOWS;
        } else if (strcmp(argv[i], "--beats") == 0) {
            cfg.outputs |= TINYECG_OUT_BEATS;
        } else if (strcmp(argv[i], "--quality") == 0) {
            cfg.outputs |= TINYECG_OUT_QUALITY;
        } else if (strcmp(argv[i], "--segments") == 0) {
            cfg.outputs |= TINYECG_OUT_SEGMENTS;
        } else if (strcmp(argv[i], "--adc-min") == 0) {
            cfg.adc_min = (int32_t)int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--adc-max") == 0) {
            cfg.adc_max = (int32_t)int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--flat-tol") == 0) {
            cfg.flat_tolerance = (int32_t)int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--tcp") == 0) {
            tcp_port = int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--idle-ms") == 0) {
            idle_ms = int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--rhythm") == 0) {
            rhythm = 1;
        } else if (strcmp(argv[i], "--baseline") == 0) {
            baseline = int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--gain") == 0) {
            gain = int_arg(argc, argv, &i);
        } else if (strcmp(argv[i], "--peak-file") == 0 && i + 1 < argc) {
            peak_file = fopen(argv[++i], "r");
            if (peak_file == NULL) {
                perror(argv[i]);
                return 2;
            }
            cfg.external_peaks = 1;
        } else {
            usage();
        }
    }
    if (cfg.outputs == 0u) {
        cfg.outputs = TINYECG_OUT_BEATS;
    }
    cfg.classifier = &baseline_classifier;
    cfg.preprocess_window = baseline_preprocess_window;
    cfg.rhythm_features = baseline_rhythm_features;
    cfg.write = write_text;
    cfg.clock_us = clock_us;
    if (rhythm) {
#ifdef TINYECG_HOST_RHYTHM
        if (baseline < INT16_MIN || baseline > INT16_MAX || gain < 1 || gain > UINT16_MAX ||
            tinyecg_rhythm_task_setup(&rhythm_task, &rhythm_classifier, (int32_t)baseline,
                                      (uint16_t)gain) != 0) {
            usage();
        }
        cfg.rhythm = &rhythm_task;
#else
        (void)baseline;
        (void)gain;
        fprintf(stderr, "tinyecg_host: built without the rhythm model (TINYECG_HOST_RHYTHM)\n");
        return 2;
#endif
    }
    if (tcp_port >= 0 && serve_tcp(tcp_port) < 0) {
        return 2;
    }
    if (tinyecg_app_init(&app, &cfg) != 0) {
        fprintf(stderr, "tinyecg_host: invalid configuration (ADC range?)\n");
        return 2;
    }
    in_fd = out_fd >= 0 ? out_fd : STDIN_FILENO;
    for (;;) {
        ssize_t n;
        if (idle_ms > 0) {
            struct pollfd pfd;
            pfd.fd = in_fd;
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (poll(&pfd, 1, (int)idle_ms) == 0) {
                tinyecg_app_input_stalled(&app); /* silence on the line */
                flush_out();
                continue;
            }
        }
        n = read(in_fd, buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        feed(buf, (size_t)n);
    }
    tinyecg_app_finish(&app);
    flush_out();
    if (out_fd >= 0) {
        close(out_fd);
    }
    return 0;
}
