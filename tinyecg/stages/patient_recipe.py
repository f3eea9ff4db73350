"""The patient recipe: models that compare each beat with the patient's own rhythm and
morphology (docs/generalisation.md; the research recipe "final2" of
scripts/research/interpatient). Its three training stages, chosen by a run's "recipe":

- train: the teacher on all of DS1 (the inter split's training and validation records:
  nothing selects on validation, the epochs are fixed) plus one augmented copy of each of
  those records (tinyecg.data.augment); beat input (1, 360, 2) = [window, template], rhythm
  input (8,) = tinyecg.dsp.patient.LONGTERM_FEATURES; classes N, S, V, F (Q beats, 8 in DS1,
  are out of training and of the scores). 10 epochs of 38,000 samples drawn again each
  epoch, Adam 3e-3 with cosine decay, damped class weights (power 0.5), aberrated APCs
  ('a') out of the loss (still scored).
- distill: the student the same way, with the teacher's logits (T = 2, alpha = 0.5), and the
  same student on hard labels only. The research measured no gain from distillation (direct
  student S F1 66.0, V F1 92.7; distilled 65.2, 90.0): both are reported.
- quantize: full-integer PTQ, dense layers per tensor, calibrated on 125 real (not
  augmented) training beats per class.

Nothing here is tuned: the settings are final2's, chosen in DS1 cross-validation (two of its
parts after seeing DS2, as docs/generalisation.md says).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, staged_file, write_json

log = logging.getLogger("tinyecg.stages.patient_recipe")

RECIPES = ("local", "patient")
DEFAULT_RECIPE = "local"  # today's recipe: a window and 8 beats of RR context
CLASSES = ["N", "S", "V", "F"]  # the model's outputs; AAMI Q is neither trained nor scored


class PatientDefaults(TypedDict):
    epochs: int
    epoch_samples: int
    batch_size: int
    learning_rate: float
    class_weight_power: float
    loss_excluded_symbols: list[str]
    temperature: float
    alpha: float
    representative_per_class: int


PATIENT: PatientDefaults = {
    "epochs": 10,
    "epoch_samples": 38_000,  # drawn again each epoch from real + augmented beats
    "batch_size": 256,
    "learning_rate": 3e-3,
    "class_weight_power": 0.5,
    "loss_excluded_symbols": ["a"],  # aberrated APCs: V-like S beats, mostly in 201
    "temperature": 2.0,
    "alpha": 0.5,
    "representative_per_class": 125,
}


def check_recipe(recipe: str, split: str, labels: str | None) -> None:
    """One-line errors for a recipe asked with settings it cannot honour."""
    if recipe not in RECIPES:
        raise TinyECGError(f"unknown recipe {recipe!r} (choose from {', '.join(RECIPES)})")
    if recipe != "patient":
        return
    if split != "inter":
        raise TinyECGError(
            "--recipe patient trains on DS1 and reports DS2: use --split inter (a random "
            "split puts each patient, and the augmented copies of its record, on both sides)"
        )
    if labels not in (None, "aami"):
        raise TinyECGError("--recipe patient classifies AAMI N, S, V, F: use --labels aami")


def is_patient(cfg: dict) -> bool:
    return cfg.get("recipe", DEFAULT_RECIPE) == "patient"


# --------------------------------------------------------------------------- data


def patient_dataset(cfg: dict):
    """(dataset with its patient context, split) of a patient-recipe run."""
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.data.patient_context import with_patient_context
    from tinyecg.data.records import resolve_data_dir

    ds, split = dataset_from_config(cfg)
    return with_patient_context(ds, resolve_data_dir(cfg["data"]["dir"])), split


def scored(ds, rows: np.ndarray) -> np.ndarray:
    """The rows of `rows` whose class the recipe scores (not Q)."""
    q = ds.labels.index("Q")
    return rows[ds.beats.y[rows] != q]


class TrainingSet(TypedDict):
    x: np.ndarray  # float32 (n, 360) windows
    template: np.ndarray  # float32 (n, 360)
    rhythm: np.ndarray  # float32 (n, 8)
    y: np.ndarray  # int64 (n,) index into CLASSES
    real: np.ndarray  # bool (n,): a beat of a real (not augmented) record
    records: list[str]
    augmented: list[str]
    excluded: dict[str, int]


def training_set(cfg: dict, seed: int) -> TrainingSet:
    """Real DS1 beats and one augmented copy of each DS1 record, Q and 'a' left out."""
    from tinyecg.data.augment import augmented_dataset
    from tinyecg.data.records import resolve_data_dir

    ds, split = patient_dataset(cfg)
    real = ds.subset(scored(ds, np.concatenate([split["train"], split["val"]])))
    records = list(dict.fromkeys(real.beats.record.tolist()))
    aug = augmented_dataset(
        resolve_data_dir(cfg["data"]["dir"]), records, cfg["data"]["labels"], seed
    )
    aug = aug.subset(scored(aug, np.arange(len(aug))))
    parts = [real, aug]
    assert all(p.patient is not None for p in parts)
    symbol = np.concatenate([p.patient.symbol for p in parts])  # type: ignore[union-attr]
    out_of_loss = np.isin(symbol, PATIENT["loss_excluded_symbols"])
    keep = ~out_of_loss
    excluded = {s: int(np.sum(symbol == s)) for s in PATIENT["loss_excluded_symbols"]}
    return {
        "x": np.concatenate([p.x for p in parts])[keep],
        "template": np.concatenate([p.patient.template for p in parts])[keep],  # type: ignore[union-attr]
        "rhythm": np.concatenate([p.patient.longterm for p in parts])[keep],  # type: ignore[union-attr]
        "y": np.concatenate([p.beats.y for p in parts])[keep],
        "real": np.concatenate([np.ones(len(real), bool), np.zeros(len(aug), bool)])[keep],
        "records": records,
        "augmented": list(dict.fromkeys(aug.beats.record.tolist())),
        "excluded": excluded,
    }


def model_feed(model, tset) -> list[np.ndarray]:
    """A training set (or any dict with x, template, rhythm) as the model's inputs."""
    from tinyecg.models.inputs import model_inputs

    inputs = model_inputs(model, tset["x"], tset["rhythm"], tset["template"])
    return list(inputs) if isinstance(inputs, list) else [inputs]


# --------------------------------------------------------------------------- training


def fit_fixed(fitter, inputs, y, seed: int, epochs: int, extra=None, loss=None, quiet=False):
    """Fixed-epoch training: each epoch a fresh random draw of epoch_samples beats (all of
    them when fewer), Adam with cosine decay, damped class weights; no early stopping.
    extra: per-beat array appended to the inputs (the teacher's logits when distilling)."""
    from tinyecg.models.architectures import keras
    from tinyecg.models.inputs import class_weights

    p = PATIENT
    rng = np.random.default_rng(seed)
    per_epoch = min(p["epoch_samples"], len(y))
    steps = epochs * int(np.ceil(per_epoch / p["batch_size"]))
    schedule = keras.optimizers.schedules.CosineDecay(p["learning_rate"], steps, alpha=0.05)
    fitter.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=loss or keras.losses.SparseCategoricalCrossentropy(),
    )
    weights = class_weights(y, len(CLASSES), p["class_weight_power"])
    history: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for epoch in range(epochs):
        idx = rng.permutation(len(y))[:per_epoch]
        batch = [a[idx] for a in inputs] + ([extra[idx]] if extra is not None else [])
        h = fitter.fit(
            batch,
            y[idx],
            batch_size=p["batch_size"],
            epochs=1,
            verbose=0,
            shuffle=True,
            class_weight=weights,
        )
        for k, v in h.history.items():
            history.setdefault(k, []).append(float(v[-1]))
        if not quiet:
            log.info("epoch %d/%d: loss %.4f", epoch + 1, epochs, history["loss"][-1])
    return history, time.perf_counter() - t0


def _build(arch: str):
    from tinyecg.dsp.patient import N_LONGTERM_FEATURES
    from tinyecg.models.architectures import ARCHITECTURES, build

    if arch not in ARCHITECTURES:
        raise TinyECGError(
            f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})"
        )
    return build(
        arch, n_classes=len(CLASSES), rhythm=True, channels=2, n_rhythm=N_LONGTERM_FEATURES
    )


def _training_summary(tset: TrainingSet, seed: int) -> dict:
    return {
        "trained_on": "all DS1 records (inter split train + val: fixed epochs, no selection)",
        "records": tset["records"],
        "augmented_records": tset["augmented"],
        "augment_seed": int(seed),
        "beats": {
            "real": int(tset["real"].sum()),
            "augmented": int((~tset["real"]).sum()),
            "per_class": dict(zip(CLASSES, np.bincount(tset["y"], minlength=4).tolist())),
        },
        "out_of_loss": tset["excluded"],
        "not_trained_or_scored": ["Q"],
        "settings": dict(PATIENT),
    }


def train_patient(
    base_config: dict, out: Path, arch: str, seed: int, epochs: int, force: bool, quiet: bool
) -> Path:
    """Stage 1 of the patient recipe; `base_config` is the train stage's config without its
    teacher section (tinyecg.stages.train)."""
    from tinyecg.models.architectures import count_macs, keras

    cfg = dict(base_config, recipe="patient")
    cfg["data"] = dict(cfg["data"], label_names=list(CLASSES))
    keras.utils.set_random_seed(seed)
    model = _build(arch)
    t0 = time.perf_counter()
    tset = training_set(cfg, seed)
    t_data = time.perf_counter() - t0
    log.info(
        "training %s (patient recipe) on %d beats (%d augmented), %d epochs",
        arch,
        len(tset["y"]),
        int((~tset["real"]).sum()),
        epochs,
    )
    history, seconds = fit_fixed(
        model, model_feed(model, tset), tset["y"], seed, epochs, quiet=quiet
    )
    cfg["patient"] = _training_summary(tset, seed)
    cfg["teacher"] = {
        "arch": arch,
        "params": int(model.count_params()),
        "macs": count_macs(model),
        "rhythm": True,
        "beat_channels": 2,
        "rhythm_features": 8,
        "epochs_run": epochs,
        "epochs": epochs,
        "batch_size": PATIENT["batch_size"],
        "train_seconds": round(seconds, 1),
        "dataset_seconds": round(t_data, 1),
        "file": "teacher.keras",
    }
    from tinyecg.stages.train import write_teacher_run

    return write_teacher_run(out, force, model, history, cfg, seconds)


def distill_patient(
    run_dir: Path,
    arch: str,
    epochs: int,
    seed: int,
    temperature: float,
    alpha: float,
    nokd: bool,
    quiet: bool,
) -> dict:
    """Stage 2 of the patient recipe: student.keras (distilled) and student_nokd.keras."""
    from tinyecg.models.architectures import count_macs, keras
    from tinyecg.stages.distill import make_distiller, teacher_logits
    from tinyecg.stages.evaluate import load_keras

    cfg = read_config(run_dir)
    teacher_path = run_dir / cfg.get("teacher", {}).get("file", "teacher.keras")
    if not teacher_path.is_file():
        raise TinyECGError(f"{teacher_path}: no teacher in the run (train first)")
    teacher = load_keras(teacher_path)
    tset = training_set(cfg, cfg["split"]["seed"])
    t0 = time.perf_counter()
    zt = teacher_logits(teacher, model_feed(teacher, tset))
    t_teacher = time.perf_counter() - t0
    hard = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # compile() needs one
    students, histories, seconds = {}, {}, {}
    for name, a in (("student", alpha), ("student_nokd", 1.0)):
        if name == "student_nokd" and not nokd:
            continue
        keras.utils.set_random_seed(seed)
        student = _build(arch)
        log.info("%s: %s, T=%g, alpha=%g, %d epochs", name, arch, temperature, a, epochs)
        histories[name], seconds[name] = fit_fixed(
            make_distiller(student, temperature, a),
            model_feed(student, tset),
            tset["y"],
            seed,
            epochs,
            extra=zt,
            loss=hard,
            quiet=quiet,
        )
        students[name] = student
    student = students["student"]
    section = {
        "arch": arch,
        "params": int(student.count_params()),
        "macs": count_macs(student),
        "rhythm": True,
        "beat_channels": 2,
        "rhythm_features": 8,
        "temperature": float(temperature),
        "alpha": float(alpha),
        "epochs": int(epochs),
        "epochs_run": int(epochs),
        "batch_size": PATIENT["batch_size"],
        "learning_rate": PATIENT["learning_rate"],
        "seed": int(seed),
        "class_weight_power": PATIENT["class_weight_power"],
        "jitter": 0,
        "jitter_shifts": [0],
        "teacher_logits_seconds": round(t_teacher, 1),
        "train_seconds": round(seconds["student"], 1),
        "file": "student.keras",
        "nokd": (
            {
                "file": "student_nokd.keras",
                "epochs_run": int(epochs),
                "train_seconds": round(seconds["student_nokd"], 1),
            }
            if nokd
            else None
        ),
    }
    for name, model in students.items():
        with staged_file(run_dir / f"{name}.keras") as tmp:
            model.save(tmp)
        write_json(run_dir / f"{name}_history.json", histories[name])
    cfg = read_config(run_dir)
    cfg["student"] = section
    write_json(run_dir / "config.json", cfg)
    return section


def representative_set(cfg: dict, model, seed: int) -> tuple[list[np.ndarray], dict]:
    """125 real training beats per class (fewer where a class has fewer), in the model's
    input order, and their counts."""
    tset = training_set(cfg, cfg["split"]["seed"])
    rng = np.random.default_rng(seed)
    real = np.flatnonzero(tset["real"])
    per = PATIENT["representative_per_class"]
    picked = []
    for c in range(len(CLASSES)):
        pool = real[tset["y"][real] == c]
        picked.append(rng.choice(pool, size=min(per, len(pool)), replace=False))
    idx = np.sort(np.concatenate(picked))
    sub = {k: tset[k][idx] for k in ("x", "template", "rhythm")}  # type: ignore[literal-required]
    counts = np.bincount(tset["y"][idx], minlength=len(CLASSES))
    return model_feed(model, sub), dict(zip(CLASSES, counts.tolist()))


def quantize_patient(run_dir: Path, seed: int, force: bool, quiet: bool) -> dict:
    """Stage 3 of the patient recipe: student_int8.tflite (PTQ, per-tensor dense layers)."""
    from tinyecg.stages.evaluate import load_keras
    from tinyecg.stages.quantize import OUTPUTS, _tflm_check, _write_tflite, convert_int8

    cfg = read_config(run_dir)
    student_path = run_dir / (cfg.get("student") or {}).get("file", "student.keras")
    if not student_path.is_file():
        raise TinyECGError(f"{run_dir}: no student (student.keras) to quantize; run distill first")
    path = run_dir / OUTPUTS["ptq"]
    section = dict(cfg.get("quantize") or {})
    if path.exists() and not force and path.stat().st_mtime >= student_path.stat().st_mtime:
        log.info("%s exists and is newer than the student; kept", path.name)
        return section
    t0 = time.perf_counter()
    student = load_keras(student_path)
    rep, counts = representative_set(cfg, student, seed)
    data = convert_int8(student, rep)
    info = {
        "file": path.name,
        "method": "post-training full-integer quantization of student.keras",
        "flatbuffer_bytes": len(data),
        "tflm_arena_bytes": _tflm_check(data),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _write_tflite(path, data)
    section.update(
        representative={
            "size": int(sum(counts.values())),
            "from": "real (not augmented) training beats, 125 per class",
            "seed": int(seed),
            "per_class": counts,
        },
        weight_scales={"convolutions": "per-channel", "dense": "per-tensor"},
        models={"ptq": info},
        kept=[],
    )
    cfg = read_config(run_dir)
    cfg["quantize"] = section
    write_json(run_dir / "config.json", cfg)
    log.info("%s: %d bytes, TFLM arena %d bytes", path.name, len(data), info["tflm_arena_bytes"])
    return section
