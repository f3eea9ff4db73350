"""What per-tensor dense layers cost: a run's student quantized twice (dense weight scales per
channel, the converter's default, and per tensor, what the 2023 TFLM of the Arm boards computes
correctly), both scored in TFLM on the run's test split.

    python scripts/bench_dense_quantization.py RUN_DIR [RUN_DIR ...] --data ../shared/data/mitdb \
        --out docs/bench/dense_quantization.json

Prints a table (accuracy, macro-F1, per class Se / +P / F1) and writes JSON. Conversion uses
the quantize stage's representative set (same size, seed and stratification).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg import metrics  # noqa: E402
from tinyecg.run import read_config, write_json  # noqa: E402

VARIANTS = {"per-channel dense": True, "per-tensor dense": False}


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def measure(run_dir: Path, data: Path | None) -> dict:
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.stages.evaluate import load_keras, predict_proba
    from tinyecg.stages.quantize import (
        DEFAULTS,
        convert_int8,
        representative_inputs,
        stratified_indices,
    )

    cfg = read_config(run_dir)
    if data is not None:
        cfg["data"] = dict(cfg["data"], dir=str(data))
    student_file = run_dir / (cfg.get("student") or {}).get("file", "student.keras")
    if not student_file.is_file():  # the shipped default model keeps its student as model.keras
        student_file = run_dir / "model.keras"
    student = load_keras(student_file)
    ds, split = dataset_from_config(cfg)
    tr, te = ds.subset(split["train"]), ds.subset(split["test"])
    rep_idx = stratified_indices(tr.beats.y, DEFAULTS["representative_size"], DEFAULTS["seed"])
    rep = representative_inputs(student, tr.x[rep_idx], tr.beats.rhythm[rep_idx])
    out = {
        "run": run_dir.name,
        "split": (cfg.get("split") or {}).get("name"),
        "labels": list(ds.labels),
        "test_beats": int(len(te.beats.y)),
        "variants": {},
    }
    probs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, per_channel in VARIANTS.items():
            path = Path(tmp) / f"{'pc' if per_channel else 'pt'}.tflite"
            path.write_bytes(convert_int8(student, rep, per_channel_dense=per_channel))
            p = predict_proba(path, te.x, te.beats.rhythm, runtime="tflm")
            probs[name] = p
            rep_ = metrics.report(te.beats.y, p.argmax(1), list(ds.labels))
            out["variants"][name] = {"bytes": path.stat().st_size, "report": rep_}
    a, b = (probs[n].argmax(1) for n in VARIANTS)
    out["class_differs"] = int((a != b).sum())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run directories with a student.keras")
    ap.add_argument("--out", type=Path, required=True, help="JSON file to write")
    ap.add_argument("--data", type=Path, help="MIT-BIH folder, instead of the runs' own")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    results = [measure(r, args.data) for r in args.runs]
    print("| run | split | dense scales | bytes | acc % | macro-F1 % | per class Se / +P / F1 |")
    print("|---|---|---|---:|---:|---:|---|")
    for res in results:
        for name, v in res["variants"].items():
            r = v["report"]
            cls = "; ".join(
                f"{lab} {_pct(c['se'])}/{_pct(c['ppv'])}/{_pct(c['f1'])}"
                for lab, c in r["per_class"].items()
                if c["support"]
            )
            print(
                f"| {res['run']} | {res['split']} | {name} | {v['bytes']:,} | "
                f"{100 * r['accuracy']:.2f} | {100 * r['macro_f1']:.2f} | {cls} |"
            )
        print(
            f"(class differs between the two on {res['class_differs']} of "
            f"{res['test_beats']} test beats)"
        )
    write_json(
        args.out,
        {
            "command": "python scripts/bench_dense_quantization.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "results": results,
            "seconds": round(time.monotonic() - t0, 1),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
