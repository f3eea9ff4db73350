"""The models the demo runs: the int8 model in the TFLM host interpreter (fed and read
through tinyecg.models.int8.Int8Model, as the device path does) and, when there is one, the
float Keras model, from a run directory, one model file, or the model shipped with tinyecg."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyecg import paths
from tinyecg.device.device_path import Int8Classifier
from tinyecg.errors import TinyECGError
from tinyecg.models.int8 import TensorSpec
from tinyecg.run import find_run_model


def default_model_dir() -> Path:
    """The model shipped in the package (model.tflite + config.json [+ model.keras])."""
    return paths.default_model_dir()


@dataclass
class DemoModel:
    """The models the demo runs: int8 (TFLM) and, when available, the float Keras model."""

    labels: list[str]
    label_set: str | None  # "nlrav" / "aami" when the config says, else None
    source: str  # where the models came from, for the page
    tflite_path: Path | None = None
    keras_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    int8: Int8Classifier | None = None  # the int8 model in TFLM, inputs by role
    keras: Any = None  # the float Keras model
    fixed_params: dict | None = None  # tinyecg.dsp.fixedpoint.preprocess_params(...)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def beat_quant(self) -> TensorSpec | None:
        """Quantization of the int8 model's beat input (None without an int8 model)."""
        return self.int8.beat_q if self.int8 is not None else None

    @property
    def takes_rhythm(self) -> bool:
        """Whether the model the demo shows takes the RR features."""
        if self.int8 is not None:
            return self.int8.rhythm_q is not None
        return self.keras is not None and len(self.keras.inputs) > 1

    def describe(self) -> str:
        parts = []
        if self.tflite_path:
            parts.append(f"int8 `{self.tflite_path.name}` (TFLM)")
        if self.keras_path:
            parts.append(f"float `{self.keras_path.name}` (Keras)")
        return f"Model: {', '.join(parts)} from {self.source}; classes {' '.join(self.labels)}" + (
            f" ({self.label_set})" if self.label_set else ""
        )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyECGError(f"{path}: not readable JSON ({exc})") from None


def _labels_from_config(cfg: dict | None) -> tuple[list[str] | None, str | None]:
    data = (cfg or {}).get("data") or {}
    names = data.get("label_names")
    set_name = data.get("labels")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names)
    ):
        raise TinyECGError("config.json: data.label_names must be a list of class names")
    return names, set_name if isinstance(set_name, str) else None


def training_note(cfg: dict | None) -> str | None:
    """What the model was trained on, so a reader knows which bundled records it has seen."""
    split = (cfg or {}).get("split") or {}
    records = ((cfg or {}).get("data") or {}).get("records") or []
    name = split.get("name")
    if name == "intra" and records:
        return (
            f"Trained on the intra-patient split (random beats of {len(records)} MIT-BIH "
            "records): the bundled excerpts' records were in its training data, so results "
            "on them are optimistic."
        )
    if name == "inter":
        test = ((split.get("records") or {}).get("test")) or []
        if test:
            return (
                "Trained on the inter-patient split: records never seen in training are "
                + " ".join(str(r) for r in test)
                + "."
            )
    return None


def load_model(run_dir=None, model=None, float_model: bool = True) -> DemoModel:
    """The demo's models: from a run directory, from one model file (``.tflite`` or
    ``.keras``; its folder's config.json gives the class names), or else the model shipped in
    the package. In a folder the int8 and the float model are the run's own
    (tinyecg.run.find_run_model). float_model=False skips Keras (no TensorFlow import)."""
    if run_dir is not None and model is not None:
        raise TinyECGError("give a run directory or a model file, not both")
    notes: list[str] = []
    tflite = keras_path = None
    if model is not None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise TinyECGError(f"{path}: model file not found")
        if path.suffix == ".tflite":
            tflite = path
        elif path.suffix == ".keras":
            keras_path = path
        else:
            raise TinyECGError(f"{path}: not a model (expected .tflite or .keras)")
        folder, source = path.parent, str(path)
        cfg = _config(folder)
    else:
        folder = Path(run_dir).expanduser() if run_dir is not None else default_model_dir()
        source = str(folder) if run_dir is not None else "the package's default model"
        if not folder.is_dir():
            if run_dir is None:
                raise TinyECGError(
                    f"{folder}: no model shipped in the package; give a run "
                    "directory or --model MODEL.tflite"
                )
            raise TinyECGError(f"{folder}: run directory not found")
        cfg = _config(folder)
        tflite = find_run_model(folder, "int8", config=cfg, notes=notes)
        keras_path = find_run_model(folder, "float")
        if tflite is None and keras_path is None:
            raise TinyECGError(f"{folder}: no model found (.tflite or .keras)")
    if (cfg or {}).get("recipe") == "patient":
        raise TinyECGError(
            f"{source}: a patient-context run; the demo feeds today's beat input only "
            "(docs/generalisation.md)"
        )
    labels, set_name = _labels_from_config(cfg)
    dm = DemoModel(
        labels=labels or [],
        label_set=set_name,
        source=source,
        tflite_path=tflite,
        keras_path=keras_path if float_model else None,
        notes=notes,
    )
    note = training_note(cfg)
    if note:
        dm.notes.append(note)
    if tflite is not None:
        _load_int8(dm, tflite)
    if dm.keras_path is not None:
        _load_float(dm)
    elif keras_path is not None and not float_model:
        dm.notes.append("float model not loaded (int8 only)")
    if not dm.labels:
        dm.labels = [f"class {i}" for i in range(_n_outputs(dm))]
        dm.notes.append(
            "no config.json beside the model: classes are shown by number and "
            "annotations cannot be mapped to them"
        )
    elif len(dm.labels) != _n_outputs(dm):
        raise TinyECGError(
            f"config.json names {len(dm.labels)} classes but the model has {_n_outputs(dm)} outputs"
        )
    if tflite is None:
        dm.notes.append("no int8 model: TFLM and fixed-point results are not available")
    return dm


def _config(folder: Path) -> dict | None:
    path = folder / "config.json"
    return _read_json(path) if path.is_file() else None


def _n_outputs(dm: DemoModel) -> int:
    if dm.int8 is not None:
        return dm.int8.n_classes
    return int(dm.keras.outputs[0].shape[-1])


def _load_int8(dm: DemoModel, path: Path) -> None:
    """The int8 model in TFLM; Int8Model checks its inputs (one beat window, at most one
    rhythm input) and that it is full-int8."""
    dm.int8 = Int8Classifier(path)
    if dm.int8.patient:
        raise TinyECGError(
            f"{path}: a patient-context model; the demo feeds today's beat input only "
            "(docs/generalisation.md)"
        )
    dm.fixed_params = dm.int8.preprocess_params()


def _load_float(dm: DemoModel) -> None:
    from tinyecg.stages.evaluate import load_keras

    assert dm.keras_path is not None
    dm.keras = load_keras(dm.keras_path)
    n_in = len(dm.keras.inputs)
    if dm.int8 is not None and n_in != len(dm.int8.int8.inputs):
        dm.notes.append(
            f"float model {dm.keras_path.name} takes {n_in} inputs, the int8 "
            f"model {len(dm.int8.int8.inputs)}: they are different models"
        )
