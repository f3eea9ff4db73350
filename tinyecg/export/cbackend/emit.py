"""C text from the lowering: const tables (weights, biases, multipliers, each with the
comment that says where it came from), parameter structs as designated initialisers with
one comment per field, the memory plan, and the call sequence of invoke().

Nothing here decides anything about the model: ops.py and plan.py did.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.export.cbackend.ops import Lowering
from tinyecg.export.cbackend.params import Call, Field, Params, Table
from tinyecg.export.cbackend.plan import MemoryPlan
from tinyecg.models.tflite import TFLiteModel

ARENA = "arena"
COMMENT_COLUMN = 36  # field comments start here when the initialiser is shorter


def int_literal(v: int) -> str:
    """A C integer constant of value v (INT32_MIN has no literal of its own)."""
    return "(-2147483647 - 1)" if v == -(1 << 31) else str(int(v))


def table_text(t: Table) -> str:
    """The const array with its comment, inside #if for a build-specific table."""
    vals = [int_literal(v) for v in np.asarray(t.values).reshape(-1)]
    lines = []
    for i in range(0, len(vals), t.per_line):
        if i in t.sections:
            lines.append(f"    /* {t.sections[i]} */")
        line = "    " + ", ".join(vals[i : i + t.per_line]) + ","
        if t.line_comments is not None:
            line += f"  /* {t.line_comments[i // t.per_line]} */"
        lines.append(line)
    align = " TINYECG_NN_ALIGN4" if t.aligned else ""
    text = (
        "/* " + "\n   ".join(t.comment) + " */\n"
        f"static const {t.ctype} {t.name}[{len(vals)}]{align} = {{\n" + "\n".join(lines) + "\n};\n"
    )
    if t.build == "dsp":
        return "#if TINYECG_NN_DSP\n" + text + "#endif\n"
    if t.build == "portable":
        return "#if !TINYECG_NN_DSP\n" + text + "#endif\n"
    return text


def _fields(obj, prefix: str = ""):
    """(member path, Field) of a parameter dataclass, nested structs flattened as a.b."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, Field):
            yield prefix + f.name, value
        else:
            yield from _fields(value, f"{prefix}{f.name}.")


def _value(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, Table):
        return v.name
    return int_literal(v)


def params_text(name: str, params: Params) -> str:
    """`static const <type> name = { .field = value, /* origin */ ... };`"""
    lines = [f"static const {params.CTYPE} {name} = {{"]
    for path, f in _fields(params):
        init = f"    .{path} = {_value(f.value)},"
        lines.append(init.ljust(COMMENT_COLUMN) + f" /* {f.comment} */")
    return "\n".join(lines) + "\n};\n"


class TensorNames:
    """The C expression of each tensor's bytes in invoke(): the caller's buffers, an arena
    slot, or a const table."""

    def __init__(
        self,
        model: TFLiteModel,
        plan: MemoryPlan,
        lowering: Lowering,
        args: dict[str, str] | None = None,
    ):
        self.model, self.plan, self.lowering = model, plan, lowering
        self.args = args or {}  # "input0" -> the name of invoke()'s parameter, if not input0

    def __call__(self, t: int, write: bool = False) -> str:
        b = self.plan.base[t]
        kind = self.plan.storage.get(b)
        if kind in ("input0", "input1"):
            if write:
                raise TinyECGError(
                    f"{self.model.source}: the graph writes into its input "
                    f"tensor {self.model.tensors[t].name!r}"
                )
            return self.args.get(kind, kind)
        if kind == "output":
            return "output"
        buffer = self.plan.buffer_of(b)
        if kind == "arena" and buffer is not None:
            return f"{ARENA}.bytes + {buffer.offset}"
        if kind == "const" and b in self.lowering.const_tables:
            return self.lowering.const_tables[b].name
        raise TinyECGError(
            f"{self.model.source}: tensor {self.model.tensors[t].name!r} has "
            f"no storage (graph input/output/constant/intermediate)"
        )


def call_text(
    call: Call, op_index: int, opcode: str, names: TensorNames, plan: MemoryPlan, last: bool = False
) -> str:
    """One kernel call; the last one is returned (a sibling call: see tinyecg_nn.h)."""
    args = [f"&{call.params}", names(call.input), names(call.output, write=True)]
    if call.scratch:
        s = plan.scratch[op_index]
        args.append(f"{ARENA}.words + {s.offset // 4}")
    head = "return " if last else "(void)"
    return f"    {head}{call.kernel}({', '.join(args)});  /* op {op_index}: {opcode} */"


def invoke_body(
    model: TFLiteModel, plan: MemoryPlan, lowering: Lowering, args: dict[str, str] | None = None
) -> list[str]:
    """The statements of invoke() after the argument checks, one per kernel call; the last
    statement returns. args renames invoke()'s input parameters ("input0" -> "input")."""
    names = TensorNames(model, plan, lowering, args)
    calls = [(op, call) for op in lowering.ops for call in op.calls]
    last = None if lowering.copy_out is not None or not calls else calls[-1][1]
    lines = []
    for op in lowering.ops:
        if not op.calls:
            lines.append(f"    /* op {op.index}: {op.opcode}, a view: no code */")
        for call in op.calls:
            lines.append(call_text(call, op.index, op.opcode, names, plan, call is last))
    if lowering.copy_out is not None:
        c = lowering.copy_out
        lines.append(
            f"    memcpy(output, {names(c.tensor)}, {c.size});  /* the output is a "
            f"view of {model.tensors[c.tensor].name!r}: copy it */"
        )
    if last is None:
        lines.append("    return 0;")
    return lines


def plan_lines(plan: MemoryPlan) -> list[str]:
    """The memory plan as a comment table: offset, bytes, live range, what."""
    rows = sorted([*plan.buffers, *plan.scratch.values()], key=lambda b: (b.first, b.offset))
    return [f"{b.offset:6d} {b.size:6d}  {b.first:3d}..{b.last:<3d}  {b.name}" for b in rows]


def op_blocks(lowering: Lowering) -> list[dict]:
    """Per op: its title and the C of its tables and parameter objects."""
    out = []
    for op in lowering.ops:
        parts = [table_text(t) for t in op.tables]
        parts += [params_text(name, p) for name, p in op.params]
        out.append(dict(index=op.index, title=op.title, text="\n".join(parts)))
    return out


def weights_bytes(lowering: Lowering, build: str) -> int:
    """Flash bytes of the tables one build ("portable" or "dsp") compiles."""
    skip = "dsp" if build == "portable" else "portable"
    return sum(t.nbytes for op in lowering.ops for t in op.tables if t.build != skip) + sum(
        t.nbytes for t in lowering.const_tables.values()
    )
