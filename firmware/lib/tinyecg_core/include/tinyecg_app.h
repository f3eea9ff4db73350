/*
 * tinyecg_app.h - glue from ADC samples (or protocol text) to one output line per beat.
 *
 * Serial protocol (also in docs/detector.md):
 *   Input, one line at a time (at most TINYECG_LINE_MAX-1 characters; "\n", "\r\n" or a
 *   bare "\r", as many serial terminals send, ends a line):
 *     123                 one ADC sample (decimal integer)
 *     123,125 130 -4      several samples separated by commas, spaces, tabs or ';'
 *     #reset              forget everything; the next sample has index 0
 *     #end                end of a recording: report the beats still waiting for a next beat
 *     #stats              print a "# stats ..." line with the counters
 *     #info               print the "# tinyecg ..." start-up line again (with the rhythm
 *                         task: "... rhythm=<classifier> rhythm_sha256=<16 hex digits>")
 *   Invalid tokens, over-long lines and unknown commands are counted and skipped; a
 *   sample outside [adc_min, adc_max] is counted and replaced by the last good sample, so
 *   it keeps its time slot. Nothing in the input can crash the parser. The first bad
 *   input of an episode prints "# bad-input <kind>" (kind: garbage, overlong,
 *   out-of-range, unknown-command); the episode ends after a whole second of samples
 *   without bad input. The counts are in "# stats".
 *   When the platform sees no input for a while it calls tinyecg_app_input_stalled():
 *   "# input stopped" once, the beats still waiting are reported, and the next sample
 *   starts a new RR sequence with the detector learning again ("# input resumed").
 *   Output, one line each:
 *     B <r> <label> <score_q> <inference_us>   a classified beat (TINYECG_OUT_BEATS)
 *     U <r> <label> <score_q> <inference_us>   the same for a beat in a segment the quality
 *                                              index finds unreadable: classified, but its
 *                                              label is not to be trusted
 *     <r>                                      a detected R-peak (TINYECG_OUT_PEAKS)
 *     R <r> <pre_rr> <post_rr> <local_sum> <local_count>   RR context (TINYECG_OUT_RR)
 *     W <r> <360 raw samples>                  beat window (TINYECG_OUT_WINDOWS)
 *     Q <r> <score> <0|1>                      the beat's quality score (Q8, 256 = the
 *                                              threshold) and 1 when it is reported as a U
 *                                              line (TINYECG_OUT_QUALITY; tinyecg_quality.h)
 *     S <k> <h> <b> <a> <aref> <rail> <score> <state>   every scored segment (0.2 s):
 *                                              the index's features, ending with sub-block k
 *                                              (TINYECG_OUT_SEGMENTS, tests and tuning)
 *     # ...                                    status: "# lead-off", "# flat",
 *                                              "# signal ok", "# reset", "# stats ...",
 *                                              "# classify-error <r>", "# tinyecg ...",
 *                                              "# bad-input <kind>", "# input stopped",
 *                                              "# input resumed", "# quality poor",
 *                                              "# quality ok"
 *     # rhythm <decision> <end> <score_q>      with the rhythm task (cfg.rhythm), once a
 *     # alarm shockable <end>                  second: see tinyecg_rhythm_task.h; "# stats"
 *     # alarm cleared <end>                    then adds rhythm_decisions, rhythm_shockable,
 *                                              rhythm_unreadable, rhythm_errors, alarms
 *   r is the R-peak sample index counted from the first sample after start or #reset.
 *   label and score_q are the arg-max class of the classifier's int8 scores and its score.
 *   inference_us is the classify() time from the configured clock (0 without one).
 *
 * Signal quality: TINYECG_RAIL_RUN consecutive samples at adc_min or adc_max report
 * "# lead-off" once; a whole second with max - min <= flat_tolerance reports "# flat"
 * once. After TINYECG_RECOVER good samples (lead-off) or one varying second (flat),
 * "# signal ok" is printed, the detector learns again and a new RR sequence starts.
 *
 * Readability (tinyecg_quality.h): every 0.1 s the last second is scored for noise
 * against the QRS amplitude learnt on good signal. "# quality poor" is printed when a
 * second becomes unreadable and "# quality ok" after a whole second that is not; beats
 * whose own second (their classifier window) is unreadable are reported as U lines. While
 * the quality is poor the detector is stricter (tinyecg_detector_set_noisy). Lead-off and
 * a flat signal are the more specific statuses and take precedence: while a run of railed
 * samples could still become a lead-off (shorter than TINYECG_RAIL_RUN) the quality status
 * waits, so a lead-off prints "# lead-off" alone, and a short clip prints "# quality poor"
 * once it has ended. Lead-off, a flat signal and a gap in the input restart the index
 * silently: the quality is ok after "# signal ok" or "# input resumed" (no "# quality ok"
 * is printed for it), and it is not scored while lead-off or flat lasts.
 */
#ifndef TINYECG_APP_H
#define TINYECG_APP_H

#include <stddef.h>
#include <stdint.h>

#include "tinyecg_beats.h"
#include "tinyecg_classifier.h"
#include "tinyecg_detector.h"
#include "tinyecg_quality.h"
#include "tinyecg_rhythm_task.h"
#include "tinyecg_rr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_CORE_VERSION "0.1"
#define TINYECG_LINE_MAX 256   /* input line buffer, including the terminating NUL */
#define TINYECG_RAIL_RUN 90    /* 0.25 s of railed samples = lead-off */
#define TINYECG_RECOVER 360    /* 1 s of unrailed samples ends a lead-off */
#define TINYECG_FLAT_BLOCK 360 /* flatness is judged on 1 s blocks */

/* output selection (bit flags) */
#define TINYECG_OUT_BEATS 1u
#define TINYECG_OUT_PEAKS 2u
#define TINYECG_OUT_RR 4u
#define TINYECG_OUT_WINDOWS 8u
#define TINYECG_OUT_QUALITY 16u
#define TINYECG_OUT_SEGMENTS 32u

typedef struct {
    /* preprocessing (generated code): raw window -> model input, RR -> rhythm input */
    void (*preprocess_window)(const int16_t *raw, int8_t *out);
    void (*rhythm_features)(const tinyecg_rr_t *rr, int8_t *out);
    const tinyecg_classifier_t *classifier; /* needed for TINYECG_OUT_BEATS */
    /* text output: called with NUL-terminated pieces; a line ends with '\n' */
    void (*write)(void *ctx, const char *text);
    void *write_ctx;
    /* optional microsecond clock for inference_us (NULL: report 0) */
    uint32_t (*clock_us)(void *ctx);
    void *clock_ctx;
    int32_t adc_min, adc_max; /* valid ADC range; the two ends count as railed */
    int32_t flat_tolerance;   /* a second with max - min <= this is flat (ADC counts) */
    unsigned outputs;         /* TINYECG_OUT_* flags */
    int external_peaks;       /* R-peaks come from tinyecg_app_peak(), not the detector */
    /* the shockable-rhythm task (tinyecg_rhythm_task_setup), or NULL: beat path only. Its
     * state is the caller's, so a beat-only build spends no RAM on it. */
    tinyecg_rhythm_task_t *rhythm;
} tinyecg_app_config_t;

typedef struct {
    uint32_t samples, beats, peaks;
    uint32_t garbage, overlong, out_of_range, unknown_commands;
    uint32_t classify_errors, lead_off_events, flat_events;
    uint32_t unreadable, quality_poor_events;
} tinyecg_app_counters_t;

typedef struct {
    tinyecg_app_config_t cfg;
    tinyecg_detector_t det;
    tinyecg_quality_t quality;
    tinyecg_beats_t beats;
    tinyecg_beat_t beat;
#if TINYECG_PATIENT_CONTEXT
    int8_t window_q[2 * TINYECG_WINDOW]; /* [window, template] interleaved (tinyecg_beats.h) */
#else
    int8_t window_q[TINYECG_WINDOW];
#endif
    int8_t rhythm_q[TINYECG_MAX_RHYTHM];
    int8_t scores_q[TINYECG_MAX_CLASSES];
    char line[TINYECG_LINE_MAX];
    size_t line_len;
    uint8_t line_overlong;
    uint8_t after_cr;      /* the last byte was '\r': a '\n' now completes "\r\n" */
    /* signal quality */
    uint8_t lead_off, flat;
    uint8_t quality_said;  /* the readability last printed: 1 after "# quality poor" */
    uint32_t rail_run, good_run;
    int16_t held;          /* last unrailed sample, fed to the detector during lead-off */
    int32_t blk_min, blk_max;
    uint32_t blk_len;
    uint8_t blk_railed;
    uint8_t bad_input;     /* a bad-input episode was reported and has not ended */
    uint8_t bad_in_block;  /* bad input seen in the current 1 s block */
    uint8_t stalled;       /* "# input stopped" printed, no sample since */
    tinyecg_app_counters_t count;
} tinyecg_app_t;

/* Check the configuration, reset all state and print the start-up status line.
 * Returns 0, or -1 if the configuration cannot work (nothing is printed then). */
int tinyecg_app_init(tinyecg_app_t *app, const tinyecg_app_config_t *cfg);

/* Protocol input: any number of bytes, lines may be split across calls. */
void tinyecg_app_feed(tinyecg_app_t *app, const char *data, size_t len);

/* One ADC sample straight from a board's ADC (no text parsing). */
void tinyecg_app_sample(tinyecg_app_t *app, int32_t sample);

/* An R-peak found elsewhere (with external_peaks set): sample index, increasing, already
 * pushed. Returns 0, or -1 if rejected (out of order, in the future, or queue full). */
int tinyecg_app_peak(tinyecg_app_t *app, uint32_t r);

/* End of a recording (same as the #end command). */
void tinyecg_app_finish(tinyecg_app_t *app);

/* The platform saw no input for a while (replay mode; e.g. 1 s without a byte): report
 * "# input stopped" once and the beats still waiting; the next sample starts a new RR
 * sequence. Calling it again before a new sample does nothing. */
void tinyecg_app_input_stalled(tinyecg_app_t *app);

/* Start over: sample index 0, detector learning, counters cleared (as #reset). */
void tinyecg_app_reset(tinyecg_app_t *app);

/* Print the "# stats ..." line. */
void tinyecg_app_stats(tinyecg_app_t *app);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_APP_H */
