"""The host-side harness of the export tests (not a test module): strict compiler flags,
the C check programs in tests/c, compiling and running them against an export, and reading
their output."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT

HARNESS = ROOT / "tests" / "c"
CFLAGS = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wconversion"]
CXXFLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
C_FILES = ("tinyecg_model_data.c", "tinyecg_preprocess_params.c", "tinyecg_golden.c")
TFLM_SET = {
    "tinyecg_model_data.h",
    "tinyecg_model_data.c",
    "tinyecg_model_meta.h",
    "tinyecg_op_resolver.h",
    "tinyecg_arena.h",
    "tinyecg_preprocess_params.h",
    "tinyecg_preprocess_params.c",
    "tinyecg_golden.h",
    "tinyecg_golden.c",
    "manifest.json",
}


def lib_includes() -> list:
    """-I flags of the static libraries the generated files use: tinyecg_dsp (the
    preprocessing) and tinyecg_core's include folder (tinyecg_spec.h)."""
    from tinyecg.device import detect

    return ["-I", detect.dsp_include(), "-I", detect.core_include()]


def lib_sources() -> list:
    from tinyecg.device import detect

    return detect.dsp_sources()


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"needs {tool} on PATH")
    return path


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)


def compile_c(out: Path, exe: Path, extra=()) -> None:
    cmd = [
        need("gcc"),
        *CFLAGS,
        *extra,
        "-I",
        out,
        *lib_includes(),
        "-o",
        exe,
        HARNESS / "export_golden_check.c",
        *(out / f for f in C_FILES),
        *lib_sources(),
    ]
    r = run(cmd)
    assert r.returncode == 0, r.stderr


def compile_resolver(out: Path, exe: Path) -> None:
    r = run(
        [
            need("g++"),
            *CXXFLAGS,
            "-I",
            out,
            *lib_includes(),
            "-I",
            HARNESS / "export_tflm",
            "-o",
            exe,
            HARNESS / "export_resolver_check.cpp",
        ]
    )
    assert r.returncode == 0, r.stderr


def parse_harness(stdout: str) -> dict:
    """The "key value..." lines of export_golden_check, golden beats grouped."""
    info: dict = {"golden": []}
    for line in stdout.splitlines():
        key, _, rest = line.partition(" ")
        vals = rest.split()
        if key == "golden":
            g, rec, sample, label, pred, base, gain, diff = vals
            info["golden"].append(
                {
                    "record": rec,
                    "sample": int(sample),
                    "label": int(label),
                    "predicted": int(pred),
                    "baseline": int(base),
                    "gain": int(gain),
                    "diff": int(diff),
                }
            )
        elif key in ("rr", "beat", "rhythm", "output"):
            info["golden"][-1][key] = np.array([int(v) for v in vals], dtype=np.int64)
        elif key == "input":
            info.setdefault("inputs", {})[vals[0]] = [int(v) for v in vals[1:]]
        else:
            info[key] = vals
    return info
