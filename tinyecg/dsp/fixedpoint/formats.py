"""Number formats and the constants that never depend on the model.

The C library firmware/lib/tinyecg_dsp carries the same values (``src/tinyecg_dsp_internal.h``
for the bit widths, ``src/tinyecg_denoise.c`` for the Q31 taps and the threshold multiplier);
tests/test_fixedpoint_c.py checks every one against this module.
"""

from __future__ import annotations

import pywt

from tinyecg.dsp import denoise as _ref
from tinyecg.quantmath import round_half_away
from tinyecg.spec import WINDOW

LEVELS = _ref.LEVEL  # 3

FILTER_BITS = 31  # sym4 taps in Q31; every filter output is round_shift(acc, 31)
BLOCK_BITS = 22  # max|x| * 2**S <= 2**22
ROUND_BIAS_BITS = 60  # the C adds 2**60 to accumulators (|acc| < 2**57) before shifting
RECIP_BITS = 29  # 1/std_eff = m * 2**-(29 + bitlength(std_eff)), m in [2**29, 2**30]
Z_PRE_BITS = 24  # the C scales e by 2**max(0, 24 - bitlength(std_eff)) before multiplying
Z_MAX = 46.5  # |z| < 2 sqrt(540) = 46.48 (see tinyecg.dsp.fixedpoint.headroom)
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


def _q(values, bits: int) -> tuple[int, ...]:
    """round(v * 2**bits), half away from zero (the scaling is exact in float64)."""
    return tuple(round_half_away(v * 2.0**bits) for v in values)


DEC_LO_Q = _q(DEC_LO, FILTER_BITS)
DEC_HI_Q = _q(DEC_HI, FILTER_BITS)
REC_LO_Q = _q(REC_LO, FILTER_BITS)
REC_HI_Q = _q(REC_HI, FILTER_BITS)
THR_MULT = round_half_away(THR_FLOAT * 2.0**THR_BITS)
