"""Scoring patient-context models (tinyecg.stages.patient_recipe) on the host, as the device
would compute their inputs:

- float (Keras): the dataset's float template and long-term features;
- int8 (TFLM host runtime, or LiteRT's reference kernels): per record, every beat in order,
  the preprocessed windows quantized with the beat input's quantization, the template
  channel recomputed in integers from those int8 windows
  (tinyecg.dsp.patient.template_inputs_int, over every usable beat of the record, labelled
  or not), and the eight long-term features quantized from their exact fractions
  (tinyecg.dsp.fixedpoint.longterm_features_int: the device's integer arithmetic).
  R-peaks are the annotated ones.

Q beats are neither trained nor scored (the model's classes are N, S, V, F).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyecg import metrics, spec
from tinyecg.errors import TinyECGError
from tinyecg.run import write_json
from tinyecg.stages.patient_recipe import CLASSES, patient_dataset, scored

log = logging.getLogger("tinyecg.stages.patient_eval")


def int8_record_inputs(int8, record, labels: str = "aami") -> tuple[np.ndarray, list]:
    """(R-peaks of the record's kept beats, the int8 model's inputs for them in its input
    order), computed over every beat of the record as the device would."""
    from tinyecg.data.patient_context import record_beats
    from tinyecg.dsp import fixedpoint, patient

    seq = record_beats(record, labels)
    beat, rhythm = int8.input(spec.BEAT), int8.input(spec.RHYTHM)
    if beat is None or beat.shape[-1] != 2 or rhythm is None:
        raise TinyECGError(f"{int8.source}: not a patient-context model (beat (1, 360, 2))")
    q = np.clip(np.round(seq.windows / beat.scale) + beat.zero_point, -128, 127).astype(np.int64)
    q[~seq.usable] = 0
    template = seq.template_int(q)
    rows = seq.kept
    x = np.stack([q[rows], template[rows]], axis=-1).astype(np.int8)
    rr = seq.rr
    if rhythm.size != patient.N_LONGTERM_FEATURES:
        raise TinyECGError(f"{int8.source}: a two-channel model with {rhythm.size} RR features")
    params = fixedpoint.preprocess_params(
        beat.scale, beat.zero_point, rhythm.scale, rhythm.zero_point, "longterm", 2
    )
    a16, d16 = patient.longterm_state(rr[:, 0], seq.has_pre)
    pre, post, lsum, count = rr[rows].T
    r = fixedpoint.longterm_features_int(pre, post, lsum, count, a16[rows], d16[rows], params)
    return seq.sample[rows], int8.order(beat=x, rhythm=r)


def int8_predict(data: bytes, ds, rows: np.ndarray, data_dir: Path, runtime="tflm", lead=None):
    """Dequantized outputs (n, classes) of an int8 patient-context model for dataset rows."""
    from tinyecg.data.records import load_record
    from tinyecg.models.int8 import Int8Model
    from tinyecg.runtime.tflm import LiteRTModel, TFLMModel, capture_c_stdout

    int8 = Int8Model.load(data)
    m = capture_c_stdout(lambda: TFLMModel(data))[0] if runtime == "tflm" else LiteRTModel(data)
    out = np.zeros((len(rows), int8.n_classes), np.float64)
    for name in dict.fromkeys(ds.beats.record[rows].tolist()):
        rec = load_record(Path(data_dir), name, lead=lead)
        if rec is None:
            raise TinyECGError(f"{data_dir}: record {name} has no usable lead any more")
        samples, inputs = int8_record_inputs(int8, rec, ds.label_set)
        mine = np.flatnonzero(ds.beats.record[rows] == name)
        at = np.searchsorted(samples, ds.beats.sample[rows[mine]])
        if np.any(at >= len(samples)) or np.any(
            samples[np.minimum(at, len(samples) - 1)] != ds.beats.sample[rows[mine]]
        ):
            raise TinyECGError(f"record {name}: the dataset's beats differ from the record's")
        q = m.invoke_batch(*(a[at] for a in inputs))
        out[mine] = int8.output.dequantize(q)
    return out


def float_predict(model, part) -> np.ndarray:
    from tinyecg.models.inputs import model_inputs

    ctx = part.patient
    inputs = model_inputs(model, part.x, ctx.longterm, ctx.template)
    return model.predict(inputs, batch_size=2048, verbose=0)


def predict(path: Path, ds, rows, data_dir: Path, runtime: str = "tflm", lead=None):
    """Class scores of a run's model (Keras or int8) on dataset rows."""
    from tinyecg.stages.evaluate import load_keras

    path = Path(path)
    if path.suffix == ".tflite":
        return int8_predict(path.read_bytes(), ds, rows, data_dir, runtime, lead)
    return float_predict(load_keras(path), ds.subset(rows))


def test_part(cfg: dict, records: str | None = None, lead=None, label_map=None):
    """(dataset with patient context, scored rows, data folder, scope) of a patient run: its
    inter test split, or every beat of another WFDB folder (AAMI; Q not scored)."""
    from tinyecg.data.dataset import build_dataset
    from tinyecg.data.patient_context import with_patient_context
    from tinyecg.data.records import resolve_data_dir

    if records:
        data_dir = resolve_data_dir(records)
        ds = build_dataset(
            data_dir,
            labels="aami",
            include_paced=cfg["data"]["include_paced"],
            lead=lead,
            label_map=label_map,
        )
        ds = with_patient_context(ds, data_dir, lead=lead)
        return ds, scored(ds, np.arange(len(ds))), data_dir, f"all beats of {records}, Q not scored"
    ds, split = patient_dataset(cfg)
    scope = f"{cfg['split']['name']} test split, Q not scored"
    return ds, scored(ds, split["test"]), resolve_data_dir(cfg["data"]["dir"]), scope


# --------------------------------------------------------------------------- bench

MODELS = [
    ("teacher", "teacher.keras", "float teacher"),
    ("student", "student.keras", "float student, distilled"),
    ("student_nokd", "student_nokd.keras", "float student, hard labels only"),
    ("student_int8", "student_int8.tflite", "int8 student (distilled), TFLM"),
]


def _arena(data: bytes) -> int | None:
    from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

    try:
        m = capture_c_stdout(lambda: TFLMModel(data))[0]
        return capture_c_stdout(m.arena_bytes)[0]
    except TinyECGError:
        return None


def patient_bench(run_dir: Path, quiet: bool = False) -> list[dict]:
    """Every model of a patient run on its test split: per-class Se/+P/F1, confusion,
    params, MACs, flatbuffer bytes, TFLM arena; writes bench.json and bench.md."""
    from tinyecg.models.architectures import count_macs
    from tinyecg.run import read_config
    from tinyecg.stages.bench import _float_tflite
    from tinyecg.stages.evaluate import load_keras

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    ds, rows, data_dir, scope = test_part(cfg)
    y = ds.beats.y[rows]
    student = run_dir / "student.keras"
    src = load_keras(student) if student.is_file() else None
    rows_out: list[dict[str, Any]] = []
    float_pred = {}
    for name, file, text in MODELS:
        path = run_dir / file
        if not path.is_file():
            continue
        t0 = time.perf_counter()
        row: dict[str, Any] = {"model": name, "description": text, "file": file}
        if path.suffix == ".keras":
            model = load_keras(path)
            pred = float_predict(model, ds.subset(rows)).argmax(1)
            float_pred[name] = pred
            fb = _float_tflite(model)
            row.update(
                runtime="keras-float",
                params=int(model.count_params()),
                macs=count_macs(model),
                flatbuffer_bytes=len(fb),
                flatbuffer="float32 TFLite conversion",
                arena_bytes=_arena(fb),
            )
        else:
            data = path.read_bytes()
            pred = int8_predict(data, ds, rows, data_dir).argmax(1)
            row.update(
                runtime="tflm",
                params=int(src.count_params()) if src is not None else None,
                macs=count_macs(src) if src is not None else None,
                flatbuffer_bytes=len(data),
                flatbuffer="int8 file",
                arena_bytes=_arena(data),
            )
            if "student" in float_pred:
                row["agreement_with_float_student"] = float(np.mean(pred == float_pred["student"]))
        rep = metrics.report(y, pred, CLASSES)
        row.update(
            n=rep["n"],
            accuracy=rep["accuracy"],
            macro_f1=rep["macro_f1"],
            per_class=rep["per_class"],
            confusion=rep["confusion"],
            seconds=round(time.perf_counter() - t0, 1),
        )
        rows_out.append(row)
        if not quiet:
            log.info("%-14s %s", name, _line(row))
    write_json(run_dir / "bench.json", rows_out)
    (run_dir / "bench.md").write_text(bench_markdown(rows_out, scope, len(y)))
    return rows_out


def _line(row: dict) -> str:
    return "  ".join(
        f"{c}: Se {_pct(m['se'])} +P {_pct(m['ppv'])} F1 {_pct(m['f1'])}"
        for c, m in row["per_class"].items()
    )


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def bench_markdown(rows: list[dict], scope: str, n: int) -> str:
    lines = [
        "# Benchmark: patient recipe",
        "",
        f"Scope: {scope} ({n} beats). Se / +P / F1 %. Float models in Keras, int8 in TFLM "
        "with the template recomputed in integers from the int8 windows; annotated R-peaks. "
        "Flatbuffer and arena of float models: a float32 TFLite conversion.",
        "",
        "| model | params | MACs/beat | flatbuffer B | TFLM arena B | "
        + " | ".join(CLASSES)
        + " |",
        "|---|---:|---:|---:|---:|" + "---|" * len(CLASSES),
    ]
    for r in rows:
        cells = [
            r["model"],
            f"{r['params']:,}" if r["params"] else "–",
            f"{r['macs']:,}" if r["macs"] else "–",
            f"{r['flatbuffer_bytes']:,}",
            f"{r['arena_bytes']:,}" if r["arena_bytes"] else "–",
        ]
        for c in CLASSES:
            m = r["per_class"][c]
            cells.append(f"{_pct(m['se'])} / {_pct(m['ppv'])} / {_pct(m['f1'])}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Confusion (rows annotated, columns predicted, N S V F):", ""]
    for r in rows:
        lines.append(f"- {r['model']}: {r['confusion']}")
    return "\n".join(lines) + "\n"
