"""Record-wise cross-validation of the shockable-rhythm detectors on vfdb + cudb + mitdb.

    PYTHONPATH=. nice -n 10 python3 scripts/bench_rhythm.py [--data ../shared/data]

Every record present is used (the withheld ones are absent from ../shared/data; paced
MIT-BIH records are skipped: 44 non-paced mitdb, 17 vfdb, 30 cudb). Folds: 5, by record
(tinyecg.data.rhythm.folds_by_record, seed 0). TCSC's threshold is fitted on the four
training folds of each test fold (balanced accuracy of TCSC > t with the amplitude gate on
training windows); the literature threshold (48 %) and the fit on all records (the one
`tinyecg evaluate --task rhythm` uses) are reported beside it. Prints the table and writes
docs/bench/rhythm.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg import aed_metrics  # noqa: E402
from tinyecg.data.rhythm import NON_SHOCKABLE, SHOCKABLE, WC, folds_by_record  # noqa: E402
from tinyecg.dsp import vf_detectors as vfd  # noqa: E402
from tinyecg.stages.rhythm_evaluate import load_folder, tcsc_values  # noqa: E402

DATABASES = ("vfdb", "cudb", "mitdb")
FOLDS = 5


def training_windows(records, keys, values, gates, fold, k=None):
    """TCSC values, gates and shockable truth of the training windows of every record not
    in fold k (all records when k is None)."""
    v, g, y = [], [], []
    shock = [WC[c] for c in SHOCKABLE]
    trained = shock + [WC[c] for c in NON_SHOCKABLE]
    for key, r in zip(keys, records):
        if k is not None and fold[key] == k:
            continue
        m = np.isin(r.train_class, trained)
        v.append(values[key][m])
        g.append(gates[key][m])
        y.append(np.isin(r.train_class[m], shock))
    return np.concatenate(v), np.concatenate(g), np.concatenate(y)


def learned_cv(records, keys, fold, models_dir: Path, **overrides):
    """Per fold: teacher -> student -> int8 trained on the other folds' records; decisions
    of the float teacher, the float student and the int8 student (TFLM) on the fold."""
    from tinyecg.stages.rhythm_evaluate import RhythmModel
    from tinyecg.stages.rhythm_train import float_decisions, train_rhythm_models

    models_dir.mkdir(parents=True, exist_ok=True)
    cols = {
        "student int8 (TFLM) + gate, CV": {},
        "student float + gate, CV": {},
        "teacher float + gate, CV": {},
    }
    info = {}
    for k in range(FOLDS):
        t0 = time.time()
        trained = train_rhythm_models(
            [r for key, r in zip(keys, records) if fold[key] != k], **overrides
        )
        path = models_dir / f"fold{k}_student_int8.tflite"
        path.write_bytes(trained["int8"])
        int8 = RhythmModel(path)
        for key, r in zip(keys, records):
            if fold[key] == k:
                cols["student int8 (TFLM) + gate, CV"][key] = int8.decisions(r)
                cols["student float + gate, CV"][key] = float_decisions(trained["student"], r)
                cols["teacher float + gate, CV"][key] = float_decisions(trained["teacher"], r)
        info[k] = trained["info"]
        print(
            f"fold {k}: trained and scored in {time.time() - t0:.0f} s", file=sys.stderr, flush=True
        )
    return cols, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "rhythm.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--learned",
        action="store_true",
        help="also train teacher -> student -> int8 on each fold's training "
        "records and score them on its test records (~40 min on 2 cores)",
    )
    ap.add_argument(
        "--models",
        type=Path,
        default=Path("/tmp/tinyecg_rhythm_models"),
        help="where --learned writes each fold's int8 student",
    )
    ap.add_argument("--teacher-epochs", type=int, default=None)
    ap.add_argument("--student-epochs", type=int, default=None)
    ap.add_argument("--patience", type=int, default=None)
    args = ap.parse_args()
    t0 = time.time()
    records, skipped = [], {}
    for db in DATABASES:
        recs, sk = load_folder(args.data / db)
        records += recs
        skipped.update({f"{db}/{k}": why for k, why in sk.items()})
    keys = [f"{r.database}/{r.name}" for r in records]
    print(f"{len(records)} records loaded in {time.time() - t0:.0f} s", file=sys.stderr)
    values, gates = {}, {}
    for key, r in zip(keys, records):
        values[key], gates[key] = tcsc_values(r)
    fold = folds_by_record(records, FOLDS, args.seed)
    cv, thresholds = {}, {}
    for k in range(FOLDS):
        thr = vfd.fit_threshold(*training_windows(records, keys, values, gates, fold, k))
        thresholds[k] = round(thr, 3)
        for key in keys:
            if fold[key] == k:
                cv[key] = vfd.tcsc_decisions(values[key], gates[key], thr)
    thr_all = vfd.fit_threshold(*training_windows(records, keys, values, gates, fold))
    columns = {
        "TCSC + gate, CV threshold": cv,
        f"TCSC + gate, literature {vfd.TCSC_LITERATURE:g}": {
            k: vfd.tcsc_decisions(values[k], gates[k], vfd.TCSC_LITERATURE) for k in keys
        },
        f"TCSC + gate, all-record fit {thr_all:.3g} (in-sample)": {
            k: vfd.tcsc_decisions(values[k], gates[k], thr_all) for k in keys
        },
    }
    learned_info = {}
    if args.learned:
        overrides = {
            k: v
            for k, v in (
                ("teacher_epochs", args.teacher_epochs),
                ("student_epochs", args.student_epochs),
                ("patience", args.patience),
            )
            if v is not None
        }
        learned, learned_info = learned_cv(records, keys, fold, args.models, **overrides)
        columns = {**learned, **columns}
    results = {name: aed_metrics.score(records, dec) for name, dec in columns.items()}
    by_db = {}
    for name in [n for n in columns if "CV" in n]:
        for db in DATABASES:
            by_db[f"{db}, {name}"] = aed_metrics.score(
                [r for r in records if r.database == db],
                {k: columns[name][k] for k in keys if k.startswith(db + "/")},
            )
    table = aed_metrics.markdown_table(results)
    print(table)
    print("Cross-validated detectors per database:\n")
    print(aed_metrics.markdown_table(by_db))
    cv_names = [n for n in columns if "CV" in n]
    mitdb_fa = {
        name: by_db[f"mitdb, {name}"]["alarm"]["false_alarms_per_record"] for name in cv_names
    }
    out = {
        "command": "PYTHONPATH=. nice -n 10 python3 scripts/bench_rhythm.py"
        + "".join(f" {a}" for a in sys.argv[1:] if not a.startswith("/")),
        "records": len(records),
        "databases": {db: sum(r.database == db for r in records) for db in DATABASES},
        "skipped": skipped,
        "folds": {k: fold[k] for k in keys},
        "cv_thresholds": thresholds,
        "threshold_all_records": round(thr_all, 3),
        "detectors": {
            n: {"classes": r["classes"], "alarm": r["alarm"]} for n, r in results.items()
        },
        "cv_by_database": {
            db: {"classes": r["classes"], "alarm": r["alarm"]} for db, r in by_db.items()
        },
        "cv_mitdb_false_alarms": mitdb_fa,
        "cv_episodes": {
            name: {
                k: v["episodes"]
                for k, v in results[name]["alarm_per_record"].items()
                if v["episodes"]
            }
            for name in cv_names
        },
        "learned": learned_info,
        "seconds": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"wrote {args.out} ({time.time() - t0:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
