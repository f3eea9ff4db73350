"""The browser demo (`tinyecg demo`): one beat or one WFDB record through the same pipeline a
board runs, shown in a local Gradio page.

The logic lives in plain functions (parsing, model loading, beat classification, record
analysis, figures), tested without a browser; :func:`build_app` only wires them to Gradio
components. Every user mistake raises :class:`~tinyecg.errors.TinyECGError`, which the page
shows as one readable line.

For a beat: the float reference preprocessing (:mod:`tinyecg.dsp.denoise`), then the float
Keras model (when one is available) and the int8 model in the TFLM host interpreter; and the
fixed-point preprocessing the generated C runs (:mod:`tinyecg.dsp.fixedpoint`) feeding the same
int8 model, to show whether the device's integer path gives the same class.

For a record: R-peaks from the firmware's C detector (:mod:`tinyecg.device.detect`; the annotated
R-peaks when the C harness cannot be built, which the page says), every beat classified by the
int8 model in TFLM, and a per-class count and confusion summary against the reference
annotations (a detection matches an annotated beat within 150 ms, ANSI/AAMI EC57).
"""
from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg import paths
from tinyecg.dsp.denoise import WINDOW, preprocess
from tinyecg.dsp.rhythm import N_FEATURES as N_RHYTHM
from tinyecg.dsp.rhythm import rhythm_features
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS, MATCH_WINDOW, PRE_R
from tinyecg.spec import MITDB_ADC_BASELINE as ADC_BASELINE
from tinyecg.spec import MITDB_ADC_GAIN as ADC_GAIN

log = logging.getLogger("tinyecg.app.demo")

NEUTRAL_RR = FS  # a pasted beat has no neighbours: RR = 1 s, so every ratio is 1
DETAIL_SECONDS = 10.0  # span of the record's detail view

MAX_TEXT_CHARS = 100_000  # a pasted or uploaded beat (360 numbers need about 2 KB)
MAX_BEAT_FILE_BYTES = 100_000
MAX_RECORD_FILE_BYTES = 8 * 2**20  # per uploaded record file (a 30-min MIT-BIH .dat: 1.9 MB)
MAX_RECORD_SECONDS = 35 * 60  # MIT-BIH records are 30 min 6 s
MAX_UPLOAD_FILES = 3  # .hea + .dat + .atr

DISCLAIMER = ("**Research and teaching tool, not a medical device.** Its output is not a "
              "diagnosis and must not be used for any clinical decision.")

EXCERPTS = paths.excerpts_dir()

# one colour per class index (matplotlib tab10 order), grey for beats not classified
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf")
EDGE_COLOUR = "#999999"

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\s]+")


# =========================================================================== model
def default_model_dir() -> Path:
    """The model shipped in the package (model.tflite + config.json [+ model.keras])."""
    return paths.default_model_dir()


INT8_CANDIDATES = ("model.tflite", "student_int8.tflite", "student_qat_int8.tflite",
                   "student_pruned_int8.tflite", "student_clustered_int8.tflite")
FLOAT_CANDIDATES = ("model.keras", "student.keras", "teacher.keras")


@dataclass
class DemoModel:
    """The models the demo runs: int8 (TFLM) and, when available, the float Keras model."""
    labels: list[str]
    label_set: str | None  # "nlrav" / "aami" when the config says, else None
    source: str  # where the models came from, for the page
    tflite_path: Path | None = None
    keras_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    tflm: object | None = None  # tinyecg.runtime.tflm.TFLMModel
    keras: object | None = None
    fixed_params: dict | None = None  # tinyecg.dsp.fixedpoint.preprocess_params(...)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    def beat_input(self):
        """The TFLM model's (index, TensorQuant) of the 360-sample beat input."""
        return next((i, q) for i, q in enumerate(self.tflm.inputs)
                    if int(np.prod(q.shape)) == WINDOW)

    def rhythm_input(self):
        return next(((i, q) for i, q in enumerate(self.tflm.inputs)
                     if int(np.prod(q.shape)) == N_RHYTHM), (None, None))

    def describe(self) -> str:
        parts = []
        if self.tflite_path:
            parts.append(f"int8 `{self.tflite_path.name}` (TFLM)")
        if self.keras_path:
            parts.append(f"float `{self.keras_path.name}` (Keras)")
        return (f"Model: {', '.join(parts)} from {self.source}; classes "
                f"{' '.join(self.labels)}" + (f" ({self.label_set})" if self.label_set else ""))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyECGError(f"{path}: not readable JSON ({exc})") from None


def _labels_from_config(cfg: dict | None) -> tuple[list[str] | None, str | None]:
    data = (cfg or {}).get("data") or {}
    names = data.get("label_names")
    set_name = data.get("labels")
    if names is not None and (not isinstance(names, list) or
                              not all(isinstance(n, str) for n in names)):
        raise TinyECGError("config.json: data.label_names must be a list of class names")
    return names, set_name if isinstance(set_name, str) else None


def training_note(cfg: dict | None) -> str | None:
    """What the model was trained on, so a reader knows which bundled records it has seen."""
    split = (cfg or {}).get("split") or {}
    records = ((cfg or {}).get("data") or {}).get("records") or []
    name = split.get("name")
    if name == "intra" and records:
        return (f"Trained on the intra-patient split (random beats of {len(records)} MIT-BIH "
                "records): the bundled excerpts' records were in its training data, so results "
                "on them are optimistic.")
    if name == "inter":
        test = ((split.get("records") or {}).get("test")) or []
        if test:
            return ("Trained on the inter-patient split: records never seen in training are "
                    + " ".join(str(r) for r in test) + ".")
    return None


def _first(folder: Path, names) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def load_model(run_dir=None, model=None, float_model: bool = True) -> DemoModel:
    """The demo's models: from a run directory, from one model file (``.tflite`` or
    ``.keras``; its folder's config.json gives the class names), or else the model shipped in
    the package. In a folder the int8 model is the first of INT8_CANDIDATES present and the
    float one the first of FLOAT_CANDIDATES. float_model=False skips Keras (no TensorFlow
    import)."""
    if run_dir is not None and model is not None:
        raise TinyECGError("give a run directory or a model file, not both")
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
    else:
        folder = Path(run_dir).expanduser() if run_dir is not None else default_model_dir()
        source = str(folder) if run_dir is not None else "the package's default model"
        if not folder.is_dir():
            if run_dir is None:
                raise TinyECGError(f"{folder}: no model shipped in the package; give a run "
                                   "directory or --model MODEL.tflite")
            raise TinyECGError(f"{folder}: run directory not found")
        tflite = _first(folder, INT8_CANDIDATES) or next(iter(sorted(folder.glob("*.tflite"))), None)
        keras_path = _first(folder, FLOAT_CANDIDATES)
        if tflite is None and keras_path is None:
            raise TinyECGError(f"{folder}: no model found (.tflite or .keras)")
    cfg_path = folder / "config.json"
    cfg = _read_json(cfg_path) if cfg_path.is_file() else None
    labels, set_name = _labels_from_config(cfg)
    dm = DemoModel(labels=labels or [], label_set=set_name, source=source,
                   tflite_path=tflite, keras_path=keras_path if float_model else None)
    note = training_note(cfg)
    if note:
        dm.notes.append(note)
    if tflite is not None:
        _load_int8(dm)
    if dm.keras_path is not None:
        _load_float(dm)
    elif keras_path is not None and not float_model:
        dm.notes.append("float model not loaded (int8 only)")
    if not dm.labels:
        dm.labels = [f"class {i}" for i in range(_n_outputs(dm))]
        dm.notes.append("no config.json beside the model: classes are shown by number and "
                        "annotations cannot be mapped to them")
    elif len(dm.labels) != _n_outputs(dm):
        raise TinyECGError(f"config.json names {len(dm.labels)} classes but the model has "
                           f"{_n_outputs(dm)} outputs")
    if tflite is None:
        dm.notes.append("no int8 model: TFLM and fixed-point results are not available")
    return dm


def _n_outputs(dm: DemoModel) -> int:
    if dm.tflm is not None:
        return int(np.prod(dm.tflm.outputs[0].shape))
    return int(dm.keras.outputs[0].shape[-1])


def _load_int8(dm: DemoModel) -> None:
    from tinyecg.runtime.tflm import TFLMModel

    try:
        data = dm.tflite_path.read_bytes()
    except OSError as exc:
        raise TinyECGError(f"{dm.tflite_path}: cannot read ({exc.strerror})") from None
    tflm = TFLMModel(data)
    sizes = sorted(int(np.prod(q.shape)) for q in tflm.inputs)
    if sizes not in ([WINDOW], [N_RHYTHM, WINDOW]):
        raise TinyECGError(f"{dm.tflite_path}: inputs of {sizes} values; the demo needs a "
                           f"{WINDOW}-sample beat (and optionally {N_RHYTHM} rhythm features)")
    if any(np.dtype(q.dtype) != np.int8 for q in tflm.inputs + tflm.outputs):
        raise TinyECGError(f"{dm.tflite_path}: not a full-int8 model (int8 inputs and output)")
    dm.tflm = tflm
    try:
        from tinyecg.dsp.fixedpoint import preprocess_params
    except ImportError:
        dm.notes.append("fixed-point preprocessing module not available")
        return
    _, bq = dm.beat_input()
    _, rq = dm.rhythm_input()
    dm.fixed_params = preprocess_params(bq.scale, bq.zero_point,
                                        rq.scale if rq else None, rq.zero_point if rq else None)


def _load_float(dm: DemoModel) -> None:
    from tinyecg.stages.evaluate import load_keras

    dm.keras = load_keras(dm.keras_path)
    n_in = len(dm.keras.inputs)
    if dm.tflm is not None and n_in != len(dm.tflm.inputs):
        dm.notes.append(f"float model {dm.keras_path.name} takes {n_in} inputs, the int8 "
                        f"model {len(dm.tflm.inputs)}: they are different models")


# =========================================================================== beat input
@dataclass
class BeatInput:
    """One 360-sample window: ADC counts (int64) and millivolts, and what was assumed."""
    raw_adc: np.ndarray
    mv: np.ndarray
    units: str  # "adc" or "mv"
    baseline: int
    gain: int
    note: str


def parse_numbers(text: str) -> tuple[np.ndarray, bool]:
    """Numbers separated by commas, semicolons, spaces or newlines -> (float64 array, all of
    them written as whole numbers). A first line without any number is taken as a CSV
    header and skipped."""
    if not isinstance(text, str):
        raise TinyECGError("expected text")
    if len(text) > MAX_TEXT_CHARS:
        raise TinyECGError(f"input too long ({len(text):,} characters; a beat needs about 2,000, "
                           f"limit {MAX_TEXT_CHARS:,})")
    text = text.strip().lstrip("\ufeff")
    lines = text.splitlines()
    if len(lines) > 1 and not re.search(r"\d", lines[0]):
        lines = lines[1:]  # a CSV header such as "mV" or "sample"
    tokens = [t for t in _SEPARATORS.split("\n".join(lines)) if t]
    if not tokens:
        raise TinyECGError("no numbers given: paste 360 samples of one beat "
                           "(separated by commas, spaces or new lines)")
    for i, tok in enumerate(tokens, 1):
        if _NUMBER.fullmatch(tok):
            continue
        if _NONFINITE.fullmatch(tok):
            raise TinyECGError(f"value {i} is {tok!r}: NaN and infinity are not samples")
        shown = tok if len(tok) <= 20 else tok[:20] + "..."
        raise TinyECGError(f"value {i} ({shown!r}) is not a number")
    values = np.array([float(t) for t in tokens], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
        raise TinyECGError(f"value {bad} ({tokens[bad - 1]}) is too large to be a sample")
    return values, all(_INTEGER.fullmatch(t) for t in tokens)


def _whole(value, name: str, lo: int, hi: int) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TinyECGError(f"{name} must be a number") from None
    if not math.isfinite(v) or v != round(v) or not lo <= v <= hi:
        raise TinyECGError(f"{name} must be a whole number in {lo}..{hi} (got {value})")
    return int(v)


def parse_beat(text: str, units: str = "auto", gain=ADC_GAIN, baseline=ADC_BASELINE) -> BeatInput:
    """A pasted beat -> BeatInput. units: "auto" (ADC counts when every number is written as
    a whole number, else millivolts), "adc" or "mv". gain (counts per mV) and baseline (counts
    at 0 mV) convert between the two, as MIT-BIH's 200/mV and 1024 by default."""
    if units not in ("auto", "adc", "mv"):
        raise TinyECGError(f"units must be auto, adc or mv (got {units!r})")
    gain = _whole(gain, "gain (ADC counts per mV)", 1, 65535)
    baseline = _whole(baseline, "baseline (ADC counts at 0 mV)", -32768, 32767)
    values, all_int = parse_numbers(text)
    if len(values) != WINDOW:
        hint = ""
        if len(values) % WINDOW == 0 and len(values) > WINDOW:
            hint = f" (a table of {len(values) // WINDOW} columns? give one column)"
        raise TinyECGError(f"got {len(values)} numbers; a beat is {WINDOW} samples (1 s at "
                           f"{FS} Hz with the R-peak at sample {PRE_R}){hint}")
    chosen = ("adc" if all_int else "mv") if units == "auto" else units
    why = " (all whole numbers)" if units == "auto" and all_int else \
        " (not all whole numbers)" if units == "auto" else " (as chosen)"
    if chosen == "adc":
        if not np.all(values == np.round(values)):
            raise TinyECGError("ADC counts must be whole numbers (choose millivolts instead)")
        if values.min() < -32768 or values.max() > 32767:
            raise TinyECGError("ADC counts must fit 16 bits (-32768..32767)")
        raw = values.astype(np.int64)
        mv = (raw - baseline) / float(gain)
        note = (f"Taken as ADC counts{why}: mV = (x - {baseline}) / {gain}.")
    else:
        mv = values
        counts = np.round(mv * gain) + baseline
        if counts.min() < -32768 or counts.max() > 32767:
            raise TinyECGError(f"values up to {np.abs(mv).max():.4g} mV do not fit a 16-bit ADC "
                               f"at {gain} counts/mV: are these ADC counts?")
        raw = counts.astype(np.int64)
        note = (f"Taken as millivolts{why}; the fixed-point path sees them as ADC counts "
                f"round(mV x {gain}) + {baseline}.")
    return BeatInput(raw, mv, chosen, baseline, gain, note)


def read_text_file(path, limit: int = MAX_BEAT_FILE_BYTES) -> str:
    """An uploaded CSV/text beat: size-checked, UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise TinyECGError(f"{path.name}: cannot read the uploaded file") from None
    if size > limit:
        raise TinyECGError(f"{path.name}: {size:,} bytes is too large for one beat "
                           f"(limit {limit:,})")
    data = path.read_bytes()
    if b"\x00" in data:
        raise TinyECGError(f"{path.name}: a binary file; give a CSV or text file of numbers")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TinyECGError(f"{path.name}: not UTF-8 text; give a CSV or text file") from None


# =========================================================================== classification
@dataclass
class BeatResult:
    beat: BeatInput
    x: np.ndarray  # float32 (360,): the float reference preprocessing
    rhythm: np.ndarray  # float32 (5,)
    rhythm_note: str
    probs_float: np.ndarray | None  # Keras probabilities
    probs_int8: np.ndarray | None  # TFLM, float preprocessing, dequantized output
    probs_fixed: np.ndarray | None  # TFLM, fixed-point preprocessing
    q_float: np.ndarray | None  # int8 beat input from the float path
    q_fixed: np.ndarray | None  # int8 beat input from the fixed-point path
    labels: list[str]
    beat_quant: object | None = None  # the int8 beat input's TensorQuant (scale, zero point)

    def cls(self, probs) -> str | None:
        return None if probs is None else self.labels[int(np.argmax(probs))]

    @property
    def class_float(self):
        return self.cls(self.probs_float)

    @property
    def class_int8(self):
        return self.cls(self.probs_int8)

    @property
    def class_fixed(self):
        return self.cls(self.probs_fixed)

    @property
    def shown_class(self) -> str:
        """The headline class: the int8 model's (what the board runs), else the float one."""
        return self.class_int8 or self.class_float


def neutral_rr() -> np.ndarray:
    """Integer RR context (pre, post, local sum, local count) of RR = 1 s."""
    return np.array([NEUTRAL_RR, NEUTRAL_RR, NEUTRAL_RR, 1], dtype=np.int64)


def _rhythm_from_rr(rr: np.ndarray) -> np.ndarray:
    pre, post, lsum, count = (float(v) for v in rr)
    local = lsum / count
    return np.array([pre / FS, post / FS, local / FS, pre / local, post / local], np.float32)


def _int8_rows(dm: DemoModel, q_beat: np.ndarray, q_rhythm: np.ndarray | None) -> np.ndarray:
    """TFLM on quantized rows (n, 360) [+ (n, 5)] -> dequantized outputs (n, classes)."""
    bi, _ = dm.beat_input()
    ri, _ = dm.rhythm_input()
    out = []
    with dm.lock:
        for k in range(len(q_beat)):
            row = [None] * len(dm.tflm.inputs)
            row[bi] = q_beat[k]
            if ri is not None:
                row[ri] = q_rhythm[k]
            out.append(dm.tflm.invoke(*row))
    q = np.stack(out) if out else np.zeros((0, dm.n_classes), np.int8)
    return dm.tflm.outputs[0].dequantize(q)


def _quantize_float_path(dm: DemoModel, x: np.ndarray, rhythm: np.ndarray):
    _, bq = dm.beat_input()
    _, rq = dm.rhythm_input()
    q_beat = bq.quantize(x).reshape(len(x), WINDOW)
    q_rhythm = rq.quantize(rhythm).reshape(len(x), N_RHYTHM) if rq else None
    return q_beat, q_rhythm


def _fixed_path(dm: DemoModel, raw: np.ndarray, baseline, gain, rr: np.ndarray):
    """The C-equivalent integer preprocessing of raw ADC windows (n, 360) and integer RR
    context (n, 4) -> int8 rows for TFLM."""
    from tinyecg.dsp.fixedpoint import preprocess_windows_int, rhythm_features_int

    q_beat = preprocess_windows_int(np.asarray(raw, np.int16), baseline, gain, dm.fixed_params)
    q_beat = np.asarray(q_beat).reshape(len(raw), WINDOW)
    q_rhythm = None
    if dm.fixed_params.get("rhythm") is not None:
        q_rhythm = rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], dm.fixed_params)
    return q_beat, q_rhythm


def _keras_probs(dm: DemoModel, x: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    from tinyecg.models.inputs import model_inputs

    with dm.lock:
        out = dm.keras.predict(model_inputs(dm.keras, x, rhythm), batch_size=512, verbose=0)
    return np.asarray(out, np.float64)


def classify_beat(dm: DemoModel, beat: BeatInput, rr: np.ndarray | None = None) -> BeatResult:
    """One beat through every path the demo shows. rr: integer RR context (pre, post, local
    sum, local count) in samples; None gives the neutral context RR = 1 s."""
    neutral = rr is None
    rr = neutral_rr() if neutral else np.asarray(rr, np.int64)
    rhythm = _rhythm_from_rr(rr)
    x = preprocess(beat.mv)
    probs_float = probs_int8 = probs_fixed = q_float = q_fixed = None
    if dm.keras is not None:
        probs_float = _keras_probs(dm, x[None], rhythm[None])[0]
    if dm.tflm is not None:
        qb, qr = _quantize_float_path(dm, x[None], rhythm[None])
        q_float = qb[0]
        probs_int8 = _int8_rows(dm, qb, qr)[0]
        if dm.fixed_params is not None:
            fb, fr = _fixed_path(dm, beat.raw_adc[None], beat.baseline, beat.gain, rr[None])
            q_fixed = fb[0]
            probs_fixed = _int8_rows(dm, fb, fr)[0]
    note = ("No rhythm context for a single beat: neutral features used (RR before, after "
            "and local mean = 1 s, ratios 1)." if neutral else "Rhythm context from the record.")
    if (dm.tflm is not None and dm.rhythm_input()[0] is None) or \
            (dm.tflm is None and dm.keras is not None and len(dm.keras.inputs) == 1):
        note = "This model takes no rhythm features."
    return BeatResult(beat, x, rhythm, note, probs_float, probs_int8, probs_fixed, q_float,
                      q_fixed, dm.labels, dm.beat_input()[1] if dm.tflm is not None else None)


def _pct(p) -> str:
    return f"{100 * float(p):.1f} %"


def beat_markdown(res: BeatResult) -> str:
    """The beat result as Markdown (what the page shows beside the plot)."""
    lines = [f"### Predicted class: {res.shown_class}", ""]
    if res.class_float is not None:
        lines.append(f"- float model (Keras): **{res.class_float}**")
    if res.class_int8 is not None:
        lines.append(f"- int8 model (TFLM): **{res.class_int8}**")
    if res.class_fixed is not None:
        same = "same class" if res.class_fixed == res.class_int8 else "DIFFERENT class"
        diff = np.abs(res.q_fixed.astype(int) - res.q_float.astype(int))
        lines.append(f"- fixed-point preprocessing (C-equivalent) + int8 model: "
                     f"**{res.class_fixed}** ({same}; {int((diff > 0).sum())} of {WINDOW} int8 "
                     f"inputs differ from the float path, by at most {int(diff.max())})")
    lines += ["", "| class | " + " | ".join(
        n for n, p in (("float", res.probs_float), ("int8", res.probs_int8),
                       ("fixed-point", res.probs_fixed)) if p is not None) + " |",
        "|---|" + "---:|" * sum(p is not None for p in
                                 (res.probs_float, res.probs_int8, res.probs_fixed))]
    for i, name in enumerate(res.labels):
        cells = [_pct(p[i]) for p in (res.probs_float, res.probs_int8, res.probs_fixed)
                 if p is not None]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"_{res.beat.note}_ _{res.rhythm_note}_"]
    return "\n".join(lines)


# =========================================================================== records
def bundled_records() -> list[str]:
    """Names of the MIT-BIH excerpts shipped in the package."""
    listing = EXCERPTS / "RECORDS"
    if not listing.is_file():
        return []
    return [n.strip() for n in listing.read_text().splitlines()
            if n.strip() and (EXCERPTS / f"{n.strip()}.hea").is_file()]


def bundled_record(name: str) -> Path:
    if name not in bundled_records():
        raise TinyECGError(f"no bundled excerpt named {name!r}")
    return EXCERPTS / name


def record_from_uploads(paths, workdir) -> Path:
    """Uploaded WFDB files (one .hea, its .dat, optionally one .atr) copied into workdir
    under the header's names; returns the record's base path (without extension)."""
    import wfdb

    paths = [Path(p) for p in (paths or []) if p]
    if not paths:
        raise TinyECGError("no files uploaded: give a .hea and its .dat (and a .atr for the "
                           "reference annotations)")
    if len(paths) > MAX_UPLOAD_FILES:
        raise TinyECGError(f"{len(paths)} files uploaded; give one record: .hea, .dat, .atr")
    by_ext: dict[str, list[Path]] = {}
    for p in paths:
        ext = p.suffix.lower()
        if ext not in (".hea", ".dat", ".atr"):
            raise TinyECGError(f"{p.name}: not a WFDB record file (expected .hea, .dat, .atr)")
        size = p.stat().st_size
        if size > MAX_RECORD_FILE_BYTES:
            raise TinyECGError(f"{p.name}: {size / 2**20:.1f} MB is over the "
                               f"{MAX_RECORD_FILE_BYTES // 2**20} MB limit per file")
        by_ext.setdefault(ext, []).append(p)
    for ext in (".hea", ".atr"):
        if len(by_ext.get(ext, [])) > 1:
            raise TinyECGError(f"more than one {ext} file uploaded: give one record")
    if ".hea" not in by_ext:
        raise TinyECGError("no .hea header uploaded: a WFDB record needs its .hea and .dat")
    hea = by_ext[".hea"][0]
    name = hea.stem
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise TinyECGError(f"{hea.name}: record names use letters, digits, - and _ only")
    workdir = Path(workdir)
    shutil.copyfile(hea, workdir / f"{name}.hea")
    try:
        header = wfdb.rdheader(str(workdir / name))
    except Exception as exc:  # wfdb raises many types for a malformed header
        raise TinyECGError(f"{hea.name}: not a readable WFDB header ({_short(exc)})") from None
    if getattr(header, "n_seg", None):
        raise TinyECGError(f"{hea.name}: multi-segment records are not supported")
    wanted = sorted(set(header.file_name or []))
    dats = {p.name: p for p in by_ext.get(".dat", [])}
    for fname in wanted:
        if fname not in dats:
            raise TinyECGError(f"{hea.name} names the signal file {fname}, which was not "
                               f"uploaded (got {', '.join(sorted(dats)) or 'no .dat'})")
        shutil.copyfile(dats[fname], workdir / fname)
    if ".atr" in by_ext:
        shutil.copyfile(by_ext[".atr"][0], workdir / f"{name}.atr")
    return workdir / name


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


_DETECTOR = {"exe": None, "error": None}
_DETECTOR_LOCK = threading.Lock()


def detector_executable():
    """The firmware's host harness, compiled once per process; None (with the reason in
    detector_error()) when it cannot be built (no compiler, not a source checkout...)."""
    from tinyecg.device import detect

    with _DETECTOR_LOCK:
        if _DETECTOR["exe"] is None and _DETECTOR["error"] is None:
            try:
                build = Path(tempfile.mkdtemp(prefix="tinyecg-demo-detector-"))
                _DETECTOR["exe"] = detect.build_host_harness(build)
            except (TinyECGError, OSError, ImportError) as exc:
                _DETECTOR["error"] = _short(exc)
        return _DETECTOR["exe"]


def detector_error() -> str | None:
    return _DETECTOR["error"]


@dataclass
class RecordResult:
    name: str
    adc: np.ndarray  # int64 raw ADC counts of the analysed channel
    baseline: int
    gain: float
    channel: str
    peaks: np.ndarray  # int64 R-peak samples (detected, or annotated when falling back)
    detector: str  # what found the peaks
    pred: np.ndarray  # int (n_peaks,): class index, -1 where the window leaves the record
    probs: np.ndarray  # float (n_peaks, classes), NaN rows for unclassified beats
    labels: list[str]
    ann_samples: np.ndarray | None  # annotated beats (None: no .atr)
    ann_symbols: np.ndarray | None
    match: np.ndarray | None  # per annotated beat: index into peaks, or -1
    fixed_agree: int | None  # beats where the fixed-point path gives the same class
    notes: list[str] = field(default_factory=list)
    label_map: dict | None = None  # annotation symbol -> class name

    @property
    def n_beats(self) -> int:
        return len(self.peaks)

    @property
    def n_classified(self) -> int:
        return int((self.pred >= 0).sum())

    @property
    def seconds(self) -> float:
        return len(self.adc) / FS

    @property
    def mv(self) -> np.ndarray:
        return (self.adc - self.baseline) / self.gain

    def counts(self) -> dict[str, int]:
        return {name: int((self.pred == i).sum()) for i, name in enumerate(self.labels)}

    def confusion(self):
        """(row names, column names, matrix): rows annotated class (+ "other" symbols and
        "not annotated" detections), columns predicted class (+ "not classified" for edge
        windows and "missed" for annotated beats with no detection within 150 ms)."""
        if self.ann_samples is None:
            return None
        rows = list(self.labels) if self.label_map else []
        if self.label_map:
            rows.append("other")
        else:
            rows = sorted(set(self.ann_symbols.tolist()))
        rows_all = rows + ["not annotated"]
        cols = list(self.labels) + ["not classified", "missed"]
        m = np.zeros((len(rows_all), len(cols)), dtype=np.int64)
        for a, sym in enumerate(self.ann_symbols):
            r = rows.index(self.label_map.get(sym, "other")) if self.label_map else \
                rows.index(sym)
            k = self.match[a]
            c = len(cols) - 1 if k < 0 else (self.pred[k] if self.pred[k] >= 0 else len(cols) - 2)
            m[r, c] += 1
        matched = np.zeros(self.n_beats, dtype=bool)
        matched[self.match[self.match >= 0]] = True
        for k in np.flatnonzero(~matched):
            m[-1, self.pred[k] if self.pred[k] >= 0 else len(cols) - 2] += 1
        return rows_all, cols, m


def match_beats(ref: np.ndarray, test: np.ndarray, window: int = MATCH_WINDOW) -> np.ndarray:
    """For every reference beat, the index of the test beat matched to it within `window`
    samples (ANSI/AAMI EC57, wfdb's compare_annotations), else -1. Both sorted."""
    ref = np.asarray(ref, np.int64)
    test = np.asarray(test, np.int64)
    if len(ref) == 0 or len(test) == 0:
        return np.full(len(ref), -1, dtype=np.int64)
    from wfdb.processing import compare_annotations

    return np.asarray(compare_annotations(ref, test, window).matching_sample_nums, np.int64)


def _read_annotations(base: Path):
    import wfdb

    from tinyecg.device.detect import BEAT_SYMBOLS

    if not Path(f"{base}.atr").is_file():
        return None, None
    try:
        ann = wfdb.rdann(str(base), "atr")
    except Exception as exc:
        raise TinyECGError(f"{Path(base).name}.atr: unreadable annotations ({_short(exc)})") from None
    keep = [i for i, s in enumerate(ann.symbol) if s in BEAT_SYMBOLS]
    samples = np.asarray(ann.sample, np.int64)[keep]
    symbols = np.asarray(ann.symbol, dtype="<U2")[keep]
    order = np.argsort(samples, kind="stable")
    return samples[order], symbols[order]


def analyse_record(dm: DemoModel, record_base, detector: str = "auto",
                   name: str | None = None) -> RecordResult:
    """Detect, classify (int8 model in TFLM) and score one WFDB record at 360 Hz.
    detector: "auto" (the C detector, else the annotated R-peaks, said in notes), "c" (the C
    detector or an error) or "annotations"."""
    import wfdb

    from tinyecg.data.beats import rr_context
    from tinyecg.device import detect

    if detector not in ("auto", "c", "annotations"):
        raise TinyECGError(f"detector must be auto, c or annotations (got {detector!r})")
    if dm.tflm is None:
        raise TinyECGError("record analysis needs an int8 (.tflite) model")
    base = Path(record_base)
    name = name or base.name
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:
        raise TinyECGError(f"{name}.hea: not a readable WFDB header ({_short(exc)})") from None
    if not header.fs or not header.sig_len:
        raise TinyECGError(f"{name}: the header gives no sampling rate or length")
    if header.sig_len / header.fs > MAX_RECORD_SECONDS:
        raise TinyECGError(f"{name}: {header.sig_len / header.fs / 60:.0f} minutes is longer "
                           f"than the demo's {MAX_RECORD_SECONDS // 60}-minute limit")
    try:
        adc, ch, _ = detect.read_record(base)
    except TinyECGError:
        raise
    except Exception as exc:
        raise TinyECGError(f"{name}: unreadable signal ({_short(exc)})") from None
    notes = []
    ch_name = (header.sig_name or [f"channel {ch}"])[ch]
    if ch_name != "MLII":
        notes.append(f"No MLII lead: channel {ch} ({ch_name}) used; the model was trained on MLII.")
    gain = float((header.adc_gain or [0])[ch] or 0) or float(ADC_GAIN)
    if not (header.adc_gain or [0])[ch]:
        notes.append(f"The header gives no gain: {ADC_GAIN} counts/mV assumed.")
    baseline = int((header.baseline or [0])[ch])
    ann_samples, ann_symbols = _read_annotations(base)

    peaks = None
    if detector in ("auto", "c"):
        exe = detector_executable()
        if exe is not None:
            lo, hi = detect.adc_range(header, ch)
            peaks = detect.detect_samples(adc, exe=exe, adc_min=lo, adc_max=hi)
            used = "found by the firmware's C QRS detector (host build)"
        elif detector == "c":
            raise TinyECGError(f"the C detector cannot be built: {detector_error()}")
    if peaks is None:
        if ann_samples is None:
            why = f" (C detector unavailable: {detector_error()})" if detector == "auto" else ""
            raise TinyECGError(f"{name}: no annotations (.atr) to take R-peaks from{why}")
        peaks = ann_samples.copy()
        used = "taken from the annotations"
        if detector == "auto":
            used += (f", because the C detector could not be built ({detector_error()}); "
                     "so detection is not tested here")
    peaks = np.unique(np.asarray(peaks, np.int64))

    n = len(peaks)
    inside = (peaks - PRE_R >= 0) & (peaks - PRE_R + WINDOW <= len(adc))
    idx = np.flatnonzero(inside)
    pred = np.full(n, -1, dtype=np.int64)
    probs = np.full((n, dm.n_classes), np.nan)
    fixed_agree = None
    if len(idx):
        raw = adc[(peaks[idx] - PRE_R)[:, None] + np.arange(WINDOW)[None, :]]
        x = preprocess((raw - baseline) / gain)
        rhythm = rhythm_features(peaks, FS)[idx]
        qb, qr = _quantize_float_path(dm, x, rhythm)
        probs[idx] = _int8_rows(dm, qb, qr)
        pred[idx] = np.argmax(probs[idx], axis=1)
        if dm.fixed_params is not None and gain == round(gain) and 1 <= gain <= 65535 \
                and -32768 <= baseline <= 32767:
            fb, fr = _fixed_path(dm, raw, baseline, int(gain), rr_context(peaks)[idx])
            fixed_agree = int((np.argmax(_int8_rows(dm, fb, fr), axis=1) == pred[idx]).sum())
    label_map = None
    if dm.label_set:
        from tinyecg.data.beats import LABEL_SETS

        spec = LABEL_SETS.get(dm.label_set)
        if spec and list(spec["labels"]) == list(dm.labels):
            label_map = dict(spec["map"])
    match = match_beats(ann_samples, peaks) if ann_samples is not None else None
    if ann_samples is None:
        notes.append("No annotations (.atr): no comparison with a reference.")
    return RecordResult(name, adc, baseline, gain, ch_name, peaks, used, pred, probs,
                        list(dm.labels), ann_samples, ann_symbols, match, fixed_agree, notes,
                        label_map)


def record_markdown(res: RecordResult) -> str:
    out = [f"### Record {res.name}: {res.n_beats} beats",
           "", f"{res.seconds:.1f} s, lead {res.channel}. R-peaks: {res.detector}. "
           f"Every beat classified by the int8 model in TFLM (float preprocessing, rhythm "
           f"context from the detected beats)."]
    edge = res.n_beats - res.n_classified
    if edge:
        out.append(f"{edge} beat(s) within 0.5 s of the record's ends are not classified "
                   "(their window leaves the record).")
    out += ["", "| class | " + " | ".join(res.labels) + " |",
            "|---|" + "---:|" * len(res.labels),
            "| predicted beats | " + " | ".join(str(v) for v in res.counts().values()) + " |"]
    if res.fixed_agree is not None:
        out += ["", f"Fixed-point (C-equivalent) preprocessing gives the same class for "
                f"{res.fixed_agree} of {res.n_classified} classified beats."]
    conf = res.confusion()
    if conf is not None:
        rows, cols, m = conf
        matched = int((res.match >= 0).sum())
        n_ann = len(res.ann_samples)
        out += ["", f"**Against the annotations** ({n_ann} annotated beats; {matched} matched "
                f"within 150 ms, {n_ann - matched} missed, {res.n_beats - matched} detections "
                f"without an annotated beat). Rows: annotated; columns: predicted.", "",
                "| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for r, row in zip(rows, m):
            if row.sum():
                if r == "other" and res.label_map:
                    syms = sorted({s for s in res.ann_symbols.tolist() if s not in res.label_map})
                    r = f"other ({' '.join(syms)})"
                out.append(f"| {r} | " + " | ".join(str(v) for v in row) + " |")
        if res.label_map:
            correct = sum(int(m[i, i]) for i in range(len(res.labels)))
            scored = int(m[:len(res.labels), :len(res.labels)].sum())
            if scored:
                out.append(f"\nAgreement on matched, classified beats of the model's classes: "
                           f"{correct} of {scored} ({100 * correct / scored:.1f} %).")
    out += [f"\n_{note}_" for note in res.notes]
    return "\n".join(out)


# =========================================================================== figures
def _colour(i: int) -> str:
    return EDGE_COLOUR if i < 0 else CLASS_COLOURS[i % len(CLASS_COLOURS)]


def beat_figure(res: BeatResult):
    """Raw window (mV) above, preprocessed model input below."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.6), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    t = (np.arange(WINDOW) - PRE_R) / FS * 1000
    ax1.plot(t, res.beat.mv, color="#333333", lw=1)
    ax1.set_ylabel("mV")
    ax1.set_title(f"input beat (predicted {res.shown_class})", fontsize=10)
    ax2.plot(t, res.x, color="#1f77b4", lw=1, label="float preprocessing")
    if res.q_fixed is not None:
        ax2.plot(t, res.beat_quant.dequantize(res.q_fixed), color="#d62728", lw=0.8, ls="--",
                 label="fixed-point (int8 input)")
    ax2.set_ylabel("z-score")
    ax2.set_xlabel("ms from the R-peak")
    ax2.legend(fontsize=8, loc="upper right")
    for ax in (ax1, ax2):
        ax.axvline(0, color="#bbbbbb", lw=0.8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def record_figure(res: RecordResult, start_s: float = 0.0, span_s: float = DETAIL_SECONDS):
    """Whole record above (every beat marked in its class colour), a detail view below
    (predicted class above each beat, the annotation below it in grey)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(11, 5.8), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.3]})
    mv = res.mv
    t = np.arange(len(mv)) / FS
    step = max(1, len(mv) // 20000)  # the overview needs no more points than pixels
    ax1.plot(t[::step], mv[::step], color="#555555", lw=0.5)
    res_n = len(res.labels)
    for i in range(-1, res_n):
        sel = res.pred == i
        if sel.any():
            ax1.scatter(res.peaks[sel] / FS, mv[res.peaks[sel]], s=9, color=_colour(i), zorder=3)
    ax1.set_xlim(0, max(t[-1], 1 / FS))
    ax1.set_title(f"record {res.name}: {res.n_beats} beats", fontsize=10, loc="left")
    ax1.set_ylabel("mV")
    handles = [Line2D([], [], marker="o", ls="", color=_colour(i), label=res.labels[i])
               for i in range(res_n) if (res.pred == i).any()]
    if (res.pred < 0).any():
        handles.append(Line2D([], [], marker="o", ls="", color=EDGE_COLOUR, label="not classified"))
    if handles:
        ax1.legend(handles=handles, fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                   ncol=len(handles), frameon=False, borderaxespad=0.2)
    start_s = float(min(max(start_s, 0.0), max(res.seconds - span_s, 0.0)))
    a, b = int(start_s * FS), min(len(mv), int((start_s + span_s) * FS))
    ax1.axvspan(a / FS, b / FS, color="#ffdd88", alpha=0.4)
    ax2.plot(t[a:b], mv[a:b], color="#333333", lw=0.8)
    lo, hi = (float(mv[a:b].min()), float(mv[a:b].max())) if b > a else (0.0, 1.0)
    pad = 0.15 * (hi - lo or 1.0)
    ax2.set_ylim(lo - 2 * pad, hi + 2 * pad)
    for k in np.flatnonzero((res.peaks >= a) & (res.peaks < b)):
        p = res.peaks[k]
        c = res.pred[k]
        ax2.plot(p / FS, mv[p], "o", ms=5, color=_colour(c))
        ax2.text(p / FS, hi + pad, res.labels[c] if c >= 0 else "?", color=_colour(c),
                 ha="center", va="bottom", fontsize=9, fontweight="bold")
    if res.ann_samples is not None:
        for s, sym in zip(res.ann_samples, res.ann_symbols):
            if a <= s < b:
                ax2.text(s / FS, lo - pad, sym, color="#777777", ha="center", va="top", fontsize=9)
    ax2.set_xlim(a / FS, max(b, a + 1) / FS)
    ax2.set_xlabel("s" + ("   (coloured: predicted class; grey below: annotation)"
                          if res.ann_samples is not None else "   (coloured: predicted class)"))
    ax2.set_ylabel("mV")
    fig.tight_layout()
    return fig


# =========================================================================== examples
def example_beats(per_symbol=(("100", "N"), ("109", "L"), ("118", "R"), ("232", "A"),
                              ("208", "V"))) -> dict[str, str]:
    """Label -> pasteable text (360 ADC counts) of one real beat from the bundled excerpts."""
    import wfdb

    from tinyecg.device import detect

    out = {}
    for rec, sym in per_symbol:
        base = EXCERPTS / rec
        if not base.with_suffix(".hea").is_file():
            continue
        adc, _, _ = detect.read_record(base)
        ann = wfdb.rdann(str(base), "atr")
        for s, a in zip(ann.sample, ann.symbol):
            if a == sym and PRE_R <= s <= len(adc) - WINDOW + PRE_R and s > 10 * FS:
                window = adc[s - PRE_R:s - PRE_R + WINDOW]
                out[f"record {rec}, beat at {s / FS:.1f} s (annotated {sym})"] = \
                    ", ".join(str(int(v)) for v in window)
                break
    return out


# =========================================================================== the page
def _error_markdown(exc: Exception) -> str:
    if isinstance(exc, TinyECGError):
        return f"**Error:** {html.escape(str(exc))}"
    log.exception("demo: unexpected error")
    return (f"**Error:** something went wrong inside the demo ({type(exc).__name__}); the "
            "details are in the server's log.")


def beat_handler(dm: DemoModel, text: str, file, units_label: str, gain, baseline):
    """Page callback for one beat: (markdown, figure or None)."""
    try:
        units = {"auto": "auto", "ADC counts": "adc", "millivolts": "mv"}.get(units_label,
                                                                               units_label)
        source = None
        if file:
            path = _upload_path(file)
            text, source = read_text_file(path), path.name
        elif not (text or "").strip():
            raise TinyECGError("paste a beat (360 numbers) or upload a CSV file first")
        beat = parse_beat(text, units, gain, baseline)
        if source:
            beat.note = f"From the uploaded file {source} (it takes precedence over the text " \
                        f"box). {beat.note}"
        res = classify_beat(dm, beat)
        return beat_markdown(res), beat_figure(res)
    except Exception as exc:  # the page shows one line, never a traceback
        return _error_markdown(exc), None


def _upload_path(file) -> Path:
    """Gradio gives a path string (a dict with "path", or a temp-file object whose .name is
    the path, in other versions)."""
    if isinstance(file, (str, os.PathLike)):
        return Path(file)
    if isinstance(file, dict) and "path" in file:
        return Path(file["path"])
    return Path(getattr(file, "name", str(file)))


def record_handler(dm: DemoModel, bundled: str | None, files, detector: str = "auto"):
    """Page callback for one record: (markdown, figure or None, RecordResult or None)."""
    try:
        if files:
            with tempfile.TemporaryDirectory(prefix="tinyecg-demo-upload-") as work:
                base = record_from_uploads([_upload_path(f) for f in files], work)
                res = analyse_record(dm, base, detector)
                res.notes.insert(0, "Uploaded record (it takes precedence over the bundled "
                                 "excerpt menu).")
        elif bundled:
            res = analyse_record(dm, bundled_record(bundled), detector,
                                 name=f"{bundled} (bundled MIT-BIH excerpt)")
        else:
            raise TinyECGError("choose a bundled excerpt or upload a record (.hea + .dat)")
        return record_markdown(res), record_figure(res), res
    except Exception as exc:
        return _error_markdown(exc), None, None


def detail_handler(res: RecordResult | None, start_s):
    try:
        return None if res is None else record_figure(res, float(start_s or 0))
    except Exception as exc:  # a stale state must not break the page
        log.warning("demo: detail view failed: %s", exc)
        return None


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError:
        raise TinyECGError("the demo needs gradio: pip install 'tinyecg[demo]'") from None
    return gr


INTRO = """## tinyecg: heartbeat classification, as the microcontroller does it

{disclaimer}

{model}

Paste one beat, or analyse a record from the MIT-BIH Arrhythmia Database (bundled excerpts, or
upload your own WFDB record at 360 Hz). The int8 model runs in the TensorFlow Lite Micro
interpreter, the same kernels a board runs.
"""


def build_app(run_dir=None, model=None, dm: DemoModel | None = None):
    """The Gradio page (gr.Blocks) for a run directory, a model file, or the default model."""
    gr = _gradio()
    dm = dm or load_model(run_dir, model)
    examples = example_beats()
    records = bundled_records()
    model_text = dm.describe() + "".join(f"  \n_{n}_" for n in dm.notes)
    with gr.Blocks(title="tinyecg demo", analytics_enabled=False) as app:
        gr.Markdown(INTRO.format(disclaimer=DISCLAIMER, model=model_text), elem_id="intro")
        with gr.Tab("One beat", id="tab-beat"):
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(label=f"One beat: {WINDOW} samples at {FS} Hz, R-peak at "
                                      f"sample {PRE_R} (commas, spaces or new lines)",
                                      lines=5, max_lines=8, elem_id="beat-text")
                    file = gr.File(label="...or a CSV / text file", file_types=[".csv", ".txt"],
                                   elem_id="beat-file")
                with gr.Column(scale=1):
                    example = gr.Dropdown(list(examples), label="Real beats to try",
                                          value=None, elem_id="beat-example")
                    units = gr.Radio(["auto", "ADC counts", "millivolts"], value="auto",
                                     label="Units", elem_id="beat-units")
                    gain = gr.Number(ADC_GAIN, label="ADC counts per mV", precision=0)
                    baseline = gr.Number(ADC_BASELINE, label="ADC counts at 0 mV", precision=0)
            run = gr.Button("Classify beat", variant="primary", elem_id="beat-run")
            with gr.Row():
                result = gr.Markdown(elem_id="beat-result")
                plot = gr.Plot(label="beat", elem_id="beat-plot")
        with gr.Tab("Record", id="tab-record"):
            with gr.Row():
                bundled = gr.Dropdown(records, value=records[0] if records else None,
                                      label="Bundled MIT-BIH excerpt", elem_id="record-bundled")
                files = gr.File(label="...or upload a WFDB record (.hea + .dat [+ .atr])",
                                file_count="multiple", file_types=[".hea", ".dat", ".atr"],
                                elem_id="record-files")
            rrun = gr.Button("Analyse record", variant="primary", elem_id="record-run")
            rresult = gr.Markdown(elem_id="record-result")
            start = gr.Slider(0, 180, value=0, step=1, label="detail view from (s)",
                              elem_id="record-start")
            rplot = gr.Plot(label="record", elem_id="record-plot")
            state = gr.State(None)

        example.change(lambda k: examples.get(k, ""), inputs=example, outputs=text)
        run.click(lambda *a: beat_handler(dm, *a), inputs=[text, file, units, gain, baseline],
                  outputs=[result, plot])

        def on_record(b, f):
            md, fig, res = record_handler(dm, b, f)
            top = max(0.0, res.seconds - DETAIL_SECONDS) if res is not None else 0.0
            return md, fig, res, gr.Slider(minimum=0, maximum=max(1.0, round(top)), value=0)

        rrun.click(on_record, inputs=[bundled, files], outputs=[rresult, rplot, state, start])
        start.input(detail_handler, inputs=[state, start], outputs=rplot,
                    trigger_mode="always_last")
    return app


def launch(app, port: int = 7860, block: bool = True):
    """Serve on 127.0.0.1 only. block=False returns at once (the server runs in a thread;
    app.close() stops it). Returns the local URL."""
    import inspect

    gr = _gradio()
    kwargs = {"server_name": "127.0.0.1", "server_port": int(port), "share": False,
              "inbrowser": False, "show_error": False, "quiet": True,
              "max_file_size": MAX_RECORD_FILE_BYTES, "prevent_thread_lock": not block,
              "ssr_mode": False, "mcp_server": False}
    accepted = inspect.signature(gr.Blocks.launch).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    try:
        app.launch(**kwargs)
    except OSError as exc:
        raise TinyECGError(f"cannot serve on 127.0.0.1:{port} ({_short(exc)})") from None
    return getattr(app, "local_url", None) or f"http://127.0.0.1:{port}/"


def serve(run_dir=None, model=None, port: int = 7860) -> None:
    """`tinyecg demo [RUN_DIR | --model MODEL.tflite] [--port N]`: build and serve, blocking."""
    if not 1 <= int(port) <= 65535:
        raise TinyECGError(f"port {port} is not in 1..65535")
    app = build_app(run_dir, model)
    url = launch(app, port, block=False)
    print(f"tinyecg demo on {url} (Ctrl-C stops it)", flush=True)
    try:
        app.block_thread()  # returns after Ctrl-C, with the server closed
    finally:
        app.close()
