"""Quantization arithmetic, in one place for the fixed-point preprocessing and the C backend.

TFLite's conventions (tensorflow/lite/kernels/internal/quantization_util.cc): a real
multiplier is stored as a Q31 integer `q` in [2**30, 2**31) and an exponent `shift`, with
real = q * 2**(shift - 31). The preprocessing writes the same thing as a right shift
k = 31 - shift (real = q * 2**-k); `right_shift_multiplier` gives that form.
"""

from __future__ import annotations

import math

import numpy as np

from tinyecg.errors import TinyECGError


def round_half_away(x: float) -> int:
    """std::round: the nearest integer, ties away from zero (exact for doubles)."""
    a = abs(x)
    n = math.floor(a)
    if a - n >= 0.5:
        n += 1
    return int(n) if x >= 0 else -int(n)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: (q, shift) with real = q * 2**(shift - 31), q a Q31 int32
    in [2**30, 2**31) (0, 0 for 0 and for values below 2**-31), double-rounding build
    (TFLITE_SINGLE_ROUNDING off)."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    q = round_half_away(frac * (1 << 31))
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q), int(shift)


def right_shift_multiplier(value: float, what: str, max_shift: int) -> tuple[int, int]:
    """value = m * 2**-k with m in [2**30, 2**31) and 1 <= k <= max_shift: the form the
    fixed-point preprocessing applies as (x * m + round) >> k. `what` names the value in
    the error raised when it is not positive or needs a shift outside that range."""
    if not (math.isfinite(value) and value > 0.0):
        raise TinyECGError(f"{what}: multiplier {value!r} is not a positive finite number")
    m, shift = quantize_multiplier(value)
    k = 31 - shift
    if m == 0 or not 1 <= k <= max_shift:
        raise TinyECGError(
            f"{what}: multiplier {value:.6g} needs a shift of {k}, outside "
            f"1..{max_shift} (the scale is implausible for this input)"
        )
    return m, k


def quantize_f32(scale: float, zero_point: int, value: float) -> int:
    """kernel_util.cc Quantize(): zero_point + round(value / scale) in float32 arithmetic."""
    return zero_point + round_half_away(float(np.float32(value) / np.float32(scale)))


def float32_parts(x: float) -> tuple[int, int]:
    """(mant, exp) with float32(x) == mant * 2**exp exactly, mant odd (or 0): how generated
    headers state a tensor scale so C can compare it without rounding."""
    v = float(np.float32(x))
    if v == 0.0:
        return 0, 0
    m, e = math.frexp(v)
    mant, exp = int(m * 2**24), e - 24
    while mant % 2 == 0:
        mant //= 2
        exp += 1
    return mant, exp
