"""The board firmware's TFLite Micro path against the exact library the Arm boards pin (issue 11).

tensorflow/tflite-micro-arduino-examples at the commit of firmware/platformio.ini is vendored as
../shared/vendor/tflite-micro-arduino-examples-<commit>.tar.gz (or $TINYECG_TFLM_ARCHIVE).
tinyecg.device.tflm_lib compiles it as PlatformIO does (same skip list, same build flags) for
Cortex-M4F (CMSIS-NN DSP path, the whole library) and, only the files the firmware links, for
the host (g++) and Cortex-M0+ (CMSIS-NN portable C): the session fixture tflm_library of
conftest.py. tinyecg.device.tflm_selftest links the firmware application (its boot, with the
TFLM adapter) and an exported model folder with them and runs the golden self-test: natively,
and under QEMU mps2-an386 / mps2-an385. tinyecg.device.firmware builds the whole firmware with
TFLM for QEMU (UART board and measurement build), which must classify a stream as the host
pipeline does, beat by beat.

  - the shipped default model (per-tensor dense layers), as committed in
    firmware/lib/tinyecg_model and as `tinyecg export` writes it now: the self-test passes 8/8
    with maxdiff 0 on every target, and the targets agree value by value;
  - the same student with per-channel dense layers (the TF converter's default, re-quantized
    here from model.keras with the quantizer's representative set): this 2023-02-27 library
    computes FULLY_CONNECTED with channel 0's scale for every output channel, so the adapter
    refuses the model at start (one "# tflm error" line, classifier disabled), and with that
    check compiled out the self-test must FAIL, beyond any tolerance.

Skips, with the reason: no archive, no toolchain; the per-channel case also without
TensorFlow or the full MIT-BIH database.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import host_lines

from tinyecg import paths
from tinyecg.device import tflm_lib, tflm_selftest
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
from tinyecg.stages.quantize import (DEFAULTS, convert_int8, representative_inputs,
                                    stratified_indices)

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
        pytest.skip(
            "no vendored TFLM library (../shared/vendor/tflite-micro-arduino-examples-"
            f"*.tar.gz or ${tflm_lib.ARCHIVE_ENV})"
        )
    return tflm_lib.vendored_library(archive)


@pytest.fixture(scope="session")
def tflm_cache() -> Path:
    """Where the unpacked library and the compiled libraries live across sessions."""
    return tflm_lib.cache_root()


def _export(source: Path | None, out: Path) -> Path:
    cmd = [sys.executable, "-m", "tinyecg", "export", "--out", str(out), "--force", "-q"]
    cmd[4:4] = [str(source)] if source is not None else []
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"tinyecg export failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def _per_channel_dense(model: Path) -> bool:
    from tinyecg.models.tflite import load_model

    m = load_model(model)
    return any(
        op.opcode == "FULLY_CONNECTED" and m.tensors[op.inputs[1]].per_channel for op in m.ops
    )


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
    env = dict(
        os.environ,
        TINYECG_CACHE=str(tmp_path_factory.mktemp("dataset-cache")),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    proc = subprocess.run(
        [sys.executable, "-c", PER_CHANNEL_REQUANTIZE, str(mitdb_dir), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, f"re-quantization failed:\n{proc.stderr[-3000:]}"
    assert _per_channel_dense(out / "model.tflite")
    return _export(out / "model.tflite", tmp_path_factory.mktemp("export-per-channel"))


@pytest.fixture(scope="session")
def selftest_run(tflm_library, tmp_path_factory):
    """(target, export folder[, extra defines][, rhythm export]) -> (SelftestResult,
    program), each program built and run once."""
    runs: dict = {}

    def run(target: str, export: Path, defines: tuple[str, ...] = (), rhythm: Path | None = None):
        key = (target, export, defines, rhythm)
        if key not in runs:
            lib = tflm_library(target)
            out = tmp_path_factory.mktemp(f"selftest-{target}-{export.name}")
            program = tflm_selftest.build_selftest(
                target, export, out, lib, extra_defines=defines, rhythm_dir=rhythm
            )
            runs[key] = tflm_selftest.run_selftest(program, target, timeout=300), program
        return runs[key]

    return run


# ------------------------------------------------------------------ the pin and the file list


def test_platformio_pins_the_vendored_commit(vendored):
    pinned = tflm_lib.pinned_commit()
    if len(vendored.commit) == 40:
        assert pinned == vendored.commit, (
            f"platformio.ini pins {pinned}, the vendored library is {vendored.commit}"
        )
    else:  # no README beside the archive: only the abbreviated hash of its name is known
        assert len(pinned) == 40 and pinned.startswith(vendored.short_commit)
    # the boot line and the project's comments name that commit and its date
    app = FIRMWARE / "lib" / "tinyecg_app"
    adapter = (app / "src" / "tinyecg_classifier_tflm.cpp").read_text()
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
    exec(
        compile(script.read_text(), str(script), "exec"),  # noqa: S102 (our own script)
        {"Import": lambda name: None, "env": env, "__name__": "SCons"},
    )
    return env.middlewares


def test_filter_script_and_build_module_read_one_skip_list(tmp_path):
    patterns = tflm_lib.read_skip_list()
    assert tflm_lib.skip_list_path() == FIRMWARE / "scripts" / "tflm_arduino_skip.txt"
    assert _filter_script_patterns(FIRMWARE) == ["*/" + p for p in patterns]
    for needed in (
        "src/peripherals/*",
        "src/tensorflow/lite/micro/system_setup.cpp",
        "src/tensorflow/lite/micro/micro_time.cpp",
    ):
        assert needed in patterns
    # the script reads the file rather than a copy of its own: change the file, and both change
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "tflm_arduino_skip.txt").write_text(
        "# test\nsrc/only_this/*  # trailing comment\n\n"
    )
    assert _filter_script_patterns(tmp_path) == ["*/src/only_this/*"]
    assert tflm_lib.read_skip_list(tmp_path / "scripts" / "tflm_arduino_skip.txt") == [
        "src/only_this/*"
    ]


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
    for want in (
        "TF_LITE_STATIC_MEMORY",
        "TINYECG_TFLM_DIST=TINYECG_TFLM_ARDUINO_EXAMPLES",
        "ARDUINO=10819",
    ):
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
def test_adapter_refuses_per_channel_dense_layers(target, selftest_run, per_channel_export):
    """The regression of issue 11: this library applies channel 0's scale to every output
    channel of a per-channel FULLY_CONNECTED. The adapter refuses such a model at start, as
    upstream TFLM later did (tflite-micro PR 2602): one "# tflm error" line, the classifier
    disabled (every golden a classify error), no self-test run on it."""
    res, _ = selftest_run(target, per_channel_export)
    assert not res.timed_out, res.stdout[-2000:]
    assert res.library is not None, f"{target}: the interpreter did not start\n{res.stdout}"
    assert (
        len(res.errors) == 1
        and "FULLY_CONNECTED operator" in res.errors[0]
        and "per-channel weights (" in res.errors[0]
    ), res.stdout
    assert res.returncode == 1 and not res.selftest_passed and res.selftest_count == 0
    assert "classifier=disabled" in res.stdout
    assert not res.outputs and len(res.classify_errors) >= 8


@pytest.mark.parametrize("target", TARGETS)
def test_selftest_fails_with_per_channel_dense_layers(target, selftest_run, per_channel_export):
    """The same model with the adapter's check compiled out: the golden self-test catches it
    too, beyond any tolerance, and the strict firmware disables the classifier."""
    res, _ = selftest_run(target, per_channel_export, ("TINYECG_TFLM_CHECK_PER_CHANNEL_FC=0",))
    assert not res.timed_out, res.stdout[-2000:]
    assert res.library is not None, f"{target}: the interpreter did not start\n{res.stdout}"
    assert not res.errors
    assert res.returncode == 1 and not res.selftest_passed, res.stdout
    assert res.tolerance == 0 and res.max_diff > 1, res.stdout
    assert res.mismatches, "the self-test printed no got/want line"
    assert "classifier=disabled" in res.stdout  # TINYECG_SELFTEST_STRICT
    for got, want in res.mismatches.values():
        assert got != want


@pytest.fixture(scope="session")
def rhythm_tflm_export(tmp_path_factory) -> Path:
    """`tinyecg export --task rhythm --runtime tflm` of the shipped rhythm model, now (what
    build_firmware(runtime="tflm") gives the rhythm task)."""
    from tinyecg.device import firmware_files

    if not (paths.rhythm_model_dir() / "model.tflite").is_file():
        pytest.skip("the shipped rhythm model is missing")
    return firmware_files.export_rhythm_tflm(tmp_path_factory.mktemp("export-rhythm-tflm"))


_RHYTHM_ROW = re.compile(
    r"^# rhythm-selftest \d+ record=\S+ end=\d+ output=(\w+) maxdiff=(-?\d+)", re.M
)


@pytest.mark.parametrize("target", TARGETS)
def test_rhythm_model_in_a_second_interpreter_passes_its_selftest(
    target, selftest_run, fresh_export, rhythm_tflm_export
):
    """Both models in TFLM at boot (host, Cortex-M4F, Cortex-M0+): the rhythm model in an
    interpreter and arena of its own passes the adapter's checks and its golden windows bit
    for bit (tolerance 0), beside the beat model's self-test."""
    res, _ = selftest_run(target, fresh_export, rhythm=rhythm_tflm_export)
    assert res.passed, f"{target}: exit {res.returncode}\n{res.stdout}\n{res.stderr[-2000:]}"
    assert res.max_diff == 0 and res.selftest_ok == res.selftest_count >= 8
    out = res.stdout
    sha = hashlib.sha256((paths.rhythm_model_dir() / "model.tflite").read_bytes()).hexdigest()
    start = re.findall(r"^# rhythm-classifier .*$", out, re.M)
    assert len(start) == 1 and start[0].startswith("# rhythm-classifier tflm arena="), out
    used, size = (int(v) for v in re.search(r"arena=(\d+)/(\d+)", start[0]).groups())
    assert 0 < used <= size and f"sha256={sha[:16]}" in start[0]
    rows = _RHYTHM_ROW.findall(out)
    assert len(rows) == 4 and all(r == ("ok", "0") for r in rows), out
    assert "# rhythm-selftest pass 4/4 tolerance=0 maxdiff=0" in out
    assert f"rhythm=tflm rhythm_sha256={sha[:16]}" in out


def test_rhythm_adapter_refuses_a_model_unlike_its_metadata(
    selftest_run, fresh_export, rhythm_tflm_export, tmp_path_factory
):
    """The rhythm interpreter's tensor check: metadata that says another input scale (1/32
    for the model's 1/16) is refused at start with one "# rhythm-classifier error" line; no
    rhythm self-test runs on it and the beat model is untouched."""
    import shutil

    bad = tmp_path_factory.mktemp("rhythm-tflm-bad") / "export"
    shutil.copytree(rhythm_tflm_export, bad)
    meta = bad / "tinyecg_rhythm_model_meta.h"
    text = meta.read_text()
    assert "#define TINYECG_RHYTHM_MODEL_INPUT_SCALE_EXP (-4)" in text
    meta.write_text(text.replace("INPUT_SCALE_EXP (-4)", "INPUT_SCALE_EXP (-5)"))
    res, _ = selftest_run("host", fresh_export, rhythm=bad)
    assert res.passed and res.max_diff == 0, res.stdout  # the beat model's self-test
    errors = re.findall(r"^# rhythm-classifier error: .*$", res.stdout, re.M)
    assert errors == [
        "# rhythm-classifier error: the model's input is not int8[720] with the scale and zero "
        "point of tinyecg_rhythm_model_meta.h (re-export?)"
    ], res.stdout
    assert "# rhythm-selftest" not in res.stdout


def test_m4_figures(selftest_run, fresh_export, tflm_library):
    """Cost and size of the Cortex-M4F self-test program, printed for the record (pytest -s)."""
    res, elf = selftest_run("m4", fresh_export)
    assert res.passed
    from tinyecg.device import qemu

    size = qemu.size(elf)
    per_inference = sorted(res.instructions.values())
    libraries = tflm_library.libraries
    line = (
        f"m4: instructions/inference median {per_inference[len(per_inference) // 2]} "
        f"(min {per_inference[0]}, max {per_inference[-1]}); arena {res.arena_used}/"
        f"{res.arena_bytes}; stack peak {res.stack_peak}; text {size['text']} data "
        f"{size['data']} bss {size['bss']}; library compile seconds "
        f"{ {t: round(b.compile_seconds) for t, b in libraries.built.items()} }, "
        f"waited {libraries.waited}"
    )
    print(line)
    assert size["text"] < 512 * 1024


# --------------------------------------------------------------------------- the whole firmware

EXCERPTS = paths.excerpts_dir()
STREAMED = ("100", "119", "208")  # the bundled excerpts of the benchmark's records


@pytest.fixture(scope="module")
def fq():
    from tinyecg.device import firmware

    return firmware


@pytest.fixture(scope="module")
def tflm_images(fq, fresh_export, tflm_library, tmp_path_factory):
    """(io, arch) -> the whole firmware built with TFLM for QEMU, from one export."""
    built = {}

    def get(io: str, arch: str = "m4", rhythm: bool = False):
        """rhythm False: the beat model in TFLM alone, as most tests here measure it."""
        if (io, arch, rhythm) not in built:
            work = tmp_path_factory.mktemp(f"tflm-fw-{io}-{arch}")
            built[io, arch, rhythm] = fq.build_firmware(
                work,
                export_dir=fresh_export,
                io=io,
                runtime="tflm",
                arch=arch,
                tflm_library=tflm_library(arch),
                rhythm=rhythm,
            )
        return built[io, arch, rhythm]

    return get


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from tinyecg.device import detect

    return detect.build_host_harness(tmp_path_factory.mktemp("harness"))


def _host_reference(fq, harness, x, labels):
    """(r, label, score) of every beat as the host pipeline computes it: the host harness's
    beats and RR rows (x86-64 build of the core), the Python integer preprocessing and the
    TFLM host interpreter; and the harness's peaks."""
    want = host_lines(harness, x)
    model = paths.default_model_dir() / "model.tflite"
    return fq.reference_beats(model, x, want.rr, labels=labels), want


def test_linked_sources_list_is_the_m4_firmwares_link(tflm_images, tflm_library):
    """firmware/scripts/tflm_linked_sources.txt (what the host and M0+ builds compile) is
    exactly what the Cortex-M4F firmware with both models in TFLM pulls out of the whole
    library (the beat-only image links a subset of it)."""
    fw = tflm_images("uart", rhythm=True)
    lib = tflm_library("m4")
    assert not lib.subset
    linked = tflm_lib.linked_sources(fw.elf.with_suffix(".map"), lib.library)
    assert linked == tflm_lib.read_linked_sources(), (
        "regenerate firmware/scripts/tflm_linked_sources.txt from tflm_lib.linked_sources()"
    )
    assert "src/tensorflow/lite/micro/kernels/cmsis_nn/pooling.cpp" in linked  # the rhythm's
    beat_only = tflm_images("uart").elf.with_suffix(".map")
    assert set(tflm_lib.linked_sources(beat_only, lib.library)) <= set(linked)


@pytest.mark.parametrize("record", STREAMED)
def test_tflm_firmware_streams_like_the_host_pipeline(fq, tflm_images, harness, record):
    """The board image with TFLM under QEMU (Cortex-M4F), a bundled MIT-BIH excerpt replayed
    over its UART: every beat's peak, label and score equal the host pipeline's."""
    from tinyecg.device import detect

    fw = tflm_images("uart")
    res = fq.stream(fw, EXCERPTS / record, timeout=600)
    assert res["exit_code"] == 0 and res["device"]["selftest_summary"]["passed"]
    assert res["device"]["selftest_summary"]["maxdiff"] == 0
    assert res["device"]["firmware"]["export"] == "tflm"
    assert "classifier=tflm" in res["device"]["info"]
    x = detect.read_record(EXCERPTS / record)[0]
    want, host = _host_reference(fq, harness, x, fw.labels)
    got = [(r, label, score) for r, label, score, _ in res["beats"]]
    assert len(want) > 150 and got == want
    assert res["device"]["perf"]["beats"] == len(got)


def test_tflm_measurement_build_counts_instructions(fq, tflm_images, harness):
    """The semihosting build with TFLM: peaks, RR and classes equal the host's, and each
    beat's classify() costs what the boot self-test measured (the same call)."""
    import numpy as np

    from tinyecg.device import detect

    fw = tflm_images("semihost")
    x = detect.read_record(EXCERPTS / "208", sampto=60 * 360)[0]
    run = fq.run_samples(fw, x, timeout=600)
    assert run.returncode == 0, run.stderr
    want, host = _host_reference(fq, harness, x, fw.labels)
    assert run.lines.peaks == host.peaks and run.lines.rr == host.rr
    assert [(r, label, score) for r, label, score, _ in run.lines.beats] == want
    inf = np.median([p["inf"] for p in run.lines.perf])
    boot = np.median([v["inf_instr"] for v in run.lines.selftest])
    assert abs(inf - boot) <= 0.03 * boot
    assert 300_000 < inf < 2_000_000  # CMSIS-NN's DSP path, about 718,000


def test_tflm_firmware_on_cortex_m0plus(fq, tflm_images, harness):
    """The same firmware for Cortex-M0+ (v6-M code, CMSIS-NN's portable C) on mps2-an385:
    self-test passes bit for bit and the beats of a stretch equal the host pipeline's."""
    from tinyecg.device import detect

    fw = tflm_images("semihost", "m0")
    assert fw.arch == "m0"
    x = detect.read_record(EXCERPTS / "119", sampto=30 * 360)[0]
    run = fq.run_samples(fw, x, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.lines.firmware["board"] == "mps2-an385"
    assert run.lines.selftest_summary["passed"] and run.lines.selftest_summary["maxdiff"] == 0
    want, _ = _host_reference(fq, harness, x, fw.labels)
    assert [(r, label, score) for r, label, score, _ in run.lines.beats] == want


def test_tinyecg_stream_scores_the_tflm_image(fq, tflm_images):
    """`tinyecg stream` against the TFLM board image under QEMU, as against a board."""
    import subprocess
    import sys

    from tinyecg.device import qemu

    fw = tflm_images("uart")
    with qemu.serial_tcp(fw.elf, timeout=300) as url:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "tinyecg",
                "stream",
                "--port",
                str(url),
                "--record",
                str(EXCERPTS / "208"),
                "--seconds",
                "30",
                "--speed",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=280,
        )
        fq.stop(url)
    assert proc.returncode == 0, proc.stderr
    assert "labels: nlrav (N,L,R,A,V; from the device's #info)" in proc.stdout
    assert re.search(r"QRS: TP \d+ FP \d+ FN \d+", proc.stdout)
    assert "classes of matched beats: accuracy" in proc.stdout
