#!/usr/bin/env python3
"""C backend vs TFLM on every beat of a test split: the generated C with the tinyecg_nn kernels
(host gcc -O2) must give the same int8 output bytes as the TFLM host runtime for each beat.
Prints a table, writes JSON.

    python scripts/bench_cbackend_exact.py --data ../shared/data/mitdb \
        --model tinyecg/assets/default_model/model.tflite --split intra \
        --out docs/bench/cbackend_exact.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.run import write_json  # noqa: E402

DRIVER = r"""
#include <stdint.h>
#include <stdio.h>
#include "tinyecg_model.h"
/* stdin: records of input0 then input1 (int8); stdout: the output bytes of each record */
int main(void) {
    static int8_t in0[TINYECG_MODEL_INPUT0_SIZE], in1[TINYECG_MODEL_INPUT1_SIZE];
    static int8_t out[TINYECG_MODEL_OUTPUT_SIZE];
    while (fread(in0, 1, sizeof in0, stdin) == sizeof in0 &&
           fread(in1, 1, sizeof in1, stdin) == sizeof in1) {
        if (tinyecg_model_invoke(in0, in1, out) != 0) return 2;
        fwrite(out, 1, sizeof out, stdout);
    }
    return 0;
}
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="tinyecg/assets/default_model/model.tflite")
    ap.add_argument("--split", choices=["intra", "inter"], default="intra")
    ap.add_argument("--labels", choices=["nlrav", "aami"], default="nlrav")
    ap.add_argument("--out", default="docs/bench/cbackend_exact.json")
    args = ap.parse_args()

    from tinyecg.data.dataset import build_dataset
    from tinyecg.data.splits import make_split
    from tinyecg.export.cbackend import library_include, library_sources, write_c_backend
    from tinyecg.models.int8 import Int8Model
    from tinyecg.models.tflite import load_model
    from tinyecg.runtime.tflm import TFLMModel

    t0 = time.perf_counter()
    ds = build_dataset(Path(args.data), labels=args.labels)
    test = ds.subset(make_split(args.split, ds.beats.y, ds.beats.record, 0)["test"])
    data = Path(args.model).read_bytes()
    graph = load_model(data)
    tflm = TFLMModel(data)
    inputs = Int8Model(graph).quantize_inputs(beat=test.x, rhythm=test.beats.rhythm)
    ref = tflm.invoke_batch(*inputs).astype(np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_c_backend(graph, tmp / "gen", force=True)
        (tmp / "driver.c").write_text(DRIVER)
        exe = tmp / "driver"
        subprocess.run(
            [
                "gcc",
                "-std=c99",
                "-O2",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-Wconversion",
                "-I",
                str(tmp / "gen"),
                "-I",
                str(library_include()),
                str(tmp / "driver.c"),
                str(tmp / "gen" / "tinyecg_model.c"),
                *map(str, library_sources()),
                "-o",
                str(exe),
            ],
            check=True,
        )
        # invoke() takes the flatbuffer's input order: input0, input1
        flat = [np.asarray(x, np.int8).reshape(len(test), -1) for x in inputs]
        stream = np.concatenate(flat, axis=1).tobytes()
        proc = subprocess.run([str(exe)], input=stream, capture_output=True, check=True)
    got = np.frombuffer(proc.stdout, np.int8).reshape(len(test), -1)
    equal_rows = np.all(got == ref, axis=1)
    result = {
        "command": " ".join(["python"] + sys.argv),
        "model": str(args.model),
        "model_sha256": graph.sha256,
        "split": args.split,
        "labels": args.labels,
        "beats": int(len(test)),
        "identical_beats": int(equal_rows.sum()),
        "max_abs_lsb": int(np.abs(got.astype(int) - ref.astype(int)).max()) if len(test) else 0,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(Path(args.out), result)
    print("| model | split | beats | identical to TFLM | max |diff| LSB |")
    print("|---|---|---:|---:|---:|")
    print(
        f"| {Path(args.model).name} | {args.split} test | {result['beats']} | "
        f"{result['identical_beats']} | {result['max_abs_lsb']} |"
    )
    if result["identical_beats"] != result["beats"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
