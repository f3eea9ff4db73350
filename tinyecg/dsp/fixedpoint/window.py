"""One beat window of raw ADC counts -> z-score (Q20) -> the model's int8 input, for a batch
of windows: centring and block scaling, denoising (:mod:`.dwt`), z-score, quantization.

C: firmware/lib/tinyecg_dsp/src/tinyecg_preprocess.c (tinyecg_preprocess_window).
"""

from __future__ import annotations

import numpy as np

from tinyecg.dsp.fixedpoint.dwt import denoise_int
from tinyecg.dsp.fixedpoint.formats import (
    BLOCK_BITS,
    RECIP_BITS,
    ROUND_BIAS_BITS,
    STD_FLOOR_DIV,
    Z_BITS,
    Z_PRE_BITS,
)
from tinyecg.dsp.fixedpoint.intmath import (
    ceil_log2,
    check_below,
    check_int32,
    div_round,
    isqrt_round,
    reciprocal,
    round_shift,
    rshift_round,
)
from tinyecg.dsp.fixedpoint.params import need
from tinyecg.errors import TinyECGError
from tinyecg.spec import WINDOW


# --------------------------------------------------------------------------- input checks
def as_windows(raw_adc) -> tuple[np.ndarray, bool]:
    """raw_adc as int64 (n, 360) and whether it was a single window (360,)."""
    raw = np.asarray(raw_adc)
    single = raw.ndim == 1
    if single:
        raw = raw[None, :]
    if raw.ndim != 2 or raw.shape[1] != WINDOW:
        raise TinyECGError(f"raw_adc: expected shape (n, {WINDOW}), got {np.shape(raw_adc)}")
    if not np.issubdtype(raw.dtype, np.integer):
        raise TinyECGError(f"raw_adc: expected int16 ADC counts, got dtype {raw.dtype}")
    if raw.size and (raw.min() < -32768 or raw.max() > 32767):
        raise TinyECGError("raw_adc: values outside the int16 range")
    return raw.astype(np.int64), single


def per_window(value, n: int, name: str, lo: int, hi: int) -> np.ndarray:
    """One whole value, or one per window, in lo..hi, as int64 (n,)."""
    arr = np.asarray(value)
    if not (
        np.issubdtype(arr.dtype, np.integer)
        or (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))
    ):
        raise TinyECGError(f"{name}: expected whole ADC counts, got {value!r}")
    if not (arr.ndim == 0 or arr.shape == (n,)):
        raise TinyECGError(f"{name}: expected one value or one per window ({n})")
    arr = np.broadcast_to(arr, (n,)).astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise TinyECGError(f"{name}: values must be in {lo}..{hi}")
    return arr


# --------------------------------------------------------------------------- the pipeline
def _zscore_q(raw: np.ndarray, baseline: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """z-score in Q20 (int64 array (n, 360)) of int64 windows."""
    del baseline  # cancels: see the package docstring (the C ignores it the same way)
    hi = raw.max(axis=1, keepdims=True)
    lo = raw.min(axis=1, keepdims=True)
    x = raw - (hi - (hi - lo) // 2)
    shift = BLOCK_BITS - ceil_log2(np.abs(x).max(axis=1))
    y = denoise_int(x, shift)
    mean = div_round(y.sum(axis=1), WINDOW)[:, None]
    e = y - mean
    check_int32("y - mean", e)
    var = div_round((e * e).sum(axis=1), WINDOW)
    std = isqrt_round(var)
    floor = div_round(gain << shift, STD_FLOOR_DIV)
    std_eff = np.maximum(np.maximum(std, floor), 1)
    check_below("std", std_eff.astype(np.float64), 32)
    m, k = reciprocal(std_eff)  # one division per window instead of one per sample
    # the C multiplies e * 2**pre (an int32) by m and needs the product below the 2**60 bias
    pre = np.maximum(0, Z_PRE_BITS - (k - RECIP_BITS))
    scaled = np.abs(e).max(axis=1) * np.exp2(pre)
    check_below("e * 2**pre", scaled, 31)
    check_below("e * 2**pre * recip", scaled * m, ROUND_BIAS_BITS)
    z = round_shift(e * m[:, None], (k - Z_BITS)[:, None])
    check_int32("z", z)
    return z


def _batched(fn, raw_adc, baseline, gain, chunk: int = 1024) -> tuple[np.ndarray, bool]:
    raw, single = as_windows(raw_adc)
    n = raw.shape[0]
    base = per_window(baseline, n, "baseline", -32768, 32767)
    g = per_window(gain, n, "gain_adu_per_mv", 1, 65535)
    parts = [
        fn(raw[i : i + chunk], base[i : i + chunk], g[i : i + chunk]) for i in range(0, n, chunk)
    ]
    out = np.concatenate(parts) if parts else np.zeros((0, WINDOW), np.int64)
    return out, single


def zscore_windows_int(raw_adc: np.ndarray, baseline, gain_adu_per_mv) -> np.ndarray:
    """The fixed-point z-scored windows (before int8), as float64 (z_q / 2**20)."""
    z, single = _batched(_zscore_q, raw_adc, baseline, gain_adu_per_mv)
    z = z.astype(np.float64) / 2.0**Z_BITS
    return z[0] if single else z


def preprocess_windows_int(
    raw_adc: np.ndarray, baseline, gain_adu_per_mv, params: dict
) -> np.ndarray:
    """int16 windows (n, 360) of raw ADC counts -> the model's int8 input (n, 360), exactly as
    the C library computes it. baseline (ADC counts at 0 mV, int16; checked, but it cancels:
    see the package docstring) and gain (ADC counts per mV, 1..65535) are one value or one per
    window; a single window of shape (360,) gives shape (360,)."""
    m = int(need(params, "quant_mult"))
    k = int(need(params, "quant_shift"))
    zp = int(need(params, "input_zero_point"))

    def run(raw, base, g):
        z = _zscore_q(raw, base, g)
        check_below("z * quant_mult", np.abs(z).astype(np.float64) * m, ROUND_BIAS_BITS)
        return np.clip(rshift_round(z * m, k) + zp, -128, 127)

    q, single = _batched(run, raw_adc, baseline, gain_adu_per_mv)
    q = q.astype(np.int8)
    return q[0] if single else q
