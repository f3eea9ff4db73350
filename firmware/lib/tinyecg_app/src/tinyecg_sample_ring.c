/*
 * tinyecg_sample_ring.c - single-producer single-consumer sample ring (see
 * tinyecg_sample_ring.h). The indices are published with acquire/release atomics (GCC
 * builtins, inline on every Cortex-M: 32-bit loads and stores plus barriers, no libatomic).
 */
#include "tinyecg_sample_ring.h"

#include <string.h>

void tinyecg_sample_ring_init(tinyecg_sample_ring_t *r)
{
    memset(r, 0, sizeof *r);
}

int tinyecg_sample_ring_push(tinyecg_sample_ring_t *r, int16_t sample)
{
    uint32_t head = r->head; /* only the producer writes head */
    uint32_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (head - tail >= TINYECG_SAMPLE_RING) {
        r->overruns++;
        return -1;
    }
    r->buf[head & TINYECG_SAMPLE_RING_MASK] = sample;
    __atomic_store_n(&r->head, head + 1u, __ATOMIC_RELEASE); /* publish after the data */
    return 0;
}

int tinyecg_sample_ring_pop(tinyecg_sample_ring_t *r, int16_t *sample)
{
    uint32_t tail = r->tail; /* only the consumer writes tail */
    uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (head == tail) {
        return 0;
    }
    *sample = r->buf[tail & TINYECG_SAMPLE_RING_MASK];
    __atomic_store_n(&r->tail, tail + 1u, __ATOMIC_RELEASE); /* free the slot after reading */
    return 1;
}

uint32_t tinyecg_sample_ring_overruns(const tinyecg_sample_ring_t *r)
{
    return __atomic_load_n(&r->overruns, __ATOMIC_RELAXED);
}
