"""An int8 model as every layer sees it: the flatbuffer, which input is which, and how each
input and the output are quantized.

Stages, runtimes, the exporter, the C backend, the device drivers and the demo all ask this
object which input is the beat window and which the rhythm features, instead of guessing
from shapes each in their own way:

    m = Int8Model.load("student_int8.tflite")
    m.input(spec.BEAT).scale            # quantization of the beat window
    q = m.quantize_inputs(beat=x, rhythm=rr)   # int8 arrays, in the flatbuffer's order
    m.output.dequantize(scores_q)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import spec
from tinyecg.dsp.patient import N_LONGTERM_FEATURES
from tinyecg.dsp.rhythm import FEATURES as RHYTHM_FEATURES
from tinyecg.errors import TinyECGError
from tinyecg.models.tflite import TFLiteModel, load_model

OUTPUT = "output"

# how many values each input role holds
ROLE_SIZES = {
    spec.BEAT: spec.WINDOW,
    spec.RHYTHM: len(RHYTHM_FEATURES),
    spec.RHYTHM_WINDOW_INPUT: spec.RHYTHM_WINDOW,
}
# a patient-context model (docs/generalisation.md): the beat input holds the window and the
# template (two channels), the rhythm input the eight long-term RR features
PATIENT_ROLE_SIZES = {spec.BEAT: 2 * spec.WINDOW, spec.RHYTHM: N_LONGTERM_FEATURES}
# what each role is, for messages
ROLE_TEXT = {
    spec.BEAT: "the beat window",
    spec.RHYTHM: "the RR features",
    spec.RHYTHM_WINDOW_INPUT: "the 8-s rhythm window",
}


@dataclass(frozen=True)
class TensorSpec:
    """One model input (or the output): where it is, what it holds, how it is quantized."""

    position: int  # index among the flatbuffer's inputs (0 for the output)
    tensor: int  # tensor index in the flatbuffer
    name: str
    role: str  # spec.BEAT, spec.RHYTHM or OUTPUT
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def size(self) -> int:
        """Values per example (the shape without its batch dimension)."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1

    def quantize(self, x) -> np.ndarray:
        """Float values -> int8 (round half to even, as TFLite's reference QUANTIZE), shaped
        (n, *shape[1:])."""
        x = np.asarray(x, np.float64)
        q = np.clip(np.round(x / self.scale) + self.zero_point, -128, 127).astype(np.int8)
        return q.reshape((-1,) + tuple(self.shape[1:]))

    def dequantize(self, q) -> np.ndarray:
        return (np.asarray(q, np.float64) - self.zero_point) * self.scale


def input_role(name: str, size: int) -> str | None:
    """The role of a model input: named after it (Keras input names "beat", "rhythm",
    "rhythm_window"; the longest role name the tensor name holds wins, so "rhythm_window"
    is never the RR features), else recognised by its size; None when neither tells."""
    lower = name.lower()
    named = [role for role in spec.INPUT_ROLES if role in lower]
    widest = [r for r in named if not any(r != other and r in other for other in named)]
    if len(widest) == 1:
        return widest[0]
    sized = [role for role, n in ROLE_SIZES.items() if n == size]
    return sized[0] if len(sized) == 1 else None


def task_of(roles: list[str]) -> str | None:
    """The task a model with these input roles serves (spec.TASKS), None if none: beats = one
    beat window and at most one RR-feature input; rhythm = the rhythm window alone."""
    if roles == [spec.RHYTHM_WINDOW_INPUT]:
        return spec.RHYTHM_TASK
    if roles.count(spec.BEAT) == 1 and roles.count(spec.RHYTHM) == len(roles) - 1 <= 1:
        return spec.BEATS_TASK
    return None


class Int8Model:
    """A full-integer model of one task (spec.TASKS) and one output: beats (one beat input,
    at most one RR-feature input) or rhythm (one rhythm-window input). task: the task the
    caller serves (a model of another task is a one-line TinyECGError); None takes either."""

    def __init__(self, flatbuffer: TFLiteModel, task: str | None = spec.BEATS_TASK):
        self.flatbuffer = flatbuffer
        where = flatbuffer.source
        inputs = []
        for k, ti in enumerate(flatbuffer.inputs):
            t = flatbuffer.tensors[ti]
            scale, zp = flatbuffer.input_quant(k)
            size = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else t.size
            role = input_role(t.name, size)
            if role is None:
                known = ", ".join(f"{ROLE_TEXT[r]} ({n})" for r, n in ROLE_SIZES.items())
                raise TinyECGError(
                    f"{where}: input {k} {t.name!r} ({size} values) is none of {known}"
                )
            if size not in (ROLE_SIZES[role], PATIENT_ROLE_SIZES.get(role)):
                raise TinyECGError(
                    f"{where}: input {k} {t.name!r} is the {role} input but "
                    f"holds {size} values, not {ROLE_SIZES[role]}"
                )
            inputs.append(TensorSpec(k, ti, t.name, role, tuple(t.shape), scale, zp))
        roles = [i.role for i in inputs]
        found = task_of(roles)
        if found is None:
            raise TinyECGError(
                f"{where}: inputs {roles} fit no task (beats: one beat input and at most one "
                f"rhythm input; rhythm: one rhythm_window input)"
            )
        if task is not None and found != task:
            raise TinyECGError(
                f"{where}: a {found} model (inputs {', '.join(roles)}), not a {task} model"
            )
        self.task: str = found
        if len(flatbuffer.outputs) != 1:
            raise TinyECGError(f"{where}: expected one output, found {len(flatbuffer.outputs)}")
        to = flatbuffer.tensors[flatbuffer.outputs[0]]
        oscale, ozp = flatbuffer.output_quant(0)
        self.inputs: tuple[TensorSpec, ...] = tuple(inputs)
        self.output = TensorSpec(0, to.index, to.name, OUTPUT, tuple(to.shape), oscale, ozp)

    @classmethod
    def load(cls, source, task: str | None = spec.BEATS_TASK) -> Int8Model:
        """From a .tflite path, its bytes, or a parsed TFLiteModel (task: as for __init__)."""
        if isinstance(source, Int8Model):
            if task is not None and source.task != task:
                raise TinyECGError(f"{source.source}: a {source.task} model, not a {task} model")
            return source
        if not isinstance(source, TFLiteModel):
            source = load_model(source)
        return cls(source, task)

    @property
    def data(self) -> bytes:
        return self.flatbuffer.data

    @property
    def source(self) -> str:
        return self.flatbuffer.source

    @property
    def sha256(self) -> str:
        return self.flatbuffer.sha256

    @property
    def n_classes(self) -> int:
        return self.output.size

    @property
    def n_rhythm(self) -> int:
        rhythm = self.input(spec.RHYTHM)
        return rhythm.size if rhythm is not None else 0

    def input(self, role: str) -> TensorSpec | None:
        return next((i for i in self.inputs if i.role == role), None)

    def order(self, **by_role) -> list[np.ndarray]:
        """Arrays given by role -> the list in the flatbuffer's input order (each reshaped
        to (n, *shape[1:])). Raises TinyECGError when an input the model takes is missing;
        roles the model does not take are ignored."""
        out = []
        for i in self.inputs:
            if by_role.get(i.role) is None:
                raise TinyECGError(f"{self.source}: the model needs its {i.role} input")
            out.append(np.asarray(by_role[i.role]).reshape((-1,) + tuple(i.shape[1:])))
        return out

    def quantize_inputs(self, **by_role) -> list[np.ndarray]:
        """Float inputs by role (beat=(n, WINDOW), rhythm=(n, features)) -> int8 arrays in the
        flatbuffer's input order."""
        return [i.quantize(x) for i, x in zip(self.inputs, self.order(**by_role))]


def load_int8(source) -> Int8Model:
    """Int8Model.load, for callers that hold a path."""
    return Int8Model.load(Path(source) if isinstance(source, str) else source)
