"""What the lowering produces, before any C text: const tables, the parameter struct of each
kernel call (one dataclass per C struct of firmware/lib/tinyecg_nn, fields in the struct's
order, each value with the comment that says where it came from), and the calls.

emit.py turns these into C; nothing here knows C syntax beyond type and field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

CTYPE_BYTES = {"int8_t": 1, "int16_t": 2, "int32_t": 4}


@dataclass
class Table:
    """A const array in flash: weights, biases, multipliers, shifts, rounding constants."""

    ctype: str  # int8_t / int16_t / int32_t
    name: str
    values: np.ndarray  # flat
    comment: list[str]  # lines above the array: what it is, where it came from
    per_line: int = 16
    line_comments: list[str] | None = None  # one trailing comment per line of values
    sections: dict[int, str] = field(default_factory=dict)  # index -> comment line before it
    aligned: bool = False  # starts on a word boundary (rows loaded as words)
    build: str = ""  # "dsp" / "portable": only in that build, "" in both

    @property
    def nbytes(self) -> int:
        return int(self.values.size) * CTYPE_BYTES[self.ctype]


@dataclass
class Field:
    """One member of a parameter struct: its value (an int, a Table whose address it holds,
    or None for NULL) and its origin."""

    value: int | Table | None
    comment: str


@dataclass
class Params:
    """Base of the parameter structs: CTYPE is the C typedef, KERNEL the function."""

    CTYPE: ClassVar[str] = ""
    KERNEL: ClassVar[str] = ""


@dataclass
class ConvParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_conv_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_conv_per_channel"
    in_h: Field
    in_w: Field
    in_c: Field
    out_h: Field
    out_w: Field
    out_c: Field
    k_h: Field
    k_w: Field
    stride_h: Field
    stride_w: Field
    pad_h: Field
    pad_w: Field
    in_offset: Field
    out_offset: Field
    act_min: Field
    act_max: Field
    weights: Field
    bias: Field
    mult: Field
    shift: Field


@dataclass
class DepthwiseConvParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_depthwise_conv_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_depthwise_conv_per_channel"
    in_h: Field
    in_w: Field
    in_c: Field
    out_h: Field
    out_w: Field
    out_c: Field
    k_h: Field
    k_w: Field
    stride_h: Field
    stride_w: Field
    pad_h: Field
    pad_w: Field
    depth_mult: Field
    in_offset: Field
    out_offset: Field
    act_min: Field
    act_max: Field
    weights: Field
    bias: Field
    mult: Field
    shift: Field


@dataclass
class FullyConnectedParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_fully_connected_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_fully_connected"
    batches: Field
    in_depth: Field
    out_depth: Field
    in_offset: Field
    w_offset: Field
    out_offset: Field
    act_min: Field
    act_max: Field
    per_channel: Field
    weights: Field
    bias: Field
    mult: Field
    shift: Field


@dataclass
class OutputStage:
    """tinyecg_nn_output_stage_t, a member of the fast kernels' structs."""

    out_zp: Field
    act_min: Field
    act_max: Field
    one_multiply: Field
    mult: Field
    shift: Field
    add: Field


@dataclass
class Conv1xNParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_conv_1_x_n_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_conv_1_x_n"
    in_w: Field
    in_c: Field
    out_w: Field
    out_c: Field
    stride: Field
    pad: Field
    taps: Field
    taps4: Field
    interior_first: Field
    interior_end: Field
    in_zp: Field
    weights: Field
    bias: Field
    out: OutputStage


@dataclass
class FullyConnectedFoldedParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_fully_connected_folded_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_fully_connected_folded"
    batches: Field
    depth: Field
    depth4: Field
    units: Field
    per_channel: Field
    weights: Field
    bias: Field
    out: OutputStage


@dataclass
class PoolParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_pool_params_t"
    KERNEL: ClassVar[str] = ""  # tinyecg_nn_average_pool or tinyecg_nn_max_pool
    in_h: Field
    in_w: Field
    channels: Field
    out_h: Field
    out_w: Field
    k_h: Field
    k_w: Field
    stride_h: Field
    stride_w: Field
    pad_h: Field
    pad_w: Field
    act_min: Field
    act_max: Field


@dataclass
class SoftmaxParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_softmax_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_softmax"
    outer: Field
    depth: Field
    mult: Field
    left_shift: Field
    diff_min: Field


@dataclass
class MeanParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_mean_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_mean"
    outer: Field
    count: Field
    inner: Field
    in_zp: Field
    mult: Field
    shift: Field
    out_zp: Field


@dataclass
class RequantizeParams:
    """tinyecg_nn_requantize_params_t, a member of ConcatenationParams."""

    in_zp: Field
    mult: Field
    shift: Field
    out_zp: Field


@dataclass
class ConcatenationParams(Params):
    CTYPE: ClassVar[str] = "tinyecg_nn_concatenation_params_t"
    KERNEL: ClassVar[str] = "tinyecg_nn_concatenation"
    outer: Field
    copy: Field
    out_stride: Field
    out_pos: Field
    requantize: Field
    rq: RequantizeParams


@dataclass
class Call:
    """One kernel call of invoke(): kernel(&params, input, output[, scratch]). Tensors are
    flatbuffer indices; emit.py turns them into the caller's buffers, arena slots or const
    tables through the memory plan."""

    kernel: str
    params: str  # C name of the const parameter object
    input: int
    output: int
    scratch: bool = False  # pass the op's arena scratch (MemoryPlan.scratch)


@dataclass
class CopyOut:
    """The model output is a view of an arena tensor: copy it into the caller's buffer."""

    tensor: int
    size: int


@dataclass
class LoweredOp:
    """One flatbuffer op as C: its tables, its parameter objects and its calls (none for a
    view: RESHAPE / EXPAND_DIMS / SQUEEZE share their input's bytes)."""

    index: int
    opcode: str
    title: str
    tables: list[Table] = field(default_factory=list)
    params: list[tuple[str, Params]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
