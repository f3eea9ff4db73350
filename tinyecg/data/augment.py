"""Record-level augmentation of the patient recipe (docs/generalisation.md): one altered copy
of a whole training record, so that its windows, RR context and running template stay
consistent, as a device would see "another patient on another device".

- Synthetic premature beats: for `synthetic_rate` of the record's beats, a normal beat with
  regular normal neighbours is made early by deleting the samples that end 90 samples before
  its R-peak (cross-faded over 16 samples): its own P-QRS-T arrives at U(0.55, 0.85) of its
  RR, its P wave on the previous T wave, and the rest of the record moves earlier (no
  compensatory pause, as for a reset sinus node). Annotated 'A' (an atrial premature beat,
  class S). Without them DS2's S Se fell from 78 to 49 % (research ablation).
- "Another device": the record resampled by U(0.88, 1.12) (heart rate and QRS width change
  together), polarity inverted with p = 0.2, gain logU(0.5, 2), baseline wander (two sines
  of 0.05-0.5 Hz, each up to 0.4 mV), Gaussian noise (sigma up to 0.06 mV) and 50 or 60 Hz
  mains up to 0.05 mV.

Augmentation is only ever applied to the training side of a split (the caller passes the
training records); the copies are named "<record>~<k>". Seeded: the same records and seed
give the same copies.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

import numpy as np

from tinyecg import outputs
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT_SYMBOLS, FS

log = logging.getLogger("tinyecg.data")


class AugmentParams(TypedDict):
    synthetic_rate: float
    premature_ratio: tuple[float, float]
    cut_before_r: int
    fade: int
    time_scale: tuple[float, float]
    p_flip: float
    gain: tuple[float, float]
    wander_mv: float
    wander_hz: tuple[float, float]
    noise_mv: float
    mains_mv: float


# the research recipe "final2" (scripts/research/interpatient/augment.py, configs.py)
AUGMENT: AugmentParams = {
    "synthetic_rate": 0.03,  # of all beats of the record
    "premature_ratio": (0.55, 0.85),  # synthetic pre' / pre
    "cut_before_r": 90,  # samples (250 ms): the cut ends before the P wave
    "fade": 16,  # samples of linear cross-fade over the cut
    "time_scale": (0.88, 1.12),
    "p_flip": 0.2,
    "gain": (0.5, 2.0),
    "wander_mv": 0.4,
    "wander_hz": (0.05, 0.5),
    "noise_mv": 0.06,
    "mains_mv": 0.05,
}
SYNTHETIC_SYMBOL = "A"  # atrial premature beat: class S in aami, A in nlrav
AUGMENT_VERSION = 1


def _regular_normal_beats(samples: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """Indices of N beats whose two previous and next beats are N, with pre and post within
    10 % of pre and of the previous pre."""
    n = len(samples)
    pre = np.diff(samples, prepend=samples[:1])
    post = np.diff(samples, append=samples[-1:])
    ok = np.zeros(n, bool)
    if n < 5:
        return np.flatnonzero(ok)
    i = np.arange(2, n - 2)
    normal = symbols == "N"
    ok[i] = (
        normal[i]
        & normal[i - 1]
        & normal[i + 1]
        & normal[i - 2]
        & (np.abs(pre[i] - pre[i - 1]) < 0.1 * pre[i])
        & (np.abs(post[i] - pre[i]) < 0.1 * pre[i])
    )
    return np.flatnonzero(ok)


def synthetic_premature(mv, samples, symbols, rng, params: AugmentParams = AUGMENT):
    """(signal, R-peaks, bool mask of the synthetic premature beats): see the module doc.
    Picks are at least 3 beats apart so every synthetic beat has normal neighbours."""
    samples = np.asarray(samples, np.int64)
    n = len(samples)
    mask = np.zeros(n, bool)
    cand = _regular_normal_beats(samples, np.asarray(symbols))
    size = int(params["synthetic_rate"] * n)
    if not len(cand) or size < 1:
        return np.asarray(mv, np.float64), samples, mask
    pick = np.sort(rng.choice(cand, size=min(size, len(cand)), replace=False))
    keep, last = [], -10
    for i in pick.tolist():
        if i - last >= 3:
            keep.append(i)
            last = i
    pre = np.diff(samples, prepend=samples[:1])
    x = np.asarray(mv, np.float64)
    out = samples.copy()
    fade = params["fade"]
    ramp = np.linspace(0.0, 1.0, fade)
    for i in keep[::-1]:  # from the end, so earlier positions stay valid
        cut = int(round(pre[i] * (1 - rng.uniform(*params["premature_ratio"]))))
        cut = min(cut, int(pre[i]) - 160)  # keep 160 samples (444 ms) of the previous beat
        if cut < 10:
            continue
        end = int(out[i]) - params["cut_before_r"]
        start = end - cut  # samples [start, end) are removed
        if start - fade < out[i - 1] + 40:
            continue
        blend = x[start - fade : start] * (1 - ramp) + x[end - fade : end] * ramp
        x = np.concatenate([x[: start - fade], blend, x[end:]])
        out[i:] -= cut
        mask[i] = True
    return x, out, mask


def device_mimic(mv, samples, rng, params: AugmentParams = AUGMENT, fs: int = FS):
    """(signal, R-peaks) as another device and patient might record them (module doc)."""
    x = np.asarray(mv, np.float64)
    n = len(x)
    f = rng.uniform(*params["time_scale"])
    m = int(round(n * f))
    y = np.interp(np.arange(m) / f, np.arange(n), x)
    t = np.arange(m) / fs
    sign = -1.0 if rng.random() < params["p_flip"] else 1.0
    lo, hi = params["gain"]
    gain = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    wander = sum(
        rng.uniform(0, params["wander_mv"])
        * np.sin(2 * np.pi * rng.uniform(*params["wander_hz"]) * t + rng.uniform(0, 2 * np.pi))
        for _ in range(2)
    )
    noise = rng.normal(0, rng.uniform(0, params["noise_mv"]), m)
    mains = rng.uniform(0, params["mains_mv"]) * np.sin(
        2 * np.pi * rng.choice([50, 60]) * t + rng.uniform(0, 2 * np.pi)
    )
    y = gain * sign * y + wander + noise + mains
    return y, np.round(np.asarray(samples, np.int64) * f).astype(np.int64)


def augment_record(record, rng, copy: int = 0, params: AugmentParams = AUGMENT):
    """One augmented copy of a Record (tinyecg.data.records): synthetic premature beats,
    then the device mimic; stored back as the record's ADC counts (int16, same baseline and
    gain). Non-beat annotations are dropped (the copy keeps beats only)."""
    is_beat = np.isin(record.ann_symbols, list(BEAT_SYMBOLS))
    samples = record.ann_samples[is_beat].astype(np.int64)
    symbols = record.ann_symbols[is_beat].astype("<U2")
    x, samples, synthetic = synthetic_premature(record.mv, samples, symbols, rng, params)
    symbols = np.where(synthetic, SYNTHETIC_SYMBOL, symbols)
    x, samples = device_mimic(x, samples, rng, params, record.fs)
    adc = np.round(x * record.gain + record.baseline)
    if np.abs(adc).max() > np.iinfo(np.int16).max:
        raise TinyECGError(f"record {record.name}: augmented signal leaves the int16 range")
    inside = (samples >= 0) & (samples < len(adc))
    return replace(
        record,
        name=f"{record.name}~{copy}",
        adc=adc.astype(np.int16),
        ann_samples=samples[inside],
        ann_symbols=symbols[inside],
        ann_aux=None,
        flat=False,
    )


def augmented_dataset(
    data_dir: Path,
    records: list[str],
    labels: str = "aami",
    seed: int = 0,
    params: AugmentParams = AUGMENT,
    use_cache: bool = True,
):
    """A Dataset (with its patient context) of one augmented copy of each record, in order;
    cached under a key of the source dataset files, records, labels, seed and parameters."""
    from tinyecg.data.beats import Beats, beats_from_record, label_set
    from tinyecg.data.dataset import Dataset, _fingerprint, cache_dir
    from tinyecg.data.patient_context import PatientContext, context_of_record, record_beats
    from tinyecg.data.records import load_record
    from tinyecg.dsp import denoise

    spec = label_set(labels)
    key_params = {
        "data": str(Path(data_dir).resolve()),
        "files": _fingerprint(Path(data_dir), list(records), "atr"),
        "records": list(records),
        "labels": labels,
        "seed": int(seed),
        "augment": params,
        "version": AUGMENT_VERSION,
        "preprocessing": denoise.PARAMS,
    }
    key = hashlib.sha256(json.dumps(key_params, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / f"augmented-{key}.npz"
    beat_fields = list(Beats.__dataclass_fields__)
    if use_cache and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                beats = Beats(*(z[f] for f in beat_fields))
                ctx = PatientContext(*(z[f"ctx_{f}"] for f in PatientContext.__dataclass_fields__))
                x = z["x"]
            names = list(dict.fromkeys(beats.record.tolist()))
            return Dataset(beats, x, spec["labels"], labels, names, {}, key, None, ctx)
        except Exception as exc:  # a damaged cache file is rebuilt, not trusted
            log.warning("cache %s unreadable (%s); rebuilding", path, exc)
    rng = np.random.default_rng(seed)
    parts, contexts, xs = [], [], []
    for name in records:
        rec = load_record(Path(data_dir), name)
        if rec is None:
            raise TinyECGError(f"{data_dir}: record {name} has no usable lead")
        aug = augment_record(rec, rng, 0, params)
        b = beats_from_record(aug, labels)
        seq = record_beats(aug, labels)
        parts.append(b)
        contexts.append(context_of_record(seq, b.sample))
        xs.append(seq.windows[seq.kept])
        log.info("augmented %s: %d beats", aug.name, len(b))
    beats = Beats.concat(parts)
    ctx = PatientContext.concat(contexts)
    x = np.concatenate(xs).astype(np.float32)
    names = [f"{r}~0" for r in records]
    ds = Dataset(beats, x, spec["labels"], labels, names, {}, key, None, ctx)
    if use_cache:
        arrays = {f: getattr(beats, f) for f in beat_fields}
        arrays.update({f"ctx_{f}": getattr(ctx, f) for f in PatientContext.__dataclass_fields__})
        try:
            with outputs.staged(path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, x=x, **arrays)
        except (OSError, TinyECGError) as exc:
            log.warning("warning: augmentation cache not written (%s)", exc)
    return ds
