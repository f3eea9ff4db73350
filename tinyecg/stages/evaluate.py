"""Evaluation of a run's model (float Keras or int8 TFLite in TFLM) on its test split, or on
another WFDB folder; writes report.json, report.md and a confusion-matrix PNG."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinyecg import metrics, outputs
from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, run_model
from tinyecg.spec import NLRAV_TO_AAMI

log = logging.getLogger("tinyecg.stages.evaluate")


def load_keras(path: Path):
    import tensorflow_model_optimization as tfmot

    from tinyecg.models.architectures import keras

    try:
        with (
            tfmot.quantization.keras.quantize_scope(),
            tfmot.clustering.keras.cluster_scope(),
            tfmot.sparsity.keras.prune_scope(),
        ):
            return keras.models.load_model(path, compile=False)
    except Exception as exc:
        why = str(exc).splitlines()[0][:160]
        raise TinyECGError(f"{path}: cannot load model ({why})") from None


def predict_proba(model_path: Path, x: np.ndarray, rhythm: np.ndarray, runtime: str = "tflm"):
    """Class scores (n, classes): probabilities for Keras models, dequantized outputs for
    int8 models run in `runtime` ("tflm" or "litert-ref")."""
    model_path = Path(model_path)
    if model_path.suffix == ".tflite":
        from tinyecg.models.int8 import Int8Model
        from tinyecg.runtime.tflm import LiteRTModel, TFLMModel

        data = model_path.read_bytes()
        int8 = Int8Model.load(data)  # a clear error for a corrupt file before any runtime
        m = TFLMModel(data) if runtime == "tflm" else LiteRTModel(data)
        q = m.invoke_batch(*int8.quantize_inputs(beat=x, rhythm=rhythm))
        return int8.output.dequantize(q)
    from tinyecg.models.inputs import model_inputs

    model = load_keras(model_path)
    return model.predict(model_inputs(model, x, rhythm), batch_size=1024, verbose=0)


def plot_confusion(cm: np.ndarray, labels: list[str], title: str, path: Path | BinaryIO) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4.0), dpi=120)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("annotated")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def evaluate(
    run_dir: Path,
    model: str = "teacher",
    records: str | None = None,
    runtime: str = "tflm",
    write: bool = True,
    lead=None,
    label_map: str | Path | None = None,
) -> dict:
    """Score a model of the run on its test split, or on every beat of another WFDB folder
    (`records`, AAMI classes; `lead` and `label_map` for databases that differ). Writes
    report.json, report.md and confusion.png as one set: all three or none. A
    patient-recipe run is scored on N, S, V, F with its integer template
    (tinyecg.stages.patient_eval)."""
    from tinyecg.data.beats import read_label_map
    from tinyecg.data.dataset import build_dataset, dataset_from_config
    from tinyecg.data.records import resolve_data_dir
    from tinyecg.stages.patient_recipe import is_patient

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    path = run_model(run_dir, model)
    run_labels = cfg["data"]["label_names"]
    if is_patient(cfg):
        return _evaluate_patient(run_dir, cfg, path, records, runtime, write, lead, label_map)
    if records:
        ds = build_dataset(
            resolve_data_dir(records),
            labels="aami",
            include_paced=cfg["data"]["include_paced"],
            lead=lead,
            label_map=read_label_map(label_map) if label_map else None,
        )
        test = ds
        scope = f"all beats of {records}"
    else:
        ds, split = dataset_from_config(cfg)
        test = ds.subset(split["test"])
        scope = f"{cfg['split']['name']} test split"
    if len(test) == 0:
        raise TinyECGError("no beats to evaluate")
    proba = predict_proba(path, test.x, test.beats.rhythm, runtime)
    pred = proba.argmax(axis=1)
    labels = list(test.labels)
    if records and cfg["data"]["labels"] != "aami":
        pred = np.array([labels.index(NLRAV_TO_AAMI[run_labels[p]]) for p in pred])
    rep = metrics.report(test.beats.y, pred, labels)
    rep.update(
        _report_meta(
            cfg, records, scope, path, runtime, "aami" if records else cfg["data"]["labels"]
        )
    )
    if records:
        rep.update({"unmapped": ds.unmapped or {}, "skipped": ds.skipped})
    if write:
        _write_report(run_dir, rep, labels, scope)
    return rep


def _report_meta(cfg, records, scope, path, runtime, label_set) -> dict:
    """What a report says it scored: split, scope, model, runtime and label set."""
    return {
        "split": cfg["split"]["name"] if not records else "external",
        "scope": scope,
        "model": path.stem,
        "model_file": path.name,
        "runtime": ("tflm" if runtime == "tflm" else "litert-ref")
        if path.suffix == ".tflite"
        else "keras-float",
        "label_set": label_set,
    }


def _evaluate_patient(run_dir, cfg, path, records, runtime, write, lead, label_map) -> dict:
    """evaluate() of a patient-recipe run (tinyecg.stages.patient_eval): classes N, S, V, F."""
    from tinyecg.data.beats import read_label_map
    from tinyecg.stages.patient_eval import CLASSES, predict, test_part

    mapping = read_label_map(label_map) if label_map else None
    ds, rows, data_dir, scope = test_part(cfg, records, lead, mapping)
    if len(rows) == 0:
        raise TinyECGError("no beats to evaluate")
    pred = predict(path, ds, rows, data_dir, runtime, lead).argmax(axis=1)
    rep = metrics.report(ds.beats.y[rows], pred, CLASSES)
    rep.update({**_report_meta(cfg, records, scope, path, runtime, "aami"), "recipe": "patient"})
    if records:
        rep.update({"unmapped": ds.unmapped or {}, "skipped": ds.skipped})
    if write:
        _write_report(run_dir, rep, CLASSES, scope)
    return rep


def _write_report(run_dir: Path, rep: dict, labels: list[str], scope: str) -> None:
    """report.json, report.md and confusion.png as one set: all three or none."""
    import io

    png = io.BytesIO()
    plot_confusion(
        np.array(rep["confusion"]), labels, f"{rep['model']} ({rep['runtime']}) – {scope}", png
    )
    outputs.write_set(
        run_dir,
        {
            "report.json": outputs.json_text(rep),
            "report.md": report_markdown(rep),
            "confusion.png": png.getvalue(),
        },
        require_empty=False,
    )


def report_markdown(rep: dict) -> str:
    return (
        f"# Evaluation: {rep['model']} ({rep['runtime']})\n\n"
        f"Scope: {rep['scope']} ({rep['n']} beats, labels {rep['label_set']}).\n\n"
        f"- accuracy: {100 * rep['accuracy']:.2f} %\n"
        f"- macro F1: {100 * rep['macro_f1']:.2f} %\n\n"
        + metrics.markdown_table(rep)
        + "\n\nConfusion (rows annotated, columns predicted):\n\n"
        + "| | "
        + " | ".join(rep["labels"])
        + " |\n|---|"
        + "---:|" * len(rep["labels"])
        + "\n"
        + "\n".join(
            f"| {lab} | " + " | ".join(str(v) for v in row) + " |"
            for lab, row in zip(rep["labels"], rep["confusion"])
        )
        + "\n"
    )
