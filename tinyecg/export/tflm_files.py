"""What the TensorFlow Lite Micro build of the firmware needs besides the runtime itself:
the op resolver (exactly the flatbuffer's builtin ops), the tensor arena size, and the model
bytes as a C array.

The resolver vocabulary maps flatbuffer operator names to the ``Add*`` methods of
``tflite::MicroMutableOpResolver`` (tensorflow/lite/micro/micro_mutable_op_resolver.h). The
names were read from that header in today's TFLM (2025) and in the late-2022 sources the
Arduino export of 2023-02 (tflite-micro-arduino-examples, eloquentarduino/tflm_cortexm) was cut
from; ``arduino_2023`` says whether the method exists there too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyecg.errors import TinyECGError

# flatbuffer op name -> (MicroMutableOpResolver method, present in the 2023 Arduino export)
TFLM_OPS: dict[str, tuple[str, bool]] = {
    "ABS": ("AddAbs", True),
    "ADD": ("AddAdd", True),
    "ADD_N": ("AddAddN", True),
    "ARG_MAX": ("AddArgMax", True),
    "ARG_MIN": ("AddArgMin", True),
    "AVERAGE_POOL_2D": ("AddAveragePool2D", True),
    "BATCH_MATMUL": ("AddBatchMatMul", False),
    "BATCH_TO_SPACE_ND": ("AddBatchToSpaceNd", True),
    "CAST": ("AddCast", True),
    "CONCATENATION": ("AddConcatenation", True),
    "CONV_2D": ("AddConv2D", True),
    "DEPTHWISE_CONV_2D": ("AddDepthwiseConv2D", True),
    "DEQUANTIZE": ("AddDequantize", True),
    "ELU": ("AddElu", True),
    "EXPAND_DIMS": ("AddExpandDims", True),
    "FULLY_CONNECTED": ("AddFullyConnected", True),
    "GATHER": ("AddGather", True),
    "HARD_SWISH": ("AddHardSwish", True),
    "L2_NORMALIZATION": ("AddL2Normalization", True),
    "LEAKY_RELU": ("AddLeakyRelu", True),
    "LOGISTIC": ("AddLogistic", True),
    "LOG_SOFTMAX": ("AddLogSoftmax", True),
    "MAXIMUM": ("AddMaximum", True),
    "MAX_POOL_2D": ("AddMaxPool2D", True),
    "MEAN": ("AddMean", True),
    "MINIMUM": ("AddMinimum", True),
    "MUL": ("AddMul", True),
    "PACK": ("AddPack", True),
    "PAD": ("AddPad", True),
    "PADV2": ("AddPadV2", True),
    "PRELU": ("AddPrelu", True),
    "QUANTIZE": ("AddQuantize", True),
    "REDUCE_MAX": ("AddReduceMax", True),
    "RELU": ("AddRelu", True),
    "RELU6": ("AddRelu6", True),
    "RESHAPE": ("AddReshape", True),
    "RESIZE_NEAREST_NEIGHBOR": ("AddResizeNearestNeighbor", True),
    "SHAPE": ("AddShape", True),
    "SLICE": ("AddSlice", True),
    "SOFTMAX": ("AddSoftmax", True),
    "SPLIT": ("AddSplit", True),
    "SPLIT_V": ("AddSplitV", True),
    "SQUEEZE": ("AddSqueeze", True),
    "STRIDED_SLICE": ("AddStridedSlice", True),
    "SUB": ("AddSub", True),
    "SUM": ("AddSum", True),
    "TANH": ("AddTanh", True),
    "TRANSPOSE": ("AddTranspose", True),
    "TRANSPOSE_CONV": ("AddTransposeConv", True),
    "UNPACK": ("AddUnpack", True),
}
# Ops whose TFLM kernel changed after the 2023 Arduino export, so golden vectors from today's
# runtime may differ on boards using that export (FIELD-NOTES: MEAN, tflite-micro PR 1908).
CHANGED_SINCE_2023 = {"MEAN": "MEAN kernel aligned with TFLite in 2023-04 (tflite-micro PR 1908)"}


@dataclass
class ResolverOp:
    op: str
    method: str
    arduino_2023: bool
    count: int  # how many operators of the graph use it


def resolver_ops(model) -> list[ResolverOp]:
    """The distinct builtin ops of the flatbuffer (order of first use) with their Add* method.
    An op outside the vocabulary raises TinyECGError naming it."""
    counts: dict[str, int] = {}
    for op in model.ops:
        counts[op.opcode] = counts.get(op.opcode, 0) + 1
    unknown = []
    for name in model.op_names():
        if name not in TFLM_OPS:
            custom = next(
                (o.custom_code for o in model.ops if o.opcode == name and o.custom_code), None
            )
            unknown.append(f"{name} ({custom!r})" if custom else name)
    if unknown:
        raise TinyECGError(
            f"{model.source}: op {', '.join(unknown)} is outside the TFLM resolver "
            f"vocabulary of tinyecg export (supported: {len(TFLM_OPS)} builtin ops)"
        )
    return [
        ResolverOp(name, TFLM_OPS[name][0], TFLM_OPS[name][1], counts[name])
        for name in model.op_names()
    ]


# --------------------------------------------------------------------------- arena
ARENA_ALIGN = 16
ARENA_MARGIN_FRACTION = 0.25
ARENA_MARGIN_MIN = 1024


def _round_up(n: int, k: int) -> int:
    return (n + k - 1) // k * k


def cmsis_nn_extra(model) -> dict[str, int]:
    """Arena bytes CMSIS-NN kernels ask for that the host's reference kernels do not.

    scratch (one op at a time, the planner reuses it): the im2col buffer of arm_convolve_s8 /
    arm_depthwise_conv_s8_opt, at most 2 * kernel_h * kernel_w * input_channels int16 values;
    persistent (all ops): the int32 kernel sums newer CMSIS-NN fully-connected kernels keep per
    output unit."""
    scratch = 0
    persistent = 0
    for op in model.ops:
        if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(op.inputs) > 1:
            w = model.tensors[op.inputs[1]].shape  # [out, kh, kw, in] / [1, kh, kw, out]
            x = model.tensors[op.inputs[0]].shape
            if len(w) == 4 and len(x) == 4:
                scratch = max(scratch, 2 * 2 * w[1] * w[2] * x[3])
        elif op.opcode == "FULLY_CONNECTED" and len(op.inputs) > 1:
            w = model.tensors[op.inputs[1]].shape  # [units, input depth]
            if w:
                persistent += 4 * int(w[0])
    return {"scratch": scratch, "persistent": persistent}


def arena_budget(host_bytes: int, model) -> dict[str, int]:
    """TINYECG_ARENA_BYTES = host figure + margin, rounded up to 16 (docs/export.md).

    The host runtime (64-bit) over-reports what a 32-bit target needs for its own bookkeeping
    (pointers in TfLiteTensor/TfLiteEvalTensor/node structures are half the size there), so the
    margin is for what can grow: CMSIS-NN scratch and persistent buffers (computed from the
    graph), a different TFLM version's allocator and kernel OpData (25 %, at least 1 KB), and
    16 bytes TFLM may drop to align an arena that does not start on a 16-byte boundary."""
    extra = cmsis_nn_extra(model)
    version = max(ARENA_MARGIN_MIN, math.ceil(host_bytes * ARENA_MARGIN_FRACTION))
    margin = extra["scratch"] + extra["persistent"] + version + ARENA_ALIGN
    total = _round_up(host_bytes + margin, ARENA_ALIGN)
    return {
        "host": int(host_bytes),
        "cmsis_nn_scratch": extra["scratch"],
        "cmsis_nn_persistent": extra["persistent"],
        "version_margin": version,
        "alignment": ARENA_ALIGN,
        "margin": total - host_bytes,
        "total": total,
    }


# --------------------------------------------------------------------------- model bytes
def byte_lines(data: bytes, per_line: int = 12) -> list[str]:
    """C initialiser lines '0x1c, 0x00, ...,  /* 0x0000 */' of the model bytes."""
    lines = []
    width = max(4, len(f"{max(len(data) - 1, 0):x}"))
    for off in range(0, len(data), per_line):
        chunk = data[off : off + per_line]
        body = ", ".join(f"0x{b:02x}" for b in chunk) + ","
        pad = " " * (6 * (per_line - len(chunk)))
        lines.append(f"    {body}{pad} /* 0x{off:0{width}x} */")
    return lines
