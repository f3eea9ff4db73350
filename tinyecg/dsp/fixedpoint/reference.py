"""What the integer pipeline is tested against: the float reference on the same windows, its
int8 quantization, the comparison figures, and full-scale stress windows.
"""

from __future__ import annotations

import math

import numpy as np

from tinyecg.dsp import denoise as _ref
from tinyecg.dsp.fixedpoint.window import (
    as_windows,
    per_window,
    preprocess_windows_int,
    zscore_windows_int,
)
from tinyecg.spec import WINDOW


# --------------------------------------------------------------------------- stress input
def stress_windows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-scale int16 windows that push every bound (constants, square waves, alternating
    +-32767, single spikes, sawtooth, uniform noise, 1-count signals), each with baselines
    -32768, 0, 32767 and gains 1, 200, 65535: (raw (n, 360) int16, baseline (n,), gain (n,))."""
    t = np.arange(WINDOW)
    lo, hi = -32768, 32767
    shapes = [
        np.full(WINDOW, hi),
        np.full(WINDOW, lo),
        np.zeros(WINDOW),
        np.where(t % 2 == 0, 32767, -32767),  # alternating +-32767
        np.where(t % 2 == 0, hi, lo),  # alternating full scale
        np.where((t // 4) % 2 == 0, hi, lo),  # square waves
        np.where((t // 45) % 2 == 0, hi, lo),
        np.where(t < 180, hi, lo),
        np.where(t % 3 == 0, hi, lo),
        np.where(t == 180, hi, lo),
        np.where(t == 0, lo, hi),  # single full-scale spikes
        lo + (t * 65535) // (WINDOW - 1),  # full-scale sawtooth
        np.where(t < 180, hi, lo) + (t == 270),  # 1-count spike on a step
        np.where(t % 2 == 0, 1, -1),
        np.where(t == 100, 1, 0),  # 1-count signals
    ]
    rng = np.random.default_rng(7)
    shapes += [rng.integers(lo, hi + 1, WINDOW) for _ in range(4)]
    raws, bases, gains = [], [], []
    for shape in shapes:
        for base in (lo, 0, hi):
            for gain in (1, 200, 65535):
                raws.append(np.clip(shape, lo, hi))
                bases.append(base)
                gains.append(gain)
    return np.array(raws, np.int16), np.array(bases, np.int64), np.array(gains, np.int64)


# --------------------------------------------------------------------------- comparison
def quantize_float(z: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The float reference's int8 quantization: clamp(round_half_away(z / s) + zp)."""
    v = np.asarray(z, dtype=np.float64) / float(scale)
    r = np.sign(v) * np.floor(np.abs(v) + 0.5)
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


def zscore_windows_float(raw_adc, baseline, gain_adu_per_mv) -> np.ndarray:
    """The float reference (tinyecg.dsp.denoise in float64) on the same windows, in mV."""
    raw, _ = as_windows(raw_adc)
    n = raw.shape[0]
    base = per_window(baseline, n, "baseline", -32768, 32767)
    g = per_window(gain_adu_per_mv, n, "gain_adu_per_mv", 1, 65535)
    mv = (raw - base[:, None]) / g[:, None].astype(np.float64)
    return _ref.zscore(_ref.denoise(mv))


def compare_with_float(raw_adc, baseline, gain, params) -> dict[str, float]:
    """Fixed-point vs float reference on the same windows: SNR of the z-scored windows
    (10 log10(sum z_float**2 / sum (z_fixed - z_float)**2), all windows together), the
    largest absolute z error, and the fraction of int8 model inputs that agree exactly."""
    z_fixed = np.atleast_2d(zscore_windows_int(raw_adc, baseline, gain))
    z_float = np.atleast_2d(zscore_windows_float(raw_adc, baseline, gain))
    q_fixed = np.atleast_2d(preprocess_windows_int(raw_adc, baseline, gain, params))
    q_float = quantize_float(z_float, params["input_scale"], params["input_zero_point"])
    err = z_fixed - z_float
    noise = float(np.sum(err * err))
    signal = float(np.sum(z_float * z_float))
    diff = np.abs(q_fixed.astype(np.int16) - q_float.astype(np.int16))
    return {
        "snr_db": math.inf if noise == 0 else 10.0 * math.log10(signal / noise),
        "max_abs_err": float(np.abs(err).max()) if err.size else 0.0,
        "int8_agreement": float(np.mean(diff == 0)) if diff.size else 1.0,
        "int8_max_diff": int(diff.max()) if diff.size else 0,
        "windows": int(z_fixed.shape[0]),
    }
