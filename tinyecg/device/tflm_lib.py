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

The firmware with TFLM (tinyecg.device.firmware.build_firmware(runtime="tflm")) and the TFLM
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

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tinyecg import paths
from tinyecg.device import qemu
from tinyecg.device.cbuild import ARM_CPU_FLAGS
from tinyecg.device.platformio_ini import pinned_commit, platformio_defines  # noqa: F401
from tinyecg.errors import TinyECGError

ARCHIVE_ENV = "TINYECG_TFLM_ARCHIVE"
CACHE_ENV = "TINYECG_TFLM_CACHE"
ARCHIVE_GLOB = "tflite-micro-arduino-examples-*.tar.gz"
TARGETS = ("host", "m4", "m0")
DEFAULT_JOBS = 2

#: Source extensions PlatformIO compiles (piobuild.SRC_BUILD_EXT); its ArduinoLibBuilder
#: leaves out .asm/.ASM, as the Arduino IDE does.
C_EXTS = (".c",)
CXX_EXTS = (".cc", ".cpp", ".cxx", ".c++")
ASM_EXTS = (".S", ".spp", ".SPP", ".sx", ".s")
#: Folders of a library's src/ that PlatformIO never builds (LibBuilderBase.src_filter).
EXCLUDED_TOP_DIRS = ("example", "examples", "test", "tests", ".git", ".svn")

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

_COMMIT_IN_NAME = re.compile(r"tflite-micro-arduino-examples-([0-9a-f]{7,40})\.tar\.gz$")
_HEX40 = re.compile(r"\b[0-9a-f]{40}\b")


# --------------------------------------------------------------------------- where things are


def repo_root() -> Path:
    """The folder holding the tinyecg package: a source checkout's top level, beside which
    ../shared/vendor is looked for."""
    return paths.PACKAGE_DIR.parent


def firmware_dir() -> Path:
    """The PlatformIO firmware project (platformio.ini, src/, scripts/, targets/)."""
    path = paths.firmware_dir()
    if not (path / "platformio.ini").is_file():
        raise TinyECGError(f"{path}: no platformio.ini (run from a source checkout)")
    return path


def skip_list_path() -> Path:
    """firmware/scripts/tflm_arduino_skip.txt: the library files no build compiles."""
    return firmware_dir() / "scripts" / "tflm_arduino_skip.txt"


def linked_sources_path() -> Path:
    """firmware/scripts/tflm_linked_sources.txt: the library files the firmware links."""
    return firmware_dir() / "scripts" / "tflm_linked_sources.txt"


def cache_root() -> Path:
    """$TINYECG_TFLM_CACHE, else $TINYECG_CACHE/tflm, else ~/.cache/tinyecg/tflm."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("TINYECG_CACHE") or Path.home() / ".cache" / "tinyecg"
    return Path(base) / "tflm"


# --------------------------------------------------------------------------- the skip list


def read_skip_list(path: Path | str | None = None) -> list[str]:
    """The globs of the skip list, relative to the library's folder (the one holding
    library.properties); '#' starts a comment. scripts/tflm_arduino_filter.py parses the
    file the same way."""
    path = Path(path) if path is not None else skip_list_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TinyECGError(f"{path}: cannot read the TFLM skip list ({exc})") from None
    patterns = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    patterns = [p for p in patterns if p]
    if not patterns:
        raise TinyECGError(f"{path}: lists no file")
    return patterns


def is_skipped(relative: str, patterns: Sequence[str]) -> bool:
    """True when a path relative to the library's folder ('src/...') matches a glob of the
    skip list. fnmatch's '*' also matches '/', as in PlatformIO's middleware patterns."""
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns)


# --------------------------------------------------------------------------- the archive


@dataclass(frozen=True)
class VendoredLibrary:
    """The vendored tarball and what is known of it."""

    archive: Path
    sha256: str
    short_commit: str  # from the file name, e.g. "bd7e861"
    commit: str  # the full hash from the README beside it, else short_commit
    date: str | None  # the commit's date from that README (YYYY-MM-DD)
    verified: bool  # a SHA256SUMS beside it listed the archive (and matched)

    @property
    def key(self) -> str:
        return self.sha256[:16]


def find_archive(path: Path | str | None = None) -> Path | None:
    """The vendored tarball: `path`, else $TINYECG_TFLM_ARCHIVE, else the one in
    ../shared/vendor beside the repository; None when there is none. A path given
    explicitly (argument or environment) that does not exist is an error."""
    explicit = path if path is not None else os.environ.get(ARCHIVE_ENV) or None
    if explicit is not None:
        candidate = Path(explicit)
        if not candidate.is_file():
            raise TinyECGError(
                f"{candidate}: no such TFLM archive"
                + (f" (${ARCHIVE_ENV})" if path is None else "")
            )
        return candidate
    found = sorted((repo_root().parent / "shared" / "vendor").glob(ARCHIVE_GLOB))
    if len(found) > 1:
        raise TinyECGError(
            "several TFLM archives in ../shared/vendor: "
            + ", ".join(p.name for p in found)
            + f"; choose one with ${ARCHIVE_ENV}"
        )
    return found[0] if found else None


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def vendored_library(archive: Path | str | None = None) -> VendoredLibrary:
    """Find and verify the archive: its SHA-256 against the SHA256SUMS beside it (if any),
    its commit from its name, and the full hash and date from the README beside it."""
    path = find_archive(archive)
    if path is None:
        raise TinyECGError(
            "no vendored TFLM library: put tflite-micro-arduino-examples-<commit>"
            f".tar.gz in ../shared/vendor or set ${ARCHIVE_ENV}"
        )
    match = _COMMIT_IN_NAME.search(path.name)
    if not match:
        raise TinyECGError(f"{path.name}: expected tflite-micro-arduino-examples-<commit>.tar.gz")
    short = match.group(1)
    sha = _sha256_file(path)
    verified = False
    sums = path.parent / "SHA256SUMS"
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == path.name:
                if parts[0].lower() != sha:
                    raise TinyECGError(f"{path}: SHA-256 {sha} differs from {sums} ({parts[0]})")
                verified = True
    commit, date = short, None
    readme = path.parent / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        for full in _HEX40.findall(text):
            if full.startswith(short):
                commit = full
                when = re.search(re.escape(full) + r"`?\s*\((\d{4}-\d{2}-\d{2})", text)
                date = when.group(1) if when else None
                break
    return VendoredLibrary(
        archive=path, sha256=sha, short_commit=short, commit=commit, date=date, verified=verified
    )


def unpack(vendored: VendoredLibrary, cache: Path | str | None = None) -> Path:
    """The library's folder (library.properties, src/) unpacked from the archive, once:
    into a temporary folder first, renamed into place when complete, so a build that was
    interrupted, or runs beside another, never sees half a tree."""
    base = Path(cache) if cache is not None else cache_root()
    home = base / vendored.key
    done = home / "library"
    if (done / "library.properties").is_file():
        return done
    home.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=home))
    try:
        with tarfile.open(vendored.archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                name = member.name
                if name.startswith("/") or ".." in Path(name).parts:
                    raise TinyECGError(f"{vendored.archive}: unsafe path {name!r} in the archive")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # Python < 3.11.4: the member check above stands in for the filter
                tar.extractall(tmp, members=members)
        tops = [p for p in tmp.iterdir() if p.is_dir()]
        if len(tops) != 1 or not (tops[0] / "library.properties").is_file():
            raise TinyECGError(
                f"{vendored.archive}: expected one folder holding library.properties and src/"
            )
        try:
            os.rename(tops[0], done)
        except OSError:
            if not (done / "library.properties").is_file():  # not a concurrent unpack: real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return done


# --------------------------------------------------------------------------- library sources


def library_sources(library: Path, skip: Sequence[str] | None = None) -> list[str]:
    """Source files PlatformIO compiles for the library (paths relative to its folder,
    sorted): every C, C++ and assembler file under src/, except src/example(s)/,
    src/test(s)/ and whatever the skip list names."""
    library = Path(library)
    src = library / "src"
    if not src.is_dir():
        raise TinyECGError(f"{library}: no src/ folder")
    patterns = list(skip) if skip is not None else read_skip_list()
    exts = C_EXTS + CXX_EXTS + ASM_EXTS
    out = []
    for path in src.rglob("*"):
        if not path.is_file() or not path.name.endswith(exts):
            continue
        rel = path.relative_to(library).as_posix()
        top = path.relative_to(src).parts[0]
        if top in EXCLUDED_TOP_DIRS or is_skipped(rel, patterns):
            continue
        out.append(rel)
    return sorted(out)


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
