"""Synthetic ECG noise and noise-stress records built the way the MIT-BIH Noise Stress Test
(nstdb, WFDB's ``nst``) builds them.

No noise database is available here, so the three kinds of nstdb noise are synthesised,
deterministically from a seed (the same seed gives the same noise at every SNR, as nstdb
scales one noise record):

* ``bw`` baseline wander: respiration (0.15-0.5 Hz, its rate and depth drifting) plus a slow
  random drift (an Ornstein-Uhlenbeck process, 8 s time constant) and a little electrode
  drift below 0.1 Hz.
* ``ma`` muscle artefact: Gaussian noise band-limited to 10-150 Hz (surface EMG overlaps the
  ECG band and extends above it), amplitude-modulated by bursts (0.3-3 s contractions at
  0.25 per second over a 30 % background).
* ``em`` electrode motion: what nstdb's ``em`` record is described to contain, "electrode
  motion artifact ... with significant amounts of baseline wander and muscle noise as well":
  baseline steps with exponential recovery, QRS-wide biphasic spikes (25-90 ms), large
  low-frequency transients (0.25-1.5 s bumps), on top of ``bw`` and ``ma`` background.

Protocol, signal and noise size (WFDB ``nst``, ``sigamp``; G. B. Moody, W. K. Muldrow,
R. G. Mark, "A noise stress test for arrhythmia detectors", Computers in Cardiology 11:381-384,
1984; the definitions below are those of the nst(1) and sigamp(1) manual pages and of
``app/nst.c`` / ``app/sigamp.c`` in the WFDB Software Package):

* blocks: a five-minute noise-free learning period, then two-minute periods of noisy and
  noise-free signal alternately until the end of the record (:func:`nst_blocks`).
* S: sigamp's normal-QRS peak-to-peak amplitude: the range of the clean signal from 50 ms
  before to 50 ms after each of the first 300 beats whose annotation ``map1`` maps to NORMAL,
  the largest and smallest 5 % discarded, the mean of the rest (:func:`qrs_amplitude`);
  S = amplitude**2 / 8 ("correct for sinusoids").
* N: sigamp's RMS amplitude: the noise cut into one-second chunks, the RMS difference between
  each chunk and its mean, the largest and smallest 5 % discarded, the mean of the rest,
  squared (:func:`noise_amplitude`). nst measures it on the first 300 s of its noise record;
  here it is measured on the noise that is actually added (every whole second of the noisy
  blocks), so that the SNR "during noisy segments", which nst sets, holds exactly for noise
  that is not stationary.
* gain: ``SNR = 10 log10(S / (N a**2))``, i.e. nst's ``a = 10**(-SNR/20) * sqrt(2)/4 *
  amplitude / rms`` (:func:`gain_for_snr`).
* offsets: at every gain change nst recomputes an offset that cancels the step the change
  would cause, so the output is continuous (:func:`add_noise`). Samples are rounded to the
  nearest integer (nst truncates) and, as nst writes 16-bit samples (its default output
  format 16), clipped to the int16 range, not to the record's 11-bit ADC range: at low SNR
  the wander leaves MIT-BIH's +-5 mV, which a modern 16-24 bit front end still digitises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyecg.spec import FS

KINDS = ("bw", "ma", "em")
KIND_NAMES = {"bw": "baseline wander", "ma": "muscle artefact", "em": "electrode motion"}

# --- the nst protocol and sigamp's measurements ------------------------------------------
LEARN_S = 5 * 60  # nst: strtim("5:0"), the noise-free learning period
BLOCK_S = 2 * 60  # nst: strtim("2:0"), noisy and noise-free periods alternate
SIGAMP_NMAX = 300  # sigamp: up to 300 measurements (QRS amplitudes)
SIGAMP_QRS_HALF_S = 0.05  # sigamp -d default: 50 ms before and after the annotation
SIGAMP_CHUNK_S = 1.0  # sigamp -w default: one-second RMS chunks
# WFDB ecgmap.h map1(): annotation codes mapped to NORMAL (N L R a J A S j / Q B e n f);
# PVC (V E ! r), FUSION (F) and LEARN (?) are not "normal" for sigamp.
MAP1_NORMAL = frozenset("N L R a J A S j / Q B e n f".split())


def nst_blocks(n_samples: int, fs: int = FS) -> list[tuple[int, int]]:
    """The noisy blocks [start, end) of nst's standard protocol: noise from 5:00 to 7:00,
    9:00 to 11:00, ... (two minutes on, two off) until the end of the record."""
    t0, dt = int(round(LEARN_S * fs)), int(round(BLOCK_S * fs))
    return [(t, min(t + dt, n_samples)) for t in range(t0, n_samples, 2 * dt)]


def clean_blocks(n_samples: int, fs: int = FS) -> list[tuple[int, int]]:
    """The noise-free blocks after the learning period (between the noisy ones)."""
    t0, dt = int(round(LEARN_S * fs)), int(round(BLOCK_S * fs))
    return [(t, min(t + dt, n_samples)) for t in range(t0 + dt, n_samples, 2 * dt)]


def trimmed_mean(values) -> float:
    """sigamp's trimmed mean: sort, drop n//20 values at each end, average the rest."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    lo = len(v) // 20
    keep = v[lo : len(v) - lo]
    if len(keep) == 0:
        raise ValueError("no measurements to average")
    return float(keep.mean())


def qrs_amplitude(x, ann_samples, ann_symbols, fs: int = FS, nmax: int = SIGAMP_NMAX) -> float:
    """sigamp -a: trimmed mean peak-to-peak amplitude of the first nmax normal QRS complexes
    (range of x over [t - 50 ms, t + 50 ms], both ends included, as sigamp's getptp reads
    it). Like sigamp it stops at the first window that leaves the signal."""
    x = np.asarray(x)
    h = int(round(SIGAMP_QRS_HALF_S * fs))
    amps: list[float] = []
    for t, sym in zip(ann_samples, ann_symbols):
        if len(amps) >= nmax:
            break
        if sym not in MAP1_NORMAL:
            continue
        t = int(t)
        if t - h < 0 or t + h >= len(x):
            break
        seg = x[t - h : t + h + 1]
        amps.append(float(seg.max()) - float(seg.min()))
    if not amps:
        raise ValueError("no normal QRS complexes to measure the signal amplitude on")
    return trimmed_mean(amps)


def chunk_rms(noise, fs: int = FS) -> np.ndarray:
    """sigamp's per-chunk RMS: whole one-second chunks from the start, the RMS difference
    between each chunk and its own mean (a trailing partial chunk is not measured)."""
    w = int(round(SIGAMP_CHUNK_S * fs))
    v = np.asarray(noise, dtype=np.float64)
    n = len(v) // w
    c = v[: n * w].reshape(n, w)
    return np.sqrt(np.mean((c - c.mean(axis=1, keepdims=True)) ** 2, axis=1))


def noise_amplitude(noise_blocks, fs: int = FS) -> float:
    """sigamp's RMS amplitude over one or more noise segments: trimmed mean of the chunk
    RMS values of every segment (each tiled in one-second chunks from its start)."""
    if isinstance(noise_blocks, np.ndarray) and noise_blocks.ndim == 1:
        noise_blocks = [noise_blocks]
    rms = np.concatenate([chunk_rms(b, fs) for b in noise_blocks])
    return trimmed_mean(rms)


def snr_db(qrs_ptp: float, noise_rms: float) -> float:
    """nst's SNR: 10 log10(S / N) with S = qrs_ptp**2 / 8 and N = noise_rms**2."""
    return 10.0 * math.log10((qrs_ptp**2 / 8.0) / (noise_rms**2))


def gain_for_snr(snr: float, qrs_ptp: float, noise_rms: float) -> float:
    """nst.c: nsr = 10**(snr/-20) * sqrt(2)/4 (RMS noise / peak-to-peak signal), a = nsr *
    qrs_ptp / noise_rms, which solves SNR = 10 log10(S / (N a**2))."""
    return 10.0 ** (snr / -20.0) * math.sqrt(2.0) / 4.0 * qrs_ptp / noise_rms


def add_noise(
    x, noise, blocks, gain: float, lo: int | None = None, hi: int | None = None
) -> np.ndarray:
    """x + gain * noise inside the blocks, with nst's offsets: at every gain change (a block's
    start and end) an offset is recomputed so that the output does not step, and it stays
    until the next change. Rounded to integers, clipped to [lo, hi]."""
    x = np.asarray(x, dtype=np.float64)
    nz = np.asarray(noise, dtype=np.float64)
    g = np.zeros(len(x))
    for a, b in blocks:
        g[a:b] = gain
    out = x + g * nz
    # offset z (held between changes) = sum of the steps the gain changes would cause:
    # at a change before sample t, out[t] - out[t-1] would jump by (g[t] - g[t-1]) * nz[t-1]
    # more than the signal does; nst subtracts exactly that.
    change = np.flatnonzero(np.diff(g)) + 1
    step = np.zeros(len(x))
    step[change] = (g[change] - g[change - 1]) * nz[change - 1]
    out -= np.cumsum(step)
    out = np.rint(out)
    if lo is not None or hi is not None:
        out = np.clip(out, lo, hi)
    return out.astype(np.int64)


# --- synthesis -------------------------------------------------------------------------


def _rng(kind: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), KINDS.index(kind) + 1])


def _smooth_random(n: int, rng, cutoff_hz: float, fs: int = FS) -> np.ndarray:
    """Unit-RMS Gaussian noise low-passed at cutoff_hz (4th-order Butterworth, zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, cutoff_hz, fs=fs, output="sos")
    v = sosfiltfilt(sos, rng.standard_normal(n + 2 * fs))[fs : fs + n]
    return v / max(float(np.sqrt(np.mean(v**2))), 1e-12)


def _unit(v: np.ndarray) -> np.ndarray:
    r = float(np.sqrt(np.mean((v - v.mean()) ** 2)))
    return (v - v.mean()) / r if r > 0 else v


def baseline_wander(n: int, seed: int = 0, fs: int = FS) -> np.ndarray:
    """Respiration-like wander (0.15-0.5 Hz, drifting rate and depth) plus slow drift.
    Zero mean, unit RMS (the SNR sets the size)."""
    rng = _rng("bw", seed)
    f0 = rng.uniform(0.15, 0.5)
    f = np.clip(f0 * (1.0 + 0.15 * _smooth_random(n, rng, 0.02, fs)), 0.15, 0.5)
    phase = 2 * np.pi * np.cumsum(f) / fs + rng.uniform(0, 2 * np.pi)
    depth = 1.0 + 0.3 * _smooth_random(n, rng, 0.05, fs)
    resp = depth * (np.sin(phase) + 0.25 * np.sin(2 * phase + rng.uniform(0, 2 * np.pi)))
    # Ornstein-Uhlenbeck drift, time constant 8 s: bounded, but wanders over tens of seconds
    tau = 8.0 * fs
    w = rng.standard_normal(n) * math.sqrt(2.0 / tau)
    from scipy.signal import lfilter

    drift = lfilter([1.0], [1.0, -(1.0 - 1.0 / tau)], w)
    slow = _smooth_random(n, rng, 0.1, fs)
    return _unit(resp + 0.4 * _unit(drift) + 0.2 * slow)


def _band_noise(n: int, rng, lo_hz: float, hi_hz: float, fs: int = FS) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, [lo_hz, hi_hz], btype="band", fs=fs, output="sos")
    v = sosfilt(sos, rng.standard_normal(n + fs))[fs:]
    return _unit(v)


def _bursts(n: int, rng, rate_hz: float, dur_s: tuple[float, float], fs: int = FS):
    """Poisson burst times and durations (samples)."""
    k = rng.poisson(rate_hz * n / fs)
    starts = np.sort(rng.integers(0, max(n, 1), k))
    durs = (np.exp(rng.uniform(math.log(dur_s[0]), math.log(dur_s[1]), k)) * fs).astype(int)
    return starts, np.maximum(durs, 2)


def muscle_artefact(n: int, seed: int = 0, fs: int = FS) -> np.ndarray:
    """EMG-like noise: 10-150 Hz Gaussian noise whose envelope is a 30 % background plus
    bursts (0.3-3 s, 0.25 per second, each 1-3x, with 50 ms raised-cosine edges)."""
    rng = _rng("ma", seed)
    v = _band_noise(n, rng, 10.0, 150.0, fs)
    env = np.full(n, 0.3)
    starts, durs = _bursts(n, rng, 0.25, (0.3, 3.0), fs)
    edge = int(0.05 * fs)
    for s, d in zip(starts, durs):
        a = rng.uniform(1.0, 3.0)
        shape = np.ones(d)
        e = min(edge, d // 2)
        if e > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(e) / e)
            shape[:e], shape[d - e :] = ramp, ramp[::-1]
        end = min(n, s + d)
        env[s:end] += a * shape[: end - s]
    return _unit(v * env)


def electrode_motion(n: int, seed: int = 0, fs: int = FS) -> np.ndarray:
    """Electrode-motion-like artefact: baseline steps with exponential recovery (0.12 per
    second, recovery 0.3-3 s), biphasic QRS-wide spikes (25-90 ms, 0.35 per second, often in
    short trains), large low-frequency transients (0.25-1.5 s, 0.3 per second), over baseline
    wander and muscle noise."""
    rng = _rng("em", seed)
    t = np.arange(n)
    out = np.zeros(n)
    # steps: fast rise (5-30 ms) then exponential recovery
    starts, _ = _bursts(n, rng, 0.12, (1.0, 1.0), fs)
    for s in starts:
        amp = rng.normal(0, 3.0)
        rise = max(1, int(rng.uniform(0.005, 0.03) * fs))
        tau = rng.uniform(0.3, 3.0) * fs
        end = min(n, s + int(6 * tau))
        k = t[s:end] - s
        out[s:end] += amp * np.minimum(1.0, (k + 1) / rise) * np.exp(-np.maximum(k - rise, 0) / tau)
    # spikes: derivative-of-Gaussian pulses as wide as a QRS, often several in a row
    starts, _ = _bursts(n, rng, 0.2, (1.0, 1.0), fs)
    for s0 in starts:
        for j in range(int(rng.integers(1, 4))):
            s = s0 + j * int(rng.uniform(0.15, 0.6) * fs)
            width = rng.uniform(0.025, 0.09) * fs
            sig = width / 4.0
            lo_, hi_ = max(0, int(s - 3 * sig)), min(n, int(s + 3 * sig) + 1)
            if lo_ >= hi_:
                continue
            u = (t[lo_:hi_] - s) / sig
            amp = rng.normal(0, 4.0)
            out[lo_:hi_] += amp * (
                u * np.exp(0.5 - 0.5 * u * u) if rng.random() < 0.6 else np.exp(-0.5 * u * u)
            )
    # low-frequency transients: raised-cosine bumps
    starts, durs = _bursts(n, rng, 0.3, (0.25, 1.5), fs)
    for s, d in zip(starts, durs):
        end = min(n, s + d)
        k = t[s:end] - s
        out[s:end] += rng.normal(0, 2.5) * (0.5 - 0.5 * np.cos(2 * np.pi * k / d))
    bw = baseline_wander(n, seed, fs)
    ma = muscle_artefact(n, seed, fs)
    return _unit(out + 0.6 * bw + 0.35 * ma)


SYNTHESISERS = {"bw": baseline_wander, "ma": muscle_artefact, "em": electrode_motion}


def synthesize(kind: str, n: int, seed: int = 0, fs: int = FS) -> np.ndarray:
    """n samples of one kind of noise (zero mean, unit RMS), the same for the same seed."""
    if kind not in SYNTHESISERS:
        raise ValueError(f"unknown noise kind {kind!r} (one of {', '.join(KINDS)})")
    return SYNTHESISERS[kind](int(n), int(seed), fs)


# --- a noise-stress record ------------------------------------------------------------------


@dataclass
class StressRecord:
    samples: np.ndarray  # int64 noisy ADC samples (the record's length)
    kind: str
    snr_db: float  # requested
    seed: int
    blocks: list = field(default_factory=list)  # noisy [start, end)
    clean: list = field(default_factory=list)  # noise-free [start, end) after 5:00
    qrs_ptp: float = 0.0  # S amplitude (ADC counts, peak to peak)
    noise_rms: float = 0.0  # N amplitude of the unscaled noise in the blocks
    gain: float = 0.0
    achieved_snr_db: float | None = None  # measured on the output (after rounding, clipping)
    clipped: int = 0  # samples at the ADC's rails inside the blocks


INT16_RANGE = (-32768, 32767)  # nst's default output format 16


def make_stress_record(
    x,
    ann_samples,
    ann_symbols,
    kind: str,
    snr: float,
    seed: int = 0,
    lo: int = INT16_RANGE[0],
    hi: int = INT16_RANGE[1],
    fs: int = FS,
    noise: np.ndarray | None = None,
) -> StressRecord:
    """Clean integer samples x -> nstdb-style noise-stress record at the requested SNR,
    clipped to [lo, hi] (default int16, see the module doc). noise: a precomputed
    synthesize(kind, len(x), seed) (reused across SNRs)."""
    x = np.asarray(x, dtype=np.int64)
    n = len(x)
    blocks = nst_blocks(n, fs)
    if not blocks:
        raise ValueError(
            f"a noise-stress record needs more than {LEARN_S // 60} minutes ({n / fs:.0f} s given)"
        )
    if noise is None:
        noise = synthesize(kind, n, seed, fs)
    s_ptp = qrs_amplitude(x, ann_samples, ann_symbols, fs)
    n_rms = noise_amplitude([noise[a:b] for a, b in blocks], fs)
    g = gain_for_snr(float(snr), s_ptp, n_rms)
    y = add_noise(x, noise, blocks, g, lo, hi)
    added = [(y[a:b] - x[a:b]).astype(np.float64) for a, b in blocks]
    achieved = snr_db(s_ptp, noise_amplitude(added, fs))
    clipped = int(sum(np.sum((y[a:b] <= lo) | (y[a:b] >= hi)) for a, b in blocks))
    return StressRecord(
        samples=y,
        kind=kind,
        snr_db=float(snr),
        seed=int(seed),
        blocks=blocks,
        clean=clean_blocks(n, fs),
        qrs_ptp=s_ptp,
        noise_rms=n_rms,
        gain=g,
        achieved_snr_db=achieved,
        clipped=clipped,
    )
