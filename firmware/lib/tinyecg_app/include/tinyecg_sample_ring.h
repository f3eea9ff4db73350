/*
 * tinyecg_sample_ring.h - samples from the sampling interrupt (or thread) to loop(): one
 * producer, one consumer, no lock. The ring lives with the board layer (only an ADC build has
 * one: TINYECG_SAMPLE_RING samples, 2 KB by default).
 */
#ifndef TINYECG_SAMPLE_RING_H
#define TINYECG_SAMPLE_RING_H

#include <stdint.h>

#include "ecg_config.h" /* TINYECG_SAMPLE_RING */

#ifdef __cplusplus
extern "C" {
#endif

#if (TINYECG_SAMPLE_RING & (TINYECG_SAMPLE_RING - 1u)) != 0u
#error "TINYECG_SAMPLE_RING must be a power of two"
#endif
#define TINYECG_SAMPLE_RING_MASK (TINYECG_SAMPLE_RING - 1u)

typedef struct {
    int16_t buf[TINYECG_SAMPLE_RING];
    uint32_t head;     /* written by the producer only */
    uint32_t tail;     /* written by the consumer only */
    uint32_t overruns; /* samples dropped because the ring was full (producer) */
} tinyecg_sample_ring_t;

void tinyecg_sample_ring_init(tinyecg_sample_ring_t *r);
int tinyecg_sample_ring_push(tinyecg_sample_ring_t *r, int16_t sample); /* 0, or -1 if full */
int tinyecg_sample_ring_pop(tinyecg_sample_ring_t *r, int16_t *sample); /* 1, or 0 if empty */
uint32_t tinyecg_sample_ring_overruns(const tinyecg_sample_ring_t *r);

#ifdef __cplusplus
}
#endif

#endif /* TINYECG_SAMPLE_RING_H */
