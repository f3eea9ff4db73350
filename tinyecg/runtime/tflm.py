"""The one place that talks to the TensorFlow Lite Micro host runtime (PyPI `tflite-micro`),
so every stage measures int8 models the same way: outputs, arena bytes, latency.

LiteRT with the BUILTIN_REF op resolver is offered beside it for speed on large test sets; it
usually matches TFLM bit for bit but not always, so callers report the mismatch rate.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from tinyecg.errors import TinyECGError

_ARENA_RE = re.compile(r"Arena allocation total (\d+) bytes")


@dataclass
class TensorQuant:
    shape: tuple
    dtype: type
    scale: float
    zero_point: int

    def quantize(self, x: np.ndarray) -> np.ndarray:
        q = np.round(np.asarray(x, np.float64) / self.scale) + self.zero_point
        info = np.iinfo(self.dtype)
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        return (np.asarray(q, np.float64) - self.zero_point) * self.scale


def _quant(details: dict) -> TensorQuant:
    qp = details.get("quantization_parameters") or {}
    scales = list(qp.get("scales", [])) or [details.get("quantization", (0.0, 0))[0]]
    zps = list(qp.get("zero_points", [])) or [details.get("quantization", (0.0, 0))[1]]
    return TensorQuant(
        tuple(int(s) for s in details["shape"]), details["dtype"], float(scales[0]), int(zps[0])
    )


def capture_c_stdout(fn):
    """Run fn() and return (result, text it printed on the C-level stdout and stderr)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            result = fn()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        tmp.seek(0)
        return result, tmp.read().decode(errors="replace")


def median_latency_ms(invoke, inputs, repeats: int) -> float:
    """Median wall time of single-beat invokes on this host (not a board figure)."""
    times = []
    for i in range(repeats):
        row = [x[i % len(x)] for x in inputs]
        t = time.perf_counter()
        invoke(*row)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


@contextlib.contextmanager
def _c_stderr():
    """What C code writes to file descriptor 2 inside the block (TFLM reports there which
    node failed and why), as a list holding one string once the block ends; passed on to the
    real stderr as well, so nothing is hidden."""
    said: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            said.append(text)
            if text:
                sys.stderr.write(text)


def _tflm_reason(said: list[str], fallback: str) -> str:
    """One line from TFLM's own report: the failing node and op, and the check that failed."""
    lines = [ln.strip() for ln in "".join(said).splitlines() if ln.strip()]
    node = next((ln for ln in lines if ln.startswith("Node ")), None)
    if node is None:
        return fallback
    check = lines[lines.index(node) - 1] if lines.index(node) > 0 else ""
    check = check.rsplit("/", 1)[-1]  # kernels/squeeze.cc:48 ... -> squeeze.cc:48 ...
    return f"{node[:120]}" + (f" ({check[:120]})" if check else "")


class TFLMModel:
    """An int8 model in the TFLM host interpreter (the reference kernels boards run)."""

    def __init__(self, model_bytes: bytes, arena_size: int | None = None):
        from tflite_micro import runtime

        self.model_bytes = bytes(model_bytes)
        try:
            with _c_stderr() as said:
                self._interp = runtime.Interpreter.from_bytes(
                    self.model_bytes, arena_size=arena_size
                )
        except Exception as exc:
            why = str(exc).splitlines()[0][:200]
            raise TinyECGError(f"TFLM cannot load the model: {_tflm_reason(said, why)}") from None
        from tinyecg.models.tflite import load_model

        graph = load_model(self.model_bytes)  # input/output counts without probing the runtime
        self.inputs = [_quant(self._interp.get_input_details(i)) for i in range(len(graph.inputs))]
        self.outputs = [
            _quant(self._interp.get_output_details(i)) for i in range(len(graph.outputs))
        ]

    def invoke(self, *inputs: np.ndarray) -> np.ndarray:
        """One beat: quantized inputs (without batch dimension) -> quantized output row."""
        for i, (x, q) in enumerate(zip(inputs, self.inputs)):
            self._interp.set_input(np.asarray(x, q.dtype).reshape(q.shape), i)
        self._interp.invoke()
        return np.array(self._interp.get_output(0)).reshape(-1)

    def invoke_batch(self, *inputs: np.ndarray) -> np.ndarray:
        n = len(inputs[0])
        return (
            np.stack([self.invoke(*(x[i] for x in inputs)) for i in range(n)])
            if n
            else np.zeros((0, int(np.prod(self.outputs[0].shape))), self.outputs[0].dtype)
        )

    def arena_bytes(self) -> int:
        """Arena bytes the recording allocator reports (after one invoke)."""
        zeros = [np.full(q.shape, q.zero_point, q.dtype) for q in self.inputs]
        self.invoke(*zeros)
        _, text = capture_c_stdout(self._interp.print_allocations)
        m = _ARENA_RE.search(text)
        if not m:
            raise TinyECGError("TFLM did not report its arena use")
        return int(m.group(1))

    def latency_ms(self, *inputs: np.ndarray, repeats: int = 200) -> float:
        return median_latency_ms(self.invoke, inputs, repeats)


class LiteRTModel:
    """The same model in LiteRT with the BUILTIN_REF resolver (reference kernels)."""

    def __init__(self, model_bytes: bytes):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        try:
            self._interp = Interpreter(
                model_content=bytes(model_bytes),
                experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            )
            self._interp.allocate_tensors()
        except Exception as exc:
            why = str(exc).splitlines()[0][:200]
            raise TinyECGError(f"LiteRT cannot load the model: {why}") from None
        self._in = self._interp.get_input_details()
        self._out = self._interp.get_output_details()
        self.inputs = [_quant(d) for d in self._in]
        self.outputs = [_quant(d) for d in self._out]

    def invoke(self, *inputs: np.ndarray) -> np.ndarray:
        for x, d in zip(inputs, self._in):
            self._interp.set_tensor(d["index"], np.asarray(x, d["dtype"]).reshape(d["shape"]))
        self._interp.invoke()
        return self._interp.get_tensor(self._out[0]["index"]).reshape(-1).copy()

    def invoke_batch(self, *inputs: np.ndarray) -> np.ndarray:
        return np.stack([self.invoke(*(x[i] for x in inputs)) for i in range(len(inputs[0]))])

    def latency_ms(self, *inputs: np.ndarray, repeats: int = 200) -> float:
        return median_latency_ms(self.invoke, inputs, repeats)
