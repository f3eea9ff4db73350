"""Export, step 3 (render): the generated files of an ExportPlan, from the Jinja templates.

Generated files name their inputs by file name and SHA-256, never by machine path, and carry
no time stamp: exporting the same model twice gives identical bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyecg import __version__
from tinyecg.dsp import denoise
from tinyecg.dsp import rhythm as rhythm_mod
from tinyecg.errors import TinyECGError
from tinyecg.export import tflm_files
from tinyecg.export.cgen import c_float, identifier
from tinyecg.export.plan import ExportPlan
from tinyecg.export.preprocess import render_preprocessing
from tinyecg.export.render import render
from tinyecg.quantmath import float32_parts
from tinyecg.spec import BEAT, RHYTHM, RHYTHM_TASK

TFLM_FILES = (
    "tinyecg_model_data.h",
    "tinyecg_model_data.c",
    "tinyecg_op_resolver.h",
    "tinyecg_arena.h",
)
COMMON_FILES = ("tinyecg_model_meta.h", "tinyecg_golden.h", "tinyecg_golden.c")


def tflm_names(prefix: str, stem: str, what: str) -> dict[str, str]:
    """The C names of a TFLM runtime export: <prefix>_data.h/.c (<prefix>_data[],
    <PREFIX>_DATA_LEN), <stem>_op_resolver.h (namespace <stem>), <stem>_arena.h
    (<STEM>_ARENA_BYTES)."""
    return {
        "data": prefix,
        "DATA": prefix.upper(),
        "stem": stem,
        "STEM": stem.upper(),
        "ns": stem,
        "what": what,
    }


# the beat model's names, as firmware/src and the boards' builds know them
BEAT_TFLM_NAMES = tflm_names("tinyecg_model", "tinyecg", "the int8 heartbeat classifier")


def render_tflm(plan: ExportPlan, ctx: dict, n: dict[str, str]) -> dict[str, str]:
    """The TFLM runtime's files (model bytes, op resolver, arena) with the names n."""
    ctx = dict(ctx, n=n, a=plan.arena, lines=tflm_files.byte_lines(plan.model.data))
    ops = plan.ops
    resolver = dict(
        ctx,
        ops=ops,
        all_2023=all(o.arduino_2023 for o in ops),
        changed=[
            f"{o.op}: {tflm_files.CHANGED_SINCE_2023[o.op]}"
            for o in ops
            if o.op in tflm_files.CHANGED_SINCE_2023
        ],
    )
    return {
        f"{n['data']}_data.h": render("tflm/tinyecg_model_data.h.j2", **ctx),
        f"{n['data']}_data.c": render("tflm/tinyecg_model_data.c.j2", **ctx),
        f"{n['stem']}_arena.h": render("tflm/tinyecg_arena.h.j2", **ctx),
        f"{n['stem']}_op_resolver.h": render("tflm/tinyecg_op_resolver.h.j2", **resolver),
    }


def tensor_meta(model, ti: int, index: int, role: str | None) -> dict:
    """How tinyecg_model_meta.h states one input or the output, its scale as exact integers."""
    t = model.tensors[ti]
    patient = role in (BEAT, RHYTHM) and int(np.prod(t.shape[1:])) in (720, 8)
    scale, zp = float(t.scale), int(t.zero_point)
    mant, exp = float32_parts(scale)
    comment = ""
    if role is None and mant == 1 and exp == -8 and zp == -128:
        comment = ": q + 128 is the probability in Q8 (0..255 / 256)"
    elif role == BEAT and patient:
        comment = ": [window, the patient's template] per sample (tinyecg_beats.h)"
    elif role == RHYTHM and patient:
        comment = ": the 8 long-term RR features (tinyecg_longterm_features())"
    elif role == BEAT:
        comment = ": the z-scored, denoised window (tinyecg_preprocess_window())"
    elif role == RHYTHM:
        comment = (
            ": pre/post/local RR in seconds, pre/local, post/local (tinyecg_rhythm_features())"
        )
    return {
        "index": index,
        "role": role or "output",
        "name": t.name,
        "shape": list(t.shape),
        "elements": int(np.prod(t.shape)),
        "macro": identifier(role).upper() if role else "OUTPUT",
        "scale": scale,
        "scale_text": f"{scale:.9g}",
        "scale_c": c_float(scale),
        "zero_point": zp,
        "mant": mant,
        "exp": exp,
        "comment": comment,
    }


def params_count(model) -> int:
    """Weights and biases (constant tensors that are not shapes or axes)."""
    skip = {
        "RESHAPE",
        "EXPAND_DIMS",
        "SQUEEZE",
        "PAD",
        "PADV2",
        "MEAN",
        "TRANSPOSE",
        "STRIDED_SLICE",
        "SLICE",
    }
    shape_inputs = {i for op in model.ops if op.opcode in skip for i in op.inputs[1:] if i >= 0}
    return int(sum(t.size for t in model.tensors if t.is_constant and t.index not in shape_inputs))


def context(plan: ExportPlan) -> dict:
    """The values every template reads."""
    model, s, src = plan.model, plan.settings, plan.source
    roles = plan.roles
    model_name = Path(model.source).name
    owner = src.run_dir.name if src.run_dir else model_name
    config_origin = (
        f"{src.config_path.name} of {owner}"
        if src.config_path is not None
        else "defaults (no config.json)"
    )
    ctx = {
        "version": __version__,
        "model_name": model_name,
        "model_bytes": len(model.data),
        "sha256": model.sha256,
        "runtime": plan.runtime,
        "config_origin": config_origin,
        "fs": s["fs"],
        "window": s["window"],
        "pre_r": s["pre_r"],
        "post_r": s["window"] - s["pre_r"],
        "local_beats": rhythm_mod.LOCAL_BEATS,
        "default_rr": rhythm_mod.DEFAULT_RR,
        "labels": s["labels"],
        "label_macros": [identifier(x).upper() for x in s["labels"]],
        "labels_origin": (
            f"label set {s['label_set']}" if s["label_set"] else "config.json data.label_names"
        ),
        "inputs": [tensor_meta(model, ti, k, roles[k]) for k, ti in enumerate(model.inputs)],
        "output": tensor_meta(model, model.outputs[0], 0, None),
        "ops": model.op_names(),
        "n_operators": len(model.ops),
        "params": params_count(model),
        "prep": {
            "wavelet": denoise.WAVELET,
            "level": denoise.LEVEL,
            "mode": denoise.MODE,
            "threshold": denoise.PARAMS["threshold"],
            "zscore": denoise.PARAMS["zscore"],
            "std_floor_mv": denoise.STD_FLOOR_MV,
            "std_floor_uv": int(round(denoise.STD_FLOOR_MV * 1000)),
        },
        "golden": [
            dict(
                g.as_dict(),
                raw=g.raw.tolist(),
                beat=g.beat.tolist(),
                rhythm=None if g.rhythm is None else g.rhythm.tolist(),
                longterm=g.longterm,
            )
            for g in plan.vectors
        ],
        "golden_origin": plan.golden_origin,
        "rhythm": plan.has_rhythm,
        "patient": plan.int8.beat_channels == 2,
    }
    if len(set(ctx["label_macros"])) != len(ctx["label_macros"]):
        raise TinyECGError(f"labels {s['labels']} do not give distinct C names")
    return ctx


def render_files(plan: ExportPlan) -> dict[str, str | bytes]:
    """name -> content of every generated C file (the manifest comes apart)."""
    if plan.task == RHYTHM_TASK:
        from tinyecg.export.rhythm import render_rhythm_files

        return render_rhythm_files(plan)
    ctx = context(plan)
    files: dict[str, str | bytes] = {}
    if plan.runtime == "tflm":
        files.update(render_tflm(plan, ctx, BEAT_TFLM_NAMES))
    else:
        files.update(plan.c_files)
    files["tinyecg_model_meta.h"] = render("tflm/tinyecg_model_meta.h.j2", **ctx)
    files.update(render_preprocessing(plan.params, __version__))
    files["tinyecg_golden.h"] = render("tflm/tinyecg_golden.h.j2", **ctx)
    files["tinyecg_golden.c"] = render("tflm/tinyecg_golden.c.j2", **ctx)
    return files
