"""What the shockable decision's threshold and the alarm's run length buy, on the
cross-validated int8 students of `scripts/bench_rhythm.py --learned`.

    PYTHONPATH=. nice -n 10 python3 scripts/bench_rhythm.py --learned   # writes the fold models
    PYTHONPATH=. python3 scripts/bench_rhythm_operating_points.py [--models DIR]

Each record is scored by the model of its own fold (folds as bench_rhythm.py: 5, by record,
seed 0), in the TFLM host interpreter, with the amplitude gate. A window is shockable when
the dequantized shockable output reaches the threshold (the device's argmax is the row
"argmax"). The run length is the number of consecutive shockable decisions that sound the
alarm (the device: spec.ALARM_CONSECUTIVE). The threshold is one number read off this curve
of the same CV predictions, so a point chosen here is in-sample for that number; the table is
there to show what the trade-off allows, not to pick a better-looking figure.
Prints the table and writes docs/bench/rhythm_operating_points.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg import aed_metrics  # noqa: E402
from tinyecg.data.rhythm import folds_by_record  # noqa: E402
from tinyecg.models.int8 import Int8Model  # noqa: E402
from tinyecg.models.tflite import load_model  # noqa: E402
from tinyecg.spec import ALARM_CONSECUTIVE, SHOCKABLE_OUTPUT  # noqa: E402
from tinyecg.stages.rhythm_evaluate import RhythmModel, load_folder  # noqa: E402

DATABASES = ("vfdb", "cudb", "mitdb")
FOLDS = 5
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
RUNS = (2, ALARM_CONSECUTIVE, 4)


def row(records, decisions, run: int) -> dict:
    res = aed_metrics.score(records, decisions, run)
    c, a = res["classes"], res["alarm"]
    mitdb_fa = sum(v for k, v in a["false_alarms_per_record"].items() if k.startswith("mitdb/"))
    return {
        "shockable_se": c["shockable"]["value"],
        "vf_coarse_se": c["VF_coarse"]["value"],
        "vt_rapid_se": c["VT_rapid"]["value"],
        "nsr_sp": c["NSR"]["value"],
        "other_sp": c["OTHER"]["value"],
        "asystole_sp": c["ASYS"]["value"],
        "alarm_within_10s_pct": a["alarmed_within_10s_pct"],
        "missed_episodes": a["missed"],
        "false_alarms": a["false_alarms"],
        "mitdb_false_alarms": mitdb_fa,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--models", type=Path, default=Path("/tmp/tinyecg_rhythm_models"))
    ap.add_argument("--out", type=Path, default=ROOT / "docs/bench/rhythm_operating_points.json")
    args = ap.parse_args()
    t0 = time.time()
    paths = [args.models / f"fold{k}_student_int8.tflite" for k in range(FOLDS)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        sys.exit(f"error: {missing[0]}: missing (run scripts/bench_rhythm.py --learned first)")
    records = []
    for db in DATABASES:
        records += load_folder(args.data / db)[0]
    keys = [f"{r.database}/{r.name}" for r in records]
    fold = folds_by_record(records, FOLDS, 0)
    models = [RhythmModel(p) for p in paths]
    out_q = [Int8Model(load_model(p), task=None).output for p in paths]
    prob, argmax, gate = {}, {}, {}
    for key, r in zip(keys, records):
        k = fold[key]
        q, g = models[k].outputs(r)
        p = out_q[k].dequantize(q)
        prob[key] = p[:, SHOCKABLE_OUTPUT]
        argmax[key] = q.argmax(1) == SHOCKABLE_OUTPUT
        gate[key] = g
    print(f"{len(records)} records scored in {time.time() - t0:.0f} s", file=sys.stderr)
    table = {}
    for run in RUNS:
        table[f"argmax, run {run}"] = row(records, {k: argmax[k] & gate[k] for k in keys}, run)
        for t in THRESHOLDS:
            table[f"p >= {t:g}, run {run}"] = row(
                records, {k: (prob[k] >= t) & gate[k] for k in keys}, run
            )
    cols = list(next(iter(table.values())))
    print("| operating point | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))

    def fmt(v):
        if isinstance(v, dict):
            return "/".join("-" if x is None else f"{x:.1f}" for x in v.values())
        return "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))

    for name, r in table.items():
        print(f"| {name} | " + " | ".join(fmt(r[c]) for c in cols) + " |")
    doc = {
        "command": "PYTHONPATH=. python3 scripts/bench_rhythm_operating_points.py",
        "models": "the fold models of `scripts/bench_rhythm.py --learned` (docs/bench/rhythm.json)",
        "alarm_within_10s_pct": "VF/VT/all",
        "operating_points": table,
        "seconds": round(time.time() - t0, 1),
    }
    args.out.write_text(json.dumps(doc, indent=1, default=float) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
