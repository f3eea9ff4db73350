"""The whole tinyecg firmware on an emulated Cortex-M4 (QEMU mps2-an386): build, self-test,
stream, measure.

The application lives in ``firmware/targets/mps2-an386/app`` (see docs/firmware-qemu.md): the
portable core (``firmware/lib/tinyecg_core``), the generated fixed-point preprocessing and
golden vectors, and the generated C backend as its classifier, all from
``tinyecg.export.exporter.export(model, dir, runtime="c")``.

    fw = build_firmware(tmp / "fw", "model.tflite")               # the board: UART0 protocol
    with qemu.serial_tcp(fw.elf) as url:                           # exactly as a real board
        stream.stream_record(url, "mitdb/208", speed=0)
    run = run_samples(build_firmware(tmp / "sh", "model.tflite", io="semihost"), samples)
    run.beats, run.perf, run.summary                               # instruction counts

Two builds of the same sources (``io``):
  "uart"      the board: golden self-test at reset, then the core's line protocol on UART0;
              sleeps in WFI between bytes. The image whose size is reported.
  "semihost"  measurement build: samples on QEMU's stdin, peaks / RR / beat lines and
              per-beat instruction counts on its stdout, exit code 0 when the self-test passed.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from tinyecg.device import detect, elfsize, qemu
from tinyecg.errors import TinyECGError
from tinyecg.spec import LABEL_SETS, MITDB_ADC_BASELINE, MITDB_ADC_GAIN, MITDB_ADC_RANGE

IOS = {"uart": 0, "semihost": 1}                     # TINYECG_QEMU_IO
CLASSIFIERS = {"none": 0, "cbackend": 1}             # TINYECG_CLASSIFIER
OPTS = ("s", "2", "3")
MITDB_CALIBRATION = (MITDB_ADC_BASELINE, MITDB_ADC_GAIN)
GENERATED_C = {"uart": ("tinyecg_preprocess_params.c", "tinyecg_golden.c"),
               "model": ("tinyecg_model.c",)}
_KV = re.compile(r"([A-Za-z_]+)=(\S+)")


def app_dir() -> Path:
    """firmware/targets/mps2-an386/app (the QEMU firmware application's C sources)."""
    path = qemu.target_dir() / "app"
    if not (path / "main.c").is_file():
        raise TinyECGError(f"{path}: the QEMU firmware application is missing")
    return path


@dataclass
class Firmware:
    """One built image and what went into it."""
    elf: Path
    io: str
    classifier: str
    export_dir: Path
    model: Path
    labels: list[str]
    defs: dict
    opt: str
    sizes: dict            # arm-none-eabi-size: text (code + rodata), data, bss
    manifest: dict = field(repr=False, default_factory=dict)

    @property
    def flash_bytes(self) -> int:
        """Code memory: text (vectors, code, rodata) + the .data image copied at reset."""
        return self.sizes["text"] + self.sizes["data"]


def export_model(model, out_dir, golden: int = 8) -> dict:
    """`tinyecg export MODEL --runtime c --golden N --force` into out_dir (quiet)."""
    from tinyecg.export.exporter import export

    return export(model, out_dir, golden=golden, force=True, runtime="c")


def build_firmware(out_dir, model=None, *, io: str = "uart", classifier: str = "cbackend",
                   golden: int = 8, export_dir=None, adc_range=MITDB_ADC_RANGE,
                   calibration=MITDB_CALIBRATION, instr_per_us: int = 64, opt: str = "s",
                   timeout: float = 600) -> Firmware:
    """Export `model` (a .tflite or run directory; None: the model shipped with tinyecg) with the C
    backend and build the QEMU firmware in out_dir; returns the Firmware (ELF, sizes, ...).

    io "uart" (the board) or "semihost" (measurement build); classifier "cbackend" or
    "none" (detection only; the self-test then checks the preprocessing alone); opt the
    gcc optimisation level ("s" = -Os, the default; "2"; "3"). export_dir: reuse an
    export made earlier (its manifest must say runtime "c"). instr_per_us: divisor turning
    classify()'s instruction count into the protocol's inference_us (1: instructions)."""
    if io not in IOS:
        raise TinyECGError(f"io must be one of {', '.join(IOS)}, not {io!r}")
    if classifier not in CLASSIFIERS:
        raise TinyECGError(f"classifier must be one of {', '.join(CLASSIFIERS)}, "
                           f"not {classifier!r}")
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
    out = Path(out_dir)
    if export_dir is None:
        export_dir = out / "model"
        export_model(model, export_dir, golden=golden)
    export_dir = Path(export_dir)
    manifest_path = export_dir / "manifest.json"
    if not manifest_path.is_file():
        raise TinyECGError(f"{export_dir}: not a tinyecg export (no manifest.json)")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("runtime") != "c":
        raise TinyECGError(f"{export_dir}: exported with runtime {manifest.get('runtime')!r}; "
                           "the QEMU firmware needs --runtime c")
    app = app_dir()
    srcs = [*detect.core_sources(), *detect.dsp_sources(), app / "main.c", app / "app_model.c",
            *(export_dir / name for name in GENERATED_C["uart"])]
    includes = [detect.core_include(), detect.dsp_include(), app, export_dir]
    if classifier == "cbackend":
        from tinyecg.export import cbackend

        # the generated model is data and calls; the kernels are firmware/lib/tinyecg_nn
        srcs += [export_dir / name for name in GENERATED_C["model"]]
        srcs += cbackend.library_sources()
        includes.append(cbackend.library_include())
    defs = {"TINYECG_QEMU_IO": IOS[io], "TINYECG_CLASSIFIER": CLASSIFIERS[classifier],
            "TINYECG_ADC_MIN": lo, "TINYECG_ADC_MAX": hi,
            "TINYECG_ADC_BASELINE": base, "TINYECG_ADC_GAIN": gain,
            "TINYECG_QEMU_INSTR_PER_US": instr_per_us}
    elf = qemu.build(srcs, includes=includes, defs=defs,
                     out_dir=out / f"{io}-{classifier}-O{opt}", app="tinyecg_fw",
                     extra_cflags=[f"-O{opt}"], timeout=timeout)
    return Firmware(elf=elf, io=io, classifier=classifier, export_dir=export_dir,
                    model=Path(manifest["source"]["model"]), labels=list(manifest["labels"]),
                    defs=defs, opt=opt, sizes=qemu.size(elf), manifest=manifest)


# --------------------------------------------------------------------------- output parsing
def _kv(text: str) -> dict:
    out = {}
    for key, value in _KV.findall(text):
        out[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


@dataclass
class DeviceLines:
    """The protocol lines a device printed, sorted by kind."""
    selftest: list[dict] = field(default_factory=list)   # one per golden vector
    selftest_summary: dict | None = None                  # {"passed": bool, vectors=, ...}
    info: str | None = None                                # "# tinyecg ..."
    peaks: list[int] = field(default_factory=list)
    rr: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    beats: list[tuple[int, str, int, int]] = field(default_factory=list)  # r, label, score, us
    perf: list[dict] = field(default_factory=list)         # per beat: pre, rhythm, inf
    qemu: dict | None = None                               # "# qemu ..." key=values
    stats: dict | None = None
    status: list[str] = field(default_factory=list)        # every other "#" line
    other: list[str] = field(default_factory=list)


def parse_lines(text: str) -> DeviceLines:
    """Sort a device's output lines (see firmware/targets/mps2-an386/app/main.c)."""
    out = DeviceLines()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("# selftest "):
            words = line.split()
            if words[2].isdigit():
                out.selftest.append(dict(_kv(line), index=int(words[2])))
            else:
                out.selftest_summary = dict(_kv(line), passed=words[2] == "pass")
        elif line.startswith("# perf "):
            out.perf.append(_kv(line))
        elif line.startswith("# qemu "):
            out.qemu = _kv(line)
        elif line.startswith("# stats"):
            out.stats = _kv(line)
        elif line.startswith("# tinyecg"):
            out.info = line
        elif line.startswith("#"):
            out.status.append(line)
        elif line.isdigit():
            out.peaks.append(int(line))
        elif line.startswith("R ") and len(line.split()) == 6:
            out.rr.append(tuple(int(v) for v in line.split()[1:]))
        elif line.startswith("B ") and len(line.split()) == 5:
            _, r, label, score, us = line.split()
            out.beats.append((int(r), label, int(score), int(us)))
        else:
            out.other.append(line)
    return out


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
    result = qemu.run(fw.elf, timeout=timeout, stdin_bytes=detect.samples_text(samples))
    if result.timed_out:
        raise TinyECGError(f"{fw.elf.name}: QEMU did not finish in {timeout:g} s")
    lines = parse_lines(result.stdout)
    if lines.qemu is None:
        first = (result.stderr.strip().splitlines() or ["no output"])[0]
        raise TinyECGError(f"{fw.elf.name}: the firmware stopped early (exit "
                           f"{result.returncode}: {first})")
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
        done = lambda got: _line_after(b"# selftest pass")(got) or \
            _line_after(b"# selftest FAIL")(got)  # noqa: E731
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
    with qemu.serial_tcp(fw.elf, timeout=timeout) as url:
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


def stream(fw: Firmware, record, seconds: float | None = None, timeout: float = 3600) -> dict:
    """Boot the UART build under QEMU with UART0 on a TCP port and replay a WFDB record
    through tinyecg.device.stream.stream_record at full speed, as to a board; then ask for the
    firmware's own counters ("#qemu perf") and stop it. Returns stream_record's result plus
    "device" (self-test, perf) and "exit_code"."""
    from tinyecg.device.stream import stream_record

    if fw.io != "uart":
        raise TinyECGError("stream needs a firmware built with io='uart'")
    with qemu.serial_tcp(fw.elf, timeout=timeout) as url:
        result = stream_record(url, str(record), speed=0, labels=label_map(fw.labels),
                               seconds=seconds, reply_timeout=min(timeout, 600))
        perf = device_command(url, "perf").qemu
        done = stop(url)
    selftest = parse_lines("\n".join(result["status"]))
    result["device"] = {"selftest": selftest.selftest,
                        "selftest_summary": selftest.selftest_summary,
                        "perf": perf, "info": selftest.info}
    result["exit_code"] = done.returncode
    return result


# --------------------------------------------------------------------------- the host pipeline
def reference_beats(model, samples, rr_rows, calibration=MITDB_CALIBRATION,
                    labels: list[str] | None = None) -> list[tuple[int, str, int]]:
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
    beat_q, rhythm_q = fixed_inputs(clf, clf.preprocess_params(), windows_at(x, rr[:, 0]),
                                    rr[:, 1:], calibration[0], calibration[1])
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
    objdir = fw.elf.parent / "obj-m4"
    objects = {src.name: elfsize.size(objdir / (str(src.resolve()).lstrip("/") + ".o"))
               for src in detect.core_sources()}
    return {"objects": objects,
            "flash_after_gc": elfsize.size_by_component(fw.elf)["core"]["flash"],
            "state_bytes": elfsize.symbol_size(fw.elf, "app")}
