"""`tinyecg export`: an int8 model -> the C files a board needs, proven on the host.

    export(run_dir_or_tflite_or_None, "firmware/lib/tinyecg_model", board="nano33ble")

resolve (source.py) -> spec (plan.py) -> render (files.py) -> write (here, with the manifest
of manifest.py). Writes, flat in the output folder (so it can be a PlatformIO library folder):
    tinyecg_model_data.h/.c   the .tflite bytes, const, 16-byte aligned, with length and SHA-256
    tinyecg_model_meta.h      labels, window, quantization, ops, preprocessing, version, hash
    tinyecg_op_resolver.h     MicroMutableOpResolver<N> with exactly the model's builtin ops (C++)
    tinyecg_arena.h           TINYECG_ARENA_BYTES: the TFLM host figure + a documented margin
    tinyecg_preprocess_params.h/.c  the input quantization for the library tinyecg_dsp
    tinyecg_golden.h/.c       real beats with the expected int8 inputs and TFLM outputs
    manifest.json             SHA-256 of every file, the model summary, the board check, the command
With runtime="c" the model data, resolver and arena are replaced by the generated C of
tinyecg.export.cbackend (weights, parameters and calls for the library tinyecg_nn). See
docs/export.md.

Every user mistake raises TinyECGError (one line) before anything is written, and the set is
written all at once: files of an earlier export that this one does not write are removed.
"""

from __future__ import annotations

from pathlib import Path

from tinyecg import outputs
from tinyecg.errors import TinyECGError
from tinyecg.export import boards as boards_mod
from tinyecg.export import manifest as manifest_mod
from tinyecg.export.files import render_files
from tinyecg.export.plan import MAX_GOLDEN, PREFIX, RUNTIMES, plan_export  # noqa: F401
from tinyecg.export.source import resolve_source  # noqa: F401 (part of this module's API)
from tinyecg.paths import default_model_dir
from tinyecg.spec import BEATS_TASK, RHYTHM_TASK, TASKS

DEFAULT_MODEL_DIR = default_model_dir()


def _precheck_out(out_dir: Path, force: bool) -> None:
    outputs.check_set(out_dir, (), force)
    for parent in out_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise TinyECGError(f"{out_dir}: cannot write ({parent} is not a folder)")
            break


def export(
    source,
    out_dir,
    board: str | None = None,
    golden: int = 8,
    force: bool = False,
    runtime: str = "tflm",
    task: str = BEATS_TASK,
) -> dict:
    """Export an int8 model (run directory, .tflite, or None for the packaged default model
    of the task) to C files in out_dir; returns the manifest (also written as manifest.json)
    with the output folder and the files written. task: spec.BEATS_TASK or spec.RHYTHM_TASK
    (tinyecg.export.rhythm: the shockable-rhythm model, files prefixed tinyecg_rhythm_model)."""
    out_dir = Path(out_dir)
    if runtime not in RUNTIMES:
        raise TinyECGError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    if task not in TASKS:
        raise TinyECGError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    _precheck_out(out_dir, force)
    if task == RHYTHM_TASK:
        from tinyecg.export.rhythm import plan_rhythm_export, resolve_rhythm_source

        src = resolve_rhythm_source(source)
        plan = plan_rhythm_export(src, board=board, golden=golden, runtime=runtime)
    else:
        plan = plan_export(resolve_source(source), board=board, golden=golden, runtime=runtime)
    files = render_files(plan)
    info = manifest_mod.manifest(plan, files, manifest_mod.command(plan, out_dir, force, golden))
    files[manifest_mod.NAME] = outputs.json_text(info)
    stale = [n for n in manifest_mod.previous_files(out_dir) if n not in files]
    outputs.write_set(out_dir, files, force=force, remove=stale)
    return dict(info, out_dir=str(out_dir), written=sorted(files), removed=stale)


def describe(summary: dict) -> list[str]:
    """What `tinyecg export` prints about an export."""
    m = summary["model"]
    lines = [
        f"exported {m['file']} ({m['bytes']} bytes, {m['operators']} operators: "
        f"{', '.join(m['ops'])}) to {summary['out_dir']}/ ({len(summary['written'])} files)"
    ]
    if summary["removed"]:
        lines.append(f"removed files of an earlier export: {', '.join(summary['removed'])}")
    a = summary["arena"]
    macro = (summary.get("prefix") or "tinyecg").upper() + "_ARENA_BYTES"
    if summary["runtime"] == "tflm":
        lines.append(f"arena: {macro} {a['total']} (TFLM host {a['host']} + margin {a['margin']})")
    elif summary.get("task") == RHYTHM_TASK:
        lines.append(f"arena: {macro} {a['c_backend_arena']} (static, the C backend's plan)")
    g = summary["golden"]
    if summary.get("task") == RHYTHM_TASK:
        items = g["items"]
        agree = sum(item["predicted"] == item["label"] for item in items)
        shock = sum(item["label"] for item in items)
        lines.append(
            f"golden: {g['count']} windows ({shock} annotated shockable) from the "
            f"{g['origin']}; TFLM agrees with the annotation on {agree}"
        )
        lines += [f"note: {note}" for note in summary["notes"]]
        return lines
    agree = sum(item["predicted"] == item["label"] for item in g["items"])
    lines.append(
        f"golden: {g['count']} beats from the {g['origin']}; TFLM agrees with the "
        f"annotation on {agree}"
    )
    if summary["board"] is not None:
        lines.append("board " + boards_mod.describe(summary["board"]))
    lines += [f"note: {note}" for note in summary["notes"]]
    return lines
