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
 *   R  sub-blocks that reached the ADC's ends (saturation).
 * score = max(H / (TH_H A_ref), B / (TH_B A_ref), A / (TH_A A_ref), R / RAIL_MIN) in Q8:
 * 256 is the threshold, a segment scoring >= 256 is poor. A_ref is the median of the last 8
 * two-second maxima of A on segments that were not poor (of those learnt so far in the first
 * 8 seconds after init or relearn, which learn from every second). The state is poor from the first
 * poor segment until TINYECG_Q_OK_RUN segments in a row are not; a beat at R-peak r is
 * unreadable when the state was poor at the segment centred on it (ending with sub-block
 * r/36 + 4), i.e. its own second or one of the second before it was poor.
 *
 * The definition, its literature and its measured costs and limits: docs/quality.md; the
 * Python integer reference, bit for bit: tinyecg/dsp/quality.py. C99, integers only, no
 * heap, state sizeof(tinyecg_quality_t) bytes (about 0.3 KB).
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
#define TINYECG_Q_RING 50u       /* sub-block scores kept (5 s): a beat is looked up at the latest
                                    1868 samples after its R-peak (its window must still be in
                                    the 2048-sample beat ring), 48 sub-blocks after its own */
#define TINYECG_Q_ONE 256u       /* score of a segment exactly at a threshold (Q8) */
#define TINYECG_Q_STRIDE 2u      /* a segment is scored every 2 sub-blocks (0.2 s) */

/* Thresholds, in Q8 of A_ref (256 = 1.0); chosen on development records (docs/quality.md). */
#ifndef TINYECG_Q_TH_H
#define TINYECG_Q_TH_H 260 /* H > 1.02 A_ref (H is a sum over 36 samples) */
#endif
#ifndef TINYECG_Q_TH_B
#define TINYECG_Q_TH_B 140 /* B > 0.55 A_ref */
#endif
#ifndef TINYECG_Q_TH_A
#define TINYECG_Q_TH_A 1024 /* A > 4 A_ref: an artefact far above any QRS seen */
#endif
#ifndef TINYECG_Q_RAIL_MIN
#define TINYECG_Q_RAIL_MIN 2 /* sub-blocks of a second at the ADC's ends that make it poor */
#endif
#ifndef TINYECG_Q_GREY
#define TINYECG_Q_GREY 160 /* a doubtful segment (score >= 160, 62 % of the threshold) ... */
#endif
#ifndef TINYECG_Q_EARLY
#define TINYECG_Q_EARLY 8 /* ... makes a beat unreadable when its RR before or after is under
                             8/10 of the local mean RR: in doubtful signal an early beat is most
                             often an artefact that splits an RR interval */
#endif
#ifndef TINYECG_Q_DET_SCORE
#define TINYECG_Q_DET_SCORE 256 /* the detector is strict from this score of the last segment
                                   (or while the state is poor) */
#endif
#ifndef TINYECG_Q_POOR_RELEARN
#define TINYECG_Q_POOR_RELEARN 50 /* scored segments (10 s) of poor signal: learn A_ref anyway */
#endif
#ifndef TINYECG_Q_OK_RUN
#define TINYECG_Q_OK_RUN 5 /* scored segments (1 s) not poor before the state is ok again */
#endif

/* The features of one scored segment, for the host's S lines (tests, tuning). */
typedef struct {
    int32_t h, b, a, aref;
    uint32_t r;
} tinyecg_quality_segment_t;

/* Sized for a 16 KB RAM budget (docs/quality.md): samples are int16, so minima, maxima and
 * peak-to-peak amplitudes (<= 65535) are kept in 16 bits; sums stay 32-bit. */
typedef struct {
    /* the sub-block being accumulated */
    int32_t acc_hf;       /* sum |x - 2 x1 + x2| */
    int32_t acc_sum;      /* sum x */
    int32_t adc_min, adc_max;
    uint32_t k;           /* sub-blocks completed since init */
    uint32_t fill;        /* sub-blocks since init or relearn */
    /* the last sub-blocks (ring index = k % size) */
    int32_t hf[TINYECG_Q_SEG];
    int32_t base[TINYECG_Q_SEG];  /* baseline (median of 7 sums) of each */
    int32_t sums[TINYECG_Q_BASE];
    int32_t aref;                 /* median of hist (at least 1) */
    uint16_t pp[TINYECG_Q_SEG];   /* peak-to-peak of each with the one before */
    /* reference amplitude */
    uint16_t hist[TINYECG_Q_REF];
    uint16_t a_prev;              /* A of the previous one-second step */
    uint16_t rail_bits;           /* bit i: the sub-block in slot i reached an ADC end */
    uint16_t poor_run, good_run;  /* scored segments in a row (saturating) */
    uint16_t score;               /* of the last segment (0 until one is scored) */
    int16_t x1, x2;               /* the two previous samples (0 before the first) */
    int16_t acc_lo, acc_hi;
    int16_t last_lo, last_hi;     /* of the previous sub-block */
    uint8_t pos;                  /* samples still to come in the sub-block */
    uint8_t rail_sum;             /* railed sub-blocks of the ten */
    uint8_t hist_i;
    uint8_t hist_n;               /* values learnt since init or relearn (1..TINYECG_Q_REF) */
    uint8_t state;                /* 1: poor (what "# quality poor/ok" reports) */
    uint8_t scored;               /* the last sub-block ended a scored segment */
    tinyecg_quality_segment_t *detail; /* when set, each scored segment's features go there */
    uint16_t scores[TINYECG_Q_RING]; /* per sub-block: score (15 bits) | state << 15 */
} tinyecg_quality_t;

/* Clear everything; the next sample is sample 0. adc_min/adc_max: the ADC's ends (a
 * sub-block reaching one is saturated). */
void tinyecg_quality_init(tinyecg_quality_t *q, int32_t adc_min, int32_t adc_max);

/* Learn A_ref again from the next second (after lead-off, flat signal, a gap); the
 * sub-block phase and the sample history continue. The state becomes ok (not reported). */
void tinyecg_quality_relearn(tinyecg_quality_t *q);

/* The out-of-line part of tinyecg_quality_push: a sub-block is complete. */
void tinyecg_quality_end_subblock(tinyecg_quality_t *q);

/* One sample. Returns 1 when it completed a sub-block (a new score), else 0. Inline: this
 * is all the index does for 35 samples of 36 (about 25 Cortex-M4 instructions). */
static inline int tinyecg_quality_push(tinyecg_quality_t *q, int16_t sample)
{
    int32_t x = sample;
    int32_t d2 = x - 2 * q->x1 + q->x2;
    q->x2 = q->x1;
    q->x1 = sample;
    q->acc_hf += d2 < 0 ? -d2 : d2;
    q->acc_sum += x;
    if (sample < q->acc_lo) {
        q->acc_lo = sample;
    }
    if (sample > q->acc_hi) {
        q->acc_hi = sample;
    }
    if (--q->pos != 0u) {
        return 0;
    }
    tinyecg_quality_end_subblock(q);
    return 1;
}

/* Score of the segment centred on the beat at R-peak r (0 when it is not, or no longer,
 * known). r counts samples from init like the detector's indices. */
uint16_t tinyecg_quality_beat_score(const tinyecg_quality_t *q, uint32_t r);

/* 1 when the beat at R-peak r is unreadable: the state was poor at its segment, or that
 * segment was doubtful (score >= TINYECG_Q_GREY) and the beat is early or followed early:
 * min(pre_rr, post_rr) < TINYECG_Q_EARLY/10 of the local mean RR (local_sum / local_count,
 * tinyecg_rr.h). */
int tinyecg_quality_beat_poor(const tinyecg_quality_t *q, uint32_t r, int32_t pre_rr,
                              int32_t post_rr, int32_t local_sum, int32_t local_count);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_QUALITY_H */
