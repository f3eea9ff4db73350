"""Reports of the device path over records: class reports of each path, the paired
comparison, the R-peak offsets and their effect, the shift experiment."""

from __future__ import annotations

import numpy as np

from tinyecg import metrics
from tinyecg.device.device_path.record import RecordResult
from tinyecg.spec import MATCH_WINDOW

OFFSET_BINS = ((0, 0), (1, 1), (2, 2), (3, 5), (6, MATCH_WINDOW))


def offset_summary(offsets) -> dict:
    """Statistics of detected - annotated R-peak offsets (samples; 1 sample = 2.8 ms)."""
    o = np.asarray(offsets, np.int64)
    if len(o) == 0:
        return {"n": 0}
    a = np.abs(o)
    return {
        "n": int(len(o)),
        "mean": float(o.mean()),
        "median": float(np.median(o)),
        "std": float(o.std()),
        "mean_abs": float(a.mean()),
        "p95_abs": float(np.percentile(a, 95)),
        "max_abs": int(a.max()),
        "within_1": float(np.mean(a <= 1)),
        "within_2": float(np.mean(a <= 2)),
        "within_5": float(np.mean(a <= 5)),
    }


def accuracy(y, p) -> float | None:
    return float(np.mean(np.asarray(y) == np.asarray(p))) if len(y) else None


def changed(a, b) -> float | None:
    """The fraction of predictions a that differ from b; None when there are none."""
    same = accuracy(a, b)
    return None if same is None else 1.0 - same


def summaries(parts: list[RecordResult], labels: list[str], mask_fn=None) -> dict:
    """Reports over several records; mask_fn(part, kind) -> boolean mask selects beats
    (kind "det" or "ann"), e.g. the test split's beats."""

    def cat(attr, kind):
        vals = []
        for p in parts:
            v = getattr(p, attr)
            if mask_fn is not None:
                v = v[mask_fn(p, kind)]
            vals.append(v)
        return np.concatenate(vals) if vals else np.zeros(0, np.int64)

    det_y, det_pred = cat("det_y", "det"), cat("det_pred", "det")
    ann_y = cat("ann_y", "ann")
    out = {
        "detected": metrics.report(det_y, det_pred, labels),
        "annotated_fixed": metrics.report(ann_y, cat("ann_fixed", "ann"), labels),
        "annotated_float": metrics.report(ann_y, cat("ann_float", "ann"), labels),
    }
    # end to end: annotated beats of each class the device classified correctly / annotated
    support = np.bincount(ann_y, minlength=len(labels))
    paired = cat("det_pair", "det") >= 0  # the annotation is one of the annotated beats
    correct = np.bincount(det_y[paired & (det_y == det_pred)], minlength=len(labels))
    found = np.bincount(det_y[paired], minlength=len(labels))
    out["detected"]["end_to_end"] = {
        lab: {
            "annotated": int(support[i]),
            "classified": int(found[i]),
            "correct": int(correct[i]),
            "se": float(correct[i] / support[i]) if support[i] else None,
        }
        for i, lab in enumerate(labels)
    }
    if mask_fn is None:
        false = cat("false_pred", "false")
        fc = np.bincount(false, minlength=len(labels)) if len(false) else np.zeros(len(labels), int)
        cm = np.asarray(out["detected"]["confusion"])
        out["detected"]["false_beats"] = {lab: int(fc[i]) for i, lab in enumerate(labels)}
        out["detected"]["ppv_with_false_beats"] = {
            lab: float(cm[i, i] / (cm[:, i].sum() + fc[i])) if cm[:, i].sum() + fc[i] else None
            for i, lab in enumerate(labels)
        }
    # paired: matched beats whose annotation is in the annotated set
    pair_y, pair_det, pair_hyb, pair_ann = [], [], [], []
    for p in parts:
        sel = p.det_pair >= 0
        if mask_fn is not None:
            sel &= mask_fn(p, "det")
        pair_y.append(p.det_y[sel])
        pair_det.append(p.det_pred[sel])
        pair_hyb.append(p.det_hybrid[sel])
        pair_ann.append(p.ann_fixed[p.det_pair[sel]])
    py_, pd_, ph_, pa_ = (
        np.concatenate(v) if v else np.zeros(0, np.int64)
        for v in (pair_y, pair_det, pair_hyb, pair_ann)
    )
    out["paired"] = {
        "n": int(len(py_)),
        "accuracy_annotated_fixed": accuracy(py_, pa_),
        "accuracy_detected_window_annotated_rr": accuracy(py_, ph_),
        "accuracy_detected": accuracy(py_, pd_),
        "macro_f1_annotated_fixed": metrics.report(py_, pa_, labels)["macro_f1"],
        "macro_f1_detected": metrics.report(py_, pd_, labels)["macro_f1"],
        "prediction_changed": changed(pd_, pa_),
    }
    return out


def offset_effect(parts: list[RecordResult]) -> list[dict]:
    """Accuracy of matched beats by |detected - annotated| bin, beside the annotated-peak
    accuracy of the same beats (so harder beats in a bin do not pass for misalignment)."""
    off = np.concatenate([p.det_offset for p in parts]) if parts else np.zeros(0, np.int64)
    y = np.concatenate([p.det_y for p in parts]) if parts else np.zeros(0, np.int64)
    pd_ = np.concatenate([p.det_pred for p in parts]) if parts else np.zeros(0, np.int64)
    pair = np.concatenate([p.det_pair >= 0 for p in parts]) if parts else np.zeros(0, bool)
    pa_ = (
        np.concatenate(
            [
                np.where(p.det_pair >= 0, p.ann_fixed[np.maximum(p.det_pair, 0)], -1)
                if len(p.det_pair)
                else np.zeros(0, np.int64)
                for p in parts
            ]
        )
        if parts
        else np.zeros(0, np.int64)
    )
    rows = []
    for lo, hi in OFFSET_BINS:
        sel = (np.abs(off) >= lo) & (np.abs(off) <= hi) & pair
        rows.append(
            {
                "abs_offset": f"{lo}" if lo == hi else f"{lo}-{hi}",
                "n": int(sel.sum()),
                "accuracy_detected": accuracy(y[sel], pd_[sel]),
                "accuracy_annotated_fixed": accuracy(y[sel], pa_[sel]),
            }
        )
    return rows


def shift_effect(parts: list[RecordResult], labels: list[str]) -> list[dict]:
    shifts = sorted({s for p in parts for s in p.shifted})
    rows = []
    for s in shifts:
        ys, ps, bs = [], [], []
        for p in parts:
            keep, pred = p.shifted[s]
            ys.append(p.ann_y[keep])
            ps.append(pred)
            bs.append(p.ann_fixed[keep])
        y, pr, base = np.concatenate(ys), np.concatenate(ps), np.concatenate(bs)
        rep = metrics.report(y, pr, labels)
        rows.append(
            {
                "shift": s,
                "n": int(len(y)),
                "accuracy": rep["accuracy"],
                "accuracy_unshifted": accuracy(y, base),
                "macro_f1": rep["macro_f1"],
                "macro_f1_unshifted": metrics.report(y, base, labels)["macro_f1"],
                "prediction_changed": changed(pr, base),  # pr is one per beat of y
                "per_class_se": {k: v["se"] for k, v in rep["per_class"].items()},
            }
        )
    return rows


def record_summary(p: RecordResult, labels: list[str]) -> dict:
    return {
        "samples": p.n_samples,
        "peaks": p.n_peaks,
        "device_beats": p.n_device_beats,
        "skipped": p.skipped,
        "qrs": p.qrs,
        "qrs_ec57": p.qrs_ec57,
        "rr_check": p.rr_check,
        "status": p.status,
        "offsets": offset_summary(p.offsets),
        "matched_labelled": int(len(p.det_y)),
        "unlabelled_matched": p.unlabelled,
        "false_beats": int(len(p.false_pred)),
        "accuracy_detected": accuracy(p.det_y, p.det_pred),
        "accuracy_annotated_fixed": accuracy(p.ann_y, p.ann_fixed),
        "accuracy_annotated_float": accuracy(p.ann_y, p.ann_float),
        "annotated_beats": int(len(p.ann_y)),
        "input_agreement": p.input_agreement,
        "confusion_detected": metrics.confusion(p.det_y, p.det_pred, len(labels)).tolist(),
    }
