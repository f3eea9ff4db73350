#!/usr/bin/env python3
"""Measure the two-task firmware (beats + the shockable-rhythm task) on an emulated Cortex-M4.

    python scripts/bench_rhythm_qemu.py --data ../shared/data --out docs/bench/rhythm_qemu.json

The firmware is the application every board runs (firmware/lib/tinyecg_app) behind the QEMU
board layer (mps2-an386, Cortex-M4F, -Os), C backend for both models: the shipped beat model
(exported at build time with 8 golden beats, as scripts/bench_firmware_qemu.py does) and the
committed rhythm export (firmware/lib/tinyecg_rhythm_model), the two models sharing one
arena (TINYECG_NN_SHARED_ARENA). It writes:

  image         the board image (UART0), MIT-BIH calibration: flash (text + .data image),
                RAM (.data + .bss + the stack's high-water mark after boot and 60 s of record
                208 over UART0), the bytes per component (elfsize.size_by_component), and the
                same figures of the beat-only image (rhythm=False) beside it
  per_decision  Cortex-M4 instructions per rhythm decision (measurement image, QEMU -icount
                shift=0, over every decision of the excerpts): one second of front-end
                pushes (a stand-alone front end timed per block), one tinyecg_rhythm_window,
                one model call (the probe around classify()); mean and worst
  excerpts      per excerpt (VF onsets of cudb cu01 and vfdb 424, MIT-BIH 100): decisions,
                shockable, alarms, the first alarm's latency from the annotated VF onset, and
                whether every `# rhythm` / `# alarm` line equals the Python reference
                (tinyecg.device.rhythm_lines with the shipped rhythm model in host TFLM)
Targets (issue 15): flash <= 64 KB, RAM <= 20 KB, <= 300k instructions per decision.

With --tflm it adds "tflm": the same figures for TFLM builds (the library the Arm boards pin,
tinyecg.device.tflm_lib, CMSIS-NN), the beat model and the rhythm model each in an
interpreter of its own (the rhythm model from a `--runtime tflm` export made for the build):
the two-task and beat-only images, per decision, and every excerpt's lines against the same
reference. The targets above are the C backend's; the TFLM figures are reported beside them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinyecg import paths  # noqa: E402
from tinyecg.data.records import read_signal  # noqa: E402
from tinyecg.device import elfsize, qemu  # noqa: E402
from tinyecg.device import firmware as fq  # noqa: E402
from tinyecg.device.rhythm_lines import RhythmReference, tflm_classifier  # noqa: E402
from tinyecg.run import write_json  # noqa: E402
from tinyecg.spec import FS  # noqa: E402

# (database, record, start s, seconds): two VF onsets (cu01 at 214.2 s, 424 at 1259 s) and
# normal sinus rhythm
EXCERPTS = [("cudb", "cu01", 180, 90), ("vfdb", "424", 1230, 90), ("mitdb", "100", 0, 300)]
TARGETS = {"flash_bytes": 64 * 1024, "ram_bytes": 20 * 1024, "instructions_per_decision": 300_000}


def vf_onset_s(base: Path) -> float | None:
    """A record's first VF onset: cudb's '[' or a '(VF' / '(VFIB' / '(VFL' rhythm note."""
    import wfdb

    ann = wfdb.rdann(str(base), "atr")
    fs = float(wfdb.rdheader(str(base)).fs)
    for sym, at, note in zip(ann.symbol, ann.sample, ann.aux_note):
        if sym == "[" or note.rstrip("\x00") in ("(VF", "(VFIB", "(VFL"):
            return at / fs
    return None


def image_figures(fw, data: Path) -> dict:
    """Flash, RAM and components of a board image after 60 s of record 208 over UART0."""
    x = read_signal(data / "mitdb" / "208", sampto=60 * FS).adc
    with qemu.serial_tcp(fw.elf, timeout=900) as url:
        fq.replay(url, x, timeout=800)
        stack = fq.device_command(url, "perf").qemu["stack_peak"]
        fq.stop(url)
    return {
        "flash_bytes": fw.flash_bytes,
        "ram_bytes": fw.static_ram_bytes + stack,
        "sizes": fw.sizes,
        "stack_peak": stack,
        "components": elfsize.size_by_component(fw.elf),
    }


def run_excerpt(
    work: Path, export_dir: Path, data: Path, classify, excerpt, images, tflm=None
) -> dict:
    db, name, start, seconds = excerpt
    base = data / db / name
    sig = read_signal(base, sampfrom=start * FS, sampto=(start + seconds) * FS)
    key = (sig.adc_range, sig.baseline, round(sig.gain))
    if key not in images:  # the measurement image calibrated as the record
        images[key] = fq.build_firmware(
            work / f"sh{len(images)}",
            export_dir=export_dir,
            io="semihost",
            rhythm=True,
            runtime="c" if tflm is None else "tflm",
            tflm_library=tflm,
            adc_range=sig.adc_range,
            calibration=(sig.baseline, round(sig.gain)),
        )
    run = fq.run_samples(images[key], sig.adc, timeout=600)
    ref = RhythmReference(
        classify, baseline=sig.baseline, gain=round(sig.gain), adc_range=sig.adc_range
    )
    ref.push(sig.adc)
    got = [s for s in run.lines.status if s.startswith(("# rhythm ", "# alarm "))]
    onset = vf_onset_s(base)
    onset_in = onset - start if onset is not None and start <= onset < start + seconds else None
    alarms = [int(g.split()[-1]) / FS for g in got if g.startswith("# alarm shockable ")]
    after = [a for a in alarms if onset_in is not None and a >= onset_in]
    q = run.lines.qemu
    return {
        "record": f"{db}/{name}",
        "start_s": start,
        "seconds": seconds,
        "calibration": {"baseline": sig.baseline, "gain": round(sig.gain), "range": sig.adc_range},
        "decisions": q["rdecisions"],
        "shockable": sum(g.startswith("# rhythm shockable ") for g in got),
        "alarms": len(alarms),
        "vf_onset_s": onset_in,
        "alarm_latency_s": round(after[0] - onset_in, 2) if after else None,
        "lines_equal_reference": got == ref.lines(),
        "qemu": q,
    }


def per_decision(runs: list[dict]) -> dict:
    q = [r["qemu"] for r in runs]
    seconds = sum(x["samples"] for x in q) / FS
    fe = sum(x["rfe_instr"] for x in q) / seconds
    win = sum(x["rwin_instr"] for x in q) / sum(x["rwindows"] for x in q)
    model = sum(x["rmodel_instr"] for x in q) / sum(x["rdecisions"] for x in q)
    worst = fe + max(x["rwin_max"] for x in q) + max(x["rmodel_max"] for x in q)
    return {
        "front_end_pushes_per_second": round(fe),
        "window_mean": round(win),
        "window_max": max(x["rwin_max"] for x in q),
        "model_mean": round(model),
        "model_max": max(x["rmodel_max"] for x in q),
        "total_mean": round(fe + win + model),
        "total_worst": round(worst),
        "decisions": sum(x["rdecisions"] for x in q),
    }


def tflm_figures(work: Path, data: Path, classify) -> dict:
    """The TFLM builds: both models in TFLM (two interpreters) and the beat model alone."""
    from tinyecg.device import tflm_lib

    lib = tflm_lib.build_library("m4")
    export_dir = work / "model-tflm"
    fq.export_model(None, export_dir, golden=8, runtime="tflm")
    kw = {"export_dir": export_dir, "io": "uart", "runtime": "tflm", "tflm_library": lib}
    both = fq.build_firmware(work / "tflm-both", rhythm=True, **kw)
    beat = fq.build_firmware(work / "tflm-beat", rhythm=False, **kw)
    images: dict = {}
    runs = [
        run_excerpt(work / "tflm", export_dir, data, classify, e, images, tflm=lib)
        for e in EXCERPTS
    ]
    return {
        "library": lib.library.name,
        "models": {
            "beat": "tinyecg/assets/default_model/model.tflite (TFLM, 8 golden beats)",
            "rhythm": "tinyecg/assets/rhythm_model/model.tflite (TFLM, --runtime tflm export "
            "made for the build, 4 golden windows)",
        },
        "image": image_figures(both, data),
        "beat_only_image": image_figures(beat, data),
        "per_decision": per_decision(runs),
        "excerpts": runs,
    }


def tool_version(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data", help="folder with mitdb, cudb, vfdb")
    ap.add_argument("--out", default="docs/bench/rhythm_qemu.json")
    ap.add_argument("--tflm", action="store_true", help="add the TFLM builds' figures")
    args = ap.parse_args()
    data = Path(args.data)
    t0 = time.time()
    classify = tflm_classifier(paths.rhythm_model_dir() / "model.tflite")
    with tempfile.TemporaryDirectory(prefix="bench_rhythm_qemu_") as tmp:
        work = Path(tmp)
        export_dir = work / "model"
        fq.export_model(None, export_dir, golden=8)
        both = fq.build_firmware(work / "both", export_dir=export_dir, io="uart", rhythm=True)
        beat = fq.build_firmware(work / "beat", export_dir=export_dir, io="uart", rhythm=False)
        image = image_figures(both, data)
        beat_only = image_figures(beat, data)
        images: dict = {}
        runs = [run_excerpt(work, export_dir, data, classify, e, images) for e in EXCERPTS]
        tflm = tflm_figures(work, data, classify) if args.tflm else None
    cost = per_decision(runs)
    result = {
        "command": f"python scripts/bench_rhythm_qemu.py --data ../shared/data --out {args.out}",
        "date": _dt.date.today().isoformat(),
        "toolchain": tool_version(["arm-none-eabi-gcc", "--version"]),
        "qemu": tool_version(["qemu-system-arm", "--version"]),
        "machine": "mps2-an386 (Cortex-M4F), -Os, -icount shift=0",
        "models": {
            "beat": "tinyecg/assets/default_model/model.tflite (C backend, 8 golden beats)",
            "rhythm": "firmware/lib/tinyecg_rhythm_model (C backend, committed export)",
        },
        "image": image,
        "beat_only_image": beat_only,
        "per_decision": cost,
        "excerpts": runs,
        "targets": TARGETS,
        "met": {
            "flash": image["flash_bytes"] <= TARGETS["flash_bytes"],
            "ram": image["ram_bytes"] <= TARGETS["ram_bytes"],
            "instructions_per_decision": cost["total_worst"]
            <= TARGETS["instructions_per_decision"],
        },
        "seconds": round(time.time() - t0, 1),
    }
    if tflm is not None:
        result["tflm"] = tflm
        result["command"] += " --tflm"
    write_json(Path(args.out), result)
    print(
        f"flash {image['flash_bytes']} B, RAM {image['ram_bytes']} B, per decision "
        f"{cost['total_mean']} mean / {cost['total_worst']} worst instructions; "
        + ", ".join(f"{r['record']} latency {r['alarm_latency_s']}" for r in runs)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
