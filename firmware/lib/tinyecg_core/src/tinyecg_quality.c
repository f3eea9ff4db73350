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
#define SCORE_MAX 65535

/* Insertion sort of a few values (n <= 10) in place. */
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

void tinyecg_quality_init(tinyecg_quality_t *q)
{
    memset(q, 0, sizeof *q);
}

void tinyecg_quality_relearn(tinyecg_quality_t *q)
{
    q->fill = 0;
    q->poor_run = 0;
    q->good_run = 0;
    q->state = 0;
}

/* ratio num / (th * den) in Q8 of the threshold: (num << 16) / (th * den), floored, capped */
static uint32_t ratio_q8(int64_t num, int64_t th, int64_t den)
{
    int64_t s;
    if (num <= 0) {
        return 0u;
    }
    s = (num * 65536) / (th * den);
    return s > SCORE_MAX ? (uint32_t)SCORE_MAX : (uint32_t)s;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

/* A sub-block just completed: store it and score the segment that ends with it. */
static void end_subblock(tinyecg_quality_t *q)
{
    uint32_t k = q->k;
    unsigned i, slot = (unsigned)(k % SEG);
    int32_t tmp[SEG], h, b_lo, b_hi, a, aref;
    uint32_t rl, score;
    int poor;

    /* baseline: median of the last 7 sub-block sums (all 7 start at the first one) */
    if (k == 0u) {
        for (i = 0; i < TINYECG_Q_BASE; i++) {
            q->sums[i] = q->acc_sum;
        }
    }
    q->sums[k % TINYECG_Q_BASE] = q->acc_sum;
    memcpy(tmp, q->sums, sizeof q->sums);
    sort_small(tmp, TINYECG_Q_BASE);
    q->base[slot] = tmp[TINYECG_Q_BASE / 2u];
    q->hf[slot] = q->acc_hf;
    q->lo[slot] = q->acc_lo;
    q->hi[slot] = q->acc_hi;
    q->rail[slot] = q->acc_rail;
    q->k = k + 1u;
    q->fill++;
    q->changed = 0;
    if (q->fill < SEG) {
        q->scores[k % TINYECG_Q_RING] = 0;
        return;
    }

    /* the segment k-9..k */
    memcpy(tmp, q->hf, sizeof q->hf);
    sort_small(tmp, SEG);
    h = tmp[TINYECG_Q_HF_RANK];
    b_lo = b_hi = q->base[0];
    rl = 0;
    for (i = 0; i < SEG; i++) {
        if (q->base[i] < b_lo) {
            b_lo = q->base[i];
        }
        if (q->base[i] > b_hi) {
            b_hi = q->base[i];
        }
        rl += q->rail[i];
    }
    a = 0;
    for (i = 1; i < SEG; i++) { /* pairs (j-1, j), j = k-8..k */
        unsigned s0 = (unsigned)((k + SEG - i) % SEG), s1 = (unsigned)((k + SEG - i + 1u) % SEG);
        int32_t top = q->hi[s0] > q->hi[s1] ? q->hi[s0] : q->hi[s1];
        int32_t bot = q->lo[s0] < q->lo[s1] ? q->lo[s0] : q->lo[s1];
        if (top - bot > a) {
            a = top - bot;
        }
    }

    if (q->fill == SEG) {
        for (i = 0; i < TINYECG_Q_REF; i++) {
            q->hist[i] = a;
        }
        q->hist_i = 0;
        q->a_prev = a;
    }
    memcpy(tmp, q->hist, sizeof q->hist);
    sort_small(tmp, TINYECG_Q_REF);
    aref = (tmp[TINYECG_Q_REF / 2u - 1u] + tmp[TINYECG_Q_REF / 2u]) / 2;
    if (aref < 1) {
        aref = 1;
    }

    score = ratio_q8(h, TINYECG_Q_TH_H, aref);
    score = max_u32(score, ratio_q8((int64_t)b_hi - b_lo, TINYECG_Q_TH_B,
                                    (int64_t)aref * TINYECG_Q_SUB));
    score = max_u32(score, ratio_q8(a, TINYECG_Q_TH_A, aref));
    score = max_u32(score, ratio_q8((int64_t)rl * 256, 65536, TINYECG_Q_RAIL_MIN));
    poor = score >= TINYECG_Q_ONE;
    q->poor_run = poor ? q->poor_run + 1u : 0u;

    /* once a second: learn the reference from the largest A of the last two seconds */
    if ((q->fill - SEG) % SEG == 0u) {
        if (q->fill > SEG && (!poor || q->poor_run >= (uint32_t)TINYECG_Q_POOR_RELEARN)) {
            q->hist[q->hist_i] = a > q->a_prev ? a : q->a_prev;
            q->hist_i = (q->hist_i + 1u) % TINYECG_Q_REF;
        }
        q->a_prev = a;
    }

    if (poor) {
        q->good_run = 0;
        if (!q->state) {
            q->state = 1;
            q->changed = 1;
        }
    } else {
        q->good_run++;
        if (q->state && q->good_run >= (uint32_t)TINYECG_Q_OK_RUN) {
            q->state = 0;
            q->changed = 1;
        }
    }
    q->h = h;
    q->b = b_hi - b_lo;
    q->a = a;
    q->aref = aref;
    q->r = rl;
    q->score = (uint16_t)score;
    q->scores[k % TINYECG_Q_RING] = (uint16_t)score;
}

int tinyecg_quality_push(tinyecg_quality_t *q, int16_t sample, int railed)
{
    int32_t x = sample;
    int32_t d2;
    if (q->k == 0u && q->pos == 0u) {
        q->x1 = q->x2 = x; /* the first sample primes the second difference */
    }
    d2 = x - 2 * q->x1 + q->x2;
    q->x2 = q->x1;
    q->x1 = x;
    if (q->pos == 0u) {
        q->acc_hf = 0;
        q->acc_sum = 0;
        q->acc_lo = q->acc_hi = x;
        q->acc_rail = 0;
    }
    q->acc_hf += d2 < 0 ? -d2 : d2;
    q->acc_sum += x;
    if (x < q->acc_lo) {
        q->acc_lo = x;
    }
    if (x > q->acc_hi) {
        q->acc_hi = x;
    }
    q->acc_rail += railed ? 1u : 0u;
    if (++q->pos < TINYECG_Q_SUB) {
        return 0;
    }
    q->pos = 0;
    end_subblock(q);
    return 1;
}

uint16_t tinyecg_quality_beat_score(const tinyecg_quality_t *q, uint32_t r)
{
    uint32_t kb = r / TINYECG_Q_SUB + 4u; /* the segment kb-9..kb is centred on r */
    if (kb >= q->k || q->k - kb > TINYECG_Q_RING) {
        return 0;
    }
    return q->scores[kb % TINYECG_Q_RING];
}
