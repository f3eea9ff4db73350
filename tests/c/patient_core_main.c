/*
 * patient_core_main.c - the firmware core (tinyecg_app with TINYECG_PATIENT_CONTEXT) fed a
 * record's samples and R-peaks at given report times, printing what a patient-context model
 * would be given for each beat, for tests/test_patient_c.py.
 *
 * usage: patient_core_main samples.bin events.bin > out.txt
 *   samples.bin  int16 ADC samples
 *   events.bin   int64 triples (kind, value, at), `at` increasing: once `at` samples have been
 *                read (before the next is pushed) kind 0 registers R-peak `value`, kind 1
 *                starts a new RR sequence (the core's lead-off break), kind 2 resets the core
 *                (#reset: the core counts samples from 0 again, `at` keeps counting reads)
 * Each classified beat prints "r A D f0..f7 b0..b719" (A, D: the RR state the beat saw; f: the
 * int8 input "rhythm"; b: the interleaved int8 beat input); the stream ends as with #end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyecg_app.h"
#include "tinyecg_preprocess_params.h"

#if !TINYECG_PATIENT_CONTEXT
#error "build with -DTINYECG_PATIENT_CONTEXT=1"
#endif

static tinyecg_app_t app;
static int32_t last_a, last_d;

static void window(const int16_t *raw, int8_t *out)
{
    tinyecg_adc_t adc = {1024, 200}; /* MIT-BIH: baseline 1024, 200 counts per mV */
    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc, out);
}

static void rhythm(const tinyecg_rr_t *rr, int8_t *out)
{
    last_a = rr->mean_rr16;
    last_d = rr->irregularity16;
    tinyecg_longterm_features(&tinyecg_model_preprocess, rr->pre_rr, rr->post_rr,
                              rr->local_rr_sum, rr->local_rr_count, rr->mean_rr16,
                              rr->irregularity16, out);
}

static int classify(void *ctx, const int8_t *beat_q, const int8_t *rhythm_q, int8_t *scores_q)
{
    int i;
    (void)ctx;
    printf("%lu %ld %ld", (unsigned long)app.beat.r, (long)last_a, (long)last_d);
    for (i = 0; i < TINYECG_DSP_LONGTERM_FEATURES; i++) {
        printf(" %d", rhythm_q[i]);
    }
    for (i = 0; i < 2 * TINYECG_WINDOW; i++) {
        printf(" %d", beat_q[i]);
    }
    printf("\n");
    scores_q[0] = 0;
    return 0;
}

static void write_text(void *ctx, const char *text)
{
    (void)ctx; /* the protocol lines are not what this program checks */
    (void)text;
}

static const char *const labels[] = {"N"};

int main(int argc, char **argv)
{
    FILE *fs, *fe;
    int16_t x;
    int64_t ev[3];
    int have_ev;
    uint32_t n = 0; /* samples read */
    tinyecg_classifier_t clf;
    tinyecg_app_config_t cfg;
    if (argc != 3) {
        return 2;
    }
    fs = fopen(argv[1], "rb");
    fe = fopen(argv[2], "rb");
    if (fs == NULL || fe == NULL) {
        return 3;
    }
    memset(&clf, 0, sizeof clf);
    clf.classify = classify;
    clf.n_classes = 1;
    clf.n_rhythm = TINYECG_RHYTHM_FEATURES;
    clf.labels = labels;
    clf.name = "dump";
    memset(&cfg, 0, sizeof cfg);
    cfg.write = write_text;
    cfg.preprocess_window = window;
    cfg.rhythm_features = rhythm;
    cfg.classifier = &clf;
    cfg.adc_min = -32768;
    cfg.adc_max = 32767;
    cfg.flat_tolerance = -1; /* never flat */
    cfg.outputs = TINYECG_OUT_BEATS;
    cfg.external_peaks = 1;
    if (tinyecg_app_init(&app, &cfg) != 0) {
        return 4;
    }
    have_ev = fread(ev, sizeof ev, 1, fe) == 1;
    for (;;) {
        while (have_ev && ev[2] == (int64_t)n) {
            if (ev[0] == 0) {
                if (tinyecg_app_peak(&app, (uint32_t)ev[1]) != 0) {
                    return 5;
                }
            } else if (ev[0] == 1) {
                tinyecg_beats_break(&app.beats);
            } else {
                tinyecg_app_reset(&app);
            }
            have_ev = fread(ev, sizeof ev, 1, fe) == 1;
        }
        if (fread(&x, sizeof x, 1, fs) != 1) {
            break;
        }
        tinyecg_app_sample(&app, x);
        n++;
    }
    tinyecg_app_finish(&app);
    fclose(fs);
    fclose(fe);
    return 0;
}
