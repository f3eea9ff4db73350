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
 *
 * With TINYECG_PATIENT_CONTEXT (a build whose model is a patient-context model: its beat
 * input has 2 channels; the build defines it from the export, tinyecg_exported.c checks it)
 * a beat also carries the patient's long-term RR state as it was before the beat
 * (tinyecg/dsp/patient.py, kept by tinyecg_beats.c): mean_rr16 = A and irregularity16 = D,
 * Q4 samples. Without it (0, the default) nothing here changes.
 */
#ifndef TINYECG_RR_H
#define TINYECG_RR_H

#include <stdint.h>

#include "tinyecg_spec.h" /* TINYECG_LOCAL_BEATS, TINYECG_DEFAULT_RR (tinyecg/spec.py) */

#ifndef TINYECG_PATIENT_CONTEXT
#define TINYECG_PATIENT_CONTEXT 0 /* today's models: no patient state anywhere */
#endif

typedef struct {
    int32_t pre_rr, post_rr, local_rr_sum, local_rr_count;
#if TINYECG_PATIENT_CONTEXT
    int32_t mean_rr16;      /* A before this beat: long-term mean RR, Q4 samples */
    int32_t irregularity16; /* D before this beat: long-term mean |pre - previous pre|, Q4 */
#endif
} tinyecg_rr_t;

#endif /* TINYECG_RR_H */
