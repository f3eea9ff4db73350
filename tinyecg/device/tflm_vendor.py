"""The vendored TFLite Micro export: where its archive is, what it holds, and which of its
files PlatformIO would compile.

The archive ``tflite-micro-arduino-examples-<commit>.tar.gz`` sits beside the repository in
``../shared/vendor`` (or $TINYECG_TFLM_ARCHIVE); it is verified against the SHA256SUMS and
README beside it and unpacked once into the cache (tinyecg.device.tflm_lib compiles it).
The sources a build takes are those of the library's ``src/`` less the globs of
``firmware/scripts/tflm_arduino_skip.txt``, the list PlatformIO's pre-script reads.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tinyecg import paths
from tinyecg.errors import TinyECGError

ARCHIVE_ENV = "TINYECG_TFLM_ARCHIVE"
CACHE_ENV = "TINYECG_TFLM_CACHE"
ARCHIVE_GLOB = "tflite-micro-arduino-examples-*.tar.gz"

#: Source extensions PlatformIO compiles (piobuild.SRC_BUILD_EXT); its ArduinoLibBuilder
#: leaves out .asm/.ASM, as the Arduino IDE does.
C_EXTS = (".c",)
CXX_EXTS = (".cc", ".cpp", ".cxx", ".c++")
ASM_EXTS = (".S", ".spp", ".SPP", ".sx", ".s")
#: Folders of a library's src/ that PlatformIO never builds (LibBuilderBase.src_filter).
EXCLUDED_TOP_DIRS = ("example", "examples", "test", "tests", ".git", ".svn")


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
