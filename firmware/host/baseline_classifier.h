/*
 * baseline_classifier.h - a rule-based beat classifier for the host harness.
 *
 * Not a trained model: it exists so the harness prints real beat lines (and stream tests can
 * score a class confusion) before a generated classifier is linked in. It labels a beat
 *   V  when its QRS is wide (more than 24 samples = 67 ms above 40 % of the window peak),
 *   S  when it is narrow and premature (pre_rr < 7/8 of the local mean RR),
 *   N  otherwise.
 * Its preprocessing is its own (window scaled to int8 by its peak, RR ratios in Q6), not the
 * training preprocessing.
 */
#ifndef BASELINE_CLASSIFIER_H
#define BASELINE_CLASSIFIER_H

#include <stdint.h>

#include "tinyecg_classifier.h"
#include "tinyecg_rr.h"

extern const tinyecg_classifier_t baseline_classifier;
void baseline_preprocess_window(const int16_t *raw, int8_t *out);
void baseline_rhythm_features(const tinyecg_rr_t *rr, int8_t *out);

#endif
