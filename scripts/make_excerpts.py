#!/usr/bin/env python3
"""Cut the short MIT-BIH excerpts bundled with tinyecg (tests and the out-of-the-box demo).

Each excerpt is a contiguous segment of a real record, written with wfdb in the original
format (212, both leads, reference annotations shifted to the segment). The segment start is
chosen to hold as many beats of the record's rarest wanted class as possible, so every class
(N, L, R, A, V) appears and both halves of the de Chazal split are represented.

    python scripts/make_excerpts.py --data ../shared/data/mitdb --out tinyecg/data/excerpts/mitdb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import wfdb

from tinyecg.spec import FS

# record -> (minutes, classes whose beats the segment should favour)
EXCERPTS = {
    # DS1 (training half of the inter-patient split)
    "109": (3, "LV"),
    "118": (3, "RAV"),
    "201": (3, "AV"),
    "207": (3, "LRV"),
    "208": (3, "V"),
    "114": (2, "V"),  # 114: MLII is channel 1
    # DS2 (test half)
    "100": (3, "A"),
    "119": (3, "V"),
    "212": (3, "R"),
    "214": (3, "LV"),
    "232": (3, "AR"),
    "231": (2, "R"),
    # no MLII lead, paced: only to test that such records are skipped
    "102": (1, "N"),
}


def best_start(ann, classes: str, length: int, total: int) -> int:
    """Start sample (whole seconds) whose segment holds the most beats of `classes`."""
    wanted = np.array([s in classes for s in ann.symbol])
    samples = np.asarray(ann.sample)[wanted]
    best, best_count = 0, -1
    for start in range(0, total - length, FS * 10):
        count = int(((samples >= start) & (samples < start + length)).sum())
        if count > best_count:
            best, best_count = start, count
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the full MIT-BIH database")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, (minutes, classes) in EXCERPTS.items():
        base = str(Path(args.data) / name)
        header = wfdb.rdheader(base)
        ann = wfdb.rdann(base, "atr")
        length = minutes * 60 * FS
        start = best_start(ann, classes, length, header.sig_len)
        rec = wfdb.rdrecord(base, sampfrom=start, sampto=start + length, physical=False)
        rec.record_name = name
        rec.comments = list(rec.comments or []) + [
            f"tinyecg excerpt of MIT-BIH record {name}: samples {start}-{start + length}"
        ]
        rec.wrsamp(write_dir=str(out))
        seg = wfdb.rdann(base, "atr", sampfrom=start, sampto=start + length - 1, shift_samps=True)
        seg.record_name = name
        seg.wrann(write_dir=str(out))
        counts = {c: int(sum(1 for s in seg.symbol if s == c)) for c in "NLRAV"}
        lines.append(
            f"| {name} | {start} | {start + length} | {minutes} | "
            + " | ".join(str(counts[c]) for c in "NLRAV")
            + " |"
        )
        print(name, start, counts)
    (out / "RECORDS").write_text("\n".join(EXCERPTS) + "\n")
    (out / "EXCERPTS.md").write_text(
        "| record | from sample | to sample | minutes | N | L | R | A | V |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
