"""The RR context of a beat -> the model's int8 input "rhythm", with integers only.

C: firmware/lib/tinyecg_dsp/src/tinyecg_rhythm.c (tinyecg_rhythm_features).
"""

from __future__ import annotations

import numpy as np

from tinyecg.dsp.fixedpoint.formats import INT32_MAX
from tinyecg.dsp.fixedpoint.params import need
from tinyecg.errors import TinyECGError


# --------------------------------------------------------------------------- rhythm
def _rr_feature(num: np.ndarray, den: np.ndarray, spec: dict) -> np.ndarray:
    """round(num / den * mult / 2**shift) for num >= 0, den >= 1, saturating to 256 (which
    clamps to 127) when the whole part exceeds spec['limit']; exact, no int64 overflow."""
    m, k, limit = int(spec["mult"]), int(spec["shift"]), int(spec["limit"])
    whole = num // den
    rest = num % den
    safe = np.minimum(whole, limit)  # keeps the product in range where it is discarded
    acc = safe * m + (rest * m) // den
    out = (acc + (np.int64(1) << np.int64(k - 1))) >> np.int64(k)
    return np.where(whole > limit, 256, out)


def _int_array(value, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))
    ):
        raise TinyECGError(f"{name}: expected whole sample counts")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < -(2**31) or arr.max() > INT32_MAX):
        raise TinyECGError(f"{name}: values outside the int32 range")
    return arr


def rhythm_features_int(pre_rr, post_rr, local_rr_sum, local_rr_count, params: dict) -> np.ndarray:
    """int8 (n, 5) quantized rhythm features from integer RR data at 360 Hz, integers only.

    Features as tinyecg.dsp.rhythm: pre/360, post/360, local/360 (seconds), pre/local,
    post/local, with local = local_rr_sum / local_rr_count as an exact rational. A count of 0
    means no history: local = pre (as rhythm.py). Each is quantized as
    clamp(round(f / s_r) + zp_r) with round half away from zero, computed as
    round(num / den * mult / 2**shift) on the exact fraction num/den."""
    rhythm = need(params, "rhythm")
    if rhythm is None:
        raise TinyECGError("this model has no rhythm input (params built without rhythm scale)")
    arrays = [
        _int_array(v, n)
        for v, n in (
            (pre_rr, "pre_rr"),
            (post_rr, "post_rr"),
            (local_rr_sum, "local_rr_sum"),
            (local_rr_count, "local_rr_count"),
        )
    ]
    try:
        pre, post, lsum, count = np.broadcast_arrays(*arrays)
    except ValueError:
        raise TinyECGError("pre_rr, post_rr, local_rr_sum, local_rr_count: shapes differ") from None
    pre, post, lsum, count = (np.atleast_1d(a).ravel() for a in (pre, post, lsum, count))
    if pre.size and (pre.min() < 1 or post.min() < 1):
        raise TinyECGError("pre_rr and post_rr must be at least 1 sample")
    if count.size and count.min() < 0:
        raise TinyECGError("local_rr_count must not be negative")
    no_hist = count == 0
    lsum = np.where(no_hist, pre, lsum)
    count = np.where(no_hist, 1, count)
    if lsum.size and np.any(lsum < count):
        raise TinyECGError("local_rr_sum must be at least local_rr_count (each RR >= 1 sample)")
    sec, ratio = rhythm["seconds"], rhythm["ratio"]
    one = np.ones_like(pre)
    feats = np.stack(
        [
            _rr_feature(pre, one, sec),
            _rr_feature(post, one, sec),
            _rr_feature(lsum, count, sec),
            _rr_feature(pre * count, lsum, ratio),
            _rr_feature(post * count, lsum, ratio),
        ],
        axis=-1,
    )
    return np.clip(feats + int(rhythm["zero_point"]), -128, 127).astype(np.int8)
