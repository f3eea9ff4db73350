"""Interpreter-free C for a fully int8 .tflite graph, bit-exact with TFLite Micro.

`generate_c_backend(model)` lowers every op of the flatbuffer to a call of a small C99 kernel
whose integer arithmetic is TFLite's reference int8 arithmetic (see docs/c-backend.md):

* CONV_2D / DEPTHWISE_CONV_2D: per-channel int8 weights, int32 bias, SAME/VALID padding,
  strides, fused NONE/RELU/RELU6/RELU_N1_TO_1, then MultiplyByQuantizedMultiplier
  (SaturatingRoundingDoublingHighMul + RoundingDivideByPOT) per output channel.
* FULLY_CONNECTED (per-tensor or per-channel), AVERAGE_POOL_2D, MAX_POOL_2D.
* RESHAPE / EXPAND_DIMS / SQUEEZE: views, no code and no copy.
* CONCATENATION: a copy when the scales agree (always, for converter output); otherwise each
  input is requantized like TFLite's int8 Requantize (TFLM itself copies raw bytes there).
* SOFTMAX: gemmlowp fixed-point exp / reciprocal, as the reference int8 kernel.
* MEAN over adjacent axes (e.g. the width of NHWC): TFLM's QuantizedMeanOrSum, the sum less
  count * zero point, rescaled by input scale / output scale / count.

Every multiplier, shift, clamp and padding is computed here, at export time, with the same
double-precision steps as TFLM's Prepare functions, and written into `const` tables with a
comment saying where it came from. Intermediate tensors share one static arena, placed by a
greedy first-fit over their live ranges (`plan_memory`). Unsupported ops, types or shapes
raise TinyECGError naming the op.

Speed (docs/c-backend.md, "Speed"): one-row convolutions (input and filter height 1, all the
tinyecg models have) run in tq_conv_row and dense layers with weight zero point 0 in
tq_fc_fold: input zero point folded into the bias here, interior/border columns split here,
2 channels x 2 columns per pass, int16 weights in SMLAD lane order for DSP cores, and one
rounding multiply for the requantization when the shifts allow it (`_row_conv`,
`fast_requant`). Their arena scratch is part of the plan (`MemoryPlan.scratch`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.export import cgen
from tinyecg.export.render import render, write_atomically
from tinyecg.models.tflite import TFLiteModel, load_model

__all__ = [
    "SUPPORTED_OPS", "ArenaBuffer", "MemoryPlan", "plan_memory", "generate_c_backend",
    "write_c_backend", "quantize_multiplier",
]

SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D",
                 "MAX_POOL_2D", "CONCATENATION", "SOFTMAX", "MEAN", "RESHAPE", "EXPAND_DIMS",
                 "SQUEEZE")
VIEW_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")
ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
ARENA_ALIGNMENT = 4  # bytes; every arena tensor starts on a 32-bit boundary
# Bound on the stack invoke() uses: the deepest call chain from it (frames summed along the
# chain, as gcc -fcallgraph-info=su reports them; nothing recurses, no frame is dynamic). The
# tests check it for host gcc and arm-none-eabi-gcc (Cortex-M4 and M0+); measured 200-350 B.
STACK_BOUND_BYTES = 512


# --------------------------------------------------------------------------------------------
# TFLite's export-time arithmetic (quantization_util.cc, kernel_util.cc, padding.h)
# --------------------------------------------------------------------------------------------

def _round_half_away(x: float) -> int:
    """std::round: nearest integer, ties away from zero (exact for doubles)."""
    a = abs(x)
    n = math.floor(a)
    if a - n >= 0.5:
        n += 1
    return int(n) if x >= 0 else -int(n)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = multiplier * 2**(shift - 31), multiplier a Q31 int32
    in [2**30, 2**31) (0 for 0), double-rounding build (TFLITE_SINGLE_ROUNDING off)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def _quantize_f32(scale: float, zero_point: int, value: float) -> int:
    """kernel_util.cc Quantize(): zero_point + round(f / scale) in float32 arithmetic."""
    return zero_point + _round_half_away(float(np.float32(value) / np.float32(scale)))


def _activation_range(activation: str, scale: float, zero_point: int, where: str):
    qmin, qmax = -128, 127
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, _quantize_f32(scale, zero_point, 0.0)), qmax
    if activation == "RELU6":
        return (max(qmin, _quantize_f32(scale, zero_point, 0.0)),
                min(qmax, _quantize_f32(scale, zero_point, 6.0)))
    if activation == "RELU_N1_TO_1":
        return (max(qmin, _quantize_f32(scale, zero_point, -1.0)),
                min(qmax, _quantize_f32(scale, zero_point, 1.0)))
    raise TinyECGError(f"{where}: fused activation {activation} is not supported "
                       f"(supported: {', '.join(ACTIVATIONS)})")


def _out_size(padding: str, size: int, k: int, stride: int, dilation: int = 1) -> int:
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - eff) // stride


def _padding(size: int, k: int, stride: int, out: int, dilation: int = 1) -> int:
    """padding.h ComputePaddingWithOffset: padding before the first element (the odd one of
    an odd total goes after the last)."""
    total = (out - 1) * stride + (k - 1) * dilation + 1 - size
    return max(total, 0) // 2


# --------------------------------------------------------------------------------------------
# The fast kernels: which ops they take (shared by the memory plan and the lowering)
# --------------------------------------------------------------------------------------------

def _round4(n: int) -> int:
    return -(-n // 4) * 4


def _folded_bias(bias, w_rows, in_zp: int):
    """bias - in_zp * sum(w) per output channel (Python ints), or None when that, plus the
    largest possible sum of w * x over int8 inputs, could reach 2^30 (tq_rq_fast doubles the
    accumulator): then the kernels that add the zero point per tap are used."""
    folded = []
    for c, row in enumerate(w_rows):
        row = [int(v) for v in row]
        b = (int(bias[c]) if bias is not None else 0) - in_zp * sum(row)
        if abs(b) + 128 * sum(abs(v) for v in row) >= 1 << 30:
            return None
        folded.append(b)
    return folded


def _row_conv(model: TFLiteModel, op):
    """(taps, taps4, folded bias) when CONV_2D op runs on one row (input height 1, filter
    height 1) in tq_conv_row, else None (tq_conv2d; that lowering also reports bad graphs)."""
    if op.opcode != "CONV_2D" or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return None
    inp, w = model.tensors[op.inputs[0]], model.tensors[op.inputs[1]]
    bias = (model.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0
            else None)
    if (len(inp.shape) != 4 or len(w.shape) != 4 or w.data is None or w.dtype != "INT8"
            or not inp.is_quantized or inp.dtype != "INT8" or inp.per_channel
            or any(z != 0 for z in w.zero_points)
            or (bias is not None and (bias.data is None or bias.dtype != "INT32"))):
        return None
    if int(inp.shape[1]) != 1 or int(w.shape[1]) != 1 or int(w.shape[3]) != int(inp.shape[3]):
        return None
    if (op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1)) != (1, 1):
        return None
    oc = int(w.shape[0])
    taps = int(w.shape[2]) * int(w.shape[3])
    rows = np.asarray(w.data).reshape(oc, taps)
    folded = _folded_bias(None if bias is None else np.asarray(bias.data).reshape(-1), rows,
                          int(inp.zero_point))
    return None if folded is None else (taps, _round4(taps), folded)


def _scratch_bytes(model: TFLiteModel, op) -> int:
    """Arena scratch an op's kernel needs: tq_conv_row packs two input columns as int16
    (4 * taps4 bytes; the portable build stages border columns in the first half)."""
    row = _row_conv(model, op)
    return 4 * row[1] if row else 0


# --------------------------------------------------------------------------------------------
# Memory plan
# --------------------------------------------------------------------------------------------

@dataclass
class ArenaBuffer:
    tensor: int        # index of the tensor that owns the bytes (views share them)
    name: str
    size: int          # bytes
    first: int         # index of the op that writes it
    last: int          # index of the last op that reads it or one of its views
    offset: int = -1   # byte offset in the arena

    def overlaps_in_time(self, other: "ArenaBuffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    arena_bytes: int
    alignment: int
    buffers: list[ArenaBuffer]
    base: dict[int, int]       # tensor -> tensor whose storage it uses (itself unless a view)
    storage: dict[int, str]    # base tensor -> "input0" | "input1" | "output" | "arena" | "const"
    # kernel scratch inside the arena, live during one op only (tensor -1): op index -> slot
    scratch: dict[int, ArenaBuffer] = field(default_factory=dict)

    def buffer_of(self, tensor: int) -> ArenaBuffer | None:
        b = self.base.get(tensor, tensor)
        return next((x for x in self.buffers if x.tensor == b), None)


def _view_bases(model: TFLiteModel) -> dict[int, int]:
    base: dict[int, int] = {}
    for op in model.ops:
        for t in op.outputs:
            base[t] = t
        if op.opcode in VIEW_OPS:
            src = op.inputs[0]
            base[op.outputs[0]] = base.get(src, src)
    for t in range(len(model.tensors)):
        base.setdefault(t, t)
    return base


def plan_memory(model: TFLiteModel, alignment: int = ARENA_ALIGNMENT) -> MemoryPlan:
    """Place every intermediate tensor in one arena: tensors are taken in the order the ops
    write them and each goes to the lowest aligned offset that does not overlap a tensor
    placed before it whose live range [first write, last read] intersects its own."""
    base = _view_bases(model)
    n_ops = len(model.ops)
    storage: dict[int, str] = {}
    for k, t in enumerate(model.inputs):
        storage[t] = f"input{k}"
    for t in model.outputs:
        if base[t] == t and t not in storage:
            storage[t] = "output"
    for t in model.tensors:
        if t.is_constant:
            storage.setdefault(t.index, "const")

    buffers: dict[int, ArenaBuffer] = {}
    for op in model.ops:
        if op.opcode in VIEW_OPS:
            continue
        for t in op.outputs:
            if storage.get(t) is None:
                storage[t] = "arena"
                tensor = model.tensors[t]
                buffers[t] = ArenaBuffer(tensor=t, name=tensor.name, size=tensor.nbytes,
                                         first=op.index, last=op.index)
    for op in model.ops:
        for t in op.inputs:
            if t >= 0 and base[t] in buffers:
                b = buffers[base[t]]
                b.last = max(b.last, op.index)
    for t in model.outputs:  # an output that is a view of an arena tensor is copied at the end
        if base[t] in buffers:
            buffers[base[t]].last = n_ops

    scratch: dict[int, ArenaBuffer] = {}
    for op in model.ops:
        size = _scratch_bytes(model, op)
        if size:
            scratch[op.index] = ArenaBuffer(tensor=-1, name=f"scratch of op {op.index} "
                                            f"({op.opcode})", size=size, first=op.index,
                                            last=op.index)

    placed: list[ArenaBuffer] = []
    # an op's scratch is placed after the tensors it writes (same first op)
    for b in sorted([*buffers.values(), *scratch.values()],
                    key=lambda x: (x.first, x.tensor < 0, x.tensor)):
        live = sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, -(-(p.offset + p.size) // alignment) * alignment)
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in placed), default=0)
    return MemoryPlan(arena_bytes=arena, alignment=alignment,
                      buffers=[b for b in placed if b.tensor >= 0], base=base,
                      storage=storage, scratch=scratch)


# --------------------------------------------------------------------------------------------
# Lowering: one C kernel call per op, its parameters as commented constants
# --------------------------------------------------------------------------------------------

@dataclass
class _Array:
    ctype: str
    name: str
    lines: list[str]            # body lines (already formatted, with trailing comments)
    length: int
    comment: list[str] = field(default_factory=list)
    aligned: bool = False       # starts on a 4-byte boundary (TQ_ALIGN4): rows load as words
    build: str = ""             # "dsp" / "portable": emitted only in that build (TQ_USE_DSP)


@dataclass
class _Layer:
    index: int
    opcode: str
    title: str
    kernel: str | None = None   # C function name, None for views
    struct: str | None = None
    fields: list[tuple[str, str, str]] = field(default_factory=list)   # name, value, comment
    arrays: list[_Array] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)    # C expressions
    output: str = ""
    # CONCATENATION: one kernel call per input, (struct name, input expression, fields)
    parts: list[tuple[str, str, list[tuple[str, str, str]]]] = field(default_factory=list)


def _fmt_scale(x: float) -> str:
    return f"{x:.9g}"


def _int32_literal(v: int) -> str:
    return "(-2147483647 - 1)" if v == -(1 << 31) else str(int(v))


def _int_lines(values, per_line: int = 16, literal=str) -> list[str]:
    vals = [literal(int(v)) for v in np.asarray(values).reshape(-1)]
    return ["    " + ", ".join(vals[i:i + per_line]) + "," for i in range(0, len(vals), per_line)]


class _Lowering:
    def __init__(self, model: TFLiteModel, prefix: str):
        self.m = model
        self.prefix = prefix
        self.plan = plan_memory(model)
        self.layers: list[_Layer] = []
        self.const_tensors: list[_Array] = []
        self.kernels: set[str] = set()

    # -- helpers --------------------------------------------------------------------------
    def where(self, op) -> str:
        return f"{self.m.source}: op {op.index} ({op.opcode})"

    def tensor(self, op, slot: int, what: str):
        if slot >= len(op.inputs) or op.inputs[slot] < 0:
            raise TinyECGError(f"{self.where(op)}: missing {what}")
        return self.m.tensors[op.inputs[slot]]

    def activation_tensor(self, op, t, what: str):
        if t.dtype != "INT8":
            raise TinyECGError(f"{self.where(op)}: {what} {t.name!r} is {t.dtype}; the C "
                               f"backend runs int8 graphs only")
        if not t.is_quantized:
            raise TinyECGError(f"{self.where(op)}: {what} {t.name!r} has no quantization")
        if t.per_channel:
            raise TinyECGError(f"{self.where(op)}: {what} {t.name!r} is quantized per "
                               f"channel; activations must be per tensor")
        return t

    def expr(self, t: int, write: bool = False) -> str:
        """C expression of tensor t's data."""
        b = self.plan.base[t]
        kind = self.plan.storage.get(b)
        if kind in ("input0", "input1"):
            if write:
                raise TinyECGError(f"{self.m.source}: the graph writes into its input tensor "
                                   f"{self.m.tensors[t].name!r}")
            return kind
        if kind == "output":
            return "output"
        if kind == "arena":
            return f"(tq_arena.bytes + {self.plan.buffer_of(b).offset})"
        if kind == "const":
            tensor = self.m.tensors[b]
            if tensor.dtype != "INT8":
                raise TinyECGError(f"{self.m.source}: constant tensor {tensor.name!r} "
                                   f"({tensor.dtype}) used as an activation")
            name = f"const_t{b}"
            if not any(a.name == name for a in self.const_tensors):
                self.const_tensors.append(_Array(
                    "int8_t", name, _int_lines(tensor.data), tensor.size,
                    [f"constant tensor {tensor.name!r} {list(tensor.shape)}: int8, scale "
                     f"{_fmt_scale(tensor.scale)}, zero point {tensor.zero_point}"]))
            return name
        raise TinyECGError(f"{self.m.source}: tensor {self.m.tensors[t].name!r} has no "
                           f"storage (graph input/output/constant/intermediate)")

    @staticmethod
    def shape4(t, op, where) -> tuple[int, int, int, int]:
        if len(t.shape) != 4:
            raise TinyECGError(f"{where}: expects a 4-D NHWC tensor, {t.name!r} is "
                               f"{list(t.shape)}")
        if t.shape[0] != 1:
            raise TinyECGError(f"{where}: batch {t.shape[0]} in {t.name!r} {list(t.shape)} "
                               f"is not supported (batch 1 only)")
        return tuple(int(d) for d in t.shape)  # type: ignore[return-value]

    def mult_shift_arrays(self, name, reals, labels, in_scale, w_scales, out_scale):
        mults, shifts, lines = [], [], []
        for c, (real, sw) in enumerate(zip(reals, w_scales)):
            m, s = quantize_multiplier(real)
            mults.append(m)
            shifts.append(s)
            lines.append(f"    {m}, /* {labels}{c}: {_fmt_scale(in_scale)} * {_fmt_scale(sw)} / "
                         f"{_fmt_scale(out_scale)} = {real:.6e} */")
        ma = _Array("int32_t", f"{name}_mult", lines, len(mults), [
            "output multipliers, Q31: real scale = mult * 2^(shift - 31),",
            "real scale = input scale * weight scale / output scale (TFLite "
            "QuantizeMultiplier)"])
        sa = _Array("int8_t", f"{name}_shift", _int_lines(shifts, 24), len(shifts), [
            "output shifts: > 0 shifts left before the multiply, < 0 rounds right after it"])
        return ma, sa

    @staticmethod
    def fast_requant(name, reals, out_zp, labels) -> "_Array | None":
        """tq_rq_fast's constants add = 2^(r-1) + out_zp * 2^r (r = -shift) when every channel
        has a multiplier > 0, r in [1, 30] and |add| < 2^30; None otherwise (tq_mbqm)."""
        lines = []
        for c, real in enumerate(reals):
            m, sh = quantize_multiplier(real)
            r = -sh
            if m <= 0 or not 1 <= r <= 30:
                return None
            add = (1 << (r - 1)) + out_zp * (1 << r)
            if abs(add) >= 1 << 30:
                return None
            lines.append(f"    {add},  /* {labels}{c}: 2^{r - 1} + ({out_zp}) * 2^{r} */")
        return _Array("int32_t", f"{name}_add", lines, len(reals), [
            "rounding and output zero point of the one-multiply requantization "
            "(tq_rq_fast):", "2^(r-1) + out_zp * 2^r, r = -shift"])

    def scratch_fields(self, op, taps4: int) -> list[tuple[str, str, str]]:
        b = self.plan.scratch[op.index]
        return [
            ("cols", f"tq_arena.words + {b.offset // 4}",
             f"arena scratch, bytes {b.offset}..{b.offset + 4 * taps4 - 1}: packed columns"),
            ("stage", f"tq_arena.bytes + {b.offset}", "the same bytes: border columns"),
        ]

    def folded_bias_array(self, name, folded, bias, rows, in_zp, labels) -> _Array:
        lines = []
        for c, v in enumerate(folded):
            b = int(bias[c]) if bias is not None else 0
            lines.append(f"    {_int32_literal(v)},  /* {labels}{c}: {b} - ({in_zp}) * "
                         f"{int(np.asarray(rows[c], np.int64).sum())} */")
        return _Array("int32_t", f"{name}_bias", lines, len(folded), [
            "bias with the input zero point folded in: bias - zp * (sum of the channel's "
            "weights), so", "the kernel sums w * x (TFLite: bias + sum w * (x - zp); "
            "no bias: 0)"])

    # -- ops ------------------------------------------------------------------------------
    def lower(self) -> list[_Layer]:
        ok, reasons = self.m.is_fully_int8()
        unsupported = [op for op in self.m.ops if op.opcode not in SUPPORTED_OPS]
        if unsupported:
            op = unsupported[0]
            raise TinyECGError(f"{self.where(op)}: op {op.opcode} is not supported by the C "
                               f"backend (supported: {', '.join(SUPPORTED_OPS)})")
        if not ok:
            raise TinyECGError(f"{self.m.source}: not a fully int8 model ({reasons[0]}"
                               f"{'; ...' if len(reasons) > 1 else ''})")
        if self.m.num_subgraphs != 1:
            raise TinyECGError(f"{self.m.source}: {self.m.num_subgraphs} subgraphs; the C "
                               f"backend handles single-graph models")
        if not 1 <= len(self.m.inputs) <= 2:
            raise TinyECGError(f"{self.m.source}: {len(self.m.inputs)} inputs; the C backend "
                               f"takes one or two")
        if len(self.m.outputs) != 1:
            raise TinyECGError(f"{self.m.source}: {len(self.m.outputs)} outputs; the C backend "
                               f"writes exactly one")
        for t in self.m.inputs + self.m.outputs:
            tensor = self.m.tensors[t]
            if tensor.dtype != "INT8" or not tensor.is_quantized:
                raise TinyECGError(f"{self.m.source}: model input/output {tensor.name!r} is "
                                   f"{tensor.dtype}, not quantized int8")
        if self.m.outputs[0] in self.m.inputs:
            raise TinyECGError(f"{self.m.source}: the model output is one of its inputs")
        for op in self.m.ops:
            handler = getattr(self, "op_" + op.opcode.lower())
            self.layers.append(handler(op))
        out = self.m.outputs[0]
        if self.plan.storage.get(self.plan.base[out]) != "output":
            tensor = self.m.tensors[out]
            self.layers.append(_Layer(
                index=len(self.m.ops), opcode="COPY", kernel="tq_copy",
                title=f"copy the view {tensor.name!r} into the caller's output",
                fields=[("size", str(tensor.size), "bytes")],
                inputs=[self.expr(out)], output="output"))
            self.kernels.add("copy")
        return self.layers

    def _conv_common(self, op, depthwise: bool) -> _Layer:
        where = self.where(op)
        inp = self.activation_tensor(op, self.tensor(op, 0, "input"), "input")
        w = self.tensor(op, 1, "filter")
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        bias = self.m.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if w.dtype != "INT8" or w.data is None:
            raise TinyECGError(f"{where}: filter {w.name!r} must be constant int8 ({w.dtype})")
        if any(z != 0 for z in w.zero_points):
            raise TinyECGError(f"{where}: filter {w.name!r} has a nonzero zero point")
        if bias is not None and (bias.dtype != "INT32" or bias.data is None):
            raise TinyECGError(f"{where}: bias {bias.name!r} must be constant int32 "
                               f"({bias.dtype})")
        _, ih, iw, ic = self.shape4(inp, op, where)
        _, oh, ow, oc = self.shape4(out, op, where)
        if len(w.shape) != 4:
            raise TinyECGError(f"{where}: filter {w.name!r} {list(w.shape)} is not 4-D")
        o = op.options
        dil_h, dil_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
        if (dil_h, dil_w) != (1, 1):
            raise TinyECGError(f"{where}: dilation {dil_h}x{dil_w} is not supported "
                               f"(dilation 1 only)")
        sh, sw = o["stride_h"], o["stride_w"]
        padding = o["padding"]
        if padding not in ("SAME", "VALID") or sh < 1 or sw < 1:
            raise TinyECGError(f"{where}: padding {padding} / stride {sh}x{sw} not supported")
        if depthwise:
            if w.shape[0] != 1:
                raise TinyECGError(f"{where}: depthwise filter {list(w.shape)} must be "
                                   f"[1, kh, kw, channels]")
            kh, kw, wc = (int(d) for d in w.shape[1:])
            dm = o.get("depth_multiplier", 0) or (wc // ic)
            if wc != oc or oc != ic * dm:
                raise TinyECGError(f"{where}: depthwise filter {list(w.shape)} does not match "
                                   f"input channels {ic} x multiplier {dm} = {oc}")
            qdim_ok = w.quantized_dimension == 3
        else:
            wo, kh, kw, wi = (int(d) for d in w.shape)
            if wo != oc:
                raise TinyECGError(f"{where}: filter {list(w.shape)} has {wo} output channels, "
                                   f"output has {oc}")
            if wi != ic:
                raise TinyECGError(f"{where}: grouped convolution (filter depth {wi}, input "
                                   f"depth {ic}) is not supported")
            dm = 1
            qdim_ok = w.quantized_dimension == 0
        if w.per_channel and (len(w.scales) != oc or not qdim_ok):
            raise TinyECGError(f"{where}: filter {w.name!r} has {len(w.scales)} scales on "
                               f"dimension {w.quantized_dimension} for {oc} output channels")
        exp_oh, exp_ow = _out_size(padding, ih, kh, sh), _out_size(padding, iw, kw, sw)
        if (exp_oh, exp_ow) != (oh, ow):
            raise TinyECGError(f"{where}: output {oh}x{ow} but {padding} padding with stride "
                               f"{sh}x{sw} gives {exp_oh}x{exp_ow}")
        pad_h, pad_w = _padding(ih, kh, sh, oh), _padding(iw, kw, sw, ow)
        act = o.get("fused_activation_function", "NONE")
        act_min, act_max = _activation_range(act, out.scale, out.zero_point, where)
        w_scales = list(w.scales) if w.per_channel else [w.scale] * oc
        reals = [inp.scale * s / out.scale for s in w_scales]
        name = f"op{op.index}"
        row = None if depthwise else _row_conv(self.m, op)
        if row is not None:
            taps, taps4, folded = row
            rows = np.asarray(w.data).reshape(oc, taps)
            pairs = (oc + 1) // 2
            padded = np.zeros((2 * pairs, taps4), np.int16)
            padded[:oc, :taps] = rows
            padded[oc:] = padded[oc - 1]          # an odd last channel pairs with itself
            # per channel pair (u, v) and group of 4 taps: u0 u2 v0 v2 u1 u3 v1 v3
            g = padded.reshape(pairs, 2, taps4 // 4, 2, 2)   # pair, u/v, group, t // 2, t % 2
            packed = g.transpose(0, 2, 4, 1, 3).reshape(pairs, 2 * taps4)
            interior = [x for x in range(ow) if x * sw - pad_w >= 0
                        and (x * sw - pad_w) * ic + taps4 <= iw * ic]
            first, end = (interior[0], interior[-1] + 1) if interior else (0, 0)
            assert interior == list(range(first, end))
            lines = []
            for k in range(pairs):
                lines.append(f"    /* channels {2 * k} and {min(2 * k + 1, oc - 1)} */")
                lines += _int_lines(packed[k], 16)
            arrays = [_Array("int8_t", f"{name}_weights", _int_lines(rows), rows.size, [
                f"{w.name!r} {list(w.shape)}: int8 OHWI, a row of k_w * in_c = {taps} taps "
                f"per output channel,", "zero point 0, scale per output channel (with the "
                "multipliers below)"], build="portable"),
                _Array("int16_t", f"{name}_weights", lines, packed.size, [
                f"the same weights for the SMLAD loop: int16, taps zero-padded to {taps4}; "
                f"one block per", "channel pair (u, v), per group of 4 taps u0 u2 v0 v2 u1 "
                "u3 v1 v3 (SXTB16 lanes, see tq_conv_row)"], aligned=True, build="dsp")]
            arrays.append(self.folded_bias_array(
                name, folded, None if bias is None else np.asarray(bias.data).reshape(-1),
                rows, inp.zero_point, "c"))
            arrays += list(self.mult_shift_arrays(name, reals, "c", inp.scale, w_scales,
                                                  out.scale))
            add = self.fast_requant(name, reals, out.zero_point, "c")
            if add is not None:
                arrays.append(add)
            self.kernels.add("convrow")
            fields = [
                ("in_w", iw, "input columns"), ("in_c", ic, "input channels"),
                ("out_w", ow, "output columns"), ("out_c", oc, "output channels"),
                ("stride", sw, "stride along the row"),
                ("pad", pad_w, f"{padding} padding columns before the first input column"),
                ("taps", taps, f"k_w * in_c = {kw} * {ic}"),
                ("taps4", taps4, "taps rounded up to whole words (weight row length)"),
                ("interior_first", first, "first output column whose taps4 inputs are all "
                                          "inside the input"),
                ("interior_end", end, "one past the last such column"),
                ("in_zp", inp.zero_point, f"input zero point (padding value); input scale "
                                          f"{_fmt_scale(inp.scale)}"),
                ("weights", f"{name}_weights", "filter rows (int16 blocks in the SMLAD build)"),
                ("bias", f"{name}_bias", "bias with the input zero point folded in"),
                ("rq.out_zp", out.zero_point, f"output zero point; output scale "
                                              f"{_fmt_scale(out.scale)}"),
                ("rq.act_min", act_min, f"{act} clamp, output units"),
                ("rq.act_max", act_max, f"{act} clamp, output units"),
                ("rq.mult", f"{name}_mult", "per-channel Q31 multipliers"),
                ("rq.shift", f"{name}_shift", "per-channel shifts"),
                ("rq.fast", int(add is not None), "1: one rounding multiply (tq_rq_fast)"
                 if add is not None else "0: a shift outside [-30, -1] (tq_mbqm)"),
                ("rq.add", f"{name}_add" if add is not None else "NULL",
                 "its rounding + zero point constants"),
                *self.scratch_fields(op, taps4),
            ]
            title = (f"CONV_2D {out.name!r}: {list(inp.shape)} -> {list(out.shape)}, "
                     f"{kh}x{kw} filter, stride {sw}, {padding}, {act} (one row: "
                     f"tq_conv_row)")
            return _Layer(op.index, op.opcode, title, "tq_conv_row", "tq_conv_row_t",
                          [(k, str(v), c) for k, v, c in fields], arrays,
                          [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))
        kernel = "tq_depthwise_conv2d" if depthwise else "tq_conv2d"
        self.kernels.add("depthwise" if depthwise else "conv")
        layout = "[1][k_h][k_w][out_c] (1HWO)" if depthwise else "[out_c][k_h][k_w][in_c] (OHWI)"
        arrays = [_Array("int8_t", f"{name}_weights", _int_lines(w.data), w.size, [
            f"{w.name!r} {list(w.shape)}: int8 {layout}, zero point 0,",
            "scale per output channel (listed with the multipliers below)"])]
        if bias is not None:
            arrays.append(_Array("int32_t", f"{name}_bias",
                                 _int_lines(bias.data, 8, _int32_literal), bias.size, [
                f"{bias.name!r} [{oc}]: int32, zero point 0, scale = input scale * weight "
                f"scale of the channel"]))
        arrays += list(self.mult_shift_arrays(name, reals, "c", inp.scale, w_scales, out.scale))
        fields = [
            ("in_h", ih, "input height"), ("in_w", iw, "input width"),
            ("in_c", ic, "input channels"),
            ("out_h", oh, "output height"), ("out_w", ow, "output width"),
            ("out_c", oc, "output channels"),
            ("k_h", kh, "filter height"), ("k_w", kw, "filter width"),
            ("stride_h", sh, "stride"), ("stride_w", sw, "stride"),
            ("pad_h", pad_h, f"{padding} padding rows before the first input row"),
            ("pad_w", pad_w, f"{padding} padding columns before the first input column"),
        ]
        if depthwise:
            fields.append(("depth_mult", dm, "output channels per input channel"))
        fields += [
            ("in_offset", -inp.zero_point, f"-(input zero point); input scale "
                                           f"{_fmt_scale(inp.scale)}"),
            ("out_offset", out.zero_point, f"output zero point; output scale "
                                           f"{_fmt_scale(out.scale)}"),
            ("act_min", act_min, f"{act} clamp, output units"),
            ("act_max", act_max, f"{act} clamp, output units"),
            ("weights", f"{name}_weights", "int8 filter"),
            ("bias", f"{name}_bias" if bias is not None else "NULL", "int32 bias"),
            ("mult", f"{name}_mult", "per-channel Q31 multipliers"),
            ("shift", f"{name}_shift", "per-channel shifts"),
        ]
        title = (f"{op.opcode} {out.name!r}: {list(inp.shape)} -> {list(out.shape)}, "
                 f"{kh}x{kw} filter, stride {sh}x{sw}, {padding}, {act}")
        return _Layer(op.index, op.opcode, title, kernel,
                      "tq_dwconv_t" if depthwise else "tq_conv_t",
                      [(k, str(v), c) for k, v, c in fields], arrays,
                      [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))

    def op_conv_2d(self, op):
        return self._conv_common(op, depthwise=False)

    def op_depthwise_conv_2d(self, op):
        return self._conv_common(op, depthwise=True)

    def op_fully_connected(self, op):
        where = self.where(op)
        inp = self.activation_tensor(op, self.tensor(op, 0, "input"), "input")
        w = self.tensor(op, 1, "weights")
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        bias = self.m.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        o = op.options
        if o.get("weights_format", 0) not in (0, "DEFAULT"):
            raise TinyECGError(f"{where}: shuffled weights format is not supported")
        if w.dtype != "INT8" or w.data is None or len(w.shape) != 2:
            raise TinyECGError(f"{where}: weights {w.name!r} must be constant 2-D int8")
        if bias is not None and (bias.dtype != "INT32" or bias.data is None):
            raise TinyECGError(f"{where}: bias {bias.name!r} must be constant int32")
        units, depth = (int(d) for d in w.shape)
        if inp.size % depth:
            raise TinyECGError(f"{where}: input {list(inp.shape)} is not a multiple of the "
                               f"weights' depth {depth}")
        batches = inp.size // depth
        if out.size != batches * units:
            raise TinyECGError(f"{where}: output {list(out.shape)} != {batches} x {units}")
        if w.per_channel and len(w.scales) != units:
            raise TinyECGError(f"{where}: weights have {len(w.scales)} scales for {units} units")
        act = o.get("fused_activation_function", "NONE")
        act_min, act_max = _activation_range(act, out.scale, out.zero_point, where)
        name = f"op{op.index}"
        # kernel_util.cc GetQuantizedConvolutionMultipler: input scale * weight scale / output
        # scale, in double (per channel like conv when the weights carry one scale per unit)
        w_scales = list(w.scales) if w.per_channel else [w.scale]
        reals = [inp.scale * s / out.scale for s in w_scales]
        rows = np.asarray(w.data).reshape(units, depth)
        folded = None if w.zero_point != 0 or any(z != 0 for z in w.zero_points) else \
            _folded_bias(None if bias is None else np.asarray(bias.data).reshape(-1), rows,
                         int(inp.zero_point))
        if folded is not None:
            depth4 = _round4(depth)
            padded = np.zeros((units, depth4), np.int8)
            padded[:, :depth] = rows
            arrays = [_Array("int8_t", f"{name}_weights", _int_lines(padded), padded.size, [
                f"{w.name!r} [{units}][{depth}]: int8, row per output unit, zero-padded to "
                f"{depth4} (whole words),", f"zero point 0, scale "
                f"{'per unit (below)' if w.per_channel else _fmt_scale(w.scale)}"],
                aligned=True)]
            arrays.append(self.folded_bias_array(
                name, folded, None if bias is None else np.asarray(bias.data).reshape(-1),
                rows, inp.zero_point, "u"))
            labels = "u" if w.per_channel else "all "
            arrays += list(self.mult_shift_arrays(name, reals, labels, inp.scale, w_scales,
                                                  out.scale))
            add = self.fast_requant(name, reals, out.zero_point, labels)
            if add is not None:
                arrays.append(add)
            self.kernels.add("fcfold")
            fields = [
                ("batches", batches, "rows of the input"),
                ("depth", depth, "input values per row"),
                ("depth4", depth4, "weight row length (depth rounded up to whole words)"),
                ("units", units, "output units"),
                ("per_channel", int(w.per_channel), "1: one multiplier per unit, 0: one for all"),
                ("weights", f"{name}_weights", "int8 weight rows"),
                ("bias", f"{name}_bias", f"bias with the input zero point "
                                         f"({inp.zero_point}) folded in"),
                ("rq.out_zp", out.zero_point, f"output zero point; output scale "
                                              f"{_fmt_scale(out.scale)}"),
                ("rq.act_min", act_min, f"{act} clamp, output units"),
                ("rq.act_max", act_max, f"{act} clamp, output units"),
                ("rq.mult", f"{name}_mult", "Q31 multiplier(s)"),
                ("rq.shift", f"{name}_shift", "shift(s)"),
                ("rq.fast", int(add is not None), "1: one rounding multiply (tq_rq_fast)"
                 if add is not None else "0: a shift outside [-30, -1] (tq_mbqm)"),
                ("rq.add", f"{name}_add" if add is not None else "NULL",
                 "its rounding + zero point constants"),
            ]
            title = (f"FULLY_CONNECTED {out.name!r}: {list(inp.shape)} x [{units}, {depth}] "
                     f"-> {list(out.shape)}, {act}")
            return _Layer(op.index, op.opcode, title, "tq_fc_fold", "tq_fc_fold_t",
                          [(k, str(v), c) for k, v, c in fields], arrays,
                          [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))
        arrays = [_Array("int8_t", f"{name}_weights", _int_lines(w.data), w.size, [
            f"{w.name!r} [{units}][{depth}]: int8, row per output unit, zero point "
            f"{w.zero_point}, scale {'per unit (below)' if w.per_channel else _fmt_scale(w.scale)}"
        ])]
        if bias is not None:
            arrays.append(_Array("int32_t", f"{name}_bias",
                                 _int_lines(bias.data, 8, _int32_literal), bias.size, [
                f"{bias.name!r} [{units}]: int32, zero point 0, scale = input scale * "
                f"weight scale"]))
        arrays += list(self.mult_shift_arrays(name, reals, "u" if w.per_channel else "all ",
                                              inp.scale, w_scales, out.scale))
        self.kernels.add("fc")
        fields = [
            ("batches", batches, "rows of the input"),
            ("in_depth", depth, "input values per row"),
            ("out_depth", units, "output units"),
            ("in_offset", -inp.zero_point, f"-(input zero point); input scale "
                                           f"{_fmt_scale(inp.scale)}"),
            ("w_offset", -w.zero_point, "-(weights zero point)"),
            ("out_offset", out.zero_point, f"output zero point; output scale "
                                           f"{_fmt_scale(out.scale)}"),
            ("act_min", act_min, f"{act} clamp, output units"),
            ("act_max", act_max, f"{act} clamp, output units"),
            ("per_channel", int(w.per_channel), "1: one multiplier per unit, 0: one for all"),
            ("weights", f"{name}_weights", "int8 weights"),
            ("bias", f"{name}_bias" if bias is not None else "NULL", "int32 bias"),
            ("mult", f"{name}_mult", "Q31 multiplier(s)"),
            ("shift", f"{name}_shift", "shift(s)"),
        ]
        title = (f"FULLY_CONNECTED {out.name!r}: {list(inp.shape)} x [{units}, {depth}] -> "
                 f"{list(out.shape)}, {act}")
        return _Layer(op.index, op.opcode, title, "tq_fully_connected", "tq_fc_t",
                      [(k, str(v), c) for k, v, c in fields], arrays,
                      [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))

    def _pool(self, op, kind: str):
        where = self.where(op)
        inp = self.activation_tensor(op, self.tensor(op, 0, "input"), "input")
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        _, ih, iw, c = self.shape4(inp, op, where)
        _, oh, ow, oc = self.shape4(out, op, where)
        if (np.float32(inp.scale), inp.zero_point) != (np.float32(out.scale), out.zero_point):
            raise TinyECGError(f"{where}: input and output quantization differ (TFLite "
                               f"requires them equal for pooling)")
        o = op.options
        kh, kw, sh, sw = o["filter_height"], o["filter_width"], o["stride_h"], o["stride_w"]
        padding = o["padding"]
        if oc != c or (_out_size(padding, ih, kh, sh), _out_size(padding, iw, kw, sw)) != (oh, ow):
            raise TinyECGError(f"{where}: output {list(out.shape)} does not follow from input "
                               f"{list(inp.shape)}, {kh}x{kw} window, stride {sh}x{sw}, "
                               f"{padding}")
        pad_h, pad_w = _padding(ih, kh, sh, oh), _padding(iw, kw, sw, ow)
        for oy in range(oh):  # every window must see at least one input (TFLM fails otherwise)
            y0 = oy * sh - pad_h
            if min(kh, ih - y0) - max(0, -y0) <= 0:
                raise TinyECGError(f"{where}: output row {oy} has an empty window")
        for ox in range(ow):
            x0 = ox * sw - pad_w
            if min(kw, iw - x0) - max(0, -x0) <= 0:
                raise TinyECGError(f"{where}: output column {ox} has an empty window")
        act = o.get("fused_activation_function", "NONE")
        act_min, act_max = _activation_range(act, out.scale, out.zero_point, where)
        self.kernels.add(kind)
        fields = [
            ("in_h", ih, "input height"), ("in_w", iw, "input width"),
            ("channels", c, "channels"),
            ("out_h", oh, "output height"), ("out_w", ow, "output width"),
            ("k_h", kh, "window height"), ("k_w", kw, "window width"),
            ("stride_h", sh, "stride"), ("stride_w", sw, "stride"),
            ("pad_h", pad_h, f"{padding} padding rows before the first input row"),
            ("pad_w", pad_w, f"{padding} padding columns before the first input column"),
            ("act_min", act_min, f"{act} clamp; scale {_fmt_scale(out.scale)}, zero point "
                                 f"{out.zero_point} (same as the input)"),
            ("act_max", act_max, f"{act} clamp"),
        ]
        title = (f"{op.opcode} {out.name!r}: {list(inp.shape)} -> {list(out.shape)}, "
                 f"{kh}x{kw} window, stride {sh}x{sw}, {padding}")
        kernel = "tq_average_pool" if kind == "avgpool" else "tq_max_pool"
        return _Layer(op.index, op.opcode, title, kernel, "tq_pool_t",
                      [(k, str(v), cm) for k, v, cm in fields], [],
                      [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))

    def op_average_pool_2d(self, op):
        return self._pool(op, "avgpool")

    def op_max_pool_2d(self, op):
        return self._pool(op, "maxpool")

    def _view(self, op):
        inp = self.m.tensors[op.inputs[0]]
        out = self.m.tensors[op.outputs[0]]
        if inp.dtype != out.dtype or inp.size != out.size:
            raise TinyECGError(f"{self.where(op)}: {list(inp.shape)} -> {list(out.shape)} "
                               f"changes the element count or type")
        if (inp.scales, inp.zero_points) != (out.scales, out.zero_points):
            raise TinyECGError(f"{self.where(op)}: a view that changes quantization")
        title = (f"{op.opcode} {out.name!r}: {list(inp.shape)} -> {list(out.shape)} is a view "
                 f"of the same bytes (no code)")
        return _Layer(op.index, op.opcode, title)

    op_reshape = op_expand_dims = op_squeeze = _view

    def op_concatenation(self, op):
        where = self.where(op)
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        if op.options.get("fused_activation_function", "NONE") != "NONE":
            raise TinyECGError(f"{where}: fused activation on CONCATENATION is not supported")
        rank = len(out.shape)
        axis = op.options.get("axis", 0)
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank:
            raise TinyECGError(f"{where}: axis {op.options.get('axis')} for rank {rank}")
        outer = int(np.prod(out.shape[:axis], dtype=np.int64))
        inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
        out_stride = int(out.shape[axis]) * inner
        pos, parts = 0, []
        for k, t in enumerate(op.inputs):
            tensor = self.activation_tensor(op, self.m.tensors[t], f"input {k}")
            if len(tensor.shape) != rank or any(
                    a != b for i, (a, b) in enumerate(zip(tensor.shape, out.shape)) if i != axis):
                raise TinyECGError(f"{where}: input {list(tensor.shape)} does not concatenate "
                                   f"into {list(out.shape)} on axis {axis}")
            copy = int(tensor.shape[axis]) * inner
            same = (np.float32(tensor.scale) == np.float32(out.scale)
                    and tensor.zero_point == out.zero_point)
            mult, shift = (0, 0) if same else quantize_multiplier(tensor.scale / out.scale)
            name = f"op{op.index}_part{k}"
            pf = [
                ("outer", outer, "blocks before the axis"),
                ("copy", copy, f"values per block from this input ({list(tensor.shape)})"),
                ("out_stride", out_stride, "values per block in the output"),
                ("out_pos", pos, "where this input starts inside a block"),
                ("requant", int(not same), "0: same scale and zero point, plain copy" if same
                 else "1: rescale to the output's scale and zero point"),
                ("in_zp", tensor.zero_point, f"input zero point; input scale "
                                             f"{_fmt_scale(tensor.scale)}"),
                ("mult", mult, "unused (plain copy)" if same else
                 f"Q31 multiplier of input scale / output scale = {_fmt_scale(tensor.scale)}"
                 f" / {_fmt_scale(out.scale)}"),
                ("shift", shift, "unused (plain copy)" if same else "its shift"),
                ("out_zp", out.zero_point, f"output zero point; output scale "
                                           f"{_fmt_scale(out.scale)}"),
            ]
            parts.append((name, self.expr(t), [(a, str(b), c) for a, b, c in pf]))
            pos += copy
        if pos != out_stride:
            raise TinyECGError(f"{where}: inputs fill {pos} of {out_stride} values per block")
        self.kernels.add("concat")
        title = (f"CONCATENATION {out.name!r}: {' + '.join(str(list(self.m.tensors[t].shape)) for t in op.inputs)} "
                 f"-> {list(out.shape)} on axis {axis}")
        return _Layer(op.index, op.opcode, title, "tq_concat_part", "tq_concat_part_t",
                      output=self.expr(op.outputs[0], write=True), parts=parts)

    def op_softmax(self, op):
        where = self.where(op)
        inp = self.activation_tensor(op, self.tensor(op, 0, "input"), "input")
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        if (out.scale, out.zero_point) != (1.0 / 256, -128):
            raise TinyECGError(f"{where}: int8 softmax output must have scale 1/256 and zero "
                               f"point -128 (has {out.scale}, {out.zero_point})")
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
        self.kernels.add("softmax")
        fields = [
            ("outer", inp.size // depth, "rows"),
            ("depth", depth, "classes per row"),
            ("mult", mult, f"Q31 multiplier of beta * input scale * 2^26 = {beta:g} * "
                           f"{_fmt_scale(inp.scale)} * 2^26 = {real:.6f}"),
            ("left_shift", left_shift, "its left shift (input differences become Q5.26)"),
            ("diff_min", -radius, "differences below this (in input units) give exp = 0: "
                                  "-floor(31 * 2^26 / 2^left_shift)"),
        ]
        title = (f"SOFTMAX {out.name!r}: {list(inp.shape)}, input scale "
                 f"{_fmt_scale(inp.scale)}, zero point {inp.zero_point} -> probabilities, "
                 f"scale 1/256, zero point -128")
        return _Layer(op.index, op.opcode, title, "tq_softmax", "tq_softmax_t",
                      [(k, str(v), c) for k, v, c in fields], [],
                      [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))

    def op_mean(self, op):
        where = self.where(op)
        inp = self.activation_tensor(op, self.tensor(op, 0, "input"), "input")
        axes_t = self.tensor(op, 1, "axis")
        out = self.activation_tensor(op, self.m.tensors[op.outputs[0]], "output")
        if axes_t.data is None:
            raise TinyECGError(f"{where}: the axes must be a constant tensor")
        rank = len(inp.shape)
        axes = sorted({int(a) + rank if int(a) < 0 else int(a)
                       for a in np.asarray(axes_t.data).reshape(-1)})
        if not axes or any(not 0 <= a < rank for a in axes):
            raise TinyECGError(f"{where}: axes {axes_t.data.tolist()} for rank {rank}")
        dims = [int(d) for d in inp.shape]
        reduced = [a for a in axes if dims[a] != 1]
        if reduced and reduced != list(range(reduced[0], reduced[-1] + 1)) and any(
                dims[a] != 1 for a in range(reduced[0], reduced[-1] + 1) if a not in reduced):
            raise TinyECGError(f"{where}: MEAN over non-adjacent axes {axes} of "
                               f"{list(inp.shape)} is not supported")
        first = reduced[0] if reduced else axes[0]
        last = reduced[-1] if reduced else axes[0]
        outer = int(np.prod(dims[:first], dtype=np.int64))
        count = int(np.prod([dims[a] for a in axes], dtype=np.int64))
        inner = int(np.prod(dims[last + 1:], dtype=np.int64))
        if outer * inner != out.size or outer * count * inner != inp.size:
            raise TinyECGError(f"{where}: cannot reduce {list(inp.shape)} over {axes} into "
                               f"{list(out.shape)}")
        # reduce_common.cc: QuantizeMultiplier(input scale / output scale); reduce.h
        # QuantizedMeanOrSum then folds 1/count into the multiplier. Today's TFLM takes this
        # path even when input and output quantization are equal (older builds truncated
        # sum / count there instead).
        mult0, shift0 = quantize_multiplier(inp.scale / out.scale)
        s = min(count.bit_length() - 1, 32, 31 + shift0)
        mult = (mult0 << s) // count
        shift = shift0 - s
        self.kernels.add("mean")
        fields = [
            ("outer", outer, "blocks before the reduced axes"),
            ("count", count, f"values averaged (axes {axes} of {list(inp.shape)})"),
            ("inner", inner, "values after the reduced axes"),
            ("in_zp", inp.zero_point, f"input zero point; input scale {_fmt_scale(inp.scale)}"),
            ("mult", mult, f"Q31 multiplier of {_fmt_scale(inp.scale)} / {_fmt_scale(out.scale)}"
                           f" / {count}: ({mult0} << {s}) / {count}"),
            ("shift", shift, f"its shift: {shift0} - {s}"),
            ("out_zp", out.zero_point, f"output zero point; output scale "
                                       f"{_fmt_scale(out.scale)}"),
        ]
        title = f"MEAN {out.name!r}: {list(inp.shape)} over axes {axes} -> {list(out.shape)}"
        return _Layer(op.index, op.opcode, title, "tq_mean", "tq_mean_t",
                      [(k, str(v), c) for k, v, c in fields], [],
                      [self.expr(op.inputs[0])], self.expr(op.outputs[0], write=True))


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

# what each kernel of kernels.c.j2 calls: only the closure of the used kernels is emitted
# (static functions that nothing calls would not compile with -Werror)
_KERNEL_DEPS = {
    "conv": ("mbqm", "clamp8", "dot"), "depthwise": ("mbqm", "clamp8"),
    "fc": ("mbqm", "clamp8", "dot"), "mean": ("mbqm",), "concat": ("mbqm", "clamp8"),
    "softmax": ("srdhm", "rdbpot"), "mbqm": ("srdhm", "rdbpot"), "rdbpot": ("asr",),
    "convrow": ("requant",), "fcfold": ("requant",), "requant": ("mbqm", "rqfast"),
    "rqfast": ("asr",),
    "avgpool": ("pool",), "maxpool": ("pool",),
}


def _with_deps(kernels) -> list[str]:
    todo, seen = list(kernels), set()
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo.extend(_KERNEL_DEPS.get(k, ()))
    return sorted(seen)


def _role(tensor) -> tuple[str, str]:
    """(ROLE, description) of a model input: the beat window or the rhythm features."""
    name = tensor.name.lower()
    if "beat" in name or (len(tensor.shape) == 4 and tensor.size == 360):
        return "BEAT", "the beat window: 360 preprocessed samples around the R peak"
    if "rhythm" in name or tensor.size == 5:
        return "RHYTHM", ("the rhythm features: pre_rr_s, post_rr_s, local_rr_s, pre_ratio, "
                          "post_ratio (tinyecg.dsp.rhythm)")
    return "", "model input"


def generate_c_backend(model: TFLiteModel, prefix: str = "tinyecg_model") -> dict[str, str]:
    """C99 sources for `model`: {"<prefix>.h": ..., "<prefix>.c": ...}.

    The header declares `int <prefix>_invoke(const int8_t *input0, const int8_t *input1,
    int8_t *output)` (input order = the flatbuffer's; input1 is NULL for one-input models) and
    the sizes, scales and zero points of the inputs and the output. Raises TinyECGError for
    anything the kernels do not implement exactly."""
    if not isinstance(model, TFLiteModel):
        raise TinyECGError("generate_c_backend expects a TFLiteModel (see load_model)")
    ident = cgen.identifier(prefix)
    if ident != prefix:
        raise TinyECGError(f"prefix {prefix!r} is not a C identifier (try {ident!r})")
    low = _Lowering(model, prefix)
    layers = low.lower()
    inputs = []
    for k, t in enumerate(model.inputs):
        tensor = model.tensors[t]
        role, desc = _role(tensor)
        scale, zp = model.input_quant(k)
        inputs.append(dict(index=k, name=tensor.name, shape=list(tensor.shape), size=tensor.size,
                           scale=scale, scale_c=cgen.c_float(scale), zero_point=zp, role=role,
                           desc=desc))
    roles = [i["role"] for i in inputs if i["role"]]
    if len(set(roles)) != len(roles):
        for i in inputs:
            i["role"] = ""
    out_t = model.tensors[model.outputs[0]]
    oscale, ozp = model.output_quant(0)
    output = dict(name=out_t.name, shape=list(out_t.shape), size=out_t.size, scale=oscale,
                  scale_c=cgen.c_float(oscale), zero_point=ozp)
    op_counts: dict[str, int] = {}
    for op in model.ops:
        op_counts[op.opcode] = op_counts.get(op.opcode, 0) + 1
    weights_bytes = sum(a.length * {"int16_t": 2, "int32_t": 4}.get(a.ctype, 1)
                        for layer in layers for a in layer.arrays if a.build != "dsp")
    dsp_weights_bytes = sum(a.length * {"int16_t": 2, "int32_t": 4}.get(a.ctype, 1)
                            for layer in layers for a in layer.arrays if a.build != "portable")
    context = dict(
        prefix=prefix, PREFIX=prefix.upper(), guard=prefix.upper() + "_H",
        source=model.source, sha256=model.sha256, inputs=inputs, output=output,
        layers=layers, plan=low.plan, kernels=_with_deps(low.kernels),
        const_tensors=low.const_tensors, graph=", ".join(
            f"{n} x{c}" if c > 1 else n for n, c in op_counts.items()),
        weights_bytes=weights_bytes, dsp_weights_bytes=dsp_weights_bytes,
        stack_bound=STACK_BOUND_BYTES,
        alignment=low.plan.alignment, tensors=model.tensors,
    )
    return {
        f"{prefix}.h": render("cbackend/model.h.j2", **context),
        f"{prefix}.c": render("cbackend/model.c.j2", **context),
    }


def write_c_backend(model, out_dir, prefix: str = "tinyecg_model", force: bool = False):
    """Generate the C for model (a TFLiteModel, a .tflite path or its bytes) into out_dir,
    all files or none (see render.write_atomically). Returns the folder."""
    if not isinstance(model, TFLiteModel):
        model = load_model(model)
    return write_atomically(generate_c_backend(model, prefix=prefix), out_dir, force=force)
