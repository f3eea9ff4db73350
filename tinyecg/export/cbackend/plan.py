"""The static memory plan: every intermediate tensor and every kernel scratch in one arena.

Tensors are taken in the order the ops write them and each goes to the lowest aligned offset
that does not overlap a buffer placed before it whose live range [first write, last read]
intersects its own (greedy first fit). Views (RESHAPE / EXPAND_DIMS / SQUEEZE) share their
source's bytes; model inputs are read in place from the caller's buffers, the last op writes
straight into the caller's output, constants stay in flash.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyecg.export.cbackend import fast
from tinyecg.models.tflite import TFLiteModel

VIEW_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")
ARENA_ALIGNMENT = 4  # bytes; every arena buffer starts on a 32-bit boundary


@dataclass
class ArenaBuffer:
    tensor: int  # index of the tensor that owns the bytes (views share them); -1: scratch
    name: str
    size: int  # bytes
    first: int  # index of the op that writes it
    last: int  # index of the last op that reads it or one of its views
    offset: int = -1  # byte offset in the arena

    def overlaps_in_time(self, other: ArenaBuffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    arena_bytes: int
    alignment: int
    buffers: list[ArenaBuffer]
    base: dict[int, int]  # tensor -> tensor whose storage it uses (itself unless a view)
    storage: dict[int, str]  # base tensor -> "input0" | "input1" | "output" | "arena" | "const"
    # kernel scratch inside the arena, live during one op only (tensor -1): op index -> slot
    scratch: dict[int, ArenaBuffer] = field(default_factory=dict)

    def buffer_of(self, tensor: int) -> ArenaBuffer | None:
        b = self.base.get(tensor, tensor)
        return next((x for x in self.buffers if x.tensor == b), None)


def view_bases(model: TFLiteModel) -> dict[int, int]:
    """tensor -> the tensor whose bytes it uses (itself unless it is a view)."""
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
    """Place every intermediate tensor and kernel scratch in one arena (see the module)."""
    base = view_bases(model)
    n_ops = len(model.ops)
    storage: dict[int, str] = {}
    for k, t in enumerate(model.inputs):
        storage[t] = f"input{k}"
    for t in model.outputs:
        if base[t] == t and t not in storage:
            storage[t] = "output"
    for tensor in model.tensors:
        if tensor.is_constant:
            storage.setdefault(tensor.index, "const")

    buffers: dict[int, ArenaBuffer] = {}
    for op in model.ops:
        if op.opcode in VIEW_OPS:
            continue
        for t in op.outputs:
            if storage.get(t) is None:
                storage[t] = "arena"
                tensor = model.tensors[t]
                buffers[t] = ArenaBuffer(
                    tensor=t, name=tensor.name, size=tensor.nbytes, first=op.index, last=op.index
                )
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
        size = fast.scratch_bytes(model, op)
        if size:
            scratch[op.index] = ArenaBuffer(
                tensor=-1,
                name=f"scratch of op {op.index} ({op.opcode})",
                size=size,
                first=op.index,
                last=op.index,
            )

    placed: list[ArenaBuffer] = []
    # an op's scratch is placed after the tensors it writes (same first op)
    for b in sorted(
        [*buffers.values(), *scratch.values()], key=lambda x: (x.first, x.tensor < 0, x.tensor)
    ):
        live = sorted((p for p in placed if p.overlaps_in_time(b)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + b.size <= p.offset:
                break
            offset = max(offset, -(-(p.offset + p.size) // alignment) * alignment)
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in placed), default=0)
    return MemoryPlan(
        arena_bytes=arena,
        alignment=alignment,
        buffers=[b for b in placed if b.tensor >= 0],
        base=base,
        storage=storage,
        scratch=scratch,
    )
