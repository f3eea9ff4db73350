#!/usr/bin/env python3
"""Score the board's whole beat path on MIT-BIH: C detector -> C beat assembly -> fixed-point
preprocessing -> int8 model in TFLM, beside the same model on the annotated R-peaks.

    python scripts/bench_device_path.py --run runs/X --model student_int8 \\
        --data ../shared/data/mitdb --out device.json

Records: the run's test records (inter split: DS2), or every record of the run (intra split;
every summary is then repeated on the test split's beats alone, and none of it is a
generalisation figure: the model trained on other beats of the same patients). Prints a
per-record table and the totals, writes JSON {"meta", "per_record", "total"} (see
tinyecg.device.device_path.evaluate_device_path). About 1.5 ms of one core per beat and path.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.data.records import DS2  # noqa: E402
from tinyecg.device.device_path import evaluate_device_path  # noqa: E402
from tinyecg.errors import TinyECGError  # noqa: E402
from tinyecg.run import read_config, run_model, write_json  # noqa: E402


def _pct(v) -> str:
    return "     -" if v is None else f"{100 * v:6.2f}"


def run_records(cfg: dict) -> list[str]:
    split = cfg.get("split", {})
    if split.get("name") == "inter":
        test = (split.get("records") or {}).get("test")
        return list(test) if test else list(DS2)
    return list(cfg["data"]["records"])


def print_report(res: dict) -> None:
    per, t = res["per_record"], res["total"]
    print(
        f"{'rec':>4} {'beats':>6} {'FP':>4} {'FN':>4} {'Se%':>6} {'+P%':>6} {'|off|':>5} "
        f"{'det%':>6} {'fix%':>6} {'flt%':>6} {'RRmis':>5} {'2s':>3}"
    )
    for name, r in per.items():
        q = r["qrs"]
        print(
            f"{name:>4} {q['tp'] + q['fn']:>6} {q['fp']:>4} {q['fn']:>4} {_pct(q['se'])} "
            f"{_pct(q['ppv'])} {r['offsets'].get('mean_abs', 0):5.2f} "
            f"{_pct(r['accuracy_detected'])} {_pct(r['accuracy_annotated_fixed'])} "
            f"{_pct(r['accuracy_annotated_float'])} {r['rr_check']['mismatches']:>5} "
            f"{r['rr_check']['timeouts']:>3}"
        )
    for key in ("qrs", "qrs_ec57"):
        q = t[key]
        print(
            f"{key}: TP {q['tp']} FP {q['fp']} FN {q['fn']}  Se {_pct(q['se'])} %  "
            f"+P {_pct(q['ppv'])} %"
        )
    o = t["offsets"]
    print(
        f"R-peak offset (detected - annotated, samples): mean {o['mean']:+.2f}, mean |.| "
        f"{o['mean_abs']:.2f}, within 1/2/5: {_pct(o['within_1'])} {_pct(o['within_2'])} "
        f"{_pct(o['within_5'])} %"
    )
    print(
        f"RR context: {t['rr_check']['beats']} device beats, Python rules vs C mismatches "
        f"{t['rr_check']['mismatches']}, completed by the 2 s rule or a new sequence "
        f"although a next peak came: {t['rr_check']['timeouts']}"
    )

    def classes(title, sec):
        print(f"\n{title}")
        print(
            f"{'path':<18} {'n':>6} {'acc%':>6} {'mF1%':>6}  "
            + "  ".join(f"{c + ' Se/+P':>13}" for c in sec["detected"]["labels"])
        )
        for path in ("detected", "annotated_fixed", "annotated_float"):
            rep = sec[path]
            cells = "  ".join(
                f"{_pct(m['se'])}/{_pct(m['ppv']).strip():>6}" for m in rep["per_class"].values()
            )
            print(
                f"{path:<18} {rep['n']:>6} {_pct(rep['accuracy'])} {_pct(rep['macro_f1'])}  "
                + cells
            )
        e2e = sec["detected"]["end_to_end"]
        print(
            "end to end Se% (correct / annotated, missed beats count as errors): "
            + ", ".join(f"{c} {_pct(v['se']).strip()}" for c, v in e2e.items())
        )
        p = sec["paired"]
        print(
            f"paired ({p['n']} beats both detected and annotated): accuracy annotated "
            f"{_pct(p['accuracy_annotated_fixed'])}, detected window + annotated RR "
            f"{_pct(p['accuracy_detected_window_annotated_rr'])}, detected "
            f"{_pct(p['accuracy_detected'])}; predictions changed "
            f"{_pct(p['prediction_changed'])} %"
        )

    classes("All matched / annotated beats", t)
    if "false_beats" in t["detected"]:
        print(
            "false beats by predicted class: "
            + ", ".join(f"{c} {n}" for c, n in t["detected"]["false_beats"].items())
        )
    if "test_split_only" in t:
        classes(
            "Test-split beats only (intra split: NOT a generalisation figure)", t["test_split_only"]
        )
    print(
        "\naccuracy by |offset| (paired beats): "
        + "; ".join(
            f"{r['abs_offset']}: n {r['n']} det {_pct(r['accuracy_detected']).strip()} "
            f"ann {_pct(r['accuracy_annotated_fixed']).strip()}"
            for r in t["offset_effect"]
        )
    )
    for r in t.get("shift_effect", []):
        print(
            f"annotated windows shifted {r['shift']:+d}: accuracy {_pct(r['accuracy'])} "
            f"(unshifted {_pct(r['accuracy_unshifted'])}), macro F1 {_pct(r['macro_f1'])} "
            f"({_pct(r['macro_f1_unshifted'])}), predictions changed "
            f"{_pct(r['prediction_changed'])} %"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="run directory (config.json and the model)")
    ap.add_argument(
        "--model",
        default="student_int8",
        help="int8 model of the run (a name, or 'int8': the run's preferred one), or a path",
    )
    ap.add_argument("--data", default=None, help="MIT-BIH folder (default: the run's)")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument(
        "--labels",
        choices=("nlrav", "aami"),
        default=None,
        help="label set to score in (default: the run's)",
    )
    ap.add_argument("--records", nargs="*", help="only these records")
    ap.add_argument(
        "--shifts",
        default="-5,-2,2,5",
        help="annotated-window shifts (samples) for the misalignment experiment, "
        "comma separated; '' for none",
    )
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        run_dir = Path(args.run)
        cfg = read_config(run_dir)
        model = run_model(run_dir, args.model, config=cfg, suffixes=(".tflite",))
        if model.suffix != ".tflite":
            raise TinyECGError(f"{model}: the device path needs an int8 .tflite model")
        records = args.records or run_records(cfg)
        labels = args.labels or cfg["data"]["labels"]
        shifts = tuple(int(s) for s in args.shifts.split(",") if s.strip())
        t0 = time.time()
        res = evaluate_device_path(
            model,
            records,
            args.data or cfg["data"]["dir"],
            labels=labels,
            config=cfg,
            shifts=shifts,
        )
    except TinyECGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    res["meta"]["seconds"] = round(time.time() - t0, 1)
    res["meta"]["command"] = "python scripts/bench_device_path.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    res["meta"]["run"] = str(run_dir)
    print_report(res)
    print(f"\n{len(res['per_record'])} records in {res['meta']['seconds']} s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
