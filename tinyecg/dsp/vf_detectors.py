"""Classical VF detection on the device's 90 Hz windows: the threshold crossing sample count
(TCSC: Arafat, Chowdhury and Hasan, "A simple time domain algorithm for the detection of
ventricular fibrillation in electrocardiogram", Signal, Image and Video Processing, 2011;
the best of the classical detectors tried in the research round, ahead of the VF filter and
TCI of Amann et al. 2005), with the amplitude gate of tinyecg.dsp.rhythm_frontend, and the
choice of its threshold on training records only.

This is the host-side reference baseline (float, as published); the device is to run the
learned model (its firmware path is still to come); both are scored on the same windows.
"""

from __future__ import annotations

import numpy as np

from tinyecg.spec import RHYTHM_FS

TCSC_BLOCK_S = 3  # Arafat et al.: 3-s blocks, moved by 1 s through the window
TCSC_LEVEL = 0.2  # a sample counts when |x| > 0.2 max |x| of its block
TCSC_TAPER_S = 0.25  # cosine taper at both ends of each block
TCSC_LITERATURE = 48.0  # Arafat et al.'s threshold (% of samples); shockable above it
# Threshold fitted on every non-paced vfdb + cudb + mitdb record present (scripts/
# bench_rhythm.py, "threshold_all_records" in docs/bench/rhythm.json): what `tinyecg evaluate
# --task rhythm` uses on another folder. Cross-validated figures use per-fold thresholds.
TCSC_FITTED = 36.728


def tcsc(windows: np.ndarray) -> np.ndarray:
    """(n, L) windows -> TCSC in % (high = VF-like): mean over the 3-s blocks (1-s step) of
    the share of samples with |x| > 0.2 max|x|, after removing the block mean and a 0.25-s
    cosine taper at both ends."""
    w = np.asarray(windows, np.float64)
    n, length = w.shape
    block = TCSC_BLOCK_S * RHYTHM_FS
    k = int(TCSC_TAPER_S * RHYTHM_FS)
    taper = np.ones(block)
    ramp = 0.5 * (1 - np.cos(np.pi * np.arange(k) / k))
    taper[:k], taper[-k:] = ramp, ramp[::-1]
    total = np.zeros(n)
    starts = range(0, length - block + 1, RHYTHM_FS)
    for s in starts:
        seg = w[:, s : s + block]
        seg = (seg - seg.mean(1, keepdims=True)) * taper
        peak = np.abs(seg).max(1, keepdims=True)
        total += 100.0 * (np.abs(seg) > TCSC_LEVEL * np.maximum(peak, 1e-9)).mean(1)
    return total / len(starts)


def fit_threshold(values: np.ndarray, gate: np.ndarray, shockable: np.ndarray) -> float:
    """The threshold t maximising balanced accuracy of (value > t) & gate on training
    windows (shockable: bool truth), over 400 quantiles of the values."""
    v = np.asarray(values, np.float64)
    y = np.asarray(shockable, bool)
    g = np.asarray(gate, bool)
    if not y.any() or y.all():
        return TCSC_LITERATURE
    best, best_t = -1.0, TCSC_LITERATURE
    for t in np.unique(np.percentile(v, np.linspace(0.5, 99.5, 400))):
        p = (v > t) & g
        score = p[y].mean() + 1 - p[~y].mean()
        if score > best:
            best, best_t = score, float(t)
    return best_t


def tcsc_decisions(values: np.ndarray, gate: np.ndarray, threshold: float) -> np.ndarray:
    """Shockable decisions of the baseline: TCSC above the threshold and the gate open."""
    return (np.asarray(values) > threshold) & np.asarray(gate, bool)
