#!/usr/bin/env python3
"""Measure the tinyecg firmware on emulated Cortex-M (QEMU), both classifiers side by side.

    python scripts/bench_firmware_qemu.py --model M.tflite --data ../shared/data/mitdb \
        --out docs/bench/firmware_qemu.json [--records 100 119 208 233] [--seconds S]

M.tflite: an int8 model (its config.json beside it names the labels) or a run directory.
The firmware is the application every board runs (firmware/lib/tinyecg_app) behind the QEMU
board layer, built per classifier ("runtime") and core ("arch"):

  c     the interpreter-free C backend (tinyecg export --runtime c, firmware/lib/tinyecg_nn)
  tflm  TensorFlow Lite Micro: the library the Arm boards pin (bd7e861, CMSIS-NN), compiled
        from the vendored copy by tinyecg.device.tflm_lib (whole library, as PlatformIO does)
  m4    Cortex-M4F on mps2-an386 (-mfloat-abi=hard, CMSIS-NN's DSP path)
  m0    Cortex-M0+ code on mps2-an385 (v6-M, soft float, CMSIS-NN's portable C)

each at -Os unless --opt says otherwise, twice from one export: the board image (UART0
protocol) and the measurement image (semihosting). Per runtime and arch:
  flash_bytes   text (code + rodata, vectors) + .data image of the board image
  ram_bytes     .data + .bss + the stack's high-water mark of the board image after boot and
                a stream (M4: the records' streams; M0+: 60 s of record 208's excerpt)
  arena         the model's tensor memory: the C backend's static arena; TFLM's
                arena_used_bytes() of TINYECG_ARENA_BYTES
  instructions_per_beat  medians over every beat of the records (measurement image, QEMU
                -icount shift=0): preprocessing (tinyecg_preprocess_window), rhythm features,
                inference (classify()); detection = the stand-alone detector's instructions /
                its beats, and the core's whole per-beat work apart from preprocessing and
                inference
  records       per record: whether the measurement image's peaks, RR and (r, label, score) of
                every beat equal the host pipeline's (host harness + Python integer
                preprocessing + TFLM host runtime); on M4 also the board's replay over UART0 at
                full speed: every beat's (r, label, score) against the same host pipeline, QRS
                Se/+P and class accuracy vs the annotations, wall time
The C backend's M4 figures are checked against the targets (48 KB flash, 16 KB RAM, 500,000
instructions per beat for preprocessing + inference) and measured at -Os, -O2, -O3 as well.
With --records and no names, only sizes and the bundled excerpts' measurement runs.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.device import detect, elfsize, firmware_files, qemu  # noqa: E402
from tinyecg.device import firmware as fq  # noqa: E402
from tinyecg.errors import TinyECGError  # noqa: E402
from tinyecg.run import write_json  # noqa: E402
from tinyecg.spec import FS  # noqa: E402

DEFAULT_RECORDS = ["100", "119", "208", "233"]
EXCERPTS = Path(__file__).resolve().parents[1] / "tinyecg" / "data" / "excerpts" / "mitdb"
TARGETS = {
    "preprocessing_plus_inference_instructions": 500_000,
    "flash_bytes": 48 * 1024,
    "ram_bytes": 16 * 1024,
}
_ARENA = {
    "tflm": re.compile(r"^# tflm .*? arena=(\d+)/(\d+)"),
    "c": re.compile(r"^# cbackend .*? arena=(\d+)"),
}


def _median(values) -> int | None:
    return int(np.median(values)) if len(values) else None


class HostPipeline:
    """The host's side of every comparison: the host harness (x86-64 gcc build of the core)
    for peaks and RR rows, the Python integer preprocessing + TFLM host runtime for classes."""

    def __init__(self, work: Path, model: Path, labels: list[str]):
        self.exe = detect.build_host_harness(work / "host")
        self.model, self.labels = model, labels
        self.cache: dict = {}

    def __call__(self, base: Path, sampto: int | None):
        key = (str(base), sampto)
        if key not in self.cache:
            x, _, (lo, hi) = detect.read_record(base, sampto=sampto)
            if (lo, hi) != fq.MITDB_ADC_RANGE:
                raise TinyECGError(
                    f"{base}: ADC range {lo}..{hi}, the firmware is built for "
                    f"{fq.MITDB_ADC_RANGE[0]}..{fq.MITDB_ADC_RANGE[1]}"
                )
            want = fq.parse_lines(
                detect.run_harness(
                    self.exe,
                    detect.samples_text(x),
                    "--peaks",
                    "--rr",
                    "--adc-min",
                    str(lo),
                    "--adc-max",
                    str(hi),
                )
            )
            ref = fq.reference_beats(self.model, x, want.rr, labels=self.labels)
            self.cache[key] = (x, want, ref)
        return self.cache[key]


def _differing(got, want) -> int:
    return sum(a != b for a, b in zip(got, want)) + abs(len(got) - len(want))


def measure_record(fw_sh, host: HostPipeline, base: Path, sampto: int | None) -> dict:
    """Measurement image on one record: instruction counts and agreement with the host."""
    x, want, ref = host(base, sampto)
    t0 = time.monotonic()
    run = fq.run_samples(fw_sh, x, timeout=3600)
    got = [(r, label, score) for r, label, score, _ in run.lines.beats]
    return {
        "record": base.name,
        "samples": int(len(x)),
        "qemu_seconds": round(time.monotonic() - t0, 2),
        "selftest_passed": bool(
            run.lines.selftest_summary and run.lines.selftest_summary["passed"]
        ),
        "peaks_equal_host": run.lines.peaks == want.peaks,
        "rr_equal_host": run.lines.rr == want.rr,
        "classes_equal_host_pipeline": got == ref,
        "beats": len(got),
        "beats_differing": _differing(got, ref),
        "perf": run.lines.perf,
        "qemu": run.lines.qemu,
    }


def stream_record(fw_uart, host: HostPipeline, base: Path, seconds: float | None) -> dict:
    """The board image on one record over UART0: every beat against the host pipeline."""
    sampto = None if seconds is None else int(round(seconds * FS))
    _, _, ref = host(base, sampto)
    t0 = time.monotonic()
    res = fq.stream(fw_uart, base, seconds=seconds, timeout=7200)
    wall = time.monotonic() - t0
    got = [(r, label, score) for r, label, score, _ in res["beats"]]
    cls = res["classes"]
    return {
        "record": base.name,
        "samples": res["samples"],
        "wall_seconds": round(wall, 1),
        "realtime_factor": round(res["samples"] / FS / wall, 2) if wall else None,
        "beats_reported": res["beats_reported"],
        "beats_equal_host_pipeline": got == ref,
        "beats_differing": _differing(got, ref),
        "qrs": res["qrs"],
        "class_accuracy": cls["accuracy"],
        "class_n": cls["n"],
        "macro_f1": cls["macro_f1"],
        "per_class": cls["per_class"],
        "labels": cls["labels"],
        "confusion": cls["confusion"],
        "selftest_passed": bool(
            res["device"]["selftest_summary"] and res["device"]["selftest_summary"]["passed"]
        ),
        "exit_code": res["exit_code"],
        "device_perf": res["device"]["perf"],
        "status": res["status"][:4],
    }


def _arena(runtime: str, status: list[str]) -> dict | None:
    for line in status:
        if m := _ARENA[runtime].match(line):
            used = int(m.group(1))
            return {"used": used, "reserved": int(m.group(2)) if m.lastindex == 2 else used}
    return None


def stack_after_stretch(fw_uart, seconds: float = 60) -> tuple[int, list[str]]:
    """The board image's stack high-water mark after boot and a stretch of record 208's
    excerpt over UART0, and its status lines."""
    x = detect.read_record(EXCERPTS / "208", sampto=int(seconds * FS))[0]
    with qemu.serial_tcp(fw_uart.elf, timeout=900, machine=qemu.MACHINES[fw_uart.arch]) as url:
        lines = fq.replay(url, x, timeout=800)
        stack = fq.device_command(url, "perf").qemu["stack_peak"]
        fq.stop(url)
    return stack, lines.status


def per_beat(measured: list[dict]) -> dict:
    perf = [p for m in measured for p in m["perf"]]
    det = sum(m["qemu"]["det_instr"] for m in measured)
    det_peaks = sum(m["qemu"]["det_peaks"] for m in measured)
    app = sum(m["qemu"]["app_instr"] for m in measured)
    beats = sum(m["qemu"]["beats"] for m in measured)
    samples = sum(m["qemu"]["samples"] for m in measured)
    return {
        "detection": round(det / det_peaks) if det_peaks else None,
        "detection_per_sample": round(det / samples, 1) if samples else None,
        "core_per_beat": round(app / beats) if beats else None,
        "preprocessing": _median([p["pre"] for p in perf]),
        "rhythm_features": _median([p["rhythm"] for p in perf]),
        "inference": _median([p["inf"] for p in perf]),
        "inference_max": max((p["inf"] for p in perf), default=None),
        "beats": len(perf),
    }


def bench_build(
    runtime: str,
    arch: str,
    args,
    work: Path,
    export_dir: Path,
    host: HostPipeline,
    bases: list[Path],
    stream: bool,
) -> dict:
    """One runtime on one core: sizes, RAM, arena, instructions, agreement."""
    lib = None
    if runtime == "tflm":
        from tinyecg.device import tflm_lib

        # the whole library on the M4, as PlatformIO compiles it; on the M0+ the files the
        # firmware links (firmware/scripts/tflm_linked_sources.txt): the same objects linked
        lib = tflm_lib.build_library(
            arch, sources=None if arch == "m4" else tflm_lib.read_linked_sources()
        )
    # the beat path alone (its figures; the two-task image is scripts/bench_rhythm_qemu.py's)
    kw = dict(
        export_dir=export_dir,
        runtime=runtime,
        arch=arch,
        opt=args.opt,
        tflm_library=lib,
        rhythm=False,
    )
    fw_uart = fq.build_firmware(work, io="uart", **kw)
    fw_sh = fq.build_firmware(work, io="semihost", **kw)
    sampto = None if args.seconds is None else int(round(args.seconds * FS))
    measured = [measure_record(fw_sh, host, b, sampto) for b in bases]
    streamed = [stream_record(fw_uart, host, b, args.seconds) for b in bases] if stream else []
    if streamed:
        stack = max(s["device_perf"]["stack_peak"] for s in streamed)
        stack_from = "board image after each record's stream (#qemu perf)"
        status = streamed[0]["status"]
    else:
        stack, status = stack_after_stretch(fw_uart)
        stack_from = "board image after 60 s of record 208's excerpt (#qemu perf)"
    sizes = dict(fw_uart.sizes, stack_peak=stack, stack_peak_from=stack_from)
    figures = per_beat(measured)
    out = {
        "build": {
            "arch": arch,
            "machine": qemu.MACHINES[arch],
            "opt": f"-O{args.opt}",
            "defs": fw_uart.defs,
        },
        "flash_bytes": fw_uart.flash_bytes,
        "ram_bytes": fw_uart.static_ram_bytes + stack,
        "sizes": sizes,
        "components": elfsize.size_by_component(fw_uart.elf),
        "arena": _arena(runtime, status),
        "instructions_per_beat": figures,
        "records": [
            {
                **{k: v for k, v in m.items() if k != "perf"},
                "stream": next((s for s in streamed if s["record"] == m["record"]), None),
            }
            for m in measured
        ],
        "all_beats_equal_host_pipeline": all(
            m["classes_equal_host_pipeline"] and m["peaks_equal_host"] for m in measured
        )
        and all(s["beats_equal_host_pipeline"] for s in streamed),
    }
    if lib is not None:
        out["tflm_library"] = {
            "target": lib.target,
            "sources": lib.sources,
            "compile_seconds": lib.compile_seconds,
            "key": lib.key,
        }
    if runtime == "c" and arch == "m4":
        out["core"] = fq.core_figures(fw_uart)
    pre_inf = (figures["preprocessing"] or 0) + (figures["inference"] or 0)
    out["targets_met"] = {
        "preprocessing_plus_inference_instructions": pre_inf
        <= TARGETS["preprocessing_plus_inference_instructions"],
        "flash_bytes": out["flash_bytes"] <= TARGETS["flash_bytes"],
        "ram_bytes": out["ram_bytes"] <= TARGETS["ram_bytes"],
    }
    print(
        f"{runtime:>4} {arch}: flash {out['flash_bytes']} B, RAM {out['ram_bytes']} B "
        f"(data {sizes['data']} + bss {sizes['bss']} + stack {stack}), arena {out['arena']}, "
        f"pre {figures['preprocessing']} inf {figures['inference']} instr/beat "
        f"({figures['beats']} beats), all beats equal host: "
        f"{out['all_beats_equal_host_pipeline']}",
        flush=True,
    )
    return out


def opt_levels(export_dir: Path, work: Path) -> dict:
    """The C backend per gcc level (-Os, -O2, -O3): the board image's flash and RAM (stack
    peak after 20 s of record 208's excerpt over UART0) and the self-test's instructions per
    golden beat."""
    x = detect.read_record(EXCERPTS / "208", sampto=20 * FS)[0]
    out = {}
    for opt in fq.OPTS:
        board = fq.build_firmware(work, export_dir=export_dir, io="uart", opt=opt, rhythm=False)
        sh = fq.build_firmware(work, export_dir=export_dir, io="semihost", opt=opt, rhythm=False)
        run = fq.run_samples(sh, [1024] * 10)
        with qemu.serial_tcp(board.elf, timeout=120) as url:
            fq.replay(url, x, timeout=100)
            stack = fq.device_command(url, "perf").qemu["stack_peak"]
            fq.stop(url)
        vec = run.lines.selftest
        pre = _median([v["pre_instr"] for v in vec])
        inf = _median([v["inf_instr"] for v in vec])
        ram = board.static_ram_bytes + stack
        out[f"O{opt}"] = {
            "flash_bytes": board.flash_bytes,
            "ram_bytes": ram,
            "stack_peak": stack,
            "preprocessing": pre,
            "inference": inf,
            "meets_targets": (
                pre + inf <= TARGETS["preprocessing_plus_inference_instructions"]
                and board.flash_bytes <= TARGETS["flash_bytes"]
                and ram <= TARGETS["ram_bytes"]
            ),
            "selftest_passed": run.lines.selftest_summary["passed"],
        }
    return out


def git_state() -> dict:
    """HEAD and whether the files the image is built from differ from it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    paths = ["firmware", "templates", "tinyecg/export", "tinyecg/dsp", "tinyecg/device"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return {"head": None}
    return {"head": head or None, "modified": sorted(line[3:] for line in dirty if line.strip())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", required=True, help="int8 .tflite (config.json beside it) or run dir"
    )
    ap.add_argument("--data", required=True, help="folder with the MIT-BIH records")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument(
        "--records",
        nargs="*",
        default=DEFAULT_RECORDS,
        help="records to stream (default: 100 119 208 233; none: sizes only)",
    )
    ap.add_argument("--seconds", type=float, default=None, help="only the first seconds of each")
    ap.add_argument("--golden", type=int, default=8, help="golden vectors in the image")
    ap.add_argument("--opt", choices=fq.OPTS, default="s", help="gcc -O level (default: s)")
    ap.add_argument("--runtimes", nargs="+", choices=("c", "tflm"), default=["c", "tflm"])
    ap.add_argument("--arches", nargs="+", choices=fq.ARCHES, default=list(fq.ARCHES))
    ap.add_argument("--no-stream", action="store_true", help="skip the UART replays")
    ap.add_argument("--no-opt-levels", action="store_true", help="skip the -O2/-O3 builds")
    args = ap.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(
            f"missing: {', '.join(missing)} (gcc-arm-none-eabi, qemu-system-arm)", file=sys.stderr
        )
        return 2
    data, model = Path(args.data), Path(args.model)
    t_start = time.monotonic()
    from tinyecg.export.exporter import resolve_source

    model_file = resolve_source(model).model  # the file the exports are made from
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="tinyecg-bench-fw-") as tmp:
        work = Path(tmp)
        exports = {rt: work / f"model-{rt}" for rt in args.runtimes}
        for rt, folder in exports.items():
            fq.export_model(model, folder, golden=args.golden, runtime=rt)
        manifest = firmware_files.export_manifest(next(iter(exports.values())))
        host = HostPipeline(work, model_file, list(manifest["labels"]))
        bases = [data / r for r in args.records] or [EXCERPTS / "208", EXCERPTS / "100"]
        for runtime in args.runtimes:
            results[runtime] = {}
            for arch in args.arches:
                # the UART streams of whole records on the M4 only: the M0+ image is the same
                # application, checked beat by beat by its measurement runs
                stream = bool(args.records) and not args.no_stream and arch == "m4"
                results[runtime][arch] = bench_build(
                    runtime, arch, args, work, exports[runtime], host, bases, stream
                )
        levels = (
            None
            if args.no_opt_levels or "c" not in args.runtimes
            else opt_levels(exports["c"], work)
        )

    c_m4 = results.get("c", {}).get("m4")
    result = {
        "command": "python scripts/bench_firmware_qemu.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "toolchain": qemu.toolchain_versions(),
        "git": git_state(),
        "model": {
            "file": model_file.name,
            "sha256": manifest["model"]["sha256"],
            "bytes": manifest["model"]["bytes"],
            "ops": manifest["model"]["ops"],
            "labels": manifest["labels"],
            "golden_vectors": manifest["golden"]["count"],
        },
        "targets": TARGETS,
        "c_backend_m4_meets_targets": c_m4["targets_met"] if c_m4 else None,
        "runtimes": results,
        "opt_levels": levels,
        "seconds": round(time.monotonic() - t_start, 1),
    }
    if levels:
        for name, v in levels.items():
            print(
                f"C backend -{name}: flash {v['flash_bytes']} B, RAM {v['ram_bytes']} B, "
                f"preprocessing {v['preprocessing']}, inference {v['inference']}, all "
                f"targets met: {v['meets_targets']}"
            )
    out = Path(args.out)
    write_json(out, result)
    print(f"wrote {out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    import signal

    # SIGTERM unwinds like Ctrl-C, so serial_tcp's cleanup stops the QEMU it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except TinyECGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
