"""Float reference of the per-window preprocessing (what training sees).

A device sees one 360-sample window at a time, so every step here works on a single window
(or a batch of independent windows), never on a whole record:

1. Wavelet denoising: ``sym4`` DWT, 3 levels, ``periodization`` extension (every level halves
   the length exactly: 360 -> 180 -> 90 -> 45, so no boundary padding to reproduce on the
   device). Noise level from the finest details, sigma = median(|cD1|) / 0.6745 (Donoho's
   MAD estimate); universal threshold thr = sigma * sqrt(2 ln 360) (VisuShrink); soft
   thresholding of all three detail levels; the approximation is kept.
2. z-score over the window: (x - mean) / max(std, STD_FLOOR_MV), population std.

Both steps are invariant to the ADC gain (the threshold scales with the signal), so the
fixed-point version can work in raw ADC counts; only the std floor needs the gain.
"""

from __future__ import annotations

import math

import numpy as np
import pywt

from tinyecg.spec import WINDOW

WAVELET = "sym4"
LEVEL = 3
MODE = "periodization"
MAD_TO_SIGMA = 0.6745  # median(|N(0,1)|)
UNIVERSAL_FACTOR = math.sqrt(2.0 * math.log(WINDOW))  # sqrt(2 ln n), n = window length
STD_FLOOR_MV = 0.01  # a flat (lead-off) window stays finite; 2 ADC counts on MIT-BIH

PARAMS = {
    "wavelet": WAVELET,
    "level": LEVEL,
    "mode": MODE,
    "threshold": "universal-soft (sigma = median|cD1|/0.6745, thr = sigma*sqrt(2 ln N))",
    "threshold_levels": list(range(1, LEVEL + 1)),
    "zscore": "population",
    "std_floor_mv": STD_FLOOR_MV,
    "window": WINDOW,
}


def denoise(windows: np.ndarray) -> np.ndarray:
    """Denoise one window (shape (360,)) or a batch (shape (n, 360)) in its own units."""
    x = np.asarray(windows, dtype=np.float64)
    coeffs = pywt.wavedec(x, WAVELET, mode=MODE, level=LEVEL, axis=-1)
    sigma = np.median(np.abs(coeffs[-1]), axis=-1, keepdims=True) / MAD_TO_SIGMA
    thr = sigma * UNIVERSAL_FACTOR
    coeffs = [coeffs[0]] + [np.sign(d) * np.maximum(np.abs(d) - thr, 0.0) for d in coeffs[1:]]
    return pywt.waverec(coeffs, WAVELET, mode=MODE, axis=-1)


def zscore(windows: np.ndarray, std_floor: float = STD_FLOOR_MV) -> np.ndarray:
    x = np.asarray(windows, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return (x - mean) / np.maximum(std, std_floor)


def preprocess(windows_mv: np.ndarray) -> np.ndarray:
    """Window(s) in millivolts -> denoised, z-scored float32 model input (same shape)."""
    return zscore(denoise(windows_mv)).astype(np.float32)
