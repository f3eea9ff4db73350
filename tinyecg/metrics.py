"""Classification metrics as the ECG literature reports them: per-class sensitivity (Se),
positive predictivity (PPV, +P) and F1, not only accuracy."""
from __future__ import annotations

import numpy as np


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
    f1s = []
    for i, lab in enumerate(labels):
        se = tp[i] / support[i] if support[i] else None
        ppv = tp[i] / predicted[i] if predicted[i] else None
        f1 = 2 * tp[i] / (support[i] + predicted[i]) if (support[i] + predicted[i]) else None
        per_class[lab] = {"se": se, "ppv": ppv, "f1": f1, "support": int(support[i])}
        if support[i]:
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
        lines.append(f"| {lab} | {m['support']} | {fmt(m['se'])} | {fmt(m['ppv'])} | {fmt(m['f1'])} |")
    return "\n".join(lines)
