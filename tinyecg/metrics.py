"""Metrics as the ECG literature reports them: per-class sensitivity (Se), positive
predictivity (PPV, +P) and F1, not only accuracy; and beat matching for QRS detection
(ANSI/AAMI EC57: a detection matches a reference beat within 150 ms), the one matching
every scorer uses (the detector's, the device path's, the stream's, the demo's)."""

from __future__ import annotations

import numpy as np

from tinyecg.spec import FS, MATCH_WINDOW, MATCH_WINDOW_S


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows: true class; columns: predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def report(y_true, y_pred, labels: list[str]) -> dict:
    cm = confusion(y_true, y_pred, len(labels))
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    per_class = {}
    f1s: list[float] = []
    for i, lab in enumerate(labels):
        se = tp[i] / support[i] if support[i] else None
        ppv = tp[i] / predicted[i] if predicted[i] else None
        f1 = 2 * tp[i] / (support[i] + predicted[i]) if (support[i] + predicted[i]) else None
        per_class[lab] = {"se": se, "ppv": ppv, "f1": f1, "support": int(support[i])}
        if support[i]:
            assert f1 is not None  # support > 0 makes support + predicted > 0
            f1s.append(f1)
    total = cm.sum()
    return {
        "labels": list(labels),
        "n": int(total),
        "accuracy": float(tp.sum() / total) if total else None,
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "per_class": per_class,
        "confusion": cm.tolist(),
    }


def markdown_table(rep: dict) -> str:
    lines = ["| class | support | Se | +P (PPV) | F1 |", "|---|---:|---:|---:|---:|"]
    for lab, m in rep["per_class"].items():
        fmt = lambda v: "–" if v is None else f"{100 * v:.2f} %"  # noqa: E731
        lines.append(
            f"| {lab} | {m['support']} | {fmt(m['se'])} | {fmt(m['ppv'])} | {fmt(m['f1'])} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- QRS detection
def match_beats(ref, test, window: int = MATCH_WINDOW) -> np.ndarray:
    """For each reference beat the index of the test beat matched to it within `window`
    samples, else -1 (EC57 matching: wfdb.processing.compare_annotations). Both sorted."""
    ref = np.asarray(ref, np.int64)
    test = np.asarray(test, np.int64)
    if len(ref) == 0 or len(test) == 0:
        return np.full(len(ref), -1, np.int64)
    from wfdb.processing import compare_annotations

    return np.asarray(compare_annotations(ref, test, int(window)).matching_sample_nums, np.int64)


def _detection_scores(tp: int, fp: int, fn: int) -> dict:
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "se": tp / (tp + fn) if tp + fn else None,
        "ppv": tp / (tp + fp) if tp + fp else None,
    }


def score_detections(
    ref_samples, test_samples, fs: float = FS, exclude: list[tuple[int, int]] | None = None
) -> dict:
    """QRS detection scores with a 150 ms matching window (match_beats). exclude: sample
    intervals (e.g. flutter episodes) where neither reference beats nor detections count.
    Returns tp, fp, fn and se, ppv as fractions (None when undefined)."""
    ref = np.sort(np.asarray(ref_samples, dtype=np.int64))
    test = np.sort(np.asarray(test_samples, dtype=np.int64))
    for a, b in exclude or ():
        ref = ref[(ref < a) | (ref > b)]
        test = test[(test < a) | (test > b)]
    tp = int((match_beats(ref, test, round(MATCH_WINDOW_S * fs)) >= 0).sum())
    return _detection_scores(tp, len(test) - tp, len(ref) - tp)


def add_scores(scores) -> dict:
    """Sum of several score dicts (tp/fp/fn) with se/ppv recomputed."""
    return _detection_scores(
        sum(s["tp"] for s in scores), sum(s["fp"] for s in scores), sum(s["fn"] for s in scores)
    )
