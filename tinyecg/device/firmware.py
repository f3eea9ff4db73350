"""The tinyecg firmware on an emulated Cortex-M (QEMU mps2-an386 Cortex-M4F, mps2-an385 running
Cortex-M0+ code): build, self-test, stream, measure.

It is the application every board runs (firmware/lib/tinyecg_app, with the portable core and
the preprocessing library) behind the QEMU board layer (firmware/targets/mps2-an386/board:
UART0, SysTick clock, semihosting measurement build), with the classifier chosen at build
time (docs/firmware-qemu.md):

    runtime "c"     the interpreter-free C backend (`tinyecg export --runtime c`, tinyecg_nn)
    runtime "tflm"  TensorFlow Lite Micro (`tinyecg export --runtime tflm`), linked against
                    the library the Arm boards pin, built by tinyecg.device.tflm_lib
    runtime "none"  no model: detection only

    fw = build_firmware(tmp / "fw", "model.tflite", runtime="tflm")  # the board: UART0 protocol
    with qemu.serial_tcp(fw.elf) as url:                               # exactly as a real board
        stream.stream_record(url, "mitdb/208", speed=0)
    run = run_samples(build_firmware(tmp / "sh", "model.tflite", io="semihost"), samples)
    run.beats, run.perf, run.summary                                   # instruction counts

Two builds of the same sources (``io``):
  "uart"      the board: boot (self-test) when the host first speaks, then the core's line
              protocol on UART0; sleeps in WFI between bytes. The image whose size is reported.
  "semihost"  measurement build: samples on QEMU's stdin, peaks / RR / beat lines and
              per-beat instruction counts on its stdout, exit code 0 when the self-test passed.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from tinyecg import paths
from tinyecg.device import detect, elfsize, firmware_files, qemu
from tinyecg.device.device_lines import DeviceLines, parse_lines  # noqa: F401 (part of this API)
from tinyecg.errors import TinyECGError
from tinyecg.spec import LABEL_SETS, MITDB_ADC_BASELINE, MITDB_ADC_GAIN, MITDB_ADC_RANGE

IOS = {"uart": 0, "semihost": 1}  # TINYECG_QEMU_IO
RUNTIMES = tuple(firmware_files.CLASSIFIERS)  # "c", "tflm", "none"
ARCHES = tuple(qemu.MACHINES)  # "m4", "m0"
OPTS = ("s", "2", "3")
MITDB_CALIBRATION = (MITDB_ADC_BASELINE, MITDB_ADC_GAIN)
#: the old classifier names of build_firmware(classifier=...) and `tinyecg qemu --classifier`
CLASSIFIER_RUNTIMES = {"cbackend": "c", "tflm": "tflm", "none": "none"}


def board_main() -> Path:
    """firmware/targets/mps2-an386/board/main.c: the QEMU board layer."""
    path = qemu.target_dir() / "board" / "main.c"
    if not path.is_file():
        raise TinyECGError(f"{path}: the QEMU board layer is missing")
    return path


@dataclass
class Firmware:
    """One built image and what went into it."""

    elf: Path
    io: str
    runtime: str  # "c", "tflm" or "none"
    arch: str  # "m4" or "m0"
    export_dir: Path
    model: Path | None  # the source given to build_firmware; None when built from an export
    labels: list[str]
    defs: list[str]
    opt: str
    sizes: dict  # arm-none-eabi-size: text (code + rodata), data, bss
    manifest: dict = field(repr=False, default_factory=dict)
    tflm: object = field(repr=False, default=None)  # tflm_lib.LibraryBuild with runtime "tflm"

    @property
    def classifier(self) -> str:
        """The classifier's name in the firmware's lines: cbackend, tflm or none."""
        return firmware_files.CLASSIFIER_NAMES[self.runtime]

    @property
    def flash_bytes(self) -> int:
        """Code memory: text (vectors, code, rodata) + the .data image copied at reset."""
        return self.sizes["text"] + self.sizes["data"]

    @property
    def static_ram_bytes(self) -> int:
        """.data + .bss (the stack comes on top)."""
        return self.sizes["data"] + self.sizes["bss"]


def export_model(model, out_dir, golden: int = 8, runtime: str = "c") -> dict:
    """`tinyecg export MODEL --runtime RUNTIME --golden N --force` into out_dir (quiet)."""
    from tinyecg.export.exporter import export

    return export(model, out_dir, golden=golden, force=True, runtime=runtime)


def _check_build_args(io, runtime, arch, opt, adc_range, calibration, instr_per_us):
    if io not in IOS:
        raise TinyECGError(f"io must be one of {', '.join(IOS)}, not {io!r}")
    if runtime not in RUNTIMES:
        raise TinyECGError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if arch not in ARCHES:
        raise TinyECGError(f"arch must be one of {', '.join(ARCHES)}, not {arch!r}")
    if opt not in OPTS:
        raise TinyECGError(f"opt must be one of {', '.join(OPTS)} (gcc -O<opt>), not {opt!r}")
    lo, hi = (int(v) for v in adc_range)
    base, gain = (int(v) for v in calibration)
    if not -32768 <= lo < hi <= 32767:
        raise TinyECGError(f"adc_range {adc_range}: need -32768 <= min < max <= 32767")
    if not (-32768 <= base <= 32767 and 1 <= gain <= 65535):
        raise TinyECGError(f"calibration {calibration}: baseline int16, gain 1..65535 ADC/mV")
    if isinstance(instr_per_us, bool) or not isinstance(instr_per_us, int) or instr_per_us < 1:
        raise TinyECGError(f"instr_per_us must be a positive whole number, not {instr_per_us!r}")
    return lo, hi, base, gain


def build_firmware(
    out_dir,
    model=None,
    *,
    io: str = "uart",
    runtime: str = "c",
    arch: str = "m4",
    golden: int = 8,
    export_dir=None,
    adc_range=MITDB_ADC_RANGE,
    calibration=MITDB_CALIBRATION,
    instr_per_us: int = 64,
    opt: str = "s",
    tflm_library=None,
    classifier: str | None = None,
    timeout: float = 900,
    rhythm: bool | None = None,
    rhythm_dir=None,
) -> Firmware:
    """Export `model` (a .tflite or run directory; None: the model shipped with tinyecg) for
    `runtime` and build the QEMU firmware in out_dir; returns the Firmware (ELF, sizes, ...).

    io "uart" (the board) or "semihost" (measurement build); runtime "c" (the C backend),
    "tflm" (TensorFlow Lite Micro, the library the Arm boards pin: tflm_lib.build_library(arch)
    unless tflm_library gives one) or "none" (detection only; the self-test then checks the
    preprocessing alone); arch "m4" (mps2-an386) or "m0" (Cortex-M0+ code on mps2-an385);
    opt the gcc optimisation level of the firmware's own code ("s" = -Os, the default; "2";
    "3"). export_dir: reuse an export made earlier (made for that runtime). instr_per_us:
    divisor turning classify()'s instruction count into the protocol's inference_us (1:
    instructions). classifier: the old name of runtime ("cbackend", "tflm", "none").
    rhythm: the shockable-rhythm task with the rhythm export rhythm_dir (default: with
    runtime "tflm" a `--runtime tflm` export of the shipped rhythm model made in out_dir, run
    in a second TFLM interpreter; else firmware/lib/tinyecg_rhythm_model, the C backend's):
    None = when there is a classifier and the export is there, True, False
    (firmware_files.rhythm_sources)."""
    if classifier is not None:
        if classifier not in CLASSIFIER_RUNTIMES:
            raise TinyECGError(
                f"classifier must be one of {', '.join(CLASSIFIER_RUNTIMES)}, not {classifier!r}"
            )
        runtime = CLASSIFIER_RUNTIMES[classifier]
    lo, hi, base, gain = _check_build_args(
        io, runtime, arch, opt, adc_range, calibration, instr_per_us
    )
    out = Path(out_dir)
    if export_dir is None:
        export_dir = out / f"model-{'c' if runtime == 'none' else runtime}"
        export_model(
            model, export_dir, golden=golden, runtime="c" if runtime == "none" else runtime
        )
    export_dir = Path(export_dir)
    manifest = firmware_files.export_manifest(export_dir)
    export_srcs, export_incs = firmware_files.runtime_sources(runtime, export_dir)
    shipped = paths.rhythm_model_dir() / "model.tflite"
    if runtime == "tflm" and rhythm is not False and rhythm_dir is None and shipped.is_file():
        rhythm_dir = firmware_files.export_rhythm_tflm(out / "rhythm-model-tflm")
    rhythm_srcs, rhythm_incs, rhythm_defs = firmware_files.rhythm_sources(
        runtime, rhythm, rhythm_dir, export_dir
    )
    srcs = [*firmware_files.c_sources(), board_main(), *export_srcs, *rhythm_srcs]
    includes = [*firmware_files.includes(), *export_incs, *rhythm_incs]
    defs = [
        *rhythm_defs,
        *firmware_files.model_defines(export_dir),
        f"TINYECG_QEMU_IO={IOS[io]}",
        f"TINYECG_CLASSIFIER={firmware_files.CLASSIFIERS[runtime]}",
        f"TINYECG_REPLAY_ADC_MIN={lo}",
        f"TINYECG_REPLAY_ADC_MAX={hi}",
        f"TINYECG_REPLAY_BASELINE={base}",
        f"TINYECG_REPLAY_GAIN_ADU_PER_MV={gain}",
        f"TINYECG_QEMU_INSTR_PER_US={instr_per_us}",
    ]
    cxx: list[Path] = []
    libs: list[Path] = []
    system: list[Path] = []
    lib = None
    if runtime == "tflm":
        from tinyecg.device import tflm_lib

        lib = tflm_library if tflm_library is not None else tflm_lib.build_library(arch)
        if lib.target != arch:
            raise TinyECGError(f"the TFLM library was built for {lib.target}, not {arch}")
        cxx = firmware_files.app_sources(cxx=True)
        libs = [lib.archive_file]
        system = [lib.include_dir]
        # the library's definitions (platformio.ini's [arduino_tflm]) but the board layer's own
        defs += [
            d for d in lib.defines if not d.startswith(("TINYECG_INPUT_MODE", "TINYECG_CLASSIFIER"))
        ]
    elf = qemu.build(
        srcs,
        includes=includes,
        defs=defs,
        arch=arch,
        out_dir=out / f"{io}-{runtime}-{arch}-O{opt}",
        app="tinyecg_fw",
        extra_cflags=[f"-O{opt}"],
        cxx_srcs=cxx,
        libs=libs,
        system_includes=system,
        extra_cxxflags=[f"-O{opt}"],
        timeout=timeout,
    )
    return Firmware(
        elf=elf,
        io=io,
        runtime=runtime,
        arch=arch,
        export_dir=export_dir,
        model=None if model is None else Path(model),
        labels=list(manifest["labels"]),
        defs=defs,
        opt=opt,
        sizes=qemu.size(elf),
        manifest=manifest,
        tflm=lib,
    )


# --------------------------------------------------------------------------- semihosting runs
@dataclass
class SemihostRun:
    returncode: int
    lines: DeviceLines
    seconds: float
    stdout: str = field(repr=False, default="")
    stderr: str = field(repr=False, default="")


def run_samples(fw: Firmware, samples, timeout: float = 300) -> SemihostRun:
    """Run a semihost build on raw ADC samples (one channel of integers) under QEMU."""
    if fw.io != "semihost":
        raise TinyECGError("run_samples needs a firmware built with io='semihost'")
    result = qemu.run(
        fw.elf,
        timeout=timeout,
        stdin_bytes=detect.samples_text(samples),
        machine=qemu.MACHINES[fw.arch],
    )
    if result.timed_out:
        raise TinyECGError(f"{fw.elf.name}: QEMU did not finish in {timeout:g} s")
    lines = parse_lines(result.stdout)
    if lines.qemu is None:
        first = (result.stderr.strip().splitlines() or ["no output"])[0]
        raise TinyECGError(
            f"{fw.elf.name}: the firmware stopped early (exit {result.returncode}: {first})"
        )
    return SemihostRun(result.returncode, lines, result.seconds, result.stdout, result.stderr)


# --------------------------------------------------------------------------- the UART board
def _session(port: int, data: bytes, done, timeout: float) -> bytes:
    """One TCP connection to QEMU's UART0: send data (from a thread, since the device
    answers while it reads) and collect the replies until done(replies) or timeout."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sender = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
        sender.start()
        while not done(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TinyECGError(f"the device did not answer within {timeout:g} s")
            sock.settimeout(max(0.05, min(1.0, left)))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise TinyECGError("the device closed the connection")
            got.extend(chunk)
    return bytes(got)


def _line_after(marker: bytes, start: bytes | None = None):
    """done() for _session: a complete line beginning with marker (after `start`)."""

    def done(got: bytearray) -> bool:
        at = 0
        if start is not None:
            at = got.find(start)
            if at < 0:
                return False
        at = got.find(marker, at)
        return at >= 0 and got.find(b"\n", at) >= 0

    return done


def device_command(url, command: str, timeout: float = 30) -> DeviceLines:
    """Send "#qemu perf" or "#qemu selftest" to a running UART build and parse the reply
    ("# qemu ..." counters, or the self-test report)."""
    marker = {"perf": b"# qemu ", "selftest": b"# selftest pass"}.get(command)
    if marker is None:
        raise TinyECGError(f"unknown device command {command!r} (perf, selftest)")
    if command == "selftest":
        done = lambda got: (
            _line_after(b"# selftest pass")(got) or _line_after(b"# selftest FAIL")(got)
        )  # noqa: E731
    else:
        done = _line_after(marker)
    reply = _session(url.port, f"#qemu {command}\n".encode(), done, timeout)
    return parse_lines(reply.decode(errors="replace"))


def replay(url, samples, timeout: float = 300) -> DeviceLines:
    """Send `#reset`, the samples (one per line), `#end`, `#stats` to the board at url and
    return all it printed (on the first connection: the self-test report and info line too)."""
    body = b"#reset\n" + detect.samples_text(samples) + b"#end\n#stats\n"
    got = _session(url.port, body, _line_after(b"# stats", start=b"# end\n"), timeout)
    return parse_lines(got.decode(errors="replace"))


def serve(fw: Firmware, timeout: float = 3600, on_ready=None) -> qemu.CompletedRun:
    """`tinyecg qemu`: boot a UART build with UART0 on a local TCP port and wait until the
    emulator exits (or timeout). on_ready(url) is called once the port listens (the CLI
    prints the socket:// URL for `tinyecg stream --port`)."""
    if fw.io != "uart":
        raise TinyECGError("serve needs a firmware built with io='uart'")
    with qemu.serial_tcp(fw.elf, timeout=timeout, machine=qemu.MACHINES[fw.arch]) as url:
        if on_ready is not None:
            on_ready(url)
        return url.wait()


def stop(url, timeout: float = 10) -> qemu.CompletedRun:
    """Ask a UART build to exit ("#qemu exit": code 0 if its self-test passed) and wait."""
    with socket.create_connection(("127.0.0.1", url.port), timeout=10) as sock:
        sock.sendall(b"#qemu exit\n")
        sock.settimeout(timeout)
        try:
            while sock.recv(4096):
                pass
        except (TimeoutError, OSError):
            pass
    return url.wait(timeout)


def label_map(labels: list[str]) -> dict | None:
    """Annotation symbol -> device label for a model's labels (a known label set), or None
    (then stream_record scores AAMI classes)."""
    for label_set in LABEL_SETS.values():
        if list(label_set["labels"]) == list(labels):
            return dict(cast(dict, label_set["map"]))
    return None


def score_beats(beats, record, labels: list[str], seconds: float | None = None) -> dict:
    """QRS and class scores of a device's beats (r, label, ...) on a WFDB record, as
    `tinyecg stream` (tinyecg.device.stream.stream_record) scores them: QRS matched within
    150 ms, classes of the matched beats in the model's label set."""
    from tinyecg import metrics
    from tinyecg.data import records
    from tinyecg.device.stream import resolve_labels
    from tinyecg.spec import BEAT_SYMBOLS, FS

    base = records.record_base(str(record))
    sampto = None if seconds is None else max(1, int(round(seconds * FS)))
    sig = records.read_signal(base, sampto=sampto)
    ann = records.read_annotations(
        base, "atr", sampto=sampto, source_fs=sig.source_fs, required=True
    )
    assert ann is not None
    is_beat = np.isin(ann.symbols, list(BEAT_SYMBOLS))
    ref, symbols = ann.samples[is_beat], [str(s) for s in ann.symbols[is_beat]]
    used = resolve_labels(label_map(labels) or "auto", list(labels), symbols)
    test = np.asarray([b[0] for b in beats], dtype=np.int64)
    y_true, y_pred = [], []
    for ri, ti in enumerate(metrics.match_beats(ref, test)):
        if ti >= 0 and symbols[ri] in used["map"]:
            y_true.append(used["map"][symbols[ri]])
            y_pred.append(beats[ti][1])
    names = list(dict.fromkeys(used["labels"] + sorted(set(y_pred) | set(y_true))))
    index = {lab: i for i, lab in enumerate(names)}
    return {
        "qrs": metrics.score_detections(ref, test),
        "classes": metrics.report([index[t] for t in y_true], [index[p] for p in y_pred], names),
    }


def stream(fw: Firmware, record, seconds: float | None = None, timeout: float = 3600) -> dict:
    """Boot the UART build under QEMU with UART0 on a TCP port, replay a WFDB record's raw
    samples over it at full speed (as `tinyecg stream` does to a board, reading every line
    back), ask for the firmware's own counters ("#qemu perf") and stop it. Returns
    "beats" (r, label, score, inference_us of every beat line), "unreadable", "samples",
    "seconds", "beats_reported", the scores of score_beats ("qrs", "classes"), "device"
    (firmware line, self-test, perf, info), "status" and "exit_code"."""
    from tinyecg.data import records
    from tinyecg.device.stream import replay_samples
    from tinyecg.spec import FS

    if fw.io != "uart":
        raise TinyECGError("stream needs a firmware built with io='uart'")
    base = records.record_base(str(record))
    sampto = None if seconds is None else max(1, int(round(seconds * FS)))
    x = replay_samples(records.read_signal(base, sampto=sampto))
    t0 = time.monotonic()
    with qemu.serial_tcp(fw.elf, timeout=timeout, machine=qemu.MACHINES[fw.arch]) as url:
        lines = replay(url, x, timeout=timeout)
        elapsed = time.monotonic() - t0
        perf = device_command(url, "perf").qemu
        done = stop(url)
    result = {
        "record": Path(base).name,
        "samples": int(len(x)),
        "seconds": round(elapsed, 3),
        "beats": lines.beats,
        "unreadable": lines.unreadable,
        "beats_reported": len(lines.beats),
        **score_beats(lines.beats, base, fw.labels, seconds),
        "device": {
            "firmware": lines.firmware,
            "selftest": lines.selftest,
            "selftest_summary": lines.selftest_summary,
            "perf": perf,
            "info": lines.info,
        },
        "status": lines.status,
        "exit_code": done.returncode,
    }
    return result


# --------------------------------------------------------------------------- the host pipeline
def reference_beats(
    model, samples, rr_rows, calibration=MITDB_CALIBRATION, labels: list[str] | None = None
) -> list[tuple[int, str, int]]:
    """What the device should print for each beat, computed on the host without its C:
    the Python integer preprocessing (tinyecg.dsp.fixedpoint) on raw[r-180 .. r+179] and the
    RR context of each "R r pre post sum count" row, then the TFLM host interpreter (the
    device path's Int8Classifier). Returns (r, label, int8 score of the arg-max class) per
    row."""
    from tinyecg.device.device_path import Int8Classifier, fixed_inputs, windows_at

    data = Path(model).read_bytes() if not isinstance(model, (bytes, bytearray)) else bytes(model)
    x = np.asarray(samples, dtype=np.int64)
    rr = np.asarray(rr_rows, dtype=np.int64).reshape(-1, 5)
    if len(rr) == 0:
        return []
    clf = Int8Classifier(data)
    if clf.patient:  # its state follows the whole peak sequence: the detector's events
        from tinyecg.device.device_path.patient import reference_of_rows

        return reference_of_rows(data, x, rr[:, 0], calibration, labels)
    beat_q, rhythm_q = fixed_inputs(
        clf,
        clf.preprocess_params(),
        windows_at(x, rr[:, 0]),
        rr[:, 1:],
        calibration[0],
        calibration[1],
    )
    out = clf.scores(beat_q, rhythm_q).astype(np.int64)
    if labels is None:
        labels = [f"class{i}" for i in range(out.shape[1])]
    best = out.argmax(axis=1)  # first maximum, as the core's loop
    return [(int(r), labels[int(k)], int(row[k])) for r, k, row in zip(rr[:, 0], best, out)]


# --------------------------------------------------------------------------- sizes
def core_figures(fw: Firmware) -> dict:
    """The portable core in this image: arm-none-eabi-size of each core object (before
    --gc-sections), the bytes it keeps after it, and its state (the app's tinyecg_app_t,
    the only RAM the core uses besides the stack)."""
    objdir = fw.elf.parent / f"obj-{fw.arch}"
    objects = {
        src.name: elfsize.size(objdir / (str(src.resolve()).lstrip("/") + ".o"))
        for src in detect.core_sources()
    }
    return {
        "objects": objects,
        "flash_after_gc": elfsize.size_by_component(fw.elf)["core"]["flash"],
        "state_bytes": elfsize.symbol_size(fw.elf, "app"),
    }
