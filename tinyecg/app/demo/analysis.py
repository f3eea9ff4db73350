"""What the demo computes: one beat through every path it shows (float Keras, int8 in TFLM on
the float preprocessing, int8 on the fixed-point preprocessing the generated C runs), and a
whole record through the device layer (the firmware's C detector from
tinyecg.device.detect, the int8 model and the fixed-point inputs from
tinyecg.device.device_path), matched to the annotations as EC57 does (tinyecg.metrics)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from tinyecg import metrics, paths
from tinyecg.app.demo.inputs import BeatInput, short_error
from tinyecg.app.demo.model import DemoModel
from tinyecg.data import records
from tinyecg.device import detect
from tinyecg.device.device_path import fixed_inputs, float_inputs, quantize_float, windows_at
from tinyecg.dsp.denoise import preprocess
from tinyecg.dsp.rhythm import rhythm_features
from tinyecg.errors import TinyECGError
from tinyecg.models.int8 import TensorSpec
from tinyecg.spec import BEAT_SYMBOLS, FS, LABEL_SETS, PRE_R, WINDOW
from tinyecg.spec import MITDB_ADC_GAIN as ADC_GAIN

NEUTRAL_RR = FS  # a pasted beat has no neighbours: RR = 1 s, so every ratio is 1
MAX_RECORD_SECONDS = 35 * 60  # MIT-BIH records are 30 min 6 s


# --------------------------------------------------------------------------- one beat
@dataclass
class BeatResult:
    beat: BeatInput
    x: np.ndarray  # float32 (360,): the float reference preprocessing
    rhythm: np.ndarray  # float32 (5,)
    rhythm_note: str
    probs_float: np.ndarray | None  # Keras probabilities
    probs_int8: np.ndarray | None  # TFLM, float preprocessing, dequantized output
    probs_fixed: np.ndarray | None  # TFLM, fixed-point preprocessing
    q_float: np.ndarray | None  # int8 beat input from the float path
    q_fixed: np.ndarray | None  # int8 beat input from the fixed-point path
    labels: list[str]
    beat_quant: TensorSpec | None = None  # the int8 beat input (scale, zero point)

    def cls(self, probs) -> str | None:
        return None if probs is None else self.labels[int(np.argmax(probs))]

    @property
    def class_float(self):
        return self.cls(self.probs_float)

    @property
    def class_int8(self):
        return self.cls(self.probs_int8)

    @property
    def class_fixed(self):
        return self.cls(self.probs_fixed)

    @property
    def shown_class(self) -> str:
        """The headline class: the int8 model's (what the board runs), else the float one."""
        return self.class_int8 or self.class_float


def neutral_rr() -> np.ndarray:
    """Integer RR context (pre, post, local sum, local count) of RR = 1 s."""
    return np.array([NEUTRAL_RR, NEUTRAL_RR, NEUTRAL_RR, 1], dtype=np.int64)


def _rhythm_from_rr(rr: np.ndarray) -> np.ndarray:
    pre, post, lsum, count = (float(v) for v in rr)
    local = lsum / count
    return np.array([pre / FS, post / FS, local / FS, pre / local, post / local], np.float32)


def _keras_probs(dm: DemoModel, x: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    from tinyecg.models.inputs import model_inputs

    with dm.lock:
        out = dm.keras.predict(model_inputs(dm.keras, x, rhythm), batch_size=512, verbose=0)
    return np.asarray(out, np.float64)


def _int8_probs(dm: DemoModel, q_beat: np.ndarray, q_rhythm: np.ndarray | None) -> np.ndarray:
    """TFLM on int8 rows (n, 360) [+ (n, 5)] -> dequantized outputs (n, classes)."""
    assert dm.int8 is not None
    with dm.lock:  # one interpreter, shared by the page's threads
        return dm.int8.dequantized_scores(q_beat, q_rhythm)


def classify_beat(dm: DemoModel, beat: BeatInput, rr: np.ndarray | None = None) -> BeatResult:
    """One beat through every path the demo shows. rr: integer RR context (pre, post, local
    sum, local count) in samples; None gives the neutral context RR = 1 s."""
    neutral = rr is None
    rr = neutral_rr() if neutral else np.asarray(rr, np.int64)
    rhythm = _rhythm_from_rr(rr)
    x = preprocess(beat.mv)
    probs_float = probs_int8 = probs_fixed = q_float = q_fixed = None
    if dm.keras is not None:
        probs_float = _keras_probs(dm, x[None], rhythm[None])[0]
    if dm.int8 is not None:
        qb, qr = quantize_float(dm.int8, x[None], rhythm[None])
        q_float = qb[0]
        probs_int8 = _int8_probs(dm, qb, qr)[0]
        if dm.fixed_params is not None:
            fb, fr = fixed_inputs(
                dm.int8, dm.fixed_params, beat.raw_adc[None], rr[None], beat.baseline, beat.gain
            )
            q_fixed = fb[0]
            probs_fixed = _int8_probs(dm, fb, fr)[0]
    note = (
        "No rhythm context for a single beat: neutral features used (RR before, after "
        "and local mean = 1 s, ratios 1)."
        if neutral
        else "Rhythm context from the record."
    )
    if not dm.takes_rhythm:
        note = "This model takes no rhythm features."
    return BeatResult(
        beat,
        x,
        rhythm,
        note,
        probs_float,
        probs_int8,
        probs_fixed,
        q_float,
        q_fixed,
        dm.labels,
        dm.beat_quant,
    )


# --------------------------------------------------------------------------- one record
_DETECTOR = {"exe": None, "error": None}
_DETECTOR_LOCK = threading.Lock()


def detector_executable():
    """The firmware's host harness, compiled once per process; None (with the reason in
    detector_error()) when it cannot be built (no compiler, not a source checkout...)."""
    with _DETECTOR_LOCK:
        if _DETECTOR["exe"] is None and _DETECTOR["error"] is None:
            try:
                _DETECTOR["exe"] = detect.build_host_harness(paths.build_dir("host"))
            except (TinyECGError, OSError, ImportError) as exc:
                _DETECTOR["error"] = short_error(exc)
        return _DETECTOR["exe"]


def detector_error() -> str | None:
    return _DETECTOR["error"]


@dataclass
class RecordResult:
    name: str
    adc: np.ndarray  # int64 raw ADC counts of the analysed channel
    baseline: int
    gain: float
    channel: str
    peaks: np.ndarray  # int64 R-peak samples (detected, or annotated when falling back)
    detector: str  # what found the peaks
    pred: np.ndarray  # int (n_peaks,): class index, -1 where the window leaves the record
    probs: np.ndarray  # float (n_peaks, classes), NaN rows for unclassified beats
    labels: list[str]
    ann_samples: np.ndarray | None  # annotated beats (None: no .atr)
    ann_symbols: np.ndarray | None
    match: np.ndarray | None  # per annotated beat: index into peaks, or -1
    fixed_agree: int | None  # beats where the fixed-point path gives the same class
    notes: list[str] = field(default_factory=list)
    label_map: dict | None = None  # annotation symbol -> class name

    @property
    def n_beats(self) -> int:
        return len(self.peaks)

    @property
    def n_classified(self) -> int:
        return int((self.pred >= 0).sum())

    @property
    def seconds(self) -> float:
        return len(self.adc) / FS

    @property
    def mv(self) -> np.ndarray:
        return (self.adc - self.baseline) / self.gain

    def counts(self) -> dict[str, int]:
        return {name: int((self.pred == i).sum()) for i, name in enumerate(self.labels)}

    def confusion(self):
        """(row names, column names, matrix): rows annotated class (+ "other" symbols and
        "not annotated" detections), columns predicted class (+ "not classified" for edge
        windows and "missed" for annotated beats with no detection within 150 ms)."""
        if self.ann_samples is None:
            return None
        rows = list(self.labels) if self.label_map else []
        if self.label_map:
            rows.append("other")
        else:
            rows = sorted(set(self.ann_symbols.tolist()))
        rows_all = rows + ["not annotated"]
        cols = list(self.labels) + ["not classified", "missed"]
        m = np.zeros((len(rows_all), len(cols)), dtype=np.int64)
        for a, sym in enumerate(self.ann_symbols):
            r = rows.index(self.label_map.get(sym, "other")) if self.label_map else rows.index(sym)
            k = self.match[a]
            c = len(cols) - 1 if k < 0 else (self.pred[k] if self.pred[k] >= 0 else len(cols) - 2)
            m[r, c] += 1
        matched = np.zeros(self.n_beats, dtype=bool)
        matched[self.match[self.match >= 0]] = True
        for k in np.flatnonzero(~matched):
            m[-1, self.pred[k] if self.pred[k] >= 0 else len(cols) - 2] += 1
        return rows_all, cols, m


def _read_annotations(base: Path, source_fs: float):
    """Beat annotations at spec.FS (sorted), or (None, None) when the record has none."""
    ann = records.read_annotations(base, "atr", source_fs=source_fs)
    if ann is None:
        return None, None
    keep = np.isin(ann.symbols, list(BEAT_SYMBOLS))
    samples, symbols = ann.samples[keep], ann.symbols[keep].astype("<U2")
    order = np.argsort(samples, kind="stable")
    return samples[order], symbols[order]


def analyse_record(
    dm: DemoModel, record_base, detector: str = "auto", name: str | None = None
) -> RecordResult:
    """Detect, classify (int8 model in TFLM) and score one WFDB record at 360 Hz.
    detector: "auto" (the C detector, else the annotated R-peaks, said in notes), "c" (the C
    detector or an error) or "annotations"."""

    from tinyecg.data.beats import rr_context

    if detector not in ("auto", "c", "annotations"):
        raise TinyECGError(f"detector must be auto, c or annotations (got {detector!r})")
    if dm.int8 is None:
        raise TinyECGError("record analysis needs an int8 (.tflite) model")
    base = Path(record_base)
    name = name or base.name
    header = records.read_header(records.record_base(base))
    if header.sig_len and header.sig_len / header.fs > MAX_RECORD_SECONDS:
        raise TinyECGError(
            f"{name}: {header.sig_len / header.fs / 60:.0f} minutes is longer "
            f"than the demo's {MAX_RECORD_SECONDS // 60}-minute limit"
        )
    sig = records.read_signal(base)
    adc, ch = sig.adc, sig.channel
    notes = []
    if sig.lead != "MLII":
        notes.append(
            f"No MLII lead: channel {ch} ({sig.lead}) used; the model was trained on MLII."
        )
    if sig.source_fs != FS:
        notes.append(f"Sampled at {sig.source_fs:g} Hz: resampled to {FS} Hz.")
    if sig.flat:
        notes.append("The signal is flat: there is no ECG to classify (lead off?).")
    gain = float((header.adc_gain or [0])[ch] or 0) or float(ADC_GAIN)
    if not (header.adc_gain or [0])[ch]:
        notes.append(f"The header gives no gain: {ADC_GAIN} counts/mV assumed.")
    baseline = sig.baseline
    ann_samples, ann_symbols = _read_annotations(base, sig.source_fs)

    peaks = None
    if detector in ("auto", "c"):
        exe = detector_executable()
        if exe is not None:
            lo, hi = sig.adc_range
            peaks = detect.detect_samples(adc, exe=exe, adc_min=lo, adc_max=hi)
            used = "found by the firmware's C QRS detector (host build)"
        elif detector == "c":
            raise TinyECGError(f"the C detector cannot be built: {detector_error()}")
    if peaks is None:
        if ann_samples is None:
            why = f" (C detector unavailable: {detector_error()})" if detector == "auto" else ""
            raise TinyECGError(f"{name}: no annotations (.atr) to take R-peaks from{why}")
        peaks = ann_samples.copy()
        used = "taken from the annotations"
        if detector == "auto":
            used += (
                f", because the C detector could not be built ({detector_error()}); "
                "so detection is not tested here"
            )
    peaks = np.unique(np.asarray(peaks, np.int64))

    n = len(peaks)
    inside = (peaks - PRE_R >= 0) & (peaks - PRE_R + WINDOW <= len(adc))
    idx = np.flatnonzero(inside)
    pred = np.full(n, -1, dtype=np.int64)
    probs = np.full((n, dm.n_classes), np.nan)
    fixed_agree = None
    if len(idx):
        raw = windows_at(adc, peaks[idx])
        qb, qr = float_inputs(dm.int8, raw, rhythm_features(peaks, FS)[idx], baseline, gain)
        probs[idx] = _int8_probs(dm, qb, qr)
        pred[idx] = np.argmax(probs[idx], axis=1)
        if (
            dm.fixed_params is not None
            and gain == round(gain)
            and 1 <= gain <= 65535
            and -32768 <= baseline <= 32767
        ):
            fb, fr = fixed_inputs(
                dm.int8, dm.fixed_params, raw, rr_context(peaks)[idx], baseline, int(gain)
            )
            fixed_agree = int((np.argmax(_int8_probs(dm, fb, fr), axis=1) == pred[idx]).sum())
    label_map: dict[str, str] | None = None
    if dm.label_set:
        label_set = LABEL_SETS.get(dm.label_set)
        if label_set and list(label_set["labels"]) == list(dm.labels):
            label_map = dict(cast(dict, label_set["map"]))
    match = metrics.match_beats(ann_samples, peaks) if ann_samples is not None else None
    if ann_samples is None:
        notes.append("No annotations (.atr): no comparison with a reference.")
    return RecordResult(
        name,
        adc,
        baseline,
        gain,
        sig.lead,
        peaks,
        used,
        pred,
        probs,
        list(dm.labels),
        ann_samples,
        ann_symbols,
        match,
        fixed_agree,
        notes,
        label_map,
    )
