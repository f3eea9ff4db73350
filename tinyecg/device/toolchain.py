"""The Arm bare-metal toolchain and QEMU: which programs the QEMU builds need, whether they
are installed, and their versions (recorded beside every benchmark made with them)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

from tinyecg.errors import TinyECGError

CROSS = "arm-none-eabi-"
QEMU = "qemu-system-arm"


def missing_tools() -> list[str]:
    """Names of the programs qemu.build()/run() need that are not on PATH."""
    needed = [CROSS + "gcc", CROSS + "size", CROSS + "objdump", "make", QEMU]
    return [name for name in needed if shutil.which(name) is None]


def toolchain_available() -> bool:
    """True when arm-none-eabi-gcc (+ size, objdump), make and qemu-system-arm are on PATH."""
    return not missing_tools()


def require_tools(names: Iterable[str]) -> None:
    """TinyECGError naming the Debian packages when any of the programs is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise TinyECGError(
            f"{', '.join(missing)} not found; install gcc-arm-none-eabi, "
            "libnewlib-arm-none-eabi and qemu-system-arm"
        )


def toolchain_versions() -> dict[str, str]:
    """First line of `arm-none-eabi-gcc --version` and `qemu-system-arm --version` ("?" when
    missing or silent), for benchmark records: {"gcc": ..., "qemu": ...}."""
    out = {}
    for key, cmd in (("gcc", CROSS + "gcc"), ("qemu", QEMU)):
        try:
            proc = subprocess.run([cmd, "--version"], capture_output=True, text=True, timeout=10)
            out[key] = proc.stdout.splitlines()[0].strip()
        except (OSError, IndexError, subprocess.TimeoutExpired):
            out[key] = "?"
    return out
