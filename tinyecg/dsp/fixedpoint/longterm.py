"""The patient's long-term RR context -> the model's int8 input "rhythm" of a patient-context
model (tinyecg.dsp.patient.LONGTERM_FEATURES), with integers only.

Each of the eight features is an exact fraction num/den (tinyecg.dsp.patient.longterm_fractions,
clipped at LONGTERM_FEATURE_CLIP by clipped_fractions) and is quantized as today's RR features
are (fixedpoint.rhythm): round(num / den / s_r) + zp_r, round half away from zero, with the one
"ratio" multiplier 1/s_r of the rhythm input (the two "seconds" features are fractions with
denominator 360 * 16 or 360, so they need no multiplier of their own).

C: firmware/lib/tinyecg_dsp/src/tinyecg_longterm.c (tinyecg_longterm_features). The C takes
int32 RR intervals below 2**24 samples (12.9 h): every denominator then stays below 2**31 and
every product of the exact rounding inside int64.
"""

from __future__ import annotations

import numpy as np

from tinyecg.dsp import patient
from tinyecg.dsp.fixedpoint.params import need
from tinyecg.dsp.fixedpoint.rhythm import _int_array, _rr_feature
from tinyecg.errors import TinyECGError
from tinyecg.spec import WINDOW

#: RR intervals (samples) the C computes exactly: 2**24 (12.9 h at 360 Hz)
MAX_RR = 1 << 24


def longterm_features_int(
    pre_rr, post_rr, local_rr_sum, local_rr_count, mean16, irregularity16, params: dict
) -> np.ndarray:
    """int8 (n, 8): the quantized long-term features of beats with RR context (pre, post,
    local sum and count as the core gives them: count >= 1) and the long-term state A, D
    (Q4, tinyecg.dsp.patient.longterm_state: as each beat saw it before its own update)."""
    rhythm = need(params, "rhythm")
    if rhythm is None or rhythm.get("features") != "longterm":
        raise TinyECGError(
            "this model takes no long-term rhythm input (params built without "
            "rhythm_features='longterm')"
        )
    names = ("pre_rr", "post_rr", "local_rr_sum", "local_rr_count", "mean16", "irregularity16")
    arrays = [
        _int_array(v, n)
        for v, n in zip(
            (pre_rr, post_rr, local_rr_sum, local_rr_count, mean16, irregularity16), names
        )
    ]
    try:
        cols = [np.atleast_1d(a).ravel() for a in np.broadcast_arrays(*arrays)]
    except ValueError:
        raise TinyECGError(f"{', '.join(names)}: shapes differ") from None
    pre, post, lsum, count, a16, d16 = cols
    if pre.size and (pre.min() < 1 or post.min() < 1 or count.min() < 1 or a16.min() < 1):
        raise TinyECGError("pre_rr, post_rr, local_rr_count and mean16 must be at least 1")
    if pre.size and (np.any(lsum < count) or d16.min() < 0):
        raise TinyECGError("local_rr_sum must be >= local_rr_count and irregularity16 >= 0")
    num, den = patient.clipped_fractions(
        *patient.longterm_fractions(pre, post, lsum, count, a16, d16)
    )
    q = _rr_feature(num, den, rhythm["ratio"])
    return np.clip(q + int(rhythm["zero_point"]), -128, 127).astype(np.int8)


def interleave(q: np.ndarray, template: np.ndarray) -> np.ndarray:
    """int8 (n, 2 * WINDOW): [q0, t0, q1, t1, ...], the (1, WINDOW, 2) beat input flattened."""
    q = np.asarray(q, np.int8).reshape(-1, WINDOW)
    return np.stack([q, np.asarray(template, np.int8).reshape(-1, WINDOW)], axis=-1).reshape(
        len(q), 2 * WINDOW
    )


def patient_inputs_int(
    q: np.ndarray, rr: np.ndarray, mean16: np.ndarray, irregularity16: np.ndarray, params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """The int8 inputs of beats in stream order, all classified (the template follows them):
    q (n, WINDOW) their preprocessed windows, rr (n, 4) their RR context, A and D as they
    saw them -> (beat (n, 2 * WINDOW) interleaved, rhythm (n, 8))."""
    q = np.asarray(q, np.int8).reshape(-1, WINDOW)
    rr = np.asarray(rr, np.int64).reshape(-1, 4)
    if len(q) == 0:
        return np.zeros((0, 2 * WINDOW), np.int8), np.zeros((0, 8), np.int8)
    template = patient.template_inputs_int(q, rr[:, 0], mean16)
    rhythm = longterm_features_int(
        rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], mean16, irregularity16, params
    )
    return interleave(q, template), rhythm
