"""The shockable-rhythm front end in integers: what the device computes, bit for bit
(firmware/lib/tinyecg_rhythm is its C twin; tests/test_rhythm_frontend_c.py compares them).

    x (ADC counts - baseline, 360 Hz, clamped to int16)
      -> decimating FIR, 48 taps Q15, 360 -> 90 Hz          decimate_int
      -> DC blocker, pole 1 - 2^-4 (-3 dB at ~0.9 Hz)       dc_block_int
      -> 90 Hz int16 stream; every second the last 8 s:
           int8 model input q = 16 (y - mean) / max(std, 50 uV)   normalise_int
           amplitude gate (median 1-s peak to peak >= 200 uV)     amplitude_gate

Rounding everywhere is explicit: round half up after the FIR (add 2^14, arithmetic shift),
floor shifts in the DC blocker (arithmetic right shift, as C on every target we build for),
round half away from zero for divisions (div_round), rounded integer square root.
"""

from __future__ import annotations

import numpy as np

from tinyecg.spec import (
    AMP_GATE_UV,
    RHYTHM_DECIMATION,
    RHYTHM_FS,
    RHYTHM_Q_PER_STD,
    RHYTHM_STD_FLOOR_UV,
)

# scipy.signal.firwin(48, 25.0, fs=360, window="hamming") * 2^15, rounded; the rounded taps
# already sum to 2^15 (unit DC gain). Symmetric (linear phase, 23.5 samples = 65 ms delay).
# 25 Hz keeps VF (2-10 Hz) and QRS energy and is below the 45 Hz Nyquist of 90 Hz.
# sum |h| = 44016 < 2^16, so an int16 input keeps the accumulator below 2^31.
FIR_Q15 = np.array(
    [
        -26,
        -15,
        2,
        27,
        61,
        98,
        128,
        134,
        99,
        12,
        -128,
        -304,
        -480,
        -607,
        -626,
        -483,
        -143,
        404,
        1128,
        1968,
        2829,
        3605,
        4192,
        4509,
        4509,
        4192,
        3605,
        2829,
        1968,
        1128,
        404,
        -143,
        -483,
        -626,
        -607,
        -480,
        -304,
        -128,
        12,
        99,
        134,
        128,
        98,
        61,
        27,
        2,
        -15,
        -26,
    ],
    dtype=np.int64,
)
FIR_TAPS = len(FIR_Q15)
FIR_BITS = 15
DC_SHIFT = 4  # DC blocker pole 1 - 2^-4 at 90 Hz: -3 dB at about 0.9 Hz
DC_FRAC = 8  # fractional bits of the DC blocker's state
INT16_MIN, INT16_MAX = -32768, 32767


def fir_design_q15() -> np.ndarray:
    """FIR_Q15 recomputed from its design (scipy), for the test that keeps them equal."""
    from scipy.signal import firwin

    from tinyecg.spec import FS

    h = firwin(FIR_TAPS, 25.0, fs=FS, window="hamming")
    q = np.round(h * 2**FIR_BITS).astype(np.int64)
    q[FIR_TAPS // 2 - 1] += 2**FIR_BITS - q.sum()  # unit DC gain exactly (a no-op today)
    return q


def decimate_int(x: np.ndarray) -> np.ndarray:
    """int16-clamped input at 360 Hz -> int16 at 90 Hz. Output j is
    round_half_up(sum_k h[k] x[4j + 3 - k] / 2^15), zeros before the first sample: the
    device computes it when the 4th sample of each group of 4 arrives."""
    x = np.clip(np.asarray(x, np.int64), INT16_MIN, INT16_MAX)
    n_out = len(x) // RHYTHM_DECIMATION
    padded = np.concatenate([np.zeros(FIR_TAPS - 1, np.int64), x[: n_out * RHYTHM_DECIMATION]])
    newest = RHYTHM_DECIMATION * np.arange(n_out) + RHYTHM_DECIMATION - 1 + FIR_TAPS - 1
    acc = np.zeros(n_out, np.int64)
    for k in range(FIR_TAPS):
        acc += FIR_Q15[k] * padded[newest - k]
    y = (acc + (1 << (FIR_BITS - 1))) >> FIR_BITS
    return np.clip(y, INT16_MIN, INT16_MAX)


def dc_block_int(y: np.ndarray) -> np.ndarray:
    """s[n] = s[n-1] - floor(s[n-1] / 16) + 256 (y[n] - y[n-1]) (state 0, y[-1] = 0);
    z[n] = clamp16(floor((s[n] + 128) / 256)). A loop: the floor makes it nonlinear."""
    out = np.empty(len(y), np.int64)
    s = 0
    prev = 0
    half = 1 << (DC_FRAC - 1)
    for i, v in enumerate(np.asarray(y, np.int64).tolist()):
        s = s - (s >> DC_SHIFT) + ((v - prev) << DC_FRAC)
        prev = v
        z = (s + half) >> DC_FRAC
        out[i] = INT16_MIN if z < INT16_MIN else (INT16_MAX if z > INT16_MAX else z)
    return out


def stream_int(x360: np.ndarray) -> np.ndarray:
    """The device's 90 Hz int16 stream for samples x (ADC counts - baseline) at 360 Hz."""
    return dc_block_int(decimate_int(x360)).astype(np.int16)


def div_round(a, d):
    """a / d rounded half away from zero (d > 0), in integers."""
    a = np.asarray(a, np.int64)
    d = np.asarray(d, np.int64)
    mag = (2 * np.abs(a) + d) // (2 * d)
    return np.where(a < 0, -mag, mag)


def isqrt_round(v):
    """round(sqrt(v)) for integers v >= 0: r = floor(sqrt(v)), +1 when v - r^2 > r."""
    v = np.asarray(v, np.int64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    for _ in range(2):  # float sqrt is within 1 of the truth below 2^52
        r = np.where(r * r > v, r - 1, r)
        r = np.where((r + 1) * (r + 1) <= v, r + 1, r)
    return np.where(v - r * r > r, r + 1, r)


def uv_to_counts(gain_adu_per_mv: float, microvolts: int) -> int:
    """A physical amplitude in ADC counts of a record: div_round(round(gain) * uV, 1000)."""
    return int(div_round(int(round(gain_adu_per_mv)) * microvolts, 1000))


def normalise_int(windows: np.ndarray, gain_adu_per_mv: float) -> np.ndarray:
    """(n, L) int16 windows -> (n, L) int8 model inputs (scale 1/16 std, zero point 0):
    m = div_round(sum y, L); var = div_round(sum (y - m)^2, L); std = isqrt_round(var);
    q = clamp8(div_round(16 (y - m), max(std, 50 uV in counts, 1)))."""
    y = np.asarray(windows, np.int64)
    n_samples = y.shape[-1]
    m = div_round(y.sum(-1), n_samples)[..., None]
    e = y - m
    std = isqrt_round(div_round((e * e).sum(-1), n_samples))
    floor = max(uv_to_counts(gain_adu_per_mv, RHYTHM_STD_FLOOR_UV), 1)
    std_eff = np.maximum(std, floor)[..., None]
    return np.clip(div_round(RHYTHM_Q_PER_STD * e, std_eff), -128, 127).astype(np.int8)


def amplitude_gate(windows: np.ndarray, gain_adu_per_mv: float) -> np.ndarray:
    """True where a shockable decision is allowed: the two middle values of the window's
    1-s peak to peaks (max - min of each second) sum to >= 2 x 200 uV in counts."""
    y = np.asarray(windows, np.int64)
    n_seconds = y.shape[-1] // RHYTHM_FS
    blocks = y.reshape(*y.shape[:-1], n_seconds, RHYTHM_FS)
    p2p = np.sort(blocks.max(-1) - blocks.min(-1), axis=-1)
    mid = p2p[..., (n_seconds - 1) // 2] + p2p[..., n_seconds // 2]
    return mid >= 2 * uv_to_counts(gain_adu_per_mv, AMP_GATE_UV)


def windows_at(stream: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """(len(ends), length) views of stream[e - length:e] (every end >= length)."""
    from numpy.lib.stride_tricks import sliding_window_view

    return sliding_window_view(np.asarray(stream), length)[np.asarray(ends) - length]
