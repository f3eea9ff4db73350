"""Stage 3: the distilled student as a full-integer int8 TFLite model, plus optional
tfmot variants (quantization-aware training, magnitude pruning, weight clustering).

Every model this stage writes is converted the same way (`convert_int8`): TFLiteConverter
from the Keras model, Optimize.DEFAULT, a representative dataset of training windows (drawn
stratified by class, both inputs), TFLITE_BUILTINS_INT8 only, int8 input and output; then
the flatbuffer is read back and rejected unless every tensor and op is integer. Nothing is
written for a model that fails.

Outputs (run directory, see tinyecg.run):
    student_int8.tflite            PTQ of student.keras (always)
    student_qat_int8.tflite        tfmot quantize_model + distillation fine-tuning (qat=True)
    student_pruned_int8.tflite     prune_low_magnitude to `prune` sparsity, fine-tuned, stripped
    student_clustered_int8.tflite  cluster_weights with `clusters` centroids, fine-tuned, stripped
and a "quantize" section in config.json.

Fine-tuning (QAT, pruning, clustering) uses the distillation loss of stage 2 with the run's
teacher and the student's R-peak jitter, at a lower learning rate, for `finetune_epochs`
epochs, without early stopping (pruning's schedule must run to its end; the last epoch is
kept).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import TypedDict

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, staged_file, write_json
from tinyecg.stages.tfmot_variants import (
    _kernel_layers,
    clustered_model,
    int8_weight_stats,
    pruned_model,
    qat_model,
)

log = logging.getLogger("tinyecg.stages.quantize")


class QuantizeDefaults(TypedDict):
    representative_size: int
    finetune_epochs: int
    finetune_learning_rate: float
    batch_size: int
    min_per_class: int
    seed: int


DEFAULTS: QuantizeDefaults = {
    "representative_size": 500,
    "finetune_epochs": 3,
    "finetune_learning_rate": 5e-4,
    "batch_size": 256,
    "min_per_class": 10,
    "seed": 0,
}

OUTPUTS = {
    "ptq": "student_int8.tflite",
    "qat": "student_qat_int8.tflite",
    "pruned": "student_pruned_int8.tflite",
    "clustered": "student_clustered_int8.tflite",
}


# --------------------------------------------------------------------------- representative set


def stratified_indices(
    y: np.ndarray, size: int, seed: int = 0, min_per_class: int = DEFAULTS["min_per_class"]
) -> np.ndarray:
    """`size` indices into y, drawn without replacement: each class in proportion to its
    frequency but at least min(min_per_class, its count), so the calibration sees the rare
    classes' extreme shapes too. Sorted."""
    y = np.asarray(y)
    if size < 1:
        raise TinyECGError(f"representative size must be >= 1 (got {size})")
    size = min(int(size), len(y))
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    floor = np.minimum(min_per_class, counts)
    if floor.sum() > size:  # too small for the floor: proportional only
        floor = np.zeros_like(counts)
    take = np.minimum(np.maximum(np.round(size * counts / counts.sum()).astype(int), floor), counts)
    while take.sum() > size:  # trim the class furthest above its floor
        take[np.argmax(take - floor)] -= 1
    while take.sum() < size:  # fill from the class with the most beats left
        take[np.argmax(counts - take)] += 1
    picked = [
        rng.choice(np.flatnonzero(y == c), size=int(k), replace=False)
        for c, k in zip(classes, take)
        if k > 0
    ]
    return np.sort(np.concatenate(picked))


def representative_inputs(model, x: np.ndarray, rhythm: np.ndarray) -> list[np.ndarray]:
    """Float windows (n, 360) and rhythm features (n, 5) -> the model's inputs, in its input
    order: beat (n, 1, 360, 1) and, if the model takes it, rhythm (n, 5)."""
    from tinyecg.models.inputs import model_inputs

    inputs = model_inputs(model, np.asarray(x, np.float32), np.asarray(rhythm, np.float32))
    return list(inputs) if isinstance(inputs, list) else [inputs]


def _check_representative(model, rep: list[np.ndarray]) -> list[np.ndarray]:
    if not isinstance(rep, (list, tuple)):
        rep = [rep]
    names = [t.name.split(":")[0] for t in model.inputs]
    if len(rep) != len(model.inputs):
        raise TinyECGError(
            f"representative set has {len(rep)} input(s); the model takes "
            f"{len(model.inputs)} ({', '.join(names)})"
        )
    out = []
    n = None
    for arr, t, name in zip(rep, model.inputs, names):
        arr = np.asarray(arr, np.float32)
        want = tuple(int(d) for d in t.shape[1:])
        if arr.ndim != len(want) + 1 or tuple(arr.shape[1:]) != want:
            raise TinyECGError(
                f"representative input {name!r} has shape {list(arr.shape)}; "
                f"the model needs [n, {', '.join(map(str, want))}]"
            )
        if len(arr) == 0:
            raise TinyECGError("representative set is empty")
        if n is not None and len(arr) != n:
            raise TinyECGError(f"representative inputs differ in length ({n} vs {len(arr)})")
        if not np.all(np.isfinite(arr)):
            raise TinyECGError(f"representative input {name!r} has NaN or infinite values")
        n = len(arr)
        out.append(arr)
    return out


# --------------------------------------------------------------------------- conversion


def convert_int8(model, representative: list[np.ndarray], per_channel_dense: bool = False) -> bytes:
    """Full-integer TFLite flatbuffer of a Keras model (plain or tfmot QAT).

    Convolutions get per-channel weight scales (every TFLM computes them); dense layers get
    one scale per tensor unless per_channel_dense: the TF converter's default since 2.16 is
    per-channel FULLY_CONNECTED, which TFLM before 2024-08 (tflite-micro PR 2673) computes
    with channel 0's scale for every channel, silently (the Arduino export the firmware pins,
    bd7e861), or refuses at load (2024-05..08, PR 2602). Per-tensor dense layers run
    correctly on every TFLM a board can get (docs/firmware.md).

    representative: arrays in the model's input order, each (n, *input shape). Raises
    TinyECGError for a representative set of the wrong shape, a failed conversion, or a
    result with any float tensor or non-int8 op (QUANTIZE/DEQUANTIZE included)."""
    import tensorflow as tf

    from tinyecg.models.tflite import load_model

    rep = _check_representative(model, representative)
    names = [t.name.split(":")[0] for t in model.inputs]

    def dataset():
        # samples as {input name: batch of one}: the converter matches names, not positions
        # (its flatbuffer input order is not the Keras one)
        for i in range(len(rep[0])):
            yield {name: arr[i : i + 1] for name, arr in zip(names, rep)}

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = dataset
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = conv.convert()
    except Exception as exc:
        first = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        raise TinyECGError(f"int8 conversion failed: {first[:200]}") from None
    ok, reasons = load_model(bytes(data)).is_fully_int8()
    if not ok:
        raise TinyECGError(
            "int8 conversion left non-integer parts: "
            + "; ".join(reasons[:4])
            + (f" (and {len(reasons) - 4} more)" if len(reasons) > 4 else "")
        )
    return bytes(data)


def _write_tflite(path: Path, data: bytes) -> None:
    with staged_file(path) as tmp:
        tmp.write_bytes(data)


def _tflm_check(data: bytes) -> int:
    """Load in the TFLM host runtime (proves it runs there); returns arena bytes."""
    from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

    m, _ = capture_c_stdout(lambda: TFLMModel(data))
    return m.arena_bytes()


# --------------------------------------------------------------------------- the stage


def quantize(
    run_dir: Path,
    qat: bool = False,
    prune: float | None = None,
    clusters: int | None = None,
    representative_size: int = DEFAULTS["representative_size"],
    seed: int = DEFAULTS["seed"],
    force: bool = False,
    finetune_epochs: int = DEFAULTS["finetune_epochs"],
    finetune_learning_rate: float = DEFAULTS["finetune_learning_rate"],
    quiet: bool = False,
) -> dict:
    """Write student_int8.tflite (full-integer PTQ) and the requested tfmot variants; returns
    the config's "quantize" section. Existing outputs newer than student.keras are kept
    unless force=True."""
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.models.architectures import keras
    from tinyecg.models.inputs import model_inputs
    from tinyecg.stages.distill import DEFAULTS as KD
    from tinyecg.stages.distill import jitter_shifts, teacher_logits, training_set
    from tinyecg.stages.evaluate import load_keras
    from tinyecg.stages.patient_recipe import is_patient, quantize_patient
    from tinyecg.stages.train import DEFAULTS as TRAIN_DEFAULTS

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    if is_patient(cfg):
        if qat or prune is not None or clusters is not None:
            raise TinyECGError(
                "--recipe patient: post-training quantization only (QAT, pruning and "
                "clustering are not ported to two-channel models)"
            )
        return quantize_patient(run_dir, seed, force, quiet)
    student_path = run_dir / (cfg.get("student") or {}).get("file", "student.keras")
    if not student_path.is_file():
        raise TinyECGError(
            f"{run_dir}: no distilled student (student.keras) to quantize; run distill first"
        )
    if prune is not None and not 0.0 < float(prune) < 1.0:
        raise TinyECGError(f"prune sparsity must be between 0 and 1 (got {prune})")
    if clusters is not None and not 2 <= int(clusters) <= 256:
        raise TinyECGError(f"clusters must be between 2 and 256 (got {clusters})")
    if representative_size < 1:
        raise TinyECGError(f"representative size must be >= 1 (got {representative_size})")
    if (qat or prune is not None or clusters is not None) and finetune_epochs < 1:
        raise TinyECGError(f"finetune epochs must be >= 1 (got {finetune_epochs})")

    wanted = (
        ["ptq"]
        + (["qat"] if qat else [])
        + (["pruned"] if prune is not None else [])
        + (["clustered"] if clusters is not None else [])
    )
    student_mtime = student_path.stat().st_mtime
    todo, kept = [], []
    for kind in wanted:
        path = run_dir / OUTPUTS[kind]
        if path.exists() and not force:
            if path.stat().st_mtime < student_mtime:
                raise TinyECGError(
                    f"{path}: older than {student_path.name} (use --force to re-quantize)"
                )
            kept.append(kind)
        else:
            todo.append(kind)
    section = dict(cfg.get("quantize") or {})
    models = dict(section.get("models") or {})
    if not todo:
        log.info("all requested int8 models exist and are newer than the student; kept")
        return section

    student = load_keras(student_path)
    ds, split = dataset_from_config(cfg)
    tr = ds.subset(split["train"])
    rep_idx = stratified_indices(tr.beats.y, representative_size, seed)
    rep = representative_inputs(student, tr.x[rep_idx], tr.beats.rhythm[rep_idx])
    rep_counts = np.bincount(tr.beats.y[rep_idx], minlength=len(ds.labels))
    common = {
        "representative": {
            "size": int(len(rep_idx)),
            "from": "train split, stratified",
            "seed": int(seed),
            "per_class": dict(zip(ds.labels, rep_counts.tolist())),
        },
        "weight_scales": {"convolutions": "per-channel", "dense": "per-tensor"},
    }

    ctx = None
    if any(k != "ptq" for k in todo):
        teacher_path = run_dir / cfg.get("teacher", {}).get("file", "teacher.keras")
        if not teacher_path.is_file():
            raise TinyECGError(f"{teacher_path}: fine-tuning needs the run's teacher")
        teacher = load_keras(teacher_path)
        va = ds.subset(split["val"])
        st = cfg.get("student") or {}
        ctx = {
            "train": tr,
            "val": va,
            "labels": ds.labels,
            "temperature": st.get("temperature", KD["temperature"]),
            "alpha": st.get("alpha", KD["alpha"]),
            "class_weight_power": st.get(
                "class_weight_power", TRAIN_DEFAULTS["class_weight_power"]
            ),
            "zt_val": teacher_logits(teacher, model_inputs(teacher, va.x, va.beats.rhythm)),
        }
        # the student's training set again, with its R-peak jitter
        ctx["train_in"], ctx["zt_train"] = training_set(
            cfg, student, teacher, tr, jitter_shifts(st.get("jitter", 0))
        )

    # build every requested model in memory first; write only when all succeeded
    made: dict[str, tuple[bytes, dict]] = {}
    for kind in todo:
        t0 = time.perf_counter()
        info: dict = {"file": OUTPUTS[kind]}
        keras.utils.set_random_seed(seed)
        if kind == "ptq":
            data = convert_int8(student, rep)
            info["method"] = "post-training full-integer quantization of student.keras"
        elif kind == "qat":
            log.info("quantization-aware training (%d epochs)", finetune_epochs)
            q, hist = qat_model(student, ctx, finetune_epochs, finetune_learning_rate, quiet)
            data = convert_int8(q, rep)
            info.update(
                method="tfmot quantize_model, distillation fine-tuning",
                epochs=finetune_epochs,
                val_loss=hist.get("val_loss"),
                tied_ranges=hist.get("tied_ranges"),
            )
        elif kind == "pruned":
            assert prune is not None, "'pruned' is wanted only when prune is given"
            log.info(
                "magnitude pruning to %.0f %% sparsity (%d epochs)", 100 * prune, finetune_epochs
            )
            m, hist, measured = pruned_model(
                student, ctx, float(prune), finetune_epochs, finetune_learning_rate, quiet
            )
            total = sum(
                layer.get_weights()[0].size for layer in _kernel_layers(m) if layer.name in measured
            )
            zeros = sum(
                float(np.sum(layer.get_weights()[0] == 0))
                for layer in _kernel_layers(m)
                if layer.name in measured
            )
            achieved = zeros / total
            if achieved < float(prune) - 0.01:
                raise TinyECGError(
                    f"pruning reached {achieved:.3f} sparsity, not the requested {prune}"
                )
            data = convert_int8(m, rep)
            info.update(
                method="tfmot prune_low_magnitude (PolynomialDecay), distillation "
                "fine-tuning, strip_pruning, PTQ",
                target_sparsity=float(prune),
                achieved_sparsity=round(achieved, 4),
                sparsity_per_layer=measured,
                epochs=finetune_epochs,
                val_loss=hist.get("val_loss"),
            )
        else:
            assert clusters is not None, "'clustered' is wanted only when clusters is given"
            log.info("weight clustering to %d centroids (%d epochs)", clusters, finetune_epochs)
            m, hist, distinct = clustered_model(
                student, ctx, int(clusters), finetune_epochs, finetune_learning_rate, quiet
            )
            data = convert_int8(m, rep)
            info.update(
                method="tfmot cluster_weights (k-means++), distillation fine-tuning, "
                "strip_clustering, PTQ",
                clusters=int(clusters),
                distinct_values_per_kernel=distinct,
                epochs=finetune_epochs,
                val_loss=hist.get("val_loss"),
            )
        info["flatbuffer_bytes"] = len(data)
        info["tflm_arena_bytes"] = _tflm_check(data)
        info["int8_weights"] = int8_weight_stats(data)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        made[kind] = (data, info)
        log.info(
            "%s: %d bytes, TFLM arena %d bytes", OUTPUTS[kind], len(data), info["tflm_arena_bytes"]
        )

    for kind, (data, info) in made.items():
        _write_tflite(run_dir / OUTPUTS[kind], data)
        models[kind] = info
    section.update(common)
    section["models"] = models
    section["kept"] = kept
    cfg = read_config(run_dir)
    cfg["quantize"] = section
    write_json(run_dir / "config.json", cfg)
    return section
