"""Beats: label sets, windows of 360 samples around annotated R-peaks, rhythm context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg.dsp.rhythm import rhythm_features
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT_SYMBOLS, LABEL_SETS, PRE_R, WINDOW, LabelSet


def label_set(name: str, label_map: dict[str, str] | None = None) -> LabelSet:
    """{"labels": [...], "map": {symbol: label}} of a named set; `label_map` (annotation
    symbol -> one of the set's labels, e.g. from a database whose beat codes differ) is
    added to the set's own map and wins over it."""
    if name not in LABEL_SETS:
        raise TinyECGError(f"unknown label set {name!r} (choose from {', '.join(LABEL_SETS)})")
    spec = LABEL_SETS[name]
    if not label_map:
        return spec
    bad = {s: lab for s, lab in label_map.items() if lab not in spec["labels"]}
    if bad:
        s, lab = next(iter(bad.items()))
        raise TinyECGError(
            f"label map: {s!r} -> {lab!r} is not a class of {name} ({', '.join(spec['labels'])})"
        )
    return {"labels": spec["labels"], "map": {**spec["map"], **label_map}}


def read_label_map(path) -> dict[str, str]:
    """A label map file: JSON object {annotation symbol: class}."""
    import json

    try:
        obj = json.loads(Path(path).read_text())
    except OSError as exc:
        raise TinyECGError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TinyECGError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in obj.items()
    ):
        raise TinyECGError(f"{path}: expected a JSON object of symbol -> class strings")
    return obj


def unmapped_beats(symbols: np.ndarray, spec: LabelSet) -> dict[str, int]:
    """Counts of the beat annotations a label set does not map: beat codes of other classes
    (e.g. paced beats under nlrav) and codes WFDB does not know at all. Reported, never
    dropped silently."""
    counts: dict[str, int] = {}
    for s in symbols:
        s = str(s)
        if s in spec["map"] or (s not in BEAT_SYMBOLS and s in NON_BEAT_SYMBOLS):
            continue
        counts[s] = counts.get(s, 0) + 1
    return dict(sorted(counts.items()))


# WFDB's standard non-beat annotation codes (wfdb.io.annotation.ann_label_table): rhythm and
# signal-quality changes, comments, waves. Anything neither a beat code nor one of these is
# an unknown code and is counted by unmapped_beats.
NON_BEAT_SYMBOLS = frozenset(
    [
        "~",
        "|",
        "s",
        "T",
        "*",
        "D",
        '"',
        "=",
        "p",
        "^",
        "t",
        "+",
        "u",
        "!",
        "[",
        "]",
        "@",
        "x",
        "(",
        ")",
        "",
    ]
)


@dataclass
class Beats:
    """Beats of one or more records; row i of every array describes beat i."""

    raw: np.ndarray  # int16 (n, 360) ADC counts
    baseline: np.ndarray  # int32 (n,) ADC counts at 0 mV
    gain: np.ndarray  # float32 (n,) ADC counts per mV
    rhythm: np.ndarray  # float32 (n, 5)
    y: np.ndarray  # int64 (n,) index into labels
    record: np.ndarray  # str (n,)
    sample: np.ndarray  # int64 (n,) R-peak sample index in its record
    rr: np.ndarray  # int64 (n, 4): pre_rr, post_rr, local_rr_sum, local_rr_count

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> Beats:
        return Beats(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[Beats]) -> Beats:
        fields = Beats.__dataclass_fields__
        return Beats(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))

    @property
    def mv(self) -> np.ndarray:
        return (self.raw.astype(np.float64) - self.baseline[:, None]) / self.gain[:, None]


def rr_context(r_peaks: np.ndarray, local_beats: int = 8) -> np.ndarray:
    """Integer RR context per beat (pre, post, local sum, local count), as the device keeps it."""
    from tinyecg.dsp.rhythm import DEFAULT_RR, LOCAL_BEATS

    r = np.asarray(r_peaks, dtype=np.int64)
    n = len(r)
    out = np.zeros((n, 4), dtype=np.int64)
    if n == 0:
        return out
    d = np.diff(r)
    pre = np.concatenate([[d[0] if n > 1 else DEFAULT_RR], d])
    post = np.concatenate([d, [d[-1] if n > 1 else DEFAULT_RR]])
    csum = np.concatenate([[0], np.cumsum(d)])
    hi = np.arange(n)
    lo = np.maximum(hi - LOCAL_BEATS, 0)
    count = hi - lo
    lsum = csum[hi] - csum[lo]
    no_hist = count == 0
    lsum[no_hist] = pre[no_hist]
    count[no_hist] = 1
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = pre, post, lsum, count
    return out


def window_fits(r_peaks: np.ndarray, n_samples: int) -> np.ndarray:
    """bool per R-peak: its window [r - PRE_R, r - PRE_R + WINDOW) lies inside the record."""
    r = np.asarray(r_peaks, np.int64)
    return (r - PRE_R >= 0) & (r - PRE_R + WINDOW <= n_samples)


def record_beat_rows(record, spec: LabelSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R-peaks, symbols) of every beat annotation of a record in order, the sequence the
    RR context runs over, and the indices into it of the beats a dataset keeps: those with
    a class in `spec` whose window fits."""
    is_beat = np.isin(record.ann_symbols, list(BEAT_SYMBOLS | set(spec["map"])))
    r_all = record.ann_samples[is_beat]
    sym_all = record.ann_symbols[is_beat]
    keep = np.array([s in spec["map"] for s in sym_all], dtype=bool)
    keep &= window_fits(r_all, len(record.adc))
    return r_all, sym_all, np.flatnonzero(keep)


def beats_from_record(record, labels: str = "nlrav", label_map: dict | None = None) -> Beats:
    """Windows [r-180, r+180) of every labelled beat whose window fits inside the record."""
    spec = label_set(labels, label_map)
    names = spec["labels"]
    r_all, sym_all, idx = record_beat_rows(record, spec)
    features = rhythm_features(r_all, record.fs)
    context = rr_context(r_all)
    starts = r_all[idx] - PRE_R
    raw = (
        record.adc[starts[:, None] + np.arange(WINDOW)[None, :]]
        if len(idx)
        else np.zeros((0, WINDOW), np.int16)
    )
    y = np.array([names.index(spec["map"][s]) for s in sym_all[idx]], dtype=np.int64)
    n = len(idx)
    return Beats(
        raw=raw.astype(np.int16),
        baseline=np.full(n, record.baseline, np.int32),
        gain=np.full(n, record.gain, np.float32),
        rhythm=features[idx],
        y=y,
        record=np.full(n, record.name, dtype="<U16"),
        sample=r_all[idx],
        rr=context[idx],
    )
