#!/usr/bin/env python3
"""Score the firmware's C QRS detector (host build) on every MIT-BIH record.

    python scripts/bench_detector.py --data ../shared/data/mitdb --out detector.json

Each record's MLII channel (channel 0 when there is no MLII, as in 102 and 104) is replayed as
raw ADC integers through the host harness; detections are matched to the beat annotations
within 150 ms (wfdb compare_annotations). Prints a per-record table and writes JSON
{"total", "total_ec57", "per_record", ...}; "total_ec57" leaves out ventricular flutter
episodes ('[' .. ']', record 207), as ANSI/AAMI EC57 does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.device import detect  # noqa: E402
from tinyecg.run import write_json  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the MIT-BIH records")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--records", nargs="*", help="only these records (default: all)")
    args = ap.parse_args(argv)
    data = Path(args.data)
    records = args.records or sorted(p.stem for p in data.glob("*.hea"))
    if not records:
        print(f"{data}: no records", file=sys.stderr)
        return 2
    t0 = time.time()
    per, per_ec57 = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = detect.build_host_harness(tmp)
        print(
            f"{'rec':>4} {'ch':>2} {'beats':>6} {'TP':>6} {'FP':>5} {'FN':>5} "
            f"{'Se %':>7} {'+P %':>7}"
        )
        for rec in records:
            base = data / rec
            x, ch, (lo, hi) = detect.read_record(base)
            det = detect.detect_samples(x, exe=exe, adc_min=lo, adc_max=hi)
            ref = detect.reference_beats(base)
            s = detect.score_detections(ref, det)
            per[rec] = dict(s, channel=ch, beats=len(ref))
            flutter = detect.flutter_intervals(base)
            per_ec57[rec] = detect.score_detections(ref, det, exclude=flutter)
            print(
                f"{rec:>4} {ch:>2} {len(ref):>6} {s['tp']:>6} {s['fp']:>5} {s['fn']:>5} "
                f"{100 * s['se']:>7.2f} {100 * s['ppv']:>7.2f}"
            )
    total = detect.add_scores(per.values())
    total_ec57 = detect.add_scores(per_ec57.values())
    for name, t in (("total", total), ("EC57 (flutter excluded)", total_ec57)):
        print(
            f"{name}: TP {t['tp']} FP {t['fp']} FN {t['fn']}  "
            f"Se {100 * t['se']:.2f} %  +P {100 * t['ppv']:.2f} %"
        )
    result = {
        "total": total,
        "total_ec57": total_ec57,
        "per_record": per,
        "window_ms": 150,
        "records": len(records),
        "seconds": round(time.time() - t0, 1),
    }
    write_json(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
