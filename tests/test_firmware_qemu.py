"""The whole firmware on an emulated Cortex-M4 (QEMU mps2-an386), checked against the host.

Built once per module with arm-none-eabi-gcc: the firmware application every board runs
(firmware/lib/tinyecg_app with the portable core and the preprocessing library) behind the
QEMU board layer (firmware/targets/mps2-an386/board), with the C backend as its classifier
(tinyecg export --runtime c; the TFLM build is tests/test_tflm_vendored.py's). What the
device prints is compared with sides that share none of its cross-compiled code:
  * R-peaks and RR context: the host harness (firmware/host, gcc for x86-64) on the same samples;
  * beat classes and scores: the Python integer preprocessing (tinyecg.dsp.fixedpoint) and the
    TFLM host interpreter on the host harness's beats;
  * QRS and class scores of stream_record: wfdb's annotation matching of the host's beats.
The model: the shipped default model if there is one, else the student-cnn of
tests/helpers.build_models (200 steps on the bundled excerpt, full int8), built once per session.
These images are the beat path alone (rhythm=False): the two-task image, with the
shockable-rhythm task, is tests/test_firmware_rhythm_qemu.py's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import host_lines

from tinyecg.device import detect, qemu
from tinyecg.errors import TinyECGError

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
DEFAULT_MODEL = ROOT / "tinyecg" / "assets" / "default_model" / "model.tflite"
GOLDEN = 8

pytestmark = pytest.mark.skipif(
    bool(qemu.missing_tools()),
    reason=f"needs the ARM toolchain and QEMU (missing: {', '.join(qemu.missing_tools())}); "
    "install gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm",
)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def model(tmp_path_factory) -> Path:
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    try:
        from helpers import build_models  # the same session cache as tests/test_export.py
    except ImportError as exc:
        pytest.skip(f"no default model and tests/helpers.py cannot build one ({exc})")
    return build_models(tmp_path_factory.getbasetemp() / "tinyecg_export_models")["int8"]


@pytest.fixture(scope="module")
def fq():
    from tinyecg.device import firmware as firmware_qemu

    try:
        from tinyecg.export import cbackend, exporter  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"needs the exporter and the C backend ({exc})")
    return firmware_qemu


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("firmware_qemu")


@pytest.fixture(scope="module")
def export_dir(fq, model, work) -> Path:
    out = work / "model"
    fq.export_model(model, out, golden=GOLDEN)
    return out


@pytest.fixture(scope="module")
def fw_semihost(fq, work, export_dir):
    return fq.build_firmware(work, export_dir=export_dir, io="semihost", rhythm=False)


@pytest.fixture(scope="module")
def fw_uart(fq, work, export_dir):
    return fq.build_firmware(work, export_dir=export_dir, io="uart", rhythm=False)


@pytest.fixture(scope="module")
def host(work) -> Path:
    return detect.build_host_harness(work / "host")


def samples_of(record: str, seconds: float | None = None):
    sampto = None if seconds is None else int(seconds * 360)
    x, _, (lo, hi) = detect.read_record(EXCERPT / record, sampto=sampto)
    assert (lo, hi) == (0, 2047)  # the firmware's TINYECG_ADC_MIN/MAX for MIT-BIH
    return x


@pytest.fixture(scope="module")
def runs(fq, fw_semihost):
    cache = {}

    def get(record: str):
        if record not in cache:
            x = samples_of(record)
            cache[record] = (x, fq.run_samples(fw_semihost, x, timeout=120))
        return cache[record]

    return get


# --------------------------------------------------------------------------- semihosting build
def test_golden_selftest_is_bit_exact_on_cortex_m4(runs, export_dir):
    _, run = runs("208")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    lines = run.lines
    assert run.returncode == 0, run.stderr
    assert lines.selftest_summary["passed"], lines.selftest
    assert len(lines.selftest) == manifest["golden"]["count"] == GOLDEN
    assert (
        lines.selftest_summary["input"],
        lines.selftest_summary["output"],
        lines.selftest_summary["tolerance"],
        lines.selftest_summary["maxdiff"],
    ) == (GOLDEN, GOLDEN, 0, 0)
    assert lines.selftest_summary["classifier"] == "cbackend"
    assert lines.firmware == {
        "board": "mps2-an386",
        "input": "serial",
        "model": "0.1.0",
        "export": "c",
    }
    for vec, item in zip(lines.selftest, manifest["golden"]["items"]):
        assert (vec["input"], vec["rhythm"], vec["output"], vec["maxdiff"]) == ("ok", "ok", "ok", 0)
        assert (str(vec["record"]), vec["r"]) == (str(item["record"]), item["sample"])
        assert vec["pre_instr"] > 0 and vec["inf_instr"] > 0


@pytest.mark.parametrize("record", ["208", "100"])
def test_detection_equals_the_host_harness(fq, runs, host, record):
    x, run = runs(record)
    want = host_lines(host, x)
    got = run.lines
    assert len(want.peaks) > 150
    assert got.peaks == want.peaks
    assert got.rr == want.rr
    assert got.stats["samples"] == len(x) == got.qemu["samples"]
    # the stand-alone detector timed next to the app saw the same signal and found as many
    assert got.qemu["det_peaks"] == len(want.peaks)


@pytest.mark.parametrize("record", ["208", "100"])
def test_classes_equal_the_host_pipeline(fq, runs, host, model, fw_semihost, record):
    x, run = runs(record)
    want = fq.reference_beats(model, x, host_lines(host, x).rr, labels=fw_semihost.labels)
    got = [(r, label, score) for r, label, score, _ in run.lines.beats]
    assert len(want) > 150
    assert got == want
    if record == "208":  # premature ventricular beats: more than one class is predicted
        assert len({label for _, label, _ in got}) > 1


def test_instruction_counts_per_beat(runs):
    _, run = runs("100")
    lines, q = run.lines, run.lines.qemu
    assert len(lines.perf) == len(lines.beats) == q["beats"] > 150
    # per-beat counts during the stream agree with the self-test's counts on golden beats,
    # measured at reset through another call path
    for key, golden_key in (("pre", "pre_instr"), ("inf", "inf_instr")):
        stream = np.median([p[key] for p in lines.perf])
        boot = np.median([v[golden_key] for v in lines.selftest])
        assert abs(stream - boot) <= 0.03 * boot, (key, stream, boot)
        assert sum(p[key] for p in lines.perf) == q[f"{key}_instr"]
    assert 0 < q["det_instr"] < q["app_instr"]  # the app runs the detector and more
    assert 0 < q["stack_peak"] < q["stack_size"]


def test_detection_only_build(fq, work, export_dir, host):
    fw = fq.build_firmware(work, export_dir=export_dir, io="semihost", runtime="none")
    assert fw.classifier == "none"
    x = samples_of("100", seconds=20)
    run = fq.run_samples(fw, x)
    lines = run.lines
    assert run.returncode == 0
    assert lines.beats == [] and lines.perf == []
    assert lines.selftest_summary["passed"] and lines.selftest_summary["output"] == "-"
    assert all(v["input"] == "ok" and v["output"] == "-" for v in lines.selftest)
    assert "# classifier none: detection only" in lines.status
    assert "classifier=none adc=0..2047" in lines.info
    assert lines.peaks == host_lines(host, x).peaks


# --------------------------------------------------------------------------- the UART board
def test_uart_board_serves_the_protocol(fq, fw_uart, host, model):
    x = samples_of("208", seconds=30)
    with qemu.serial_tcp(fw_uart.elf, timeout=120) as url:
        lines = fq.replay(url, x, timeout=90)
        assert lines.selftest_summary["passed"], lines.selftest
        assert lines.info.startswith("# tinyecg ") and "classifier=cbackend" in lines.info
        want = fq.reference_beats(model, x, host_lines(host, x).rr, labels=fw_uart.labels)
        assert [(r, label, score) for r, label, score, _ in lines.beats] == want
        assert all(us > 0 for *_, us in lines.beats)
        # "#qemu " lines are the target's; a line that only starts alike goes to the core
        before = lines.stats["unknown_commands"]
        reply = fq._session(
            url.port, b"#qemu bogus\n#qemux\n#stats\n", fq._line_after(b"# stats"), 30
        ).decode()
        assert "# qemu unknown command" in reply
        assert fq.parse_lines(reply).stats["unknown_commands"] == before + 1
        again = fq.device_command(url, "selftest")
        assert again.selftest_summary["passed"] and len(again.selftest) == GOLDEN
        perf = fq.device_command(url, "perf").qemu
        assert perf["beats"] == len(lines.beats)
        assert 0 < perf["stack_peak"] < perf["stack_size"]
        done = fq.stop(url)
    assert done.returncode == 0 and not done.timed_out


def test_stream_record_scores_like_the_host(fq, fw_uart, host, model):
    from wfdb.processing import compare_annotations

    from tinyecg import metrics
    from tinyecg.data import records
    from tinyecg.spec import BEAT_SYMBOLS

    seconds = 20
    res = fq.stream(fw_uart, EXCERPT / "100", seconds=seconds, timeout=120)
    assert res["exit_code"] == 0
    assert res["device"]["selftest_summary"]["passed"]
    x = samples_of("100", seconds=seconds)
    want = host_lines(host, x)
    ann = records.read_annotations(
        str(EXCERPT / "100"), "atr", sampto=seconds * 360, source_fs=360, required=True
    )
    is_beat = np.isin(ann.symbols, list(BEAT_SYMBOLS))
    ref, symbols = ann.samples[is_beat], [str(v) for v in ann.symbols[is_beat]]
    assert res["qrs"] == detect.score_detections(ref, want.peaks)
    beats = fq.reference_beats(model, x, want.rr, labels=fw_uart.labels)
    labels = fq.label_map(fw_uart.labels)
    cmp = compare_annotations(ref, np.array([b[0] for b in beats]), 54)
    pairs = [
        (labels[symbols[i]], beats[j][1])
        for i, j in enumerate(cmp.matching_sample_nums)
        if j >= 0 and symbols[i] in labels
    ]
    names = list(dict.fromkeys(list(labels.values()) + sorted({p for _, p in pairs})))
    idx = {n: i for i, n in enumerate(names)}
    expected = metrics.report([idx[t] for t, _ in pairs], [idx[p] for _, p in pairs], names)
    assert res["classes"] == expected
    assert res["beats_reported"] == len(beats) > 15


# --------------------------------------------------------------------------- mistakes
def test_bad_builds_and_runs_are_one_line_errors(fq, work, export_dir, fw_uart, model):
    from tinyecg.export.exporter import export

    for kwargs, msg in (
        ({"io": "spi"}, "io must be"),
        ({"runtime": "onnx"}, "runtime must"),
        ({"classifier": "tvm"}, "classifier must"),
        ({"arch": "m7"}, "arch must"),
        ({"opt": "fast"}, "opt must"),
        ({"adc_range": (5, 5)}, "adc_range"),
        ({"calibration": (0, 0)}, "calibration"),
        ({"instr_per_us": 0}, "instr_per_us"),
    ):
        with pytest.raises(TinyECGError, match=msg):
            fq.build_firmware(work / "bad", export_dir=export_dir, **kwargs)
    tflm = work / "tflm_export"
    export(model, tflm, golden=1, force=True, runtime="tflm")
    with pytest.raises(TinyECGError, match="runtime c"):
        fq.build_firmware(work / "bad", export_dir=tflm)
    with pytest.raises(TinyECGError, match="not a tinyecg export"):
        fq.build_firmware(work / "bad", export_dir=work / "host")
    with pytest.raises(TinyECGError, match="io='semihost'"):
        fq.run_samples(fw_uart, [1, 2, 3])


def test_app_sources_are_clean_under_strict_warnings(fq, export_dir, strict_c_flags):
    """The board layer and the application, for every I/O build and C classifier, under the
    project's strict flags and -Wsign-conversion, for Cortex-M4F and Cortex-M0+."""
    import subprocess

    from tinyecg.device import firmware_files

    sources = [fq.board_main(), *firmware_files.app_sources()]
    includes = [
        qemu.target_dir(),
        *firmware_files.includes(),
        export_dir,
        firmware_files.nn_dir() / "include",
        firmware_files.rhythm_model_dir(),  # the rhythm task (on with a classifier)
    ]
    for cpu in (
        ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
        ["-mcpu=cortex-m0plus", "-mfloat-abi=soft"],
    ):
        flags = [
            *cpu,
            "-mthumb",
            *strict_c_flags,
            "-Wsign-conversion",
            "-fsyntax-only",
            *(f"-I{p}" for p in includes),
        ]
        for io in (0, 1):
            for classifier in ("CBACKEND", "NONE"):
                r = subprocess.run(
                    [
                        qemu.CROSS + "gcc",
                        *flags,
                        f"-DTINYECG_QEMU_IO={io}",
                        f"-DTINYECG_CLASSIFIER=TINYECG_CLASSIFIER_{classifier}",
                        *map(str, sources),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert r.returncode == 0, r.stderr


def test_c_backend_image_fits_48k_flash_and_16k_ram(fq, fw_uart):
    """The C backend's board image: flash (text + .data image) <= 48 KB, RAM (.data + .bss +
    the stack's high-water mark after boot and a replay) <= 16 KB."""
    x = samples_of("208", seconds=20)
    with qemu.serial_tcp(fw_uart.elf, timeout=120) as url:
        fq.replay(url, x, timeout=90)
        stack = fq.device_command(url, "perf").qemu["stack_peak"]
        fq.stop(url)
    assert fw_uart.flash_bytes <= 48 * 1024, fw_uart.sizes
    assert fw_uart.static_ram_bytes + stack <= 16 * 1024, (fw_uart.sizes, stack)


def test_silent_replay_is_reported_once(fq, fw_uart):
    """The QEMU board ticks the application from SysTick while it sleeps: a replay that goes
    silent for more than a second gets "# input stopped" (and its waiting beats) once, as on
    a board; samples that come back get "# input resumed"."""
    x = samples_of("208", seconds=20)
    body = detect.samples_text(x)
    with qemu.serial_tcp(fw_uart.elf, timeout=120) as url:
        first = fq._session(
            url.port, b"#reset\n" + body, fq._line_after(b"# input stopped"), timeout=60
        )
        lines = fq.parse_lines(first.decode())
        assert lines.status.count("# input stopped") == 1
        assert len(lines.beats) >= 15
        again = fq._session(
            url.port, body + b"#end\n#stats\n", fq._line_after(b"# stats"), timeout=60
        ).decode()
        assert "# input resumed" in again and "# input stopped" not in again
        fq.stop(url)


def test_tinyecg_stream_scores_the_c_image_as_firmware_stream(fq, fw_uart):
    """`tinyecg stream` (tinyecg.device.stream.stream_record) on the board image gives the
    scores firmware.stream() computes from the lines it read itself."""
    from tinyecg.device.stream import stream_record

    with qemu.serial_tcp(fw_uart.elf, timeout=120) as url:
        official = stream_record(url, str(EXCERPT / "119"), speed=0, seconds=20, reply_timeout=60)
        fq.stop(url)
    ours = fq.stream(fw_uart, EXCERPT / "119", seconds=20, timeout=120)
    assert official["qrs"] == ours["qrs"]
    assert official["classes"] == ours["classes"]
    assert official["beats_reported"] == ours["beats_reported"] == len(ours["beats"])
    assert official["labels"]["set"] == "nlrav"


def test_serve_runs_the_board_until_it_exits(fq, fw_uart, fw_semihost):
    """`tinyecg qemu`'s serve: the port is announced once it listens, and the call returns
    when the device exits ("#qemu exit": code 0 after a passed self-test)."""
    seen = []

    def ready(url):
        seen.append(str(url))
        fq.stop(url)

    done = fq.serve(fw_uart, timeout=120, on_ready=ready)
    assert len(seen) == 1 and seen[0].startswith("socket://127.0.0.1:")
    assert done.returncode == 0 and not done.timed_out
    with pytest.raises(TinyECGError, match="io='uart'"):
        fq.serve(fw_semihost)
