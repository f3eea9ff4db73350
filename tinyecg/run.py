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
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tinyecg.errors import TinyECGError

CONFIG = "config.json"


def read_config(run_dir: Path) -> dict:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise TinyECGError(f"{path}: not found (is {run_dir} a tinyecg run directory?)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TinyECGError(f"{path}: not valid JSON ({exc.msg})") from None


def write_json(path: Path, obj) -> None:
    """Write JSON atomically (temp file + rename), creating the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, default=_jsonable)
        fh.write("\n")
    os.replace(tmp, path)


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


@contextmanager
def new_run_dir(run_dir: Path, force: bool = False):
    """Yield a temporary folder that becomes run_dir only if the block succeeds."""
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        if not force:
            raise TinyECGError(f"{run_dir}: already exists and is not empty (use --force)")
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    except OSError as exc:
        raise TinyECGError(f"{run_dir}: cannot create ({exc.strerror})") from None
    try:
        yield tmp
        if run_dir.exists():
            shutil.rmtree(run_dir)
        os.replace(tmp, run_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def staged_file(path: Path):
    """Yield a temporary path beside `path` that replaces it only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.unlink(tmp)
