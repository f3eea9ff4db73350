"""The firmware's boot with TensorFlow Lite Micro, as a program of its own: host, Cortex-M4F and
Cortex-M0+ (QEMU), against the library the Arm boards pin (tinyecg.device.tflm_lib).

firmware/targets/selftest/tflm_selftest_main.c is a board layer that only prints: it calls
the application's tinyecg_firmware_boot() (firmware/lib/tinyecg_app with the TFLM adapter:
classifier start and checks, golden self-test) on an exported model folder, then runs one
inference per golden vector and reports the outputs, the arena and the result.

    lib = tflm_lib.build_library("m4")
    program = build_selftest("m4", model_dir, out_dir, lib)
    result = run_selftest(program, "m4")            # SelftestResult: .passed, .outputs, ...

On the host every C file of the program compiles with the project's strict flags
(tinyecg.device.cbuild.STRICT_C_FLAGS), the C++ ones with -Wall -Wextra -Werror; on QEMU the
target's Makefile builds it (tinyecg.device.qemu.build). TFLM's headers come in through
-isystem, so the library's own warnings do not count.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tinyecg import paths
from tinyecg.device import firmware_files, qemu
from tinyecg.device.cbuild import STRICT_C_FLAGS
from tinyecg.device.tflm_lib import CXX_FLAGS, TARGETS, LibraryBuild, _run_compiles
from tinyecg.errors import TinyECGError

PROJECT_WARNINGS = ["-Wall", "-Wextra", "-Werror"]


def selftest_main() -> Path:
    return paths.firmware_dir() / "targets" / "selftest" / "tflm_selftest_main.c"


def build_selftest(
    target: str,
    model_dir: Path | str,
    out_dir: Path | str,
    lib: LibraryBuild,
    *,
    jobs: int = 2,
    stack_size: int = 16384,
    extra_defines: Iterable[str] = (),
    rhythm_dir: Path | str | None = None,
) -> Path:
    """Link the application with the TFLM adapter, an exported model folder and the
    self-test main with `lib` (same target) into out_dir/tflm_selftest (host) or
    out_dir/tflm_selftest.elf (QEMU). Returns the program's path. rhythm_dir: a rhythm
    model export (`--runtime tflm`: a second interpreter) whose start and golden self-test
    the boot then runs too ("# rhythm-classifier ...", "# rhythm-selftest ..."); None: the
    beat model alone."""
    if target not in TARGETS:
        raise TinyECGError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if lib.target != target:
        raise TinyECGError(f"library built for {lib.target}, program for {target}")
    model_dir = Path(model_dir).resolve()
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    export_srcs, export_incs = firmware_files.runtime_sources("tflm", model_dir)
    rhythm_srcs, rhythm_incs, rhythm_defs = firmware_files.rhythm_sources(
        "tflm", rhythm_dir is not None, None if rhythm_dir is None else Path(rhythm_dir).resolve()
    )
    c_sources = [*firmware_files.c_sources(), selftest_main(), *export_srcs, *rhythm_srcs]
    cxx_sources = firmware_files.app_sources(cxx=True)
    includes = [*firmware_files.includes(), *export_incs, *rhythm_incs]
    defines = [
        *lib.defines,
        "TINYECG_CLASSIFIER=TINYECG_CLASSIFIER_TFLM",
        *rhythm_defs,
        *firmware_files.model_defines(model_dir),
        *extra_defines,
    ]
    if target != "host":
        elf = qemu.build(
            c_sources,
            includes=includes,
            defs=[*defines, "TINYECG_SELFTEST_QEMU"],
            out_dir=out,
            arch=target,
            app="tflm_selftest",
            stack_size=stack_size,
            extra_cflags=[lib.opt],
            cxx_srcs=cxx_sources,
            libs=[lib.archive_file],
            system_includes=[lib.include_dir],
            extra_cxxflags=[lib.opt],
        )
        return elf
    common = [
        lib.opt,
        "-ffunction-sections",
        "-fdata-sections",
        "-g",
        *(f"-D{d}" for d in defines),
        *(f"-I{p}" for p in includes),
        "-isystem",
        str(lib.include_dir),
    ]
    items = [(["gcc", *STRICT_C_FLAGS, *common, "-c", str(src)], src) for src in c_sources]
    items += [
        (["g++", *CXX_FLAGS, *PROJECT_WARNINGS, *common, "-c", str(src)], src)
        for src in cxx_sources
    ]
    objdir = out / "obj-host"
    shutil.rmtree(objdir, ignore_errors=True)
    jobs_list = [
        (command, objdir / f"{i:02d}-{src.name}.o") for i, (command, src) in enumerate(items)
    ]
    _run_compiles(jobs_list, jobs, "TFLM self-test program (host)")
    program = out / "tflm_selftest"
    link = [
        "g++",
        "-Wl,--gc-sections",
        *(str(obj) for _, obj in jobs_list),
        str(lib.archive_file),
        "-lm",
        "-o",
        str(program),
    ]
    proc = subprocess.run(link, capture_output=True, text=True)
    (out / "link.log").write_text(" ".join(link) + "\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise TinyECGError(
            "TFLM self-test program (host) did not link: "
            + " | ".join(lines[:4])
            + f" (full log: {out / 'link.log'})"
        )
    return program


# --------------------------------------------------------------------------- running it

_TFLM_LINE = re.compile(r"^# tflm (?P<name>.+?) arena=(?P<used>\d+)/(?P<size>\d+)", re.M)
_SUMMARY = re.compile(
    r"^# selftest (?P<verdict>pass|FAIL) (?P<ok>\d+)/(?P<n>\d+) "
    r"tolerance=(?P<tol>\d+) maxdiff=(?P<maxdiff>-?\d+)",
    re.M,
)
_GOLDEN = re.compile(
    r"^# golden (?P<i>\d+) (?:out=(?P<out>[-\d,]+)"
    r"(?: instructions=(?P<instr>\d+))?|classify-error=(?P<err>-?\d+))",
    re.M,
)
_GOT_WANT = re.compile(
    r"^# selftest (?P<i>\d+) got (?P<got>[-\d ]+?) want (?P<want>[-\d ]+)$", re.M
)
_MEMORY = re.compile(
    r"^# memory arena_used=(?P<used>\d+) arena_bytes=(?P<size>\d+)"
    r"(?: stack_peak=(?P<stack>\d+))?",
    re.M,
)
_ERROR = re.compile(r"^# tflm error: .*$", re.M)


@dataclass
class SelftestResult:
    """What a self-test program printed, parsed. outputs: golden index -> the classifier's
    int8 outputs (absent when classify failed, e.g. disabled after a failed self-test);
    mismatches: golden index -> (got, want) as the self-test printed them; errors: the
    "# tflm error: ..." lines (a model the adapter refused)."""

    target: str
    returncode: int
    stdout: str
    stderr: str = ""
    timed_out: bool = False
    library: str | None = None
    arena_used: int | None = None
    arena_bytes: int | None = None
    selftest_passed: bool = False
    selftest_ok: int = 0
    selftest_count: int = 0
    tolerance: int | None = None
    max_diff: int | None = None
    outputs: dict[int, list[int]] = field(default_factory=dict)
    instructions: dict[int, int] = field(default_factory=dict)
    classify_errors: dict[int, int] = field(default_factory=dict)
    mismatches: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stack_peak: int | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Exit code 0 and the self-test's own verdict "pass"."""
        return self.returncode == 0 and self.selftest_passed


def parse_selftest(target: str, stdout: str, returncode: int, **extra) -> SelftestResult:
    res = SelftestResult(target=target, returncode=returncode, stdout=stdout, **extra)
    if m := _TFLM_LINE.search(stdout):
        res.library, res.arena_used, res.arena_bytes = m["name"], int(m["used"]), int(m["size"])
    if m := _SUMMARY.search(stdout):
        res.selftest_passed = m["verdict"] == "pass"
        res.selftest_ok, res.selftest_count = int(m["ok"]), int(m["n"])
        res.tolerance, res.max_diff = int(m["tol"]), int(m["maxdiff"])
    for m in _GOLDEN.finditer(stdout):
        i = int(m["i"])
        if m["err"] is not None:
            res.classify_errors[i] = int(m["err"])
            continue
        res.outputs[i] = [int(v) for v in m["out"].split(",")]
        if m["instr"] is not None:
            res.instructions[i] = int(m["instr"])
    for m in _GOT_WANT.finditer(stdout):
        res.mismatches[int(m["i"])] = (
            [int(v) for v in m["got"].split()],
            [int(v) for v in m["want"].split()],
        )
    res.errors = _ERROR.findall(stdout)
    if m := _MEMORY.search(stdout):
        res.arena_used = int(m["used"])
        res.stack_peak = int(m["stack"]) if m["stack"] is not None else None
    return res


def run_selftest(program: Path | str, target: str, timeout: float = 120) -> SelftestResult:
    """Run a program of build_selftest(): natively on the host, under QEMU (with
    -icount shift=0) for m4 (mps2-an386) and m0 (mps2-an385)."""
    program = Path(program)
    if target == "host":
        start = time.monotonic()
        try:
            proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            out = (
                exc.stdout.decode("utf-8", "replace")
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or "")
            )
            return parse_selftest(
                target, out, qemu.TIMEOUT_EXIT, timed_out=True, seconds=time.monotonic() - start
            )
        return parse_selftest(
            target,
            proc.stdout,
            proc.returncode,
            stderr=proc.stderr,
            seconds=time.monotonic() - start,
        )
    if target not in qemu.MACHINES:
        raise TinyECGError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    run = qemu.run(program, timeout=timeout, serial="none", machine=qemu.MACHINES[target])
    return parse_selftest(
        target,
        run.stdout,
        run.returncode,
        stderr=run.stderr,
        timed_out=run.timed_out,
        seconds=run.seconds,
    )
