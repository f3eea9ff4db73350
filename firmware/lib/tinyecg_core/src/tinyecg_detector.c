/*
 * tinyecg_detector.c - streaming fixed-point QRS detector (see tinyecg_detector.h and
 * docs/detector.md). C99, integers only, no heap.
 *
 * Signal chain at 360 Hz (delays are exact: every filter is linear phase):
 *   raw x[n] --(box-car 8)--(box-car 8)--> lp   gain 64, delay 7 samples
 *   lp - mean(lp over 57) -------------->  hp   high-pass ~5 Hz, delay 28 more
 *   bp = hp / 8                              gain 8 over raw counts, delay 35
 *   d  = 2bp[n] + bp[n-1] - bp[n-3] - 2bp[n-4]   derivative, delay 37
 *   mwi = sum of d*d over TINYECG_DET_MWI samples   moving-window integration (int64)
 * Peaks of mwi are QRS candidates, classified with adaptive thresholds.
 */
#include "tinyecg_detector.h"

#include <string.h>

/* ---- time constants (samples at 360 Hz); each may be overridden with -D for tuning ---- */
#ifndef TINYECG_DET_MWI
#define TINYECG_DET_MWI 54 /* 150 ms integration window (Pan-Tompkins) */
#endif
#ifndef TINYECG_DET_PEAK_TIMEOUT
#define TINYECG_DET_PEAK_TIMEOUT 72 /* 200 ms: declare an mwi peak this long after its max
                                       (shorter split wide QRS and big T-waves into two) */
#endif
/* Of two candidates closer than the merge window keep the larger. The window is 7/16 of
 * the mean RR, clamped to 200..333 ms: at a resting rate it spans the T-wave (record 108's
 * false positives fell from 147 to 11), while in tachycardia it shrinks to the 200 ms
 * physiological refractory period, so fast ventricular runs (203, 205) are not merged. */
#ifndef TINYECG_DET_MERGE
#define TINYECG_DET_MERGE 72 /* 200 ms: shortest merge window */
#endif
#ifndef TINYECG_DET_MERGE_RR
#define TINYECG_DET_MERGE_RR 7 /* merge window = 7/16 of the mean RR ... */
#endif
#ifndef TINYECG_DET_MERGE_MAX
#define TINYECG_DET_MERGE_MAX 120 /* ... but at most 333 ms */
#endif
#ifndef TINYECG_DET_TWAVE
#define TINYECG_DET_TWAVE 130 /* 360 ms: a candidate this close to a QRS may be a T-wave */
#endif
#ifndef TINYECG_DET_TWAVE_SLOPE
#define TINYECG_DET_TWAVE_SLOPE 8 /* T-wave if its slope < 8/16 of the previous QRS slope */
#endif
#ifndef TINYECG_DET_TH
#define TINYECG_DET_TH 4 /* threshold = noise + 4/16 (qrs - noise), as Pan-Tompkins */
#endif
#ifndef TINYECG_DET_NOISY_RR
#define TINYECG_DET_NOISY_RR 10 /* while noisy, a candidate closer than 10/16 of the mean RR
                                   (of the last good signal) to the last QRS is noise; 0: off */
#endif
#ifndef TINYECG_DET_SB_NUM
#define TINYECG_DET_SB_NUM 166 /* search back after 1.66 x mean RR without a beat */
#endif
#ifndef TINYECG_DET_SB_TH
#define TINYECG_DET_SB_TH 6 /* search-back accepts a peak above 6/16 of the threshold */
#endif
#ifndef TINYECG_DET_LEARN
#define TINYECG_DET_LEARN 720 /* 2 s learning phase */
#endif
#ifndef TINYECG_DET_DECAY
#define TINYECG_DET_DECAY 720 /* 2 s without a QRS: halve the QRS levels */
#endif
#ifndef TINYECG_DET_REF_BEFORE
#define TINYECG_DET_REF_BEFORE 20 /* refinement looks this far before the slope window */
#endif
#ifndef TINYECG_DET_REF_AFTER
#define TINYECG_DET_REF_AFTER 2 /* and this far after it */
#endif

#define HP_LEN 57           /* high-pass mean length (158 ms) */
#define HP_HALF 28          /* its centre */
#define BP_DELAY 35         /* raw index of bp[n] is n - 35 */
#define AD_DELAY 37         /* raw index of |d|[n] is n - 37 */
#define RING_MASK (TINYECG_DET_RING - 1u)

static int64_t mean_of(const int64_t *v)
{
    int64_t s = 0;
    unsigned i;
    for (i = 0; i < TINYECG_DET_HIST; i++) {
        s += v[i];
    }
    return s / TINYECG_DET_HIST;
}

static void update_threshold(tinyecg_detector_t *d)
{
    int64_t q = mean_of(d->qrs_lv);
    int64_t z = mean_of(d->noise_lv);
    int64_t diff = q - z;
    if (diff < 0) {
        diff = 0;
    }
    d->thr = z + (diff / 16) * TINYECG_DET_TH;
    if (d->thr < 1) {
        d->thr = 1;
    }
}

static int32_t rr_mean(const tinyecg_detector_t *d)
{
    int32_t s = 0;
    unsigned i;
    for (i = 0; i < TINYECG_DET_HIST; i++) {
        s += d->rr_hist[i];
    }
    return s / (int32_t)TINYECG_DET_HIST;
}

/* After rr_hist changed: its mean and the merge window, kept so that the per-sample
 * path does not sum the history every time. */
static void update_rr(tinyecg_detector_t *d)
{
    int32_t w;
    d->rr_avg = rr_mean(d);
    w = (d->rr_avg / 16) * TINYECG_DET_MERGE_RR;
    if (w < TINYECG_DET_MERGE) {
        w = TINYECG_DET_MERGE;
    }
    if (w > TINYECG_DET_MERGE_MAX) {
        w = TINYECG_DET_MERGE_MAX;
    }
    d->merge_win = (uint32_t)w;
}

static void learn_reset(tinyecg_detector_t *d)
{
    d->started = 0;
    d->learning = 1;
    d->learn_end = d->n + TINYECG_DET_LEARN;
    d->pk_max = 0;
    d->pk_t = 0;
    d->have_pend = 0;
    memset(d->qrs_lv, 0, sizeof d->qrs_lv);
    memset(d->noise_lv, 0, sizeof d->noise_lv);
    d->qrs_i = 0;
    d->noise_i = 0;
    {
        unsigned i;
        for (i = 0; i < TINYECG_DET_HIST; i++) {
            d->rr_hist[i] = TINYECG_FS; /* 1 s until real intervals arrive */
        }
    }
    d->rr_i = 0;
    update_rr(d);
    d->thr = 1;
    d->noisy = 0;
    d->have_last = 0;
    d->have_sb = 0;
    d->n_learn = 0;
    d->last_change = d->n;
}

void tinyecg_detector_init(tinyecg_detector_t *det)
{
    memset(det, 0, sizeof *det);
    learn_reset(det);
}

void tinyecg_detector_relearn(tinyecg_detector_t *det)
{
    learn_reset(det);
}

void tinyecg_detector_set_noisy(tinyecg_detector_t *det, int noisy)
{
    det->noisy = (uint8_t)(noisy != 0);
}

uint32_t tinyecg_detector_count(const tinyecg_detector_t *det)
{
    return det->n;
}

static void emit(tinyecg_detector_t *d, uint32_t r)
{
    if (r == 0u || (d->last_out != 0u && r <= d->last_out)) {
        return;
    }
    if (d->out_len < TINYECG_DET_OUT_MAX) {
        d->out[(d->out_head + d->out_len) % TINYECG_DET_OUT_MAX] = r;
        d->out_len++;
        d->last_out = r;
    }
}

static void accept_qrs(tinyecg_detector_t *d, const tinyecg_det_peak_t *p)
{
    if (d->have_last && !(d->noisy && TINYECG_DET_NOISY_RR > 0)) {
        /* in noise the rhythm is not learnt: it stays that of the last good signal */
        int32_t rr = (int32_t)(p->t - d->last.t);
        if (rr < 3 * TINYECG_FS) {
            d->rr_hist[d->rr_i] = rr;
            d->rr_i = (uint8_t)((d->rr_i + 1u) % TINYECG_DET_HIST);
            update_rr(d);
        }
    }
    d->qrs_lv[d->qrs_i] = p->h;
    d->qrs_i = (uint8_t)((d->qrs_i + 1u) % TINYECG_DET_HIST);
    update_threshold(d);
    d->last = *p;
    d->have_last = 1;
    d->have_sb = 0;
    d->last_change = d->n;
    emit(d, p->r);
}

static void accept_noise(tinyecg_detector_t *d, const tinyecg_det_peak_t *p)
{
    d->noise_lv[d->noise_i] = p->h;
    d->noise_i = (uint8_t)((d->noise_i + 1u) % TINYECG_DET_HIST);
    update_threshold(d);
}

/* Decide whether a candidate (already merged with its 200 ms neighbours) is a QRS. */
static void classify(tinyecg_detector_t *d, const tinyecg_det_peak_t *p)
{
    if (d->noisy && d->have_last &&
        (int32_t)(p->t - d->last.t) < (d->rr_avg * TINYECG_DET_NOISY_RR) / 16) {
        accept_noise(d, p); /* too early for a beat of this rhythm, in noise */
        return;
    }
    /* the amplitude threshold is the same in noise: a stricter one (8/16) removed fewer false
     * beats than the RR rule above and lost twice as many true ones (docs/quality.md) */
    if (p->h > d->thr) {
        if (d->have_last && p->t - d->last.t < (uint32_t)TINYECG_DET_TWAVE &&
            p->slope < (d->last.slope / 16) * TINYECG_DET_TWAVE_SLOPE) {
            accept_noise(d, p); /* T-wave: steep QRS just before, shallow slope now */
            return;
        }
        accept_qrs(d, p);
        return;
    }
    accept_noise(d, p);
    if (!d->have_last || p->t - d->last.t >= (uint32_t)TINYECG_DET_TWAVE) {
        if (!d->have_sb || p->h > d->sb.h) {
            d->sb = *p;
            d->have_sb = 1;
        }
    }
}

static void finalize(tinyecg_detector_t *d, const tinyecg_det_peak_t *p)
{
    if (d->learning) {
        if (d->n_learn < TINYECG_DET_LEARN_MAX) {
            d->learn[d->n_learn++] = *p;
        }
        return;
    }
    classify(d, p);
}

static void end_learning(tinyecg_detector_t *d)
{
    int64_t hmax = 0;
    unsigned i;
    for (i = 0; i < d->n_learn; i++) {
        if (d->learn[i].h > hmax) {
            hmax = d->learn[i].h;
        }
    }
    for (i = 0; i < TINYECG_DET_HIST; i++) {
        d->qrs_lv[i] = hmax;
        d->noise_lv[i] = 0;
    }
    update_threshold(d);
    d->learning = 0;
    for (i = 0; i < d->n_learn; i++) {
        classify(d, &d->learn[i]);
    }
    d->n_learn = 0;
    d->last_change = d->n;
}

/* Fill in slope and refined R index of a peak of the integrated signal at time t. */
static void describe_peak(tinyecg_detector_t *d, tinyecg_det_peak_t *p)
{
    uint32_t lo, hi, i, best;
    int32_t slope = 0, amax = -1;
    uint32_t newest_bp = d->n - 1u - BP_DELAY; /* newest raw index present in bp_ring */
    /* slope window: raw indices covered by the integration window ending at t */
    hi = p->t - AD_DELAY;
    lo = hi - (uint32_t)(TINYECG_DET_MWI - 1);
    for (i = lo; i != hi + 1u; i++) {
        int32_t a = d->ad_ring[i & RING_MASK];
        if (a > slope) {
            slope = a;
        }
    }
    p->slope = slope;
    lo -= TINYECG_DET_REF_BEFORE;
    hi += TINYECG_DET_REF_AFTER;
    if ((int32_t)(hi - newest_bp) > 0) {
        hi = newest_bp;
    }
    best = hi;
    for (i = lo; i != hi + 1u; i++) {
        int32_t v = d->bp_ring[i & RING_MASK];
        if (v < 0) {
            v = -v;
        }
        if (v > amax) {
            amax = v;
            best = i;
        }
    }
    p->r = best;
}

static void new_candidate(tinyecg_detector_t *d, int64_t h, uint32_t t)
{
    tinyecg_det_peak_t p;
    p.t = t;
    p.h = h;
    describe_peak(d, &p);
    if (d->have_pend) {
        if (t - d->pend.t < d->merge_win) {
            if (h > d->pend.h) {
                d->pend = p;
            }
            return;
        }
        finalize(d, &d->pend);
    }
    d->pend = p;
    d->have_pend = 1;
}

static void prime(tinyecg_detector_t *d, int32_t x)
{
    unsigned i;
    for (i = 0; i < 8u; i++) {
        d->x_hist[i] = x;
        d->s1_hist[i] = 8 * x;
    }
    d->s1 = 8 * x;
    d->s2 = 64 * x;
    for (i = 0; i < 64u; i++) {
        d->lp_hist[i] = 64 * x;
        d->sq_hist[i] = 0;
    }
    d->lp_sum = HP_LEN * 64 * x;
    for (i = 0; i < 4u; i++) {
        d->bp_hist[i] = 0;
    }
    for (i = 0; i < TINYECG_DET_RING; i++) {
        d->bp_ring[i] = 0;
        d->ad_ring[i] = 0;
    }
    d->mwi = 0;
    d->started = 1;
}

uint32_t tinyecg_detector_push(tinyecg_detector_t *det, int16_t sample)
{
    tinyecg_detector_t *d = det;
    int32_t x = sample;
    uint32_t n = d->n;
    int32_t lp, hp, bp, dv, ad;
    int64_t sq;
    uint32_t k;

    if (!d->started) {
        prime(d, x);
    }
    /* low-pass: two box-cars of 8 */
    k = n & 7u;
    d->s1 += x - d->x_hist[k];
    d->x_hist[k] = x;
    d->s2 += d->s1 - d->s1_hist[k];
    d->s1_hist[k] = d->s1;
    lp = d->s2;
    /* high-pass: centre sample minus 57-sample mean */
    d->lp_sum += lp - d->lp_hist[(n - HP_LEN) & 63u];
    d->lp_hist[n & 63u] = lp;
    hp = d->lp_hist[(n - HP_HALF) & 63u] - d->lp_sum / HP_LEN;
    bp = hp / 8;
    d->bp_ring[(n - BP_DELAY) & RING_MASK] = bp;
    /* five-point derivative */
    dv = 2 * bp + d->bp_hist[(n - 1u) & 3u] - d->bp_hist[(n - 3u) & 3u] -
         2 * d->bp_hist[(n - 4u) & 3u];
    d->bp_hist[n & 3u] = bp;
    ad = dv < 0 ? -dv : dv;
    d->ad_ring[(n - AD_DELAY) & RING_MASK] = ad;
    /* moving-window integration */
    sq = (int64_t)dv * dv;
    d->mwi += sq - d->sq_hist[(n - (uint32_t)TINYECG_DET_MWI) & 63u];
    d->sq_hist[n & 63u] = sq;
    d->n = n + 1u;

    /* peak finder on mwi */
    if (d->mwi > d->pk_max) {
        d->pk_max = d->mwi;
        d->pk_t = n;
    } else if (d->pk_max > 0 &&
               (d->mwi < d->pk_max / 2 || n - d->pk_t > (uint32_t)TINYECG_DET_PEAK_TIMEOUT)) {
        new_candidate(d, d->pk_max, d->pk_t);
        d->pk_max = 0;
    }
    if (d->have_pend && n - d->pend.t >= d->merge_win) {
        finalize(d, &d->pend);
        d->have_pend = 0;
    }

    if (d->learning) {
        if (n + 1u == d->learn_end) {
            end_learning(d);
        }
    } else {
        /* search back for a missed beat */
        if (d->have_last && d->have_sb &&
            (int32_t)(n - d->last.t) > (d->rr_avg * TINYECG_DET_SB_NUM) / 100 &&
            d->sb.h > (d->thr / 16) * TINYECG_DET_SB_TH) {
            tinyecg_det_peak_t p = d->sb;
            accept_qrs(d, &p);
        }
        /* long silence: let the levels come down */
        if (d->n - d->last_change > (uint32_t)TINYECG_DET_DECAY) {
            unsigned i;
            for (i = 0; i < TINYECG_DET_HIST; i++) {
                d->qrs_lv[i] /= 2;
            }
            update_threshold(d);
            d->last_change = d->n;
        }
    }

    if (d->out_len > 0u) {
        uint32_t r = d->out[d->out_head];
        d->out_head = (uint8_t)((d->out_head + 1u) % TINYECG_DET_OUT_MAX);
        d->out_len--;
        return r;
    }
    return 0u;
}
