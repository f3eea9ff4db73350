"""The run directory: the hand-off between stages. Each stage reads what the one before it
wrote, so any stage can be re-run alone and `pipeline` can resume.

Layout (one per run):
    config.json            data, preprocessing, labels, split, and each stage's settings
    teacher.keras          float teacher (train)
    student.keras          distilled float student (distill)
    student_nokd.keras     the same student trained on hard labels only (distill)
    student_int8.tflite    full-integer PTQ student (quantize)
    student_qat_int8.tflite, student_pruned_int8.tflite, student_clustered_int8.tflite
    report.json/.md, confusion.png   evaluation of one model (evaluate)
    reports/<model>.json   evaluations made by bench
    bench.json/.md/.png    benchmark table (bench)

The model shipped with tinyecg (tinyecg/assets/default_model) is laid out as a run holding
one model: config.json, model.tflite (int8), model.keras (float). run_model() finds a run's
model the same way for every caller (export, evaluate, the demo, the benchmarks).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

from tinyecg import outputs
from tinyecg.errors import TinyECGError

CONFIG = "config.json"

# A run's models of each kind, in the order run_model() takes them: the shipped model's
# name, then the stage outputs (the PTQ student first: it is the one quantize always writes).
RUN_MODELS = {
    "int8": (
        "model.tflite",
        "student_int8.tflite",
        "student_qat_int8.tflite",
        "student_pruned_int8.tflite",
        "student_clustered_int8.tflite",
    ),
    "float": ("model.keras", "student.keras", "teacher.keras"),
}
MODEL_SUFFIXES = (".keras", ".tflite")
_MISSING = {
    "int8": "no int8 model in the run (expected student_int8.tflite; run tinyecg quantize first)",
    "float": "no float model in the run (expected student.keras or teacher.keras; run tinyecg "
    "train first)",
}


def read_config(run_dir: Path) -> dict:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise TinyECGError(f"{path}: not found (is {run_dir} a tinyecg run directory?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TinyECGError(f"{path}: not valid JSON ({exc.msg})") from None


def write_json(path: Path, obj) -> None:
    """Write JSON atomically, creating the folder if needed (tinyecg.outputs)."""
    outputs.write_json(Path(path), obj)


@contextmanager
def new_run_dir(run_dir: Path, force: bool = False):
    """Yield a temporary folder that becomes run_dir only if the block succeeds."""
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        if not force:
            raise TinyECGError(f"{run_dir}: already exists and is not empty (use --force)")
        if not run_dir.is_dir():
            raise TinyECGError(f"{run_dir}: exists and is not a folder")
    with outputs.staged(run_dir, folder=True) as tmp:
        yield tmp


@contextmanager
def staged_file(path: Path):
    """Yield a temporary path beside `path` that replaces it only if the block succeeds."""
    with outputs.staged(Path(path)) as tmp:
        yield tmp


def _preferred(run_dir: Path, kind: str, config: dict | None, notes: list | None) -> Path | None:
    def note(text: str) -> None:
        if notes is not None:
            notes.append(text)

    export = (config or {}).get("export")
    named = export.get("model") if isinstance(export, dict) else None
    if kind == "int8" and named and (run_dir / named).is_file():
        note(f"config.json export.model names {named}")
        return run_dir / named
    first = RUN_MODELS[kind][1]  # what the stages write first (the shipped name aside)
    for name in RUN_MODELS[kind]:
        if (run_dir / name).is_file():
            if name not in RUN_MODELS[kind][:2]:
                note(f"no {first}: using {name}")
            return run_dir / name
    if kind == "int8":  # an int8 model under another name: "*int8*" first, then any .tflite
        others = sorted(run_dir.glob("*int8*.tflite")) or sorted(run_dir.glob("*.tflite"))
        if others:
            note(f"no {first}: using {others[0].name}")
            return others[0]
    return None


def find_run_model(
    run_dir,
    kind: str = "int8",
    *,
    config: dict | None = None,
    notes: list | None = None,
    suffixes=MODEL_SUFFIXES,
) -> Path | None:
    """The model file of a run directory (or of the shipped default model's folder), or None.

    kind "int8": config.json's export.model when it names a file of the run (config: the
    run's config.json, if read), else the first of RUN_MODELS["int8"] present, else a
    .tflite named like an int8 model, else any .tflite. kind "float": the first of
    RUN_MODELS["float"]. Any other kind is a model name of the run (teacher, student_int8,
    ...), looked up with each of `suffixes` in turn, or a .keras/.tflite path.
    A choice that is not the run's usual model is explained in `notes` (appended to, when
    given)."""
    run_dir = Path(run_dir)
    if kind in RUN_MODELS:
        return _preferred(run_dir, kind, config, notes)
    named = Path(kind)
    if named.suffix in MODEL_SUFFIXES and named.is_file():
        return named
    return next(
        (run_dir / f"{kind}{ext}" for ext in suffixes if (run_dir / f"{kind}{ext}").is_file()), None
    )


def run_model(
    run_dir,
    kind: str = "int8",
    *,
    config: dict | None = None,
    notes: list | None = None,
    suffixes=MODEL_SUFFIXES,
) -> Path:
    """find_run_model, or a TinyECGError that says what is missing and which stage makes it."""
    path = find_run_model(run_dir, kind, config=config, notes=notes, suffixes=suffixes)
    if path is not None:
        return path
    if kind in RUN_MODELS:
        raise TinyECGError(f"{run_dir}: {_MISSING[kind]}")
    raise TinyECGError(
        f"{Path(run_dir) / kind}: no such model in the run "
        "(.keras or .tflite; train, distill or quantize first)"
    )
