#!/usr/bin/env python3
"""Foundation benchmark: dataset build time (cold and cached), teacher training time on this
machine, and the teacher's test reports on the intra split and the inter-patient split (five
classes and AAMI classes). Prints a table and writes JSON.

    python scripts/bench_foundation.py --data ../shared/data/mitdb --out docs/bench/foundation.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.run import write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="docs/bench/foundation.json")
    ap.add_argument("--runs", default="runs/bench-foundation")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from tinyecg.data.dataset import build_dataset
    from tinyecg.stages.evaluate import evaluate
    from tinyecg.stages.train import DEFAULTS, train

    epochs = args.epochs or DEFAULTS["epochs"]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["python"] + sys.argv),
        "dataset": {},
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TINYECG_CACHE"] = cache
        for labels in ("nlrav", "aami"):
            t = time.perf_counter()
            ds = build_dataset(Path(args.data), labels=labels)
            cold = time.perf_counter() - t
            t = time.perf_counter()
            build_dataset(Path(args.data), labels=labels)
            cached = time.perf_counter() - t
            result["dataset"][labels] = {
                "beats": len(ds),
                "records": len(ds.records),
                "cold_s": round(cold, 2),
                "cached_s": round(cached, 2),
            }
        for name, split, labels in (
            ("intra", "intra", "nlrav"),
            ("inter", "inter", "nlrav"),
            ("inter-aami", "inter", "aami"),
        ):
            run = Path(args.runs) / name
            t = time.perf_counter()
            train(
                run,
                data=args.data,
                split=split,
                labels=labels,
                epochs=epochs,
                force=True,
                quiet=True,
            )
            seconds = time.perf_counter() - t
            rep = evaluate(run, "teacher")
            cfg = json.loads((run / "config.json").read_text())
            result["runs"][name] = {
                "split": split,
                "labels": labels,
                "train_s": round(seconds, 1),
                "epochs_run": cfg["teacher"]["epochs_run"],
                "report": rep,
            }
    write_json(Path(args.out), result)
    print(
        "dataset: "
        + ", ".join(
            f"{k}: {v['beats']} beats, cold {v['cold_s']} s, cached {v['cached_s']} s"
            for k, v in result["dataset"].items()
        )
    )
    print(
        "| run | train s | epochs | accuracy | macro-F1 | "
        + " | ".join(f"{c} Se/+P" for c in ("N", "A/S", "V"))
        + " |"
    )
    for name, r in result["runs"].items():
        rep = r["report"]
        pc = rep["per_class"]
        cls = ["N", "A" if "A" in pc else "S", "V"]
        cells = [f"{100 * pc[c]['se']:.1f}/{100 * (pc[c]['ppv'] or 0):.1f}" for c in cls]
        print(
            f"| {name} | {r['train_s']} | {r['epochs_run']} | {rep['accuracy']:.4f} | "
            f"{rep['macro_f1']:.4f} | " + " | ".join(cells) + " |"
        )


if __name__ == "__main__":
    main()
