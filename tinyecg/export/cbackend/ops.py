"""The lowering: one function per flatbuffer op, TFLiteModel op -> kernel parameters (see
params.py), with every check that keeps the C exact and errors that name the op.

CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED are in ops_conv.py; pooling, SOFTMAX, MEAN,
CONCATENATION and the views are here, with `lower`, which walks the graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.export.cbackend import ops_conv
from tinyecg.export.cbackend.params import (
    Call,
    ConcatenationParams,
    CopyOut,
    Field,
    LoweredOp,
    MeanParams,
    Params,
    PoolParams,
    RequantizeParams,
    SoftmaxParams,
    Table,
)
from tinyecg.export.cbackend.tflite_rules import (
    Graph,
    activation_range,
    fmt_scale,
    out_size,
    padding_before,
)
from tinyecg.models.tflite import Op, TFLiteModel
from tinyecg.quantmath import quantize_multiplier

VIEW_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")


def pool_2d(g: Graph, op: Op) -> LoweredOp:
    where = g.where(op)
    inp, out = g.input(op), g.output(op)
    _, ih, iw, c = g.shape4(inp, op)
    _, oh, ow, oc = g.shape4(out, op)
    if (np.float32(inp.scale), inp.zero_point) != (np.float32(out.scale), out.zero_point):
        raise TinyECGError(
            f"{where}: input and output quantization differ (TFLite "
            f"requires them equal for pooling)"
        )
    o = op.options
    kh, kw, sh, sw = o["filter_height"], o["filter_width"], o["stride_h"], o["stride_w"]
    padding = o["padding"]
    if oc != c or (out_size(padding, ih, kh, sh), out_size(padding, iw, kw, sw)) != (oh, ow):
        raise TinyECGError(
            f"{where}: output {list(out.shape)} does not follow from input "
            f"{list(inp.shape)}, {kh}x{kw} window, stride {sh}x{sw}, "
            f"{padding}"
        )
    pad_h, pad_w = padding_before(ih, kh, sh, oh), padding_before(iw, kw, sw, ow)
    for oy in range(oh):  # every window must see at least one input (TFLM fails otherwise)
        y0 = oy * sh - pad_h
        if min(kh, ih - y0) - max(0, -y0) <= 0:
            raise TinyECGError(f"{where}: output row {oy} has an empty window")
    for ox in range(ow):
        x0 = ox * sw - pad_w
        if min(kw, iw - x0) - max(0, -x0) <= 0:
            raise TinyECGError(f"{where}: output column {ox} has an empty window")
    act = o.get("fused_activation_function", "NONE")
    act_min, act_max = activation_range(act, out.scale, out.zero_point, where)
    params = PoolParams(
        in_h=Field(ih, "input height"),
        in_w=Field(iw, "input width"),
        channels=Field(c, "channels"),
        out_h=Field(oh, "output height"),
        out_w=Field(ow, "output width"),
        k_h=Field(kh, "window height"),
        k_w=Field(kw, "window width"),
        stride_h=Field(sh, "stride"),
        stride_w=Field(sw, "stride"),
        pad_h=Field(pad_h, f"{padding} padding rows before the first input row"),
        pad_w=Field(pad_w, f"{padding} padding columns before the first input column"),
        act_min=Field(
            act_min,
            f"{act} clamp; scale {fmt_scale(out.scale)}, zero point "
            f"{out.zero_point} (same as the input)",
        ),
        act_max=Field(act_max, f"{act} clamp"),
    )
    kernel = "tinyecg_nn_average_pool" if op.opcode == "AVERAGE_POOL_2D" else "tinyecg_nn_max_pool"
    title = (
        f"{op.opcode} {out.name!r}: {list(inp.shape)} -> {list(out.shape)}, "
        f"{kh}x{kw} window, stride {sh}x{sw}, {padding}"
    )
    name = f"op{op.index}"
    return LoweredOp(
        op.index,
        op.opcode,
        title,
        [],
        [(name, params)],
        [Call(kernel, name, op.inputs[0], op.outputs[0])],
    )


def view(g: Graph, op: Op) -> LoweredOp:
    inp = g.model.tensors[op.inputs[0]]
    out = g.model.tensors[op.outputs[0]]
    if inp.dtype != out.dtype or inp.size != out.size:
        raise TinyECGError(
            f"{g.where(op)}: {list(inp.shape)} -> {list(out.shape)} changes "
            f"the element count or type"
        )
    if (inp.scales, inp.zero_points) != (out.scales, out.zero_points):
        raise TinyECGError(f"{g.where(op)}: a view that changes quantization")
    return LoweredOp(
        op.index,
        op.opcode,
        f"{op.opcode} {out.name!r}: {list(inp.shape)} -> "
        f"{list(out.shape)} is a view of the same bytes "
        f"(no code)",
    )


def concatenation(g: Graph, op: Op) -> LoweredOp:
    where = g.where(op)
    out = g.output(op)
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise TinyECGError(f"{where}: fused activation on CONCATENATION is not supported")
    rank = len(out.shape)
    axis = op.options.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise TinyECGError(f"{where}: axis {op.options.get('axis')} for rank {rank}")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1 :], dtype=np.int64))
    out_stride = int(out.shape[axis]) * inner
    pos = 0
    params: list[tuple[str, Params]] = []
    calls: list[Call] = []
    for k, t in enumerate(op.inputs):
        tensor = g.activation(op, g.model.tensors[t], f"input {k}")
        if len(tensor.shape) != rank or any(
            a != b for i, (a, b) in enumerate(zip(tensor.shape, out.shape)) if i != axis
        ):
            raise TinyECGError(
                f"{where}: input {list(tensor.shape)} does not concatenate "
                f"into {list(out.shape)} on axis {axis}"
            )
        copy = int(tensor.shape[axis]) * inner
        same = (
            np.float32(tensor.scale) == np.float32(out.scale)
            and tensor.zero_point == out.zero_point
        )
        mult, shift = (0, 0) if same else quantize_multiplier(tensor.scale / out.scale)
        ratio = f"{fmt_scale(tensor.scale)} / {fmt_scale(out.scale)}"
        name = f"op{op.index}_input{k}"
        params.append(
            (
                name,
                ConcatenationParams(
                    outer=Field(outer, "blocks before the axis"),
                    copy=Field(copy, f"values per block from this input ({list(tensor.shape)})"),
                    out_stride=Field(out_stride, "values per block in the output"),
                    out_pos=Field(pos, "where this input starts inside a block"),
                    requantize=Field(
                        int(not same),
                        "0: same scale and zero point, a copy"
                        if same
                        else "1: rescale to the output's scale and zero point",
                    ),
                    rq=RequantizeParams(
                        in_zp=Field(
                            tensor.zero_point,
                            f"input zero point; input scale {fmt_scale(tensor.scale)}",
                        ),
                        mult=Field(
                            mult,
                            "unused (a copy)"
                            if same
                            else f"Q31 multiplier of input scale / output scale = {ratio}",
                        ),
                        shift=Field(shift, "unused (a copy)" if same else "its shift"),
                        out_zp=Field(
                            out.zero_point,
                            f"output zero point; output scale {fmt_scale(out.scale)}",
                        ),
                    ),
                ),
            )
        )
        calls.append(Call(ConcatenationParams.KERNEL, name, t, op.outputs[0]))
        pos += copy
    if pos != out_stride:
        raise TinyECGError(f"{where}: inputs fill {pos} of {out_stride} values per block")
    shapes = " + ".join(str(list(g.model.tensors[t].shape)) for t in op.inputs)
    title = f"CONCATENATION {out.name!r}: {shapes} -> {list(out.shape)} on axis {axis}"
    return LoweredOp(op.index, op.opcode, title, [], params, calls)


def softmax(g: Graph, op: Op) -> LoweredOp:
    where = g.where(op)
    inp, out = g.input(op), g.output(op)
    if (out.scale, out.zero_point) != (1.0 / 256, -128):
        raise TinyECGError(
            f"{where}: int8 softmax output must have scale 1/256 and zero "
            f"point -128 (has {out.scale}, {out.zero_point})"
        )
    if inp.size != out.size or not inp.shape:
        raise TinyECGError(f"{where}: input {list(inp.shape)} / output {list(out.shape)}")
    depth = int(inp.shape[-1])
    beta = float(op.options.get("beta", 1.0))
    # softmax_common.cc / quantization_util.cc PreprocessSoftmaxScaling with 5 integer bits
    real = min(beta * inp.scale * (1 << (31 - 5)), (1 << 31) - 1.0)
    if real <= 1.0:
        raise TinyECGError(f"{where}: beta * input scale too small for the int8 kernel")
    mult, left_shift = quantize_multiplier(real)
    radius = math.floor(1.0 * ((1 << 5) - 1) * (1 << (31 - 5)) / (1 << left_shift))
    params = SoftmaxParams(
        outer=Field(inp.size // depth, "rows"),
        depth=Field(depth, "classes per row"),
        mult=Field(
            mult,
            f"Q31 multiplier of beta * input scale * 2^26 = {beta:g} * "
            f"{fmt_scale(inp.scale)} * 2^26 = {real:.6f}",
        ),
        left_shift=Field(left_shift, "its left shift (input differences become Q5.26)"),
        diff_min=Field(
            -radius,
            "differences below this (in input units) give exp = 0: "
            "-floor(31 * 2^26 / 2^left_shift)",
        ),
    )
    title = (
        f"SOFTMAX {out.name!r}: {list(inp.shape)}, input scale {fmt_scale(inp.scale)}, "
        f"zero point {inp.zero_point} -> probabilities, scale 1/256, zero point -128"
    )
    name = f"op{op.index}"
    return LoweredOp(
        op.index,
        op.opcode,
        title,
        [],
        [(name, params)],
        [Call(params.KERNEL, name, op.inputs[0], op.outputs[0])],
    )


def mean(g: Graph, op: Op) -> LoweredOp:
    where = g.where(op)
    inp, out = g.input(op), g.output(op)
    axes_t = g.tensor(op, 1, "axis")
    if axes_t.data is None:
        raise TinyECGError(f"{where}: the axes must be a constant tensor")
    rank = len(inp.shape)
    axes = sorted(
        {int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes_t.data).reshape(-1)}
    )
    if not axes or any(not 0 <= a < rank for a in axes):
        raise TinyECGError(f"{where}: axes {axes_t.data.tolist()} for rank {rank}")
    dims = [int(d) for d in inp.shape]
    reduced = [a for a in axes if dims[a] != 1]
    if (
        reduced
        and reduced != list(range(reduced[0], reduced[-1] + 1))
        and any(dims[a] != 1 for a in range(reduced[0], reduced[-1] + 1) if a not in reduced)
    ):
        raise TinyECGError(
            f"{where}: MEAN over non-adjacent axes {axes} of {list(inp.shape)} is not supported"
        )
    first = reduced[0] if reduced else axes[0]
    last = reduced[-1] if reduced else axes[0]
    outer = int(np.prod(dims[:first], dtype=np.int64))
    count = int(np.prod([dims[a] for a in axes], dtype=np.int64))
    inner = int(np.prod(dims[last + 1 :], dtype=np.int64))
    if outer * inner != out.size or outer * count * inner != inp.size:
        raise TinyECGError(
            f"{where}: cannot reduce {list(inp.shape)} over {axes} into {list(out.shape)}"
        )
    # reduce_common.cc: QuantizeMultiplier(input scale / output scale); reduce.h
    # QuantizedMeanOrSum then folds 1/count into the multiplier. Today's TFLM takes this path
    # even when input and output quantization are equal (older builds truncated sum / count
    # there instead).
    mult0, shift0 = quantize_multiplier(inp.scale / out.scale)
    s = min(count.bit_length() - 1, 32, 31 + shift0)
    params = MeanParams(
        outer=Field(outer, "blocks before the reduced axes"),
        count=Field(count, f"values averaged (axes {axes} of {list(inp.shape)})"),
        inner=Field(inner, "values after the reduced axes"),
        in_zp=Field(inp.zero_point, f"input zero point; input scale {fmt_scale(inp.scale)}"),
        mult=Field(
            (mult0 << s) // count,
            f"Q31 multiplier of {fmt_scale(inp.scale)} / "
            f"{fmt_scale(out.scale)} / {count}: ({mult0} << "
            f"{s}) / {count}",
        ),
        shift=Field(shift0 - s, f"its shift: {shift0} - {s}"),
        out_zp=Field(out.zero_point, f"output zero point; output scale {fmt_scale(out.scale)}"),
    )
    title = f"MEAN {out.name!r}: {list(inp.shape)} over axes {axes} -> {list(out.shape)}"
    name = f"op{op.index}"
    return LoweredOp(
        op.index,
        op.opcode,
        title,
        [],
        [(name, params)],
        [Call(params.KERNEL, name, op.inputs[0], op.outputs[0])],
    )


LOWER = {
    "CONV_2D": ops_conv.conv_2d,
    "DEPTHWISE_CONV_2D": ops_conv.depthwise_conv_2d,
    "FULLY_CONNECTED": ops_conv.fully_connected,
    "AVERAGE_POOL_2D": pool_2d,
    "MAX_POOL_2D": pool_2d,
    "CONCATENATION": concatenation,
    "SOFTMAX": softmax,
    "MEAN": mean,
    **{name: view for name in VIEW_OPS},
}
SUPPORTED_OPS = tuple(LOWER)


@dataclass
class Lowering:
    """The whole graph as kernel calls."""

    ops: list[LoweredOp]
    const_tables: dict[int, Table] = field(default_factory=dict)  # constant activations
    copy_out: CopyOut | None = None


def check_graph(model: TFLiteModel) -> None:
    """What the C backend needs of the whole graph, before any op."""
    src = model.source
    unsupported = [op for op in model.ops if op.opcode not in LOWER]
    if unsupported:
        op = unsupported[0]
        raise TinyECGError(
            f"{src}: op {op.index} ({op.opcode}): op {op.opcode} is not "
            f"supported by the C backend (supported: {', '.join(LOWER)})"
        )
    ok, reasons = model.is_fully_int8()
    if not ok:
        raise TinyECGError(
            f"{src}: not a fully int8 model ({reasons[0]}{'; ...' if len(reasons) > 1 else ''})"
        )
    if model.num_subgraphs != 1:
        raise TinyECGError(
            f"{src}: {model.num_subgraphs} subgraphs; the C backend handles single-graph models"
        )
    if not 1 <= len(model.inputs) <= 2:
        raise TinyECGError(f"{src}: {len(model.inputs)} inputs; the C backend takes one or two")
    if len(model.outputs) != 1:
        raise TinyECGError(f"{src}: {len(model.outputs)} outputs; the C backend writes exactly one")
    for t in model.inputs + model.outputs:
        tensor = model.tensors[t]
        if tensor.dtype != "INT8" or not tensor.is_quantized:
            raise TinyECGError(
                f"{src}: model input/output {tensor.name!r} is {tensor.dtype}, not quantized int8"
            )
    if model.outputs[0] in model.inputs:
        raise TinyECGError(f"{src}: the model output is one of its inputs")


def lower(model: TFLiteModel, view_base: dict[int, int]) -> Lowering:
    """Every op of the (checked) graph as kernel calls; view_base maps a tensor to the one
    whose bytes it shares (plan.MemoryPlan.base)."""
    check_graph(model)
    g = Graph(model)
    result = Lowering([LOWER[op.opcode](g, op) for op in model.ops])
    for lowered in result.ops:
        for call in lowered.calls:
            b = view_base.get(call.input, call.input)
            t = model.tensors[b]
            if t.is_constant and b not in result.const_tables:
                if t.dtype != "INT8":
                    raise TinyECGError(
                        f"{model.source}: constant tensor {t.name!r} "
                        f"({t.dtype}) used as an activation"
                    )
                result.const_tables[b] = Table(
                    "int8_t",
                    f"const_t{b}",
                    np.asarray(t.data).reshape(-1),
                    [
                        f"constant tensor {t.name!r} {list(t.shape)}: int8, scale "
                        f"{fmt_scale(t.scales[0])}, zero point {t.zero_points[0]}"
                    ],
                )
    out = model.outputs[0]
    if view_base.get(out, out) != out:
        result.copy_out = CopyOut(out, model.tensors[out].size)
    return result
