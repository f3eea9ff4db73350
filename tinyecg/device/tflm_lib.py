"""The TFLite Micro library the Arm boards pin, built off-board from the vendored copy.

The Arm boards of firmware/platformio.ini link tensorflow/tflite-micro-arduino-examples
("Arduino_TensorFlowLite") at the commit pinned there; PlatformIO fetches it on a user's
machine. The same tree is vendored beside the repository as
``../shared/vendor/tflite-micro-arduino-examples-<commit>.tar.gz``. This module compiles it as
PlatformIO does (every source file of the library's ``src/`` except the globs of
``firmware/scripts/tflm_arduino_skip.txt``, the list the PlatformIO pre-script reads; with the
``[arduino_tflm] build_flags`` of platformio.ini) plus what a build off a board needs
(``ARDUINO``, which the export's sources test), as a static library per target:

    host  g++ (x86-64); CMSIS-NN's portable C code
    m4    arm-none-eabi-g++ -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16: CMSIS-NN's
          DSP (SMLAD) code; runs under QEMU mps2-an386
    m0    arm-none-eabi-g++ -mcpu=cortex-m0plus: CMSIS-NN's portable C code; runs under QEMU
          mps2-an385 (v6-M code on the Cortex-M3 image, same memory map)

    vendored = vendored_library()              # find_archive() first where it may be absent
    lib = build_library("m4", vendored)        # the whole library, as PlatformIO compiles it
    lib0 = build_library("m0", vendored, sources=read_linked_sources())  # what a program links

Finding, verifying and unpacking the archive, and the list of its sources, are
tinyecg.device.tflm_vendor's. The firmware with TFLM
(tinyecg.device.firmware.build_firmware(runtime="tflm")) and the TFLM
self-test programs (tinyecg.device.tflm_selftest) link these libraries.

Compiling all of it takes minutes per target (about 200 C++ files behind TFLM's flatbuffer
headers). ``sources`` builds a subset: firmware/scripts/tflm_linked_sources.txt lists the
files whose objects the firmware's link pulls out of the whole library (``linked_sources()``
of the Cortex-M4 link map, for the default model's ops; a test keeps the list equal to it).

Cache: the archive is unpacked once (temporary folder + rename) into
``<cache>/<sha256[:16]>/``, and each target's library is compiled once into
``<cache>/<sha256[:16]>/lib-<target>-<key>/libtflm.a``, where key hashes the compiler
version, the flags and every compiled source file's path and content. <cache> is
$TINYECG_TFLM_CACHE, else $TINYECG_CACHE/tflm, else ~/.cache/tinyecg/tflm; never the
repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tinyecg.device import qemu
from tinyecg.device.cbuild import ARM_CPU_FLAGS
from tinyecg.device.platformio_ini import pinned_commit, platformio_defines  # noqa: F401
from tinyecg.device.tflm_vendor import (  # noqa: F401 (callers find them here too)
    ARCHIVE_ENV,
    ASM_EXTS,
    C_EXTS,
    CACHE_ENV,
    CXX_EXTS,
    VendoredLibrary,
    cache_root,
    find_archive,
    firmware_dir,
    is_skipped,
    library_sources,
    linked_sources_path,
    read_skip_list,
    skip_list_path,
    unpack,
    vendored_library,
)
from tinyecg.errors import TinyECGError

TARGETS = ("host", "m4", "m0")
DEFAULT_JOBS = 2

#: What a build off the Arduino cores needs on top of platformio.ini's flags. The export's
#: sources test only defined(ARDUINO) (kernel_util.cpp does not compile without it; several
#: headers change with it, so the firmware's own files get it too); the value is what the
#: Arduino IDE 1.8.19 defines. ARDUINO_EXCLUDE_CODE keeps system_setup.cpp's board code out
#: should that file ever leave the skip list.
OFFBOARD_DEFINES = ("ARDUINO=10819", "ARDUINO_EXCLUDE_CODE")

#: Per-target compilers and CPU flags.
CPU_FLAGS = {"host": [], **ARM_CPU_FLAGS}
#: C++ as the boards build it: TFLM of 2023 is C++11 code, no exceptions, no RTTI; no
#: thread-safe statics (no __cxa_guard_* on bare metal).
CXX_FLAGS = ["-std=gnu++14", "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics"]
C_FLAGS = ["-std=gnu11"]

# --------------------------------------------------------------------------- compiling


def _tools(target: str) -> tuple[str, str, str]:
    if target not in TARGETS:
        raise TinyECGError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if target == "host":
        return "gcc", "g++", "ar"
    return "arm-none-eabi-gcc", "arm-none-eabi-g++", "arm-none-eabi-ar"


def missing_tools(target: str) -> list[str]:
    """Programs a target's build and run need that are not on PATH."""
    needed = list(_tools(target))
    if target != "host":
        needed += [qemu.QEMU, qemu.CROSS + "size"]
    return [name for name in needed if shutil.which(name) is None]


def _compiler_identity(compiler: str) -> str:
    try:
        proc = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TinyECGError(f"{compiler}: cannot run ({exc})") from None
    return proc.stdout.splitlines()[0].strip() if proc.stdout else compiler


def library_defines(ini: Path | str | None = None) -> list[str]:
    """Definitions every build of the library and of the firmware's TFLM path gets:
    platformio.ini's [arduino_tflm] build_flags plus OFFBOARD_DEFINES."""
    return platformio_defines("arduino_tflm", ini) + list(OFFBOARD_DEFINES)


@dataclass
class LibraryBuild:
    """One target's compiled library."""

    target: str
    archive_file: Path  # libtflm.a
    library: Path  # the unpacked library folder
    defines: list[str]
    opt: str
    key: str
    sources: int  # files compiled into it
    subset: bool  # only some of the library's files (build_library(sources=...))
    compile_seconds: float  # what compiling took when the cache entry was made
    cached: bool  # taken from the cache by this call

    @property
    def include_dir(self) -> Path:
        return self.library / "src"


def _compile_commands(
    target: str, library: Path, sources: Sequence[str], defines: Sequence[str], opt: str
) -> tuple[list[list[str]], dict]:
    cc, cxx, _ = _tools(target)
    common = (
        CPU_FLAGS[target]
        + [opt, "-ffunction-sections", "-fdata-sections", "-w"]
        + [f"-D{d}" for d in defines]
        + [f"-I{library / 'src'}"]
    )
    flags = {"c": [cc, *C_FLAGS, *common], "cxx": [cxx, *CXX_FLAGS, *common], "asm": [cc, *common]}
    commands = []
    for rel in sources:
        kind = "c" if rel.endswith(C_EXTS) else "cxx" if rel.endswith(CXX_EXTS) else "asm"
        commands.append(flags[kind] + ["-c", str(library / rel)])
    return commands, flags


def _run_compiles(jobs_list: list[tuple[list[str], Path]], jobs: int, what: str, stop=None) -> None:
    """Run compiler commands (each gets -o <object>) on `jobs` workers; raise with the first
    failure's first error lines. stop: a threading.Event; once set, no further file starts
    and the build ends with TinyECGError (a background build abandoned at exit)."""

    def one(item):
        command, obj = item
        if stop is not None and stop.is_set():
            return command, None
        obj.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(command + ["-o", str(obj)], capture_output=True, text=True)
        return command, proc

    failures = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for command, proc in pool.map(one, jobs_list):
            if proc is not None and proc.returncode != 0:
                failures.append((command, proc))
    if stop is not None and stop.is_set():
        raise TinyECGError(f"{what}: stopped")
    if failures:
        command, proc = failures[0]
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln] or lines
        source = next((a for a in command if a.endswith(C_EXTS + CXX_EXTS + ASM_EXTS)), "?")
        raise TinyECGError(
            f"{what}: {len(failures)} file(s) failed to compile; first {source}: "
            + " | ".join(errors[:3])
        )


def build_library(
    target: str,
    vendored: VendoredLibrary | None = None,
    *,
    cache: Path | str | None = None,
    jobs: int = DEFAULT_JOBS,
    opt: str = "-Os",
    sources: Sequence[str] | None = None,
    stop=None,
) -> LibraryBuild:
    """The vendored library compiled for `target` ("host", "m4", "m0") into a static
    library, from the cache when an entry with the same key exists. sources: compile only
    these files of library_sources() (e.g. read_linked_sources()), else all of them. The key
    hashes the compiler's version line, every flag and every compiled file's path and
    content. stop: a threading.Event that ends the build early (see _run_compiles)."""
    vendored = vendored or vendored_library()
    missing = [t for t in _tools(target) if shutil.which(t) is None]
    if missing:
        raise TinyECGError(f"{', '.join(missing)} not found (TFLM {target} build)")
    library = unpack(vendored, cache)
    every = library_sources(library)
    if sources is None:
        sources = every
    else:
        unknown = sorted(set(sources) - set(every))
        if unknown:
            raise TinyECGError(
                f"not sources PlatformIO compiles for this library: "
                f"{', '.join(unknown[:3])}" + (" ..." if len(unknown) > 3 else "")
            )
        sources = sorted(set(sources))
    subset = len(sources) < len(every)
    defines = library_defines()
    commands, flags = _compile_commands(target, library, sources, defines, opt)
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "target": target,
                "flags": flags,
                "compiler": [
                    _compiler_identity(flags["c"][0]),
                    _compiler_identity(flags["cxx"][0]),
                ],
            },
            sort_keys=True,
        ).encode()
    )
    for rel in sources:
        digest.update(rel.encode() + b"\0" + (library / rel).read_bytes() + b"\0")
    key = digest.hexdigest()[:16]
    home = library.parent
    final = home / f"lib-{target}-{key}"
    result = LibraryBuild(
        target=target,
        archive_file=final / "libtflm.a",
        library=library,
        defines=defines,
        opt=opt,
        key=key,
        sources=len(sources),
        subset=subset,
        compile_seconds=0.0,
        cached=True,
    )
    if (final / "build.json").is_file() and result.archive_file.is_file():
        result.compile_seconds = float(
            json.loads((final / "build.json").read_text()).get("compile_seconds", 0.0)
        )
        return result

    tmp = Path(tempfile.mkdtemp(prefix=f"tmp-lib-{target}-", dir=home))
    try:
        start = time.monotonic()
        objdir = tmp / "obj"
        items = [(command, objdir / object_name(rel)) for command, rel in zip(commands, sources)]
        _run_compiles(items, jobs, f"TFLM library ({target})", stop)
        ar = _tools(target)[2]
        proc = subprocess.run(
            [ar, "rcs", str(tmp / "libtflm.a")] + [str(o) for _, o in items],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise TinyECGError(f"{ar} failed: {proc.stderr.strip()[:300]}")
        shutil.rmtree(objdir)
        seconds = time.monotonic() - start
        (tmp / "build.json").write_text(
            json.dumps(
                {
                    "target": target,
                    "key": key,
                    "archive": vendored.archive.name,
                    "archive_sha256": vendored.sha256,
                    "commit": vendored.commit,
                    "sources": sources,
                    "subset": subset,
                    "flags": flags,
                    "compile_seconds": round(seconds, 2),
                    "jobs": jobs,
                },
                indent=1,
            )
        )
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "build.json").is_file():  # not another build winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.compile_seconds = seconds
    result.cached = False
    return result


# --------------------------------------------------------------------------- what a program links


def object_name(relative: str) -> str:
    """The archive member a library source compiles to ('src/a/b.cpp' -> 'src__a__b.cpp.o')."""
    return relative.replace("/", "__") + ".o"


_MEMBER = re.compile(r"^\S*libtflm\.a\((?P<member>[^)]+)\)")


def linked_sources(map_file: Path | str, library: Path) -> list[str]:
    """The library sources whose objects a link pulled out of libtflm.a, from the linker map
    (its "Archive member included to satisfy reference" section), as paths relative to the
    library's folder, sorted."""
    by_member = {object_name(rel): rel for rel in library_sources(library)}
    text = Path(map_file).read_text(errors="replace")
    start = text.find("Archive member included")
    if start < 0:
        raise TinyECGError(f"{map_file}: no archive members in this linker map")
    body = text[text.index("\n", start) :].lstrip("\n")  # the heading, then a blank line
    end = body.find("\n\n")
    found = set()
    for line in body[: end if end >= 0 else None].splitlines():
        m = _MEMBER.match(line.strip())
        if m:
            member = m["member"]
            if member not in by_member:
                raise TinyECGError(f"{map_file}: {member} is no source of {library}")
            found.add(by_member[member])
    return sorted(found)


def read_linked_sources(path: Path | str | None = None) -> list[str]:
    """The committed list of the library files the firmware links (one per line, '#'
    comments): what the host and Cortex-M0+ builds of the tests compile."""
    path = Path(path) if path is not None else linked_sources_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TinyECGError(f"{path}: cannot read ({exc})") from None
    found = [ln.split("#", 1)[0].strip() for ln in lines]
    return [ln for ln in found if ln]
