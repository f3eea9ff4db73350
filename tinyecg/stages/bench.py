"""Stage 4: benchmark every model of a run on its test split.

One row per model present (teacher, student, student_nokd float; student_int8, QAT, pruned,
clustered int8): parameters, flatbuffer bytes, TFLM arena bytes (recording allocator), MACs
per beat, accuracy, macro-F1, per-class Se/PPV/F1, host latency per beat in TFLM and in
LiteRT with reference kernels (medians of single-beat invokes on this PC: host figures, not
board figures), and for int8 models the TFLM vs LiteRT-REF agreement on the test split.

Int8 accuracy is measured in TFLM on the full test split by default; with `runtime_sample`
set, LiteRT-REF scores the full split and TFLM a stratified sample of that many beats, and the
row states the measured agreement between the two on that sample. Float models are scored in
Keras; their flatbuffer, arena and latency figures come from a float32 TFLite conversion run
in the same two runtimes.

Writes bench.json (list of rows), bench.md, bench.png and reports/<model>.json.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from tinyecg import metrics
from tinyecg.errors import TinyECGError
from tinyecg.run import read_config, write_json

log = logging.getLogger("tinyecg.stages.bench")

# (model name, file, kind) in table order
MODELS = [
    ("teacher", "teacher.keras", "float"),
    ("student", "student.keras", "float"),
    ("student_nokd", "student_nokd.keras", "float"),
    ("student_int8", "student_int8.tflite", "int8"),
    ("student_qat_int8", "student_qat_int8.tflite", "int8"),
    ("student_pruned_int8", "student_pruned_int8.tflite", "int8"),
    ("student_clustered_int8", "student_clustered_int8.tflite", "int8"),
]
DESCRIPTIONS = {
    "teacher": "float teacher",
    "student": "float student, distilled",
    "student_nokd": "float student, hard labels only",
    "student_int8": "int8 student, post-training quantization",
    "student_qat_int8": "int8 student, quantization-aware training",
    "student_pruned_int8": "int8 student, pruned",
    "student_clustered_int8": "int8 student, weight clustering",
}


def _float_tflite(model) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(conv.convert())


def _quiet(fn):
    """Run fn with the C runtimes' stdout chatter captured (TFLM probes inputs noisily)."""
    from tinyecg.runtime.tflm import capture_c_stdout

    return capture_c_stdout(fn)[0]


def _runtime_figures(data: bytes, x: np.ndarray, rhythm: np.ndarray, repeats: int) -> dict:
    """Arena bytes and single-beat latency of a flatbuffer in TFLM and LiteRT-REF."""
    from tinyecg.models.int8 import Int8Model
    from tinyecg.runtime.tflm import LiteRTModel, TFLMModel

    tflm = _quiet(lambda: TFLMModel(data))
    ref = LiteRTModel(data)
    if tflm.inputs[0].dtype == np.float32:

        def feed(m):
            out = []
            for q in m.inputs:
                src = x if int(np.prod(q.shape)) == x.shape[-1] else rhythm
                out.append(np.asarray(src, np.float32).reshape((len(src),) + q.shape[1:]))
            return out
    else:
        int8 = Int8Model.load(data)
        feed = lambda m: int8.quantize_inputs(beat=x, rhythm=rhythm)  # noqa: E731
    arena = _quiet(tflm.arena_bytes)
    return {
        "tflm": tflm,
        "litert": ref,
        "arena_bytes": arena,
        "latency_ms": {
            "tflm": round(tflm.latency_ms(*feed(tflm), repeats=repeats), 4),
            "litert_ref": round(ref.latency_ms(*feed(ref), repeats=repeats), 4),
        },
    }


def _sample(y: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    if n is None or n >= len(y):
        return np.arange(len(y))
    from tinyecg.stages.quantize import stratified_indices

    return stratified_indices(y, n, seed)


def _stored_weights(data: bytes) -> tuple[int, int]:
    """(constant elements, non-zero constant elements) of the weight and bias tensors."""
    from tinyecg.models.tflite import load_model

    m = load_model(data)
    total = nonzero = 0
    for op in m.ops:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            for i in op.inputs[1:3]:
                values = m.tensors[i].data if i >= 0 else None  # -1: an absent (bias) input
                if values is not None:
                    total += values.size
                    nonzero += int(np.count_nonzero(values))
    return total, nonzero


def bench(
    run_dir: Path,
    runtime_sample: int | None = None,
    latency_repeats: int = 200,
    models: list[str] | None = None,
    shifts: tuple[int, ...] = (),
    quiet: bool = False,
) -> list[dict]:
    """Benchmark every model of the run (or only those named in `models`); returns the rows
    (also written to bench.json).

    shifts: R-peak offsets in samples (e.g. (-5, -2, 2, 5)); each row then also gets
    `shifted` = {offset: {accuracy, macro_f1}} on test windows cut that far from the annotated
    peak (what a misaligned detector feeds the model; rhythm features unchanged), scored in
    Keras for float models and in LiteRT-REF for int8 models."""
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.models.architectures import count_macs
    from tinyecg.models.inputs import model_inputs
    from tinyecg.models.int8 import Int8Model
    from tinyecg.models.tflite import load_model
    from tinyecg.stages.evaluate import load_keras

    run_dir = Path(run_dir)
    cfg = read_config(run_dir)
    if models is not None:
        unknown = sorted(set(models) - {n for n, _, _ in MODELS})
        if unknown:
            raise TinyECGError(
                f"unknown model(s) {', '.join(unknown)} (choose from "
                f"{', '.join(n for n, _, _ in MODELS)})"
            )
    present = [
        (n, run_dir / f, k)
        for n, f, k in MODELS
        if (run_dir / f).is_file() and (models is None or n in models)
    ]
    if not present:
        raise TinyECGError(f"{run_dir}: no models to benchmark (train first)")
    if runtime_sample is not None and runtime_sample < 1:
        raise TinyECGError(f"runtime sample must be >= 1 (got {runtime_sample})")
    if latency_repeats < 1:
        raise TinyECGError(f"latency repeats must be >= 1 (got {latency_repeats})")
    ds, split = dataset_from_config(cfg)
    test = ds.subset(split["test"])
    if len(test) == 0:
        raise TinyECGError(f"{run_dir}: the test split is empty")
    labels = list(ds.labels)
    y = test.beats.y
    scope = f"{cfg['split']['name']} test split"
    shown: list[str] = [c for c in ("V", "A", "S") if c in labels]
    sample = _sample(y, runtime_sample)

    offsets = [int(v) for v in shifts]
    if any(abs(v) > 90 for v in offsets):
        raise TinyECGError("shifts must be within +-90 samples")
    shifted = None
    if offsets:
        from tinyecg.data.records import resolve_data_dir
        from tinyecg.stages.distill import shifted_windows

        shifted = shifted_windows(resolve_data_dir(cfg["data"]["dir"]), test.beats, offsets)

    student_src = run_dir / "student.keras"
    src_info = None
    if student_src.is_file():
        src = load_keras(student_src)
        src_info = {"params": int(src.count_params()), "macs": count_macs(src)}

    rows, reports = [], {}
    for name, path, kind in present:
        t0 = time.perf_counter()
        row: dict[str, Any] = {"model": name, "description": DESCRIPTIONS[name], "file": path.name}
        if kind == "float":
            model = load_keras(path)
            proba = model.predict(
                model_inputs(model, test.x, test.beats.rhythm), batch_size=2048, verbose=0
            )
            pred = proba.argmax(axis=1)
            fb = _float_tflite(model)
            fig = _runtime_figures(
                fb, test.x[:latency_repeats], test.beats.rhythm[:latency_repeats], latency_repeats
            )
            row.update(
                runtime="keras-float",
                params=int(model.count_params()),
                flatbuffer_bytes=len(fb),
                flatbuffer="float32 TFLite conversion",
                arena_bytes=fig["arena_bytes"],
                macs=count_macs(model),
                agreement=None,
            )
            n_scored = len(y)
        else:
            data = path.read_bytes()
            ok, reasons = load_model(data).is_fully_int8()
            if not ok:
                raise TinyECGError(f"{path}: not a fully int8 model ({reasons[0]})")
            fig = _runtime_figures(
                data, test.x[:latency_repeats], test.beats.rhythm[:latency_repeats], latency_repeats
            )
            tflm, ref = fig["tflm"], fig["litert"]
            int8 = Int8Model.load(data)
            q_ref = ref.invoke_batch(*int8.quantize_inputs(beat=test.x, rhythm=test.beats.rhythm))
            q_tflm = tflm.invoke_batch(
                *int8.quantize_inputs(beat=test.x[sample], rhythm=test.beats.rhythm[sample])
            )
            same = q_tflm.argmax(axis=1) == q_ref[sample].argmax(axis=1)
            lsb = np.abs(q_tflm.astype(np.int32) - q_ref[sample].astype(np.int32))
            full = len(sample) == len(y)
            pred = q_tflm.argmax(axis=1) if full else q_ref.argmax(axis=1)
            stored, nonzero = _stored_weights(data)
            row.update(
                runtime="tflm" if full else "litert-ref",
                params=src_info["params"] if src_info else None,
                stored_weights=stored,
                nonzero_weights=nonzero,
                flatbuffer_bytes=len(data),
                flatbuffer="int8 file",
                arena_bytes=fig["arena_bytes"],
                macs=src_info["macs"] if src_info else None,
                agreement={
                    "beats": int(len(sample)),
                    "scope": "full test split"
                    if full
                    else f"stratified sample of {len(sample)} test beats",
                    "class_agreement": float(np.mean(same)),
                    "class_mismatches": int(np.sum(~same)),
                    "max_abs_lsb": int(lsb.max()) if lsb.size else 0,
                    "outputs_differing": float(np.mean(np.any(lsb > 0, axis=1))),
                },
            )
            if not full:
                row["tflm_sample"] = metrics.report(y[sample], q_tflm.argmax(axis=1), labels)
                row["tflm_sample"].pop("confusion")
            n_scored = len(y)
        if shifted is not None:
            row["shifted"] = {}
            for k, off in enumerate(offsets):
                xs = shifted[:, k].astype(np.float32)
                if kind == "float":
                    p = model.predict(
                        model_inputs(model, xs, test.beats.rhythm), batch_size=2048, verbose=0
                    ).argmax(axis=1)
                else:
                    q_shifted = int8.quantize_inputs(beat=xs, rhythm=test.beats.rhythm)
                    p = ref.invoke_batch(*q_shifted).argmax(1)
                r = metrics.report(y, p, labels)
                row["shifted"][str(off)] = {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}
        rep = metrics.report(y, pred, labels)
        rep.update(
            {
                "split": cfg["split"]["name"],
                "scope": scope,
                "model": name,
                "model_file": path.name,
                "runtime": row["runtime"],
                "label_set": cfg["data"]["labels"],
            }
        )
        reports[name] = rep
        row.update(
            n=n_scored,
            accuracy=rep["accuracy"],
            macro_f1=rep["macro_f1"],
            per_class=rep["per_class"],
            latency_ms=fig["latency_ms"]["tflm"],
            latency_ms_by_runtime=fig["latency_ms"],
            latency_note="host PC, median of single-beat invokes",
            seconds=round(time.perf_counter() - t0, 1),
        )
        rows.append(row)
        if not quiet:
            log.info(
                "%-22s %-11s acc %.4f  macro-F1 %.4f  %6d B  arena %6d B  (%.0f s)",
                name,
                row["runtime"],
                rep["accuracy"],
                rep["macro_f1"],
                row["flatbuffer_bytes"],
                row["arena_bytes"],
                row["seconds"],
            )

    (run_dir / "reports").mkdir(exist_ok=True)
    for name, rep in reports.items():
        write_json(run_dir / "reports" / f"{name}.json", rep)
    write_json(run_dir / "bench.json", rows)
    (run_dir / "bench.md").write_text(bench_markdown(rows, cfg, shown, scope, len(y)))
    plot_bench(rows, labels, run_dir / "bench.png", scope)
    return rows


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.2f}"


def bench_markdown(rows: list[dict], cfg: dict, shown: list[str], scope: str, n: int) -> str:
    head = [
        "model",
        "runtime",
        "params",
        "flatbuffer B",
        "TFLM arena B",
        "MACs/beat",
        "acc %",
        "macro-F1 %",
    ]
    for c in shown:
        head += [f"{c} Se", f"{c} +P", f"{c} F1"]
    head += ["TFLM ms", "LiteRT-REF ms", "TFLM vs REF"]
    lines = [
        f"# Benchmark: {cfg['split']['name']} split, labels {cfg['data']['labels']}",
        "",
        f"Scope: {scope} ({n} beats). Accuracy of float models in Keras, of int8 models "
        "in the runtime named. Flatbuffer, arena and latency of float models are those "
        "of a float32 TFLite conversion. Latency: median of single-beat invokes on the "
        "host PC (not a board figure). TFLM vs REF: class agreement and the largest "
        "output difference in int8 steps (LSB) between TFLM and LiteRT's reference "
        "kernels.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|---|" + "---:|" * (len(head) - 2),
    ]
    for r in rows:
        cells = [
            r["model"],
            r["runtime"],
            f"{r['params']:,}" if r["params"] else "–",
            f"{r['flatbuffer_bytes']:,}",
            f"{r['arena_bytes']:,}",
            f"{r['macs']:,}" if r["macs"] else "–",
            _pct(r["accuracy"]),
            _pct(r["macro_f1"]),
        ]
        for c in shown:
            m = r["per_class"][c]
            cells += [_pct(m["se"]), _pct(m["ppv"]), _pct(m["f1"])]
        lat = r["latency_ms_by_runtime"]
        a = r["agreement"]
        cells += [
            f"{lat['tflm']:.3f}",
            f"{lat['litert_ref']:.3f}",
            "–"
            if a is None
            else f"{100 * a['class_agreement']:.3f} % ({a['class_mismatches']} of {a['beats']}), "
            f"max {a['max_abs_lsb']} LSB",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    offs = list(rows[0].get("shifted") or {}) if rows else []
    if offs:
        lines += [
            "R-peak misalignment: accuracy / macro-F1 % on test windows cut s samples "
            "from the annotated peak (float in Keras, int8 in LiteRT-REF):",
            "",
            "| model | " + " | ".join(f"s = {o}" for o in offs) + " |",
            "|---|" + "---:|" * len(offs),
        ]
        for r in rows:
            sh = r.get("shifted") or {}
            lines.append(
                f"| {r['model']} | "
                + " | ".join(
                    f"{_pct(sh[o]['accuracy'])} / {_pct(sh[o]['macro_f1'])}" if o in sh else "–"
                    for o in offs
                )
                + " |"
            )
        lines.append("")
    for r in rows:
        if r.get("tflm_sample"):
            lines.append(
                f"- {r['model']}: TFLM on {r['agreement']['scope']}: accuracy "
                f"{_pct(r['tflm_sample']['accuracy'])} %, macro-F1 "
                f"{_pct(r['tflm_sample']['macro_f1'])} %."
            )
        if r.get("nonzero_weights") is not None and r["stored_weights"]:
            zero = 1 - r["nonzero_weights"] / r["stored_weights"]
            if zero > 0.05:
                lines.append(
                    f"- {r['model']}: {100 * zero:.1f} % of the stored weights and "
                    "biases are zero (the flatbuffer stores them all: dense size)."
                )
    return "\n".join(lines) + "\n"


def plot_bench(rows: list[dict], labels: list[str], path: Path, scope: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(11, 4.2), dpi=110, gridspec_kw={"width_ratios": [1, 1.4]}
    )
    for r in rows:
        marker = "o" if r["runtime"] == "keras-float" else "s"
        ax1.scatter(r["flatbuffer_bytes"], 100 * r["accuracy"], marker=marker, s=36)
        ax1.annotate(
            r["model"],
            (r["flatbuffer_bytes"], 100 * r["accuracy"]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    ax1.set_xscale("log")
    ax1.set_xlabel("flatbuffer bytes (float32 conversion for float models)")
    ax1.set_ylabel("accuracy %")
    ax1.set_title(f"accuracy vs size ({scope})", fontsize=9)
    ax1.grid(alpha=0.3)
    width = 0.8 / max(len(rows), 1)
    xs = np.arange(len(labels))
    for i, r in enumerate(rows):
        f1 = [100 * (r["per_class"][c]["f1"] or 0) for c in labels]
        ax2.bar(xs + (i - (len(rows) - 1) / 2) * width, f1, width, label=r["model"])
    ax2.set_xticks(xs, labels)
    lows = [
        100 * (r["per_class"][c]["f1"] or 0)
        for r in rows
        for c in labels
        if r["per_class"][c]["support"]
    ]
    ax2.set_ylim(max(0, min(lows, default=0) - 5), 100.5)
    ax2.set_ylabel("F1 %")
    ax2.set_title("per-class F1", fontsize=9)
    ax2.legend(fontsize=6, ncol=2, loc="lower left")
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
