"""The C backend tests' harness (not a test module): compile a generated model with the
tinyecg_nn kernels into a program that reads int8 inputs on stdin, run it and TFLM, compare,
and the Python references the tests check the C against."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from tinyecg.export.cbackend import generate_c_backend, library_include, library_sources
from tinyecg.models.tflite import load_model

GCC = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-O2"]
NN_SOURCES = [str(p) for p in library_sources()]
NN_INCLUDE = ["-I", str(library_include())]

HARNESS = r"""
#include <stdio.h>
#include "{p}.h"
/* stdin: per sample input0 then input1 bytes; stdout: output bytes. Exit 3 if invoke fails. */
int main(void)
{{
    static int8_t in0[{P}_INPUT0_SIZE];
#if {P}_NUM_INPUTS > 1
    static int8_t in1[{P}_INPUT1_SIZE];
#endif
    static int8_t out[{P}_OUTPUT_SIZE];
    if ({p}_invoke(NULL, NULL, out) != -1) return 4;
    for (;;) {{
        if (fread(in0, 1, sizeof in0, stdin) != sizeof in0) break;
#if {P}_NUM_INPUTS > 1
        if (fread(in1, 1, sizeof in1, stdin) != sizeof in1) return 2;
        if ({p}_invoke(in0, in1, out) != 0) return 3;
#else
        if ({p}_invoke(in0, NULL, out) != 0) return 3;
#endif
        fwrite(out, 1, sizeof out, stdout);
    }}
    return 0;
}}
"""


def compile_model(
    model_bytes: bytes, out_dir: Path, prefix: str = "tinyecg_model", extra=()
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = generate_c_backend(load_model(model_bytes), prefix=prefix)
    for name, text in files.items():
        (out_dir / name).write_text(text)
    (out_dir / "harness.c").write_text(HARNESS.format(p=prefix, P=prefix.upper()))
    exe = out_dir / "run"
    subprocess.run(
        [
            *GCC,
            *extra,
            "-I",
            str(out_dir),
            *NN_INCLUDE,
            str(out_dir / f"{prefix}.c"),
            *NN_SOURCES,
            str(out_dir / "harness.c"),
            "-o",
            str(exe),
        ],
        check=True,
    )
    return exe


def run_c(exe: Path, inputs: list[np.ndarray]) -> np.ndarray:
    n = len(inputs[0])
    blob = b"".join(x[i].tobytes() for i in range(n) for x in inputs)
    proc = subprocess.run([str(exe)], input=blob, capture_output=True, timeout=120)
    assert proc.returncode == 0, f"harness exit {proc.returncode}: {proc.stderr[-300:]!r}"
    return np.frombuffer(proc.stdout, np.int8).reshape(n, -1)


def run_tflm(model_bytes: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model_bytes)
    out = []
    for i in range(len(inputs[0])):
        for k, x in enumerate(inputs):
            interp.set_input(x[i], k)
        interp.invoke()
        out.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8)


def assert_same(ref: np.ndarray, got: np.ndarray, what: str):
    assert ref.shape == got.shape, (what, ref.shape, got.shape)
    bad = np.flatnonzero((ref != got).any(axis=1))
    assert not len(bad), (
        f"{what}: {len(bad)} of {len(ref)} samples differ, first #{bad[0]}: "
        f"TFLM {ref[bad[0]][:12].tolist()} C {got[bad[0]][:12].tolist()}"
    )


def random_inputs(model_bytes: bytes, n: int, seed: int = 0) -> list[np.ndarray]:
    """n samples (shape (n, *input shape)) of uniform int8 for every input; the first two are
    all -128 and all 127."""
    model = load_model(model_bytes)
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        x = rng.integers(-128, 128, (n,) + tuple(model.tensors[t].shape))
        x[0], x[1] = -128, 127
        out.append(x.astype(np.int8))
    return out


def multiply_by_quantized_multiplier(x: int, m: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier in Python integers (test reference): Python's
    & and >> on negative ints act on two's complement, like int32 in C."""
    x = x * (1 << max(shift, 0))
    q = x * m + ((1 << 30) if x * m >= 0 else 1 - (1 << 30))
    high = (abs(q) >> 31) * (1 if q >= 0 else -1)  # C division: truncate toward zero
    right = max(-shift, 0)
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


def independent_live_ranges(model):
    """Live ranges recomputed here from the graph alone: views resolve to the tensor whose
    bytes they share; a range runs from the writing op to the last reading op (to the end if
    the graph output is a view of it)."""
    owner = {}
    for op in model.ops:
        for t in op.outputs:
            owner[t] = (
                owner.get(op.inputs[0], op.inputs[0])
                if op.opcode in ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")
                else t
            )
    ranges = {}
    for op in model.ops:
        for t in op.outputs:
            o = owner[t]
            if o == t and t not in model.inputs and t not in model.outputs:
                ranges[t] = [op.index, op.index]
    for op in model.ops:
        for t in op.inputs:
            if t >= 0 and owner.get(t, t) in ranges:
                ranges[owner.get(t, t)][1] = max(ranges[owner.get(t, t)][1], op.index)
    for t in model.outputs:
        if owner.get(t, t) in ranges:
            ranges[owner[t]][1] = len(model.ops)
    return ranges
