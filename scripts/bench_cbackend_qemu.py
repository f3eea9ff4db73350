#!/usr/bin/env python3
"""Instructions per inference of the C backend's generated model on Cortex-M4 / M0+ under QEMU.

    python scripts/bench_cbackend_qemu.py [--model student.tflite] [--beats 32]
           [--builds m4-dsp:-Os m4-portable:-Os m0:-Os ...] [--json PATH]
    python scripts/bench_cbackend_qemu.py --task rhythm [--model rhythm.tflite] [--beats 32]

With --task rhythm the model is the shockable-rhythm model (default: the one shipped with
tinyecg), generated with the rhythm export's prefix and API
(tinyecg_rhythm_model_invoke(input, output)), and the inputs are --beats real 8-s windows
(the integer front end's output) spread over vfdb, cudb and mitdb records (--data: the
folder holding vfdb/, cudb/, mitdb/, default ../shared/data; else the shipped model's golden
windows); default JSON docs/bench/cbackend_qemu_rhythm.json.

The model is a fully int8 .tflite (--model; a run directory means its student_int8.tflite).
Without --model the student architecture (tinyecg.models.build("student-cnn")) is trained for
a few hundred steps on real beats and converted to int8, so the numbers describe a realistic
set of weights (the instruction counts hardly depend on the values).

For every build (arch "m4-dsp": Cortex-M4 with the SMLAD path, "m4-portable": the same core
with -DTINYECG_NO_DSP, "m0": Cortex-M0+ code run on QEMU's AN385 Cortex-M3 image, see
docs/qemu.md; then the optimisation flag) the generated <prefix>.c and the kernels of
firmware/lib/tinyecg_nn are compiled with the mps2-an386 target (tinyecg.device.qemu) and run
under qemu-system-arm -icount shift=0. The program
times every tinyecg_model_invoke() with platform_instructions() (resolution 40 instructions;
the cost of an empty measurement is subtracted) and prints the outputs, which must equal
tflite_micro.runtime's byte for byte (any difference aborts: a wrong build is not measured).
Beats: --beats real MIT-BIH beats spread over the records (--data, else $TINYECG_DATA, else
../shared/data/mitdb, else the bundled excerpts), preprocessed with the float reference.

Reported per build: median / min / max instructions per inference, code + rodata bytes of the
model (the generated object file, arm-none-eabi-size text + data, which holds the weights,
the parameters and the inlined fast kernels) plus the tinyecg_nn objects the image keeps after
--gc-sections (from the linker map), the static arena
(<PREFIX>_ARENA_BYTES, the object's bss) and the stack one invoke() uses
(platform_stack_peak_bytes() after it, less main's depth at the call). Prints a table and
writes JSON (default docs/bench/cbackend_qemu.json).
"""

from __future__ import annotations

import argparse
import os
import platform as host_platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.device import qemu  # noqa: E402
from tinyecg.device.cbuild import arm_object_size  # noqa: E402
from tinyecg.device.elfsize import size_by_object  # noqa: E402
from tinyecg.export.cbackend import (  # noqa: E402
    generate_c_backend,
    library_include,
    library_sources,
    plan_memory,
)
from tinyecg.models.int8 import Int8Model  # noqa: E402
from tinyecg.models.tflite import load_model  # noqa: E402
from tinyecg.run import write_json  # noqa: E402

PREFIXES = {"beats": "tinyecg_model", "rhythm": "tinyecg_rhythm_model"}
RHYTHM_RECORDS = (("cudb", "cu01"), ("vfdb", "421"), ("mitdb", "207"), ("mitdb", "100"))
DEFAULT_BUILDS = ("m4-dsp:-Os", "m4-dsp:-O2", "m4-portable:-Os", "m0:-Os", "m0:-O2")
ARCHES = {  # build name -> (qemu arch, defines)
    "m4-dsp": ("m4", {}),
    "m4-portable": ("m4", {"TINYECG_NO_DSP": 1}),
    "m0": ("m0", {}),
}

BENCH_C = r"""
#include <stdio.h>
#include <stdint.h>
#include "platform.h"
#include "bench_inputs.h" /* the model's header, MODEL_OUTPUT_SIZE and INVOKE(k, out) */

extern uint32_t __StackTop[];

/* one line per beat: "b <index> <instructions> <output bytes...>" */
int main(void)
{
    static int8_t out[MODEL_OUTPUT_SIZE];
    uint32_t k;
    int i;
    uint64_t t0, t1, empty;
    uintptr_t sp;
    size_t stack_before, stack_after;

    platform_init();
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    stack_before = (size_t)((uintptr_t)__StackTop - sp); /* main's depth at the call */
    if (INVOKE(0, out) != 0) {
        return 3;
    }
    stack_after = platform_stack_peak_bytes();
    t0 = platform_instructions();
    t1 = platform_instructions();
    empty = t1 - t0;
    for (k = 0; k < N_BEATS; ++k) {
        int rc;
        t0 = platform_instructions();
        rc = INVOKE(k, out);
        t1 = platform_instructions();
        if (rc != 0) {
            return 3;
        }
        printf("b %lu %lu", (unsigned long)k, (unsigned long)(t1 - t0 - empty));
        for (i = 0; i < MODEL_OUTPUT_SIZE; ++i) {
            printf(" %d", out[i]);
        }
        printf("\n");
    }
    printf("stack %lu\n", (unsigned long)(stack_after - stack_before));
    return 0;
}
"""


def data_dir(arg: str | None) -> Path | None:
    for cand in (arg, os.environ.get("TINYECG_DATA"), ROOT.parent / "shared/data/mitdb"):
        if cand and (Path(cand) / "100.hea").is_file():
            return Path(cand)
    return None


def real_beats(
    data: str | None,
    n: int,
    records=("100", "119", "208", "233", "201", "118", "105", "214", "109", "231"),
):
    """n beats spread over the records: preprocessed windows (n, 360) float and rhythm (n, 5)."""
    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import load_record, resolve_data_dir
    from tinyecg.dsp.denoise import preprocess

    root = data_dir(data) or resolve_data_dir(data)
    names = [r for r in records if (Path(root) / f"{r}.hea").is_file()]
    if not names:
        from tinyecg.data.records import list_records

        names = list_records(Path(root))
    per = max(1, -(-n // len(names)))
    xs, rs, ys = [], [], []
    for name in names:
        rec = load_record(Path(root), name)
        if rec is None:
            continue
        beats = beats_from_record(rec, labels="aami")
        if len(beats) == 0:
            continue
        # every non-N beat is rare: take some of each class the record has
        rng = np.random.default_rng(len(xs))
        pick = []
        for c in np.unique(beats.y):
            idx = np.flatnonzero(beats.y == c)
            pick += list(rng.choice(idx, min(len(idx), max(1, per // 2)), replace=False))
        pick = np.sort(np.asarray(pick[:per] if len(pick) > per else pick))
        sub = beats.subset(pick)
        xs.append(preprocess(sub.mv))
        rs.append(sub.rhythm)
        ys.append(sub.y)
    x = np.concatenate(xs)[:n].astype(np.float32)
    return x, np.concatenate(rs)[:n].astype(np.float32), np.concatenate(ys)[:n], str(root)


def quick_student(x: np.ndarray, rhythm: np.ndarray, y: np.ndarray, steps: int = 300) -> bytes:
    """student-cnn trained briefly on the given beats and converted to a fully int8 graph."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras as keras

    from tinyecg.models.architectures import build
    from tinyecg.stages.quantize import convert_int8, representative_inputs

    keras.utils.set_random_seed(1)
    model = build("student-cnn")
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    idx = np.random.default_rng(0).integers(0, len(x), steps * 32)
    inputs = representative_inputs(model, x[idx], rhythm[idx])
    model.fit(inputs, y[idx], batch_size=32, epochs=1, verbose=0, shuffle=False)
    calib = np.random.default_rng(1).choice(len(x), min(120, len(x)), replace=False)
    return convert_int8(model, representative_inputs(model, x[calib], rhythm[calib]))


def tflm_outputs(data: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    from tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(data)
    out = []
    for i in range(len(inputs[0])):
        for k, x in enumerate(inputs):
            interp.set_input(x[i].reshape(interp.get_input_details(k)["shape"]), k)
        interp.invoke()
        out.append(np.array(interp.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8)


def inputs_header(inputs: list[np.ndarray], prefix: str, input_args: int) -> str:
    text = f'#include <stdint.h>\n#include "{prefix}.h"\n#define N_BEATS {len(inputs[0])}u\n'
    text += f"#define MODEL_OUTPUT_SIZE {prefix.upper()}_OUTPUT_SIZE\n"
    for k, x in enumerate(inputs):
        rows = ",\n".join("{" + ",".join(map(str, r)) + "}" for r in x.tolist())
        text += f"static const int8_t k_in{k}[N_BEATS][{x.shape[1]}] = {{\n{rows}}};\n"
    if input_args == 1:
        return text + f"#define INVOKE(k, out) {prefix}_invoke(k_in0[k], out)\n"
    in1 = "k_in1[k]" if len(inputs) > 1 else "NULL"
    return text + f"#define INVOKE(k, out) {prefix}_invoke(k_in0[k], {in1}, out)\n"


def real_rhythm_windows(data: str | None, n: int) -> tuple[np.ndarray, str]:
    """n real 8-s windows (int8, the front end's output) spread over RHYTHM_RECORDS, or the
    shipped rhythm model's golden windows when the databases are absent."""
    from tinyecg.data.rhythm import load_rhythm_record
    from tinyecg.dsp import rhythm_frontend as fe
    from tinyecg.spec import RHYTHM_WINDOW

    root = Path(data) if data else ROOT.parent / "shared" / "data"
    recs = [root / db / name for db, name in RHYTHM_RECORDS]
    recs = [r for r in recs if r.with_suffix(".hea").is_file()]
    if not recs:
        from tinyecg.data.rhythm_golden import FILE, load_golden
        from tinyecg.paths import rhythm_model_dir

        g = load_golden(rhythm_model_dir() / FILE)
        return g["window"][:n], f"the shipped rhythm model's {FILE}"
    per = max(1, -(-n // len(recs)))
    out = []
    for base in recs:
        rec = load_rhythm_record(base)
        ends = rec.ends[np.linspace(0, len(rec.ends) - 1, per).astype(int)]
        out.append(fe.normalise_int(fe.windows_at(rec.stream, ends, RHYTHM_WINDOW), rec.gain))
    names = ", ".join(f"{b.parent.name}/{b.name}" for b in recs)
    return np.concatenate(out)[:n].astype(np.int8), f"{names} ({root.name}/)"


def object_size(src: Path, build: str, opt: str, out: Path, prefix: str) -> dict:
    """text (code + const data), data and bss bytes of the model's object file alone."""
    arch, defs = ARCHES[build]
    return arm_object_size(
        src / f"{prefix}.c", out / f"model-{build}{opt}.o", arch, opt, [library_include()], defs
    )


def bench(spec: str, src: Path, out: Path, want: np.ndarray, prefix: str) -> dict:
    build, opt = spec.split(":")
    if build not in ARCHES:
        raise SystemExit(f"unknown build {build!r} (choose from {', '.join(ARCHES)})")
    arch, defs = ARCHES[build]
    elf = qemu.build(
        [src / "bench_main.c", src / f"{prefix}.c", *library_sources()],
        includes=[src, library_include()],
        defs=defs,
        out_dir=out / f"{build}{opt}",
        arch=arch,
        app="bench",
        extra_cflags=[opt],
        stack_size=16384,
    )
    disasm = subprocess.run(
        ["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True
    ).stdout
    uses_smlad = "smlad" in disasm
    if uses_smlad != (build == "m4-dsp"):
        raise SystemExit(f"{spec}: SMLAD {'found' if uses_smlad else 'missing'} in the image")
    res = qemu.run(elf, timeout=300, machine=qemu.MACHINES[arch])
    if res.returncode != 0:
        raise SystemExit(f"{spec}: QEMU exit {res.returncode}\n{res.stderr[-2000:]}")
    counts, got = [], []
    for line in res.stdout.splitlines():
        m = re.match(r"b (\d+) (\d+)((?: -?\d+)+)$", line)
        if m:
            counts.append(int(m.group(2)))
            got.append([int(v) for v in m.group(3).split()])
    got = np.array(got, dtype=np.int64)
    if got.shape != want.shape or not np.array_equal(got, want):
        bad = int((got != want).any(axis=1).sum()) if got.shape == want.shape else len(want)
        raise SystemExit(f"{spec}: {bad} of {len(want)} outputs differ from tflite_micro")
    stack = int(re.search(r"stack (\d+)", res.stdout).group(1))
    c = np.array(counts)
    size = object_size(src, build, opt, out, prefix)
    kernels = sum(v["flash"] for k, v in size_by_object(elf).items() if k.startswith("tinyecg_nn_"))
    return {
        "build": build,
        "opt": opt,
        "machine": qemu.MACHINES[arch],
        "instructions": {
            "median": int(np.median(c)),
            "min": int(c.min()),
            "max": int(c.max()),
            "beats": int(len(c)),
        },
        "code_rodata_bytes": size["text"] + size["data"] + kernels,
        "object": size,
        "kernel_objects_bytes": kernels,
        "stack_bytes": stack,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--task",
        choices=sorted(PREFIXES),
        default="beats",
        help="beats: the beat classifier; rhythm: the shockable-rhythm model",
    )
    ap.add_argument(
        "--model",
        default=None,
        help="int8 .tflite or a run directory with "
        "student_int8.tflite (default: train and convert a student briefly)",
    )
    ap.add_argument(
        "--data",
        default=None,
        help="MIT-BIH folder (default: $TINYECG_DATA, "
        "../shared/data/mitdb or the bundled excerpts)",
    )
    ap.add_argument("--beats", type=int, default=32, help="real beats to run (default 32)")
    ap.add_argument(
        "--builds",
        nargs="*",
        default=list(DEFAULT_BUILDS),
        help="build:opt pairs, build one of " + ", ".join(ARCHES) + " (default: %(default)s)",
    )
    ap.add_argument(
        "--json",
        default=None,
        help="JSON output (default docs/bench/cbackend_qemu.json, rhythm: "
        "cbackend_qemu_rhythm.json); '' for none",
    )
    ap.add_argument("--keep", default=None, help="keep the sources and builds in this folder")
    args = ap.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2

    t0 = time.time()
    prefix = PREFIXES[args.task]
    what = "windows" if args.task == "rhythm" else "beats"
    if args.json is None:
        name = "cbackend_qemu_rhythm.json" if args.task == "rhythm" else "cbackend_qemu.json"
        args.json = str(ROOT / "docs" / "bench" / name)
    if args.task == "rhythm":
        from tinyecg.paths import rhythm_model_dir

        path = Path(args.model) if args.model else rhythm_model_dir() / "model.tflite"
        if path.is_dir():
            path = path / "student_int8.tflite"
        data = path.read_bytes()
        model_desc = str(path) if args.model else "the shipped rhythm model (tinyecg/assets)"
        windows, data_root = real_rhythm_windows(args.data, max(args.beats, 1))
        inputs = [windows.reshape(len(windows), -1)]
        model = load_model(data)
    else:
        x, rhythm, y, data_root = real_beats(args.data, max(args.beats, 1))
        if args.model:
            path = Path(args.model)
            if path.is_dir():
                path = path / "student_int8.tflite"
            data, model_desc = path.read_bytes(), str(path)
        else:
            tx, tr, ty, _ = real_beats(args.data, 600)
            data, model_desc = quick_student(tx, tr, ty), "student-cnn trained 300 steps (quick)"
        model = load_model(data)
        inputs = [
            q.reshape(len(q), -1) for q in Int8Model(model).quantize_inputs(beat=x, rhythm=rhythm)
        ]
    input_args = 1 if args.task == "rhythm" else 2
    want = tflm_outputs(data, inputs).astype(np.int64)
    plan = plan_memory(model)

    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyecg-bench-cb-") as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        src = work / "src"
        src.mkdir(parents=True, exist_ok=True)
        for name, text in generate_c_backend(model, prefix, input_args=input_args).items():
            (src / name).write_text(text)
        (src / "bench_main.c").write_text(BENCH_C)
        (src / "bench_inputs.h").write_text(inputs_header(inputs, prefix, input_args))
        print(f"model: {model_desc} ({', '.join(model.op_names())})")
        print(
            f"{len(inputs[0])} real {what} from {data_root}; every build's outputs equal "
            f"tflite_micro's; static arena {plan.arena_bytes} B"
        )
        print(f"{'build':<16} {'median':>9} {'min':>9} {'max':>9} {'code+ro B':>10} {'stack B':>8}")
        for spec in args.builds:
            row = bench(spec, src, work, want, prefix)
            rows.append(row)
            ins = row["instructions"]
            print(
                f"{spec:<16} {ins['median']:>9,} {ins['min']:>9,} {ins['max']:>9,} "
                f"{row['code_rodata_bytes']:>10,} {row['stack_bytes']:>8,}"
            )
    result = {
        "what": "instructions per <prefix>_invoke() under QEMU -icount shift=0 "
        "(platform_instructions(), resolution 40, empty measurement subtracted); "
        "outputs checked byte for byte against tflite_micro.runtime",
        "command": " ".join(
            ["python scripts/bench_cbackend_qemu.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "model": model_desc,
        "model_sha256": model.sha256,
        "ops": model.op_names(),
        "task": args.task,
        "prefix": prefix,
        what: {"count": int(len(inputs[0])), "data": data_root},
        "arena_bytes": plan.arena_bytes,
        **qemu.toolchain_versions(),
        "host": host_platform.machine(),
        "seconds": round(time.time() - t0, 1),
        "builds": rows,
    }
    if args.json:
        path = Path(args.json)
        write_json(path, result)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
