#!/usr/bin/env python3
"""Measure the whole tinyecg firmware on an emulated Cortex-M4 (QEMU mps2-an386).

    python scripts/bench_firmware_qemu.py --model M.tflite --data ../shared/data/mitdb \
        --out docs/bench/firmware_qemu.json [--records 100 119 208 233] [--seconds S]

M.tflite: an int8 model (its config.json beside it names the labels) or a run directory.
The firmware (core + generated fixed-point preprocessing + generated C backend) is
built twice from one export: the board image (UART0 protocol) and the measurement image
(semihosting), at -Os unless --opt says otherwise. Reported:
  flash_bytes   text (code + rodata, vectors) + .data image of the board image
  ram_bytes     .data + .bss + the stack high-water mark measured on the board while it
                streamed the records ("#qemu perf")
  instructions_per_beat  medians over every beat of the records (measurement image, QEMU
                -icount shift=0): preprocessing (tinyecg_preprocess_window), rhythm features,
                inference (the C backend); detection = the stand-alone detector's
                instructions / its beats (it runs per sample, so this is a mean), and the
                core's whole per-beat work apart from preprocessing and inference
  records       per record: the board's replay over UART0 through tinyecg.device.stream at full
                speed (QRS Se/+P and class accuracy vs the annotations, wall time), and
                whether the measurement image's peaks, RR and classes equal the host pipeline
                (host harness + Python integer preprocessing + TFLM)
  tflm          the same model under TFLite Micro: flatbuffer bytes, host arena bytes
                (tinyecg.runtime.tflm.TFLMModel.arena_bytes()), the exporter's TINYECG_ARENA_BYTES
  opt_levels    flash, RAM and the self-test's instructions per beat at -Os, -O2, -O3
With --records and no names, only sizes and the bundled excerpts' instruction counts.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg.device import detect, elfsize, qemu  # noqa: E402
from tinyecg.device import firmware as fq  # noqa: E402
from tinyecg.errors import TinyECGError  # noqa: E402
from tinyecg.run import write_json  # noqa: E402
from tinyecg.spec import FS  # noqa: E402

DEFAULT_RECORDS = ["100", "119", "208", "233"]
EXCERPTS = Path(__file__).resolve().parents[1] / "tinyecg" / "data" / "excerpts" / "mitdb"
TARGETS = {"preprocessing_plus_inference_instructions": 500_000,
           "flash_bytes": 48 * 1024, "ram_bytes": 16 * 1024}


def _median(values) -> int | None:
    return int(np.median(values)) if len(values) else None


def measure_record(fw_sh, host, model, base: Path, seconds: float | None) -> dict:
    """Measurement image on one record: instruction counts and agreement with the host."""
    sampto = None if seconds is None else int(round(seconds * FS))
    x, ch, (lo, hi) = detect.read_record(base, sampto=sampto)
    if (lo, hi) != fq.MITDB_ADC_RANGE:
        raise TinyECGError(f"{base}: ADC range {lo}..{hi}, the firmware is built for "
                           f"{fq.MITDB_ADC_RANGE[0]}..{fq.MITDB_ADC_RANGE[1]}")
    t0 = time.monotonic()
    run = fq.run_samples(fw_sh, x, timeout=1800)
    qemu_s = time.monotonic() - t0
    want = fq.parse_lines(detect.run_harness(host, detect.samples_text(x), "--peaks", "--rr",
                                             "--adc-min", str(lo), "--adc-max", str(hi)))
    ref = fq.reference_beats(model, x, want.rr, labels=fw_sh.labels)
    got = [(r, label, score) for r, label, score, _ in run.lines.beats]
    q = run.lines.qemu
    return {
        "record": base.name, "channel": ch, "samples": int(len(x)),
        "qemu_seconds": round(qemu_s, 2),
        "selftest_passed": bool(run.lines.selftest_summary
                                and run.lines.selftest_summary["passed"]),
        "peaks_equal_host": run.lines.peaks == want.peaks,
        "rr_equal_host": run.lines.rr == want.rr,
        "classes_equal_host_pipeline": got == ref,
        "beats": len(got),
        "beats_differing": sum(a != b for a, b in zip(got, ref)) + abs(len(got) - len(ref)),
        "perf": run.lines.perf, "qemu": q,
    }


def stream_record(fw_uart, base: Path, seconds: float | None) -> dict:
    t0 = time.monotonic()
    res = fq.stream(fw_uart, base, seconds=seconds, timeout=7200)
    wall = time.monotonic() - t0
    cls = res["classes"]
    return {
        "record": base.name, "samples": res["samples"], "wall_seconds": round(wall, 1),
        "realtime_factor": round(res["samples"] / FS / wall, 2) if wall else None,
        "beats_reported": res["beats_reported"], "qrs": res["qrs"],
        "class_accuracy": cls["accuracy"], "class_n": cls["n"], "macro_f1": cls["macro_f1"],
        "per_class": cls["per_class"], "labels": cls["labels"], "confusion": cls["confusion"],
        "selftest_passed": bool(res["device"]["selftest_summary"]
                                and res["device"]["selftest_summary"]["passed"]),
        "exit_code": res["exit_code"], "device_perf": res["device"]["perf"],
    }


def opt_levels(model_export: Path, work: Path) -> dict:
    """Per gcc level (-Os, -O2, -O3): the board image's flash and RAM (stack peak after 20 s
    of record 208's excerpt over UART0) and the self-test's instructions per golden beat."""
    x = detect.read_record(EXCERPTS / "208", sampto=20 * FS)[0]
    out = {}
    for opt in fq.OPTS:
        board = fq.build_firmware(work, export_dir=model_export, io="uart", opt=opt)
        sh = fq.build_firmware(work, export_dir=model_export, io="semihost", opt=opt)
        run = fq.run_samples(sh, [1024] * 10)
        with qemu.serial_tcp(board.elf, timeout=120) as url:
            fq.replay(url, x, timeout=100)
            stack = fq.device_command(url, "perf").qemu["stack_peak"]
            fq.stop(url)
        vec = run.lines.selftest
        pre = _median([v["pre_instr"] for v in vec])
        inf = _median([v["inf_instr"] for v in vec])
        ram = board.sizes["data"] + board.sizes["bss"] + stack
        out[f"O{opt}"] = {"flash_bytes": board.flash_bytes, "ram_bytes": ram,
                          "stack_peak": stack, "preprocessing": pre, "inference": inf,
                          "meets_targets": (
                              pre + inf <= TARGETS["preprocessing_plus_inference_instructions"]
                              and board.flash_bytes <= TARGETS["flash_bytes"]
                              and ram <= TARGETS["ram_bytes"]),
                          "selftest_passed": run.lines.selftest_summary["passed"]}
    return out


def tflm_figures(model_path: Path, work: Path) -> dict:
    from tinyecg.export.exporter import export, resolve_source
    from tinyecg.runtime.tflm import TFLMModel

    data = resolve_source(model_path).model.read_bytes()
    summary = export(model_path, work / "tflm_export", golden=1, force=True, runtime="tflm")
    return {"flatbuffer_bytes": len(data), "arena_bytes_host": TFLMModel(data).arena_bytes(),
            "arena_bytes_target_estimate": summary["arena"]["total"],
            "note": "host arena from the 64-bit PyPI tflite-micro runtime; the exporter's "
                    "TINYECG_ARENA_BYTES adds its documented margin; the TFLM runtime code "
                    "itself (~100 KB with CMSIS-NN) is not included"}


def git_state() -> dict:
    """HEAD and whether the files the image is built from differ from it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    paths = ["firmware", "templates", "tinyecg/export", "tinyecg/dsp"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return {"head": None}
    return {"head": head or None, "modified": sorted(line[3:] for line in dirty if line.strip())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True,
                    help="int8 .tflite (config.json beside it) or run dir")
    ap.add_argument("--data", required=True, help="folder with the MIT-BIH records")
    ap.add_argument("--out", required=True, help="JSON file to write")
    ap.add_argument("--records", nargs="*", default=DEFAULT_RECORDS,
                    help="records to stream (default: 100 119 208 233; none: sizes only)")
    ap.add_argument("--seconds", type=float, default=None, help="only the first seconds of each")
    ap.add_argument("--golden", type=int, default=8, help="golden vectors in the image")
    ap.add_argument("--opt", choices=fq.OPTS, default="s", help="gcc -O level (default: s)")
    ap.add_argument("--no-stream", action="store_true", help="skip the UART replays")
    ap.add_argument("--no-opt-levels", action="store_true", help="skip the -O2/-O3 builds")
    args = ap.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(f"missing: {', '.join(missing)} (gcc-arm-none-eabi, qemu-system-arm)",
              file=sys.stderr)
        return 2
    data = Path(args.data)
    model = Path(args.model)
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tinyecg-bench-fw-") as tmp:
        work = Path(tmp)
        export_dir = work / "model"
        fq.export_model(model, export_dir, golden=args.golden)
        from tinyecg.export.exporter import resolve_source

        model_file = resolve_source(model).model  # the file the export was made from
        fw_uart = fq.build_firmware(work, export_dir=export_dir, io="uart", opt=args.opt)
        fw_sh = fq.build_firmware(work, export_dir=export_dir, io="semihost", opt=args.opt)
        host = detect.build_host_harness(work / "host")
        components = elfsize.size_by_component(fw_uart.elf)
        core = fq.core_figures(fw_uart)

        bases = [data / r for r in args.records] or [EXCERPTS / "208", EXCERPTS / "100"]
        measured, streamed = [], []
        print(f"{'rec':>4} {'beats':>6} {'peaks=host':>10} {'classes=host':>12} "
              f"{'Se %':>7} {'+P %':>7} {'acc %':>7} {'wall s':>7} {'x rt':>5}")
        for base in bases:
            m = measure_record(fw_sh, host, model_file, base, args.seconds)
            measured.append(m)
            s = stream_record(fw_uart, base, args.seconds) \
                if args.records and not args.no_stream else None
            if s:
                streamed.append(s)
            fmt = lambda v: "-" if v is None else f"{100 * v:7.2f}"  # noqa: E731
            same_peaks = m["peaks_equal_host"] and m["rr_equal_host"]
            print(f"{base.name:>4} {m['beats']:>6} {str(same_peaks):>10} "
                  f"{str(m['classes_equal_host_pipeline']):>12} "
                  f"{fmt(s['qrs']['se']) if s else '-':>7} {fmt(s['qrs']['ppv']) if s else '-':>7} "
                  f"{fmt(s['class_accuracy']) if s else '-':>7} "
                  f"{s['wall_seconds'] if s else '-':>7} {s['realtime_factor'] if s else '-':>5}")

        perf = [p for m in measured for p in m["perf"]]
        det = sum(m["qemu"]["det_instr"] for m in measured)
        det_peaks = sum(m["qemu"]["det_peaks"] for m in measured)
        app = sum(m["qemu"]["app_instr"] for m in measured)
        beats = sum(m["qemu"]["beats"] for m in measured)
        samples = sum(m["qemu"]["samples"] for m in measured)
        per_beat = {
            "detection": round(det / det_peaks) if det_peaks else None,
            "detection_per_sample": round(det / samples, 1) if samples else None,
            "core_per_beat": round(app / beats) if beats else None,
            "preprocessing": _median([p["pre"] for p in perf]),
            "rhythm_features": _median([p["rhythm"] for p in perf]),
            "inference": _median([p["inf"] for p in perf]),
            "beats": len(perf),
        }
        stack_peaks = [s["device_perf"]["stack_peak"] for s in streamed if s["device_perf"]]
        if not stack_peaks:  # no stream: the measurement image's peak (stdio makes it deeper)
            stack_peaks = [m["qemu"]["stack_peak"] for m in measured]
        sizes = dict(fw_uart.sizes, stack_peak=max(stack_peaks),
                     stack_peak_from="board image, #qemu perf" if streamed else "semihost image")
        flash = fw_uart.flash_bytes
        ram = fw_uart.sizes["data"] + fw_uart.sizes["bss"] + sizes["stack_peak"]
        pre_inf = (per_beat["preprocessing"] or 0) + (per_beat["inference"] or 0)
        tflm = tflm_figures(model, work)
        levels = None if args.no_opt_levels else opt_levels(export_dir, work)
        manifest = fw_uart.manifest

    result = {
        "command": "python scripts/bench_firmware_qemu.py "
                   + " ".join(sys.argv[1:] if argv is None else argv),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "toolchain": qemu.toolchain_versions(),
        "git": git_state(),
        "build": {"cflags": "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 "
                            f"-O{args.opt}",
                  "classifier": "cbackend", "golden_vectors": manifest["golden"]["count"],
                  "defs": fw_uart.defs},
        "model": {"file": str(model_file), "sha256": manifest["model"]["sha256"],
                  "bytes": manifest["model"]["bytes"], "ops": manifest["model"]["ops"],
                  "labels": manifest["labels"]},
        "flash_bytes": flash, "ram_bytes": ram, "sizes": sizes, "components": components,
        "core": core,
        "instructions_per_beat": per_beat,
        "targets": {**TARGETS, "met": {
            "preprocessing_plus_inference_instructions":
                pre_inf <= TARGETS["preprocessing_plus_inference_instructions"],
            "flash_bytes": flash <= TARGETS["flash_bytes"],
            "ram_bytes": ram <= TARGETS["ram_bytes"]},
            "preprocessing_plus_inference": pre_inf},
        "tflm": tflm,
        "opt_levels": levels,
        "records": [{**{k: v for k, v in m.items() if k not in ("perf",)},
                     "stream": next((s for s in streamed if s["record"] == m["record"]), None)}
                    for m in measured],
        "seconds": round(time.monotonic() - t_start, 1),
    }
    print(f"flash {flash} B (target {TARGETS['flash_bytes']}), RAM {ram} B = data "
          f"{fw_uart.sizes['data']} + bss {fw_uart.sizes['bss']} + stack {sizes['stack_peak']} "
          f"(target {TARGETS['ram_bytes']})")
    print(f"instructions per beat (median of {per_beat['beats']}): preprocessing "
          f"{per_beat['preprocessing']}, rhythm {per_beat['rhythm_features']}, inference "
          f"{per_beat['inference']} (pre + inf {pre_inf}, target "
          f"{TARGETS['preprocessing_plus_inference_instructions']}); detection "
          f"{per_beat['detection']} per beat ({per_beat['detection_per_sample']} per sample)")
    print(f"core: {core['flash_after_gc']} B of flash after --gc-sections, state "
          f"(tinyecg_app_t) {core['state_bytes']} B; objects " + ", ".join(
              f"{k} {v['text']}/{v['data']}/{v['bss']}" for k, v in core["objects"].items()))
    print(f"TFLM: flatbuffer {tflm['flatbuffer_bytes']} B, arena {tflm['arena_bytes_host']} B "
          f"(host), TINYECG_ARENA_BYTES {tflm['arena_bytes_target_estimate']}")
    if levels:
        for name, v in levels.items():
            print(f"-{name}: flash {v['flash_bytes']} B, RAM {v['ram_bytes']} B, preprocessing "
                  f"{v['preprocessing']}, inference {v['inference']}, all targets met: "
                  f"{v['meets_targets']}")
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
