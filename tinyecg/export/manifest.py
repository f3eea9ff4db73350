"""Export, step 4 (what was written): manifest.json, the record of an export.

It names the model and its configuration by file name and SHA-256, lists every generated
file with its hash, and has no time stamp or machine path, so the same model exported twice
gives the same manifest.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

from tinyecg import __version__
from tinyecg.dsp import denoise
from tinyecg.export.plan import ExportPlan
from tinyecg.spec import BEATS_TASK, RHYTHM_Q_PER_STD

NAME = "manifest.json"


def _digest(content: str | bytes) -> dict:
    data = content if isinstance(content, bytes) else content.encode()
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def command(plan: ExportPlan, out_dir: Path, force: bool, golden: int) -> str:
    """The export command, with the source and the output folder by name only."""
    src = plan.source
    parts = ["tinyecg", "export"]
    if src.kind == "run" and src.run_dir is not None:
        parts.append(src.run_dir.name)
    elif src.kind == "tflite":
        parts.append(src.model.name)
    if plan.task != BEATS_TASK:
        parts += ["--task", plan.task]
    parts += ["--out", Path(out_dir).name]
    if plan.board is not None:
        parts += ["--board", plan.board["board"]]
    parts += ["--golden", str(golden)]
    if force:
        parts.append("--force")
    parts += ["--runtime", plan.runtime]
    return " ".join(shlex.quote(p) for p in parts)


def manifest(plan: ExportPlan, files: dict[str, str | bytes], command_line: str) -> dict:
    from tinyecg.export.files import params_count, tensor_meta
    from tinyecg.export.preprocess import STACK_BYTES

    model, src = plan.model, plan.source
    config = None
    if src.config_path is not None:
        config = {"file": src.config_path.name, **_digest(src.config_path.read_bytes())}
    roles = plan.roles
    inputs = [tensor_meta(model, ti, k, roles[k]) for k, ti in enumerate(model.inputs)]
    output = tensor_meta(model, model.outputs[0], 0, None)
    task = {} if plan.task == BEATS_TASK else {"task": plan.task, "prefix": plan.prefix}
    return {
        "tinyecg_version": __version__,
        **task,
        "command": command_line,
        "source": {
            "kind": src.kind,
            "model": {"file": src.model.name, "sha256": model.sha256},
            "config": config,
        },
        "runtime": plan.runtime,
        "files": {name: _digest(text) for name, text in sorted(files.items())},
        "model": {
            "file": src.model.name,
            "sha256": model.sha256,
            "bytes": len(model.data),
            "ops": model.op_names(),
            "operators": len(model.ops),
            "params": params_count(model),
            "op_counts": {o.op: o.count for o in plan.ops} if plan.ops else None,
            "resolver": [
                {"op": o.op, "method": o.method, "arduino_2023": o.arduino_2023} for o in plan.ops
            ],
            "inputs": [
                {
                    k: t[k]
                    for k in (
                        "index",
                        "role",
                        "name",
                        "shape",
                        "scale",
                        "zero_point",
                        "mant",
                        "exp",
                    )
                }
                for t in inputs
            ],
            "output": {
                k: output[k] for k in ("name", "shape", "scale", "zero_point", "mant", "exp")
            },
        },
        "arena": plan.arena,
        "labels": plan.settings["labels"],
        "preprocessing": _preprocessing(plan, STACK_BYTES),
        "board": plan.board,
        "golden": {
            "count": len(plan.vectors),
            "origin": plan.golden_origin,
            "table_bytes": plan.golden_bytes,
            "items": [g.as_dict() for g in plan.vectors],
        },
        "notes": plan.notes,
    }


def _preprocessing(plan: ExportPlan, stack_bytes: int) -> dict:
    if plan.task != BEATS_TASK:
        return {
            "front_end": "tinyecg.dsp.rhythm_frontend (firmware/lib/tinyecg_rhythm)",
            "input": f"the front end's int8 window as it is: scale 1/{RHYTHM_Q_PER_STD}, zero "
            "point 0",
        }
    return {
        "params": dict(denoise.PARAMS),
        "stack_bytes": stack_bytes,
        "beat_quant": {"mult": plan.params["quant_mult"], "shift": plan.params["quant_shift"]},
    }


def previous_files(out_dir: Path) -> list[str]:
    """The files a previous export listed in out_dir's manifest (none if unreadable)."""
    try:
        old = json.loads((Path(out_dir) / NAME).read_text())
        return [str(name) for name in old.get("files", {})]
    except (OSError, ValueError, AttributeError):
        return []
