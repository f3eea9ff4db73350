"""`tinyecg export --task rhythm`: the shockable-rhythm model as C, beside the beat model.

The same steps as the beat export (tinyecg.export.exporter): resolve (source.py, default the
model shipped in tinyecg.paths.rhythm_model_dir()) -> spec (plan_rhythm_export, here) ->
render (render_rhythm_files, here) -> write (exporter.py, with manifest.py). Every generated
name carries the prefix PREFIX, so the files link beside the beat model's tinyecg_model*:

    runtime c     tinyecg_rhythm_model.h/.c   int tinyecg_rhythm_model_invoke(input, output)
    runtime tflm  tinyecg_rhythm_model_data.h/.c, tinyecg_rhythm_model_op_resolver.h,
                  tinyecg_rhythm_model_arena.h
    both          tinyecg_rhythm_model_meta.h, tinyecg_rhythm_model_golden.h/.c, manifest.json

The model's input is the front end's int8 window as it is (tinyecg.dsp.rhythm_frontend,
firmware/lib/tinyecg_rhythm), so the export refuses an input quantization other than scale
1/spec.RHYTHM_Q_PER_STD and zero point 0, and needs no preprocessing parameters. The golden
vectors are real windows kept with the model (tinyecg.data.rhythm_golden) with the TFLM host
runtime's outputs on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import __version__, spec
from tinyecg.data import rhythm_golden
from tinyecg.data.rhythm import SHOCKABLE
from tinyecg.errors import TinyECGError
from tinyecg.export import tflm_files
from tinyecg.export.files import params_count, render_tflm, tensor_meta, tflm_names
from tinyecg.export.plan import ExportPlan, _checked_model, _tflm, tflm_notes
from tinyecg.export.render import render
from tinyecg.export.source import Source, resolve_source
from tinyecg.models.int8 import Int8Model
from tinyecg.paths import rhythm_model_dir

PREFIX = "tinyecg_rhythm_model"
INPUT_SCALE = 1.0 / spec.RHYTHM_Q_PER_STD
RHYTHM_TFLM_NAMES = tflm_names(PREFIX, PREFIX, "the int8 shockable-rhythm model")


@dataclass
class RhythmGolden:
    record: str  # "database/name"
    end: int  # stream index (90 Hz) one past the window's last sample
    window_class: str  # annotated class (tinyecg.data.rhythm.WINDOW_CLASSES)
    gate: bool  # the amplitude gate allows a shockable decision
    window: np.ndarray  # int8 (RHYTHM_WINDOW,): the front end's output, the model's input
    output: np.ndarray  # int8 (2,): TFLM's output on it

    @property
    def label(self) -> int:
        """1 when the annotated class is shockable (as trained), else 0."""
        return int(self.window_class in SHOCKABLE)

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.output))

    def as_dict(self) -> dict:
        return {
            "record": self.record,
            "end": self.end,
            "second": self.end / spec.RHYTHM_FS,
            "window_class": self.window_class,
            "label": self.label,
            "predicted": self.predicted,
            "gate": self.gate,
            "output": self.output.tolist(),
        }


def resolve_rhythm_source(source) -> Source:
    """resolve_source with the shipped rhythm model as the default; a run must be a rhythm
    run (config.json "task": "rhythm")."""
    src = resolve_source(source, default_dir=rhythm_model_dir())
    task = (src.config or {}).get("task", spec.BEATS_TASK if src.config else None)
    if src.config is not None and task != spec.RHYTHM_TASK:
        where = src.config_path or src.model
        raise TinyECGError(
            f"{where}: configuration of a {task} model, not a rhythm model "
            "(export it without --task rhythm)"
        )
    return src


def check_rhythm_model(int8: Int8Model) -> None:
    """The checks that make the export's C agree with the device: the task, the input
    quantization the front end produces, the two outputs."""
    where = Path(int8.source).name
    if int8.task != spec.RHYTHM_TASK:
        roles = ", ".join(i.role for i in int8.inputs)
        raise TinyECGError(
            f"{where}: a {int8.task} model (inputs {roles}), not a rhythm model "
            "(export it without --task rhythm)"
        )
    inp = int8.inputs[0]
    if not np.isclose(inp.scale, INPUT_SCALE, rtol=0, atol=1e-9) or inp.zero_point != 0:
        raise TinyECGError(
            f"{where}: input scale {inp.scale:.9g} and zero point {inp.zero_point}, but the "
            f"front end's window is in 1/{spec.RHYTHM_Q_PER_STD} std with zero point 0 "
            "(train it with tinyecg train --task rhythm)"
        )
    if int8.n_classes != len(spec.RHYTHM_LABELS):
        raise TinyECGError(
            f"{where}: {int8.n_classes} outputs, but a rhythm model has 2 "
            f"({', '.join(spec.RHYTHM_LABELS)})"
        )


def _golden_file(src: Source, notes: list[str]) -> tuple[Path, str]:
    for folder in (src.run_dir, src.model.parent):
        if folder is not None and (folder / rhythm_golden.FILE).is_file():
            return folder / rhythm_golden.FILE, f"{rhythm_golden.FILE} beside {src.model.name}"
    shipped = rhythm_model_dir() / rhythm_golden.FILE
    if shipped.is_file():
        notes.append(f"no {rhythm_golden.FILE} beside the model: golden windows of the shipped one")
        return shipped, f"{rhythm_golden.FILE} of the rhythm model shipped with tinyecg"
    raise TinyECGError(
        f"{src.model}: no {rhythm_golden.FILE} beside it (tinyecg train --task rhythm writes "
        "one) and none shipped with this tinyecg"
    )


def golden_vectors(path: Path, n: int, tflm) -> list[RhythmGolden]:
    """The first n windows of a golden-windows file (they alternate between the classes)
    with TFLM's output on each."""
    g = rhythm_golden.load_golden(path)
    out = []
    for k in range(min(n, len(g["record"]))):
        window = np.asarray(g["window"][k], np.int8)
        y = np.asarray(tflm.invoke(window.reshape(1, 1, -1, 1)), np.int8).reshape(-1)
        out.append(
            RhythmGolden(
                str(g["record"][k]),
                int(g["end"][k]),
                str(g["window_class"][k]),
                bool(g["gate"][k]),
                window.copy(),
                y.copy(),
            )
        )
    return out


def plan_rhythm_export(
    src: Source, board: str | None = None, golden: int = 8, runtime: str = "c"
) -> ExportPlan:
    """Everything the rhythm files state, computed and checked before rendering."""
    from tinyecg.export.cbackend import generate_c_backend, plan_memory
    from tinyecg.export.plan import RUNTIMES, check_golden_count

    if runtime not in RUNTIMES:
        raise TinyECGError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    if board is not None:
        raise TinyECGError(
            "--board checks the beat model's budget; for the rhythm model see "
            "docs/rhythm.md (budget of both tasks)"
        )
    golden = check_golden_count(golden)
    notes = list(src.notes)
    model = _checked_model(src)
    int8 = Int8Model(model, task=None)  # check_rhythm_model names a beat model
    check_rhythm_model(int8)
    labels = list(((src.config or {}).get("data") or {}).get("label_names", spec.RHYTHM_LABELS))
    if labels != list(spec.RHYTHM_LABELS):
        raise TinyECGError(
            f"{src.config_path}: labels {labels}, but a rhythm model's outputs are "
            f"{list(spec.RHYTHM_LABELS)}"
        )
    ops: list = []
    c_files: dict[str, str] = {}
    notes += tflm_notes(model, runtime)
    if runtime == "tflm":
        ops = tflm_files.resolver_ops(model)
    else:
        c_files = generate_c_backend(model, PREFIX, input_args=1)
    tflm = _tflm(model)
    arena = tflm_files.arena_budget(tflm.arena_bytes(), model)
    if runtime == "c":
        arena = dict(arena, c_backend_arena=int(plan_memory(model).arena_bytes))
    path, origin = _golden_file(src, notes)
    vectors = golden_vectors(path, golden, tflm)
    if len(vectors) < golden:
        notes.append(f"only {len(vectors)} golden windows available (asked for {golden})")
    if len({v.predicted for v in vectors}) < 2:
        notes.append("the golden windows' outputs do not cover both classes")
    # flash of the golden table: record pointer, end, label/predicted/gate, window, output,
    # padded to 4, + the record names; 2,992 estimated for the committed 4 windows, 2,983
    # measured (arm-none-eabi-gcc -Os: 2,944 .rodata + 39 strings)
    per = 4 + 4 + 4 + spec.RHYTHM_WINDOW + len(spec.RHYTHM_LABELS)
    golden_bytes = len(vectors) * ((per + 3) // 4 * 4 + 12)
    settings = {"labels": labels, "fs": spec.FS, "window": spec.RHYTHM_WINDOW}
    return ExportPlan(
        src,
        model,
        int8,
        runtime,
        settings,
        {},
        ops,
        arena,
        vectors,
        origin,
        golden_bytes,
        c_files,
        None,
        notes,
        task=spec.RHYTHM_TASK,
        prefix=PREFIX,
    )


def render_rhythm_files(plan: ExportPlan) -> dict[str, str | bytes]:
    """name -> content of every generated file of a rhythm export (the manifest apart)."""

    model = plan.model
    p = PREFIX
    ctx = {
        "version": __version__,
        "prefix": p,
        "PREFIX": p.upper(),
        "model_name": Path(model.source).name,
        "model_bytes": len(model.data),
        "sha256": model.sha256,
        "runtime": plan.runtime,
        "config_origin": (
            f"{plan.source.config_path.name} beside {Path(model.source).name}"
            if plan.source.config_path is not None
            else "no config.json"
        ),
        "labels": plan.settings["labels"],
        "label_macros": [lab.replace("-", "_").upper() for lab in plan.settings["labels"]],
        "shockable_output": spec.SHOCKABLE_OUTPUT,
        "q_per_std": spec.RHYTHM_Q_PER_STD,
        "stream_fs": spec.RHYTHM_FS,
        "window_s": spec.RHYTHM_WINDOW_S,
        "input": tensor_meta(model, model.inputs[0], 0, plan.int8.inputs[0].role),
        "output": tensor_meta(model, model.outputs[0], 0, None),
        "ops": model.op_names(),
        "n_operators": len(model.ops),
        "params": params_count(model),
        "golden": [
            dict(g.as_dict(), window=g.window.tolist(), gate=int(g.gate)) for g in plan.vectors
        ],
        "golden_origin": plan.golden_origin,
    }
    files: dict[str, str | bytes] = {}
    if plan.runtime == "tflm":
        files.update(render_tflm(plan, ctx, RHYTHM_TFLM_NAMES))
    else:
        files.update(plan.c_files)
    for name in ("meta.h", "golden.h", "golden.c"):
        files[f"{p}_{name}"] = render(f"rhythm/model_{name}.j2", **ctx)
    return files
