"""Interpreter-free C for a fully int8 .tflite graph, bit-exact with TFLite Micro.

The kernels are static C99 in firmware/lib/tinyecg_nn (named after the TFLM kernels they
reimplement, tested on their own); this package writes only what depends on the model:

    ops.py, ops_conv.py  one function per op: flatbuffer op -> kernel parameters (params.py
                         dataclasses), with every check and the multiplier maths
                         (tinyecg.quantmath); fast.py decides which ops take the fast kernels
    plan.py              the static memory plan (one arena, live ranges, kernel scratch)
    emit.py              parameters -> C initialisers, weights -> const arrays, the calls
    templates/cbackend   model.h.j2 (the API), model.c.j2 (the layout of the .c)

    files = generate_c_backend(load_model("student.tflite"))   # {"tinyecg_model.h": ..., .c}
    write_c_backend("student.tflite", "out/")                   # all files or none
    library_sources(), library_include()                        # what the .c compiles with

Unsupported ops, types or shapes raise TinyECGError naming the op. See docs/c-backend.md.
"""

from __future__ import annotations

from pathlib import Path

from tinyecg import paths, spec
from tinyecg.errors import TinyECGError
from tinyecg.export import cgen
from tinyecg.export.cbackend import emit
from tinyecg.export.cbackend.ops import SUPPORTED_OPS, lower
from tinyecg.export.cbackend.plan import ArenaBuffer, MemoryPlan, plan_memory
from tinyecg.export.render import render, write_atomically
from tinyecg.models.int8 import input_role
from tinyecg.models.tflite import TFLiteModel, load_model

__all__ = [
    "SUPPORTED_OPS",
    "STACK_BOUND_BYTES",
    "ArenaBuffer",
    "MemoryPlan",
    "plan_memory",
    "generate_c_backend",
    "write_c_backend",
    "library_dir",
    "library_include",
    "library_sources",
]

# Bound on the stack invoke() uses: the deepest call chain from it (frames summed along the
# chain, as gcc -fcallgraph-info=su reports them; nothing recurses, no frame is dynamic). The
# tests check it for host gcc and arm-none-eabi-gcc (Cortex-M4 and M0+).
STACK_BOUND_BYTES = 512

ROLE_TEXT = {
    spec.BEAT: "the beat window: 360 preprocessed samples around the R peak",
    spec.RHYTHM: "the rhythm features: pre_rr_s, post_rr_s, local_rr_s, pre_ratio, post_ratio "
    "(tinyecg.dsp.rhythm)",
    spec.RHYTHM_WINDOW_INPUT: "the rhythm window: 8 s of the front end's 90 Hz stream, "
    "q = 16 (y - mean) / std (tinyecg_rhythm_window())",
}


def library_dir() -> Path:
    """firmware/lib/tinyecg_nn: the kernels every generated model calls."""
    return paths.firmware_dir() / "lib" / "tinyecg_nn"


def library_include() -> Path:
    """The folder of tinyecg_nn.h (add it to the include path of the generated .c)."""
    return library_dir() / "include"


def library_sources() -> list[Path]:
    """The kernels' C sources, compiled and linked with the generated .c."""
    return sorted((library_dir() / "src").glob("*.c"))


def _inputs(model: TFLiteModel) -> list[dict]:
    """The template's view of the model inputs: shape, quantization and role (the beat
    window or the rhythm features, when tinyecg.models.int8.input_role can tell)."""
    inputs = []
    for k, t in enumerate(model.inputs):
        tensor = model.tensors[t]
        size = tensor.size // int(tensor.shape[0]) if len(tensor.shape) > 1 else tensor.size
        role = input_role(tensor.name, size) or ""
        scale, zp = model.input_quant(k)
        inputs.append(
            dict(
                index=k,
                name=tensor.name,
                shape=list(tensor.shape),
                size=tensor.size,
                scale=scale,
                scale_c=cgen.c_float(scale),
                zero_point=zp,
                role=role.upper(),
                desc=ROLE_TEXT.get(role, "model input"),
            )
        )
    roles = [i["role"] for i in inputs if i["role"]]
    if len(set(roles)) != len(roles):  # two inputs look alike: name neither
        for i in inputs:
            i["role"], i["desc"] = "", "model input"
    return inputs


def generate_c_backend(
    model: TFLiteModel, prefix: str = "tinyecg_model", input_args: int = 2
) -> dict[str, str]:
    """C99 sources for `model`: {"<prefix>.h": ..., "<prefix>.c": ...}.

    With input_args=2 (the beat task's API) the header declares `int <prefix>_invoke(const
    int8_t *input0, const int8_t *input1, int8_t *output)` (input order = the flatbuffer's;
    input1 is NULL for one-input models), so the firmware calls one- and two-input beat
    models alike; with input_args=1 (one-input models only, the rhythm task's API) it
    declares `int <prefix>_invoke(const int8_t *input, int8_t *output)`. The header also
    gives the sizes, scales and zero points of the inputs and the output. The .c includes
    tinyecg_nn.h (library_include()) and links with library_sources(). Raises TinyECGError
    for anything the kernels do not implement exactly."""
    if not isinstance(model, TFLiteModel):
        raise TinyECGError("generate_c_backend expects a TFLiteModel (see load_model)")
    ident = cgen.identifier(prefix)
    if ident != prefix:
        raise TinyECGError(f"prefix {prefix!r} is not a C identifier (try {ident!r})")
    if input_args not in (1, 2):
        raise TinyECGError(f"input_args must be 1 or 2 (got {input_args!r})")
    if len(model.inputs) > input_args:
        raise TinyECGError(
            f"{Path(model.source).name}: {len(model.inputs)} inputs, but invoke() is to take "
            f"{input_args}"
        )
    args = {"input0": "input"} if input_args == 1 else {}
    plan = plan_memory(model)
    lowering = lower(model, plan.base)
    invoke = emit.invoke_body(model, plan, lowering, args)  # also checks every tensor's storage
    out_t = model.tensors[model.outputs[0]]
    oscale, ozp = model.output_quant(0)
    op_counts: dict[str, int] = {}
    for op in model.ops:
        op_counts[op.opcode] = op_counts.get(op.opcode, 0) + 1
    context = dict(
        prefix=prefix,
        PREFIX=prefix.upper(),
        guard=prefix.upper() + "_H",
        source=Path(model.source).name,
        sha256=model.sha256,
        inputs=_inputs(model),
        output=dict(
            name=out_t.name,
            shape=list(out_t.shape),
            size=out_t.size,
            scale=oscale,
            scale_c=cgen.c_float(oscale),
            zero_point=ozp,
        ),
        graph=", ".join(f"{n} x{c}" if c > 1 else n for n, c in op_counts.items()),
        plan=plan,
        plan_lines=emit.plan_lines(plan),
        arena=emit.ARENA,
        const_tables=[emit.table_text(t) for t in lowering.const_tables.values()],
        blocks=emit.op_blocks(lowering),
        invoke=invoke,
        copies=lowering.copy_out is not None,
        kernels=sorted({c.kernel for op in lowering.ops for c in op.calls}),
        weights_bytes=emit.weights_bytes(lowering, "portable"),
        dsp_weights_bytes=emit.weights_bytes(lowering, "dsp"),
        stack_bound=STACK_BOUND_BYTES,
        input_args=input_args,
    )
    files: dict[str, str] = {
        f"{prefix}.h": render("cbackend/model.h.j2", **context),
        f"{prefix}.c": render("cbackend/model.c.j2", **context),
    }
    return files


def write_c_backend(
    model, out_dir, prefix: str = "tinyecg_model", force: bool = False, input_args: int = 2
):
    """Generate the C for model (a TFLiteModel, a .tflite path or its bytes) into out_dir,
    all files or none (see render.write_atomically). Returns the folder."""
    if not isinstance(model, TFLiteModel):
        model = load_model(model)
    files: dict[str, str | bytes] = dict(
        generate_c_backend(model, prefix=prefix, input_args=input_args)
    )
    return write_atomically(files, out_dir, force=force)
