"""Compile C for the host: the one place that knows the project's strict C flags.

Every host program the package builds (the firmware core's harness, the event driver of
the device path) and every test that compiles C use STRICT_C_FLAGS, so a warning that one
of them would reject fails all of them.

    exe = compile_c([*core_sources(), main], build / "prog", includes=[core_include()],
                    what="host harness")
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from tinyecg.errors import TinyECGError

# The warnings the firmware's C is held to (C99, as the boards' toolchains compile it):
# every warning is an error, implicit narrowing conversions included.
STRICT_C_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-pedantic")
HOST_OPT = "-O2"  # the host builds' optimisation level
# The Arm cores the firmware is measured on (QEMU mps2-an386 / an385 run the same code):
# Cortex-M4F with the hard-float ABI (nRF52840, STM32L4) and Cortex-M0+ (RP2040).
ARM_CPU_FLAGS = {
    "m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "m0": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"],
}
ARM_CC = "arm-none-eabi-gcc"
_DEF_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+\-]*)?$")


def compiler(cc: str | None = None) -> str:
    """The host C compiler: cc, else $CC, else "cc"; when that is not on PATH the first of
    gcc, cc, clang that is."""
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        for alt in ("gcc", "cc", "clang"):
            if shutil.which(alt):
                return alt
        raise TinyECGError(f"no C compiler found (tried {cc}, gcc, cc, clang)")
    return cc


def define_items(defs: Mapping[str, object] | Iterable[str] | None) -> list[str]:
    """C defines as NAME or NAME=VALUE strings, from a mapping (value None: NAME alone) or a
    list; a name that is not an identifier or a value that is not plain (letters, digits,
    _ . + -) raises TinyECGError, so a define can go through make and a shell unquoted."""
    if defs is None:
        return []
    if isinstance(defs, str):
        raise TinyECGError(
            "defs must be a mapping or a list of NAME[=VALUE] strings, not one string"
        )
    if isinstance(defs, Mapping):
        items = [name if value is None else f"{name}={value}" for name, value in defs.items()]
    else:
        items = [str(item) for item in defs]
    for item in items:
        if not _DEF_RE.match(item):
            raise TinyECGError(
                f"define {item!r}: use NAME or NAME=VALUE with a plain value "
                "(letters, digits, _ . + -)"
            )
    return items


def compile_c(
    sources: Iterable[Path | str],
    out: Path | str,
    includes: Iterable[Path | str] = (),
    defines: Mapping[str, object] | Iterable[str] | None = None,
    extra_flags: Iterable[str] = (),
    *,
    cc: str | None = None,
    what: str = "C program",
) -> Path:
    """Compile and link sources into the executable `out` with STRICT_C_FLAGS and -O2
    (extra_flags come after, so they may override the level). A compiler error raises
    TinyECGError "<what> does not compile: <the compiler's first error line>"."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        compiler(cc),
        *STRICT_C_FLAGS,
        HOST_OPT,
        *extra_flags,
        *(f"-D{item}" for item in define_items(defines)),
        *(f"-I{inc}" for inc in includes),
        *map(str, sources),
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        first = next((line for line in lines if "error" in line), lines[0] if lines else "")
        raise TinyECGError(
            f"{what} does not compile: {first.strip()}" if first else f"{what} does not compile"
        )
    return out


def arm_object_size(
    src: Path | str,
    obj: Path | str,
    arch: str,
    opt: str = "-Os",
    includes: Iterable[Path | str] = (),
    defines: Mapping[str, object] | Iterable[str] | None = None,
    *,
    strict: bool = True,
) -> dict[str, int]:
    """Compile one C file for an Arm core as the firmware is compiled (sections for
    --gc-sections; STRICT_C_FLAGS unless strict=False, for an older tree measured as it
    was) and return its arm-none-eabi-size: {'text', 'data', 'bss'} bytes."""
    from tinyecg.device.elfsize import size

    if arch not in ARM_CPU_FLAGS:
        raise TinyECGError(f"arch must be one of {sorted(ARM_CPU_FLAGS)}, not {arch!r}")
    obj = Path(obj)
    obj.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        ARM_CC,
        *ARM_CPU_FLAGS[arch],
        *(STRICT_C_FLAGS if strict else ("-std=c99",)),
        opt,
        "-ffunction-sections",
        "-fdata-sections",
        *(f"-D{item}" for item in define_items(defines)),
        *(f"-I{inc}" for inc in includes),
        "-c",
        str(src),
        "-o",
        str(obj),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise TinyECGError(f"{src}: does not compile for {arch}: {lines[0] if lines else ''}")
    return size(obj)
