#!/usr/bin/env python3
"""The fixed-point preprocessing against the float reference over every beat of whole records.

    python scripts/bench_preprocess.py [--data DIR] [--scale 0.05] [--zero-point -20]
           [--json PATH] [records ...]

For every beat window (AAMI label set, window inside the record) of each record:
tinyecg.dsp.fixedpoint.preprocess_windows_int (the integer reference the C library equals bit
for bit) beside the float reference tinyecg.dsp.denoise in float64, one line per record and
the totals: z-score SNR 10 log10(sum z_float^2 / sum (z_fixed - z_float)^2), the largest
absolute z error, the fraction of int8 model inputs that agree exactly, the largest int8
difference, and the integer pipeline's seconds. docs/preprocessing.md quotes the totals over
the 46 MLII records (20-45 s).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.dsp import fixedpoint as fp  # noqa: E402
from tinyecg.errors import TinyECGError  # noqa: E402
from tinyecg.run import write_json  # noqa: E402

KEYS = ("n", "sig", "noise", "err", "agree", "vals", "dq", "t")


def measure_records(
    records: list[str] | None = None,
    data_dir: str | None = None,
    scale: float = 0.05,
    zp: int = -20,
    echo=print,
) -> dict:
    """Fixed vs float over every beat window of whole records: one line per record through
    echo; returns the totals (snr_db, max_abs_err, int8_agreement, int8_max_diff, windows,
    seconds for the integer pipeline) and the per-record rows."""
    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import list_records, load_record, resolve_data_dir

    root = resolve_data_dir(data_dir)
    params = fp.preprocess_params(scale, zp)
    records = records or list_records(root)
    echo(f"input scale {scale}, zero point {zp}; data {root}")
    echo(
        f"{'record':>6} {'beats':>6} {'SNR dB':>8} {'max|dz|':>10} {'int8 agree':>11} "
        f"{'max dq':>6} {'int s':>6}"
    )
    tot = {key: 0.0 if key in ("sig", "noise", "err", "t") else 0 for key in KEYS}
    rows = {}

    def row(name, n, sig, noise, err, agree, vals, dq, dt) -> dict:
        snr = 10.0 * math.log10(sig / noise) if noise else math.inf
        echo(f"{name:>6} {n:>6} {snr:8.1f} {err:10.2e} {agree / vals:11.5f} {dq:>6} {dt:6.2f}")
        return {
            "beats": int(n),
            "snr_db": snr,
            "max_abs_err": err,
            "int8_agreement": agree / vals,
            "int8_max_diff": int(dq),
            "seconds": dt,
        }

    for name in records:
        rec = load_record(root, name)
        if rec is None:
            continue
        beats = beats_from_record(rec, labels="aami")
        if len(beats) == 0:
            continue
        gain = int(round(float(rec.gain)))
        t0 = time.perf_counter()
        q = fp.preprocess_windows_int(beats.raw, rec.baseline, gain, params)
        dt = time.perf_counter() - t0
        z = fp.zscore_windows_int(beats.raw, rec.baseline, gain)
        zf = fp.zscore_windows_float(beats.raw, rec.baseline, gain)
        qf = fp.quantize_float(zf, scale, zp)
        vals = (
            len(beats),
            float(np.sum(zf * zf)),
            float(np.sum((z - zf) ** 2)),
            float(np.abs(z - zf).max()),
            int(np.sum(q == qf)),
            q.size,
            int(np.abs(q.astype(int) - qf).max()),
            dt,
        )
        rows[name] = row(name, *vals)
        for key, v in zip(KEYS, vals):
            tot[key] = max(tot[key], v) if key in ("err", "dq") else tot[key] + v
    if not tot["n"]:
        raise TinyECGError(f"{root}: no beats found in {', '.join(records)}")
    total = row("all", *tot.values())
    return {
        "snr_db": total["snr_db"],
        "max_abs_err": tot["err"],
        "int8_agreement": total["int8_agreement"],
        "int8_max_diff": int(tot["dq"]),
        "windows": int(tot["n"]),
        "seconds": tot["t"],
        "records": rows,
        "params": {"input_scale": scale, "input_zero_point": zp},
        "data": str(root),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("records", nargs="*", help="record names (default: all in --data)")
    ap.add_argument(
        "--data",
        default=None,
        help="MIT-BIH folder (default: $TINYECG_DATA or the bundled excerpts)",
    )
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--zero-point", type=int, default=-20)
    ap.add_argument("--json", default="", help="also write the figures as JSON to this path")
    args = ap.parse_args(argv)
    try:
        result = measure_records(args.records, args.data, args.scale, args.zero_point)
    except TinyECGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
