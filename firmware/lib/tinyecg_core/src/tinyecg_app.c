/*
 * tinyecg_app.c - samples -> detector -> beats -> preprocess -> classify -> protocol line.
 * See tinyecg_app.h for the protocol. No heap, no floating point, no printf.
 */
#include "tinyecg_app.h"

#include <string.h>

#include "tinyecg_format.h"

/* ---- output helpers ---- */

static void put(tinyecg_app_t *app, const char *s)
{
    if (app->cfg.write != NULL) {
        app->cfg.write(app->cfg.write_ctx, s);
    }
}

static void put_u32(tinyecg_app_t *app, uint32_t v)
{
    char buf[TINYECG_FORMAT_BUF];
    put(app, tinyecg_format_u32(buf, v));
}

static void put_i32(tinyecg_app_t *app, int32_t v)
{
    char buf[TINYECG_FORMAT_BUF];
    put(app, tinyecg_format_i32(buf, v));
}

static void put_kv(tinyecg_app_t *app, const char *key, uint32_t v)
{
    put(app, " ");
    put(app, key);
    put(app, "=");
    put_u32(app, v);
}

static void info_line(tinyecg_app_t *app)
{
    put(app, "# tinyecg " TINYECG_CORE_VERSION " fs=360 window=360");
    put(app, " classifier=");
    put(app, (app->cfg.classifier != NULL && app->cfg.classifier->name != NULL)
                 ? app->cfg.classifier->name
                 : "none");
    if (app->cfg.classifier != NULL && app->cfg.classifier->labels != NULL) {
        int i;
        put(app, " labels=");
        for (i = 0; i < app->cfg.classifier->n_classes; i++) {
            put(app, i > 0 ? "," : "");
            put(app, app->cfg.classifier->labels[i]);
        }
    }
    put(app, " adc=");
    put_i32(app, app->cfg.adc_min);
    put(app, "..");
    put_i32(app, app->cfg.adc_max);
    if (app->cfg.rhythm != NULL) {
        app->cfg.rhythm->ops->info(app->cfg.rhythm, app->cfg.write, app->cfg.write_ctx);
    }
    put(app, "\n");
}

void tinyecg_app_stats(tinyecg_app_t *app)
{
    put(app, "# stats");
    put_kv(app, "samples", app->count.samples);
    put_kv(app, "peaks", app->count.peaks);
    put_kv(app, "beats", app->count.beats);
    put_kv(app, "skipped", app->beats.skipped + app->beats.overflow);
    put_kv(app, "garbage", app->count.garbage);
    put_kv(app, "overlong", app->count.overlong);
    put_kv(app, "out_of_range", app->count.out_of_range);
    put_kv(app, "unknown_commands", app->count.unknown_commands);
    put_kv(app, "classify_errors", app->count.classify_errors);
    put_kv(app, "lead_off", app->count.lead_off_events);
    put_kv(app, "flat", app->count.flat_events);
    put_kv(app, "unreadable", app->count.unreadable);
    put_kv(app, "quality_poor", app->count.quality_poor_events);
    if (app->cfg.rhythm != NULL) {
        app->cfg.rhythm->ops->stats(app->cfg.rhythm, app->cfg.write, app->cfg.write_ctx);
    }
    put(app, "\n");
}

/* ---- beats ---- */

static void report_beat(tinyecg_app_t *app, const tinyecg_beat_t *b)
{
    unsigned out = app->cfg.outputs;
    uint16_t qscore = tinyecg_quality_beat_score(&app->quality, b->r);
    int unreadable = tinyecg_quality_beat_poor(&app->quality, b->r, b->rr.pre_rr, b->rr.post_rr,
                                               b->rr.local_rr_sum, b->rr.local_rr_count);
    app->count.beats++;
    if (unreadable) {
        app->count.unreadable++;
    }
    if (out & TINYECG_OUT_RR) {
        put(app, "R ");
        put_u32(app, b->r);
        put(app, " ");
        put_i32(app, b->rr.pre_rr);
        put(app, " ");
        put_i32(app, b->rr.post_rr);
        put(app, " ");
        put_i32(app, b->rr.local_rr_sum);
        put(app, " ");
        put_i32(app, b->rr.local_rr_count);
        put(app, "\n");
    }
    if (out & TINYECG_OUT_WINDOWS) {
        unsigned i;
        put(app, "W ");
        put_u32(app, b->r);
        for (i = 0; i < TINYECG_WINDOW; i++) {
            put(app, " ");
            put_i32(app, b->window[i]);
        }
        put(app, "\n");
    }
    if (out & TINYECG_OUT_QUALITY) {
        put(app, "Q ");
        put_u32(app, b->r);
        put(app, " ");
        put_u32(app, qscore);
        put(app, unreadable ? " 1\n" : " 0\n");
    }
    if (out & TINYECG_OUT_BEATS) {
        const tinyecg_classifier_t *c = app->cfg.classifier;
        uint32_t t0 = 0, t1 = 0;
        int i, best = 0, rc;
        app->cfg.preprocess_window(b->window, app->window_q);
#if TINYECG_PATIENT_CONTEXT
        tinyecg_template_interleave(&app->beats, app->window_q);
#endif
        app->cfg.rhythm_features(&b->rr, app->rhythm_q);
        if (app->cfg.clock_us != NULL) {
            t0 = app->cfg.clock_us(app->cfg.clock_ctx);
        }
        rc = c->classify(c->ctx, app->window_q, app->rhythm_q, app->scores_q);
        if (app->cfg.clock_us != NULL) {
            t1 = app->cfg.clock_us(app->cfg.clock_ctx);
        }
#if TINYECG_PATIENT_CONTEXT
        tinyecg_template_update(&app->beats, b, app->window_q); /* also after an error */
#endif
        if (rc != 0) {
            app->count.classify_errors++;
            put(app, "# classify-error ");
            put_u32(app, b->r);
            put(app, "\n");
            return;
        }
        for (i = 1; i < c->n_classes; i++) {
            if (app->scores_q[i] > app->scores_q[best]) {
                best = i;
            }
        }
        put(app, unreadable ? "U " : "B ");
        put_u32(app, b->r);
        put(app, " ");
        put(app, c->labels[best]);
        put(app, " ");
        put_i32(app, app->scores_q[best]);
        put(app, " ");
        put_u32(app, t1 - t0);
        put(app, "\n");
    }
}

static void drain_beats(tinyecg_app_t *app, int final)
{
    while (tinyecg_beats_next(&app->beats, &app->beat, final)) {
        report_beat(app, &app->beat);
    }
}

/* ---- signal quality ---- */

static void signal_back(tinyecg_app_t *app)
{
    put(app, "# signal ok\n");
    tinyecg_detector_relearn(&app->det);
    tinyecg_quality_relearn(&app->quality);
    tinyecg_beats_break(&app->beats);
}

/* The readability index takes every sample as it came (railed samples included: a clipped
 * second is not readable); it is not scored while the signal is railed or flat (those have
 * their own status), and restarts when it is back. */
static void readability(tinyecg_app_t *app, int16_t x)
{
    tinyecg_quality_t *q = &app->quality;
    tinyecg_quality_segment_t detail; /* the S line's features: on the stack, not in the
                                         state (RAM budget), and only when asked for */
    int paused = app->lead_off || app->flat, done;
    if (paused) {
        /* restart silently: lead-off and flat say more; after them the quality is ok */
        tinyecg_quality_relearn(q);
        tinyecg_detector_set_noisy(&app->det, 0);
        app->quality_said = 0;
    }
    if (app->cfg.outputs & TINYECG_OUT_SEGMENTS) {
        memset(&detail, 0, sizeof detail);
        q->detail = &detail;
    }
    done = tinyecg_quality_push(q, x);
    q->detail = NULL;
    if (done) {
        /* the detector is strict while the signal is poor or the last second doubtful */
        tinyecg_detector_set_noisy(&app->det, q->state || q->score >= TINYECG_Q_DET_SCORE);
        if ((app->cfg.outputs & TINYECG_OUT_SEGMENTS) && q->scored) {
            put(app, "S ");
            put_u32(app, q->k - 1u);
            put(app, " ");
            put_i32(app, detail.h);
            put(app, " ");
            put_i32(app, detail.b);
            put(app, " ");
            put_i32(app, detail.a);
            put(app, " ");
            put_i32(app, detail.aref);
            put(app, " ");
            put_u32(app, detail.r);
            put(app, " ");
            put_u32(app, q->score);
            put(app, " ");
            put_u32(app, q->state);
            put(app, "\n");
        }
        /* a railed run may still become a lead-off, the more specific status: the quality
         * status waits until the run ends (a clip) or is one (then it is never printed) */
        if (!paused && app->rail_run == 0u && q->state != app->quality_said) {
            app->quality_said = q->state;
            if (q->state) {
                app->count.quality_poor_events++;
            }
            put(app, q->state ? "# quality poor\n" : "# quality ok\n");
        }
    }
}

/* Count one piece of bad input; the first of an episode is reported. */
static void bad_input(tinyecg_app_t *app, uint32_t *counter, const char *kind)
{
    (*counter)++;
    app->bad_in_block = 1;
    if (!app->bad_input) {
        app->bad_input = 1;
        put(app, "# bad-input ");
        put(app, kind);
        put(app, "\n");
    }
}

static int16_t quality(tinyecg_app_t *app, int32_t x)
{
    int railed = x <= app->cfg.adc_min || x >= app->cfg.adc_max;
    /* lead-off: a run of railed samples */
    if (railed) {
        app->rail_run++;
        app->good_run = 0;
        if (!app->lead_off && app->rail_run >= TINYECG_RAIL_RUN) {
            app->lead_off = 1;
            app->count.lead_off_events++;
            put(app, "# lead-off\n");
        }
    } else {
        app->rail_run = 0;
        app->held = (int16_t)x;
        if (app->lead_off) {
            app->good_run++;
            if (app->good_run >= TINYECG_RECOVER) {
                app->lead_off = 0;
                app->good_run = 0;
                signal_back(app);
                if (app->cfg.rhythm != NULL) {
                    /* this sample starts the rhythm front end's new stream */
                    app->cfg.rhythm->ops->restart(app->cfg.rhythm);
                }
            }
        }
    }
    /* flat: a whole second without variation (railed seconds belong to lead-off) */
    if (app->blk_len == 0u || x < app->blk_min) {
        app->blk_min = x;
    }
    if (app->blk_len == 0u || x > app->blk_max) {
        app->blk_max = x;
    }
    app->blk_railed = (uint8_t)(app->blk_railed | (uint8_t)railed);
    app->blk_len++;
    if (app->blk_len == TINYECG_FLAT_BLOCK) {
        int is_flat = app->blk_max - app->blk_min <= app->cfg.flat_tolerance;
        if (!app->blk_railed && !app->lead_off) {
            if (is_flat && !app->flat) {
                app->flat = 1;
                app->count.flat_events++;
                put(app, "# flat\n");
            } else if (!is_flat && app->flat) {
                app->flat = 0;
                signal_back(app);
            }
        }
        app->blk_len = 0;
        app->blk_railed = 0;
        if (!app->bad_in_block) {
            app->bad_input = 0; /* a clean second ends a bad-input episode */
        }
        app->bad_in_block = 0;
    }
    /* the detector sees the last good value while the ADC is railed */
    return railed ? app->held : (int16_t)x;
}

/* ---- samples ---- */

void tinyecg_app_sample(tinyecg_app_t *app, int32_t sample)
{
    int16_t x;
    uint32_t r;
    if (sample < app->cfg.adc_min || sample > app->cfg.adc_max) {
        /* keep the time slot: the detector and the window see the last good sample */
        bad_input(app, &app->count.out_of_range, "out-of-range");
        sample = app->held;
    }
    if (app->stalled) {
        app->stalled = 0;
        put(app, "# input resumed\n");
        if (app->cfg.rhythm != NULL) {
            app->cfg.rhythm->ops->restart(app->cfg.rhythm); /* a gap is never in a window */
        }
    }
    app->count.samples++;
    x = quality(app, sample);
    readability(app, (int16_t)sample);
    tinyecg_beats_push_sample(&app->beats, (int16_t)sample);
    if (!app->cfg.external_peaks) {
        r = tinyecg_detector_push(&app->det, x);
        /* while the signal is bad (and until it has been good again long enough) the
         * detector only sees steps and silence: its detections are dropped */
        if (r != 0u && !app->lead_off && !app->flat) {
            (void)tinyecg_app_peak(app, r);
        }
    }
    drain_beats(app, 0);
    if (app->cfg.rhythm != NULL) {
        /* every sample, railed ones too (they make the decisions that see them unreadable) */
        app->cfg.rhythm->ops->push(app->cfg.rhythm, sample,
                                   sample <= app->cfg.adc_min || sample >= app->cfg.adc_max,
                                   app->count.samples - 1u, app->cfg.write, app->cfg.write_ctx);
    }
}

int tinyecg_app_peak(tinyecg_app_t *app, uint32_t r)
{
    if (tinyecg_beats_add_peak(&app->beats, r) != 0) {
        return -1;
    }
    app->count.peaks++;
    if (app->cfg.outputs & TINYECG_OUT_PEAKS) {
        put_u32(app, r);
        put(app, "\n");
    }
    drain_beats(app, 0);
    return 0;
}

void tinyecg_app_finish(tinyecg_app_t *app)
{
    drain_beats(app, 1);
}

void tinyecg_app_input_stalled(tinyecg_app_t *app)
{
    if (app->stalled || app->count.samples == 0u) {
        return;
    }
    app->stalled = 1;
    put(app, "# input stopped\n");
    drain_beats(app, 1);
    /* what follows is not contiguous with what came before */
    tinyecg_detector_relearn(&app->det);
    tinyecg_quality_relearn(&app->quality);
    app->quality_said = 0; /* "# input resumed" starts with the quality ok */
    tinyecg_beats_break(&app->beats);
}

static void clear_state(tinyecg_app_t *app)
{
    tinyecg_detector_init(&app->det);
    tinyecg_quality_init(&app->quality, app->cfg.adc_min, app->cfg.adc_max);
    tinyecg_beats_init(&app->beats);
    memset(&app->count, 0, sizeof app->count);
    app->lead_off = 0;
    app->flat = 0;
    app->quality_said = 0;
    app->rail_run = 0;
    app->good_run = 0;
    app->held = (int16_t)((app->cfg.adc_min + app->cfg.adc_max) / 2);
    app->blk_len = 0;
    app->blk_railed = 0;
    app->blk_min = 0;
    app->blk_max = 0;
    app->bad_input = 0;
    app->bad_in_block = 0;
    app->stalled = 0;
    if (app->cfg.rhythm != NULL) {
        app->cfg.rhythm->ops->clear(app->cfg.rhythm);
    }
}

void tinyecg_app_reset(tinyecg_app_t *app)
{
    clear_state(app);
    put(app, "# reset\n");
}

int tinyecg_app_init(tinyecg_app_t *app, const tinyecg_app_config_t *cfg)
{
    const tinyecg_classifier_t *c = cfg->classifier;
    if (cfg->adc_min < INT16_MIN || cfg->adc_max > INT16_MAX || cfg->adc_min >= cfg->adc_max) {
        return -1;
    }
    if (cfg->outputs & TINYECG_OUT_BEATS) {
        if (c == NULL || c->classify == NULL || c->labels == NULL || c->n_classes < 1 ||
            c->n_classes > TINYECG_MAX_CLASSES || c->n_rhythm < 0 ||
            c->n_rhythm > TINYECG_MAX_RHYTHM || cfg->preprocess_window == NULL ||
            cfg->rhythm_features == NULL) {
            return -1;
        }
    }
    if (cfg->rhythm != NULL && cfg->rhythm->ops == NULL) {
        return -1; /* not set up (tinyecg_rhythm_task_setup) */
    }
    memset(app, 0, sizeof *app);
    app->cfg = *cfg;
    clear_state(app);
    info_line(app);
    return 0;
}

/* ---- protocol text ---- */

static int is_sep(char ch)
{
    return ch == ' ' || ch == ',' || ch == '\t' || ch == ';' || ch == '\r';
}

static void command(tinyecg_app_t *app, const char *cmd)
{
    size_t n = strlen(cmd);
    while (n > 0u && is_sep(cmd[n - 1u])) {
        n--;
    }
    if (n == 6u && memcmp(cmd, "#reset", 6) == 0) {
        tinyecg_app_reset(app);
    } else if (n == 4u && memcmp(cmd, "#end", 4) == 0) {
        tinyecg_app_finish(app);
        put(app, "# end\n");
    } else if (n == 6u && memcmp(cmd, "#stats", 6) == 0) {
        tinyecg_app_stats(app);
    } else if (n == 5u && memcmp(cmd, "#info", 5) == 0) {
        info_line(app);
    } else {
        bad_input(app, &app->count.unknown_commands, "unknown-command");
    }
}

static void parse_line(tinyecg_app_t *app, char *s)
{
    size_t i = 0;
    while (is_sep(s[i])) {
        i++;
    }
    if (s[i] == '#') {
        command(app, s + i);
        return;
    }
    while (s[i] != '\0') {
        int neg = 0, digits = 0, bad = 0;
        int32_t v = 0;
        if (is_sep(s[i])) {
            i++;
            continue;
        }
        if (s[i] == '-' || s[i] == '+') {
            neg = s[i] == '-';
            i++;
        }
        while (s[i] != '\0' && !is_sep(s[i])) {
            char ch = s[i++];
            if (ch < '0' || ch > '9') {
                bad = 1;
            } else if (digits < 9) { /* 9 digits cannot overflow int32 */
                v = v * 10 + (int32_t)(ch - '0');
                digits++;
            } else {
                digits++;
            }
        }
        if (bad || digits == 0) {
            bad_input(app, &app->count.garbage, "garbage");
        } else if (digits > 9) {
            tinyecg_app_sample(app, neg ? INT32_MIN : INT32_MAX); /* out of range: held */
        } else {
            tinyecg_app_sample(app, neg ? -v : v);
        }
    }
}

void tinyecg_app_feed(tinyecg_app_t *app, const char *data, size_t len)
{
    size_t k;
    for (k = 0; k < len; k++) {
        char ch = data[k];
        int ends_line = ch == '\n' || ch == '\r';
        if (ch == '\n' && app->after_cr) { /* the second byte of "\r\n": already ended */
            app->after_cr = 0;
            continue;
        }
        app->after_cr = ch == '\r';
        if (ends_line) {
            if (app->line_overlong) {
                bad_input(app, &app->count.overlong, "overlong");
            } else {
                app->line[app->line_len] = '\0';
                parse_line(app, app->line);
            }
            app->line_len = 0;
            app->line_overlong = 0;
        } else if (ch == '\0') {
            /* a NUL byte cannot be part of a valid line: make the token invalid */
            if (app->line_len + 1u < TINYECG_LINE_MAX) {
                app->line[app->line_len++] = '?';
            } else {
                app->line_overlong = 1;
            }
        } else if (app->line_len + 1u < TINYECG_LINE_MAX) {
            app->line[app->line_len++] = ch;
        } else {
            app->line_overlong = 1;
        }
    }
}
