"""Rhythm context from R-peak sample indices alone, so a device computes it from its own
detector exactly as training did.

For beat i with R-peak positions r (samples at 360 Hz):
- pre_rr  = r[i] - r[i-1]  (missing at the first beat: post_rr; both missing: 360)
- post_rr = r[i+1] - r[i]  (missing at the last beat: pre_rr)
- local_rr = mean of the up to LOCAL_BEATS most recent RR intervals ending at beat i
  (r[j] - r[j-1] for j in i-LOCAL_BEATS+1 .. i; at the first beat: pre_rr)
Features (float32, in this order): pre_rr/fs, post_rr/fs, local_rr/fs (seconds),
pre_rr/local_rr, post_rr/local_rr.
"""

from __future__ import annotations

import numpy as np

from tinyecg.spec import DEFAULT_RR, LOCAL_BEATS

FEATURES = ("pre_rr_s", "post_rr_s", "local_rr_s", "pre_ratio", "post_ratio")
N_FEATURES = len(FEATURES)


def rr_intervals(r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer pre/post RR (samples) and the float local mean RR for every beat."""
    r = np.asarray(r_peaks, dtype=np.int64)
    n = len(r)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    diffs = np.diff(r)
    pre = np.empty(n, dtype=np.int64)
    post = np.empty(n, dtype=np.int64)
    pre[1:] = diffs
    post[:-1] = diffs
    if n == 1:
        pre[0] = post[0] = DEFAULT_RR
    else:
        pre[0] = diffs[0]
        post[-1] = diffs[-1]
    # local mean over the last LOCAL_BEATS intervals that end at or before beat i
    csum = np.concatenate([[0], np.cumsum(diffs)])  # csum[k] = sum of diffs[:k]
    idx = np.arange(n)
    hi = idx  # intervals diffs[j-1] for j <= i  ->  diffs[:i]
    lo = np.maximum(hi - LOCAL_BEATS, 0)
    count = hi - lo
    local = np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), pre)
    local = local.astype(np.float64)
    return pre, post, local


def rhythm_features(r_peaks: np.ndarray, fs: float = 360.0) -> np.ndarray:
    pre, post, local = rr_intervals(r_peaks)
    return (
        np.stack([pre / fs, post / fs, local / fs, pre / local, post / local], axis=-1).astype(
            np.float32
        )
        if len(pre)
        else np.zeros((0, len(FEATURES)), np.float32)
    )
