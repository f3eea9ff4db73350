"""Drive the firmware core's host harness (firmware/host) from Python and score its QRS
detections against MIT-BIH annotations.

The harness is the board's C code compiled for the PC, so these numbers are the device's:
`detect_record` replays a record's raw ADC integers (wfdb ``d_signal``) through the same
protocol the board reads on its serial port.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from tinyecg import paths
from tinyecg.data import records
from tinyecg.device.cbuild import compile_c
from tinyecg.errors import TinyECGError
from tinyecg.metrics import add_scores, score_detections  # noqa: F401 (detect's callers score with them)
from tinyecg.spec import BEAT_SYMBOLS

HOST_SOURCES = ("main.c", "baseline_classifier.c")


def firmware_dir() -> Path:
    return paths.firmware_dir()


def core_sources() -> list[Path]:
    """The portable core's C sources and those of the rhythm front end it runs
    (firmware/lib/tinyecg_rhythm); they compile with core_includes()."""
    lib = firmware_dir() / "lib"
    return [
        *sorted((lib / "tinyecg_core" / "src").glob("*.c")),
        *sorted((lib / "tinyecg_rhythm" / "src").glob("*.c")),
    ]


def core_include() -> Path:
    """The core's include folder (tinyecg_app.h, tinyecg_spec.h, ...)."""
    return firmware_dir() / "lib" / "tinyecg_core" / "include"


def rhythm_include() -> Path:
    """The rhythm front end's include folder (tinyecg_rhythm_frontend.h)."""
    return firmware_dir() / "lib" / "tinyecg_rhythm" / "include"


def core_includes() -> list[Path]:
    """What core_sources() and programs including tinyecg_app.h compile with."""
    return [core_include(), rhythm_include()]


def rhythm_model_dir() -> Path:
    """firmware/lib/tinyecg_rhythm_model: the committed export of the shipped rhythm model."""
    from tinyecg.device import firmware_files

    return firmware_files.rhythm_model_dir()


def rhythm_model_sources(model_dir) -> tuple[list[Path], list[Path]]:
    """(C sources, include folders) of a rhythm model's C backend export (`tinyecg export
    --task rhythm --runtime c`) with the tinyecg_nn kernels it calls."""
    from tinyecg.export import cbackend

    model_dir = Path(model_dir)
    model_c = model_dir / "tinyecg_rhythm_model.c"
    for need in (model_c, model_dir / "tinyecg_rhythm_model_meta.h"):
        if not need.is_file():
            raise TinyECGError(f"{need}: missing (export the rhythm model with --runtime c)")
    return [model_c, *cbackend.library_sources()], [model_dir, cbackend.library_include()]


def dsp_sources() -> list[Path]:
    """The fixed-point preprocessing library (firmware/lib/tinyecg_dsp): its C sources, which
    need dsp_include() and core_include() (tinyecg_spec.h) and a generated params file."""
    return sorted((firmware_dir() / "lib" / "tinyecg_dsp" / "src").glob("*.c"))


def dsp_include() -> Path:
    return firmware_dir() / "lib" / "tinyecg_dsp" / "include"


def build_host_harness(build_dir, cc: str | None = None, extra_flags=(), rhythm_model=None) -> Path:
    """Compile firmware/host with the project's strict flags into build_dir; returns the
    executable. With rhythm_model (a C backend export folder, e.g. rhythm_model_dir()) the
    harness takes --rhythm. Compiler errors raise TinyECGError with the compiler's message."""
    host = firmware_dir() / "host"
    srcs = [*core_sources(), *(host / s for s in HOST_SOURCES)]
    incs: list[Path] = []
    defs: list[str] | None = None
    if rhythm_model is not None:
        more, incs = rhythm_model_sources(rhythm_model)
        srcs, defs = [*srcs, *more], ["TINYECG_HOST_RHYTHM"]
    return compile_c(
        srcs,
        Path(build_dir) / ("tinyecg_host_rhythm" if rhythm_model is not None else "tinyecg_host"),
        includes=[*core_includes(), host, *incs],
        defines=defs,
        extra_flags=extra_flags,
        cc=cc,
        what="host harness",
    )


def samples_text(samples) -> bytes:
    """Protocol input: one integer sample per line."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise TinyECGError(f"samples must be one channel (got shape {arr.shape})")
    return ("\n".join(map(str, arr.astype(np.int64).tolist())) + "\n").encode()


def run_harness(exe, data: bytes, *args: str, timeout: float = 120.0) -> str:
    """Run the harness with protocol text on stdin; returns its stdout."""
    proc = subprocess.run([str(exe), *args], input=data, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise TinyECGError(
            f"host harness failed ({proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout.decode()


def parse_peaks(text: str) -> np.ndarray:
    """R-peak indices from --peaks output (status lines skipped)."""
    vals = [int(line) for line in text.splitlines() if line and not line.startswith("#")]
    return np.asarray(vals, dtype=np.int64)


def record_base(record_path) -> str:
    """A WFDB record's path without its extension (.hea, .dat or .atr may be given);
    TinyECGError when there is no header."""
    return str(records.record_base(record_path))


def read_record(
    record_path, lead: str | int | None = None, sampfrom: int = 0, sampto: int | None = None
):
    """Raw ADC integers of one lead at spec.FS (resampled if the record is not), the channel
    read, and its ADC range. The lead is MLII-like by default (records.LEAD_PREFERENCE),
    else channel 0; sampfrom/sampto count samples at spec.FS."""
    sig = records.read_signal(record_path, lead=lead, sampfrom=sampfrom, sampto=sampto)
    return sig.adc, sig.channel, sig.adc_range


def reference_beats(record_path, sampfrom: int = 0, sampto: int | None = None) -> np.ndarray:
    """Sample indices at spec.FS of the beat annotations ('atr'), relative to sampfrom;
    TinyECGError when the record has no .atr or it is unreadable."""
    ann = records.read_annotations(record_path, "atr", sampfrom, sampto, required=True)
    assert ann is not None
    return ann.samples[np.isin(ann.symbols, list(BEAT_SYMBOLS))]


def flutter_intervals(record_path) -> list[tuple[int, int]]:
    """Ventricular flutter/fibrillation episodes ('[' to ']'), which EC57 leaves out of QRS
    scoring (the detector is not meant to find beats in them)."""
    ann = records.read_annotations(record_path, "atr", required=True)
    assert ann is not None
    out, start = [], None
    for i, sym in zip(ann.samples, ann.symbols):
        if sym == "[":
            start = int(i)
        elif sym == "]" and start is not None:
            out.append((start, int(i)))
            start = None
    return out


def parse_unreadable(text: str, peaks) -> np.ndarray:
    """Which peaks the core reports unreadable, from --quality's ``Q <r> <score> <poor>``
    lines (a peak without a beat line, at the very start or end, counts as readable)."""
    poor = {
        int(w[1])
        for w in (ln.split() for ln in text.splitlines() if ln.startswith("Q "))
        if len(w) == 4 and w[3] == "1"
    }
    return np.asarray([int(p) in poor for p in peaks], dtype=bool)


def detect_samples(
    samples,
    exe=None,
    adc_min: int = -32768,
    adc_max: int = 32767,
    build_dir=None,
    quality: bool = False,
):
    """R-peak indices the C detector finds in a sequence of raw integer samples; with
    quality=True also a bool array: the beats the core reports unreadable (U lines)."""
    if exe is None:
        exe = build_host_harness(build_dir or paths.build_dir("host"))
    out = run_harness(
        exe,
        samples_text(samples),
        "--peaks",
        *(["--quality"] if quality else []),
        "--adc-min",
        str(adc_min),
        "--adc-max",
        str(adc_max),
    )
    peaks = parse_peaks("\n".join(ln for ln in out.splitlines() if not ln.startswith("Q ")))
    return (peaks, parse_unreadable(out, peaks)) if quality else peaks


def detect_record(
    record_path,
    lead: str | int | None = None,
    exe=None,
    sampto: int | None = None,
    build_dir=None,
    quality: bool = False,
):
    """Run the C detector on a WFDB record's raw ADC integers at spec.FS (read_record picks
    the lead). Returns R-peak sample indices (and, with quality=True, which of them the core
    reports unreadable)."""
    x, _, (lo, hi) = read_record(record_path, lead, sampto=sampto)
    return detect_samples(x, exe=exe, adc_min=lo, adc_max=hi, build_dir=build_dir, quality=quality)


def score_record(record_path, lead: str | int | None = None, exe=None, build_dir=None) -> dict:
    """`tinyecg detect`: the C detector on a record and, when it has annotations, its scores
    (150 ms), plain and as EC57 scores them (without ventricular flutter episodes).
    Everything is read (and every file problem raised) before anything is returned.
    Returns {"base", "peaks", "unreadable" (bool per peak: the core's U lines), "lead",
    "source_fs", "flat", "qrs" (None without .atr),
    "flutter" (episodes), "qrs_ec57" (None without episodes),
    "qrs_readable" (the readable peaks' scores; None when all are readable)}."""
    sig = records.read_signal(record_path, lead=lead)
    base = str(sig.base)
    ann = records.read_annotations(base, "atr", source_fs=sig.source_fs)
    peaks, unreadable = detect_samples(
        sig.adc,
        exe=exe,
        adc_min=sig.adc_range[0],
        adc_max=sig.adc_range[1],
        build_dir=build_dir,
        quality=True,
    )
    out: dict[str, Any] = {
        "base": base,
        "peaks": peaks,
        "unreadable": unreadable,
        "lead": sig.lead,
        "source_fs": sig.source_fs,
        "flat": sig.flat,
        "qrs": None,
        "flutter": [],
        "qrs_ec57": None,
        "qrs_readable": None,
    }
    if ann is not None:
        ref = ann.samples[np.isin(ann.symbols, list(BEAT_SYMBOLS))]
        flutter = flutter_intervals(base) if len(ann.samples) else []
        out["qrs"] = score_detections(ref, peaks)
        out["flutter"] = flutter
        if flutter:
            out["qrs_ec57"] = score_detections(ref, peaks, exclude=flutter)
        if unreadable.any():
            out["qrs_readable"] = score_detections(ref, peaks[~unreadable])
    return out
