/*
 * tinyecg_beats.c - beat windows and RR context (see tinyecg_beats.h, tinyecg_rr.h).
 */
#include "tinyecg_beats.h"

#include <string.h>

#define RING_MASK (TINYECG_BEATS_RING - 1u)

#if TINYECG_PATIENT_CONTEXT
/* floor(log2(count)) for count >= 1: the shift of a running mean that becomes an exponential
 * average once count stops growing (tinyecg.dsp.patient._shift) */
static unsigned log2_floor(unsigned count)
{
    unsigned s = 0;
    while (count > 1u) {
        count >>= 1;
        s++;
    }
    return s;
}

/* floor(diff / 2^shift) for |diff| < 2^29, shift <= 8, without a right shift of a negative
 * number (implementation-defined in C99): shift diff + 2^29 (a multiple of 2^shift) instead */
#define FLOOR_BIAS 536870912 /* 2^29 */
static int32_t floor_shift(int32_t diff, unsigned shift)
{
    return (int32_t)((uint32_t)(diff + FLOOR_BIAS) >> shift) - (int32_t)(FLOOR_BIAS >> shift);
}

/* RR intervals above 2^24 - 1 samples (12.9 h) are taken as 2^24 - 1: A and D stay below
 * 2^28 (tinyecg_dsp.h, tinyecg_longterm_features); the Python reference has no such limit */
#define PATIENT_MAX_RR 16777215

/* One peak of the RR sequence leaves the queue: pre is its real interval, or -1 (the first
 * of a sequence). tinyecg.dsp.patient.longterm_state. */
static int32_t capped_rr(int32_t rr)
{
    return rr > PATIENT_MAX_RR ? PATIENT_MAX_RR : rr;
}

static void longterm_update(tinyecg_longterm_t *lt, int32_t pre)
{
    const int real = pre >= 0;
    pre = capped_rr(pre);
    if (real) {
        const int32_t v = pre * (1 << TINYECG_PATIENT_Q);
        if (lt->mean_count < TINYECG_LONGTERM_RR_COUNT) {
            lt->mean_count++;
        }
        lt->mean16 = lt->mean_count == 1u
                         ? v
                         : lt->mean16 + floor_shift(v - lt->mean16, log2_floor(lt->mean_count));
        if (lt->prev_real) {
            const int32_t d = (pre > lt->prev_pre ? pre - lt->prev_pre : lt->prev_pre - pre) *
                              (1 << TINYECG_PATIENT_Q);
            if (lt->irregularity_count < TINYECG_RR_IRREGULARITY_COUNT) {
                lt->irregularity_count++;
            }
            lt->irregularity16 =
                lt->irregularity_count == 1u
                    ? d
                    : lt->irregularity16 +
                          floor_shift(d - lt->irregularity16, log2_floor(lt->irregularity_count));
        }
        lt->prev_pre = pre;
    }
    lt->prev_real = (uint8_t)real;
}

void tinyecg_template_interleave(tinyecg_beats_t *b, int8_t beat_q[2 * TINYECG_WINDOW])
{
    tinyecg_template_t *tp = &b->tmpl;
    int i;
    if (!tp->have) { /* the first beat: the template starts as its window */
        for (i = 0; i < TINYECG_WINDOW; i++) {
            tp->t[i] = (int16_t)(beat_q[i] * (1 << TINYECG_TEMPLATE_Q));
        }
        tp->have = 1;
    }
    /* backwards, so that q[i] is read before [2i, 2i+1] is written (2i >= i) */
    for (i = TINYECG_WINDOW - 1; i >= 0; i--) {
        /* round half up: (T + 128) >> 8, with T + 32768 + 128 >= 0 shifted (no negative
         * shift), then 128 taken back; -32768 <= T <= 32512 gives -128 .. 127 */
        const int32_t t =
            (int32_t)((uint32_t)(tp->t[i] + 32768 + 128) >> TINYECG_TEMPLATE_Q) - 128;
        beat_q[2 * i] = beat_q[i];
        beat_q[2 * i + 1] = (int8_t)t;
    }
}

void tinyecg_template_update(tinyecg_beats_t *b, const tinyecg_beat_t *beat,
                             const int8_t beat_q[2 * TINYECG_WINDOW])
{
    tinyecg_template_t *tp = &b->tmpl;
    unsigned shift;
    int i;
    if ((int64_t)100 * (1 << TINYECG_PATIENT_Q) * beat->rr.pre_rr <
        (int64_t)TINYECG_TEMPLATE_MIN_PRE_PERCENT * beat->rr.mean_rr16) {
        return; /* premature: not the patient's normal beat */
    }
    if (tp->count < TINYECG_TEMPLATE_COUNT) {
        tp->count++;
    }
    shift = log2_floor(tp->count);
    for (i = 0; i < TINYECG_WINDOW; i++) {
        const int32_t v = beat_q[2 * i] * (1 << TINYECG_TEMPLATE_Q);
        tp->t[i] = (int16_t)(tp->t[i] + floor_shift(v - tp->t[i], shift));
    }
}
#endif

void tinyecg_beats_init(tinyecg_beats_t *b)
{
    memset(b, 0, sizeof *b);
}

void tinyecg_beats_break(tinyecg_beats_t *b)
{
    b->have_last = 0;
    b->n_diffs = 0;
    b->diff_i = 0;
}

void tinyecg_beats_push_sample(tinyecg_beats_t *b, int16_t x)
{
    b->ring[b->n & RING_MASK] = x;
    b->n++;
}

int tinyecg_beats_add_peak(tinyecg_beats_t *b, uint32_t r)
{
    tinyecg_pending_t *p;
    unsigned i;
    if (r >= b->n || (b->have_last && r <= b->last_r)) {
        return -1;
    }
    if (b->pend_len >= TINYECG_BEATS_PENDING) {
        b->overflow++;
        return -1;
    }
    p = &b->pend[(b->pend_head + b->pend_len) % TINYECG_BEATS_PENDING];
    p->r = r;
    if (b->have_last) {
        p->pre = (int32_t)(r - b->last_r);
        b->diffs[b->diff_i] = p->pre;
        b->diff_i = (uint8_t)((b->diff_i + 1u) % TINYECG_LOCAL_BEATS);
        if (b->n_diffs < TINYECG_LOCAL_BEATS) {
            b->n_diffs++;
        }
        p->local_sum = 0;
        for (i = 0; i < b->n_diffs; i++) {
            p->local_sum += b->diffs[i];
        }
        p->local_count = b->n_diffs;
    } else {
        p->pre = -1;
        p->local_sum = 0;
        p->local_count = 0;
    }
    b->pend_len++;
    b->last_r = r;
    b->have_last = 1;
    return 0;
}

int tinyecg_beats_next(tinyecg_beats_t *b, tinyecg_beat_t *out, int final)
{
    while (b->pend_len > 0u) {
        const tinyecg_pending_t *p = &b->pend[b->pend_head];
        const tinyecg_pending_t *next = NULL;
        int32_t pre, post;
        uint32_t start, i;
        int usable;
        if (b->pend_len > 1u) {
            next = &b->pend[(b->pend_head + 1u) % TINYECG_BEATS_PENDING];
            if (next->pre < 0) {
                next = NULL; /* the next peak starts a new sequence */
            }
        }
        if (b->n < p->r + (TINYECG_WINDOW - TINYECG_PRE_R)) {
            if (!final) {
                return 0; /* window not full yet */
            }
            b->skipped++; /* the stream ended inside this window */
#if TINYECG_PATIENT_CONTEXT
            longterm_update(&b->longterm, p->pre);
#endif
            b->pend_head = (uint8_t)((b->pend_head + 1u) % TINYECG_BEATS_PENDING);
            b->pend_len--;
            continue;
        }
        if (next == NULL && b->pend_len == 1u && b->have_last && b->last_r == p->r &&
            b->n < p->r + TINYECG_BEAT_TIMEOUT && !final) {
            return 0; /* the next beat may still come */
        }
        post = next != NULL ? next->pre : -1;
        pre = p->pre;
        if (pre < 0 && post < 0) {
            pre = post = TINYECG_DEFAULT_RR;
        } else if (pre < 0) {
            pre = post;
        } else if (post < 0) {
            post = pre;
        }
        out->r = p->r;
        out->rr.pre_rr = pre;
        out->rr.post_rr = post;
        if (p->local_count > 0) {
            out->rr.local_rr_sum = p->local_sum;
            out->rr.local_rr_count = p->local_count;
        } else {
            out->rr.local_rr_sum = pre;
            out->rr.local_rr_count = 1;
        }
#if TINYECG_PATIENT_CONTEXT
        /* the beat takes A and D as they were before it (A: its own pre until the first
         * interval), then its peak updates them */
        out->rr.mean_rr16 = b->longterm.mean_count > 0u ? b->longterm.mean16
                                                         : capped_rr(pre) * (1 << TINYECG_PATIENT_Q);
        out->rr.irregularity16 = b->longterm.irregularity_count > 0u ? b->longterm.irregularity16
                                                                     : 0;
        longterm_update(&b->longterm, p->pre);
#endif
        start = p->r - TINYECG_PRE_R;
        usable = p->r >= TINYECG_PRE_R && b->n - start <= TINYECG_BEATS_RING;
        b->pend_head = (uint8_t)((b->pend_head + 1u) % TINYECG_BEATS_PENDING);
        b->pend_len--;
        if (!usable) {
            b->skipped++;
            continue;
        }
        for (i = 0; i < TINYECG_WINDOW; i++) {
            out->window[i] = b->ring[(start + i) & RING_MASK];
        }
        return 1;
    }
    return 0;
}
