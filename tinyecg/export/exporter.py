"""`tinyecg export`: an int8 model -> the C files a board needs, proven on the host.

    export(run_dir_or_tflite_or_None, "firmware/lib/tinyecg_model", board="nano33ble")

Writes, flat in the output folder (so it can be a PlatformIO library folder):
    tinyecg_model_data.h/.c   the .tflite bytes, const, 16-byte aligned, with length and SHA-256
    tinyecg_model_meta.h      labels, window, quantization, ops, preprocessing, version, hash
    tinyecg_op_resolver.h     MicroMutableOpResolver<N> with exactly the model's builtin ops (C++)
    tinyecg_arena.h           TINYECG_ARENA_BYTES: the TFLM host figure + a documented margin
    tinyecg_preprocess_params.h/.c  the input quantization for the library tinyecg_dsp
    tinyecg_golden.h/.c       real beats with the expected int8 inputs and TFLM outputs
    manifest.json             SHA-256 of every file, the model summary, the board check, the command
With runtime="c" the model data, resolver and arena are replaced by the files of
tinyecg.export.cbackend (when that module exists). See docs/export.md.

Every user mistake raises TinyECGError (one line) before anything is written.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import shlex
import time
from pathlib import Path

import numpy as np

from tinyecg import __version__, outputs
from tinyecg.dsp import denoise
from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp import rhythm as rhythm_mod
from tinyecg.errors import TinyECGError
from tinyecg.export import boards as boards_mod
from tinyecg.export import golden as golden_mod
from tinyecg.export import tflm_files
from tinyecg.export.render import render, write_atomically
from tinyecg.models.int8 import Int8Model
from tinyecg.paths import default_model_dir
from tinyecg.quantmath import float32_parts
from tinyecg.run import find_run_model, run_model

DEFAULT_MODEL_DIR = default_model_dir()
RUNTIMES = ("tflm", "c")
MAX_GOLDEN = 64
DEFAULT_LABEL_SET = "nlrav"  # tinyecg train's default
PREFIX = "tinyecg_model"

TFLM_FILES = ("tinyecg_model_data.h", "tinyecg_model_data.c", "tinyecg_op_resolver.h",
              "tinyecg_arena.h")
COMMON_FILES = ("tinyecg_model_meta.h", "tinyecg_golden.h", "tinyecg_golden.c")


# --------------------------------------------------------------------------- source
def _read_json(path: Path) -> dict:
    try:
        cfg = json.loads(path.read_text())
    except OSError as exc:
        raise TinyECGError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise TinyECGError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(cfg, dict):
        raise TinyECGError(f"{path}: expected a JSON object")
    return cfg


def resolve_source(source) -> dict:
    """{"kind": run|tflite|default, "model": Path, "config": dict|None, "config_path",
    "run_dir", "notes": [...]} for a run directory, a .tflite file or None (default model)."""
    notes: list[str] = []
    if source is None:
        model = find_run_model(DEFAULT_MODEL_DIR, "int8")
        if model is None:
            shipped = DEFAULT_MODEL_DIR / "model.tflite"
            raise TinyECGError(f"no default model in this tinyecg ({shipped} is missing): "
                               "give a run directory or a .tflite file")
        kind, run_dir = "default", None
    else:
        path = Path(source)
        if not path.exists():
            raise TinyECGError(f"{path}: no such file or folder")
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise TinyECGError(f"{path}: not a tinyecg run directory (no config.json)")
            cfg = _read_json(path / "config.json")
            model = run_model(path, "int8", config=cfg, notes=notes)
            return {"kind": "run", "model": model, "config": cfg,
                    "config_path": path / "config.json", "run_dir": path, "notes": notes}
        model, kind, run_dir = path, "tflite", None
    cfg_path = model.parent / "config.json"
    cfg = _read_json(cfg_path) if cfg_path.is_file() else None
    if cfg is None:
        notes.append("no config.json beside the model: default preprocessing (sym4, 3 levels, "
                     "360-sample window at 360 Hz) and labels assumed")
    return {"kind": kind, "model": model, "config": cfg,
            "config_path": cfg_path if cfg is not None else None, "run_dir": run_dir,
            "notes": notes}


# --------------------------------------------------------------------------- settings
def _settings(cfg: dict | None, n_classes: int, notes: list[str]) -> dict:
    data = (cfg or {}).get("data") or {}
    fs = int(data.get("fs", fp.FS))
    window = int(data.get("window", fp.WINDOW))
    pre_r = int(data.get("pre_r", fp.PRE_R))
    label_set_name = data.get("labels")
    labels = data.get("label_names")
    from tinyecg.data.beats import LABEL_SETS
    if labels is None:
        if label_set_name in LABEL_SETS:
            labels = LABEL_SETS[label_set_name]["labels"]
        elif n_classes == len(LABEL_SETS[DEFAULT_LABEL_SET]["labels"]):
            label_set_name = DEFAULT_LABEL_SET
            labels = LABEL_SETS[DEFAULT_LABEL_SET]["labels"]
            notes.append(f"labels assumed: {', '.join(labels)} (label set {DEFAULT_LABEL_SET})")
        else:
            labels = [f"class{i}" for i in range(n_classes)]
            notes.append("labels unknown: named class0.." + str(n_classes - 1))
    labels = [str(x) for x in labels]
    if label_set_name is None:
        label_set_name = next((k for k, v in LABEL_SETS.items() if v["labels"] == labels), None)
    if len(labels) != n_classes:
        raise TinyECGError(f"config.json names {len(labels)} labels but the model has "
                           f"{n_classes} outputs")
    prep = (cfg or {}).get("preprocessing") or dict(denoise.PARAMS)
    if not isinstance(prep, dict):
        raise TinyECGError("config.json: preprocessing is not an object")
    return {"fs": fs, "window": window, "pre_r": pre_r, "labels": labels,
            "label_set": label_set_name, "preprocessing": prep}


def _check_fixed_design(settings: dict) -> None:
    """The fixed-point C is built for 360 Hz, 360-sample windows with the R-peak at 180, and
    for exactly the preprocessing of tinyecg.dsp.denoise."""
    fs, window, pre_r = settings["fs"], settings["window"], settings["pre_r"]
    if fs != fp.FS:
        raise TinyECGError(f"config.json: sampling rate {fs} Hz, but the fixed-point "
                           f"preprocessing and rhythm features are for {fp.FS} Hz")
    if window != fp.WINDOW:
        raise TinyECGError(f"config.json: window of {window} samples, but the fixed-point "
                           f"preprocessing takes {fp.WINDOW}")
    if pre_r != fp.PRE_R:
        raise TinyECGError(f"config.json: R-peak at sample {pre_r} of the window, but the "
                           f"firmware and golden windows put it at {fp.PRE_R}")
    prep = settings["preprocessing"]
    for key, want in denoise.PARAMS.items():
        have = prep.get(key, want)
        if have != want and not (isinstance(want, float) and isinstance(have, (int, float))
                                 and math.isclose(have, want)):
            raise TinyECGError(f"config.json: preprocessing {key} = {have!r}, but the "
                               f"fixed-point C implements {want!r}")


def _roles(model, window: int) -> list[str]:
    """spec.BEAT or spec.RHYTHM for each flatbuffer input (Int8Model checks their sizes),
    after checking the beat input against the run's window."""
    int8 = Int8Model(model)
    beat = int8.input(golden_mod.BEAT)
    if beat is not None and beat.size != window:
        raise TinyECGError(f"{model.source}: input {beat.position} {beat.name!r} takes "
                           f"{beat.size} samples (shape {list(beat.shape)}), but the window "
                           f"is {window} samples (config.json data.window)")
    return [i.role for i in int8.inputs]


def _tensor_meta(model, ti: int, index: int, role: str | None) -> dict:
    from tinyecg.export.cgen import c_float, identifier

    t = model.tensors[ti]
    scale, zp = float(t.scale), int(t.zero_point)
    mant, exp = float32_parts(scale)
    comment = ""
    if role is None and mant == 1 and exp == -8 and zp == -128:
        comment = ": q + 128 is the probability in Q8 (0..255 / 256)"
    elif role == golden_mod.BEAT:
        comment = ": the z-scored, denoised window (tinyecg_preprocess_window())"
    elif role == golden_mod.RHYTHM:
        comment = (": pre/post/local RR in seconds, pre/local, post/local "
                   "(tinyecg_rhythm_features())")
    return {"index": index, "role": role or "output", "name": t.name,
            "shape": list(t.shape), "elements": int(np.prod(t.shape)),
            "macro": identifier(role).upper() if role else "OUTPUT",
            "scale": scale, "scale_text": f"{scale:.9g}", "scale_c": c_float(scale),
            "zero_point": zp, "mant": mant, "exp": exp, "comment": comment}


def _params_count(model) -> int:
    skip = {"RESHAPE", "EXPAND_DIMS", "SQUEEZE", "PAD", "PADV2", "MEAN", "TRANSPOSE",
            "STRIDED_SLICE", "SLICE"}
    shape_inputs = {i for op in model.ops if op.opcode in skip for i in op.inputs[1:] if i >= 0}
    return int(sum(t.size for t in model.tensors if t.is_constant and t.index not in shape_inputs))


# --------------------------------------------------------------------------- golden source
def _golden_beats(src: dict, settings: dict, notes: list[str]):
    """(Beats, candidate indices, description) for the golden vectors."""
    cfg = src["config"]
    if src["kind"] == "run":
        from tinyecg.data.dataset import dataset_from_config
        try:
            ds, split = dataset_from_config(cfg)
        except (TinyECGError, KeyError, TypeError) as exc:
            msg = exc.args[0] if isinstance(exc, TinyECGError) else f"config lacks {exc}"
            notes.append(f"run data unavailable ({msg}): golden beats from the bundled excerpt")
        else:
            test = np.asarray(split.get("test", []), dtype=np.int64)
            if len(test):
                return ds.beats, test, (f"test split ({cfg['split']['name']}, seed "
                                        f"{cfg['split']['seed']}) of the run's data")
            notes.append("the run's test split is empty: golden beats from all its beats")
            return ds.beats, np.arange(len(ds.beats)), "all beats of the run's data"
    label_set = settings["label_set"] or DEFAULT_LABEL_SET
    beats = golden_mod.excerpt_beats(label_set)
    return beats, np.arange(len(beats)), "MIT-BIH excerpt bundled with tinyecg"


# --------------------------------------------------------------------------- output folder
def _precheck_out(out_dir: Path, force: bool) -> None:
    outputs.check_set(out_dir, (), force)
    for parent in out_dir.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise TinyECGError(f"{out_dir}: cannot write ({parent} is not a folder)")
            break


def _command(source, out_dir, board, golden, force, runtime) -> str:
    parts = ["tinyecg", "export"]
    if source is not None:
        parts.append(str(source))
    parts += ["--out", str(out_dir)]
    if board:
        parts += ["--board", board]
    parts += ["--golden", str(golden)]
    if force:
        parts.append("--force")
    parts += ["--runtime", runtime]
    return " ".join(shlex.quote(p) for p in parts)


def _c_backend(model) -> tuple[dict[str, str], int]:
    """The interpreter-free C of tinyecg.export.cbackend and its static arena bytes."""
    try:
        from tinyecg.export import cbackend
    except ImportError:
        raise TinyECGError("--runtime c needs tinyecg.export.cbackend, which this tinyecg does "
                           "not have (use --runtime tflm)") from None
    files = cbackend.generate_c_backend(model, PREFIX)
    if not isinstance(files, dict) or not files:
        raise TinyECGError("tinyecg.export.cbackend returned no files")
    plan = getattr(cbackend, "plan_memory", None)
    arena = int(plan(model).arena_bytes) if plan is not None else 0
    return {str(k): v for k, v in files.items()}, arena


# --------------------------------------------------------------------------- export
def export(source, out_dir, board: str | None = None, golden: int = 8, force: bool = False,
           runtime: str = "tflm", quiet: bool = False) -> dict:
    """Export an int8 model (run directory, .tflite, or None for the packaged default model)
    to C files in out_dir; returns a summary (also written as manifest.json)."""
    from tinyecg.export.preprocess import STACK_BYTES, render_preprocessing
    from tinyecg.models.tflite import load_model
    from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

    t0 = time.perf_counter()
    if runtime not in RUNTIMES:
        raise TinyECGError(f"unknown runtime {runtime!r} (choose from {', '.join(RUNTIMES)})")
    if isinstance(golden, bool) or not isinstance(golden, (int, np.integer)) \
            or not 1 <= int(golden) <= MAX_GOLDEN:
        raise TinyECGError(f"--golden must be a whole number from 1 to {MAX_GOLDEN} "
                           f"(got {golden!r})")
    golden = int(golden)
    board_obj = boards_mod.get_board(board) if board is not None else None
    out_dir = Path(out_dir)
    _precheck_out(out_dir, force)

    src = resolve_source(source)
    notes = list(src["notes"])
    model = load_model(src["model"])
    if model.num_subgraphs != 1:
        raise TinyECGError(f"{model.source}: {model.num_subgraphs} subgraphs; tinyecg exports "
                           "single-graph models")
    ok, reasons = model.is_fully_int8()
    if not ok:
        more = f" (+{len(reasons) - 2} more)" if len(reasons) > 2 else ""
        raise TinyECGError(f"{model.source}: not a fully int8 model ({'; '.join(reasons[:2])}"
                           f"{more}): export needs full-integer quantization (tinyecg quantize)")
    if len(model.outputs) != 1:
        raise TinyECGError(f"{model.source}: {len(model.outputs)} outputs, expected 1 "
                           "(class scores)")
    out_t = model.tensors[model.outputs[0]]
    n_classes = int(np.prod(out_t.shape))
    settings = _settings(src["config"], n_classes, notes)
    roles = _roles(model, settings["window"])
    _check_fixed_design(settings)
    ops = tflm_files.resolver_ops(model) if runtime == "tflm" else []
    if runtime == "tflm":
        if board_obj is not None:
            boards_mod.check_library(board_obj, model)
        for problem in boards_mod.library_problems(boards_mod.ARDUINO_TFLM, model):
            notes.append(f"{problem}: the Arm boards' firmware would fail its self-test "
                         "(export --board refuses such a model)")
    for op in model.op_names():
        if op in tflm_files.CHANGED_SINCE_2023:
            notes.append(f"{op}: {tflm_files.CHANGED_SINCE_2023[op]}; golden outputs may differ "
                         "on boards using the 2023 Arduino TFLM export")

    beat_k = roles.index(golden_mod.BEAT)
    beat_scale, beat_zp = model.input_quant(beat_k)
    if golden_mod.RHYTHM in roles:
        rs, rzp = model.input_quant(roles.index(golden_mod.RHYTHM))
        params = fp.preprocess_params(beat_scale, beat_zp, rs, rzp)
    else:
        params = fp.preprocess_params(beat_scale, beat_zp)

    # TFLMModel probes its inputs/outputs by index and TFLM prints the misses on the C-level
    # stdout/stderr: keep that out of the user's terminal
    tflm, _ = capture_c_stdout(lambda: TFLMModel(model.data))
    host_arena = tflm.arena_bytes()
    arena = tflm_files.arena_budget(host_arena, model)

    beats, candidates, golden_origin = _golden_beats(src, settings, notes)
    chosen = golden_mod.choose(beats.y, candidates, golden, n_classes)
    vectors = golden_mod.make_golden(beats, chosen, params, tflm, roles)
    if len(vectors) < golden:
        notes.append(f"only {len(vectors)} golden beats available (asked for {golden})")

    golden_bytes = golden_mod.table_bytes(len(vectors), settings["window"],
                                          rhythm_mod.N_FEATURES if golden_mod.RHYTHM in roles else 0,
                                          n_classes)
    c_files: dict[str, str] = {}
    if runtime == "c":
        c_files, c_arena = _c_backend(model)
        arena = dict(arena, c_backend_arena=c_arena)
    report = None
    if board_obj is not None:
        report = boards_mod.budget(board_obj, model_bytes=len(model.data),
                                   arena_bytes=arena["total"] if runtime == "tflm" else c_arena,
                                   golden_bytes=golden_bytes, preprocess_stack=STACK_BYTES,
                                   runtime=runtime)
        boards_mod.check_budget(report)

    # ---- render
    inputs = [_tensor_meta(model, ti, k, roles[k]) for k, ti in enumerate(model.inputs)]
    output = _tensor_meta(model, model.outputs[0], 0, None)
    model_name = Path(model.source).name
    owner = src["run_dir"].name if src["run_dir"] else model_name
    config_origin = (f"{src['config_path'].name} of {owner}" if src["config"] is not None
                     else "defaults (no config.json)")
    from tinyecg.export.cgen import identifier
    ctx = {
        "version": __version__, "model_name": model_name, "model_bytes": len(model.data),
        "sha256": model.sha256, "runtime": runtime, "config_origin": config_origin,
        "fs": settings["fs"], "window": settings["window"], "pre_r": settings["pre_r"],
        "post_r": settings["window"] - settings["pre_r"],
        "local_beats": rhythm_mod.LOCAL_BEATS, "default_rr": rhythm_mod.DEFAULT_RR,
        "labels": settings["labels"],
        "label_macros": [identifier(x).upper() for x in settings["labels"]],
        "labels_origin": (f"label set {settings['label_set']}" if settings["label_set"]
                          else "config.json data.label_names"),
        "inputs": inputs, "output": output,
        "ops": model.op_names(), "n_operators": len(model.ops),
        "params": _params_count(model),
        "prep": {"wavelet": denoise.WAVELET, "level": denoise.LEVEL, "mode": denoise.MODE,
                 "threshold": denoise.PARAMS["threshold"], "zscore": denoise.PARAMS["zscore"],
                 "std_floor_mv": denoise.STD_FLOOR_MV,
                 "std_floor_uv": int(round(denoise.STD_FLOOR_MV * 1000))},
        "golden": [dict(g.as_dict(), raw=g.raw.tolist(), beat=g.beat.tolist(),
                        rhythm=None if g.rhythm is None else g.rhythm.tolist())
                   for g in vectors],
        "golden_origin": golden_origin,
        "rhythm": golden_mod.RHYTHM in roles,
    }
    if len(set(ctx["label_macros"])) != len(ctx["label_macros"]):
        raise TinyECGError(f"labels {settings['labels']} do not give distinct C names")
    files: dict[str, str | bytes] = {}
    if runtime == "tflm":
        ctx["a"] = arena
        ctx["lines"] = tflm_files.byte_lines(model.data)
        ctx["ops"] = model.op_names()
        files["tinyecg_model_data.h"] = render("tflm/tinyecg_model_data.h.j2", **ctx)
        files["tinyecg_model_data.c"] = render("tflm/tinyecg_model_data.c.j2", **ctx)
        files["tinyecg_arena.h"] = render("tflm/tinyecg_arena.h.j2", **ctx)
        files["tinyecg_op_resolver.h"] = render(
            "tflm/tinyecg_op_resolver.h.j2", **dict(
                ctx, ops=ops, all_2023=all(o.arduino_2023 for o in ops),
                changed=[f"{o.op}: {tflm_files.CHANGED_SINCE_2023[o.op]}" for o in ops
                         if o.op in tflm_files.CHANGED_SINCE_2023]))
    else:
        files.update(c_files)
    files["tinyecg_model_meta.h"] = render("tflm/tinyecg_model_meta.h.j2", **ctx)
    files.update(render_preprocessing(params, __version__))
    files["tinyecg_golden.h"] = render("tflm/tinyecg_golden.h.j2", **ctx)
    files["tinyecg_golden.c"] = render("tflm/tinyecg_golden.c.j2", **ctx)

    seconds = time.perf_counter() - t0
    manifest = {
        "tinyecg_version": __version__,
        "generated_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": _command(source, out_dir, board, golden, force, runtime),
        "source": {"kind": src["kind"], "model": str(src["model"]),
                   "config": str(src["config_path"]) if src["config_path"] else None},
        "runtime": runtime,
        "files": {name: {"sha256": hashlib.sha256(
            text if isinstance(text, bytes) else text.encode()).hexdigest(),
            "bytes": len(text if isinstance(text, bytes) else text.encode())}
            for name, text in sorted(files.items())},
        "model": {
            "file": model_name, "sha256": model.sha256, "bytes": len(model.data),
            "ops": model.op_names(), "operators": len(model.ops),
            "op_counts": {o.op: o.count for o in ops} if ops else None,
            "resolver": [{"op": o.op, "method": o.method, "arduino_2023": o.arduino_2023}
                         for o in ops],
            "params": ctx["params"],
            "inputs": [{k: t[k] for k in ("index", "role", "name", "shape", "scale",
                                          "zero_point", "mant", "exp")} for t in inputs],
            "output": {k: output[k] for k in ("name", "shape", "scale", "zero_point", "mant",
                                              "exp")},
        },
        "arena": arena,
        "labels": settings["labels"],
        "preprocessing": {"params": dict(denoise.PARAMS), "stack_bytes": STACK_BYTES,
                          "beat_quant": {"mult": params["quant_mult"],
                                         "shift": params["quant_shift"]}},
        "board": report,
        "golden": {"count": len(vectors), "origin": golden_origin,
                   "table_bytes": golden_bytes,
                   "items": [g.as_dict() for g in vectors]},
        "notes": notes,
        "seconds": round(seconds, 2),
    }
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    write_atomically(files, out_dir, force=force)

    summary = dict(manifest, out_dir=str(out_dir), written=sorted(files))
    if not quiet:
        print(f"exported {model_name} ({len(model.data)} bytes, {len(model.ops)} operators: "
              f"{', '.join(model.op_names())}) to {out_dir}/ ({len(files)} files)")
        if runtime == "tflm":
            print(f"arena: TINYECG_ARENA_BYTES {arena['total']} (TFLM host {arena['host']} "
                  f"+ margin {arena['margin']})")
        agree = sum(g.predicted == g.label for g in vectors)
        print(f"golden: {len(vectors)} beats from the {golden_origin}; TFLM agrees with the "
              f"annotation on {agree}")
        if report is not None:
            print("board " + boards_mod.describe(report))
        for note in notes:
            print(f"note: {note}")
    return summary
