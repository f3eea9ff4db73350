"""Fixtures shared by every test module: where the data is, an isolated cache, and the
strict C flags every compiled test program is held to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import EXCERPT, build_models, full_mitdb


@pytest.fixture(scope="session")
def excerpt_dir() -> Path:
    return EXCERPT


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    path = full_mitdb()
    if path is None:
        pytest.skip("needs the full MIT-BIH database (../shared/data/mitdb or $TINYECG_FULL_DATA)")
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    """The export tests' student-cnn .tflite files by kind (helpers.build_models), built once
    per session; $TINYECG_EXPORT_TEST_MODELS keeps them across sessions while working on the
    exporter."""
    keep = os.environ.get("TINYECG_EXPORT_TEST_MODELS")
    return build_models(
        Path(keep) if keep else tmp_path_factory.getbasetemp() / "tinyecg_export_models"
    )


@pytest.fixture(scope="session")
def strict_c_flags() -> list[str]:
    """-std=c99 -Wall -Wextra -Werror -Wconversion -pedantic: the one flag list the package
    compiles its own host C with (tinyecg.device.cbuild.STRICT_C_FLAGS)."""
    from tinyecg.device.cbuild import STRICT_C_FLAGS

    return list(STRICT_C_FLAGS)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test session gets its own dataset cache; the user's is never touched."""
    monkeypatch.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("TINYECG_DATA", raising=False)


# --------------------------------------------------------------------------- TensorFlow Lite Micro
# The library the Arm boards pin, compiled from the vendored copy (tinyecg.device.tflm_lib) once
# per session for each target and shared by every test that needs it: the whole library for
# Cortex-M4F (as PlatformIO compiles it), only the files the firmware links
# (firmware/scripts/tflm_linked_sources.txt) for the host and Cortex-M0+. They live in
# tflm_lib.cache_root() ($TINYECG_TFLM_CACHE, else ~/.cache/tinyecg/tflm), keyed by compiler,
# flags and sources, so a later session reuses them; CI starts without them.
#
# A cold build takes minutes, so when the session selects a test that needs the library, a
# background thread starts compiling (one job, in the order m4, host, m0) as soon as the tests
# are collected: most of the suite runs on one core, and the library comes on the other.
# A test that needs a target waits for it (or builds it itself if the thread is not running).

TFLM_TARGETS = ("m4", "host", "m0")


def _tflm_sources(target: str):
    from tinyecg.device import tflm_lib

    return None if target == "m4" else tflm_lib.read_linked_sources()


class _TFLMLibraries:
    """target -> tflm_lib.LibraryBuild, built once per session (in the background if started)."""

    def __init__(self):
        import threading

        self.built: dict = {}
        self.failed: dict = {}
        self.waited: dict = {}  # target -> seconds a test waited for it
        self.done = {t: threading.Event() for t in TFLM_TARGETS}
        self.stop = threading.Event()
        self.thread = None
        self.vendored = None

    def _vendored(self):
        from tinyecg.device import tflm_lib

        if self.vendored is None:
            archive = tflm_lib.find_archive()
            self.vendored = tflm_lib.vendored_library(archive) if archive else False
        return self.vendored

    def _build(self, target: str, jobs: int) -> None:
        from tinyecg.device import tflm_lib

        try:
            self.built[target] = tflm_lib.build_library(
                target, self._vendored(), jobs=jobs, sources=_tflm_sources(target), stop=self.stop
            )
        except Exception as exc:  # reported to the test that asks for this target
            self.failed[target] = exc
        finally:
            self.done[target].set()

    def start_background(self) -> None:
        import threading

        from tinyecg.device import tflm_lib

        try:
            if not self._vendored():
                return
        except Exception:
            return
        targets = [t for t in TFLM_TARGETS if not tflm_lib.missing_tools(t)]

        def run():
            for target in targets:
                if self.stop.is_set():
                    break
                self._build(target, jobs=1)

        self.thread = threading.Thread(target=run, name="tflm-libraries", daemon=True)
        self.thread.start()

    def get(self, target: str):
        import time

        from tinyecg.device import tflm_lib
        from tinyecg.errors import TinyECGError

        try:
            vendored = self._vendored()
        except TinyECGError as exc:
            pytest.skip(str(exc))
        if not vendored:
            pytest.skip(
                "no vendored TFLM library (../shared/vendor/tflite-micro-arduino-"
                f"examples-*.tar.gz or ${tflm_lib.ARCHIVE_ENV})"
            )
        missing = tflm_lib.missing_tools(target)
        if missing:
            pytest.skip(
                f"{', '.join(missing)} not found: needed for the TFLM {target} build "
                "(gcc-arm-none-eabi, libstdc++-arm-none-eabi-newlib, qemu-system-arm)"
            )
        if target not in self.built and target not in self.failed:
            start = time.monotonic()
            if self.thread is not None and self.thread.is_alive():
                self.done[target].wait()
            if target not in self.built and target not in self.failed:
                self._build(target, jobs=2)  # nothing in the background: both cores
            self.waited[target] = round(time.monotonic() - start, 1)
        if target in self.failed:
            raise self.failed[target]
        return self.built[target]


_TFLM = _TFLMLibraries()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(session, config, items):
    """Mark `slow` every test that needs the full MIT-BIH (the mitdb_dir fixture, directly or
    through another fixture), so `-m "not slow"` runs the rest; start the background TFLM
    build when a selected test needs the library."""
    for item in items:
        if "mitdb_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    if any("tflm_library" in getattr(item, "fixturenames", ()) for item in items):
        _TFLM.start_background()


def pytest_sessionfinish(session, exitstatus):
    _TFLM.stop.set()  # no new compile starts; the one running finishes on its own


@pytest.fixture(scope="session")
def tflm_library():
    """target ("host", "m4", "m0") -> tflm_lib.LibraryBuild of the vendored library, compiled
    once per session (see above); skips with the reason when the archive or a tool is
    missing. .timings: target -> seconds a test waited for it."""

    def get(target: str):
        return _TFLM.get(target)

    get.libraries = _TFLM
    return get
