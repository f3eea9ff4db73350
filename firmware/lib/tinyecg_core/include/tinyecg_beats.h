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

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_BEATS_H */
