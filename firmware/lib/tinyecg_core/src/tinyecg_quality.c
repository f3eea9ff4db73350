/*
 * tinyecg_quality.c - signal-quality index (see tinyecg_quality.h, docs/quality.md).
 * C99, integers only, no heap. Bit-exact with tinyecg/dsp/quality.py.
 *
 * Per sample: one second difference, a sum, a min/max and a counter (about 20
 * instructions on a Cortex-M4). Per 0.1 s sub-block: a median of 7, a partial sort of 10,
 * the segment's ranges and maxima and at most four 64-bit divisions; once a second a median
 * of 8.
 */
#include "tinyecg_quality.h"

#include <string.h>

#define SEG TINYECG_Q_SEG
#define SCORE_MAX 32767u /* scores are kept in 15 bits ... */
#define STATE_BIT 32768u /* ... beside the state */

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* Insertion sort of a few values (n <= 8) in place. */
static void sort_small(int32_t *v, unsigned n)
{
    unsigned i, j;
    for (i = 1; i < n; i++) {
        int32_t t = v[i];
        for (j = i; j > 0u && v[j - 1u] > t; j--) {
            v[j] = v[j - 1u];
        }
        v[j] = t;
    }
}

static void clear_acc(tinyecg_quality_t *q)
{
    q->acc_hf = 0;
    q->acc_sum = 0;
    q->acc_lo = INT16_MAX; /* a sub-block of INT16_MAX samples keeps it: the right minimum */
    q->acc_hi = INT16_MIN;
    q->pos = (uint8_t)TINYECG_Q_SUB;
}

void tinyecg_quality_init(tinyecg_quality_t *q, int32_t adc_min, int32_t adc_max)
{
    memset(q, 0, sizeof *q);
    clear_acc(q);
    q->adc_min = adc_min;
    q->adc_max = adc_max;
}

void tinyecg_quality_relearn(tinyecg_quality_t *q)
{
    q->fill = 0;
    q->poor_run = 0;
    q->good_run = 0;
    q->state = 0;
    q->score = 0;
}

/* The median of the hist_n reference values learnt (all 8 once learnt): the middle one, or
 * the mean of the two middle ones floored. */
static void update_aref(tinyecg_quality_t *q)
{
    int32_t v[TINYECG_Q_REF];
    unsigned i, n = q->hist_n;
    for (i = 0; i < n; i++) {
        v[i] = q->hist[i];
    }
    sort_small(v, n);
    q->aref = (n & 1u) ? v[n / 2u] : (v[n / 2u - 1u] + v[n / 2u]) / 2;
    if (q->aref < 1) {
        q->aref = 1;
    }
}

/* x / (threshold th in Q8 of den), in Q8, capped: x * 256 / max(1, th * den >> 8). 32-bit
 * unsigned throughout (the bounds are in tinyecg_quality.h), so a Cortex-M4 does it with
 * one UDIV. */
static uint32_t ratio_q8(uint32_t x, uint32_t th, uint32_t den)
{
    uint32_t d = (th * den) >> 8, s;
    s = (x << 8) / (d > 0u ? d : 1u);
    return s > SCORE_MAX ? (uint32_t)SCORE_MAX : s;
}

/* Median of 7 by a selection network: sort both halves' ends away (Paeth's median-of-7
 * exchanges, 13 compare-exchanges instead of a sort). */
#define CX(a, b)                  \
    if (v[a] > v[b]) {            \
        int32_t t_ = v[a];        \
        v[a] = v[b];              \
        v[b] = t_;                \
    }
static int32_t median7(const int32_t *in)
{
    int32_t v[7];
    memcpy(v, in, sizeof v);
    CX(0, 5) CX(0, 3) CX(1, 6) CX(2, 4) CX(0, 1) CX(3, 5) CX(2, 6) CX(2, 3) CX(3, 6)
    CX(4, 5) CX(1, 4) CX(1, 3) CX(3, 4)
    return v[3];
}
#undef CX

/* A sub-block just completed (tinyecg_quality_push, inline in the header, accumulated
 * it): store it and score the segment that ends with it. */
void tinyecg_quality_end_subblock(tinyecg_quality_t *q)
{
    uint32_t k = q->k;
    unsigned i, slot = (unsigned)(k % SEG);
    int32_t low4[TINYECG_Q_HF_RANK + 1u], b_lo, b_hi, aref;
    uint16_t a;
    uint32_t score, n4 = 0;
    int poor;

    /* baseline: median of the last 7 sub-block sums (all 7 start at the first one) */
    if (k == 0u) {
        for (i = 0; i < TINYECG_Q_BASE; i++) {
            q->sums[i] = q->acc_sum;
        }
    }
    q->sums[k % TINYECG_Q_BASE] = q->acc_sum;
    q->base[slot] = median7(q->sums);
    q->hf[slot] = q->acc_hf;
    /* peak-to-peak of this sub-block with the one before (0.2 s spans a QRS) */
    {
        int32_t top = q->acc_hi > q->last_hi ? q->acc_hi : q->last_hi;
        int32_t bot = q->acc_lo < q->last_lo ? q->acc_lo : q->last_lo;
        q->pp[slot] = (uint16_t)(top - bot); /* int16 samples: <= 65535 */
        q->last_hi = q->acc_hi;
        q->last_lo = q->acc_lo;
    }
    {
        unsigned railed = (unsigned)(q->acc_lo <= q->adc_min || q->acc_hi >= q->adc_max);
        unsigned was = (q->rail_bits >> slot) & 1u;
        q->rail_sum = (uint8_t)(q->rail_sum + railed - was);
        q->rail_bits = (uint16_t)((q->rail_bits & ~(1u << slot)) | (railed << slot));
    }
    clear_acc(q);
    q->k = k + 1u;
    q->fill++;
    q->scored = 0;
    if (q->fill < SEG) {
        q->scores[k % TINYECG_Q_RING] = 0;
        return;
    }
    if ((q->fill - SEG) % TINYECG_Q_STRIDE != 0u) {
        /* scored every STRIDE sub-blocks: this one keeps the last score and state */
        q->scores[k % TINYECG_Q_RING] = q->scores[(k - 1u) % TINYECG_Q_RING];
        return;
    }

    /* the segment k-9..k in storage order (the order does not matter for these); of the
     * ten pairs the one ending with the oldest sub-block reaches outside the segment */
    b_lo = b_hi = q->base[0];
    a = 0;
    for (i = 0; i < SEG; i++) {
        int32_t v = q->base[i];
        if (v < b_lo) {
            b_lo = v;
        }
        if (v > b_hi) {
            b_hi = v;
        }
        if (i != (slot + 1u) % SEG && q->pp[i] > a) {
            a = q->pp[i];
        }
    }
    for (i = 0; i < SEG; i++) { /* keep the HF_RANK+1 smallest hf, sorted */
        int32_t v = q->hf[i];
        unsigned j;
        if (n4 < TINYECG_Q_HF_RANK + 1u) {
            j = n4++;
        } else if (v < low4[TINYECG_Q_HF_RANK]) {
            j = TINYECG_Q_HF_RANK;
        } else {
            continue;
        }
        for (; j > 0u && low4[j - 1u] > v; j--) {
            low4[j] = low4[j - 1u];
        }
        low4[j] = v;
    }

    if (q->fill == SEG) { /* the first second: A_ref starts from its A alone */
        q->hist[0] = a;
        q->hist_n = 1u;
        q->hist_i = 1u;
        q->a_prev = a;
        update_aref(q);
    }

    aref = q->aref;
    score = ratio_q8((uint32_t)low4[TINYECG_Q_HF_RANK], TINYECG_Q_TH_H, (uint32_t)aref);
    score = max_u32(score, ratio_q8((uint32_t)(b_hi - b_lo), TINYECG_Q_TH_B,
                                    (uint32_t)aref * TINYECG_Q_SUB));
    score = max_u32(score, ratio_q8((uint32_t)a, TINYECG_Q_TH_A, (uint32_t)aref));
    score = max_u32(score, ((uint32_t)q->rail_sum << 8) / TINYECG_Q_RAIL_MIN);
    if (score > SCORE_MAX) {
        score = SCORE_MAX;
    }
    poor = score >= TINYECG_Q_ONE;
    /* saturating: they are only compared with POOR_RELEARN and OK_RUN */
    q->poor_run = poor ? (uint16_t)(q->poor_run + (q->poor_run < UINT16_MAX)) : 0u;

    /* once a second: learn the reference from the largest A of the last two seconds; in
     * the first TINYECG_Q_REF seconds from every second (a first second without a whole QRS
     * must not make everything after it look poor), then from seconds that were not poor */
    if ((q->fill - SEG) % SEG == 0u) {
        if (q->fill > SEG && (q->hist_n < TINYECG_Q_REF || !poor ||
                              q->poor_run >= (uint32_t)TINYECG_Q_POOR_RELEARN)) {
            q->hist[q->hist_i] = (uint16_t)(a > q->a_prev ? a : q->a_prev);
            q->hist_i = (uint8_t)((q->hist_i + 1u) % TINYECG_Q_REF);
            if (q->hist_n < TINYECG_Q_REF) {
                q->hist_n++;
            }
            update_aref(q); /* for the next segment: this one was scored with the old one */
        }
        q->a_prev = a;
    }

    if (poor) {
        q->good_run = 0;
        q->state = 1;
    } else {
        q->good_run = (uint16_t)(q->good_run + (q->good_run < UINT16_MAX));
        if (q->state && q->good_run >= (uint32_t)TINYECG_Q_OK_RUN) {
            q->state = 0;
        }
    }
    q->scored = 1;
    if (q->detail != NULL) {
        q->detail->h = low4[TINYECG_Q_HF_RANK];
        q->detail->aref = aref;
        q->detail->b = b_hi - b_lo;
        q->detail->a = a;
        q->detail->r = q->rail_sum;
    }
    q->score = (uint16_t)score;
    q->scores[k % TINYECG_Q_RING] = (uint16_t)(score | (q->state ? STATE_BIT : 0u));
}

/* The sub-block whose segment (kb-9..kb) is centred on r, or -1 when it is not known. */
static int32_t beat_slot(const tinyecg_quality_t *q, uint32_t r)
{
    uint32_t kb = r / TINYECG_Q_SUB + 4u;
    if (kb >= q->k || q->k - kb > TINYECG_Q_RING) {
        return -1;
    }
    return (int32_t)(kb % TINYECG_Q_RING);
}

uint16_t tinyecg_quality_beat_score(const tinyecg_quality_t *q, uint32_t r)
{
    int32_t s = beat_slot(q, r);
    return s < 0 ? 0u : (uint16_t)(q->scores[s] & SCORE_MAX);
}

int tinyecg_quality_beat_poor(const tinyecg_quality_t *q, uint32_t r, int32_t pre_rr,
                              int32_t post_rr, int32_t local_sum, int32_t local_count)
{
    int32_t s = beat_slot(q, r);
    int32_t shortest = pre_rr < post_rr ? pre_rr : post_rr;
    if (s < 0) {
        return 0;
    }
    if (q->scores[s] & STATE_BIT) {
        return 1;
    }
    /* shortest / (local_sum / local_count) < EARLY / 10, in integers */
    return q->scores[s] >= (uint16_t)TINYECG_Q_GREY &&
           (int64_t)shortest * 10 * local_count < (int64_t)TINYECG_Q_EARLY * local_sum;
}
