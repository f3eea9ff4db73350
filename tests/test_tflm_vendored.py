"""The board firmware's TFLite Micro path against the exact library the Arm boards pin (issue 11).

tensorflow/tflite-micro-arduino-examples at the commit of firmware/platformio.ini is vendored as
../shared/vendor/tflite-micro-arduino-examples-<commit>.tar.gz (or $TINYECG_TFLM_ARCHIVE).
tinyecg.device.tflm_lib compiles it as PlatformIO does (same skip list, same build flags) for
the host (g++), Cortex-M4F (CMSIS-NN DSP path) and Cortex-M0+ (CMSIS-NN portable C), links
the firmware's TFLM adapter, its board-independent logic and an exported model folder, and
runs the golden self-test: natively, and under QEMU mps2-an386 / mps2-an385.

  - the shipped default model (per-tensor dense layers), as committed in
    firmware/lib/tinyecg_model and as `tinyecg export` writes it now: the self-test passes 8/8
    with maxdiff 0 on every target, and the targets agree value by value;
  - the same student with per-channel dense layers (the TF converter's default, re-quantized
    here from model.keras with the quantizer's representative set): this 2023-02-27 library
    computes FULLY_CONNECTED with channel 0's scale for every output channel, so the
    self-test must FAIL, beyond any tolerance.

Compiling the library takes minutes per target (about 150 C++ files behind TFLM's flatbuffer
headers); it is compiled once and kept in tflm_lib.cache_root() ($TINYECG_TFLM_CACHE, else
$TINYECG_CACHE/tflm, else ~/.cache/tinyecg/tflm), keyed by compiler, flags and every
source's content, so later sessions reuse it. Skips, with the reason: no archive, no
toolchain; the per-channel case also without TensorFlow or the full MIT-BIH database.
"""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinyecg import paths
from tinyecg.device import tflm_lib
from tinyecg.errors import TinyECGError

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"

#: Re-quantizes the shipped student (model.keras) as tinyecg's quantizer does (its
#: convert_int8 and representative set: the run's training split, 500 beats stratified by
#: class, seed 0) but with per-channel dense layers, the TF converter's default; writes
#: <out>/model.tflite with the default model's config.json beside it.
PER_CHANNEL_REQUANTIZE = r"""
import shutil, sys
from pathlib import Path
from tinyecg import paths
from tinyecg.data.dataset import dataset_from_config
from tinyecg.run import read_config
from tinyecg.stages.evaluate import load_keras
from tinyecg.stages.quantize import DEFAULTS, convert_int8, representative_inputs, stratified_indices

src, data_dir, out = paths.default_model_dir(), sys.argv[1], Path(sys.argv[2])
cfg = read_config(src)
cfg["data"]["dir"] = data_dir
student = load_keras(src / "model.keras")
ds, split = dataset_from_config(cfg)
train = ds.subset(split["train"])
pick = stratified_indices(train.beats.y, DEFAULTS["representative_size"], DEFAULTS["seed"])
rep = representative_inputs(student, train.x[pick], train.beats.rhythm[pick])
(out / "model.tflite").write_bytes(convert_int8(student, rep, per_channel_dense=True))
shutil.copy(src / "config.json", out / "config.json")
"""


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def vendored() -> tflm_lib.VendoredLibrary:
    try:
        archive = tflm_lib.find_archive()
    except TinyECGError as exc:
        pytest.skip(str(exc))
    if archive is None:
        pytest.skip("no vendored TFLM library (../shared/vendor/tflite-micro-arduino-examples-"
                    f"*.tar.gz or ${tflm_lib.ARCHIVE_ENV})")
    return tflm_lib.vendored_library(archive)


@pytest.fixture(scope="session")
def tflm_cache() -> Path:
    """Where the unpacked library and the compiled libraries live across sessions (resolved
    before any test's TINYECG_CACHE isolation applies)."""
    return tflm_lib.cache_root()


@pytest.fixture(scope="session")
def library_for(vendored, tflm_cache):
    """target -> its compiled library, built on first use (once per session, cached)."""
    built: dict[str, tflm_lib.LibraryBuild] = {}
    timings: dict[str, float] = {}

    def get(target: str) -> tflm_lib.LibraryBuild:
        missing = tflm_lib.missing_tools(target)
        if missing:
            pytest.skip(f"{', '.join(missing)} not found: needed for the TFLM {target} build "
                        "(gcc-arm-none-eabi, libstdc++-arm-none-eabi-newlib, qemu-system-arm)")
        if target not in built:
            start = time.monotonic()
            built[target] = tflm_lib.build_library(target, vendored, cache=tflm_cache)
            timings[target] = time.monotonic() - start
        return built[target]

    get.timings = timings
    return get


def _export(source: Path | None, out: Path) -> Path:
    cmd = [sys.executable, "-m", "tinyecg", "export", "--out", str(out), "--force", "-q"]
    cmd[4:4] = [str(source)] if source is not None else []
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"tinyecg export failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _per_channel_dense(model: Path) -> bool:
    from tinyecg.models.tflite import load_model

    m = load_model(model)
    return any(op.opcode == "FULLY_CONNECTED" and m.tensors[op.inputs[1]].per_channel
               for op in m.ops)


@pytest.fixture(scope="session")
def fresh_export(tmp_path_factory) -> Path:
    """`tinyecg export` of the shipped default model, now."""
    return _export(None, tmp_path_factory.mktemp("export-default"))


@pytest.fixture(scope="session")
def committed_export() -> Path:
    """The default model's export committed for PlatformIO (firmware/lib/tinyecg_model)."""
    return paths.firmware_dir() / "lib" / "tinyecg_model"


EXPORTS = ("fresh_export", "committed_export")


@pytest.fixture(scope="session")
def per_channel_export(mitdb_dir, tmp_path_factory) -> Path:
    """A fresh export of the default student re-quantized with per-channel dense layers."""
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("per-channel-model")
    env = dict(os.environ, TINYECG_CACHE=str(tmp_path_factory.mktemp("dataset-cache")),
               TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", PER_CHANNEL_REQUANTIZE, str(mitdb_dir), str(out)],
                          capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, f"re-quantization failed:\n{proc.stderr[-3000:]}"
    assert _per_channel_dense(out / "model.tflite")
    return _export(out / "model.tflite", tmp_path_factory.mktemp("export-per-channel"))


@pytest.fixture(scope="session")
def selftest_run(library_for, tmp_path_factory):
    """(target, export folder) -> SelftestResult, each program built and run once."""
    runs: dict[tuple[str, Path], tuple[tflm_lib.SelftestResult, Path]] = {}

    def run(target: str, export: Path) -> tuple[tflm_lib.SelftestResult, Path]:
        if (target, export) not in runs:
            lib = library_for(target)
            out = tmp_path_factory.mktemp(f"selftest-{target}-{export.name}")
            program = tflm_lib.build_selftest(target, export, out, lib)
            runs[target, export] = tflm_lib.run_selftest(program, target, timeout=300), program
        return runs[target, export]

    return run


# --------------------------------------------------------------------------- the pin and the file list

def test_platformio_pins_the_vendored_commit(vendored):
    pinned = tflm_lib.pinned_commit()
    if len(vendored.commit) == 40:
        assert pinned == vendored.commit, \
            f"platformio.ini pins {pinned}, the vendored library is {vendored.commit}"
    else:  # no README beside the archive: only the abbreviated hash of its name is known
        assert len(pinned) == 40 and pinned.startswith(vendored.short_commit)
    # the boot line and the project's comments name that commit and its date
    adapter = (FIRMWARE / "src" / "tflm_classifier.cpp").read_text()
    name = re.search(r'#define TINYECG_TFLM_NAME "(Arduino_TensorFlowLite@[^"]+)"', adapter)
    assert name and vendored.short_commit in name.group(1), name
    if vendored.date:
        assert vendored.date in name.group(1)
        assert vendored.date in (FIRMWARE / "platformio.ini").read_text()


def test_archive_is_verified_against_its_checksum(vendored):
    sums = vendored.archive.parent / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip(f"no SHA256SUMS beside {vendored.archive.name}")
    assert vendored.verified and vendored.sha256 in sums.read_text()


class _FakeSConsEnv:
    """The little of PlatformIO's SCons environment the filter script uses."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self.middlewares: list[str] = []

    def subst(self, text: str) -> str:
        return text.replace("$PROJECT_DIR", str(self.project_dir))

    def AddBuildMiddleware(self, callback, pattern=None):  # noqa: N802 (SCons' name)
        assert callback(object()) is None  # returning None drops the file from the build
        self.middlewares.append(pattern)

    def Exit(self, code):  # noqa: N802
        raise SystemExit(code)


def _filter_script_patterns(project_dir: Path) -> list[str]:
    env = _FakeSConsEnv(project_dir)
    script = FIRMWARE / "scripts" / "tflm_arduino_filter.py"
    exec(compile(script.read_text(), str(script), "exec"),  # noqa: S102 (our own script)
         {"Import": lambda name: None, "env": env, "__name__": "SCons"})
    return env.middlewares


def test_filter_script_and_build_module_read_one_skip_list(tmp_path):
    patterns = tflm_lib.read_skip_list()
    assert tflm_lib.skip_list_path() == FIRMWARE / "scripts" / "tflm_arduino_skip.txt"
    assert _filter_script_patterns(FIRMWARE) == ["*/" + p for p in patterns]
    for needed in ("src/peripherals/*", "src/tensorflow/lite/micro/system_setup.cpp",
                   "src/tensorflow/lite/micro/micro_time.cpp"):
        assert needed in patterns
    # the script reads the file rather than a copy of its own: change the file, and both change
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "tflm_arduino_skip.txt").write_text(
        "# test\nsrc/only_this/*  # trailing comment\n\n")
    assert _filter_script_patterns(tmp_path) == ["*/src/only_this/*"]
    assert tflm_lib.read_skip_list(tmp_path / "scripts" / "tflm_arduino_skip.txt") == \
        ["src/only_this/*"]


def test_library_sources_are_what_platformio_compiles(vendored, tflm_cache):
    library = tflm_lib.unpack(vendored, tflm_cache)
    sources = tflm_lib.library_sources(library)
    patterns = tflm_lib.read_skip_list()
    every = tflm_lib.library_sources(library, skip=[])
    skipped = sorted(set(every) - set(sources))
    assert skipped == sorted(p for p in every if tflm_lib.is_skipped(p, patterns))
    assert any(p.startswith("src/peripherals/") for p in skipped)
    assert "src/tensorflow/lite/micro/system_setup.cpp" in skipped
    assert "src/tensorflow/lite/micro/micro_interpreter.cpp" in sources
    assert "src/tensorflow/lite/micro/kernels/cmsis_nn/fully_connected.cpp" in sources
    assert not any("/peripherals/" in p or "/test_over_serial/" in p for p in sources)
    # the defines PlatformIO gives the Arm boards, plus ARDUINO for the off-board build
    defines = tflm_lib.library_defines()
    for want in ("TF_LITE_STATIC_MEMORY", "TINYECG_TFLM_DIST=TINYECG_TFLM_ARDUINO_EXAMPLES",
                 "ARDUINO=10819"):
        assert want in defines


# --------------------------------------------------------------------------- the golden self-test

TARGETS = ("host", "m4", "m0")


def test_shipped_default_model_has_per_tensor_dense_layers(committed_export):
    """What the boards run must be what this library computes exactly."""
    assert not _per_channel_dense(paths.default_model_dir() / "model.tflite")
    header = (committed_export / "tinyecg_model_data.h").read_text()
    shipped = hashlib.sha256((paths.default_model_dir() / "model.tflite").read_bytes()).hexdigest()
    assert shipped in header, "firmware/lib/tinyecg_model is not the shipped model's export"


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("target", TARGETS)
def test_selftest_passes_with_the_default_model(target, export, selftest_run, vendored, request):
    res, _ = selftest_run(target, request.getfixturevalue(export))
    assert not res.timed_out, res.stdout[-2000:]
    assert res.passed, f"{target}: exit {res.returncode}\n{res.stdout}\n{res.stderr[-2000:]}"
    assert res.library and f"@{vendored.short_commit}" in res.library
    assert res.selftest_ok == res.selftest_count >= 8
    assert res.max_diff == 0, f"{target}: maxdiff {res.max_diff} (the goldens must be exact)"
    assert sorted(res.outputs) == list(range(res.selftest_count)) and not res.classify_errors
    assert 0 < res.arena_used <= res.arena_bytes
    if target != "host":
        assert len(res.instructions) == res.selftest_count
        assert res.stack_peak and res.stack_peak > 0


def test_host_m4_m0_agree_on_every_golden(selftest_run, fresh_export):
    outputs = {}
    for target in TARGETS:
        if tflm_lib.missing_tools(target):
            continue
        outputs[target] = selftest_run(target, fresh_export)[0].outputs
    if len(outputs) < 2:
        pytest.skip("fewer than two targets have a toolchain here")
    first = next(iter(outputs.values()))
    for target, got in outputs.items():
        assert got == first, f"{target} differs: {got} vs {first}"


@pytest.mark.parametrize("target", TARGETS)
def test_selftest_fails_with_per_channel_dense_layers(target, selftest_run, per_channel_export):
    """The regression of issue 11: this library applies channel 0's scale to every output
    channel of a per-channel FULLY_CONNECTED. The self-test must catch it, beyond any
    tolerance, and the strict firmware must disable the classifier."""
    res, _ = selftest_run(target, per_channel_export)
    assert not res.timed_out, res.stdout[-2000:]
    assert res.library is not None, f"{target}: the interpreter did not start\n{res.stdout}"
    assert res.returncode == 1 and not res.selftest_passed, res.stdout
    assert res.tolerance is not None and res.max_diff > max(res.tolerance, 1), res.stdout
    assert res.mismatches, "the self-test printed no got/want line"
    assert "classifier=disabled" in res.stdout  # TINYECG_SELFTEST_STRICT
    for got, want in res.mismatches.values():
        assert got != want


def test_m4_figures(selftest_run, fresh_export, library_for):
    """Cost and size of the Cortex-M4F build, printed for the record (pytest -s)."""
    res, elf = selftest_run("m4", fresh_export)
    assert res.passed
    from tinyecg.device import qemu

    size = qemu.size(elf)
    per_inference = sorted(res.instructions.values())
    line = (f"m4: instructions/inference median {per_inference[len(per_inference) // 2]} "
            f"(min {per_inference[0]}, max {per_inference[-1]}); arena {res.arena_used}/"
            f"{res.arena_bytes}; stack peak {res.stack_peak}; text {size['text']} data "
            f"{size['data']} bss {size['bss']}; library compile {library_for.timings}")
    print(line)
    assert size["text"] < 512 * 1024
