/*
 * tinyecg_rhythm_frontend.h - the integer front end of the shockable-rhythm task.
 *
 * One 360 Hz sample in (ADC counts minus baseline); every 4th sample a 90 Hz stream sample
 * out (decimating FIR, then DC blocker) into an 8-s ring; once a second, after a 2-s
 * warm-up and a full ring, a decision is due: the ring becomes the model's int8 input
 * (scale 1/16 of the window's std, zero point 0) and the amplitude gate says whether a
 * shockable decision is allowed. Bit-exact with tinyecg/dsp/rhythm_frontend.py
 * (tests/test_rhythm_frontend_c.py). Every constant below mirrors tinyecg/spec.py; the
 * test checks each one against it.
 *
 * RAM: sizeof(tinyecg_rhythm_frontend_t) = 1,648 bytes on a 32-bit target (192 FIR history,
 * 1,440 ring, counters); the int8 window (720 bytes) is the caller's (the model's input).
 */
#ifndef TINYECG_RHYTHM_FRONTEND_H
#define TINYECG_RHYTHM_FRONTEND_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_RHYTHM_DECIMATION 4u /* spec.RHYTHM_DECIMATION: 360 -> 90 Hz */
#define TINYECG_RHYTHM_FS 90u        /* spec.RHYTHM_FS: stream samples per second */
#define TINYECG_RHYTHM_WINDOW_S 8u   /* spec.RHYTHM_WINDOW_S: seconds per decision window */
#define TINYECG_RHYTHM_WINDOW 720u   /* spec.RHYTHM_WINDOW = 8 s x 90 Hz */
#define TINYECG_RHYTHM_WARMUP_S 2u   /* spec.RHYTHM_WARMUP_S: filters settle first */
#define TINYECG_RHYTHM_FIR_TAPS 48u  /* len(rhythm_frontend.FIR_Q15) */

/* push() results */
#define TINYECG_RHYTHM_NOTHING 0  /* no stream sample this time (3 of 4 input samples) */
#define TINYECG_RHYTHM_SAMPLE 1   /* a 90 Hz stream sample went into the ring */
#define TINYECG_RHYTHM_DECISION 2 /* ... and a decision is due: call tinyecg_rhythm_window */

typedef struct {
    /* the last 48 inputs, circular, each stored twice (at i and i + 48): the FIR then reads
     * them as one contiguous run, with no wrap test per tap (96 bytes for about a third of
     * the front end's instructions) */
    int16_t fir_history[2 * TINYECG_RHYTHM_FIR_TAPS];
    uint8_t fir_newest;                           /* index (< 48) of the newest input */
    uint8_t phase;                                /* inputs since the last stream sample */
    int32_t dc_state;  /* DC blocker state, 8 fractional bits */
    int16_t dc_previous; /* the previous FIR output */
    int16_t ring[TINYECG_RHYTHM_WINDOW]; /* the last 8 s of the stream, circular */
    uint16_t ring_next;  /* where the next stream sample goes (= the oldest one) */
    uint32_t n_stream;   /* stream samples so far (saturates at UINT32_MAX) */
} tinyecg_rhythm_frontend_t;

/* Zero state: as the Python reference, which starts from zeros before the first sample. */
void tinyecg_rhythm_frontend_init(tinyecg_rhythm_frontend_t *fe);

/* One 360 Hz sample x (ADC counts - baseline; clamped to int16). Returns one of the
 * results above; when a stream sample is produced and `stream_sample` is not NULL, it is
 * stored there. */
int tinyecg_rhythm_frontend_push(tinyecg_rhythm_frontend_t *fe, int32_t x,
                                 int16_t *stream_sample);

/* The ring, oldest first, as the model's int8 input q[TINYECG_RHYTHM_WINDOW]:
 * q = clamp8(div_round(16 (y - mean), max(std, 50 uV, 1))). gain_adu_per_mv is the ADC's
 * gain rounded to an integer. Returns 1 when the amplitude gate allows a shockable
 * decision (median 1-s peak to peak >= 200 uV), else 0. */
int tinyecg_rhythm_window(const tinyecg_rhythm_frontend_t *fe, uint16_t gain_adu_per_mv,
                          int8_t q[TINYECG_RHYTHM_WINDOW]);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_RHYTHM_FRONTEND_H */
