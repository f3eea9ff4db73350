"""Integer rounding helpers of the reference (numpy int64, vectorised) and its overflow checks.

Each has a C twin in firmware/lib/tinyecg_dsp/src (same name, or the identity the C uses is
stated there); the tests compare them with exact rational arithmetic.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from tinyecg.dsp.fixedpoint.formats import INT32_MAX, RECIP_BITS


def rshift_round(a: ArrayLike, k: int) -> np.ndarray:
    """a / 2**k rounded half away from zero (int64, k >= 1)."""
    a = np.asarray(a, dtype=np.int64)
    half = np.int64(1) << np.int64(k - 1)
    mag = (np.abs(a) + half) >> np.int64(k)
    return np.where(a < 0, -mag, mag)


def round_shift(a: ArrayLike, k: ArrayLike) -> np.ndarray:
    """floor(a / 2**k + 1/2), i.e. a / 2**k rounded half up (int64; k >= 1, one value or an
    array broadcasting against a). The C gets the same from an unsigned shift of a + 2**60."""
    a = np.asarray(a, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    return (a + (np.int64(1) << (k - 1))) >> k


def div_round(a: ArrayLike, d: ArrayLike) -> np.ndarray:
    """a / d rounded half away from zero (int64, d > 0)."""
    a = np.asarray(a, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    mag = (2 * np.abs(a) + d) // (2 * d)
    return np.where(a < 0, -mag, mag)


def isqrt_round(v: ArrayLike) -> np.ndarray:
    """The integer nearest to sqrt(v) for int64 v in [0, 2**62]."""
    v = np.asarray(v, dtype=np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    for _ in range(2):  # float sqrt is within 1 of the true root here; make it exact
        r = np.where(r * r > v, r - 1, r)
        r = np.where((r + 1) * (r + 1) <= v, r + 1, r)
    return np.where(v - r * r > r, r + 1, r)  # sqrt(v) >= r + 1/2  <=>  v - r*r > r


def ceil_log2(m: ArrayLike) -> np.ndarray:
    """Smallest c >= 0 with 2**c >= m, for 0 <= m < 2**17 (the C counts up the same way)."""
    m = np.asarray(m, dtype=np.int64)
    out = np.zeros_like(m)
    for c in range(17):
        out += m > (1 << c)
    return out


def reciprocal(d: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """1/d = m * 2**-k for integers 1 <= d < 2**32: k = RECIP_BITS + bitlength(d) and
    m = div_round(2**k, d), so 2**29 <= m <= 2**30 and |m * 2**-k - 1/d| <= 2**-30 / d."""
    d = np.asarray(d, dtype=np.int64)
    bits = np.frexp(d.astype(np.float64))[1].astype(np.int64)  # bit length (exact: d < 2**53)
    k = RECIP_BITS + bits
    return div_round(np.int64(1) << k, d), k


def check_int32(name: str, values: np.ndarray) -> None:
    """Raise AssertionError when a value the C stores in an int32_t does not fit."""
    if values.size and int(np.abs(values).max()) > INT32_MAX:
        raise AssertionError(f"fixed-point overflow: {name} exceeds int32 (headroom broken)")


def check_below(name: str, magnitude: np.ndarray, bits: int) -> None:
    """magnitude (float64, may be an exact bound the C computes) must stay below 2**bits."""
    if np.size(magnitude) and float(np.max(magnitude)) >= 2.0**bits:
        raise AssertionError(f"fixed-point overflow: {name} reaches 2**{bits} (headroom broken)")
