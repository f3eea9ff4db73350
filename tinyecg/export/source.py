"""Export, step 1 (resolve): which model, which configuration, which settings.

resolve_source() turns a run directory, a .tflite file or None (the model shipped with
tinyecg) into a Source; settings() reads what the configuration says about sampling,
window, labels and preprocessing, and refuses what the fixed-point C does not implement.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from tinyecg.dsp import denoise
from tinyecg.errors import TinyECGError
from tinyecg.paths import default_model_dir
from tinyecg.run import find_run_model, run_model
from tinyecg.spec import DEFAULT_LABEL_SET, FS, LABEL_SETS, PRE_R, WINDOW


@dataclass
class Source:
    kind: str  # "run", "tflite" or "default"
    model: Path  # the .tflite
    config: dict | None  # its config.json, if any
    config_path: Path | None
    run_dir: Path | None
    notes: list[str] = field(default_factory=list)


def read_json(path: Path) -> dict:
    try:
        cfg = json.loads(path.read_text())
    except OSError as exc:
        raise TinyECGError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise TinyECGError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(cfg, dict):
        raise TinyECGError(f"{path}: expected a JSON object")
    return cfg


def resolve_source(source, default_dir: Path | None = None) -> Source:
    """The model and configuration of a run directory, a .tflite file or None (the model
    shipped in default_dir, by default the beat model's folder)."""
    notes: list[str] = []
    if source is None:
        shipped_dir = default_model_dir() if default_dir is None else default_dir
        model = find_run_model(shipped_dir, "int8")
        if model is None:
            shipped = shipped_dir / "model.tflite"
            raise TinyECGError(
                f"no default model in this tinyecg ({shipped} is missing): "
                "give a run directory or a .tflite file"
            )
        kind = "default"
    else:
        path = Path(source)
        if not path.exists():
            raise TinyECGError(f"{path}: no such file or folder")
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise TinyECGError(f"{path}: not a tinyecg run directory (no config.json)")
            run_cfg = read_json(path / "config.json")
            model = run_model(path, "int8", config=run_cfg, notes=notes)
            return Source("run", model, run_cfg, path / "config.json", path, notes)
        model, kind = path, "tflite"
    cfg_path = model.parent / "config.json"
    cfg = read_json(cfg_path) if cfg_path.is_file() else None
    if cfg is None:
        notes.append(
            "no config.json beside the model: default preprocessing (sym4, 3 levels, "
            "360-sample window at 360 Hz) and labels assumed"
        )
    return Source(kind, model, cfg, cfg_path if cfg is not None else None, None, notes)


def settings(cfg: dict | None, n_classes: int, notes: list[str]) -> dict:
    """fs, window, pre_r, labels, label_set and preprocessing the configuration states
    (defaults from tinyecg.spec), with labels checked against the model's outputs."""
    data = (cfg or {}).get("data") or {}
    fs = int(data.get("fs", FS))
    window = int(data.get("window", WINDOW))
    pre_r = int(data.get("pre_r", PRE_R))
    label_set_name = data.get("labels")
    labels = data.get("label_names")
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
        raise TinyECGError(
            f"config.json names {len(labels)} labels but the model has {n_classes} outputs"
        )
    prep = (cfg or {}).get("preprocessing") or dict(denoise.PARAMS)
    if not isinstance(prep, dict):
        raise TinyECGError("config.json: preprocessing is not an object")
    return {
        "fs": fs,
        "window": window,
        "pre_r": pre_r,
        "labels": labels,
        "label_set": label_set_name,
        "preprocessing": prep,
    }


def check_fixed_design(s: dict) -> None:
    """The fixed-point C is built for spec.FS, spec.WINDOW-sample windows with the R-peak at
    spec.PRE_R, and for exactly the preprocessing of tinyecg.dsp.denoise."""
    if s["fs"] != FS:
        raise TinyECGError(
            f"config.json: sampling rate {s['fs']} Hz, but the fixed-point "
            f"preprocessing and rhythm features are for {FS} Hz"
        )
    if s["window"] != WINDOW:
        raise TinyECGError(
            f"config.json: window of {s['window']} samples, but the "
            f"fixed-point preprocessing takes {WINDOW}"
        )
    if s["pre_r"] != PRE_R:
        raise TinyECGError(
            f"config.json: R-peak at sample {s['pre_r']} of the window, but the "
            f"firmware and golden windows put it at {PRE_R}"
        )
    prep = s["preprocessing"]
    for key, want in denoise.PARAMS.items():
        have = prep.get(key, want)
        if have != want and not (
            isinstance(want, float) and isinstance(have, (int, float)) and math.isclose(have, want)
        ):
            raise TinyECGError(
                f"config.json: preprocessing {key} = {have!r}, but the "
                f"fixed-point C implements {want!r}"
            )
