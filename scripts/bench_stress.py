#!/usr/bin/env python3
"""Noise stress benchmark of the device: detector, classifier and quality flag against SNR.

    python scripts/bench_stress.py --data ../shared/data/mitdb [--records 118,119,...]
           [--kinds bw,ma,em] [--snrs 24,18,12,6,0,-6] [--seed 0] [--clean all]
           [--compare] [--define NAME=VALUE ...] [--jobs 2] [--json docs/bench/stress.json]
           [--plot docs/img/stress.png]

1. Stress: every record of --records (default: the test records, TEST_RECORDS below; the
   quality thresholds were chosen on DEV_RECORDS, which are left out) is turned into
   nstdb-style noise-stress records (tinyecg.data.noise: noise in alternating two-minute
   blocks after a clean five minutes, SNR on nst's QRS-amplitude definition) for every kind
   and SNR, and replayed through the device path (tinyecg.device.stress: the C core in the
   host harness, fixed-point preprocessing, the shipped int8 model in TFLM). Counts are
   summed over the records; rates are those of the noisy blocks (and the share of beats
   flagged in the clean blocks between them).
2. Clean (--clean all, the default; --clean none skips it): every record of --data replayed
   as it is, with its own ADC range, as bench_detector.py does: QRS Se/+P of all detections,
   the share of beats flagged, and the device-path accuracy of the shipped model on the
   matched labelled beats (all of them, and the unflagged ones).
3. --compare: parts 1 and 2 again with the detector's noise mode switched off
   (-DTINYECG_DET_NOISY_RR=0: the detector of before the index, whatever the signal), to
   show what it changes.

Prints tables, writes JSON and a plot (Se, +P of all and of unflagged detections; right,
wrong and flagged labels; against SNR, one column per noise kind).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.device import detect, stress  # noqa: E402
from tinyecg.metrics import add_scores, match_beats, score_detections  # noqa: E402
from tinyecg.run import write_json  # noqa: E402

# Thresholds of the quality index were chosen on these (docs/quality.md) ...
DEV_RECORDS = ("100", "106", "109", "116", "201", "208", "212", "215")
# ... and are reported on these: nstdb's 118 and 119, and other records whose clean
# analysis is nearly error-free (nst's advice), with LBBB (214), RBBB (118), frequent
# ventricular (119, 200, 223, 233), supraventricular (209, 223) beats and atrial fibrillation
# (219, 221).
TEST_RECORDS = (
    "118",
    "119",
    "103",
    "117",
    "122",
    "200",
    "209",
    "213",
    "214",
    "219",
    "221",
    "223",
    "230",
    "233",
)
NO_NOISE_MODE = ("-DTINYECG_DET_NOISY_RR=0",)

_EXE: dict = {}


def _harness(flags: tuple) -> Path:
    if flags not in _EXE:
        tmp = tempfile.mkdtemp(prefix="tinyecg-bench-stress-")
        _EXE[flags] = detect.build_host_harness(Path(tmp) / "host", extra_flags=list(flags))
    return _EXE[flags]


def _stress_one(args) -> dict:
    path, kinds, snrs, seed, flags = args
    return stress.stress_record(path, kinds=kinds, snrs=snrs, seed=seed, exe=_harness(flags))


def _clean_one(args) -> dict:
    """One clean record with its own ADC range: counts of all detections and beats."""
    path, flags = args
    clf = _classifier()
    ref = stress.load_reference(path)
    lo, hi = ref.adc
    core = stress.run_core(ref.x, _harness(flags), lo, hi)
    ref_s, ref_c = ref.beats
    qrs = score_detections(ref_s, core.peaks)
    pred = clf.predict(ref.x, core.beat_r, core.beat_rr, ref.baseline, ref.gain)
    match = match_beats(ref_s, core.beat_r)
    right = wrong = right_u = wrong_u = 0
    for i in np.flatnonzero(match >= 0):
        sym = ref_c[i]
        if sym not in clf.map:
            continue
        j = match[i]
        ok = clf.labels[pred[j]] == clf.map[sym]
        right += ok
        wrong += not ok
        if not core.beat_poor[j]:
            right_u += ok
            wrong_u += not ok
    return {
        "record": ref.name,
        "qrs": qrs,
        "beats": int(len(core.beat_r)),
        "flagged": int(core.beat_poor.sum()),
        "classes": {
            "right": right,
            "wrong": wrong,
            "right_unflagged": right_u,
            "wrong_unflagged": wrong_u,
        },
        "quality_poor_episodes": sum(s == "# quality poor" for s in core.status),
    }


_CLF = {}


def _classifier():
    if "clf" not in _CLF:
        _CLF["clf"] = stress.Classifier()
    return _CLF["clf"]


def run_stress(data: Path, records, kinds, snrs, seed, jobs, flags=()) -> dict:
    tasks = [(data / r, kinds, snrs, seed, tuple(flags)) for r in records]
    with ProcessPoolExecutor(jobs) as ex:
        results = list(ex.map(_stress_one, tasks))
    total = None
    for res in results:
        total = stress.add_counts(total, {"clean": res["clean"], "runs": res["runs"]})
    return {
        "per_record": {
            r["record"]: {"runs": r["runs"], "clean": r["clean"], "meta": r["meta"]}
            for r in results
        },
        "total": total,
    }


def run_clean(data: Path, jobs, flags=()) -> dict:
    names = sorted(p.stem for p in data.glob("*.hea"))
    with ProcessPoolExecutor(jobs) as ex:
        per = list(ex.map(_clean_one, [(data / n, tuple(flags)) for n in names]))
    qrs = add_scores([p["qrs"] for p in per])
    c = {k: sum(p["classes"][k] for p in per) for k in per[0]["classes"]}
    beats = sum(p["beats"] for p in per)
    flagged = sum(p["flagged"] for p in per)
    return {
        "records": len(per),
        "qrs": qrs,
        "beats": beats,
        "flagged": flagged,
        "flagged_share": flagged / beats if beats else None,
        "accuracy": c["right"] / max(1, c["right"] + c["wrong"]),
        "accuracy_unflagged": c["right_unflagged"]
        / max(1, c["right_unflagged"] + c["wrong_unflagged"]),
        "classes": c,
        "per_record": {p["record"]: p for p in per},
    }


def summary(total: dict) -> dict:
    """Rates of the noisy blocks per kind and SNR (and of the clean blocks' flags)."""
    out = {"clean_record": stress.rates(total["clean"]["noisy"])}
    for kind, per in total["runs"].items():
        out[kind] = {}
        for snr, counts in per.items():
            r = stress.rates(counts["noisy"])
            r["flagged_clean_blocks"] = stress.rates(counts["clean"])["flagged"]
            r["se_clean_blocks"] = stress.rates(counts["clean"])["se"]
            out[kind][snr] = r
    return out


def print_table(total: dict, title: str) -> None:
    print(f"\n{title}")
    print(stress.table(total))


def plot(summ: dict, path: Path, compare: dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in summ if k != "clean_record"]
    fig, axes = plt.subplots(
        2, len(kinds), figsize=(4.2 * len(kinds), 7), sharey="row", squeeze=False
    )
    names = {"bw": "baseline wander", "ma": "muscle artefact", "em": "electrode motion"}
    for col, kind in enumerate(kinds):
        snrs = sorted(summ[kind], key=float)
        x = [float(s) for s in snrs]
        get = lambda key, d=summ, kind=kind, snrs=snrs: [  # noqa: E731
            100 * (d[kind][s][key] or 0) for s in snrs
        ]
        ax = axes[0][col]
        ax.plot(x, get("se"), "o-", label="Se, all detections")
        ax.plot(x, get("ppv"), "s-", label="+P, all detections")
        ax.plot(x, get("ppv_unflagged"), "^-", label="+P, detections not flagged")
        if compare is not None:
            ax.plot(x, get("ppv", compare), "s:", color="gray", label="+P, no noise mode")
        ax.axhline(97, color="k", lw=0.6, ls="--")
        ax.set_title(f"{names.get(kind, kind)} ({kind})")
        ax.set_ylim(40, 101)
        ax.grid(alpha=0.3)
        ax = axes[1][col]
        ax.stackplot(
            x,
            get("right"),
            get("flagged_labelled"),
            get("wrong"),
            labels=["right", "flagged (U)", "wrong"],
            colors=["#7fbf7f", "#bfbfbf", "#e07b7b"],
            alpha=0.9,
        )
        ax.axhline(95, color="k", lw=0.6, ls="--")
        ax.set_xlabel("SNR (dB, nst definition)")
        ax.set_ylim(0, 100)
        ax.invert_xaxis()
        axes[0][col].invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("detector, noisy blocks (%)")
    axes[1][0].set_ylabel("labels of annotated beats,\nnoisy blocks (%)")
    axes[0][0].legend(fontsize=8, loc="lower left")
    axes[1][0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the MIT-BIH records")
    ap.add_argument(
        "--records",
        default=",".join(TEST_RECORDS),
        help="records to stress (default: the test records)",
    )
    ap.add_argument("--kinds", default="bw,ma,em")
    ap.add_argument("--snrs", default="24,18,12,6,0,-6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--clean",
        choices=("all", "none"),
        default="all",
        help="also score every record of --data without noise",
    )
    ap.add_argument(
        "--compare", action="store_true", help="also run with the detector's noise mode off"
    )
    ap.add_argument(
        "--define",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="compile the core with -DNAME=VALUE (threshold sweeps: "
        "TINYECG_Q_TH_H=390); repeatable",
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", default=str(ROOT / "docs/bench/stress.json"))
    ap.add_argument("--plot", default=str(ROOT / "docs/img/stress.png"))
    args = ap.parse_args(argv)
    data = Path(args.data)
    records = [r for r in args.records.split(",") if r]
    kinds = [k for k in args.kinds.split(",") if k]
    snrs = [float(s) for s in args.snrs.split(",") if s]
    t0 = time.time()
    result = {
        "command": "python scripts/bench_stress.py " + " ".join(argv or sys.argv[1:]),
        "records": records,
        "dev_records": list(DEV_RECORDS),
        "kinds": kinds,
        "snrs": snrs,
        "seed": args.seed,
    }
    flags = tuple(f"-D{d}" for d in args.define)
    result["defines"] = list(args.define)
    st = run_stress(data, records, kinds, snrs, args.seed, args.jobs, flags)
    result["stress"] = {
        "summary": summary(st["total"]),
        "total": st["total"],
        "per_record": st["per_record"],
    }
    print_table(
        st["total"],
        f"noisy blocks of {len(records)} records ({','.join(records)}), seed {args.seed}",
    )
    if args.compare:
        base = run_stress(data, records, kinds, snrs, args.seed, args.jobs, flags + NO_NOISE_MODE)
        result["stress_no_noise_mode"] = {"summary": summary(base["total"]), "total": base["total"]}
        print_table(base["total"], "the same, detector noise mode off")
    if args.clean == "all":
        cl = run_clean(data, args.jobs, flags)
        result["clean"] = cl
        q = cl["qrs"]
        print(
            f"\nclean, {cl['records']} records: QRS Se {100 * q['se']:.2f} +P "
            f"{100 * q['ppv']:.2f}; {cl['flagged']} of {cl['beats']} beats flagged "
            f"({100 * cl['flagged_share']:.2f} %); accuracy {100 * cl['accuracy']:.2f} % "
            f"(unflagged {100 * cl['accuracy_unflagged']:.2f} %)"
        )
        if args.compare:
            cb = run_clean(data, args.jobs, flags + NO_NOISE_MODE)
            result["clean_no_noise_mode"] = {k: v for k, v in cb.items() if k != "per_record"}
            q = cb["qrs"]
            print(
                f"clean, detector noise mode off: QRS Se {100 * q['se']:.2f} +P "
                f"{100 * q['ppv']:.2f}; accuracy {100 * cb['accuracy']:.2f} %"
            )
    result["seconds"] = round(time.time() - t0, 1)
    if args.json:
        write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    if args.plot:
        plot(
            result["stress"]["summary"],
            Path(args.plot),
            result.get("stress_no_noise_mode", {}).get("summary"),
        )
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
