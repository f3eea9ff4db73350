/*
 * tinyecg_quality.h - signal-quality index: can the ECG be read right now?
 *
 * Fed every sample the detector sees, it scores each one-second segment (updated every
 * 0.1 s) against the QRS amplitude it learnt on good signal:
 *   H  high-frequency floor: the 4th smallest, of the segment's ten 0.1 s sub-blocks, of the
 *      sum of |second difference| (muscle noise, electrode crackle);
 *   B  baseline range: the range over the segment of a 0.7 s running median of sub-block
 *      sums (baseline wander, electrode motion);
 *   A  QRS amplitude: the largest peak-to-peak of two adjacent sub-blocks (learns A_ref, and
 *      a gross artefact far above it counts as noise);
 *   R  railed samples (saturation).
 * score = max(H / (TH_H A_ref), B / (TH_B A_ref), A / (TH_A A_ref), R / RAIL_MIN) in Q8:
 * 256 is the threshold, a segment scoring >= 256 is poor. A_ref is the median of the last 8
 * two-second maxima of A on segments that were not poor. A beat at R-peak r is unreadable
 * when the segment centred on it (ending with sub-block r/36 + 4) is poor.
 *
 * The definition, its literature and its measured costs and limits: docs/quality.md; the
 * Python integer reference, bit for bit: tinyecg/dsp/quality.py. C99, integers only, no
 * heap, state sizeof(tinyecg_quality_t) bytes (about 0.4 KB).
 */
#ifndef TINYECG_QUALITY_H
#define TINYECG_QUALITY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TINYECG_Q_SUB 36u        /* samples per sub-block: 0.1 s at 360 Hz */
#define TINYECG_Q_SEG 10u        /* sub-blocks per scored segment: 1 s */
#define TINYECG_Q_BASE 7u        /* sub-block sums in the baseline median: 0.7 s */
#define TINYECG_Q_HF_RANK 3u     /* H = the (HF_RANK+1)-th smallest hf of the segment */
#define TINYECG_Q_REF 8u         /* A values in the A_ref median */
#define TINYECG_Q_RING 64u       /* segment scores kept: 6.4 s > a beat's longest wait */
#define TINYECG_Q_ONE 256u       /* score of a segment exactly at a threshold (Q8) */

/* Thresholds, in Q8 of A_ref (256 = 1.0); chosen on development records (docs/quality.md). */
#ifndef TINYECG_Q_TH_H
#define TINYECG_Q_TH_H 230 /* H > 0.90 A_ref (H is a sum over 36 samples) */
#endif
#ifndef TINYECG_Q_TH_B
#define TINYECG_Q_TH_B 120 /* B > 0.47 A_ref */
#endif
#ifndef TINYECG_Q_TH_A
#define TINYECG_Q_TH_A 1024 /* A > 4 A_ref: an artefact far above any QRS seen */
#endif
#ifndef TINYECG_Q_RAIL_MIN
#define TINYECG_Q_RAIL_MIN 4 /* railed samples in a second that make it poor */
#endif
#ifndef TINYECG_Q_POOR_RELEARN
#define TINYECG_Q_POOR_RELEARN 100 /* sub-blocks (10 s) of poor signal: learn A_ref anyway */
#endif
#ifndef TINYECG_Q_OK_RUN
#define TINYECG_Q_OK_RUN 10 /* sub-blocks (1 s) not poor before the state is ok again */
#endif

typedef struct {
    /* the sub-block being accumulated */
    int32_t x1, x2;       /* the two previous samples (second difference) */
    int32_t acc_hf;       /* sum |x - 2 x1 + x2| */
    int32_t acc_sum;      /* sum x */
    int32_t acc_lo, acc_hi;
    uint32_t acc_rail;
    uint32_t pos;         /* samples in it so far */
    uint32_t k;           /* sub-blocks completed since init */
    /* the last sub-blocks (ring index = k % size) */
    int32_t hf[TINYECG_Q_SEG];
    int32_t lo[TINYECG_Q_SEG], hi[TINYECG_Q_SEG];
    uint32_t rail[TINYECG_Q_SEG];
    int32_t base[TINYECG_Q_SEG];  /* baseline (median of 7 sums) of each */
    int32_t sums[TINYECG_Q_BASE];
    /* reference amplitude */
    int32_t hist[TINYECG_Q_REF];
    uint32_t hist_i;
    int32_t a_prev;       /* A of the previous one-second step */
    uint32_t fill;        /* sub-blocks since init or relearn */
    uint32_t poor_run, good_run;
    uint8_t state;        /* 1: poor (what "# quality poor/ok" reports) */
    uint8_t changed;      /* state changed with the last sub-block */
    /* the last segment, for the host's quality lines */
    int32_t h, b, a, aref;
    uint32_t r;
    uint16_t score;
    uint16_t scores[TINYECG_Q_RING];
} tinyecg_quality_t;

/* Clear everything; the next sample is sample 0. */
void tinyecg_quality_init(tinyecg_quality_t *q);

/* Learn A_ref again from the next second (after lead-off, flat signal, a gap); the
 * sub-block phase and the sample history continue. The state becomes ok (not reported). */
void tinyecg_quality_relearn(tinyecg_quality_t *q);

/* One sample (what the detector sees) and whether the ADC was railed. Returns 1 when it
 * completed a sub-block (a new score), else 0. */
int tinyecg_quality_push(tinyecg_quality_t *q, int16_t x, int railed);

/* Score of the segment centred on the beat at R-peak r (0 when it is not, or no longer,
 * known). r counts samples from init like the detector's indices. */
uint16_t tinyecg_quality_beat_score(const tinyecg_quality_t *q, uint32_t r);

/* A beat is unreadable when its score reaches the threshold. */
#define TINYECG_Q_POOR(score) ((score) >= TINYECG_Q_ONE)

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_QUALITY_H */
