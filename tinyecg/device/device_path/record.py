"""One record through every path: the device's (C detector -> C beat assembly ->
fixed-point preprocessing -> int8 model), and the same model on the annotated R-peaks
through the fixed-point and the float preprocessing; detections matched to the
annotations (EC57)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import metrics
from tinyecg.device import detect
from tinyecg.device.device_path.beats import device_beats, windows_at
from tinyecg.device.device_path.classifier import Int8Classifier, annotated_inputs, fixed_inputs
from tinyecg.device.device_path.events import device_events, harness_beats
from tinyecg.device.device_path.patient import device_patient_inputs
from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp.fixedpoint.longterm import interleave
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT_SYMBOLS, PRE_R, WINDOW


@dataclass
class RecordResult:
    name: str
    n_samples: int
    qrs: dict
    qrs_ec57: dict
    n_peaks: int
    n_device_beats: int
    skipped: int
    rr_check: dict
    status: list
    offsets: np.ndarray  # detected - annotated of every matched peak
    # detected path: labelled device beats that match an annotation
    det_y: np.ndarray
    det_pred: np.ndarray
    det_offset: np.ndarray
    det_sample: np.ndarray  # the annotation's sample
    det_pair: np.ndarray  # index into the annotated arrays, or -1
    det_hybrid: np.ndarray  # detected window + annotated RR (-1 without a pair)
    false_pred: np.ndarray  # predictions of device beats matching no annotation
    unlabelled: int  # device beats matching a beat outside the label set
    # annotated paths: every labelled beat with a full window
    ann_y: np.ndarray
    ann_sample: np.ndarray
    ann_fixed: np.ndarray
    ann_float: np.ndarray
    input_agreement: dict
    shifted: dict  # shift -> (mask over annotated beats, predictions)


def labels_map(labels: str) -> tuple[list[str], dict]:
    from tinyecg.data.beats import label_set

    spec = label_set(labels)
    return list(spec["labels"]), dict(spec["map"])


def evaluate_record(
    clf: Int8Classifier,
    data_dir: Path,
    name: str,
    labels: str,
    harness,
    driver,
    pred_map=None,
    shifts=(),
) -> RecordResult | None:
    """Every path for one record (None when the record has no MLII lead)."""
    from tinyecg.data.records import load_record

    rec = load_record(data_dir, name)
    if rec is None:
        return None
    base = str(Path(data_dir) / name)
    x, _, (lo, hi) = detect.read_record(base, None)
    if not np.array_equal(x, rec.adc.astype(np.int64)):
        raise TinyECGError(f"{name}: the detector's lead differs from the dataset's lead")
    gain = int(round(rec.gain))
    params = clf.preprocess_params()

    def predict(beat, rhythm):
        p = clf.predict(beat, rhythm)
        return pred_map[p] if pred_map is not None and len(p) else p

    # --- the device: C detector and beat assembly, then the Python rules as a check
    peaks, c_r, c_rr = harness_beats(x, harness, lo, hi)
    ev = device_events(x, driver, lo, hi)
    if not np.array_equal(ev.peaks, peaks):
        raise TinyECGError(f"{name}: event driver and harness disagree on the R-peaks")
    py = device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
    same = len(py.r) == len(c_r) and np.array_equal(py.r, c_r) and np.array_equal(py.rr, c_rr)
    mismatches = (
        0
        if same
        else int(len(set(map(tuple, np.c_[py.r, py.rr])) ^ set(map(tuple, np.c_[c_r, c_rr]))))
    )
    # beats completed by the 2 s rule although the detector found a next beat later
    nxt = np.searchsorted(peaks, c_r, side="right")
    has_next = nxt < len(peaks)
    gap = np.where(has_next, peaks[np.minimum(nxt, len(peaks) - 1)] - c_r, -1)
    timeouts = int(np.sum(has_next & (c_rr[:, 1] != gap))) if len(c_r) else 0
    # the C's own beats are what the board classifies
    dev_r, dev_rr = c_r, c_rr
    if clf.patient:  # the patient's state follows the whole peak sequence: the C's, checked
        if not same:
            raise TinyECGError(f"{name}: the Python beat rules differ from the C's")
        q = fp.preprocess_windows_int(windows_at(x, dev_r), rec.baseline, gain, params)
        beat_q, rhythm_q = device_patient_inputs(py, q, params)
    else:
        beat_q, rhythm_q = fixed_inputs(
            clf, params, windows_at(x, dev_r), dev_rr, rec.baseline, gain
        )
    dev_pred = predict(beat_q, rhythm_q)

    # --- annotations
    ref = detect.reference_beats(base)
    flutter = detect.flutter_intervals(base)
    qrs = metrics.score_detections(ref, peaks)
    qrs_ec57 = metrics.score_detections(ref, peaks, exclude=flutter)
    match = metrics.match_beats(ref, peaks)
    matched = match >= 0
    offsets = peaks[match[matched]] - ref[matched]

    label_names, symbol_map = labels_map(labels)
    ann, ann_fixed_q, ann_float_q = annotated_inputs(clf, rec, labels, params)
    ann_fixed = predict(*ann_fixed_q)
    ann_float = predict(*ann_float_q)
    eq_beat = float(np.mean(ann_fixed_q[0] == ann_float_q[0])) if len(ann) else None
    eq_rhythm = (
        float(np.mean(ann_fixed_q[1] == ann_float_q[1]))
        if len(ann) and ann_fixed_q[1] is not None
        else None
    )

    # device beats -> annotation symbol (label) of the matched reference beat
    import wfdb

    a = wfdb.rdann(base, "atr")
    sym_of = {int(s): sym for s, sym in zip(a.sample, a.symbol) if sym in BEAT_SYMBOLS}
    peak_to_ref = np.full(len(peaks), -1, np.int64)
    peak_to_ref[match[matched]] = np.flatnonzero(matched)
    peak_index = {int(r): k for k, r in enumerate(peaks)}
    ann_index = {int(s): k for k, s in enumerate(ann.sample)}
    det_rows, false_rows, unlabelled = [], [], 0
    for k, r in enumerate(dev_r):
        ri = peak_to_ref[peak_index[int(r)]]
        if ri < 0:
            if not any(lo_ <= r <= hi_ for lo_, hi_ in flutter):
                false_rows.append(k)
            continue
        sym = sym_of[int(ref[ri])]
        if sym not in symbol_map:
            unlabelled += 1
            continue
        det_rows.append(
            (k, label_names.index(symbol_map[sym]), int(ref[ri]), ann_index.get(int(ref[ri]), -1))
        )
    det = np.asarray(det_rows, np.int64).reshape(-1, 4)
    rows = det[:, 0]
    pair = det[:, 3]
    hybrid = np.full(len(det), -1, np.int64)
    has = pair >= 0
    if clf.rhythm_q is not None and has.any():
        hybrid[has] = predict(beat_q[rows[has]], ann_fixed_q[1][pair[has]])
    elif has.any():
        hybrid[has] = dev_pred[rows[has]]

    # --- optional: annotated windows shifted on purpose (RR context unchanged)
    shifted = {}
    if shifts:
        m = max(abs(int(s)) for s in shifts)
        keep = (ann.sample - PRE_R - m >= 0) & (ann.sample - PRE_R + WINDOW + m <= len(x))
        for s in shifts:
            w = windows_at(x, ann.sample[keep] + int(s))
            bq, _ = fixed_inputs(clf, params, w, ann.rr[keep], rec.baseline, gain)
            if clf.patient:  # the shifted window beside the annotated path's template
                bq = interleave(bq, ann_fixed_q[0][keep][:, 1::2])
            rq = ann_fixed_q[1][keep] if ann_fixed_q[1] is not None else None
            shifted[int(s)] = (keep, predict(bq, rq))

    return RecordResult(
        name=name,
        n_samples=int(len(x)),
        qrs=qrs,
        qrs_ec57=qrs_ec57,
        n_peaks=int(len(peaks)),
        n_device_beats=int(len(dev_r)),
        skipped=int(py.skipped),
        rr_check={
            "beats": int(len(c_r)),
            "python_beats": int(len(py.r)),
            "mismatches": mismatches,
            "timeouts": timeouts,
        },
        status=[s for _, s in ev.status if not s.startswith("# tinyecg")],
        offsets=offsets.astype(np.int64),
        det_y=det[:, 1],
        det_pred=dev_pred[rows] if len(rows) else np.zeros(0, np.int64),
        det_offset=(dev_r[rows] - det[:, 2]) if len(rows) else np.zeros(0, np.int64),
        det_sample=det[:, 2],
        det_pair=pair,
        det_hybrid=hybrid,
        false_pred=dev_pred[np.asarray(false_rows, np.int64)]
        if false_rows
        else np.zeros(0, np.int64),
        unlabelled=unlabelled,
        ann_y=ann.y,
        ann_sample=ann.sample,
        ann_fixed=ann_fixed,
        ann_float=ann_float,
        input_agreement={"beat_int8_equal": eq_beat, "rhythm_int8_equal": eq_rhythm},
        shifted=shifted,
    )
