/*
 * tinyecg_rr.h - RR context of one beat, in samples at 360 Hz.
 *
 * Exactly the definition of tinyecg/dsp/rhythm.py (the Python reference used in training),
 * computed from the detector's own R-peaks:
 *   pre_rr   = r[i] - r[i-1]        first beat: post_rr; only beat: 360 (1 s)
 *   post_rr  = r[i+1] - r[i]        last beat (no next beat within 2 s): pre_rr
 *   local_rr = local_rr_sum / local_rr_count, the mean of the up to 8 most recent intervals
 *              r[j] - r[j-1] ending at beat i (first beat: sum = pre_rr, count = 1)
 * The generated preprocessing turns this into the model's quantized rhythm features.
 */
#ifndef TINYECG_RR_H
#define TINYECG_RR_H

#include <stdint.h>

#include "tinyecg_spec.h" /* TINYECG_LOCAL_BEATS, TINYECG_DEFAULT_RR (tinyecg/spec.py) */

typedef struct {
    int32_t pre_rr, post_rr, local_rr_sum, local_rr_count;
} tinyecg_rr_t;

#endif /* TINYECG_RR_H */
