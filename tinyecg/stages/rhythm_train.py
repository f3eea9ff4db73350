"""Teacher -> distilled student -> int8 for the shockable-rhythm task, with the beat
stages' own machinery: tinyecg.stages.train.fit (Adam, cosine decay, damped class weights,
early stopping), tinyecg.stages.distill.make_distiller (Hinton et al. 2015) and
tinyecg.stages.quantize.convert_int8 (full-integer, per-tensor dense layers, checked in TFLM).

Inputs are the device's int8 windows (tinyecg.dsp.rhythm_frontend.normalise_int) fed to the
float models as q / 16, so float and int8 models see the same numbers; the int8 model's
input scale is pinned to 1/16 and its zero point to 0 (the representative set holds the
int8 range's two ends), so the device feeds the front end's bytes to the model unchanged.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from tinyecg.data.rhythm import NON_SHOCKABLE, SHOCKABLE, WC, RhythmRecord
from tinyecg.dsp import rhythm_frontend as fe
from tinyecg.errors import TinyECGError
from tinyecg.spec import RHYTHM_FS, RHYTHM_LABELS, RHYTHM_Q_PER_STD, RHYTHM_WINDOW

log = logging.getLogger("tinyecg.stages.rhythm")

DEFAULTS = {
    "teacher_epochs": 5,
    "student_epochs": 8,
    "batch_size": 256,
    "learning_rate": 2e-3,
    "patience": 2,
    "class_weight_power": 0.5,
    "temperature": 4.0,
    "alpha": 0.3,
    "seed": 0,
    # non-shockable windows 1 s apart share 7/8 of their samples; every 2nd is kept
    "non_shockable_step_s": 2,
    "representative": 2000,
    "validation_every": 8,
}


def model_input(records: list[RhythmRecord], classes=None, step_s: int = 1):
    """Float model inputs (n, 1, RHYTHM_WINDOW, 1) = int8 front-end output / 16, and the
    shockable truth, of the windows of `records` whose training class is in `classes`
    (default: every trained class); non-shockable windows every step_s seconds."""
    classes = SHOCKABLE + NON_SHOCKABLE if classes is None else classes
    wanted = [WC[c] for c in classes]
    shock = [WC[c] for c in SHOCKABLE]
    xs, ys = [], []
    for r in records:
        y = np.isin(r.train_class, shock)
        keep = np.isin(r.train_class, wanted) & (y | (r.ends // RHYTHM_FS % step_s == 0))
        if not keep.any():
            continue
        w = fe.windows_at(r.stream, r.ends[keep], RHYTHM_WINDOW)
        xs.append(fe.normalise_int(w, r.gain))
        ys.append(y[keep])
    x = np.concatenate(xs).astype(np.float32) / RHYTHM_Q_PER_STD
    return x[:, None, :, None], np.concatenate(ys).astype(np.int32)


def pinned_representative(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n training inputs plus one holding -8 and 127/16: the int8 input range is then
    [-8, 127/16], i.e. scale 1/16 and zero point 0, the front end's own."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(x), min(n, len(x)), replace=False)
    pin = np.zeros((1,) + x.shape[1:], np.float32)
    pin.reshape(-1)[:2] = (-128 / RHYTHM_Q_PER_STD, 127 / RHYTHM_Q_PER_STD)
    return np.concatenate([pin, x[pick]])


def train_rhythm_models(records: list[RhythmRecord], quiet: bool = True, **overrides) -> dict:
    """Teacher, distilled student and the student's int8 flatbuffer trained on `records`
    (every validation_every-th record, sorted by name, held out for early stopping)."""
    from tinyecg.models.architectures import count_macs, keras
    from tinyecg.models.rhythm_architectures import N_CLASSES, rhythm_student, rhythm_teacher
    from tinyecg.stages.distill import make_distiller, teacher_logits, with_teacher
    from tinyecg.stages.quantize import _tflm_check, convert_int8
    from tinyecg.stages.train import fit

    p = {**DEFAULTS, **overrides}
    ordered = sorted(records, key=lambda r: (r.database, r.name))
    val = ordered[:: p["validation_every"]]
    held = {id(r) for r in val}
    train = [r for r in ordered if id(r) not in held]
    x, y = model_input(train, step_s=p["non_shockable_step_s"])
    xv, yv = model_input(val, step_s=p["non_shockable_step_s"])
    log.info(
        "training on %d windows (%d shockable) of %d records, validating on %d",
        len(y),
        int(y.sum()),
        len(train),
        len(yv),
    )
    common = dict(
        n_classes=N_CLASSES,
        batch_size=p["batch_size"],
        learning_rate=p["learning_rate"],
        patience=p["patience"],
        class_weight_power=p["class_weight_power"],
        quiet=quiet,
    )
    t0 = time.perf_counter()
    keras.utils.set_random_seed(p["seed"])
    teacher = rhythm_teacher()
    fit(teacher, x, y, xv, yv, epochs=p["teacher_epochs"], **common)
    t_teacher = time.perf_counter() - t0
    keras.utils.set_random_seed(p["seed"])
    student = rhythm_student()
    zt, ztv = teacher_logits(teacher, x), teacher_logits(teacher, xv)
    fit(
        make_distiller(student, p["temperature"], p["alpha"]),
        with_teacher(x, zt),
        y,
        with_teacher(xv, ztv),
        yv,
        epochs=p["student_epochs"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **common,
    )
    t_student = time.perf_counter() - t0 - t_teacher
    int8 = convert_int8(student, [pinned_representative(x, p["representative"], p["seed"])])
    return {
        "teacher": teacher,
        "student": student,
        "int8": int8,
        "info": {
            "train_windows": int(len(y)),
            "train_shockable": int(y.sum()),
            "train_records": len(train),
            "validation_records": len(val),
            "teacher_params": int(teacher.count_params()),
            "teacher_macs": count_macs(teacher),
            "student_params": int(student.count_params()),
            "student_macs": count_macs(student),
            "int8_bytes": len(int8),
            "tflm_arena_bytes": _tflm_check(int8),
            "teacher_seconds": round(t_teacher, 1),
            "student_seconds": round(t_student, 1),
            "params": p,
        },
    }


def float_decisions(model, rec: RhythmRecord) -> np.ndarray:
    """A float model's shockable decisions on every window of a record, gated as on the
    device."""
    w = fe.windows_at(rec.stream, rec.ends, RHYTHM_WINDOW)
    x = fe.normalise_int(w, rec.gain).astype(np.float32) / RHYTHM_Q_PER_STD
    p = model.predict(x[:, None, :, None], batch_size=2048, verbose=0)
    return (p.argmax(1) == 1) & fe.amplitude_gate(w, rec.gain)


RUN_FILES = (
    "config.json",
    "student_int8.tflite",
    "teacher.keras",
    "student.keras",
    "golden_windows.npz",  # tinyecg.data.rhythm_golden.FILE
)


def _int_overrides(overrides: dict) -> dict:
    """Check the overridable training parameters: unknown names and non-positive epochs
    are one-line errors."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise TinyECGError(f"unknown rhythm training parameter(s): {', '.join(unknown)}")
    for k in ("teacher_epochs", "student_epochs", "patience"):
        v = overrides.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise TinyECGError(f"{k.replace('_', '-')} must be a whole number >= 1 (got {v!r})")
    return {k: v for k, v in overrides.items() if v is not None}


def run_config(records: list[RhythmRecord], skipped: dict, info: dict) -> dict:
    """config.json of a rhythm run: the task, the data, the training parameters and the
    model's sizes; no date, no machine path, no timing (the same training states the same
    config)."""
    from tinyecg import __version__, spec

    return {
        "tinyecg_version": __version__,
        "task": "rhythm",
        "data": {
            "records": sorted(f"{r.database}/{r.name}" for r in records),
            "databases": {
                db: sum(r.database == db for r in records)
                for db in sorted({r.database for r in records})
            },
            "skipped": dict(sorted(skipped.items())),
            "fs": spec.FS,
            "stream_fs": spec.RHYTHM_FS,
            "window": spec.RHYTHM_WINDOW,
            "window_s": spec.RHYTHM_WINDOW_S,
            "step_s": spec.RHYTHM_STEP_S,
            "label_names": list(RHYTHM_LABELS),
        },
        "training": dict(info["params"]),
        "model": {
            k: info[k]
            for k in (
                "train_windows",
                "train_shockable",
                "train_records",
                "validation_records",
                "teacher_params",
                "teacher_macs",
                "student_params",
                "student_macs",
                "int8_bytes",
                "tflm_arena_bytes",
            )
        },
    }


def train_rhythm_run(
    out, record_dirs, force: bool = False, quiet: bool = True, lead=None, **overrides
) -> dict:
    """`tinyecg train --task rhythm`: teacher -> student -> int8 on every scorable record of
    record_dirs, written as one run folder (RUN_FILES: the golden windows are real windows
    of the records for the export's self-test vectors), all or nothing. Returns the config
    plus the training times."""
    from pathlib import Path

    from tinyecg import outputs
    from tinyecg.data.rhythm_golden import FILE as GOLDEN_FILE
    from tinyecg.data.rhythm_golden import pick_golden, save_golden
    from tinyecg.run import new_run_dir
    from tinyecg.stages.rhythm_evaluate import load_folder

    overrides = _int_overrides(overrides)
    if not record_dirs:
        raise TinyECGError("--task rhythm needs --records DIR (WFDB folders with rhythm notes)")
    out = Path(out)
    outputs.check_set(out, RUN_FILES, force)
    records, skipped = [], {}
    seen: set[str] = set()
    for d in record_dirs:
        recs, sk = load_folder(d, lead=lead)
        for r in recs:
            key = f"{r.database}/{r.name}"
            if key in seen:
                raise TinyECGError(f"{d}: record {key} is given twice")
            seen.add(key)
        records += recs
        skipped.update({f"{Path(d).name}/{k}": why for k, why in sk.items()})
    trained = train_rhythm_models(records, quiet=quiet, **overrides)
    config = run_config(records, skipped, trained["info"])
    with new_run_dir(out, force=force) as tmp:
        (tmp / "student_int8.tflite").write_bytes(trained["int8"])
        trained["teacher"].save(tmp / "teacher.keras")
        trained["student"].save(tmp / "student.keras")
        outputs.write_json(tmp / "config.json", config)
        save_golden(tmp / GOLDEN_FILE, pick_golden(records))
    times = {k: trained["info"][k] for k in ("teacher_seconds", "student_seconds")}
    return dict(config, times=times)


def describe_run(run: dict, out) -> list[str]:
    """What `tinyecg train --task rhythm` prints."""
    m, d, t = run["model"], run["data"], run["times"]
    dbs = ", ".join(f"{db} {n}" for db, n in d["databases"].items())
    return [
        f"trained on {len(d['records'])} records ({dbs}): {m['train_windows']} windows, "
        f"{m['train_shockable']} shockable; {len(d['skipped'])} records skipped",
        f"teacher {m['teacher_params']} parameters ({t['teacher_seconds']} s), student "
        f"{m['student_params']} parameters ({t['student_seconds']} s), int8 "
        f"{m['int8_bytes']} bytes, TFLM arena {m['tflm_arena_bytes']} bytes",
        f"run saved in {out}",
    ]
