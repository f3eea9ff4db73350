"""`tinyecg evaluate --task rhythm`: the shockable-rhythm detectors on every record of a
WFDB folder with rhythm annotations, scored as AED standards do (tinyecg.aed_metrics).

The classical baseline (TCSC + amplitude gate, tinyecg.dsp.vf_detectors) is always run;
an int8 model (.tflite: one input of RHYTHM_WINDOW int8 values, two outputs: non-shockable,
shockable) is run in TFLM on the same windows when given, its decision gated as the
device gates it. Writes rhythm_report.json and rhythm_report.md as one set.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from tinyecg import aed_metrics, outputs
from tinyecg.data.records import list_records
from tinyecg.data.rhythm import PACED, RhythmRecord, load_rhythm_record
from tinyecg.dsp import rhythm_frontend as fe
from tinyecg.dsp import vf_detectors as vfd
from tinyecg.errors import TinyECGError
from tinyecg.spec import RHYTHM_Q_PER_STD, RHYTHM_TASK, RHYTHM_WINDOW, SHOCKABLE_OUTPUT

log = logging.getLogger("tinyecg.stages.rhythm")

REPORT_FILES = ("rhythm_report.json", "rhythm_report.md")


def load_folder(folder, lead=None) -> tuple[list[RhythmRecord], dict[str, str]]:
    """Every scorable record of a folder, and the reason each other one was skipped
    (listed but absent, e.g. withheld; no .atr; paced throughout)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TinyECGError(f"{folder}: records folder not found")
    records, skipped = [], {}
    for name in list_records(folder):
        base = folder / name
        if not base.with_name(name + ".hea").is_file():
            skipped[name] = "listed in RECORDS but no .hea here (withheld?)"
            continue
        if not base.with_name(name + ".atr").is_file():
            skipped[name] = "no .atr rhythm annotations"
            continue
        rec = load_rhythm_record(base, lead=lead)
        if np.all(rec.codes == PACED):
            skipped[name] = "paced beats: not scored"
            continue
        records.append(rec)
        log.info("%s: %d decisions", name, len(rec.ends))
    if not records:
        raise TinyECGError(f"{folder}: no record with rhythm annotations to score")
    return records, skipped


def record_windows(rec: RhythmRecord) -> np.ndarray:
    return fe.windows_at(rec.stream, rec.ends, RHYTHM_WINDOW)


def tcsc_values(rec: RhythmRecord) -> tuple[np.ndarray, np.ndarray]:
    """TCSC (%) and the amplitude gate of every window of a record."""
    w = record_windows(rec)
    return vfd.tcsc(w), fe.amplitude_gate(w, rec.gain)


class RhythmModel:
    """An int8 rhythm model in the TFLM host interpreter (or LiteRT's reference kernels)."""

    def __init__(self, path, runtime: str = "tflm"):
        from tinyecg.models.int8 import Int8Model
        from tinyecg.models.tflite import load_model
        from tinyecg.runtime.tflm import LiteRTModel, TFLMModel

        path = Path(path)
        if not path.is_file():
            raise TinyECGError(f"{path}: model not found")
        graph = load_model(path)
        if len(graph.inputs) != 1 or len(graph.outputs) != 1:
            raise TinyECGError(f"{path}: a rhythm model has one input and one output")
        t = graph.tensors[graph.inputs[0]]
        if t.size != RHYTHM_WINDOW or t.dtype != "INT8":
            raise TinyECGError(
                f"{path}: input {t.name!r} is {t.size} {t.dtype} values, not "
                f"{RHYTHM_WINDOW} INT8 (8 s at 90 Hz)"
            )
        int8 = Int8Model(graph, task=None)  # the one place that tells the tasks' inputs apart
        if int8.task != RHYTHM_TASK:
            raise TinyECGError(f"{path}: a {int8.task} model, not a rhythm model")
        if int8.n_classes != 2:
            raise TinyECGError(f"{path}: output must hold 2 classes (non-shockable, shockable)")
        self.scale, self.zero_point = int8.inputs[0].scale, int8.inputs[0].zero_point
        self.name = path.name
        self.runtime_name = "TFLM" if runtime == "tflm" else "LiteRT-REF"
        self.runtime = (TFLMModel if runtime == "tflm" else LiteRTModel)(path.read_bytes())

    def decisions(self, rec: RhythmRecord) -> np.ndarray:
        out, gate = self.outputs(rec)
        return (out.argmax(1) == SHOCKABLE_OUTPUT) & gate

    def outputs(self, rec: RhythmRecord) -> tuple[np.ndarray, np.ndarray]:
        """The int8 outputs (n, 2) on every window of rec, and the amplitude gate."""
        w = record_windows(rec)
        q = fe.normalise_int(w, rec.gain)
        if (self.scale, self.zero_point) != (1.0 / RHYTHM_Q_PER_STD, 0):
            # the front end's scale is 1/16 std; another input scale is requantized
            x = q.astype(np.float64) / RHYTHM_Q_PER_STD
            q = np.clip(np.round(x / self.scale) + self.zero_point, -128, 127).astype(np.int8)
        return self.runtime.invoke_batch(q), fe.amplitude_gate(w, rec.gain)


def evaluate_rhythm(
    records,
    model=None,
    out=None,
    lead=None,
    write: bool = True,
    threshold: float = vfd.TCSC_FITTED,
    runtime: str = "tflm",
) -> dict:
    """Score the TCSC baseline (and `model`) on every record of the folder `records`;
    write the report set into `out`."""
    m = RhythmModel(model, runtime) if model else None  # a bad model fails before any work
    recs, skipped = load_folder(records, lead)
    keys = [f"{r.database}/{r.name}" for r in recs]
    baseline = {}
    for k, r in zip(keys, recs):
        values, gate = tcsc_values(r)
        baseline[k] = vfd.tcsc_decisions(values, gate, threshold)
    name = f"TCSC > {threshold:g} + gate"
    results = {name: aed_metrics.score(recs, baseline)}
    if m is not None:
        results[f"{m.name} (int8, {m.runtime_name}) + gate"] = aed_metrics.score(
            recs, {k: m.decisions(r) for k, r in zip(keys, recs)}
        )
    rep = {
        "task": "rhythm",
        "records_dir": str(records),
        "n_records": len(recs),
        "skipped": skipped,
        "tcsc_threshold": threshold,
        "threshold_origin": "fitted on vfdb + cudb + mitdb by scripts/bench_rhythm.py",
        "detectors": results,
    }
    if write:
        out = Path(out)
        outputs.write_set(
            out,
            {
                "rhythm_report.json": outputs.json_text(rep),
                "rhythm_report.md": report_markdown(rep),
            },
            require_empty=False,
        )
    return rep


def report_markdown(rep: dict) -> str:
    lines = [
        "# Shockable-rhythm evaluation",
        "",
        f"Records: {rep['n_records']} of {rep['records_dir']} (8-s windows, one decision "
        f"per second; scored windows hold one rhythm). TCSC threshold "
        f"{rep['tcsc_threshold']:g} ({rep['threshold_origin']}).",
        "",
    ]
    for name, why in rep["skipped"].items():
        lines.append(f"- skipped {name}: {why}")
    lines += ["", aed_metrics.markdown_table(rep["detectors"])]
    return "\n".join(lines)


def summary_lines(rep: dict) -> list[str]:
    """What the CLI prints: per detector, each row against its goal, then the alarm."""
    lines = [f"{rep['n_records']} records of {rep['records_dir']}"]
    for name, why in rep["skipped"].items():
        lines.append(f"  skipped {name}: {why}")
    for name, res in rep["detectors"].items():
        lines.append(name)
        for c in res["classes"].values():
            if c["value"] is None:
                continue
            goal = f"  (AHA > {c['aha_goal']:g})" if c["aha_goal"] else ""
            lines.append(f"  {c['label']}: {c['metric']} {c['value']:.1f} n={c['n']}{goal}")
        a = res["alarm"]
        within = a["alarmed_within_10s_pct"]["all"]
        lines.append(
            f"  alarm after {a['n_consecutive']} shockable decisions: "
            f"{a['episodes']['VF']} VF / {a['episodes']['VT']} VT episodes, "
            f"{'-' if within is None else f'{within:.1f}'} % within 10 s, median "
            f"latency {a['median_latency_s']} s, {a['false_alarms']} false alarms"
        )
    return lines
