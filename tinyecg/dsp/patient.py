"""The patient's own context: long-term RR state, the RR features relative to it, and the
template beat. The reference of what the device keeps (firmware/lib/tinyecg_core), in
integers wherever the device computes it; training takes the float view of the same
definitions.

For the beats of one stream in order, with the RR context of tinyecg.dsp.rhythm (pre, post,
local sum and count over the last 8 intervals) and `has_pre[i]` true when beat i has a real
previous peak in its sequence (false for the first beat of a record or after a break, whose
pre is its post):

- A (Q4 samples), the long-term mean RR. Beat i's features use A as it was BEFORE beat i;
  then, if has_pre[i]: count += 1 (kept at most 2^K), s = floor(log2(count)),
  A += ((pre_i << 4) - A) >> s (arithmetic shift; the first update sets A = pre_i << 4).
  Until the first update a beat sees A = its own pre << 4. K = LONGTERM_RR_SHIFT.
- D (Q4 samples), the RR irregularity: the same rule with |pre_i - pre_(i-1)| when beat i and
  beat i-1 both have a real pre, K = RR_IRREGULARITY_SHIFT; 0 until the first update.
- Eight features, each a fraction num/den of integers clipped at LONGTERM_FEATURE_CLIP:
  pre/A, post/A, local/A, pre/local, post/pre, A in seconds, D/A, pre in seconds.
- The template T (Q8 of the model's int8 beat input, int16 on the device): set to the first
  usable beat's window << 8; beat i's template input is clamp((T + 128) >> 8) as it was BEFORE
  beat i; then, if beat i is usable and not premature (100 * 16 * pre_i >=
  TEMPLATE_MIN_PRE_PERCENT * A_i), count += 1 (at most 2^TEMPLATE_SHIFT),
  T += ((q_i << 8) - T) >> floor(log2(count)).
State persists across lead-off breaks (the same patient) and is cleared by a reset.
"""

from __future__ import annotations

import numpy as np

from tinyecg.spec import (
    FS,
    LONGTERM_FEATURE_CLIP,
    LONGTERM_RR_SHIFT,
    PATIENT_Q,
    RR_IRREGULARITY_SHIFT,
    TEMPLATE_MIN_PRE_PERCENT,
    TEMPLATE_Q,
    TEMPLATE_SHIFT,
)

LONGTERM_FEATURES = (
    "pre_over_mean",
    "post_over_mean",
    "local_over_mean",
    "pre_over_local",
    "post_over_pre",
    "mean_rr_s",
    "irregularity_over_mean",
    "pre_rr_s",
)
N_LONGTERM_FEATURES = len(LONGTERM_FEATURES)


def _shift(count: int) -> int:
    """floor(log2(count)) for count >= 1."""
    return count.bit_length() - 1


def longterm_state(pre, has_pre) -> tuple[np.ndarray, np.ndarray]:
    """A and D (Q4 samples, int64) as each beat sees them, before its own update."""
    pre = np.asarray(pre, np.int64)
    has_pre = np.asarray(has_pre, bool)
    n = len(pre)
    a_out = np.empty(n, np.int64)
    d_out = np.empty(n, np.int64)
    a = d = None
    count_a = count_d = 0
    max_a, max_d = 1 << LONGTERM_RR_SHIFT, 1 << RR_IRREGULARITY_SHIFT
    prev_real = False
    for i, (p, real) in enumerate(zip(pre.tolist(), has_pre.tolist())):
        a_out[i] = a if a is not None else p << PATIENT_Q
        d_out[i] = d if d is not None else 0
        if real:
            count_a = min(count_a + 1, max_a)
            v = p << PATIENT_Q
            a = v if a is None else a + ((v - a) >> _shift(count_a))
            if prev_real:
                count_d = min(count_d + 1, max_d)
                v = abs(p - int(pre[i - 1])) << PATIENT_Q
                d = v if d is None else d + ((v - d) >> _shift(count_d))
        prev_real = real
    return a_out, d_out


def longterm_fractions(pre, post, local_sum, local_count, mean16, irregularity16):
    """num, den (int64, (n, 8)) of the eight long-term features, before clipping."""
    pre, post, lsum, lcount, a16, d16 = (
        np.asarray(v, np.int64) for v in (pre, post, local_sum, local_count, mean16, irregularity16)
    )
    one = 1 << PATIENT_Q
    seconds = np.full_like(pre, FS)
    num = np.stack(
        [one * pre, one * post, one * lsum, pre * lcount, post, a16, d16, pre],
        axis=-1,
    )
    den = np.stack(
        [a16, a16, lcount * a16, lsum, pre, seconds * one, a16, seconds],
        axis=-1,
    )
    return num, den


def clipped_fractions(num, den):
    """The fractions with num limited to LONGTERM_FEATURE_CLIP * den (the clip, exactly)."""
    return np.minimum(num, LONGTERM_FEATURE_CLIP * den), den


def longterm_features(pre, post, local_sum, local_count, has_pre) -> np.ndarray:
    """float32 (n, 8): the long-term features of a beat sequence (what training feeds)."""
    a16, d16 = longterm_state(pre, has_pre)
    num, den = clipped_fractions(*longterm_fractions(pre, post, local_sum, local_count, a16, d16))
    return (num / den).astype(np.float32)


def template_updates(pre, mean16, usable) -> np.ndarray:
    """bool (n,): the beats that update the template after they were classified."""
    pre = np.asarray(pre, np.int64)
    return np.asarray(usable, bool) & (
        100 * (1 << PATIENT_Q) * pre >= TEMPLATE_MIN_PRE_PERCENT * np.asarray(mean16, np.int64)
    )


def template_inputs_int(q, pre, mean16, usable=None) -> np.ndarray:
    """int8 (n, L): the template channel each beat is given, from its int8 windows q (n, L)
    in stream order, integers only (the device's arithmetic)."""
    q = np.asarray(q, np.int64)
    usable = np.ones(len(q), bool) if usable is None else np.asarray(usable, bool)
    update = template_updates(pre, mean16, usable)
    out = np.zeros(q.shape, np.int64)
    t = None
    count, top = 0, 1 << TEMPLATE_SHIFT
    half = 1 << (TEMPLATE_Q - 1)
    for i in range(len(q)):
        if t is None and usable[i]:
            t = q[i] << TEMPLATE_Q
        if t is not None:
            out[i] = (t + half) >> TEMPLATE_Q
        if update[i]:
            count = min(count + 1, top)
            t = t + (((q[i] << TEMPLATE_Q) - t) >> _shift(count))
    return np.clip(out, -128, 127).astype(np.int8)


def template_inputs_float(w, pre, mean16, usable=None) -> np.ndarray:
    """float32 (n, L): the same template over float model-input windows (training)."""
    w = np.asarray(w, np.float64)
    usable = np.ones(len(w), bool) if usable is None else np.asarray(usable, bool)
    update = template_updates(pre, mean16, usable)
    out = np.zeros(w.shape, np.float64)
    t = None
    count, top = 0, 1 << TEMPLATE_SHIFT
    for i in range(len(w)):
        if t is None and usable[i]:
            t = w[i].copy()
        if t is not None:
            out[i] = t
        if update[i]:
            count = min(count + 1, top)
            t = t + (w[i] - t) / (1 << _shift(count))
    return out.astype(np.float32)
