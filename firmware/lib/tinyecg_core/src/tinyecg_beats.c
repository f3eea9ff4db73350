/*
 * tinyecg_beats.c - beat windows and RR context (see tinyecg_beats.h, tinyecg_rr.h).
 */
#include "tinyecg_beats.h"

#include <string.h>

#define RING_MASK (TINYECG_BEATS_RING - 1u)

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
