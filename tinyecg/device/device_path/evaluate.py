"""Score the board's beat path on whole records (see the package's docstring)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from tinyecg import metrics
from tinyecg.device import detect
from tinyecg.device.device_path.classifier import Int8Classifier
from tinyecg.device.device_path.events import build_event_driver
from tinyecg.device.device_path.record import evaluate_record, labels_map
from tinyecg.device.device_path.summary import (
    accuracy,
    offset_effect,
    offset_summary,
    record_summary,
    shift_effect,
    summaries,
)
from tinyecg.errors import TinyECGError
from tinyecg.spec import MATCH_WINDOW, NLRAV_TO_AAMI

log = logging.getLogger("tinyecg.device.device_path")


def _test_split_keys(config: dict, data_dir: Path) -> set | None:
    """(record, sample) of the beats in the run's test split (intra runs only), rebuilt
    from data_dir (the run may have been made, or shipped, with another path)."""
    if not config or config.get("split", {}).get("name") != "intra":
        return None
    from tinyecg.data.dataset import dataset_from_config

    ds, split = dataset_from_config({**config, "data": {**config["data"], "dir": str(data_dir)}})
    b = ds.beats
    idx = split["test"]
    return set(zip(b.record[idx].tolist(), b.sample[idx].tolist()))


def evaluate_device_path(
    model_tflite: Path,
    records: list[str],
    data_dir=None,
    labels: str = "nlrav",
    config: dict | None = None,
    shifts=(),
    build_dir=None,
) -> dict:
    """Score the board's beat path (C detector -> C beat assembly -> fixed-point
    preprocessing -> int8 model in TFLM) on whole records, beside the same model on the
    annotated R-peaks (fixed-point and float preprocessing).

    model_tflite: a full-int8 .tflite; records: record names in data_dir (default: the
    bundled excerpt / $TINYECG_DATA); labels: the label set beats are scored in ("nlrav" or
    "aami"). config: the run's config.json (optional): its data.labels are the model's
    classes (an nlrav model scored in aami has its predictions mapped N L R -> N, A -> S,
    V -> V) and, for an intra split, every summary is repeated on the beats of its test
    split alone (the model saw the other beats of the same records in training, and
    neighbours of the test beats too: an intra figure is not a generalisation figure).
    shifts: sample offsets for the deliberate-misalignment experiment (e.g. (-5, -2, 2, 5)).
    Returns {"per_record": {...}, "total": {...}, "meta": {...}}."""
    from tinyecg.data.records import resolve_data_dir

    model_tflite = Path(model_tflite)
    if not model_tflite.is_file():
        raise TinyECGError(f"{model_tflite}: model file not found")
    if not records:
        raise TinyECGError("no records given")
    data_dir = resolve_data_dir(data_dir)
    label_names, _ = labels_map(labels)
    model_labels = (config or {}).get("data", {}).get("labels", labels)
    pred_map = None
    if model_labels != labels:
        if (model_labels, labels) != ("nlrav", "aami"):
            raise TinyECGError(
                f"a model trained on {model_labels!r} classes cannot be scored "
                f"in {labels!r} classes"
            )
        nlrav, _ = labels_map("nlrav")
        pred_map = np.array([label_names.index(NLRAV_TO_AAMI[c]) for c in nlrav], np.int64)
    clf = Int8Classifier(model_tflite)
    outputs = (config or {}).get("data", {}).get("label_names")
    if pred_map is None and outputs and list(outputs) != list(label_names):
        # a model with part of the set's classes (the patient recipe: N, S, V, F of AAMI)
        if not set(outputs) <= set(label_names) or len(outputs) != clf.n_classes:
            raise TinyECGError(f"model outputs {outputs} are not classes of {labels!r}")
        pred_map = np.array([label_names.index(c) for c in outputs], np.int64)
    if pred_map is None and clf.n_classes != len(label_names):
        raise TinyECGError(f"model has {clf.n_classes} outputs; {labels!r} has {len(label_names)}")
    test_keys = _test_split_keys(config, data_dir) if config else None

    tmp = None
    if build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tinyecg-device-")
        build_dir = tmp.name
    try:
        harness = detect.build_host_harness(Path(build_dir) / "host")
        driver = build_event_driver(Path(build_dir) / "events")
        parts = []
        for i, name in enumerate(records, 1):
            res = evaluate_record(
                clf, data_dir, str(name), labels, harness, driver, pred_map, tuple(shifts)
            )
            if res is None:
                log.info("[%d/%d] %s: no MLII lead, skipped", i, len(records), name)
                continue
            log.info(
                "[%d/%d] %s: %d device beats, accuracy %.4f (annotated %.4f)",
                i,
                len(records),
                name,
                res.n_device_beats,
                accuracy(res.det_y, res.det_pred) or 0.0,
                accuracy(res.ann_y, res.ann_fixed) or 0.0,
            )
            parts.append(res)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if not parts:
        raise TinyECGError("none of the records has an MLII lead")

    total = summaries(parts, label_names)
    total["qrs"] = metrics.add_scores([p.qrs for p in parts])
    total["qrs_ec57"] = metrics.add_scores([p.qrs_ec57 for p in parts])
    all_off = np.concatenate([p.offsets for p in parts])
    total["offsets"] = offset_summary(all_off)
    vals, counts = np.unique(np.clip(all_off, -10, 10), return_counts=True)
    total["offsets"]["histogram_clipped_10"] = {int(v): int(c) for v, c in zip(vals, counts)}
    total["offset_effect"] = offset_effect(parts)
    if shifts:
        total["shift_effect"] = shift_effect(parts, label_names)
    total["rr_check"] = {
        k: sum(p.rr_check[k] for p in parts)
        for k in ("beats", "python_beats", "mismatches", "timeouts")
    }
    total["device_beats"] = sum(p.n_device_beats for p in parts)
    total["false_beats"] = sum(len(p.false_pred) for p in parts)
    total["unlabelled_matched"] = sum(p.unlabelled for p in parts)
    if test_keys is not None:

        def in_test(p, kind):
            samples = p.det_sample if kind == "det" else p.ann_sample
            return np.array([(p.name, int(s)) in test_keys for s in samples], bool)

        total["test_split_only"] = summaries(parts, label_names, in_test)
    meta = {
        "model": str(model_tflite),
        "labels": labels,
        "model_labels": model_labels,
        "records": [p.name for p in parts],
        "data": str(data_dir),
        "split": (config or {}).get("split", {}).get("name"),
        "match_window_samples": MATCH_WINDOW,
        "shifts": [int(s) for s in shifts],
        "preprocess_params": {
            k: v
            for k, v in clf.preprocess_params().items()
            if k in ("input_scale", "input_zero_point", "quant_mult", "quant_shift")
        },
    }
    return {
        "meta": meta,
        "per_record": {p.name: record_summary(p, label_names) for p in parts},
        "total": total,
    }
