"""The generated C against TFLite Micro's own runtime, byte for byte.

Each model is generated and compiled once with the kernels of firmware/lib/tinyecg_nn (gcc
-std=c99 -Wall -Wextra -Werror -Wconversion -O2) into a small program that reads int8 inputs
on stdin and writes int8 outputs; the expected outputs come from
`tflite_micro.runtime.Interpreter`, an independent implementation. The kernels on their own
(without any model): tests/test_nn_kernels.py.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import cbackend_models as models
import numpy as np
import pytest
from cbackend_harness import (
    GCC,
    NN_INCLUDE,
    NN_SOURCES,
    assert_same,
    compile_model,
    independent_live_ranges,
    multiply_by_quantized_multiplier,
    random_inputs,
    run_c,
    run_tflm,
)

from tinyecg.errors import TinyECGError
from tinyecg.export.cbackend import (
    STACK_BOUND_BYTES,
    generate_c_backend,
    library_include,
    library_sources,
    plan_memory,
)
from tinyecg.models.tflite import load_model
from tinyecg.quantmath import quantize_multiplier

T, flatbuffer = models.T, models.flatbuffer


# ------------------------------------------------------------------------------------------
# The converted models
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """name -> (model bytes, compiled harness), built on first use."""
    cache = models.model_cache(tmp_path_factory)
    root = tmp_path_factory.mktemp("cbackend")
    done: dict[str, tuple[bytes, Path]] = {}

    def get(name: str):
        if name not in done:
            data = models.build_model(name, cache)
            done[name] = (data, compile_model(data, root / name))
        return done[name]

    return get


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_matches_tflm_on_real_beats(name, built):
    if not models.have_data():
        pytest.skip(f"MIT-BIH not found at {models.DATA_DIR} (set TINYECG_DATA)")
    data, exe = built(name)
    beats, rhythm, labels = models.real_beats(per_record=50, seed=7)  # 300 beats, 6 records
    inputs = models.quantize_inputs(data, beats, rhythm)
    ref = run_tflm(data, inputs)
    assert_same(ref, run_c(exe, inputs), f"{name} on {len(ref)} real beats")
    # the comparison means something: the outputs vary from beat to beat
    assert len(np.unique(ref, axis=0)) >= 20


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_matches_tflm_on_random_inputs(name, built):
    data, exe = built(name)
    inputs = random_inputs(data, 120, seed=3)
    assert_same(run_tflm(data, inputs), run_c(exe, inputs), f"{name} on random int8 inputs")


@pytest.mark.parametrize("name", ["student", "zoo"])
def test_every_intermediate_tensor_matches_tflm(name, built, tmp_path):
    """Cut the graph after each op in turn, so every intermediate tensor (and the copy of a
    view into the output) is compared on its own, not only through the final softmax."""
    data, _ = built(name)
    n_ops = len(load_model(data).ops)
    for k in range(n_ops):
        cut = models.truncated(data, k)
        inputs = models.sample_inputs(cut, n=40, seed=k)
        exe = compile_model(cut, tmp_path / f"op{k}")
        assert_same(
            run_tflm(cut, inputs),
            run_c(exe, inputs),
            f"{name} cut after op {k} ({load_model(cut).ops[-1].opcode})",
        )


# ------------------------------------------------------------------------------------------
# Single-op graphs with chosen shapes, strides, paddings, activations and quantization
# ------------------------------------------------------------------------------------------


def _w(rng, shape):
    return rng.integers(-127, 128, shape).astype(np.int8)


def _b(rng, n, scale=3000):
    return rng.integers(-scale, scale, n).astype(np.int32)


def conv_case(
    rng,
    in_shape=(1, 5, 9, 3),
    out_c=4,
    k=(3, 3),
    stride=(2, 1),
    padding="SAME",
    act="RELU_N1_TO_1",
    per_channel=True,
    bias=True,
    out_scale=0.02,
    depthwise=False,
    depth_mult=2,
):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    n, h, w, c = in_shape
    oc = c * depth_mult if depthwise else out_c
    pad = getattr(schema.Padding, padding)
    oh = -(-h // stride[0]) if padding == "SAME" else (h - k[0] + stride[0]) // stride[0]
    ow = -(-w // stride[1]) if padding == "SAME" else (w - k[1] + stride[1]) // stride[1]
    wshape = (1, k[0], k[1], oc) if depthwise else (oc, k[0], k[1], c)
    wscale = list(rng.uniform(0.002, 0.02, oc)) if per_channel else 0.01
    in_scale = 0.05
    tensors = [
        T("x", in_shape, in_scale, -7),
        T("w", wshape, wscale, 0, data=_w(rng, wshape), qdim=3 if depthwise else 0),
        T("y", (n, oh, ow, oc), out_scale, 5),
    ]
    ins = [0, 1, -1]
    if bias:
        bscale = [in_scale * s for s in (wscale if per_channel else [wscale] * oc)]
        tensors.insert(2, T("b", (oc,), bscale, 0, dtype="INT32", data=_b(rng, oc)))
        ins = [0, 1, 2]
    act_code = getattr(schema.ActivationFunctionType, act)
    opts = {
        "padding": pad,
        "strideH": stride[0],
        "strideW": stride[1],
        "fusedActivationFunction": act_code,
        "dilationHFactor": 1,
        "dilationWFactor": 1,
    }
    if depthwise:
        opts["depthMultiplier"] = depth_mult
        op = ("DEPTHWISE_CONV_2D", ins, [len(tensors) - 1], "DepthwiseConv2DOptions", opts)
    else:
        op = ("CONV_2D", ins, [len(tensors) - 1], "Conv2DOptions", opts)
    return flatbuffer(tensors, [op], [0], [len(tensors) - 1])


def fc_case(
    rng, batches=2, depth=20, units=7, per_channel=False, act="RELU", bias=True, out_scale=0.1
):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    wscale = list(rng.uniform(0.002, 0.02, units)) if per_channel else 0.01
    tensors = [
        T("x", (batches, depth), 0.04, 11),
        T("w", (units, depth), wscale, 0, data=_w(rng, (units, depth))),
        T("y", (batches, units), out_scale, -20),
    ]
    ins = [0, 1, -1]
    if bias:
        bscale = [0.04 * s for s in (wscale if per_channel else [wscale])]
        tensors.insert(2, T("b", (units,), bscale, 0, dtype="INT32", data=_b(rng, units)))
        ins = [0, 1, 2]
    opts = {"fusedActivationFunction": getattr(schema.ActivationFunctionType, act)}
    return flatbuffer(
        tensors,
        [("FULLY_CONNECTED", ins, [len(tensors) - 1], "FullyConnectedOptions", opts)],
        [0],
        [len(tensors) - 1],
    )


def pool_case(
    rng,
    kind="AVERAGE_POOL_2D",
    in_shape=(1, 5, 13, 4),
    k=(2, 3),
    stride=(2, 2),
    padding="SAME",
    act="NONE",
):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    n, h, w, c = in_shape
    oh = -(-h // stride[0]) if padding == "SAME" else (h - k[0] + stride[0]) // stride[0]
    ow = -(-w // stride[1]) if padding == "SAME" else (w - k[1] + stride[1]) // stride[1]
    opts = {
        "padding": getattr(schema.Padding, padding),
        "strideH": stride[0],
        "strideW": stride[1],
        "filterHeight": k[0],
        "filterWidth": k[1],
        "fusedActivationFunction": getattr(schema.ActivationFunctionType, act),
    }
    return flatbuffer(
        [T("x", in_shape, 0.03, -3), T("y", (n, oh, ow, c), 0.03, -3)],
        [(kind, [0], [1], "Pool2DOptions", opts)],
        [0],
        [1],
    )


def softmax_case(rng, scale=0.07, zp=-36, shape=(2, 5), beta=1.0):
    return flatbuffer(
        [T("x", shape, scale, zp), T("y", shape, 1.0 / 256, -128)],
        [("SOFTMAX", [0], [1], "SoftmaxOptions", {"beta": beta})],
        [0],
        [1],
    )


def mean_case(rng, in_shape=(1, 3, 11, 6), axes=(1, 2), keep_dims=False, same=False):
    out_shape = (
        [1 if i in axes else d for i, d in enumerate(in_shape)]
        if keep_dims
        else [d for i, d in enumerate(in_shape) if i not in axes]
    )
    out_q = (0.02, -9) if same else (0.005, 17)
    return flatbuffer(
        [
            T("x", in_shape, 0.02, -9),
            T("axes", (len(axes),), dtype="INT32", data=np.array(axes, np.int32)),
            T("y", out_shape, *out_q),
        ],
        [("MEAN", [0, 1], [2], "ReducerOptions", {"keepDims": keep_dims})],
        [0],
        [2],
    )


def concat_case(rng, axis=3, shapes=((1, 2, 3, 4), (1, 2, 3, 2), (1, 2, 3, 5))):
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    tensors = [T(f"x{i}", s, 0.05, 3) for i, s in enumerate(shapes)] + [T("y", out, 0.05, 3)]
    ins = list(range(len(shapes)))
    # a graph with one input: the others are constants
    for i in ins[1:]:
        tensors[i]["data"] = _w(rng, shapes[i])
    return flatbuffer(
        tensors,
        [("CONCATENATION", ins, [len(shapes)], "ConcatenationOptions", {"axis": axis})],
        [0],
        [len(shapes)],
    )


def views_case(rng):
    """RESHAPE -> conv -> SQUEEZE: a view as the graph output is copied into it."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    w = _w(rng, (3, 1, 2, 4))
    tensors = [
        T("x", (1, 8), 0.05, 1),
        T("r", (1, 1, 2, 4), 0.05, 1),
        T("w", (3, 1, 2, 4), [0.01, 0.02, 0.015], 0, data=w),
        T("c", (1, 1, 1, 3), 0.03, -4),
        T("y", (1, 3), 0.03, -4),
    ]
    ops = [
        ("RESHAPE", [0], [1], None, None),
        (
            "CONV_2D",
            [0 + 1, 2, -1],
            [3],
            "Conv2DOptions",
            {
                "padding": schema.Padding.VALID,
                "strideH": 1,
                "strideW": 1,
                "fusedActivationFunction": 0,
                "dilationHFactor": 1,
                "dilationWFactor": 1,
            },
        ),
        ("SQUEEZE", [3], [4], "SqueezeOptions", {"squeezeDims": [1, 2]}),
    ]
    return flatbuffer(tensors, ops, [0], [4])


OP_CASES = {
    "conv_same_odd_pad_stride2x1_relu_n1_1": lambda r: conv_case(r),
    "conv_valid_per_tensor_no_bias": lambda r: conv_case(
        r,
        in_shape=(1, 4, 12, 5),
        k=(2, 5),
        stride=(1, 3),
        padding="VALID",
        act="NONE",
        per_channel=False,
        bias=False,
    ),
    "conv_relu6_left_shift": lambda r: conv_case(  # real scale > 0.5: shift > 0
        r, in_shape=(1, 1, 30, 2), k=(1, 7), stride=(1, 2), act="RELU6", out_scale=0.0004
    ),
    "conv_1x1": lambda r: conv_case(
        r, in_shape=(1, 2, 6, 9), out_c=5, k=(1, 1), stride=(1, 1), act="RELU"
    ),
    "depthwise_mult2_same": lambda r: conv_case(
        r, in_shape=(1, 4, 10, 3), k=(3, 3), stride=(1, 2), depthwise=True, act="RELU"
    ),
    "depthwise_mult1_valid": lambda r: conv_case(
        r,
        in_shape=(1, 3, 11, 4),
        k=(2, 4),
        stride=(1, 1),
        padding="VALID",
        depthwise=True,
        depth_mult=1,
        act="NONE",
        per_channel=False,
    ),
    "fc_batches2_relu": lambda r: fc_case(r),
    "fc_per_channel": lambda r: fc_case(r, per_channel=True, act="RELU6"),
    "fc_no_bias_none": lambda r: fc_case(
        r, batches=1, depth=33, units=3, act="NONE", bias=False, out_scale=0.3
    ),
    "avgpool_same_2x3_s2": lambda r: pool_case(r),
    "avgpool_valid_relu": lambda r: pool_case(r, padding="VALID", act="RELU"),
    "maxpool_same_3x3_s2": lambda r: pool_case(r, "MAX_POOL_2D", k=(3, 3)),
    "maxpool_valid_1x2_relu6": lambda r: pool_case(
        r, "MAX_POOL_2D", (1, 1, 21, 6), (1, 2), (1, 2), "VALID", "RELU6"
    ),
    "softmax_0.07": lambda r: softmax_case(r),
    "softmax_small_scale": lambda r: softmax_case(r, 0.004, 10, (3, 11)),
    "softmax_large_scale": lambda r: softmax_case(r, 0.9, -128, (2, 37)),
    "softmax_huge_scale_4d": lambda r: softmax_case(r, 40.0, 0, (1, 1, 2, 6)),
    "softmax_beta_half": lambda r: softmax_case(r, 0.2, 3, (2, 9), beta=0.5),
    "mean_hw_rescaled": lambda r: mean_case(r),
    "mean_hw_same_quant_keepdims": lambda r: mean_case(r, keep_dims=True, same=True),
    "mean_width_only": lambda r: mean_case(r, axes=(2,)),
    "mean_width_same_quant": lambda r: mean_case(r, in_shape=(1, 1, 23, 5), axes=(2,), same=True),
    "concat_channels_3_inputs": lambda r: concat_case(r),
    "concat_width": lambda r: concat_case(r, 2, ((1, 2, 3, 4), (1, 2, 5, 4))),
    "views_reshape_squeeze": views_case,
}


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_single_op_graphs_match_tflm(case, tmp_path):
    rng = np.random.default_rng(abs(hash(case)) % 2**32)
    data = OP_CASES[case](rng)
    inputs = random_inputs(data, 150, seed=5)
    exe = compile_model(data, tmp_path)
    assert_same(run_tflm(data, inputs), run_c(exe, inputs), case)


def test_concatenation_requantizes_different_scales(tmp_path):
    """TFLM copies int8 bytes whatever the scales (the converter always unifies them); the C
    rescales each input to the output's quantization, as TFLite's int8 Requantize."""
    shapes = ((1, 6), (1, 4))
    tensors = [
        T("a", shapes[0], 0.05, 3),
        T("b", shapes[1], 0.013, -100),
        T("y", (1, 10), 0.031, -7),
    ]
    data = flatbuffer(
        tensors, [("CONCATENATION", [0, 1], [2], "ConcatenationOptions", {"axis": 1})], [0, 1], [2]
    )
    inputs = random_inputs(data, 300, seed=11)
    got = run_c(compile_model(data, tmp_path), inputs)
    expect = []
    for x, (scale, zp) in zip(inputs, [(0.05, 3), (0.013, -100)]):
        s_in, s_out = float(np.float32(scale)), float(np.float32(0.031))
        m, sh = quantize_multiplier(s_in / s_out)
        q = np.vectorize(
            lambda v, zp=zp, m=m, sh=sh: multiply_by_quantized_multiplier(int(v) - zp, m, sh) - 7
        )(x)
        expect.append(np.clip(q, -128, 127))
        # and that integer result is the real-valued rescaling to within one step
        ideal = (x.astype(np.float64) - zp) * s_in / s_out - 7
        assert np.all(np.abs(np.clip(q, -128, 127) - np.clip(np.round(ideal), -128, 127)) <= 1)
    np.testing.assert_array_equal(
        got, np.concatenate(expect, axis=-1).reshape(len(got), -1).astype(np.int8)
    )


def test_quantize_multiplier_matches_definition():
    rng = np.random.default_rng(0)
    for real in np.concatenate(
        [
            rng.uniform(1e-6, 1, 2000),
            rng.uniform(1, 3e4, 200),
            [0.5, 1.0, 2.0**-31, 2.0**-32, 0.999999999999],
        ]
    ):
        m, s = quantize_multiplier(float(real))
        if m == 0:
            assert real < 2.0**-31
            continue
        assert 2**30 <= m < 2**31
        assert abs(m * 2.0 ** (s - 31) - real) <= 2.0 ** (s - 32)  # nearest Q31 value


# ------------------------------------------------------------------------------------------
# Export-time errors
# ------------------------------------------------------------------------------------------


def test_unsupported_op_raises_naming_it():
    data = flatbuffer(
        [T("a", (1, 4), 0.1, 0), T("b", (1, 4), 0.1, 0), T("y", (1, 4), 0.2, 0)],
        [("ADD", [0, 1], [2], "AddOptions", {})],
        [0, 1],
        [2],
    )
    with pytest.raises(TinyECGError, match=r"op 0 \(ADD\).*not supported"):
        generate_c_backend(load_model(data))
    data = flatbuffer(
        [T("a", (1, 4), 0.1, 0), T("y", (1, 4), 1 / 128, 0)],
        [("TANH", [0], [1], None, None)],
        [0],
        [1],
    )
    with pytest.raises(TinyECGError, match="TANH"):
        generate_c_backend(load_model(data))


def test_unsupported_shapes_and_types_raise():
    rng = np.random.default_rng(1)
    # batch 2 in a convolution
    data = conv_case(rng, in_shape=(2, 3, 8, 2))
    with pytest.raises(TinyECGError, match="batch 2"):
        generate_c_backend(load_model(data))
    # dilation 2
    raw = bytearray(conv_case(rng))
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(raw, 0)
    m.subgraphs[0].operators[0].builtinOptions.dilationWFactor = 2
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with pytest.raises(TinyECGError, match="dilation"):
        generate_c_backend(load_model(bytes(b.Output())))
    # a float graph
    data = flatbuffer(
        [T("a", (1, 4), dtype="FLOAT32"), T("y", (1, 4), dtype="FLOAT32")],
        [("SOFTMAX", [0], [1], "SoftmaxOptions", {"beta": 1.0})],
        [0],
        [1],
    )
    with pytest.raises(TinyECGError, match="not a fully int8 model"):
        generate_c_backend(load_model(data))
    # softmax whose output is not 1/256, -128
    data = flatbuffer(
        [T("a", (1, 4), 0.1, 0), T("y", (1, 4), 1 / 128, 0)],
        [("SOFTMAX", [0], [1], "SoftmaxOptions", {"beta": 1.0})],
        [0],
        [1],
    )
    with pytest.raises(TinyECGError, match="1/256"):
        generate_c_backend(load_model(data))
    # a prefix that is not a C identifier
    with pytest.raises(TinyECGError, match="C identifier"):
        generate_c_backend(load_model(softmax_case(rng)), prefix="my-model")


# ------------------------------------------------------------------------------------------
# Memory plan and stack
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_arena_plan_never_overlaps_live_tensors(name, built):
    data, _ = built(name)
    model = load_model(data)
    plan = plan_memory(model)
    ranges = independent_live_ranges(model)
    placed = {b.tensor: b for b in plan.buffers}
    assert set(placed) == set(ranges)
    for t, (first, last) in ranges.items():
        b = placed[t]
        assert (b.first, b.last) == (first, last)
        assert b.offset % plan.alignment == 0
        assert b.size == model.tensors[t].nbytes
        assert 0 <= b.offset and b.offset + b.size <= plan.arena_bytes
    for a, b in itertools.combinations(ranges, 2):
        live_together = ranges[a][0] <= ranges[b][1] and ranges[b][0] <= ranges[a][1]
        if live_together:
            pa, pb = placed[a], placed[b]
            assert pa.offset + pa.size <= pb.offset or pb.offset + pb.size <= pa.offset, (
                name,
                model.tensors[a].name,
                model.tensors[b].name,
            )
    # the arena is at least the largest set of tensors live at one op, and sharing helps
    peak = max(
        sum(model.tensors[t].nbytes for t, (f, last) in ranges.items() if f <= k <= last)
        for k in range(len(model.ops) + 1)
    )
    assert peak <= plan.arena_bytes < sum(model.tensors[t].nbytes for t in ranges)
    header = generate_c_backend(model)["tinyecg_model.h"]
    assert f"#define TINYECG_MODEL_ARENA_BYTES {plan.arena_bytes} " in header


EXTERNAL_FRAME_BYTES = 64  # allowance for a libgcc leaf (e.g. __aeabi_idiv on Cortex-M0+)


def _deepest_stack(compiler: list[str], sources: list[Path], tmp: Path, entry: str):
    """Compile every source with -fcallgraph-info=su and return (bytes, path) of the deepest
    call chain from entry over the merged call graphs: the sum of the static frames along
    it. Fails on a dynamic frame (VLA, alloca) or recursion."""
    frames, edges = {}, {}
    for k, source in enumerate(sources):
        obj = tmp / f"{k}_{Path(source).stem}.o"
        subprocess.run(
            [*compiler, *NN_INCLUDE, "-fcallgraph-info=su", "-c", str(source), "-o", str(obj)],
            check=True,
        )
        text = obj.with_suffix(".ci").read_text()
        for title, label in re.findall(r'node: \{ title: "([^"]+)" label: "([^"]*)"', text):
            m = re.search(r"(\d+) bytes \((\w+)\)", label)
            if m:
                assert m.group(2) == "static", label
                frames[title] = int(m.group(1))
        for src, dst in re.findall(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
            edges.setdefault(src, set()).add(dst)

    def deepest(node, seen=()):
        assert node not in seen, f"recursion through {node}"
        own = frames.get(node, EXTERNAL_FRAME_BYTES)
        best = (0, [])
        for nxt in edges.get(node, ()):
            best = max(best, deepest(nxt, seen + (node,)))
        return own + best[0], [node.split(":")[-1]] + best[1]

    return deepest(entry)


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_stack_bound(target, built, tmp_path):
    """No dynamic frames, no recursion, and the deepest call chain from invoke() through the
    kernels of tinyecg_nn stays under the bound the header states."""
    if target == "host":
        compiler = GCC
    else:
        if shutil.which("arm-none-eabi-gcc") is None:
            pytest.skip("arm-none-eabi-gcc not installed")
        compiler = ["arm-none-eabi-gcc", *GCC[1:], f"-mcpu={target}", "-mthumb"]
    for name in ("student", "teacher", "seed", "zoo"):
        data, exe = built(name)
        total, path = _deepest_stack(
            compiler,
            [exe.parent / "tinyecg_model.c", *NN_SOURCES],
            tmp_path,
            "tinyecg_model_invoke",
        )
        assert total <= STACK_BOUND_BYTES, (name, target, total, path)
    rng = np.random.default_rng(0)  # single-op graphs: the kernels not inlined into invoke
    for case in (
        "avgpool_same_2x3_s2",
        "depthwise_mult2_same",
        "mean_hw_rescaled",
        "softmax_large_scale",
    ):
        exe = compile_model(OP_CASES[case](rng), tmp_path / case)
        total, path = _deepest_stack(
            [*compiler, "-fno-inline"],
            [exe.parent / "tinyecg_model.c", *NN_SOURCES],
            tmp_path,
            "tinyecg_model_invoke",
        )
        assert total <= STACK_BOUND_BYTES, (case, target, total, path)


def test_two_models_link_into_one_program(built, tmp_path):
    """Everything but <prefix>_invoke is static, so two generated models coexist (and share
    the kernels of tinyecg_nn)."""
    mains = []
    for name, prefix in (("student", "ecg_student"), ("zoo", "ecg_zoo")):
        data, _ = built(name)
        for fname, text in generate_c_backend(load_model(data), prefix=prefix).items():
            (tmp_path / fname).write_text(text)
        mains.append(prefix)
    (tmp_path / "main.c").write_text(
        '#include "ecg_student.h"\n#include "ecg_zoo.h"\n'
        "int main(void) {\n"
        "    static int8_t r[5], b[360], o[5];\n"
        "    return ecg_student_invoke(r, b, o) | ecg_zoo_invoke(r, b, o);\n}\n"
    )
    exe = tmp_path / "both"
    subprocess.run(
        [
            *GCC,
            "-I",
            str(tmp_path),
            *NN_INCLUDE,
            str(tmp_path / "main.c"),
            str(tmp_path / "ecg_student.c"),
            str(tmp_path / "ecg_zoo.c"),
            *NN_SOURCES,
            "-o",
            str(exe),
        ],
        check=True,
    )
    assert subprocess.run([str(exe)]).returncode == 0


def test_generated_text_is_commented_and_stable(built):
    data, exe = built("student")
    model = load_model(data)
    files = generate_c_backend(model)
    assert files == generate_c_backend(load_model(data))  # deterministic
    c = files["tinyecg_model.c"]
    header = files["tinyecg_model.h"]
    assert "malloc" not in c and "float" not in c.replace("floating", "")
    assert re.search(r"#define TINYECG_MODEL_BEAT_INPUT [01]", header)
    assert re.search(r"#define TINYECG_MODEL_RHYTHM_INPUT [01]", header)
    assert model.sha256 in header
    # every weight/multiplier table says where it comes from
    lines = c.splitlines()
    tables = [
        i for i, line in enumerate(lines) if re.match(r"\s*static const int(8|32)_t \w+\[", line)
    ]
    assert len(tables) > 20
    for i in tables:
        assert lines[i - 1].rstrip().endswith("*/"), f"no comment above: {lines[i]}"


# ------------------------------------------------------------------------------------------
# Cortex-M under QEMU: the SMLAD (DSP) path and the portable path give TFLM's bytes
# ------------------------------------------------------------------------------------------

QEMU_APP = r"""
#include <stdio.h>
#include <stdint.h>
#include "platform.h"
#include "tinyecg_model.h"
#include "vectors.h"

int main(void)
{
    static int8_t out[TINYECG_MODEL_OUTPUT_SIZE];
    uint64_t total = 0;
    int k, i;
    platform_init();
    for (k = 0; k < N_VECTORS; ++k) {
        const uint64_t start = platform_instructions();
#if TINYECG_MODEL_NUM_INPUTS > 1
        const int rc = tinyecg_model_invoke(vec_in0[k], vec_in1[k], out);
#else
        const int rc = tinyecg_model_invoke(vec_in0[k], NULL, out);
#endif
        total += platform_instructions() - start;
        if (rc != 0) {
            platform_exit(3);
        }
        for (i = 0; i < TINYECG_MODEL_OUTPUT_SIZE; ++i) {
            printf("%d ", out[i]);
        }
        printf("\n");
    }
    printf("instructions %lu\n", (unsigned long)(total / N_VECTORS));
    printf("stack %lu\n", (unsigned long)platform_stack_peak_bytes());
    platform_exit(0);
}
"""


def _c_rows(name: str, x: np.ndarray) -> str:
    rows = ",\n".join("    {" + ", ".join(str(int(v)) for v in row.reshape(-1)) + "}" for row in x)
    return f"static const int8_t {name}[{len(x)}][{x[0].size}] = {{\n{rows}\n}};\n"


@pytest.mark.parametrize("name", ["student", "zoo"])
def test_cortex_m_dsp_and_portable_paths_match_tflm(name, built, tmp_path):
    from tinyecg.device import qemu

    if not qemu.toolchain_available():
        pytest.skip(f"Cortex-M toolchain or QEMU missing: {', '.join(qemu.missing_tools())}")
    data, exe = built(name)
    inputs = random_inputs(data, 6, seed=9)
    real = models.sample_inputs(data, n=10, seed=4)
    inputs = [np.concatenate([a, b[:10]]) for a, b in zip(inputs, real)]
    ref = run_tflm(data, inputs)
    src = exe.parent
    vectors = f"#define N_VECTORS {len(ref)}\n" + "".join(
        _c_rows(f"vec_in{k}", x) for k, x in enumerate(inputs)
    )
    (tmp_path / "vectors.h").write_text(vectors)
    (tmp_path / "app.c").write_text(QEMU_APP)
    counts = {}
    for label, arch, defs in (
        ("m4-dsp", "m4", {}),
        ("m4-portable", "m4", {"TINYECG_NO_DSP": 1}),
        ("m0", "m0", {}),
    ):
        elf = qemu.build(
            [tmp_path / "app.c", src / "tinyecg_model.c", *library_sources()],
            includes=[tmp_path, src, library_include()],
            defs=defs,
            out_dir=tmp_path / label,
            arch=arch,
        )
        disasm = subprocess.run(
            ["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True
        ).stdout
        assert ("smlad" in disasm) == (label == "m4-dsp"), label
        result = qemu.run(elf, timeout=120)
        assert result.returncode == 0, (label, result.stderr[-500:])
        lines = result.stdout.strip().splitlines()
        got = np.array([[int(v) for v in line.split()] for line in lines[: len(ref)]], np.int8)
        assert_same(ref, got, f"{name} on {label}")
        stack = int(lines[len(ref) + 1].split()[1])  # high-water mark of the whole program
        assert stack < 2048, (label, stack)
        counts[label] = (int(lines[len(ref)].split()[1]), stack)
    print(f"{name}: (instructions per inference, stack peak bytes) {counts}")


def test_write_c_backend_writes_both_files_or_none(built, tmp_path):
    from tinyecg.export.cbackend import write_c_backend

    data, _ = built("student")
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    out = write_c_backend(path, tmp_path / "out", prefix="ecg")
    assert sorted(p.name for p in out.iterdir()) == ["ecg.c", "ecg.h"]
    with pytest.raises(TinyECGError, match="not empty"):
        write_c_backend(path, out, prefix="ecg")
    with pytest.raises(TinyECGError, match="no such file"):
        write_c_backend(tmp_path / "missing.tflite", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
