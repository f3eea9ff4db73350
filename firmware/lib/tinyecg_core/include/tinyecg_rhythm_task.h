/*
 * tinyecg_rhythm_task.h - the shockable-rhythm (VF/VT) task of the core, beside the beat path.
 *
 * Every sample the core takes (lead-off included) goes, as x = sample - baseline clamped to
 * int16, into the front end of firmware/lib/tinyecg_rhythm (decimating FIR, DC blocker,
 * 8-s ring). Once a second after its 10-s warm-up the front end says a decision is due: the
 * ring becomes the model's int8 window, the rhythm classifier scores it, and one line is
 * printed (protocol also in tinyecg_app.h and docs/detector.md):
 *
 *   # rhythm <shockable|non-shockable|unreadable> <end> <score_q>
 *       end      index of the sample whose push completed the decision (the beat lines'
 *                counter: samples since start or #reset); the window is the 8 s before it
 *       score_q  the model's int8 shockable output; 0 when unreadable (the model is not run)
 *   # alarm shockable <end>   after TINYECG_ALARM_CONSECUTIVE shockable decisions in a row
 *   # alarm cleared <end>     at the first later decision that is not shockable
 *
 * shockable = the model's arg-max (first maximum) is the shockable output AND the front end's
 * amplitude gate allows it (tinyecg.stages.rhythm_evaluate.RhythmModel.decisions).
 * unreadable = a sample of the window's 8 s (2,880 input samples ending at <end>) was railed
 * (lead-off), or the classifier failed. A gap is never inside a window: the front end starts
 * over (silently, no line until its warm-up has passed) on #reset, when a lead-off ends and
 * at "# input resumed". An unreadable decision breaks a shockable run (conservative), exactly
 * as tinyecg.aed_metrics.alarm_active counts it on the decision sequence. A restart of the
 * front end starts a new run but leaves an alarm standing until a decision clears it (an
 * alarm is not withdrawn for lack of evidence); #reset forgets it without a line.
 *
 * The Python reference of these lines is tinyecg/device/rhythm_lines.py (tests compare them
 * byte for byte). State: one tinyecg_rhythm_task_t the caller owns (2,412 bytes on a 32-bit
 * core: the front end's 1,648 and the 720-byte model input), handed to the core through its
 * configuration; without it the core is beat-only. C99, no heap, no floating point.
 */
#ifndef TINYECG_RHYTHM_TASK_H
#define TINYECG_RHYTHM_TASK_H

#include <stdint.h>

#include "tinyecg_rhythm_frontend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_RHYTHM_CLASSES 2     /* the model's outputs: non-shockable, shockable */
#define TINYECG_ALARM_CONSECUTIVE 3u /* spec.ALARM_CONSECUTIVE: shockable decisions in a row */
/* input samples a decision's window covers: 720 stream samples x 4 (8 s at 360 Hz) */
#define TINYECG_RHYTHM_SPAN (TINYECG_RHYTHM_WINDOW * TINYECG_RHYTHM_DECIMATION)

/* What a rhythm classifier looks like to the core (the C backend's generated
 * tinyecg_rhythm_model_invoke() or a TFLM interpreter behind it):
 *   classify(ctx, window_q, scores_q): window_q TINYECG_RHYTHM_WINDOW (720) int8 values,
 *   the front end's output (scale 1/16 of the window's std, zero point 0); scores_q
 *   TINYECG_RHYTHM_CLASSES int8 outputs; returns 0, or non-zero on failure. */
typedef struct {
    int (*classify)(void *ctx, const int8_t *window_q, int8_t *scores_q);
    void *ctx;              /* passed back to classify() */
    int shockable_output;   /* index of the shockable score (the export's metadata: 1) */
    const char *name;       /* shown in the start-up line: "cbackend", "tflm" */
    const char *sha256;     /* the model's hash (64 hex digits; the line shows 16), or NULL */
} tinyecg_rhythm_classifier_t;

typedef struct {
    uint32_t decisions, shockable, unreadable, alarms, errors;
} tinyecg_rhythm_counters_t;

/* Text output as the core does it: NUL-terminated pieces, '\n' ends a line (NULL: none). */
typedef void (*tinyecg_rhythm_write_fn)(void *ctx, const char *text);

typedef struct tinyecg_rhythm_task tinyecg_rhythm_task_t;

/* What the core calls, through the task (tinyecg_rhythm_task_setup sets it): a beat-only image
 * never calls setup, so the linker keeps none of this file's code (about 1.5 KB with the
 * front end) in it. */
typedef struct {
    /* forget everything (start, #reset): front end, run, alarm, counters */
    void (*clear)(tinyecg_rhythm_task_t *task);
    /* the input is not contiguous with what came before (lead-off over, input resumed): the
     * front end warms up again and the shockable run starts over; an alarm stands */
    void (*restart)(tinyecg_rhythm_task_t *task);
    /* one sample as the core took it (ADC counts), whether it was railed, and its index */
    void (*push)(tinyecg_rhythm_task_t *task, int32_t sample, int railed, uint32_t index,
                 tinyecg_rhythm_write_fn write, void *write_ctx);
    /* the info line's " rhythm=<name> rhythm_sha256=<16 hex>" */
    void (*info)(const tinyecg_rhythm_task_t *task, tinyecg_rhythm_write_fn write, void *ctx);
    /* the stats line's " rhythm_decisions=.. rhythm_shockable=.. rhythm_unreadable=..
     * rhythm_errors=.. alarms=.." */
    void (*stats)(const tinyecg_rhythm_task_t *task, tinyecg_rhythm_write_fn write, void *ctx);
} tinyecg_rhythm_ops_t;

struct tinyecg_rhythm_task {
    const tinyecg_rhythm_ops_t *ops; /* NULL until set up */
    const tinyecg_rhythm_classifier_t *classifier;
    int32_t baseline;          /* ADC counts at 0 mV (the beat path's calibration) */
    uint16_t gain_adu_per_mv;  /* ADC counts per mV, rounded (MIT-BIH: 200) */
    tinyecg_rhythm_frontend_t fe;
    int8_t window_q[TINYECG_RHYTHM_WINDOW]; /* the model input, rebuilt at each decision */
    int8_t scores_q[TINYECG_RHYTHM_CLASSES];
    uint8_t run;               /* shockable decisions in a row, saturating */
    uint8_t alarm;             /* "# alarm shockable" printed and not cleared since */
    uint32_t since_railed;     /* input samples since the last railed one, saturating */
    tinyecg_rhythm_counters_t count;
};

/* Fill the task's configuration; the core starts it (tinyecg_app_init) and owns it after.
 * Returns 0, or -1 if it cannot work (no classify(), shockable output not 0 or 1, gain 0;
 * the task is then not set up and the core refuses it). */
int tinyecg_rhythm_task_setup(tinyecg_rhythm_task_t *task,
                              const tinyecg_rhythm_classifier_t *classifier, int32_t baseline,
                              uint16_t gain_adu_per_mv);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_RHYTHM_TASK_H */
