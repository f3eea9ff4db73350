"""The model's side of the preprocessing: integer multipliers from the quantization of its
inputs (the fields of the C library's tinyecg_preprocess_params_t), plus, for comments and
checks, the fixed design they go with.
"""

from __future__ import annotations

import math
from typing import Any

from tinyecg.dsp import denoise as _ref
from tinyecg.dsp.fixedpoint.formats import (
    BLOCK_BITS,
    DEC_HI,
    DEC_HI_Q,
    DEC_LO,
    DEC_LO_Q,
    FILTER_BITS,
    LEVELS,
    MAX_SHIFT,
    MEDIAN_RANKS,
    REC_HI,
    REC_HI_Q,
    REC_LO,
    REC_LO_Q,
    STD_FLOOR_DIV,
    THR_BITS,
    THR_FLOAT,
    THR_MULT,
    Z_BITS,
)
from tinyecg.errors import TinyECGError
from tinyecg.quantmath import right_shift_multiplier
from tinyecg.spec import BEAT_CHANNELS, FS, PRE_R, WINDOW

#: the RR feature sets a rhythm input may hold, and how many values each is
RHYTHM_FEATURE_SETS = {"local": 5, "longterm": 8}


def _check_zero_point(zp, what: str) -> int:
    if isinstance(zp, bool) or not float(zp).is_integer() or not -128 <= int(zp) <= 127:
        raise TinyECGError(f"{what} zero point {zp!r} is not an int8 value (-128..127)")
    return int(zp)


def _check_scale(scale, what: str) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise TinyECGError(f"{what} scale {scale!r} is not a number") from None
    if not (math.isfinite(s) and s > 0.0):
        raise TinyECGError(f"{what} scale {scale!r} must be a positive finite number")
    return s


def _rr_quant(multiplier: float, what: str) -> dict[str, int]:
    m, k = right_shift_multiplier(multiplier, what, MAX_SHIFT)
    # a whole part (a // b) above this makes the product >= 256: the result saturates at 127
    limit = -(-(256 << k) // m)
    return {"mult": m, "shift": k, "limit": limit}


def preprocess_params(
    input_scale: float,
    input_zero_point: int,
    rhythm_scale: float | None = None,
    rhythm_zero_point: int | None = None,
    rhythm_features: str = "local",
    beat_channels: int = 1,
) -> dict[str, Any]:
    """All integer constants the C needs (plus the floats they came from, for comments).

    input_scale/input_zero_point: the model's int8 "beat" input; rhythm_*: its int8 "rhythm"
    input, or both None for a model without rhythm context. rhythm_features: which set the
    rhythm input holds, "local" (tinyecg.dsp.rhythm.FEATURES, 5) or "longterm"
    (tinyecg.dsp.patient.LONGTERM_FEATURES, 8); beat_channels: 1 (the window) or 2 (the
    window and the patient's template, interleaved, one quantization: spec.BEAT_CHANNELS)."""
    if rhythm_features not in RHYTHM_FEATURE_SETS:
        raise TinyECGError(
            f"rhythm_features must be one of {', '.join(RHYTHM_FEATURE_SETS)}, "
            f"not {rhythm_features!r}"
        )
    if beat_channels not in BEAT_CHANNELS:
        raise TinyECGError(f"beat_channels must be one of {BEAT_CHANNELS}, not {beat_channels!r}")
    s = _check_scale(input_scale, "input")
    zp = _check_zero_point(input_zero_point, "input")
    if (rhythm_scale is None) != (rhythm_zero_point is None):
        raise TinyECGError("rhythm scale and zero point must be given together (or neither)")
    qm, qk = right_shift_multiplier(
        1.0 / (s * 2.0**Z_BITS), "input quantization (1/(s*2^20))", MAX_SHIFT
    )
    params: dict[str, Any] = {
        "window": WINDOW,
        "pre_r": PRE_R,
        "fs": FS,
        "levels": LEVELS,
        "wavelet": _ref.WAVELET,
        "mode": _ref.MODE,
        "filter_bits": FILTER_BITS,
        "dec_lo": list(DEC_LO_Q),
        "dec_hi": list(DEC_HI_Q),
        "rec_lo": list(REC_LO_Q),
        "rec_hi": list(REC_HI_Q),
        "dec_lo_float": list(DEC_LO),
        "dec_hi_float": list(DEC_HI),
        "rec_lo_float": list(REC_LO),
        "rec_hi_float": list(REC_HI),
        "block_bits": BLOCK_BITS,
        "median_ranks": list(MEDIAN_RANKS),
        "thr_bits": THR_BITS,
        "thr_mult": THR_MULT,
        "thr_float": THR_FLOAT,
        "mad_to_sigma": _ref.MAD_TO_SIGMA,
        "universal_factor": _ref.UNIVERSAL_FACTOR,
        "z_bits": Z_BITS,
        "std_floor_mv": _ref.STD_FLOOR_MV,
        "std_floor_div": STD_FLOOR_DIV,
        "input_scale": s,
        "input_zero_point": zp,
        "quant_mult": qm,
        "quant_shift": qk,
        "beat_channels": beat_channels,
        "rhythm": None,
    }
    if not math.isclose(_ref.STD_FLOOR_MV * STD_FLOOR_DIV, 1.0):
        raise AssertionError("std floor changed in denoise.py: update STD_FLOOR_DIV")
    if rhythm_scale is not None:
        rs = _check_scale(rhythm_scale, "rhythm")
        rzp = _check_zero_point(rhythm_zero_point, "rhythm")
        params["rhythm"] = {
            "scale": rs,
            "zero_point": rzp,
            "fs": FS,
            "seconds": _rr_quant(1.0 / (FS * rs), "rhythm seconds (1/(360*s))"),
            "ratio": _rr_quant(1.0 / rs, "rhythm ratio (1/s)"),
        }
        if rhythm_features != "local":  # today's params stay as they were, key for key
            params["rhythm"]["features"] = rhythm_features
    return params


def need(params: dict, key: str):
    """params[key], or the TinyECGError that says how to build params."""
    try:
        return params[key]
    except (TypeError, KeyError):
        raise TinyECGError(f"params: missing {key!r} (build them with preprocess_params)") from None
