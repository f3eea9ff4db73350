/*
 * tinyecg_beats.h - beat assembly: raw-sample ring, 360-sample windows around R-peaks and
 * their RR context (tinyecg_rr.h). No heap; all storage is inside tinyecg_beats_t.
 *
 *   tinyecg_beats_push_sample(b, x)   every raw sample, in order (index = count so far)
 *   tinyecg_beats_add_peak(b, r)      every R-peak reported by the detector (increasing)
 *   while (tinyecg_beats_next(b, &beat)) { ... }   completed beats, oldest first
 *
 * A beat r is complete when samples up to r+179 have arrived and either the next R-peak is
 * known (post_rr) or TINYECG_BEAT_TIMEOUT samples (4.1 s) have passed since r without one
 * (then post_rr = pre_rr). Its window is raw[r-180 .. r+179], the same alignment as
 * training. Beats whose window starts before the first sample, or whose oldest samples
 * already left the ring, keep their place in the RR sequence but are not returned; they
 * are counted in `skipped`.
 *
 * Patient context (TINYECG_PATIENT_CONTEXT, tinyecg/dsp/patient.py; docs/generalisation.md):
 * the state of the patient over minutes, which a lead-off break keeps and only init (the
 * core's #reset) clears.
 *   - A, D: the long-term RR state. Every peak of the RR sequence, in order, updates it when
 *     it leaves the queue (also the peaks whose beat is skipped), after its beat took A and D
 *     as they were before (out->rr.mean_rr16, irregularity16).
 *   - T: the template beat, int16 Q8 of the model's int8 beat input. The core gives beat i the
 *     channel tinyecg_template_channel() of T before beat i, classifies it, then
 *     tinyecg_template_update() with beat i's int8 window.
 */
#ifndef TINYECG_BEATS_H
#define TINYECG_BEATS_H

#include <stdint.h>

#include "tinyecg_rr.h"
#include "tinyecg_spec.h" /* TINYECG_WINDOW, TINYECG_PRE_R (tinyecg/spec.py) */

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_BEAT_TIMEOUT 1480 /* 2 s + the detector's worst report delay after its
                                    learning phase (752 samples on MIT-BIH, a search-back in
                                    record 108), rounded up: a beat whose next beat is not
                                    reported by then completes anyway (post_rr = pre_rr);
                                    RR up to 2 s stays exact */

#ifndef TINYECG_BEATS_RING
#define TINYECG_BEATS_RING 2048u /* raw samples kept (power of two): 5.7 s, 4 KB */
#endif
#define TINYECG_BEATS_PENDING 16u /* R-peaks waiting for completion (>= 2 s of beats) */

typedef struct {
    uint32_t r;
    tinyecg_rr_t rr;
    int16_t window[TINYECG_WINDOW];
} tinyecg_beat_t;

typedef struct {
    uint32_t r;
    int32_t pre;       /* r - previous r, or -1 for the first beat of a sequence */
    int32_t local_sum; /* sum of the up to 8 intervals ending here */
    int32_t local_count;
} tinyecg_pending_t;

#if TINYECG_PATIENT_CONTEXT
/* tinyecg.spec: A and D are Q4 samples (PATIENT_Q); A averages over up to 2^8 intervals
 * (LONGTERM_RR_SHIFT), D over 2^5 (RR_IRREGULARITY_SHIFT); T is Q8 (TEMPLATE_Q) over 2^5
 * beats (TEMPLATE_SHIFT); a beat updates T unless pre < 85 % of A
 * (TEMPLATE_MIN_PRE_PERCENT). tests/test_patient_c.py checks them against spec.py. */
#define TINYECG_PATIENT_Q 4
#define TINYECG_LONGTERM_RR_COUNT 256u
#define TINYECG_RR_IRREGULARITY_COUNT 32u
#define TINYECG_TEMPLATE_Q 8
#define TINYECG_TEMPLATE_COUNT 32u
#define TINYECG_TEMPLATE_MIN_PRE_PERCENT 85

typedef struct {
    int32_t mean16;        /* A, Q4 samples; valid once mean_count > 0 */
    int32_t irregularity16; /* D, Q4 samples; 0 until irregularity_count > 0 */
    int32_t prev_pre;      /* the last peak's real pre (when prev_real) */
    uint16_t mean_count;   /* intervals averaged into A, at most 256 */
    uint8_t irregularity_count; /* pairs averaged into D, at most 32 */
    uint8_t prev_real;     /* the last peak of the sequence had a real pre */
} tinyecg_longterm_t;

typedef struct {
    int16_t t[TINYECG_WINDOW]; /* T, Q8 of the int8 beat input: 720 bytes */
    uint8_t count;             /* beats averaged into T, at most 32 */
    uint8_t have;              /* T holds a window (set by the first beat) */
} tinyecg_template_t;
#endif

typedef struct {
    int16_t ring[TINYECG_BEATS_RING];
    uint32_t n; /* samples pushed */
    tinyecg_pending_t pend[TINYECG_BEATS_PENDING];
    uint8_t pend_head, pend_len;
    int32_t diffs[TINYECG_LOCAL_BEATS]; /* most recent RR intervals */
    uint8_t diff_i, n_diffs;
    uint32_t last_r;
    uint8_t have_last;
    uint32_t skipped;  /* beats not returned: window outside the stream or ring */
    uint32_t overflow; /* R-peaks dropped because the pending queue was full */
#if TINYECG_PATIENT_CONTEXT
    tinyecg_longterm_t longterm; /* kept across breaks */
    tinyecg_template_t tmpl;     /* kept across breaks */
#endif
} tinyecg_beats_t;

void tinyecg_beats_init(tinyecg_beats_t *b);

/* Start a new RR sequence (after lead-off): pending beats complete as last beats. */
void tinyecg_beats_break(tinyecg_beats_t *b);

void tinyecg_beats_push_sample(tinyecg_beats_t *b, int16_t x);

/* Register an R-peak; r must be below the sample count and above the previous peak.
 * Returns 0 on success, -1 if rejected (out of order, in the future, or queue full). */
int tinyecg_beats_add_peak(tinyecg_beats_t *b, uint32_t r);

/* Copy the oldest complete beat into *out and return 1, or return 0. With `final` set
 * (end of stream), beats waiting for a next beat complete now as last beats; beats whose
 * window is not yet full are dropped (counted in `skipped`) and 0 is returned. */
int tinyecg_beats_next(tinyecg_beats_t *b, tinyecg_beat_t *out, int final);

#if TINYECG_PATIENT_CONTEXT
/* The template channel of the beat about to be classified, interleaved in place: beat_q holds
 * the int8 window in its first TINYECG_WINDOW bytes and becomes [q0, t0, q1, t1, ...] with
 * t = clamp((T + 128) >> 8) (the window itself when no template exists yet). */
void tinyecg_template_interleave(tinyecg_beats_t *b, int8_t beat_q[2 * TINYECG_WINDOW]);

/* After beat `beat` was classified with the interleaved input beat_q: update T unless the
 * beat is premature (100 * 16 * pre < 85 * A). */
void tinyecg_template_update(tinyecg_beats_t *b, const tinyecg_beat_t *beat,
                             const int8_t beat_q[2 * TINYECG_WINDOW]);
#endif

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_BEATS_H */
