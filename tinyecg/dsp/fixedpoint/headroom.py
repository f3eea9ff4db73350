"""Headroom: every stored value, accumulator and product of the integer pipeline fits.

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

from tinyecg.dsp.fixedpoint.formats import (
    BLOCK_BITS,
    DEC_HI_Q,
    DEC_LO_Q,
    FILTER_BITS,
    LEVELS,
    REC_HI_Q,
    REC_LO_Q,
    RECIP_BITS,
    ROUND_BIAS_BITS,
    STD_FLOOR_DIV,
    TAPS,
    Z_BITS,
    Z_MAX,
    Z_PRE_BITS,
)
from tinyecg.spec import WINDOW

#: what each headroom() figure must stay below, in bits: int32 storage (31), the 2**60 bias
#: that keeps the C's accumulators non-negative, int64 (63), the uint32 bit length of std (32)
HEADROOM_LIMITS = {
    "v": 31,
    "coefficients": 31,
    "y": 31,
    "filter_accumulator": ROUND_BIAS_BITS,
    "biased_accumulator": 63,
    "sum_y": 63,
    "sum_y2": 63,
    "mean_term": 63,
    "sum_sq": 63,
    "e": 31,
    "std": 32,
    "recip_numerator": 63,
    "e_scaled": 31,
    "z_product": ROUND_BIAS_BITS,
    "z_q": 31,
    "quant_product": ROUND_BIAS_BITS,
    "floor_numerator": 63,
}


def headroom() -> dict[str, float]:
    """log2 of the worst-case magnitude of every stored value, accumulator and product, computed
    from the integer taps for |v| <= 2**BLOCK_BITS (the module docstring's proof); each must stay
    below HEADROOM_LIMITS."""

    def filt(taps, bound):
        acc = sum(abs(t) for t in taps) * bound
        return acc, (acc + 2 ** (FILTER_BITS - 1)) >> FILTER_BITS

    def synth(bound_a, bound_d):
        acc = max(
            sum(abs(REC_LO_Q[j]) * bound_a + abs(REC_HI_Q[j]) * bound_d for j in range(p, TAPS, 2))
            for p in (0, 1)
        )
        return acc, (acc + 2 ** (FILTER_BITS - 1)) >> FILTER_BITS

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
    e_scaled = max(
        min(Z_MAX * 2.0**bl, 2.0 * y) * 2 ** max(0, Z_PRE_BITS - bl) for bl in range(1, bits + 1)
    )
    z_q = Z_MAX * 2**Z_BITS
    return {
        "v": math.log2(v),
        "coefficients": math.log2(coeff),
        "y": math.log2(y),
        "filter_accumulator": math.log2(max(accs)),
        "biased_accumulator": math.log2(bias + 2 ** (FILTER_BITS - 1) + max(accs)),
        "sum_y": math.log2(WINDOW * y),
        "sum_y2": math.log2(WINDOW * y * y),
        "mean_term": math.log2(WINDOW * y * y + WINDOW * y),
        "sum_sq": math.log2(WINDOW * (2 * y) ** 2),
        "e": math.log2(2 * y),
        "std": math.log2(std),
        "recip_numerator": math.log2(2 ** (RECIP_BITS + bits + 1) + std),
        "e_scaled": math.log2(e_scaled),
        "z_product": math.log2(e_scaled * 2 ** (RECIP_BITS + 1)),
        "z_q": math.log2(z_q),
        "quant_product": math.log2(z_q * 2**31),
        "floor_numerator": math.log2(65535 * 2**BLOCK_BITS),
    }
