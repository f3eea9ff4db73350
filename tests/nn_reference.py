"""Integer references for the int8 kernels of firmware/lib/tinyecg_nn, written from TFLite's
reference kernels (tensorflow/lite/kernels/internal/reference, gemmlowp fixedpoint.h) in
Python integers, independently of the C and of tinyecg.export.cbackend.

Python's >> and & act on two's complement like int32 in C; C's integer division truncates
toward zero (tdiv here). Arrays are NHWC, batch 1, as numpy int arrays.
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(x: int) -> int:
    """x as a C int32 (two's complement wrap-around)."""
    return ((int(x) + (1 << 31)) % (1 << 32)) - (1 << 31)


def tdiv(a: int, b: int) -> int:
    """C's a / b: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return tdiv(ab + nudge, 1 << 31)


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap32(x * (1 << left)), multiplier), right)


def clamp(v, lo: int = -128, hi: int = 127):
    return np.clip(v, lo, hi)


def _requant(acc, mult, shift, out_offset, act_min, act_max):
    """Per output channel (last axis) MultiplyByQuantizedMultiplier + offset, clamped."""
    acc = np.asarray(acc, dtype=object)
    out = np.empty(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        c = idx[-1] if len(mult) > 1 else 0
        out[idx] = mbqm(int(acc[idx]), int(mult[c]), int(shift[c])) + out_offset
    return clamp(out, act_min, act_max)


def conv_per_channel(
    x, w, bias, mult, shift, stride, pad, in_offset, out_offset, act_min, act_max, out_hw
):
    """reference_integer_ops::ConvPerChannel: x [h, w, c], w [oc, kh, kw, c]; taps in the
    padding are skipped (equivalently: padded with the input zero point, -in_offset)."""
    h, wd, _ = x.shape
    oc, kh, kw, _ = w.shape
    oh, ow = out_hw
    xp = np.pad(
        x.astype(np.int64) + in_offset,
        ((pad[0], kh + stride[0] * oh), (pad[1], kw + stride[1] * ow), (0, 0)),
    )
    acc = np.zeros((oh, ow, oc), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            win = xp[oy * stride[0] : oy * stride[0] + kh, ox * stride[1] : ox * stride[1] + kw]
            acc[oy, ox] = np.tensordot(w.astype(np.int64), win, axes=([1, 2, 3], [0, 1, 2]))
    if bias is not None:
        acc += np.asarray(bias, np.int64)
    return _requant(acc, mult, shift, out_offset, act_min, act_max)


def depthwise_conv_per_channel(
    x,
    w,
    bias,
    mult,
    shift,
    stride,
    pad,
    depth_mult,
    in_offset,
    out_offset,
    act_min,
    act_max,
    out_hw,
):
    """reference_integer_ops::DepthwiseConvPerChannel: w [kh, kw, oc], oc = ic * m + k."""
    kh, kw, oc = w.shape
    oh, ow = out_hw
    xr = np.repeat(x.astype(np.int64) + in_offset, depth_mult, axis=2)
    xp = np.pad(xr, ((pad[0], kh + stride[0] * oh), (pad[1], kw + stride[1] * ow), (0, 0)))
    acc = np.zeros((oh, ow, oc), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            win = xp[oy * stride[0] : oy * stride[0] + kh, ox * stride[1] : ox * stride[1] + kw]
            acc[oy, ox] = (win * w.astype(np.int64)).sum(axis=(0, 1))
    if bias is not None:
        acc += np.asarray(bias, np.int64)
    return _requant(acc, mult, shift, out_offset, act_min, act_max)


def fully_connected(x, w, bias, mult, shift, in_offset, w_offset, out_offset, act_min, act_max):
    """reference_integer_ops::FullyConnected: x [batches, depth], w [units, depth]."""
    acc = (x.astype(np.int64) + in_offset) @ (w.astype(np.int64) + w_offset).T
    if bias is not None:
        acc += np.asarray(bias, np.int64)
    return _requant(acc, mult, shift, out_offset, act_min, act_max)


def _windows(h, w, k, stride, pad, out_hw):
    for oy in range(out_hw[0]):
        y0 = oy * stride[0] - pad[0]
        for ox in range(out_hw[1]):
            x0 = ox * stride[1] - pad[1]
            yield oy, ox, slice(max(y0, 0), min(y0 + k[0], h)), slice(max(x0, 0), min(x0 + k[1], w))


def average_pool(x, k, stride, pad, act_min, act_max, out_hw):
    """reference_integer_ops::AveragePool: the taps inside the input, (sum +- count/2) /
    count truncated (half away from zero)."""
    h, w, c = x.shape
    out = np.zeros((*out_hw, c), np.int64)
    for oy, ox, ys, xs in _windows(h, w, k, stride, pad, out_hw):
        win = x[ys, xs].astype(np.int64)
        n = win.shape[0] * win.shape[1]
        for ch in range(c):
            s = int(win[:, :, ch].sum())
            out[oy, ox, ch] = tdiv(s + n // 2, n) if s > 0 else tdiv(s - n // 2, n)
    return clamp(out, act_min, act_max)


def max_pool(x, k, stride, pad, act_min, act_max, out_hw):
    h, w, c = x.shape
    out = np.zeros((*out_hw, c), np.int64)
    for oy, ox, ys, xs in _windows(h, w, k, stride, pad, out_hw):
        out[oy, ox] = x[ys, xs].astype(np.int64).max(axis=(0, 1))
    return clamp(out, act_min, act_max)


def mean(x, outer, count, inner, in_zp, mult, shift, out_zp):
    """reference_ops::QuantizedMeanOrSum (mult and shift with 1/count folded in)."""
    s = x.astype(np.int64).reshape(outer, count, inner).sum(axis=1)
    return clamp(np.vectorize(lambda v: mbqm(int(v) - in_zp * count, mult, shift))(s) + out_zp)


def requantize(x, in_zp, mult, shift, out_zp):
    """reference_ops::Requantize, int8 -> int8."""
    return clamp(np.vectorize(lambda v: mbqm(int(v) - in_zp, mult, shift))(x) + out_zp)


# ---- softmax: gemmlowp fixed point, as reference_ops::Softmax (int8 in, int8 out) ----------


def _sat_shl(x: int, e: int) -> int:
    """SaturatingRoundingMultiplyByPOT for e > 0."""
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return wrap32(x << e)


def _exp_on_interval(a: int) -> int:
    """exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31."""
    c = 1895147668  # exp(-1/8)
    one_third = 715827883
    x = a + (1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(srdhm(x4_over_4 + x3, one_third) + x2, 1)
    return c + srdhm(c, x + poly)


def exp_on_negative_values(a: int) -> int:
    """gemmlowp exp_on_negative_values: Q5.26 in (a <= 0), Q0.31 out."""
    quarter = 1 << 24
    a_mod = (a & (quarter - 1)) - quarter
    remainder = a_mod - a
    result = _exp_on_interval(_sat_shl(a_mod, 5))
    for k, m in enumerate((1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)):
        if remainder & (1 << (24 + k)):
            result = srdhm(result, m)
    return INT32_MAX if a == 0 else result


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    s = a + INT32_MAX
    half_denominator = tdiv(s + (1 if s >= 0 else -1), 2)
    x = 1515870810 + srdhm(half_denominator, -1010580540)
    for _ in range(3):
        one_minus_dx = (1 << 29) - srdhm(half_denominator, x)
        x = x + _sat_shl(srdhm(x, one_minus_dx), 2)
    return _sat_shl(x, 1)


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """(mult, left_shift, diff_min) as TFLite's PreprocessSoftmaxScaling (5 integer bits)
    and CalculateInputRadius give them."""
    import math

    real = min(beta * input_scale * (1 << 26), (1 << 31) - 1.0)
    frac, shift = math.frexp(real)
    q = int(math.floor(abs(frac) * (1 << 31) + 0.5))
    if q == 1 << 31:
        q //= 2
        shift += 1
    radius = math.floor(31.0 * (1 << 26) / (1 << shift))
    return q, shift, -radius


def softmax(x, mult: int, left_shift: int, diff_min: int):
    """reference_ops::Softmax for int8 -> int8 (output scale 1/256, zero point -128); x is
    [rows, depth]."""
    out = np.zeros(x.shape, np.int64)
    for r, row in enumerate(x.astype(np.int64)):
        mx = int(row.max())
        scaled = [
            srdhm(wrap32((int(v) - mx) * (1 << left_shift)), mult)
            if int(v) - mx >= diff_min
            else None
            for v in row
        ]
        total = sum(rdbpot(exp_on_negative_values(s), 12) for s in scaled if s is not None)
        headroom = 32 - total.bit_length() if total > 0 else 32
        shifted = one_over_one_plus_x_for_x_in_0_1(wrap32((total << headroom) - (1 << 31)))
        for c, s in enumerate(scaled):
            if s is None:
                out[r, c] = -128
            else:
                v = rdbpot(srdhm(shifted, exp_on_negative_values(s)), 12 - headroom + 31 - 8) - 128
                out[r, c] = min(max(v, -128), 127)
    return out
