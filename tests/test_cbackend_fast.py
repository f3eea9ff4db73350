"""The C backend's fast kernels (tinyecg_nn_conv_1_x_n, tinyecg_nn_fully_connected_folded,
tinyecg_nn_requantize_one_multiply, firmware/lib/tinyecg_nn/include/tinyecg_nn_fast.h) in
generated models, against independent references: tflite_micro.runtime on single-op graphs
chosen to hit every edge of the kernels (odd channel and column counts, taps not a multiple
of 4, border columns, all paddings and strides, every activation, requantization shifts at
and past the fast path's limits, the fallbacks), TFLite's MultiplyByQuantizedMultiplier
written in Python for the requantization arithmetic, and the exact 64-bit product for the
ARMv6-M multiply-high. On the host the portable C is compiled (and its build variants);
under QEMU the Cortex-M4 SMLAD/SMMLAR path and the Cortex-M0+ assembly path run the same
graphs and real beats through the student.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cbackend_harness as base
import cbackend_models as models
import numpy as np
import pytest

from tinyecg.export.cbackend import (
    fast,
    generate_c_backend,
    library_include,
    library_sources,
    plan_memory,
)
from tinyecg.models.tflite import load_model
from tinyecg.quantmath import quantize_multiplier

T, flatbuffer = models.T, models.flatbuffer
GCC = base.GCC


# ------------------------------------------------------------------------------------------
# Single-op graphs for the fast kernels
# ------------------------------------------------------------------------------------------


def row_conv(
    rng,
    w_in=37,
    c_in=3,
    out_c=5,
    k=5,
    stride=2,
    padding="SAME",
    act="RELU",
    in_q=(0.05, -7),
    out_q=(0.02, 5),
    w_scales=(0.002, 0.02),
    per_channel=True,
    bias=3000,
    weights=None,
):
    """CONV_2D on a [1, 1, w_in, c_in] row with a (1, k) filter. w_scales: (low, high) for
    uniform per-channel scales, or an explicit list; bias: largest |bias| (0: none), or an
    explicit array."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    if padding == "SAME":
        w_out = -(-w_in // stride)
    else:
        w_out = (w_in - k + stride) // stride
    wshape = (out_c, 1, k, c_in)
    if isinstance(w_scales, list):
        wscale = w_scales
    else:
        wscale = list(rng.uniform(*w_scales, out_c))
    if not per_channel:
        wscale = float(wscale[0])
    w = weights if weights is not None else rng.integers(-127, 128, wshape).astype(np.int8)
    tensors = [
        T("x", (1, 1, w_in, c_in), *in_q),
        T("w", wshape, wscale, 0, data=w),
        T("y", (1, 1, w_out, out_c), *out_q),
    ]
    ins = [0, 1, -1]
    if not (isinstance(bias, int) and bias == 0):
        b = bias if not isinstance(bias, int) else rng.integers(-bias, bias + 1, out_c)
        scales = wscale if per_channel else [wscale] * out_c
        tensors.insert(
            2,
            T(
                "b",
                (out_c,),
                [in_q[0] * s for s in scales],
                0,
                dtype="INT32",
                data=np.asarray(b, np.int32),
            ),
        )
        ins = [0, 1, 2]
    opts = {
        "padding": getattr(schema.Padding, padding),
        "strideH": 1,
        "strideW": stride,
        "fusedActivationFunction": getattr(schema.ActivationFunctionType, act),
        "dilationHFactor": 1,
        "dilationWFactor": 1,
    }
    return flatbuffer(
        tensors,
        [("CONV_2D", ins, [len(tensors) - 1], "Conv2DOptions", opts)],
        [0],
        [len(tensors) - 1],
    )


def fc(
    rng,
    batches=1,
    depth=37,
    units=7,
    per_channel=True,
    act="NONE",
    in_q=(0.04, 11),
    out_q=(0.1, -20),
    w_scales=(0.002, 0.02),
    bias=3000,
    w_max=127,
):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    wscale = list(rng.uniform(*w_scales, units)) if per_channel else float(w_scales[0])
    tensors = [
        T("x", (batches, depth), *in_q),
        T(
            "w",
            (units, depth),
            wscale,
            0,
            data=rng.integers(-w_max, w_max + 1, (units, depth)).astype(np.int8),
        ),
        T("y", (batches, units), *out_q),
    ]
    ins = [0, 1, -1]
    if bias:
        scales = wscale if per_channel else [wscale]
        tensors.insert(
            2,
            T(
                "b",
                (units,),
                [in_q[0] * s for s in scales],
                0,
                dtype="INT32",
                data=rng.integers(-bias, bias + 1, units).astype(np.int32),
            ),
        )
        ins = [0, 1, 2]
    opts = {"fusedActivationFunction": getattr(schema.ActivationFunctionType, act)}
    return flatbuffer(
        tensors,
        [("FULLY_CONNECTED", ins, [len(tensors) - 1], "FullyConnectedOptions", opts)],
        [0],
        [len(tensors) - 1],
    )


def _shift_scales(shifts, in_scale=0.05, out_scale=0.02, seed=0):
    """Per-channel weight scales whose multipliers in_scale * w / out_scale have the given
    TFLite shifts (mantissas spread over [0.5, 1))."""
    rng = np.random.default_rng(seed)
    return [
        float(np.float32(rng.uniform(0.5, 0.999) * 2.0**s * out_scale / in_scale)) for s in shifts
    ]


def _limits_weights(rng):
    w = rng.integers(-127, 128, (4, 1, 3, 2)).astype(np.int8)
    w[[0, 3]] = rng.integers(-2, 3, (2, 1, 3, 2))
    return w


# name -> (graph builder, kernel expected, fast requantization expected)
CASES = {
    # odd output channels and columns, 15 taps, SAME with odd padding
    "conv_odd_everything": (lambda r: row_conv(r), "tinyecg_nn_conv_1_x_n", True),
    # the student's first layer: one input channel, 7 taps (taps4 = 8)
    "conv_in_c1_k7_s2": (
        lambda r: row_conv(r, w_in=60, c_in=1, out_c=8, k=7),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    "conv_valid_stride3_none": (
        lambda r: row_conv(r, w_in=29, c_in=2, out_c=6, k=4, stride=3, padding="VALID", act="NONE"),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # even kernel, stride 1: padding 1 before, 2 after
    "conv_same_even_k_stride1": (
        lambda r: row_conv(r, w_in=17, c_in=4, out_c=4, k=4, stride=1),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # the filter is wider than the input: every column is a border column
    "conv_kernel_wider_than_input": (
        lambda r: row_conv(r, w_in=3, c_in=2, out_c=3, k=7, stride=1),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    "conv_one_column_one_channel": (
        lambda r: row_conv(r, w_in=1, c_in=5, out_c=1, k=1, stride=1),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    "conv_taps_multiple_of_4_per_tensor_no_bias": (
        lambda r: row_conv(r, w_in=20, c_in=8, out_c=2, k=3, per_channel=False, bias=0, act="NONE"),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # input zero point -128, output zero point 127, RELU_N1_TO_1 clamps inside int8
    "conv_zero_point_extremes_relu_n1_1": (
        lambda r: row_conv(r, in_q=(0.03, -128), out_q=(0.01, 127), act="RELU_N1_TO_1"),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    "conv_relu6": (
        lambda r: row_conv(r, out_q=(0.03, -128), act="RELU6"),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # shifts -1 and -30 (the fast path's limits): small weights and biases where the
    # multiplier is near 1/2, accumulators near 2^29 where it is near 2^-30
    "conv_shift_limits": (
        lambda r: row_conv(
            r,
            w_in=24,
            c_in=2,
            out_c=4,
            k=3,
            act="NONE",
            out_q=(0.02, 0),
            w_scales=_shift_scales([-1, -30, -30, -1]),
            weights=_limits_weights(r),
            bias=np.array([10, (1 << 29) - (1 << 20), -(1 << 29) + (1 << 20), -10], np.int32),
        ),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # shift -22 with output zero point -128: out_zp * 2^r still fits the rounding constant
    "conv_shift_22_zero_point_folded": (
        lambda r: row_conv(
            r,
            w_in=16,
            c_in=2,
            out_c=2,
            k=3,
            act="NONE",
            out_q=(0.02, -128),
            w_scales=_shift_scales([-22, -9]),
            bias=np.array([(1 << 29) - (1 << 20), -300], np.int32),
        ),
        "tinyecg_nn_conv_1_x_n",
        True,
    ),
    # shift -30 with output zero point 5: it does not (5 * 2^30), TFLite's two steps instead
    "conv_shift_30_zero_point_fallback": (
        lambda r: row_conv(
            r,
            w_in=16,
            c_in=2,
            out_c=2,
            k=3,
            act="NONE",
            out_q=(0.02, 5),
            w_scales=_shift_scales([-30, -9]),
            bias=np.array([(1 << 29) - (1 << 20), -300], np.int32),
        ),
        "tinyecg_nn_conv_1_x_n",
        False,
    ),
    # a multiplier >= 1 (shift >= 0, a left shift): TFLite's two-step rounding instead
    "conv_left_shift_fallback": (
        lambda r: row_conv(r, w_in=30, c_in=2, out_c=3, k=7, act="RELU6", out_q=(0.0004, -128)),
        "tinyecg_nn_conv_1_x_n",
        False,
    ),
    # shift -31: past the fast path
    "conv_shift_31_fallback": (
        lambda r: row_conv(
            r,
            w_in=16,
            c_in=2,
            out_c=2,
            k=3,
            act="NONE",
            w_scales=_shift_scales([-31, -9]),
            bias=np.array([(1 << 29) - (1 << 20), -300], np.int32),
        ),
        "tinyecg_nn_conv_1_x_n",
        False,
    ),
    # a bias so large that the folded accumulator could reach 2^30: the generic kernel
    "conv_bias_too_large_to_fold": (
        lambda r: row_conv(
            r,
            w_in=12,
            c_in=2,
            out_c=2,
            k=3,
            bias=np.array([(1 << 30) + 5, -3], np.int32),
            w_scales=_shift_scales([-31, -9]),
            act="NONE",
        ),
        "tinyecg_nn_conv_per_channel",
        None,
    ),
    "fc_odd_units_depth37": (lambda r: fc(r), "tinyecg_nn_fully_connected_folded", True),
    "fc_depth3_relu": (
        lambda r: fc(r, depth=3, units=4, act="RELU", out_q=(0.05, -128)),
        "tinyecg_nn_fully_connected_folded",
        True,
    ),
    # rows of 10 values: the second and third batch start unaligned
    "fc_batches3_per_tensor": (
        lambda r: fc(r, batches=3, depth=10, units=5, per_channel=False),
        "tinyecg_nn_fully_connected_folded",
        True,
    ),
    # multipliers about 1.1 (shift 1) on small sums
    "fc_left_shift_fallback": (
        lambda r: fc(
            r, depth=2, units=3, out_q=(0.0002, 3), bias=0, w_scales=(0.0055, 0.0056), w_max=1
        ),
        "tinyecg_nn_fully_connected_folded",
        False,
    ),
}


CALL = r"^\s+(?:return |\(void\))(tinyecg_nn_\w+)\(&op"


def _kernel_and_fast(c_text: str):
    kernel = re.search(CALL + "0", c_text, re.M).group(1)
    one = re.search(r"\.out\.one_multiply = (\d)", c_text)
    return kernel, (None if one is None else one.group(1) == "1")


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_kernel_cases_match_tflm(case, tmp_path):
    """Portable C (what the host compiles) against TFLM; the kernel the export chose and
    whether it took the one-multiply requantization are the ones the case is about."""
    build, kernel, fast = CASES[case]
    data = build(np.random.default_rng(abs(hash(case)) % 2**32))
    c_text = generate_c_backend(load_model(data))["tinyecg_model.c"]
    assert _kernel_and_fast(c_text) == (kernel, fast)
    inputs = base.random_inputs(data, 150, seed=5)
    ref = base.run_tflm(data, inputs)
    base.assert_same(ref, base.run_c(base.compile_model(data, tmp_path), inputs), case)
    # the comparison means something: outputs vary and are not all clamped
    assert len(np.unique(ref)) > 3, case


@pytest.mark.parametrize(
    "defs", [["-DTINYECG_NO_INLINE"], ["-DTINYECG_MULHI16"], ["-DTINYECG_NO_ASM", "-O0"]]
)
def test_build_variants_match_tflm(defs, tmp_path):
    """The shared-kernel build, the ARMv6-M multiply-high (forced on the host) and -O0 give
    TFLM's bytes on the fast-kernel graphs."""
    for case in (
        "conv_odd_everything",
        "conv_shift_limits",
        "conv_kernel_wider_than_input",
        "fc_batches3_per_tensor",
    ):
        data = CASES[case][0](np.random.default_rng(abs(hash(case)) % 2**32))
        inputs = base.random_inputs(data, 80, seed=6)
        exe = base.compile_model(data, tmp_path / case, extra=defs)
        base.assert_same(base.run_tflm(data, inputs), base.run_c(exe, inputs), f"{case} {defs}")


def test_student_takes_the_fast_kernels(tmp_path_factory):
    data = models.build_model("student", models.model_cache(tmp_path_factory))
    c_text = generate_c_backend(load_model(data))["tinyecg_model.c"]
    calls = re.findall(CALL + r"\d+", c_text, re.M)
    assert calls.count("tinyecg_nn_conv_1_x_n") == 4, calls
    assert calls.count("tinyecg_nn_fully_connected_folded") == 2, calls
    assert "tinyecg_nn_conv_per_channel" not in calls and "tinyecg_nn_fully_connected" not in calls
    assert c_text.count(".out.one_multiply = 1,") == 6
    # both weight layouts, each only in its build, each with its comment
    assert c_text.count("#if TINYECG_NN_DSP\n/* the same weights for the SMLAD loop") == 4
    assert (
        len(re.findall(r"#if !TINYECG_NN_DSP\n/\* '[^']+' \[\d+, 1, \d+, \d+\]: int8 OHWI", c_text))
        == 4
    )


def test_student_build_variants_match_tflm_on_real_beats(tmp_path_factory, tmp_path):
    if not models.have_data():
        pytest.skip(f"MIT-BIH not found at {models.DATA_DIR} (set TINYECG_DATA)")
    data = models.build_model("student", models.model_cache(tmp_path_factory))
    beats, rhythm, _ = models.real_beats(per_record=30, seed=11)
    inputs = models.quantize_inputs(data, beats, rhythm)
    ref = base.run_tflm(data, inputs)
    for defs in (["-DTINYECG_NO_INLINE"], ["-DTINYECG_MULHI16"]):
        exe = base.compile_model(data, tmp_path / defs[0][2:], extra=defs)
        base.assert_same(ref, base.run_c(exe, inputs), f"student {defs}")


# ------------------------------------------------------------------------------------------
# The requantization arithmetic on its own
# ------------------------------------------------------------------------------------------

RQ_HOST_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include "tinyecg_nn.h"

int main(void)
{
    long x, m, add, shift;
    while (scanf("%ld %ld %ld %ld", &x, &m, &add, &shift) == 4) {
        int32_t mm = (int32_t)m, aa = (int32_t)add;
        int8_t ss = (int8_t)shift;
        const tinyecg_nn_output_stage_t q = {0, -128, 127, 1, &mm, &ss, &aa};
        printf("%ld %d\n", (long)tinyecg_nn_requantize_one_multiply((int32_t)x, mm, aa, ss),
               tinyecg_nn_output_stage(&q, (int32_t)x, 0));
    }
    return 0;
}
"""


def rq_cases(n: int, seed: int = 0) -> np.ndarray:
    """(x, mult, add, shift, zp) rows as the export allows them (|x| < 2^30, shift in
    [-30, -1], |add| < 2^30), output zero points over int8; a third of the x values sit on or
    next to a rounding tie of either step."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        real = float(rng.uniform(0.5, 1.0)) * 2.0 ** -int(rng.integers(1, 31))
        m, s = quantize_multiplier(real)
        if s < -30 or s > -1:
            continue
        r = -s
        zp = int(rng.integers(-128, 128))
        kind = i % 3
        if kind == 0:
            x = int(rng.integers(-(1 << 30) + 1, 1 << 30))
        elif kind == 1:
            x = int(rng.integers(-20000, 20000))
        else:  # x * m close to (k + 1/2) * 2^(31 + r): both roundings at a tie
            k = int(rng.integers(-(1 << 8), 1 << 8))
            x = int(round((k + 0.5) * 2.0 ** (31 + r) / m)) + int(rng.integers(-2, 3))
            if abs(x) >= 1 << 30:
                continue
        add = (1 << (r - 1)) + zp * (1 << r)
        if abs(add) >= 1 << 30:  # the export takes TFLite's two steps for these
            continue
        rows.append((x, m, add, s, zp))
    return np.array(rows, dtype=np.int64)


def rq_expected(rows: np.ndarray) -> list[int]:
    return [
        base.multiply_by_quantized_multiplier(int(x), int(m), int(s)) + int(zp)
        for x, m, _, s, zp in rows
    ]


@pytest.mark.parametrize("defs", [[], ["-DTINYECG_MULHI16"]])
def test_rq_fast_is_tflite_multiply_by_quantized_multiplier(defs, tmp_path):
    src = tmp_path / "rq.c"
    src.write_text(RQ_HOST_MAIN)
    exe = tmp_path / "rq"
    subprocess.run([*GCC, *defs, *base.NN_INCLUDE, str(src), "-o", str(exe)], check=True)
    rows = rq_cases(30000)
    text = "\n".join(" ".join(str(int(v)) for v in r[:4]) for r in rows) + "\n"
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    got = np.array([[int(v) for v in line.split()] for line in out.stdout.splitlines()])
    want = np.array(rq_expected(rows))
    bad = np.flatnonzero(got[:, 0] != want)
    assert not len(bad), (
        f"{len(bad)} differ, first {rows[bad[0]].tolist()}: {got[bad[0], 0]} vs {want[bad[0]]}"
    )
    np.testing.assert_array_equal(got[:, 1], np.clip(want, -128, 127))


MULHI_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include "tinyecg_nn.h"

int main(void)
{
    long x, m;
    while (scanf("%ld %ld", &x, &m) == 2) {
        printf("%ld\n", (long)tinyecg_nn_rounded_high_mul_16x16((int32_t)x, (int32_t)m));
    }
    return 0;
}
"""


def test_mulhi16_is_the_rounded_high_word(tmp_path):
    """ARMv6-M's four-multiply high word equals floor((x * m + 2^31) / 2^32) for any int32 x
    (not only the doubled accumulators it gets) and every multiplier in [2^30, 2^31)."""
    src = tmp_path / "mulhi.c"
    src.write_text(MULHI_MAIN)
    exe = tmp_path / "mulhi"
    subprocess.run([*GCC, *base.NN_INCLUDE, str(src), "-o", str(exe)], check=True)
    rng = np.random.default_rng(3)
    edges = [-(1 << 31), (1 << 31) - 1, -1, 0, 1, 65535, 65536, -65536, -65537, 1 << 30]
    xs = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 20000), edges * 4])
    ms = np.concatenate(
        [
            rng.integers(1 << 30, 1 << 31, 20000),
            np.repeat([1 << 30, (1 << 31) - 1, (1 << 30) + 65535, (1 << 31) - 65536], len(edges)),
        ]
    )
    text = "\n".join(f"{int(x)} {int(m)}" for x, m in zip(xs, ms)) + "\n"
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True)
    got = [int(v) for v in out.stdout.split()]
    want = [(int(x) * int(m) + (1 << 31)) >> 32 for x, m in zip(xs, ms)]
    assert got == want


# ------------------------------------------------------------------------------------------
# Memory: the kernels' scratch lives in the arena, never on a live tensor
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_scratch_never_overlaps_live_tensors(name, tmp_path_factory):
    data = models.build_model(name, models.model_cache(tmp_path_factory))
    model = load_model(data)
    plan = plan_memory(model)
    ranges = base.independent_live_ranges(model)
    rows = {op.index: op for op in model.ops if fast.row_conv(model, op)}
    assert set(plan.scratch) == set(rows)
    for k, s in plan.scratch.items():
        taps4 = -(-int(np.prod(model.tensors[rows[k].inputs[1]].shape[2:])) // 4) * 4
        assert s.size == 4 * taps4  # two columns of int16
        assert s.offset % 4 == 0 and s.offset + s.size <= plan.arena_bytes
        for b in plan.buffers:
            if ranges[b.tensor][0] <= k <= ranges[b.tensor][1]:
                assert s.offset + s.size <= b.offset or b.offset + b.size <= s.offset, (
                    name,
                    k,
                    b.name,
                )
    header = generate_c_backend(model)["tinyecg_model.h"]
    assert f"#define TINYECG_MODEL_ARENA_BYTES {plan.arena_bytes} " in header


# ------------------------------------------------------------------------------------------
# Cortex-M under QEMU: SMLAD/SMMLAR (M4), portable C (M4) and the ARMv6-M assembly (M0+)
# ------------------------------------------------------------------------------------------

QEMU_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "platform.h"
#include "tinyecg_nn.h"
#include "all_models.h"

int main(void)
{
    platform_init();
    run_all();
    printf("rq");
    {
        int i;
        for (i = 0; i < N_RQ; ++i) {
            printf(" %ld", (long)tinyecg_nn_requantize_one_multiply(
                                rq_in[i][0], rq_in[i][1], rq_in[i][2], rq_in[i][3]));
        }
    }
    printf("\n");
    platform_exit(0);
}
"""


def _qemu_program(
    tmp: Path, graphs: dict[str, bytes], inputs: dict[str, list[np.ndarray]], rq_rows: np.ndarray
) -> list[Path]:
    """Sources of one program running every graph on its inputs (one prefix per graph) and
    tinyecg_nn_requantize_one_multiply on rq_rows; returns the C files."""
    decls, runs, srcs = [], [], []
    for i, (name, data) in enumerate(graphs.items()):
        prefix = f"g{i}"
        for fname, text in generate_c_backend(load_model(data), prefix=prefix).items():
            (tmp / fname).write_text(text)
        srcs.append(tmp / f"{prefix}.c")
        decls.append(f'#include "{prefix}.h"')
        ins = inputs[name]
        for k, x in enumerate(ins):
            rows = ",\n".join("{" + ",".join(str(int(v)) for v in r.reshape(-1)) + "}" for r in x)
            decls.append(
                f"static const int8_t {prefix}_in{k}[{len(x)}][{x[0].size}] = {{\n{rows}}};"
            )
        second = f"{prefix}_in1[k]" if len(ins) > 1 else "NULL"
        runs.append(
            f"    for (k = 0; k < {len(ins[0])}; ++k) {{\n"
            f"        static int8_t out[{prefix.upper()}_OUTPUT_SIZE];\n"
            f"        if ({prefix}_invoke({prefix}_in0[k], {second}, out) != 0) platform_exit(3);\n"
            f'        printf("{i} %d", k);\n'
            f'        for (j = 0; j < {prefix.upper()}_OUTPUT_SIZE; ++j) printf(" %d", out[j]);\n'
            f'        printf("\\n");\n    }}'
        )
    # the requantization under test, from tinyecg_nn_math.h
    rq = "\n".join("{" + ",".join(str(int(v)) for v in r[:4]) + "}" for r in rq_rows)
    (tmp / "all_models.h").write_text(
        "\n".join(decls)
        + "\n"
        + f"\n#define N_RQ {len(rq_rows)}\nstatic const int32_t rq_in[N_RQ][4] = {{\n"
        + ",\n".join(rq.splitlines())
        + "};\n"
        "static void run_all(void)\n{\n    int k, j;\n" + "\n".join(runs) + "\n}\n"
    )
    (tmp / "main.c").write_text(QEMU_MAIN)
    return [tmp / "main.c", *srcs, *library_sources()]


def test_cortex_m_paths_match_tflm_on_edge_cases_and_real_beats(tmp_path, tmp_path_factory):
    """One program per core runs every fast-kernel graph and the student (real beats): the
    M4 SMLAD build, the M4 portable build and the M0+ build (assembly inner loop, 16-bit
    multiply-high) all give TFLM's bytes, and tinyecg_nn_requantize_one_multiply TFLite's
    integers."""
    from tinyecg.device import qemu

    if not qemu.toolchain_available():
        pytest.skip(f"Cortex-M toolchain or QEMU missing: {', '.join(qemu.missing_tools())}")
    graphs, inputs, expected = {}, {}, {}
    for case in sorted(CASES):
        data = CASES[case][0](np.random.default_rng(abs(hash(case)) % 2**32))
        graphs[case] = data
        inputs[case] = base.random_inputs(data, 8, seed=7)
    student = models.build_model("student", models.model_cache(tmp_path_factory))
    graphs["student"] = student
    inputs["student"] = models.sample_inputs(student, n=24, seed=12)
    for name, data in graphs.items():
        expected[name] = base.run_tflm(data, inputs[name])
    rq_rows = rq_cases(600, seed=9)
    rq_want = rq_expected(rq_rows)
    srcs = _qemu_program(tmp_path, graphs, inputs, rq_rows)
    names = list(graphs)
    for label, arch, defs in (
        ("m4-dsp", "m4", {}),
        ("m4-portable", "m4", {"TINYECG_NO_DSP": 1}),
        ("m0", "m0", {}),
    ):
        elf = qemu.build(
            srcs,
            includes=[tmp_path, library_include()],
            defs=defs,
            out_dir=tmp_path / label,
            arch=arch,
            app="fast",
            stack_size=8192,
        )
        disasm = subprocess.run(
            ["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True
        ).stdout
        assert ("smlad" in disasm and "smmlar" in disasm) == (label == "m4-dsp"), label
        result = qemu.run(elf, timeout=120, machine=qemu.MACHINES[arch])
        assert result.returncode == 0, (label, result.stderr[-500:])
        got: dict[str, list] = {n: [] for n in names}
        for line in result.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "rq":
                assert [int(v) for v in parts[1:]] == rq_want, label
            elif parts and parts[0].isdigit():
                got[names[int(parts[0])]].append([int(v) for v in parts[2:]])
        for name in names:
            base.assert_same(expected[name], np.array(got[name], np.int8), f"{name} on {label}")
