"""Read a .tflite flatbuffer into plain Python objects (the one reader every exporter uses).

Parsing uses the schema module shipped in the `tflite-micro` wheel (FlatBuffers object API),
so importing this module does not import TensorFlow. Only the first subgraph is read (the
converter emits one for our models; `TFLiteModel.num_subgraphs` tells if there are more).

    model = load_model("student.tflite")
    model.op_names()            # ['CONV_2D', 'RESHAPE', 'CONCATENATION', ...]
    model.is_fully_int8()       # (True, [])
    model.input_quant(0)        # (scale, zero_point) of the first flatbuffer input

Bad input (missing, truncated, corrupt or non-TFLite file) raises TinyECGError with a one-line
message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyecg.errors import TinyECGError

try:  # the schema ships with the tflite-micro wheel; keep the import cheap and local
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
except ImportError as exc:  # pragma: no cover - depends on the environment
    schema = None
    _SCHEMA_ERROR = str(exc)

__all__ = ["Op", "Tensor", "TFLiteModel", "load_model"]

FILE_IDENTIFIER = b"TFL3"


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


if schema is not None:
    _OPCODE_NAMES = _enum_names(schema.BuiltinOperator)
    _TYPE_NAMES = _enum_names(schema.TensorType)
    _PADDING_NAMES = _enum_names(schema.Padding)
    _ACTIVATION_NAMES = _enum_names(schema.ActivationFunctionType)
    _OPTIONS_NAMES = _enum_names(schema.BuiltinOptions)

# numpy dtype of each tensor type whose buffer we can view as an array
_NUMPY_DTYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
}
# option fields holding an enum value, shown by name
_ENUM_FIELDS = {
    "padding": "_PADDING_NAMES",
    "fused_activation_function": "_ACTIVATION_NAMES",
}


def _snake(name: str) -> str:
    """camelCase -> snake_case, "dilationWFactor" -> "dilation_w_factor"."""
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", name).lower()


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {_snake(k): _plain(v) for k, v in vars(value).items()}
    return value


def _options_dict(options) -> dict[str, Any]:
    """Builtin options object -> {snake_case_name: value}, enums (padding, activation) by name."""
    if options is None:
        return {}
    out = {}
    for key, value in vars(options).items():
        name = _snake(key)
        if name in _ENUM_FIELDS:
            names = globals()[_ENUM_FIELDS[name]]
            value = names.get(int(value), f"UNKNOWN_{int(value)}")
        out[name] = _plain(value)
    return out


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # schema name: "INT8", "INT32", "FLOAT32", ...
    scales: tuple[float, ...] = ()  # float32 values from the flatbuffer, as Python floats
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constant data (weights, biases, shapes) or None
    buffer: int = 0
    is_variable: bool = False
    shape_signature: tuple[int, ...] | None = None

    @property
    def scale(self) -> float | None:
        """The per-tensor scale (first scale of a per-channel tensor), None if unquantized."""
        return self.scales[0] if self.scales else None

    @property
    def zero_point(self) -> int | None:
        return self.zero_points[0] if self.zero_points else None

    @property
    def is_quantized(self) -> bool:
        return bool(self.scales)

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_NUMPY_DTYPES.get(self.dtype, np.uint8)).itemsize


@dataclass
class Op:
    index: int
    opcode: str  # builtin operator name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices; -1 marks an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    custom_code: str | None = None


@dataclass
class TFLiteModel:
    data: bytes
    ops: list[Op]
    tensors: list[Tensor]
    inputs: list[int]
    outputs: list[int]
    version: int = 3
    description: str = ""
    num_subgraphs: int = 1
    source: str = "<bytes>"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def op_names(self) -> list[str]:
        """Distinct operator names in order of first use."""
        seen: list[str] = []
        for op in self.ops:
            if op.opcode not in seen:
                seen.append(op.opcode)
        return seen

    def _quant(self, tensor_index: int, what: str) -> tuple[float, int]:
        t = self.tensors[tensor_index]
        if not t.is_quantized:
            raise TinyECGError(
                f"{self.source}: {what} tensor {t.name!r} is not quantized ({t.dtype})"
            )
        return t.scales[0], t.zero_points[0] if t.zero_points else 0

    def input_quant(self, i: int = 0) -> tuple[float, int]:
        """(scale, zero_point) of the i-th model input (flatbuffer order)."""
        if not 0 <= i < len(self.inputs):
            raise TinyECGError(f"{self.source}: no input {i} (model has {len(self.inputs)})")
        return self._quant(self.inputs[i], f"input {i}")

    def output_quant(self, i: int = 0) -> tuple[float, int]:
        if not 0 <= i < len(self.outputs):
            raise TinyECGError(f"{self.source}: no output {i} (model has {len(self.outputs)})")
        return self._quant(self.outputs[i], f"output {i}")

    def consumers(self, tensor_index: int) -> list[int]:
        """Indices of the ops that read tensor_index."""
        return [op.index for op in self.ops if tensor_index in op.inputs]

    def producer(self, tensor_index: int) -> int | None:
        for op in self.ops:
            if tensor_index in op.outputs:
                return op.index
        return None

    def is_fully_int8(self) -> tuple[bool, list[str]]:
        """Whether the graph runs on int8 integer kernels only: every activation int8 and
        quantized, weights int8, biases int32, no float tensor anywhere and no QUANTIZE /
        DEQUANTIZE ops. Returns (ok, reasons it is not)."""
        reasons: list[str] = []
        for op in self.ops:
            if op.opcode in ("QUANTIZE", "DEQUANTIZE"):
                reasons.append(f"op {op.index} is {op.opcode}")
        for t in self.tensors:
            if t.dtype.startswith("FLOAT") or t.dtype == "BFLOAT16":
                reasons.append(f"tensor {t.index} {t.name!r} is {t.dtype}")
        bias_slots = {
            "CONV_2D": 2,
            "DEPTHWISE_CONV_2D": 2,
            "FULLY_CONNECTED": 2,
            "TRANSPOSE_CONV": 3,
        }
        weight_slots = {
            "CONV_2D": 1,
            "DEPTHWISE_CONV_2D": 1,
            "FULLY_CONNECTED": 1,
            "TRANSPOSE_CONV": 1,
        }
        checked: set[int] = set()
        for op in self.ops:
            w = weight_slots.get(op.opcode)
            b = bias_slots.get(op.opcode)
            if w is not None and w < len(op.inputs) and op.inputs[w] >= 0:
                t = self.tensors[op.inputs[w]]
                checked.add(t.index)
                if t.dtype != "INT8":
                    reasons.append(
                        f"weights {t.name!r} of op {op.index} ({op.opcode}) are {t.dtype}, not INT8"
                    )
            if b is not None and b < len(op.inputs) and op.inputs[b] >= 0:
                t = self.tensors[op.inputs[b]]
                checked.add(t.index)
                if t.dtype != "INT32":
                    reasons.append(
                        f"bias {t.name!r} of op {op.index} ({op.opcode}) is {t.dtype}, not INT32"
                    )
        activations = set(self.inputs) | set(self.outputs)
        for op in self.ops:
            activations.update(i for i in op.outputs if i >= 0)
            activations.update(i for i in op.inputs if i >= 0 and not self.tensors[i].is_constant)
        for i in sorted(activations - checked):
            t = self.tensors[i]
            if t.dtype != "INT8":
                reasons.append(f"activation {t.name!r} is {t.dtype}, not INT8")
            elif not t.is_quantized:
                reasons.append(f"activation {t.name!r} has no quantization parameters")
        return (not reasons, reasons)

    def summary(self) -> str:
        lines = [
            f"{self.source}: {len(self.ops)} ops, {len(self.tensors)} tensors, "
            f"sha256 {self.sha256[:12]}"
        ]
        for op in self.ops:
            outs = ", ".join(
                f"{self.tensors[i].name} {list(self.tensors[i].shape)}" for i in op.outputs
            )
            lines.append(f"  {op.index:3d} {op.opcode:<20s} -> {outs}")
        return "\n".join(lines)


def _read_source(path_or_bytes) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), "<bytes>"
    if isinstance(path_or_bytes, (str, Path)):
        path = Path(path_or_bytes)
        if not path.exists():
            raise TinyECGError(f"{path}: no such file")
        if path.is_dir():
            raise TinyECGError(f"{path}: is a folder, not a .tflite file")
        try:
            return path.read_bytes(), str(path)
        except OSError as exc:
            raise TinyECGError(f"{path}: cannot read ({exc.strerror})") from None
    raise TinyECGError(f"expected a .tflite path or bytes, got {type(path_or_bytes).__name__}")


def _buffer_bytes(buf, data: bytes, where: str) -> bytes | None:
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        return np.asarray(buf.data, dtype=np.uint8).tobytes()
    if buf.offset and buf.offset > 1:  # large models keep buffers after the flatbuffer
        end = buf.offset + buf.size
        if end > len(data):
            raise ValueError(f"{where}: buffer [{buf.offset}, {end}) beyond end of file")
        return data[buf.offset : end]
    return None


def _parse(data: bytes, source: str) -> TFLiteModel:
    raw = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if not raw.subgraphs:
        raise ValueError("no subgraphs")
    sub = raw.subgraphs[0]
    buffers = raw.buffers or []
    opcodes = raw.operatorCodes or []

    tensors: list[Tensor] = []
    for i, t in enumerate(sub.tensors or []):
        dtype = _TYPE_NAMES.get(int(t.type), f"UNKNOWN_{int(t.type)}")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        q = t.quantization
        scales = tuple(float(s) for s in (q.scale if q is not None and q.scale is not None else []))
        zps = tuple(
            int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else [])
        )
        qdim = int(q.quantizedDimension) if q is not None else 0
        if not 0 <= t.buffer < max(len(buffers), 1):
            raise ValueError(f"tensor {i} refers to buffer {t.buffer} of {len(buffers)}")
        payload = _buffer_bytes(buffers[t.buffer] if buffers else None, data, f"tensor {i}")
        array = None
        if payload is not None:
            np_dtype = _NUMPY_DTYPES.get(dtype)
            if np_dtype is None:
                raise ValueError(f"tensor {i} has constant data of unsupported type {dtype}")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if len(payload) != count * np.dtype(np_dtype).itemsize:
                raise ValueError(
                    f"tensor {i} ({t.name!r}): {len(payload)} bytes of data for "
                    f"shape {list(shape)} {dtype}"
                )
            array = np.frombuffer(payload, dtype=np.dtype(np_dtype).newbyteorder("<"))
            array = array.astype(np_dtype).reshape(shape)
        name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else (t.name or "")
        signature = (
            tuple(int(d) for d in t.shapeSignature) if t.shapeSignature is not None else None
        )
        tensors.append(
            Tensor(
                index=i,
                name=name,
                shape=shape,
                dtype=dtype,
                scales=scales,
                zero_points=zps,
                quantized_dimension=qdim,
                data=array,
                buffer=int(t.buffer),
                is_variable=bool(t.isVariable),
                shape_signature=signature,
            )
        )

    n = len(tensors)

    def check_indices(indices, where) -> list[int]:
        out = [int(i) for i in (indices if indices is not None else [])]
        for i in out:
            if not -1 <= i < n:
                raise ValueError(f"{where} refers to tensor {i} of {n}")
        return out

    ops: list[Op] = []
    for k, op in enumerate(sub.operators or []):
        if not 0 <= op.opcodeIndex < len(opcodes):
            raise ValueError(f"op {k} has opcode index {op.opcodeIndex} of {len(opcodes)}")
        code = opcodes[op.opcodeIndex]
        builtin = max(int(code.deprecatedBuiltinCode), int(code.builtinCode))
        name = _OPCODE_NAMES.get(builtin, f"UNKNOWN_{builtin}")
        custom = code.customCode
        if isinstance(custom, bytes):
            custom = custom.decode("utf-8", "replace")
        ops.append(
            Op(
                index=k,
                opcode=name,
                inputs=check_indices(op.inputs, f"op {k}"),
                outputs=check_indices(op.outputs, f"op {k}"),
                options=_options_dict(op.builtinOptions),
                version=int(code.version),
                custom_code=custom,
            )
        )
    desc = raw.description
    if isinstance(desc, bytes):
        desc = desc.decode("utf-8", "replace")
    return TFLiteModel(
        data=data,
        ops=ops,
        tensors=tensors,
        inputs=check_indices(sub.inputs, "subgraph inputs"),
        outputs=check_indices(sub.outputs, "subgraph outputs"),
        version=int(raw.version),
        description=desc or "",
        num_subgraphs=len(raw.subgraphs),
        source=source,
    )


def load_model(path_or_bytes) -> TFLiteModel:
    """Parse a .tflite file (path) or its bytes. Raises TinyECGError for a missing, truncated,
    corrupt or non-TFLite file."""
    if schema is None:  # pragma: no cover
        raise TinyECGError(
            f"cannot read .tflite files: tflite-micro is not installed ({_SCHEMA_ERROR})"
        )
    data, source = _read_source(path_or_bytes)
    if len(data) < 8:
        raise TinyECGError(f"{source}: too short to be a TFLite model ({len(data)} bytes)")
    if data[4:8] != FILE_IDENTIFIER:
        raise TinyECGError(f"{source}: not a TFLite model (no 'TFL3' identifier)")
    try:
        model = _parse(data, source)
    except TinyECGError:
        raise
    except Exception as exc:  # any parser failure on damaged bytes
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TinyECGError(f"{source}: corrupt or truncated TFLite model ({detail})") from None
    return model
