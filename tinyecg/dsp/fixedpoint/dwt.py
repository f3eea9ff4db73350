"""The periodized sym4 transform and the wavelet denoising, in integers (and in float64 with
the same indexing, to test the indexing against pywt).

C: firmware/lib/tinyecg_dsp/src/tinyecg_denoise.c (one level each way, then 3 levels, the
threshold and the inverse).
"""

from __future__ import annotations

import numpy as np

from tinyecg.dsp.fixedpoint.formats import (
    ANALYSIS_OFFSET,
    DEC_HI,
    DEC_HI_Q,
    DEC_LO,
    DEC_LO_Q,
    FILTER_BITS,
    LEVELS,
    MEDIAN_RANKS,
    REC_HI,
    REC_HI_Q,
    REC_LO,
    REC_LO_Q,
    SYNTH_OFFSET,
    TAPS,
    THR_BITS,
    THR_MULT,
)
from tinyecg.dsp.fixedpoint.intmath import check_int32, round_shift, rshift_round
from tinyecg.spec import WINDOW


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


# --------------------------------------------------------------------------- integer version
def denoise_int(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Denoised windows y (int64 (n, 360), Q(S) counts) from x = raw - midrange (int64 counts,
    (n, 360)) and the block exponents S (n,)."""
    a = x << shift[:, None]  # v, Q(S)
    check_int32("v", a)
    details = []
    for _ in range(LEVELS):
        idx = _AIDX[a.shape[1]]
        acc_lo = np.zeros((a.shape[0], idx.shape[0]), np.int64)
        acc_hi = np.zeros_like(acc_lo)
        for t in range(TAPS):
            tap = a[:, idx[:, t]]
            acc_lo += DEC_LO_Q[t] * tap
            acc_hi += DEC_HI_Q[t] * tap
        lo = round_shift(acc_lo, FILTER_BITS)
        hi = round_shift(acc_hi, FILTER_BITS)
        check_int32("analysis", lo)
        check_int32("analysis", hi)
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
        check_int32("synthesis", a)
    return a
