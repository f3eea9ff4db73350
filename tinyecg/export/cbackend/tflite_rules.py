"""TFLite's export-time rules the C backend reproduces: output sizes and padding (padding.h),
fused activation ranges (kernel_util.cc CalculateActivationRangeQuantized), and the checks
every op makes on its tensors, with errors that name the op.

The multiplier arithmetic itself lives in tinyecg.quantmath (one home for the reference and
the C backend).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyecg.errors import TinyECGError
from tinyecg.models.tflite import Op, Tensor, TFLiteModel
from tinyecg.quantmath import quantize_f32

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def fmt_scale(x: float) -> str:
    """A scale as the comments show it (9 significant digits: a float32 round-trips)."""
    return f"{x:.9g}"


def activation_range(activation: str, scale: float, zero_point: int, where: str) -> tuple[int, int]:
    """The int8 clamp of a fused activation: zero_point + round(f / scale) in float32 for the
    activation's real bounds f, intersected with [-128, 127]."""
    qmin, qmax = -128, 127
    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize_f32(scale, zero_point, 0.0)), qmax
    if activation == "RELU6":
        return (
            max(qmin, quantize_f32(scale, zero_point, 0.0)),
            min(qmax, quantize_f32(scale, zero_point, 6.0)),
        )
    if activation == "RELU_N1_TO_1":
        return (
            max(qmin, quantize_f32(scale, zero_point, -1.0)),
            min(qmax, quantize_f32(scale, zero_point, 1.0)),
        )
    raise TinyECGError(
        f"{where}: fused activation {activation} is not supported "
        f"(supported: {', '.join(ACTIVATIONS)})"
    )


def out_size(padding: str, size: int, k: int, stride: int, dilation: int = 1) -> int:
    """Output length along one axis for SAME or VALID padding."""
    eff = (k - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - eff) // stride


def padding_before(size: int, k: int, stride: int, out: int, dilation: int = 1) -> int:
    """padding.h ComputePaddingWithOffset: padding before the first element (the odd one of
    an odd total goes after the last)."""
    total = (out - 1) * stride + (k - 1) * dilation + 1 - size
    return max(total, 0) // 2


@dataclass(frozen=True)
class Activation:
    """An int8 tensor quantized per tensor, as the kernels see it (checked by Graph)."""

    index: int
    name: str
    shape: tuple[int, ...]
    size: int
    scale: float
    zero_point: int


class Graph:
    """The flatbuffer as the lowering reads it: tensors by op slot, checked, with errors
    naming the op."""

    def __init__(self, model: TFLiteModel):
        self.model = model

    def where(self, op: Op) -> str:
        return f"{self.model.source}: op {op.index} ({op.opcode})"

    def tensor(self, op: Op, slot: int, what: str) -> Tensor:
        """Input `slot` of op, which must be present."""
        if slot >= len(op.inputs) or op.inputs[slot] < 0:
            raise TinyECGError(f"{self.where(op)}: missing {what}")
        return self.model.tensors[op.inputs[slot]]

    def optional(self, op: Op, slot: int) -> Tensor | None:
        """Input `slot` of op, or None when omitted (e.g. a bias)."""
        if slot < len(op.inputs) and op.inputs[slot] >= 0:
            return self.model.tensors[op.inputs[slot]]
        return None

    def output(self, op: Op) -> Activation:
        return self.activation(op, self.model.tensors[op.outputs[0]], "output")

    def input(self, op: Op, slot: int = 0, what: str = "input") -> Activation:
        return self.activation(op, self.tensor(op, slot, what), what)

    def activation(self, op: Op, t: Tensor, what: str) -> Activation:
        """t, checked to be an int8 tensor quantized per tensor."""
        if t.dtype != "INT8":
            raise TinyECGError(
                f"{self.where(op)}: {what} {t.name!r} is {t.dtype}; the C "
                f"backend runs int8 graphs only"
            )
        if not t.is_quantized:
            raise TinyECGError(f"{self.where(op)}: {what} {t.name!r} has no quantization")
        if t.per_channel:
            raise TinyECGError(
                f"{self.where(op)}: {what} {t.name!r} is quantized per "
                f"channel; activations must be per tensor"
            )
        return Activation(
            t.index,
            t.name,
            tuple(t.shape),
            t.size,
            float(t.scales[0]),
            int(t.zero_points[0]) if t.zero_points else 0,
        )

    def shape4(self, t: Tensor | Activation, op: Op) -> tuple[int, int, int, int]:
        """(n, h, w, c) of a 4-D NHWC tensor with batch 1."""
        where = self.where(op)
        if len(t.shape) != 4:
            raise TinyECGError(f"{where}: expects a 4-D NHWC tensor, {t.name!r} is {list(t.shape)}")
        if t.shape[0] != 1:
            raise TinyECGError(
                f"{where}: batch {t.shape[0]} in {t.name!r} {list(t.shape)} "
                f"is not supported (batch 1 only)"
            )
        n, h, w, c = (int(d) for d in t.shape)
        return n, h, w, c

    def constant(self, op: Op, t: Tensor, what: str, dtype: str) -> Tensor:
        """t, checked to be a constant of the given type."""
        if t.dtype != dtype or t.data is None:
            raise TinyECGError(
                f"{self.where(op)}: {what} {t.name!r} must be constant {dtype.lower()} ({t.dtype})"
            )
        return t
