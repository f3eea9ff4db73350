"""The rhythm-segment dataset of the shockable-rhythm task: per-sample rhythm labels from a
record's annotations, 8-s windows stepped by 1 s on the device's 90 Hz stream, their AHA
classes, and folds by record.

Labels, per 90 Hz sample, from the reference annotations (any WFDB database that marks
rhythms the MIT way):
- `+` rhythm annotations: the aux note holds until the next `+` (AUX_RHYTHM maps it);
  before the first one the rhythm is unknown (UNSPEC: non-shockable, scored on its own row);
- `[` .. `]` is ventricular flutter/fibrillation (WFDB's convention; cudb's only labels,
  mitdb 207's flutter): VF whatever else is annotated; after `]` the rhythm is unknown
  until the next `+` when the last `+` said VF/VT (cudb), else that rhythm goes on;
- `~` marks signal quality: samples where the chosen lead is unreadable (subtype -1, or
  bit 4 + lead) and `(NOISE` episodes are NOISE, never scored (except inside VF brackets);
- a record with paced beats (`/`) is PACED throughout outside VF: not scored.

A window is scored when one rhythm covers all of it, and classed as AHA (Kerber 1997) does:
coarse VF (median 1-s peak to peak >= 200 uV) or fine VF; rapid VT (>= VT_SHOCKABLE_BPM)
or slow VT; NSR; other organised rhythms; asystole; and cudb's unlabelled non-VF. A
training window takes the rhythm covering >= 75 % of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg.data.records import read_annotations, read_signal
from tinyecg.dsp.rhythm_frontend import stream_int
from tinyecg.spec import (
    BEAT_SYMBOLS,
    COARSE_VF_UV,
    RHYTHM_DECIMATION,
    RHYTHM_FS,
    RHYTHM_STEP_S,
    RHYTHM_TRAIN_MAJORITY,
    RHYTHM_WARMUP_S,
    RHYTHM_WINDOW,
    RHYTHM_WINDOW_S,
    VT_SHOCKABLE_BPM,
)

log = logging.getLogger("tinyecg.data")

# per-sample rhythm codes
NSR, OTHER, ASYS, VF, VT, NOISE, UNSPEC, PACED = range(8)
AUX_RHYTHM = {
    "(N": NSR,
    "(NSR": NSR,
    "(VF": VF,
    "(VFIB": VF,
    "(VFL": VF,
    "(VT": VT,
    "(ASYS": ASYS,
    "(NOISE": NOISE,
    "(P": PACED,
    # other organised, non-shockable rhythms (mitdb, vfdb); an unknown note is OTHER too
    "(AFIB": OTHER,
    "(AF": OTHER,
    "(AFL": OTHER,
    "(B": OTHER,
    "(BI": OTHER,
    "(BII": OTHER,
    "(T": OTHER,
    "(NOD": OTHER,
    "(SVTA": OTHER,
    "(IVR": OTHER,
    "(SBR": OTHER,
    "(AB": OTHER,
    "(PREX": OTHER,
    "(HGEA": OTHER,
    "(VER": OTHER,
    "(PM": OTHER,
}

# window classes: the AHA goals' classes first, then the intermediate and unscored ones
WINDOW_CLASSES = (
    "VF_coarse",
    "VT_rapid",
    "NSR",
    "OTHER",
    "ASYS",
    "VF_fine",
    "VT_slow",
    "UNSPEC",
    "MIXED",
    "NOISE",
    "PACED",
)
WC = {name: i for i, name in enumerate(WINDOW_CLASSES)}
SHOCKABLE = ("VF_coarse", "VT_rapid", "VF_fine")  # trained as shockable
NON_SHOCKABLE = ("NSR", "OTHER", "ASYS", "UNSPEC", "VT_slow")  # trained as non-shockable
_CODE_CLASS = {
    NSR: "NSR",
    OTHER: "OTHER",
    ASYS: "ASYS",
    NOISE: "NOISE",
    UNSPEC: "UNSPEC",
    PACED: "PACED",
}
_UNREADABLE_ALL = -1  # '~' subtype: every signal unreadable
_UNREADABLE_BIT = 0x10  # '~' subtype bit 4 + k: signal k unreadable


def rhythm_codes(n: int, ann, lead_channel: int = 0) -> np.ndarray:
    """Per-sample rhythm code for n samples at RHYTHM_FS; `ann`: read_annotations output
    (positions at spec.FS)."""
    codes = np.full(n, UNSPEC, np.int8)
    at = np.clip((np.asarray(ann.samples) + RHYTHM_DECIMATION // 2) // RHYTHM_DECIMATION, 0, n)
    symbols = [str(s) for s in ann.symbols]
    aux = [str(a).strip("\x00").strip() for a in ann.aux]
    events = []  # (position, code) where a rhythm starts
    last = UNSPEC
    for p, s, a in zip(at, symbols, aux):
        if s == "+" and a:
            last = AUX_RHYTHM.get(a, OTHER)
            events.append((p, last))
        elif s == "]":
            # after a VF episode the rhythm is unknown unless annotated (cudb)
            events.append((p, UNSPEC if last in (VF, VT) else last))
    for i, (p, c) in enumerate(events):
        codes[p : events[i + 1][0] if i + 1 < len(events) else n] = c
    is_vf = np.zeros(n, bool)
    start = None
    for p, s in zip(at, symbols):
        if s == "[":
            start = p
        elif s == "]" and start is not None:
            is_vf[start:p] = True
            start = None
    if start is not None:
        is_vf[start:] = True  # an episode can run to the record's end
    unreadable = np.zeros(n, bool)
    state, since = False, 0
    subtypes = ann.subtypes if ann.subtypes is not None else np.zeros(len(at), np.int64)
    for p, s, sub in zip(at, symbols, subtypes):
        if s != "~":
            continue
        if state:
            unreadable[since:p] = True
        state = int(sub) == _UNREADABLE_ALL or bool(int(sub) & (_UNREADABLE_BIT << lead_channel))
        since = p
    if state:
        unreadable[since:] = True
    codes[unreadable] = NOISE
    if "/" in symbols:
        codes[:] = PACED
    codes[is_vf] = VF
    return codes


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample index pairs of the True runs of mask."""
    d = np.diff(np.concatenate([[0], np.asarray(mask, np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def peak_rate_bpm(y: np.ndarray) -> float:
    """Ventricular rate of a stretch of the 90 Hz stream by peak counting (for VT without
    beat labels, as in vfdb): peaks of the 1-8 Hz band, >= 0.2 s apart and >= 30 % of the
    band's 3-97 % range prominent, in both polarities; the more regular polarity wins."""
    from scipy.signal import butter, filtfilt, find_peaks

    b, a = butter(2, [1.0, 8.0], btype="band", fs=RHYTHM_FS)
    x = filtfilt(b, a, np.asarray(y, np.float64))
    best = None
    for sign in (1, -1):
        z = sign * x
        rng = np.percentile(z, 97) - np.percentile(z, 3)
        peaks, _ = find_peaks(z, distance=int(0.2 * RHYTHM_FS), prominence=0.3 * rng)
        if len(peaks) < 3:
            continue
        rr = np.diff(peaks)
        cv = np.std(rr) / np.mean(rr)
        rate = 60.0 * RHYTHM_FS * (len(peaks) - 1) / (peaks[-1] - peaks[0])
        if best is None or cv < best[1]:
            best = (rate, cv)
    return float("nan") if best is None else best[0]


def vt_episode_rates(codes: np.ndarray, stream: np.ndarray, beat_pos: np.ndarray) -> np.ndarray:
    """Per-sample rate (bpm) of each VT episode, NaN elsewhere: from the annotated beats in
    it when there are >= 3, else the median peak-counting rate of its 4-s stretches."""
    rate = np.full(len(codes), np.nan, np.float32)
    stretch = 4 * RHYTHM_FS
    for a, e in runs_of(codes == VT):
        beats = beat_pos[(beat_pos >= a) & (beat_pos < e)]
        r = float("nan")
        if len(beats) >= 3:
            r = 60.0 * RHYTHM_FS * (len(beats) - 1) / (beats[-1] - beats[0])
        elif e - a >= 2 * RHYTHM_FS:
            starts = range(a, max(a, e - stretch) + 1, RHYTHM_FS)
            ests = [peak_rate_bpm(stream[s : min(s + stretch, e)]) for s in starts]
            if np.isfinite(ests).any():
                r = float(np.nanmedian(ests))
        rate[a:e] = r
    return rate


@dataclass
class RhythmRecord:
    """One record's lead on the device's 90 Hz stream, its labels and its scored windows."""

    name: str
    database: str  # the folder's name (vfdb, cudb, mitdb, ...)
    gain: float  # ADC counts per mV
    stream: np.ndarray  # int16 at RHYTHM_FS (tinyecg.dsp.rhythm_frontend.stream_int)
    codes: np.ndarray  # int8 rhythm code per stream sample
    vt_rate: np.ndarray  # float32 VT episode rate per sample (NaN outside VT)
    ends: np.ndarray  # window ends (exclusive, stream samples): one decision per step
    score_class: np.ndarray  # WC index per window (MIXED unless one rhythm covers it)
    train_class: np.ndarray  # WC index per window (MIXED unless one covers >= 75 %)
    amplitude_mv: np.ndarray  # median 1-s peak to peak of each window (mV)

    @property
    def seconds(self) -> np.ndarray:
        """The time (s) of each decision: the end of its window."""
        return self.ends / RHYTHM_FS

    @property
    def shockable_truth(self) -> np.ndarray:
        """Per sample: VF, or VT at >= VT_SHOCKABLE_BPM."""
        return (self.codes == VF) | ((self.codes == VT) & (self.vt_rate >= VT_SHOCKABLE_BPM))


def window_ends(n_stream: int) -> np.ndarray:
    """One window end every RHYTHM_STEP_S, the first after the warm-up plus a full window."""
    step = RHYTHM_STEP_S * RHYTHM_FS
    first = (RHYTHM_WINDOW_S + RHYTHM_WARMUP_S) * RHYTHM_FS
    return np.arange(first, n_stream + 1, step)


def classify_windows(codes, vt_rate, stream, gain, ends, need: float):
    """WC index of each window, and its median 1-s peak to peak (mV)."""
    from tinyecg.dsp.rhythm_frontend import windows_at

    w = windows_at(stream, ends, RHYTHM_WINDOW).astype(np.int64)
    blocks = w.reshape(len(ends), RHYTHM_WINDOW_S, RHYTHM_FS)
    amp = np.median(blocks.max(-1) - blocks.min(-1), axis=1) / gain
    c = windows_at(codes, ends, RHYTHM_WINDOW)
    counts = np.stack([(c == k).sum(1) for k in range(8)], 1)
    major = counts.argmax(1)
    ok = counts.max(1) >= need * RHYTHM_WINDOW
    out = np.full(len(ends), WC["MIXED"], np.int8)
    for i in np.flatnonzero(ok):
        k = int(major[i])
        if k == VF:
            out[i] = WC["VF_coarse"] if amp[i] * 1000 >= COARSE_VF_UV else WC["VF_fine"]
        elif k == VT:
            rates = vt_rate[ends[i] - RHYTHM_WINDOW : ends[i]][c[i] == VT]
            rapid = np.isfinite(rates).any() and np.nanmedian(rates) >= VT_SHOCKABLE_BPM
            out[i] = WC["VT_rapid"] if rapid else WC["VT_slow"]
        else:
            out[i] = WC[_CODE_CLASS[k]]
    return out, amp.astype(np.float32)


def load_rhythm_record(base: Path, lead: str | int | None = None) -> RhythmRecord:
    """A record (path without extension) as a RhythmRecord; raises TinyECGError naming the
    file for every problem with it (records without `.atr` included)."""
    sig = read_signal(base, lead=lead)
    ann = read_annotations(base, "atr", source_fs=sig.source_fs, required=True)
    assert ann is not None  # required=True raises instead of returning None
    stream = stream_int(sig.adc - sig.baseline)
    codes = rhythm_codes(len(stream), ann, sig.channel)
    beats = (
        np.asarray([p for p, s in zip(ann.samples, ann.symbols) if s in BEAT_SYMBOLS], np.int64)
        // RHYTHM_DECIMATION
    )
    vt_rate = vt_episode_rates(codes, stream, beats)
    ends = window_ends(len(stream))
    score, amp = classify_windows(codes, vt_rate, stream, sig.gain, ends, 1.0)
    train, _ = classify_windows(codes, vt_rate, stream, sig.gain, ends, RHYTHM_TRAIN_MAJORITY)
    return RhythmRecord(
        sig.name, Path(base).parent.name, sig.gain, stream, codes, vt_rate, ends, score, train, amp
    )


def folds_by_record(records: list[RhythmRecord], k: int = 5, seed: int = 0) -> dict[str, int]:
    """ "database/name" -> fold: records grouped by database and content (>= 5 asystole windows,
    else coarse VF, else rapid VT, else none), each group shuffled (seeded) and dealt
    round-robin, continuing where the last group stopped, so every fold gets its share of
    each. Windows of one record are never in two folds."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, str], list[str]] = {}
    for r in records:
        cls = r.train_class
        kind = (
            "ASYS"
            if (cls == WC["ASYS"]).sum() >= 5
            else "VF"
            if (cls == WC["VF_coarse"]).any()
            else "VT"
            if (cls == WC["VT_rapid"]).any()
            else "none"
        )
        groups.setdefault((r.database, kind), []).append(f"{r.database}/{r.name}")
    fold, start = {}, 0
    for key in sorted(groups):
        members = sorted(groups[key])
        rng.shuffle(members)
        for i, name in enumerate(members):
            fold[name] = (start + i) % k
        start = (start + len(members)) % k
    return fold
