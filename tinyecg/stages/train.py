"""Stage 1: train the float teacher and write the run directory's config."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

from tinyecg import __version__
from tinyecg.data.beats import label_set
from tinyecg.data.dataset import build_dataset
from tinyecg.data.records import resolve_data_dir
from tinyecg.data.splits import make_split
from tinyecg.dsp import denoise
from tinyecg.errors import TinyECGError
from tinyecg.run import new_run_dir, write_json

log = logging.getLogger("tinyecg.stages.train")


class TrainDefaults(TypedDict):
    arch: str
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    class_weight_power: float
    seed: int


DEFAULTS: TrainDefaults = {
    "arch": "teacher-cnn",
    "epochs": 12,
    "batch_size": 256,
    "learning_rate": 2e-3,
    "patience": 3,
    "class_weight_power": 0.5,
    "seed": 0,
}
MIN_STEPS = 400  # optimiser steps a training run takes at least


def fit(
    model,
    inputs,
    y,
    val_inputs,
    y_val,
    n_classes,
    epochs,
    batch_size,
    learning_rate,
    patience,
    class_weight_power,
    quiet=False,
    loss=None,
    monitor="val_loss",
):
    """Adam with cosine decay, damped class weights, early stopping on the validation set
    (restoring the best weights)."""
    from tinyecg.models.architectures import keras
    from tinyecg.models.inputs import class_weights

    per_epoch = max(1, int(np.ceil(len(y) / batch_size)))
    # a small data set (the bundled excerpt) gets enough optimiser steps to learn something;
    # the full database (hundreds of steps an epoch) is unaffected
    epochs = max(epochs, int(np.ceil(MIN_STEPS / per_epoch)))
    steps = per_epoch * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"] if loss is None else None,
    )
    stop = keras.callbacks.EarlyStopping(
        monitor=monitor, patience=patience, restore_best_weights=True
    )
    t0 = time.perf_counter()
    hist = model.fit(
        inputs,
        y,
        validation_data=(val_inputs, y_val),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0 if quiet else 2,
        class_weight=class_weights(y, n_classes, class_weight_power),
        callbacks=[stop],
    )
    return {
        k: [float(v) for v in vals] for k, vals in hist.history.items()
    }, time.perf_counter() - t0


def train(
    out: Path,
    data=None,
    split: str = "intra",
    labels: str = "nlrav",
    arch: str = DEFAULTS["arch"],
    epochs: int | None = None,
    batch_size: int = DEFAULTS["batch_size"],
    seed: int = DEFAULTS["seed"],
    include_paced: bool = False,
    force: bool = False,
    quiet: bool = False,
    recipe: str = "local",
) -> Path:
    """The teacher of a new run. recipe "local" (today's: the window and 8 beats of RR
    context, early stopping on the validation records) or "patient" (the patient's own
    context, tinyecg.stages.patient_recipe; epochs fixed, default 10)."""
    from tinyecg.stages.patient_recipe import PATIENT, check_recipe, train_patient

    check_recipe(recipe, split, labels)  # before TensorFlow loads: a mistake fails at once
    from tinyecg.models.architectures import ARCHITECTURES, build, count_macs, keras
    from tinyecg.models.inputs import model_inputs

    if epochs is None:
        epochs = PATIENT["epochs"] if recipe == "patient" else DEFAULTS["epochs"]
    if arch not in ARCHITECTURES:
        raise TinyECGError(
            f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})"
        )
    label_set(labels)
    data_dir = resolve_data_dir(data)
    t0 = time.perf_counter()
    ds = build_dataset(data_dir, labels=labels, include_paced=include_paced)
    t_data = time.perf_counter() - t0
    idx = make_split(split, ds.beats.y, ds.beats.record, seed)
    for part in ("train", "val", "test"):
        if len(idx[part]) == 0:
            raise TinyECGError(f"{data_dir}: the {split} split leaves no {part} beats")
    config = run_config(data_dir, ds, idx, labels, include_paced, split, seed)
    if recipe == "patient":
        return train_patient(config, out, arch, seed, epochs, force, quiet)
    keras.utils.set_random_seed(seed)
    model = build(arch, n_classes=len(ds.labels))
    tr, va = ds.subset(idx["train"]), ds.subset(idx["val"])
    log.info(
        "training %s on %d beats (validation %d, test %d)", arch, len(tr), len(va), len(idx["test"])
    )
    history, seconds = fit(
        model,
        model_inputs(model, tr.x, tr.beats.rhythm),
        tr.beats.y,
        model_inputs(model, va.x, va.beats.rhythm),
        va.beats.y,
        len(ds.labels),
        epochs,
        batch_size,
        DEFAULTS["learning_rate"],
        DEFAULTS["patience"],
        DEFAULTS["class_weight_power"],
        quiet,
    )
    config["teacher"] = {
        "arch": arch,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "rhythm": len(model.inputs) > 1,
        "epochs_run": len(history["loss"]),
        "epochs": epochs,
        "batch_size": batch_size,
        "train_seconds": round(seconds, 1),
        "dataset_seconds": round(t_data, 1),
        "file": "teacher.keras",
    }
    return write_teacher_run(out, force, model, history, config, seconds)


def write_teacher_run(out, force, model, history, config, seconds) -> Path:
    """A new run directory holding the trained teacher, its history and config.json, written
    as one set (tinyecg.run.new_run_dir)."""
    with new_run_dir(out, force=force) as tmp:
        model.save(tmp / "teacher.keras")
        write_json(tmp / "teacher_history.json", history)
        write_json(tmp / "config.json", config)
    log.info("teacher trained in %.0f s; run directory %s", seconds, out)
    return Path(out)


def run_config(data_dir: Path, ds, idx, labels, include_paced, split, seed) -> dict:
    """config.json of a new run, before its teacher section."""
    return {
        "tinyecg_version": __version__,
        "data": {
            "dir": str(data_dir.resolve()),
            "labels": labels,
            "label_names": ds.labels,
            "include_paced": include_paced,
            "records": ds.records,
            "skipped": ds.skipped,
            "dataset_key": ds.key,
            "n_beats": len(ds),
            "fs": 360,
            "window": 360,
            "pre_r": 180,
        },
        "preprocessing": denoise.PARAMS,
        "split": {
            "name": split,
            "seed": seed,
            "sizes": {k: int(len(v)) for k, v in idx.items()},
            "records": {k: sorted(set(ds.beats.record[v].tolist())) for k, v in idx.items()}
            if split == "inter"
            else None,
        },
    }
