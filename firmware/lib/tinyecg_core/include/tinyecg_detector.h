/*
 * tinyecg_detector.h - streaming fixed-point QRS detector for 360 Hz ECG.
 *
 * Pan-Tompkins family (band-pass, derivative, rectification, moving-window integration,
 * adaptive thresholds on integrated peaks, T-wave discrimination by slope, RR search-back),
 * written for integers only: no heap, no floating point, bounded state (3.6 KB).
 * The algorithm, its constants and its measured accuracy are described in docs/detector.md.
 *
 * Usage:
 *     tinyecg_detector_t det;
 *     tinyecg_detector_init(&det);
 *     for each ADC sample s:  r = tinyecg_detector_push(&det, s);  if (r) beat at sample r
 *
 * Sample indices count from 0 at the first sample pushed after tinyecg_detector_init().
 * A detection is reported some time after the R-peak (all 48 MIT-BIH records, after the
 * learning phase: median 176 samples = 0.49 s, 99th percentile 202 = 0.56 s, at most 752
 * = 2.1 s for a beat found by search-back; docs/detector.md); the beats of the 2 s
 * learning phase are reported when it ends. The index is refined to the sample of largest
 * |band-passed signal| of the QRS, so it lines up with annotated R-peaks.
 * Reported indices strictly increase; 0 means "no detection" (a beat at sample 0 cannot
 * be detected: the refinement never returns index 0). The count is a uint32_t: after
 * 2^32 samples (about 138 days at 360 Hz) it wraps, every later index is not above the
 * last one reported and is dropped, so detection stops until tinyecg_detector_init().
 *
 * The sample rate is fixed at TINYECG_FS (360 Hz, MIT-BIH); the detector is gain
 * independent (all thresholds adapt), so raw ADC counts of any resolution up to int16 work.
 */
#ifndef TINYECG_DETECTOR_H
#define TINYECG_DETECTOR_H

#include <stdint.h>

#include "tinyecg_spec.h" /* TINYECG_FS (tinyecg/spec.py) */

#ifdef __cplusplus
extern "C" {
#endif

/* every time constant below assumes 360 samples per second */
#if TINYECG_FS != 360
#error "tinyecg_detector: its time constants are written for TINYECG_FS = 360 Hz"
#endif

/* Ring of band-passed samples and slopes kept for peak refinement (power of two). */
#define TINYECG_DET_RING 256u
/* Candidate peaks stored during the learning phase (first 2 s). */
#define TINYECG_DET_LEARN_MAX 16u
/* Detections waiting to be returned by tinyecg_detector_push (one per call). */
#define TINYECG_DET_OUT_MAX 8u
/* Peak heights remembered for the adaptive thresholds, and RR intervals for search-back. */
#define TINYECG_DET_HIST 8u

typedef struct {
    uint32_t t;     /* sample index of the integrated-signal maximum */
    int64_t h;      /* height of that maximum (integrated squared slope, arbitrary units) */
    int32_t slope;  /* largest |slope| in the integration window before t */
    uint32_t r;     /* refined R-peak sample index */
} tinyecg_det_peak_t;

typedef struct {
    uint32_t n;          /* index of the next sample to be pushed */
    uint8_t started;     /* the filters have been primed with the first sample */
    uint8_t learning;    /* still in the learning phase */
    uint32_t learn_end;  /* sample index at which learning ends */

    /* band-pass: two 8-sample box-cars (low-pass), minus a 57-sample mean (high-pass) */
    int32_t x_hist[8];
    int32_t s1_hist[8];
    int32_t s1, s2;
    int32_t lp_hist[64];
    int32_t lp_sum;
    int32_t bp_hist[4];
    /* moving-window integration of |derivative| */
    int64_t sq_hist[64];
    int64_t mwi;

    int32_t bp_ring[TINYECG_DET_RING]; /* band-passed signal, aligned to raw index */
    int32_t ad_ring[TINYECG_DET_RING]; /* |derivative|, aligned to raw index */

    /* peak finder on the integrated signal */
    int64_t pk_max;
    uint32_t pk_t;
    uint8_t pk_rising;

    /* a candidate waiting out the merge window for a bigger neighbour */
    tinyecg_det_peak_t pend;
    uint8_t have_pend;

    /* adaptive levels */
    int64_t qrs_lv[TINYECG_DET_HIST];
    int64_t noise_lv[TINYECG_DET_HIST];
    uint8_t qrs_i, noise_i;
    int32_t rr_hist[TINYECG_DET_HIST];
    uint8_t rr_i;
    int32_t rr_avg;      /* mean of rr_hist, updated when it changes */
    uint32_t merge_win;  /* merge window (samples) derived from rr_avg */
    int64_t thr;
    uint8_t noisy;       /* set by tinyecg_detector_set_noisy() */

    tinyecg_det_peak_t last;     /* last accepted QRS */
    uint8_t have_last;
    uint32_t last_change;        /* sample index of last QRS or level decay */
    tinyecg_det_peak_t sb;       /* best sub-threshold candidate since last QRS */
    uint8_t have_sb;

    tinyecg_det_peak_t learn[TINYECG_DET_LEARN_MAX];
    uint8_t n_learn;

    uint32_t out[TINYECG_DET_OUT_MAX];
    uint8_t out_head, out_len;
    uint32_t last_out;
} tinyecg_detector_t;

/* Clear all state; the next sample pushed gets index 0. */
void tinyecg_detector_init(tinyecg_detector_t *det);

/* Forget levels and filter state and learn again (after lead-off or flat signal) while
 * keeping the sample counter, so indices continue. */
void tinyecg_detector_relearn(tinyecg_detector_t *det);

/* Feed one sample; returns 0 or the sample index of a detected R-peak. */
uint32_t tinyecg_detector_push(tinyecg_detector_t *det, int16_t sample);

/* Tell the detector whether the signal is noisy now (the quality index's poor state,
 * tinyecg_quality.h). While it is, the RR rhythm is not learnt (it stays that of the last
 * good signal) and a candidate closer to the last QRS than TINYECG_DET_NOISY_RR/16 of that
 * mean RR is taken for noise: in noise most false beats split an RR interval. Readable
 * signal never sets it, so detection there is unchanged. */
void tinyecg_detector_set_noisy(tinyecg_detector_t *det, int noisy);

/* Index that the next pushed sample will get. */
uint32_t tinyecg_detector_count(const tinyecg_detector_t *det);

/* Worst-case delay between an R-peak and its report (samples), for sizing beat buffers. */
#define TINYECG_DET_MAX_DELAY (3u * TINYECG_FS)

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_DETECTOR_H */
