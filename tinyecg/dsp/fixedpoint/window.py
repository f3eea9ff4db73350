"""Integer reference of the per-window preprocessing: what the generated C computes, bit for bit.

The float definition is :mod:`tinyecg.dsp.denoise` (sym4, 3 levels, periodization, MAD
universal soft threshold on cD1..cD3, z-score with a 0.01 mV std floor) followed by the int8
quantization of the model input, ``q = clamp(round(z / s) + zp, -128, 127)``. This module does
the same with integers only (numpy int64, vectorised over a batch of windows); the C rendered
from ``templates/tinyecg_preprocess.c.j2`` computes the very same integers (where it takes a
cheaper route to one of them, an exact identity, the text below says which).

Number formats
--------------
* ``x = raw - c`` with ``c = hi - (hi - lo) // 2`` the midrange of the window (hi, lo: its
  largest and smallest sample): exact ADC counts, ``-32768 <= x <= 32767``.  The float
  reference subtracts the baseline, but denoising (the DC is all in cA3) and the z-score are
  shift-invariant, so the output cannot depend on the baseline (and does not); centring on the
  midrange instead leaves every bit to the signal, whatever its DC offset.
* Block exponent ``S`` (per window): the largest ``S`` in [0, 22] with ``max|x| * 2**S <= 2**22``,
  i.e. ``S = 22 - ceil(log2(max|x|))`` (``S = 22`` for a constant window); ``S >= 7`` always.
  ``v = x * 2**S`` is Q(S) ADC counts.  Every wavelet coefficient and the denoised window ``y``
  stay in Q(S) counts.  Denoising and z-score are linear in the signal apart from the std floor,
  so this per-window scaling changes nothing but the precision: every window uses ~22 bits.
* sym4 filters: Q31 int32 (``round(h * 2**31)``, four arrays: pywt's dec_lo, dec_hi, rec_lo,
  rec_hi; the largest tap, 0.8037, is 1726015827 < 2**31).  Each filter output is
  ``round_shift(sum(h_q * in), 31)``, the sum exact in int64.
* Threshold: ``thr = rshift_round((a + b) * THR_MULT, 29)`` where ``a <= b`` are the two middle
  values (ranks 89 and 90 of 180) of ``|cD1|`` and ``THR_MULT = round(2**29 * sqrt(2 ln 360) /
  (2 * 0.6745))`` (Q29).  The even-count median is ``(a + b) / 2`` and is never rounded on its
  own: the halving is folded into THR_MULT, so the only rounding is that of ``thr``.  The C
  finds a and b by radix selection (6-bit digits, at most 4 passes), not by sorting.
* z-score: Q20 int32 (``z_q = round(z * 2**20)``); ``|z| < 46.5`` (below) so ``|z_q| < 2**26``.
  The division by the std is a multiplication by its reciprocal, computed once per window:
  ``1 / std_eff = r * 2**-kr`` with ``kr = 29 + bitlength(std_eff)`` and ``r = div_round(2**kr,
  std_eff)`` in [2**29, 2**30] (:func:`reciprocal`; relative error <= 2**-30).
* Quantization of z: ``1 / (s * 2**20) = m * 2**-k`` with ``m`` in [2**30, 2**31) (int32) and
  ``k`` the right shift, as TFLite's QuantizeMultiplier (there the shift is ``31 - k``):
  ``q = clamp(rshift_round(z_q * m, k) + zp, -128, 127)``.
* Rhythm features: the same multiplier form for ``1 / (360 s_r)`` (seconds) and ``1 / s_r``
  (ratios), applied to exact rationals (see :func:`rhythm_features_int`).

Rounding (integers only)
------------------------
* ``round_shift(a, k) = (a + 2**(k-1)) >> k = floor(a / 2**k + 1/2)``: round half up.  Every
  filter output and ``z_q``.  The C adds ``2**60`` (a multiple of ``2**k``, larger than any
  |a| it rounds) before shifting, so that the shift is of a non-negative number (a right shift
  of a negative number is implementation-defined in C99) and the filter accumulators start at
  ``2**60 + 2**30`` instead of 0: the rounding then costs one shift.  When ``k >= 33`` only the
  high word matters: ``floor((a + 2**(k-1)) / 2**k) = floor((floor(a / 2**32) + 2**(k-33)) /
  2**(k-32))``; the C uses this for ``z_q`` (scaling ``y - m`` by ``2**max(0, 24 -
  bitlength(std_eff))`` first, which lifts the shift to 33..41) and for the quantization.
* ``rshift_round(a, k) = sign(a) * ((|a| + 2**(k-1)) >> k)``: round half away from zero.  The
  threshold and the int8 quantization (the float reference quantizes with the same rule, as
  TFLite's Quantize does).
* ``div_round(a, d) = sign(a) * ((2|a| + d) // (2d))`` for ``d > 0``: round half away from zero.
* mean ``m = div_round(sum y, 360)``; ``var = div_round(sum (y - m)**2, 360)`` (population; the
  C gets the same integer as ``sum y**2 - m * (2 sum y - 360 m)`` in one pass over y);
  ``std = isqrt_round(var)`` = the integer nearest to ``sqrt(var)`` (no ties exist:
  ``(r+1/2)**2`` is never an integer); std floor ``fl = div_round(gain * 2**S, 100)`` (0.01 mV
  in Q(S) counts); ``std_eff = max(std, fl, 1)``; ``z_q = round_shift((y - m) * r, kr - 20)``.

Headroom for every int16 window (any raw, any gain in 1..65535)
---------------------------------------------------------------
``|v| <= 2**22`` by the choice of S.  A filter output is at most ``sum|h_q| * B / 2**31``
(+1/2) for input bound B: sum|h| = 1.8487 for both analysis filters.  A synthesis output
takes the 4 rec_lo taps of one parity on cA and the 4 rec_hi taps of the same parity on cD;
those sum to 0.9648 and 0.8838 (or 0.8838 and 0.9648 for the other parity).  So, in units of
2**22: cA1, cD1 <= 1.849; cA2, cD2 <= 3.418; cA3, cD3 <= 6.318; soft thresholding only shrinks
details; synthesis: cA2' <= 0.9648 * 6.318 + 0.8838 * 6.318 = 11.68, cA1' <= 0.9648 * 11.68 +
0.8838 * 3.418 = 14.29, y <= 0.9648 * 14.29 + 0.8838 * 1.849 = 15.42, i.e. ``|y| < 2**25.95``:
every stored value fits int32 (the C keeps them in int32_t).  The filter sums are below
``15.42 * 2**22 * 2**31 < 2**56.95``, so the C's accumulators ``2**60 + 2**30 + sum`` stay in
``(0, 2**60.2)``: non-negative, no int64 overflow.  ``sum y < 2**34.5``; ``sum y**2 < 360 *
2**51.9 < 2**60.4``; ``|y - m| <= 2 max|y| < 2**26.95`` (int32) and ``sum (y - m)**2 <=
360 * 4 * 15.42**2 * 2**44 < 2**62.4 < 2**63``; ``|sum y - 360 m| <= 180`` so ``|m (2 sum y -
360 m)| <= 360 m**2 + 360 |m| < 2**60.4``.  ``gain * 2**S <= 65535 * 2**22 < 2**38``;
``std_eff <= max(2 max|y|, 65535 * 2**22 / 100) < 2**31.36``, so its bit length is at most
32, ``2 * 2**kr + std_eff <= 2**62 + 2**32`` (the reciprocal's division) and ``r <= 2**30``.
z bound: with ``T = sum (y - m)**2`` every ``|y_i - m| <= sqrt(T)``.  If ``var = 0`` then
``T < 180`` and ``std_eff >= 1``: ``|z| < 13.5``.  Otherwise ``sqrt(var) >= 1``,
``std >= sqrt(var) - 1/2 >= sqrt(var) / 2`` and ``T <= 360 (var + 1/2) <= 540 var``:
``|y_i - m| <= 2 sqrt(540) std_eff < 46.48 std_eff``; with the reciprocal's error,
``|z| <= 46.48 (1 + 2**-30) + 2**-21 < 46.5``.  Hence ``|z_q| < 2**25.54`` and
``z_q * m < 2**56.6``.  The scaled difference: ``|y - m| * 2**pre < 46.48 * 2**bitlength(std_eff)
* 2**(24 - bitlength) < 2**29.54`` when ``pre > 0`` (else ``< 2**26.95``): an int32, and its
product with ``r`` is below ``2**59.54``, under the ``2**60`` bias.
:func:`headroom` recomputes these bounds from the integer taps (HEADROOM_LIMITS says what each
must stay below); the reference also checks the int32 bounds and the biased products at run
time, and the tests run full-scale extreme windows through Python and C (the C under
-fsanitize=undefined).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pywt

from tinyecg.dsp import denoise as _ref
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS, PRE_R, WINDOW

LEVELS = _ref.LEVEL  # 3

FILTER_BITS = 31  # sym4 taps in Q31; every filter output is round_shift(acc, 31)
BLOCK_BITS = 22  # max|x| * 2**S <= 2**22
ROUND_BIAS_BITS = 60  # the C adds 2**60 to accumulators (|acc| < 2**57) before shifting
RECIP_BITS = 29  # 1/std_eff = m * 2**-(29 + bitlength(std_eff)), m in [2**29, 2**30]
Z_PRE_BITS = 24  # the C scales e by 2**max(0, 24 - bitlength(std_eff)) before multiplying
Z_MAX = 46.5  # |z| < 2 sqrt(540) = 46.48 (see the headroom proof)
THR_BITS = 29  # threshold multiplier in Q29
Z_BITS = 20  # z-score in Q20
STD_FLOOR_DIV = 100  # floor 0.01 mV = gain / 100 ADC counts
MEDIAN_RANKS = (WINDOW // 4 - 1, WINDOW // 4)  # 89, 90 of the 180 |cD1| values
MAX_SHIFT = 52  # multiplier shifts allowed (rhythm saturation test needs k <= 52)

INT32_MAX = 2**31 - 1

_WAVELET = pywt.Wavelet(_ref.WAVELET)
DEC_LO = tuple(float(v) for v in _WAVELET.dec_lo)
DEC_HI = tuple(float(v) for v in _WAVELET.dec_hi)
REC_LO = tuple(float(v) for v in _WAVELET.rec_lo)
REC_HI = tuple(float(v) for v in _WAVELET.rec_hi)
TAPS = len(DEC_LO)  # 8
ANALYSIS_OFFSET = TAPS // 2  # pywt periodization: out[o] = sum_j h[j] x[(2o + F/2 - j) mod N]
SYNTH_OFFSET = TAPS // 2 - 1  # pywt periodization: x[(2o + j - (F/2 - 1)) mod N] += g[j] c[o]

THR_FLOAT = _ref.UNIVERSAL_FACTOR / (2.0 * _ref.MAD_TO_SIGMA)  # applied to (a + b) = 2 median


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _q(values, bits: int) -> tuple[int, ...]:
    return tuple(_round_half_away(v * 2.0**bits) for v in values)


DEC_LO_Q = _q(DEC_LO, FILTER_BITS)
DEC_HI_Q = _q(DEC_HI, FILTER_BITS)
REC_LO_Q = _q(REC_LO, FILTER_BITS)
REC_HI_Q = _q(REC_HI, FILTER_BITS)
THR_MULT = _round_half_away(THR_FLOAT * 2.0**THR_BITS)


# --------------------------------------------------------------------------- index tables
def analysis_index(n: int) -> np.ndarray:
    """(n/2, 8) input indices: cA[o] = sum_j dec_lo[j] * x[idx[o, j]] (pywt periodization)."""
    o = np.arange(n // 2)[:, None]
    j = np.arange(TAPS)[None, :]
    return (2 * o + ANALYSIS_OFFSET - j) % n


def synthesis_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """For an output of length n: (n, 4) tap numbers j and (n, 4) coefficient indices o with
    out[m] = sum_k rec_lo[j[m,k]] * cA[o[m,k]] + rec_hi[j[m,k]] * cD[o[m,k]]: the gather form
    of pywt's periodized upsampling convolution (taps whose parity makes m + 3 - j even)."""
    half = n // 2
    m = np.arange(n)[:, None]
    k = np.arange(TAPS // 2)[None, :]
    j = 2 * k + 1 - (m % 2)  # m even -> odd taps, m odd -> even taps
    o = ((m + SYNTH_OFFSET - j) // 2) % half
    return j, o


_AIDX = {n: analysis_index(n) for n in (WINDOW, WINDOW // 2, WINDOW // 4)}
_SIDX = {n: synthesis_index(n) for n in (WINDOW, WINDOW // 2, WINDOW // 4)}


# --------------------------------------------------------------------------- float version
def dwt_float(x: np.ndarray, lo=DEC_LO, hi=DEC_HI) -> tuple[np.ndarray, np.ndarray]:
    """One periodized analysis level in float64 with the integer version's indexing."""
    x = np.asarray(x, dtype=np.float64)
    g = x[..., _AIDX[x.shape[-1]]]
    return g @ np.asarray(lo), g @ np.asarray(hi)


def idwt_float(ca: np.ndarray, cd: np.ndarray, lo=REC_LO, hi=REC_HI) -> np.ndarray:
    """One periodized synthesis level in float64 with the integer version's indexing."""
    j, o = _SIDX[2 * ca.shape[-1]]
    lo, hi = np.asarray(lo), np.asarray(hi)
    return (ca[..., o] * lo[j] + cd[..., o] * hi[j]).sum(axis=-1)


# --------------------------------------------------------------------------- integer helpers
def rshift_round(a: np.ndarray, k: int) -> np.ndarray:
    """a / 2**k rounded half away from zero (int64, k >= 1)."""
    a = np.asarray(a, dtype=np.int64)
    half = np.int64(1) << np.int64(k - 1)
    mag = (np.abs(a) + half) >> np.int64(k)
    return np.where(a < 0, -mag, mag)


def round_shift(a: np.ndarray, k) -> np.ndarray:
    """floor(a / 2**k + 1/2), i.e. a / 2**k rounded half up (int64; k >= 1, one value or an
    array broadcasting against a). The C gets the same from an unsigned shift of a + 2**60."""
    a = np.asarray(a, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    return (a + (np.int64(1) << (k - 1))) >> k


def div_round(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """a / d rounded half away from zero (int64, d > 0)."""
    a = np.asarray(a, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    mag = (2 * np.abs(a) + d) // (2 * d)
    return np.where(a < 0, -mag, mag)


def isqrt_round(v: np.ndarray) -> np.ndarray:
    """The integer nearest to sqrt(v) for int64 v in [0, 2**62]."""
    v = np.asarray(v, dtype=np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    for _ in range(2):  # float sqrt is within 1 of the true root here; make it exact
        r = np.where(r * r > v, r - 1, r)
        r = np.where((r + 1) * (r + 1) <= v, r + 1, r)
    return np.where(v - r * r > r, r + 1, r)  # sqrt(v) >= r + 1/2  <=>  v - r*r > r


def ceil_log2(m: np.ndarray) -> np.ndarray:
    """Smallest c >= 0 with 2**c >= m, for 0 <= m < 2**17 (the C counts up the same way)."""
    m = np.asarray(m, dtype=np.int64)
    return sum((m > (1 << c)).astype(np.int64) for c in range(17))


def reciprocal(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1/d = m * 2**-k for integers 1 <= d < 2**32: k = RECIP_BITS + bitlength(d) and
    m = div_round(2**k, d), so 2**29 <= m <= 2**30 and |m * 2**-k - 1/d| <= 2**-30 / d."""
    d = np.asarray(d, dtype=np.int64)
    bits = np.frexp(d.astype(np.float64))[1].astype(np.int64)  # bit length (exact: d < 2**53)
    k = RECIP_BITS + bits
    return div_round(np.int64(1) << k, d), k


def quantize_multiplier(value: float, what: str) -> tuple[int, int]:
    """value = m * 2**-k with m in [2**30, 2**31) (int32) and 1 <= k <= MAX_SHIFT."""
    if not (math.isfinite(value) and value > 0.0):
        raise TinyECGError(f"{what}: multiplier {value!r} is not a positive finite number")
    frac, exp = math.frexp(value)  # value = frac * 2**exp, frac in [0.5, 1)
    m = _round_half_away(frac * 2.0**31)
    k = 31 - exp
    if m == 2**31:
        m //= 2
        k -= 1
    if not 1 <= k <= MAX_SHIFT:
        raise TinyECGError(f"{what}: multiplier {value:.6g} needs a shift of {k}, outside "
                           f"1..{MAX_SHIFT} (the scale is implausible for this input)")
    return m, k


def _check_int32(name: str, values: np.ndarray) -> None:
    if values.size and int(np.abs(values).max()) > INT32_MAX:
        raise AssertionError(f"fixed-point overflow: {name} exceeds int32 (headroom broken)")


def _check_below(name: str, magnitude: np.ndarray, bits: int) -> None:
    """magnitude (float64, may be an exact bound the C computes) must stay below 2**bits."""
    if np.size(magnitude) and float(np.max(magnitude)) >= 2.0**bits:
        raise AssertionError(f"fixed-point overflow: {name} reaches 2**{bits} (headroom broken)")


# --------------------------------------------------------------------------- parameters
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
    m, k = quantize_multiplier(multiplier, what)
    # a whole part (a // b) above this makes the product >= 256: the result saturates at 127
    limit = -(-(256 << k) // m)
    return {"mult": m, "shift": k, "limit": limit}


def preprocess_params(input_scale: float, input_zero_point: int,
                      rhythm_scale: float | None = None,
                      rhythm_zero_point: int | None = None) -> dict[str, Any]:
    """All integer constants the C needs (plus the floats they came from, for comments).

    input_scale/input_zero_point: the model's int8 "beat" input; rhythm_*: its int8 "rhythm"
    input, or both None for a model without rhythm context."""
    s = _check_scale(input_scale, "input")
    zp = _check_zero_point(input_zero_point, "input")
    if (rhythm_scale is None) != (rhythm_zero_point is None):
        raise TinyECGError("rhythm scale and zero point must be given together (or neither)")
    qm, qk = quantize_multiplier(1.0 / (s * 2.0**Z_BITS), "input quantization (1/(s*2^20))")
    params: dict[str, Any] = {
        "window": WINDOW, "pre_r": PRE_R, "fs": FS, "levels": LEVELS,
        "wavelet": _ref.WAVELET, "mode": _ref.MODE,
        "filter_bits": FILTER_BITS,
        "dec_lo": list(DEC_LO_Q), "dec_hi": list(DEC_HI_Q),
        "rec_lo": list(REC_LO_Q), "rec_hi": list(REC_HI_Q),
        "dec_lo_float": list(DEC_LO), "dec_hi_float": list(DEC_HI),
        "rec_lo_float": list(REC_LO), "rec_hi_float": list(REC_HI),
        "block_bits": BLOCK_BITS,
        "median_ranks": list(MEDIAN_RANKS),
        "thr_bits": THR_BITS, "thr_mult": THR_MULT, "thr_float": THR_FLOAT,
        "mad_to_sigma": _ref.MAD_TO_SIGMA, "universal_factor": _ref.UNIVERSAL_FACTOR,
        "z_bits": Z_BITS,
        "std_floor_mv": _ref.STD_FLOOR_MV, "std_floor_div": STD_FLOOR_DIV,
        "input_scale": s, "input_zero_point": zp,
        "quant_mult": qm, "quant_shift": qk,
        "rhythm": None,
    }
    if not math.isclose(_ref.STD_FLOOR_MV * STD_FLOOR_DIV, 1.0):
        raise AssertionError("std floor changed in denoise.py: update STD_FLOOR_DIV")
    if rhythm_scale is not None:
        rs = _check_scale(rhythm_scale, "rhythm")
        rzp = _check_zero_point(rhythm_zero_point, "rhythm")
        params["rhythm"] = {
            "scale": rs, "zero_point": rzp, "fs": FS,
            "seconds": _rr_quant(1.0 / (FS * rs), "rhythm seconds (1/(360*s))"),
            "ratio": _rr_quant(1.0 / rs, "rhythm ratio (1/s)"),
        }
    return params


def _need(params: dict, key: str):
    try:
        return params[key]
    except (TypeError, KeyError):
        raise TinyECGError(f"params: missing {key!r} (build them with preprocess_params)") from None


# --------------------------------------------------------------------------- the pipeline
def _as_windows(raw_adc) -> tuple[np.ndarray, bool]:
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


def _per_window(value, n: int, name: str, lo: int, hi: int) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.integer) or
            (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))):
        raise TinyECGError(f"{name}: expected whole ADC counts, got {value!r}")
    arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 or arr.shape == (n,) else None
    if arr is None:
        raise TinyECGError(f"{name}: expected one value or one per window ({n})")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise TinyECGError(f"{name}: values must be in {lo}..{hi}")
    return arr


def _denoise_int(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Denoised window y (int64, Q(S) counts) from x = raw - midrange (int64 counts)."""
    a = x << shift[:, None]  # v, Q(S)
    _check_int32("v", a)
    details = []
    for _ in range(LEVELS):
        idx = _AIDX[a.shape[1]]
        acc_lo = np.zeros((a.shape[0], idx.shape[0]), np.int64)
        acc_hi = np.zeros_like(acc_lo)
        for j in range(TAPS):
            tap = a[:, idx[:, j]]
            acc_lo += DEC_LO_Q[j] * tap
            acc_hi += DEC_HI_Q[j] * tap
        lo = round_shift(acc_lo, FILTER_BITS)
        hi = round_shift(acc_hi, FILTER_BITS)
        _check_int32("analysis", lo)
        _check_int32("analysis", hi)
        details.append(hi)
        a = lo
    mags = np.abs(details[0])
    mid = np.partition(mags, MEDIAN_RANKS, axis=1)[:, list(MEDIAN_RANKS)]
    thr = rshift_round((mid[:, 0] + mid[:, 1]) * THR_MULT, THR_BITS)[:, None]
    for level in range(LEVELS - 1, -1, -1):
        d = details[level]
        d = np.where(d < 0, -1, 1) * np.maximum(np.abs(d) - thr, 0)
        j, o = _SIDX[2 * a.shape[1]]
        lo_taps = np.asarray(REC_LO_Q, np.int64)[j]
        hi_taps = np.asarray(REC_HI_Q, np.int64)[j]
        acc = np.zeros((a.shape[0], o.shape[0]), np.int64)
        for k in range(o.shape[1]):
            acc += a[:, o[:, k]] * lo_taps[:, k] + d[:, o[:, k]] * hi_taps[:, k]
        a = round_shift(acc, FILTER_BITS)
        _check_int32("synthesis", a)
    return a


def _zscore_q(raw: np.ndarray, baseline: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """z-score in Q20 (int64 array (n, 360)) of int64 windows."""
    del baseline  # cancels: see the module docstring (the C ignores it the same way)
    hi = raw.max(axis=1, keepdims=True)
    lo = raw.min(axis=1, keepdims=True)
    x = raw - (hi - (hi - lo) // 2)
    shift = BLOCK_BITS - ceil_log2(np.abs(x).max(axis=1))
    y = _denoise_int(x, shift)
    mean = div_round(y.sum(axis=1), WINDOW)[:, None]
    e = y - mean
    _check_int32("y - mean", e)
    var = div_round((e * e).sum(axis=1), WINDOW)
    std = isqrt_round(var)
    floor = div_round(gain << shift, STD_FLOOR_DIV)
    std_eff = np.maximum(np.maximum(std, floor), 1)
    _check_below("std", std_eff.astype(np.float64), 32)
    m, k = reciprocal(std_eff)  # one division per window instead of one per sample
    # the C multiplies e * 2**pre (an int32) by m and needs the product below the 2**60 bias
    pre = np.maximum(0, Z_PRE_BITS - (k - RECIP_BITS))
    scaled = np.abs(e).max(axis=1) * np.exp2(pre)
    _check_below("e * 2**pre", scaled, 31)
    _check_below("e * 2**pre * recip", scaled * m, ROUND_BIAS_BITS)
    z = round_shift(e * m[:, None], (k - Z_BITS)[:, None])
    _check_int32("z", z)
    return z


def _batched(fn, raw_adc, baseline, gain, chunk: int = 1024) -> tuple[np.ndarray, bool]:
    raw, single = _as_windows(raw_adc)
    n = raw.shape[0]
    base = _per_window(baseline, n, "baseline", -32768, 32767)
    g = _per_window(gain, n, "gain_adu_per_mv", 1, 65535)
    parts = [fn(raw[i:i + chunk], base[i:i + chunk], g[i:i + chunk]) for i in range(0, n, chunk)]
    out = np.concatenate(parts) if parts else np.zeros((0, WINDOW), np.int64)
    return out, single


def zscore_windows_int(raw_adc: np.ndarray, baseline, gain_adu_per_mv) -> np.ndarray:
    """The fixed-point z-scored windows (before int8), as float64 (z_q / 2**20)."""
    z, single = _batched(_zscore_q, raw_adc, baseline, gain_adu_per_mv)
    z = z.astype(np.float64) / 2.0**Z_BITS
    return z[0] if single else z


def preprocess_windows_int(raw_adc: np.ndarray, baseline, gain_adu_per_mv,
                           params: dict) -> np.ndarray:
    """int16 windows (n, 360) of raw ADC counts -> the model's int8 input (n, 360), exactly as
    the generated C computes it. baseline (ADC counts at 0 mV, int16; checked, but it cancels:
    see the module docstring) and gain (ADC counts per mV, 1..65535) are one value or one per
    window; a single window of shape (360,) gives shape (360,)."""
    m = int(_need(params, "quant_mult"))
    k = int(_need(params, "quant_shift"))
    zp = int(_need(params, "input_zero_point"))

    def run(raw, base, g):
        z = _zscore_q(raw, base, g)
        _check_below("z * quant_mult", np.abs(z).astype(np.float64) * m, ROUND_BIAS_BITS)
        return np.clip(rshift_round(z * m, k) + zp, -128, 127)

    q, single = _batched(run, raw_adc, baseline, gain_adu_per_mv)
    q = q.astype(np.int8)
    return q[0] if single else q


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
    if not (np.issubdtype(arr.dtype, np.integer) or
            (np.issubdtype(arr.dtype, np.floating) and np.all(np.mod(arr, 1) == 0))):
        raise TinyECGError(f"{name}: expected whole sample counts")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < -2**31 or arr.max() > INT32_MAX):
        raise TinyECGError(f"{name}: values outside the int32 range")
    return arr


def rhythm_features_int(pre_rr, post_rr, local_rr_sum, local_rr_count,
                        params: dict) -> np.ndarray:
    """int8 (n, 5) quantized rhythm features from integer RR data at 360 Hz, integers only.

    Features as tinyecg.dsp.rhythm: pre/360, post/360, local/360 (seconds), pre/local,
    post/local, with local = local_rr_sum / local_rr_count as an exact rational. A count of 0
    means no history: local = pre (as rhythm.py). Each is quantized as
    clamp(round(f / s_r) + zp_r) with round half away from zero, computed as
    round(num / den * mult / 2**shift) on the exact fraction num/den."""
    rhythm = _need(params, "rhythm")
    if rhythm is None:
        raise TinyECGError("this model has no rhythm input (params built without rhythm scale)")
    arrays = [_int_array(v, n) for v, n in ((pre_rr, "pre_rr"), (post_rr, "post_rr"),
                                               (local_rr_sum, "local_rr_sum"),
                                               (local_rr_count, "local_rr_count"))]
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
    feats = np.stack([
        _rr_feature(pre, one, sec),
        _rr_feature(post, one, sec),
        _rr_feature(lsum, count, sec),
        _rr_feature(pre * count, lsum, ratio),
        _rr_feature(post * count, lsum, ratio),
    ], axis=-1)
    return np.clip(feats + int(rhythm["zero_point"]), -128, 127).astype(np.int8)


# --------------------------------------------------------------------------- stress input
def stress_windows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-scale int16 windows that push every bound (constants, square waves, alternating
    +-32767, single spikes, sawtooth, uniform noise, 1-count signals), each with baselines
    -32768, 0, 32767 and gains 1, 200, 65535: (raw (n, 360) int16, baseline (n,), gain (n,))."""
    t = np.arange(WINDOW)
    lo, hi = -32768, 32767
    shapes = [
        np.full(WINDOW, hi), np.full(WINDOW, lo), np.zeros(WINDOW),
        np.where(t % 2 == 0, 32767, -32767),                      # alternating +-32767
        np.where(t % 2 == 0, hi, lo),                             # alternating full scale
        np.where((t // 4) % 2 == 0, hi, lo),                      # square waves
        np.where((t // 45) % 2 == 0, hi, lo),
        np.where(t < 180, hi, lo),
        np.where(t % 3 == 0, hi, lo),
        np.where(t == 180, hi, lo), np.where(t == 0, lo, hi),     # single full-scale spikes
        lo + (t * 65535) // (WINDOW - 1),                         # full-scale sawtooth
        np.where(t < 180, hi, lo) + (t == 270),                   # 1-count spike on a step
        np.where(t % 2 == 0, 1, -1), np.where(t == 100, 1, 0),    # 1-count signals
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
    raw, _ = _as_windows(raw_adc)
    n = raw.shape[0]
    base = _per_window(baseline, n, "baseline", -32768, 32767)
    g = _per_window(gain_adu_per_mv, n, "gain_adu_per_mv", 1, 65535)
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


# --------------------------------------------------------------------------- headroom
#: what each headroom() figure must stay below, in bits: int32 storage (31), the 2**60 bias
#: that keeps the C's accumulators non-negative, int64 (63), the uint32 bit length of std (32)
HEADROOM_LIMITS = {
    "v": 31, "coefficients": 31, "y": 31, "filter_accumulator": ROUND_BIAS_BITS,
    "biased_accumulator": 63, "sum_y": 63, "sum_y2": 63, "mean_term": 63, "sum_sq": 63,
    "e": 31, "std": 32, "recip_numerator": 63, "e_scaled": 31, "z_product": ROUND_BIAS_BITS,
    "z_q": 31, "quant_product": ROUND_BIAS_BITS, "floor_numerator": 63,
}


def headroom() -> dict[str, float]:
    """log2 of the worst-case magnitude of every stored value, accumulator and product, computed
    from the integer taps for |v| <= 2**BLOCK_BITS (the module docstring's proof); each must stay
    below HEADROOM_LIMITS."""
    def filt(taps, bound):
        acc = sum(abs(t) for t in taps) * bound
        return acc, (acc + 2**(FILTER_BITS - 1)) >> FILTER_BITS

    def synth(bound_a, bound_d):
        acc = max(sum(abs(REC_LO_Q[j]) * bound_a + abs(REC_HI_Q[j]) * bound_d
                      for j in range(p, TAPS, 2)) for p in (0, 1))
        return acc, (acc + 2**(FILTER_BITS - 1)) >> FILTER_BITS

    v = 2**BLOCK_BITS
    accs, a, dets = [], v, []
    for _ in range(LEVELS):
        acc_lo, lo = filt(DEC_LO_Q, a)
        acc_hi, hi = filt(DEC_HI_Q, a)
        accs += [acc_lo, acc_hi]
        dets.append(hi)
        a = lo
    coeff = max([a] + dets)
    for d in reversed(dets):
        acc, a = synth(a, d)
        accs.append(acc)
        coeff = max(coeff, a)
    y = a
    bias = 2**ROUND_BIAS_BITS
    std = 2 * y + 1  # sqrt(var) <= max|y - mean| <= 2 max|y|, and the floor:
    floor = (2 * 65535 * 2**BLOCK_BITS + STD_FLOOR_DIV) // (2 * STD_FLOOR_DIV)
    std = max(std, floor)
    bits = std.bit_length()
    # |e| < Z_MAX * std_eff < Z_MAX * 2**bl and |e| <= 2 max|y|, for every bit length bl of std_eff
    e_scaled = max(min(Z_MAX * 2.0**bl, 2.0 * y) * 2**max(0, Z_PRE_BITS - bl)
                   for bl in range(1, bits + 1))
    z_q = Z_MAX * 2**Z_BITS
    return {
        "v": math.log2(v), "coefficients": math.log2(coeff), "y": math.log2(y),
        "filter_accumulator": math.log2(max(accs)),
        "biased_accumulator": math.log2(bias + 2**(FILTER_BITS - 1) + max(accs)),
        "sum_y": math.log2(WINDOW * y), "sum_y2": math.log2(WINDOW * y * y),
        "mean_term": math.log2(WINDOW * y * y + WINDOW * y),
        "sum_sq": math.log2(WINDOW * (2 * y) ** 2), "e": math.log2(2 * y),
        "std": math.log2(std), "recip_numerator": math.log2(2**(RECIP_BITS + bits + 1) + std),
        "e_scaled": math.log2(e_scaled), "z_product": math.log2(e_scaled * 2**(RECIP_BITS + 1)),
        "z_q": math.log2(z_q), "quant_product": math.log2(z_q * 2**31),
        "floor_numerator": math.log2(65535 * 2**BLOCK_BITS),
    }


# --------------------------------------------------------------------------- measurement
def measure_records(records: list[str] | None = None, data_dir: str | None = None,
                    scale: float = 0.05, zp: int = -20, echo=print) -> dict[str, float]:
    """Fixed vs float over every beat window of whole records (docs/preprocessing.md): one
    line per record through echo, and the totals (snr_db, max_abs_err, int8_agreement,
    int8_max_diff, windows, seconds for the integer pipeline) returned."""
    import time

    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import list_records, load_record, resolve_data_dir

    root = resolve_data_dir(data_dir)
    params = preprocess_params(scale, zp)
    records = records or list_records(root)
    echo(f"input scale {scale}, zero point {zp}; data {root}")
    echo(f"{'record':>6} {'beats':>6} {'SNR dB':>8} {'max|dz|':>10} {'int8 agree':>11} "
          f"{'max dq':>6} {'int s':>6}")
    tot = {"n": 0, "sig": 0.0, "noise": 0.0, "err": 0.0, "agree": 0, "vals": 0, "dq": 0, "t": 0.0}

    def row(name, n, sig, noise, err, agree, vals, dq, dt):
        snr = 10.0 * math.log10(sig / noise) if noise else math.inf
        echo(f"{name:>6} {n:>6} {snr:8.1f} {err:10.2e} {agree / vals:11.5f} {dq:>6} {dt:6.2f}")
        return snr

    for name in records:
        rec = load_record(root, name)
        if rec is None:
            continue
        beats = beats_from_record(rec, labels="aami")
        if len(beats) == 0:
            continue
        gain = int(round(float(rec.gain)))
        t0 = time.perf_counter()
        q = preprocess_windows_int(beats.raw, rec.baseline, gain, params)
        dt = time.perf_counter() - t0
        z = zscore_windows_int(beats.raw, rec.baseline, gain)
        zf = zscore_windows_float(beats.raw, rec.baseline, gain)
        qf = quantize_float(zf, scale, zp)
        vals = (len(beats), float(np.sum(zf * zf)), float(np.sum((z - zf) ** 2)),
                float(np.abs(z - zf).max()), int(np.sum(q == qf)), q.size,
                int(np.abs(q.astype(int) - qf).max()), dt)
        row(name, *vals)
        for key, v in zip(("n", "sig", "noise", "err", "agree", "vals", "dq", "t"), vals):
            tot[key] = max(tot[key], v) if key in ("err", "dq") else tot[key] + v
    if not tot["n"]:
        raise TinyECGError(f"{root}: no beats found in {', '.join(records)}")
    snr = row("all", *tot.values())
    return {"snr_db": snr, "max_abs_err": tot["err"], "int8_agreement": tot["agree"] / tot["vals"],
            "int8_max_diff": tot["dq"], "windows": tot["n"], "seconds": tot["t"]}


if __name__ == "__main__":  # python -m tinyecg.dsp.fixedpoint [--data DIR] [records...]
    import argparse

    ap = argparse.ArgumentParser(description=measure_records.__doc__)
    ap.add_argument("records", nargs="*", help="record names (default: all in --data)")
    ap.add_argument("--data", default=None)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--zero-point", type=int, default=-20)
    ns = ap.parse_args()
    measure_records(ns.records, ns.data, ns.scale, ns.zero_point)
