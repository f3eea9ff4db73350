"""train -> distill -> quantize -> bench in one run directory, resuming stages whose outputs
already exist (so an interrupted pipeline picks up where it stopped).

Budget: the defaults are chosen so the whole pipeline on the full MIT-BIH database (about
99k beats) takes at most 20 minutes on a 2-core PC (measured in docs/compression.md).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TypedDict

from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, write_json

log = logging.getLogger("tinyecg.stages.pipeline")


class PipelineDefaults(TypedDict):
    teacher_epochs: int
    student_epochs: int
    qat: bool
    finetune_epochs: int


PIPELINE_DEFAULTS: PipelineDefaults = {
    "teacher_epochs": 12,
    "student_epochs": 16,
    "qat": True,
    "finetune_epochs": 3,
}


def _newest(paths) -> float:
    return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


def pipeline(
    out: Path,
    data=None,
    split: str = "intra",
    labels: str | None = None,
    quiet: bool = False,
    arch: str = "teacher-cnn",
    student_arch: str = "student-cnn",
    teacher_epochs: int | None = None,
    student_epochs: int | None = None,
    temperature: float | None = None,
    alpha: float | None = None,
    jitter: int | None = None,
    qat: bool | None = None,
    prune: float | None = None,
    clusters: int | None = None,
    finetune_epochs: int = PIPELINE_DEFAULTS["finetune_epochs"],
    representative_size: int = 500,
    runtime_sample: int | None = None,
    bench_shifts: tuple[int, ...] = (-5, -2, 2, 5),
    seed: int = 0,
    include_paced: bool = False,
    force: bool = False,
    recipe: str = "local",
) -> dict:
    """Run every stage into `out`; returns {"run_dir", "stages": {name: "ran"|"kept"},
    "seconds": {...}, "bench": rows}. labels default: nlrav for the intra split, aami for
    inter. An existing run directory is resumed if it was made with the same split, labels
    and data (data=None: whatever data it was made with); force=True starts it again from
    scratch.

    recipe "patient" (tinyecg.stages.patient_recipe; needs the inter split and aami labels):
    teacher and students of 10 fixed epochs (teacher_epochs, student_epochs override), PTQ
    only, and a bench of per-class Se/+P/F1 with the integer template
    (tinyecg.stages.patient_eval)."""
    from tinyecg.data.beats import label_set
    from tinyecg.data.records import resolve_data_dir
    from tinyecg.stages.bench import bench
    from tinyecg.stages.distill import DEFAULTS as KD
    from tinyecg.stages.distill import distill
    from tinyecg.stages.patient_eval import patient_bench
    from tinyecg.stages.patient_recipe import DEFAULT_RECIPE, PATIENT, check_recipe
    from tinyecg.stages.quantize import OUTPUTS, quantize
    from tinyecg.stages.train import train

    out = Path(out)
    check_recipe(recipe, split, labels)
    if labels is None:
        labels = "aami" if split == "inter" else "nlrav"
    label_set(labels)
    if split not in ("intra", "inter"):
        raise TinyECGError(f"unknown split {split!r} (choose from intra, inter)")
    patient = recipe == "patient"
    if patient:
        if qat or prune is not None or clusters is not None:
            raise TinyECGError(
                "--recipe patient: post-training quantization only (QAT, pruning and "
                "clustering are not ported to two-channel models)"
            )
        qat = False
        teacher_epochs = PATIENT["epochs"] if teacher_epochs is None else teacher_epochs
        student_epochs = PATIENT["epochs"] if student_epochs is None else student_epochs
    if qat is None:
        qat = PIPELINE_DEFAULTS["qat"]
    if teacher_epochs is None:
        teacher_epochs = PIPELINE_DEFAULTS["teacher_epochs"]
    if student_epochs is None:
        student_epochs = PIPELINE_DEFAULTS["student_epochs"]
    temperature = KD["temperature"] if temperature is None else temperature
    alpha = KD["alpha"] if alpha is None else alpha
    jitter = (0 if patient else KD["jitter"]) if jitter is None else jitter
    stages, seconds = {}, {}
    t_all = time.perf_counter()

    # 1. teacher
    cfg_path = out / "config.json"
    resume = cfg_path.is_file() and (out / "teacher.keras").is_file() and not force
    if resume:
        cfg = read_config(out)
        # without data, a resumed run keeps the data it was made with
        data_dir = Path(cfg["data"]["dir"]) if data is None else resolve_data_dir(data).resolve()
        mine = {"data": str(data_dir), "split": split, "labels": labels, "recipe": recipe}
        theirs = {
            "data": cfg["data"]["dir"],
            "split": cfg["split"]["name"],
            "labels": cfg["data"]["labels"],
            "recipe": cfg.get("recipe", DEFAULT_RECIPE),
        }
        if mine != theirs:
            diff = ", ".join(
                f"{k} {theirs[k]} (asked {mine[k]})" for k in mine if mine[k] != theirs[k]
            )
            raise TinyECGError(
                f"{out}: an existing run with {diff}; use another folder or --force to start again"
            )
        stages["train"] = "kept"
    else:
        t0 = time.perf_counter()
        log.info("== train: %s teacher, %s split, labels %s", arch, split, labels)
        train(
            out,
            data=data,
            split=split,
            labels=labels,
            arch=arch,
            epochs=teacher_epochs,
            seed=seed,
            include_paced=include_paced,
            force=force,
            quiet=quiet,
            recipe=recipe,
        )
        stages["train"] = "ran"
        seconds["train"] = round(time.perf_counter() - t0, 1)

    # 2. students (stale if the teacher is newer)
    cfg = read_config(out)
    students = [out / "student.keras", out / "student_nokd.keras"]
    if (
        cfg.get("student")
        and all(p.is_file() for p in students)
        and min(p.stat().st_mtime for p in students) >= (out / "teacher.keras").stat().st_mtime
    ):
        stages["distill"] = "kept"
    else:
        t0 = time.perf_counter()
        log.info(
            "== distill: %s, T=%g, alpha=%g, jitter %d, %d epochs",
            student_arch,
            temperature,
            alpha,
            jitter,
            student_epochs,
        )
        distill(
            out,
            temperature=temperature,
            alpha=alpha,
            arch=student_arch,
            epochs=student_epochs,
            seed=seed,
            jitter=jitter,
            quiet=quiet,
        )
        stages["distill"] = "ran"
        seconds["distill"] = round(time.perf_counter() - t0, 1)

    # 3. int8 models (quantize keeps outputs newer than the student, re-makes stale ones)
    wanted = (
        [OUTPUTS["ptq"]]
        + ([OUTPUTS["qat"]] if qat else [])
        + ([OUTPUTS["pruned"]] if prune is not None else [])
        + ([OUTPUTS["clustered"]] if clusters is not None else [])
    )
    student_time = (out / "student.keras").stat().st_mtime
    if all((out / f).is_file() and (out / f).stat().st_mtime >= student_time for f in wanted):
        stages["quantize"] = "kept"
    else:
        t0 = time.perf_counter()
        log.info(
            "== quantize: PTQ%s%s%s",
            " + QAT" if qat else "",
            f" + pruning {prune}" if prune is not None else "",
            f" + {clusters} clusters" if clusters is not None else "",
        )
        stale = any(
            (out / f).is_file() and (out / f).stat().st_mtime < student_time for f in wanted
        )
        quantize(
            out,
            qat=qat,
            prune=prune,
            clusters=clusters,
            representative_size=representative_size,
            seed=seed,
            force=stale,
            finetune_epochs=finetune_epochs,
            quiet=quiet,
        )
        stages["quantize"] = "ran"
        seconds["quantize"] = round(time.perf_counter() - t0, 1)

    # 4. benchmark (again whenever a model is newer than bench.json)
    models = list(out.glob("*.keras")) + list(out.glob("*.tflite"))
    bench_json = out / "bench.json"
    if (
        bench_json.is_file()
        and bench_json.stat().st_mtime >= _newest(models)
        and all(stages[s] == "kept" for s in stages)
    ):
        import json

        rows = json.loads(bench_json.read_text())
        stages["bench"] = "kept"
    else:
        t0 = time.perf_counter()
        log.info("== bench")
        if patient:
            rows = patient_bench(out, quiet=quiet)
        else:
            rows = bench(out, runtime_sample=runtime_sample, shifts=bench_shifts, quiet=quiet)
        stages["bench"] = "ran"
        seconds["bench"] = round(time.perf_counter() - t0, 1)

    seconds["total"] = round(time.perf_counter() - t_all, 1)
    cfg = read_config(out)
    runs = list((cfg.get("pipeline") or {}).get("runs") or [])
    runs.append(
        {
            "stages": stages,
            "seconds": seconds,
            "settings": {
                "recipe": recipe,
                "teacher_epochs": teacher_epochs,
                "student_epochs": student_epochs,
                "student_arch": student_arch,
                "temperature": temperature,
                "alpha": alpha,
                "jitter": jitter,
                "qat": qat,
                "prune": prune,
                "clusters": clusters,
                "finetune_epochs": finetune_epochs,
            },
        }
    )
    cfg["pipeline"] = {"runs": runs}
    write_json(cfg_path, cfg)
    log.info(
        "pipeline done in %.0f s (%s)",
        seconds["total"],
        ", ".join(f"{k} {v}" for k, v in stages.items()),
    )
    return {"run_dir": str(out), "stages": stages, "seconds": seconds, "bench": rows}
