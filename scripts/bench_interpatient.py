#!/usr/bin/env python3
"""The patient recipe, inter-patient: train on DS1, report on DS2 (de Chazal et al. 2004,
AAMI N/S/V/F; Q beats neither trained nor scored), as `tinyecg pipeline --split inter
--recipe patient` runs it.

    PYTHONPATH=. nice -n 10 python3 scripts/bench_interpatient.py [--data ../shared/data/mitdb]
        [--seed 0] [--out runs/interpatient_s0] [--local]

Trains the teacher, the distilled student (and the same student on hard labels only) and the
int8 student from scratch; reports per-class Se / +P / F1 and the confusion matrix of each
side by side (float in Keras, int8 in the TFLM host runtime with the template recomputed in
integers from the int8 windows, annotated R-peaks), their sizes (parameters, MACs per beat,
flatbuffer bytes, TFLM arena) and the wall time of every stage. --local also runs today's
recipe (`--recipe local`) on the same split for comparison; without it, the committed
figures of docs/compression.md are quoted. Prints a table and writes
docs/bench/interpatient.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.stages.patient_recipe import CLASSES, PATIENT  # noqa: E402
from tinyecg.stages.pipeline import pipeline  # noqa: E402

# docs/compression.md, "Inter-patient split": today's recipe, int8 student in TFLM on DS2
# (AAMI, 49,687 beats; Se / +P / F1 %), quoted when --local is not given
LOCAL_COMMITTED = {
    "source": "docs/compression.md (today's recipe, student_int8 in TFLM)",
    "V": [90.06, 61.74, 73.26],
    "S": [8.87, 4.51, 5.98],
}
# scripts/research/interpatient/REPORT.md: final2, mean of 2 seeds, int8 TFLM, annotated peaks
RESEARCH_FINAL2 = {
    "source": "scripts/research/interpatient/REPORT.md (final2, int8 TFLM, mean of 2 seeds)",
    "N": [95.1, 98.8, 96.9],
    "S": [80.2, 55.0, 65.2],
    "V": [90.7, 89.3, 90.0],
    "F": [24.7, 9.4, 13.4],
}


def _pct(v) -> str:
    return "    -" if v is None else f"{100 * v:5.1f}"


def table(rows: list[dict]) -> str:
    head = f"{'model':<14}{'runtime':<12}" + "".join(f"{c + ' Se/+P/F1':>22}" for c in CLASSES)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = ""
        for c in CLASSES:
            m = r["per_class"][c]
            cells += f"   {_pct(m['se'])} /{_pct(m['ppv'])} /{_pct(m['f1'])}"
        lines.append(f"{r['model']:<14}{r['runtime']:<12}{cells}")
    lines.append("")
    lines.append(f"{'model':<14}{'params':>9}{'MACs/beat':>12}{'flatbuffer B':>14}{'arena B':>10}")
    for r in rows:
        arena = r["arena_bytes"] if r["arena_bytes"] else "-"
        lines.append(
            f"{r['model']:<14}{r['params'] or '-':>9}{r['macs'] or '-':>12}"
            f"{r['flatbuffer_bytes']:>14}{arena:>10}"
        )
    lines.append("")
    for r in rows:
        lines.append(f"confusion {r['model']} (rows N S V F annotated): {r['confusion']}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.environ.get("TINYECG_FULL_DATA") or str(ROOT.parent / "shared/data/mitdb")
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="run directory (default runs/interpatient_sSEED)")
    ap.add_argument("--local", action="store_true", help="also run today's recipe")
    ap.add_argument("--json", default=str(ROOT / "docs/bench/interpatient.json"))
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    out = Path(a.out or ROOT / f"runs/interpatient_s{a.seed}")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    res = pipeline(
        out, data=a.data, split="inter", labels="aami", recipe="patient", seed=a.seed, force=True
    )
    wall = time.perf_counter() - t0
    load_after = os.getloadavg()
    cfg = json.loads((out / "config.json").read_text())
    rows = res["bench"]
    print(table(rows))
    print(f"\nwall time {wall:.0f} s; stages {res['seconds']}; load {load_before} -> {load_after}")
    result = {
        "what": "patient recipe (final2), DS1 -> DS2, AAMI N/S/V/F, Q not scored",
        "command": "tinyecg pipeline --data MITDB --split inter --recipe patient "
        f"--seed {a.seed} --out RUN",
        "seed": a.seed,
        "settings": PATIENT,
        "records": cfg["split"]["records"],
        "training": cfg.get("patient"),
        "representative": (cfg.get("quantize") or {}).get("representative"),
        "models": rows,
        "seconds": {"wall": round(wall, 1), **res["seconds"]},
        "load_average": {"before": load_before, "after": load_after},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "research_final2": RESEARCH_FINAL2,
    }
    if a.local:
        lout = out.with_name(out.name + "_local")
        t1 = time.perf_counter()
        lres = pipeline(lout, data=a.data, split="inter", labels="aami", seed=a.seed, force=True)
        result["local_recipe"] = {
            "models": lres["bench"],
            "seconds": {"wall": round(time.perf_counter() - t1, 1), **lres["seconds"]},
        }
    else:
        result["local_recipe_committed"] = LOCAL_COMMITTED
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
