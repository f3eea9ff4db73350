"""Integer reference of the per-window preprocessing: what the C library computes, bit for bit.

The float definition is :mod:`tinyecg.dsp.denoise` (sym4, 3 levels, periodization, MAD
universal soft threshold on cD1..cD3, z-score with a 0.01 mV std floor) followed by the int8
quantization of the model input, ``q = clamp(round(z / s) + zp, -128, 127)``. This package does
the same with integers only (numpy int64, vectorised over a batch of windows); the static C
library ``firmware/lib/tinyecg_dsp`` computes the very same integers (where it takes a cheaper
route to one of them, an exact identity, the text below says which).

    from tinyecg.dsp import fixedpoint as fp
    params = fp.preprocess_params(input_scale, input_zero_point, rhythm_scale, rhythm_zp)
    q = fp.preprocess_windows_int(raw, baseline, gain, params)      # int8 (n, 360)
    rr = fp.rhythm_features_int(pre, post, local_sum, local_count, params)  # int8 (n, 5)
    # a patient-context model (rhythm_features="longterm", beat_channels=2): int8 (n, 8)
    lt = fp.longterm_features_int(pre, post, local_sum, local_count, a16, d16, params)

Modules: :mod:`.formats` (number formats, Q31 taps, threshold constant), :mod:`.intmath`
(rounding helpers), :mod:`.dwt` (periodized sym4, denoising), :mod:`.window` (the per-window
pipeline), :mod:`.rhythm` (RR features), :mod:`.longterm` (the long-term RR features of a
patient-context model), :mod:`.params` (the model's multipliers), :mod:`.reference` (the
float reference, comparison, stress windows), :mod:`.headroom` (the overflow argument,
recomputed). The multiplier maths is :mod:`tinyecg.quantmath`'s.

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
  std_eff)`` in [2**29, 2**30] (:func:`.intmath.reciprocal`; relative error <= 2**-30).
* Quantization of z: ``1 / (s * 2**20) = m * 2**-k`` with ``m`` in [2**30, 2**31) (int32) and
  ``k`` the right shift, as TFLite's QuantizeMultiplier (there the shift is ``31 - k``):
  ``q = clamp(rshift_round(z_q * m, k) + zp, -128, 127)``.
* Rhythm features: the same multiplier form for ``1 / (360 s_r)`` (seconds) and ``1 / s_r``
  (ratios), applied to exact rationals (see :func:`.rhythm.rhythm_features_int`).

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

"""

from tinyecg.dsp.fixedpoint.dwt import (
    analysis_index,
    denoise_int,
    dwt_float,
    idwt_float,
    synthesis_index,
)
from tinyecg.dsp.fixedpoint.formats import (
    BLOCK_BITS,
    DEC_HI,
    DEC_HI_Q,
    DEC_LO,
    DEC_LO_Q,
    FILTER_BITS,
    INT32_MAX,
    LEVELS,
    MAX_SHIFT,
    MEDIAN_RANKS,
    REC_HI,
    REC_HI_Q,
    REC_LO,
    REC_LO_Q,
    RECIP_BITS,
    ROUND_BIAS_BITS,
    STD_FLOOR_DIV,
    TAPS,
    THR_BITS,
    THR_FLOAT,
    THR_MULT,
    Z_BITS,
    Z_MAX,
    Z_PRE_BITS,
)
from tinyecg.dsp.fixedpoint.headroom import HEADROOM_LIMITS, headroom
from tinyecg.dsp.fixedpoint.intmath import (
    ceil_log2,
    div_round,
    isqrt_round,
    reciprocal,
    round_shift,
    rshift_round,
)
from tinyecg.dsp.fixedpoint.longterm import longterm_features_int
from tinyecg.dsp.fixedpoint.params import RHYTHM_FEATURE_SETS, preprocess_params
from tinyecg.dsp.fixedpoint.reference import (
    compare_with_float,
    quantize_float,
    stress_windows,
    zscore_windows_float,
)
from tinyecg.dsp.fixedpoint.rhythm import rhythm_features_int
from tinyecg.dsp.fixedpoint.window import preprocess_windows_int, zscore_windows_int
from tinyecg.spec import FS, PRE_R, WINDOW  # re-exported for callers that read them here

__all__ = [
    "BLOCK_BITS",
    "DEC_HI",
    "DEC_HI_Q",
    "DEC_LO",
    "DEC_LO_Q",
    "FILTER_BITS",
    "FS",
    "HEADROOM_LIMITS",
    "INT32_MAX",
    "LEVELS",
    "MAX_SHIFT",
    "MEDIAN_RANKS",
    "PRE_R",
    "RECIP_BITS",
    "RHYTHM_FEATURE_SETS",
    "REC_HI",
    "REC_HI_Q",
    "REC_LO",
    "REC_LO_Q",
    "ROUND_BIAS_BITS",
    "STD_FLOOR_DIV",
    "TAPS",
    "THR_BITS",
    "THR_FLOAT",
    "THR_MULT",
    "WINDOW",
    "Z_BITS",
    "Z_MAX",
    "Z_PRE_BITS",
    "analysis_index",
    "ceil_log2",
    "compare_with_float",
    "denoise_int",
    "div_round",
    "dwt_float",
    "headroom",
    "idwt_float",
    "isqrt_round",
    "longterm_features_int",
    "preprocess_params",
    "preprocess_windows_int",
    "quantize_float",
    "reciprocal",
    "rhythm_features_int",
    "round_shift",
    "rshift_round",
    "stress_windows",
    "synthesis_index",
    "zscore_windows_float",
    "zscore_windows_int",
]
