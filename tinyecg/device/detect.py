"""Drive the firmware core's host harness (firmware/host) from Python and score its QRS
detections against MIT-BIH annotations.

The harness is the board's C code compiled for the PC, so these numbers are the device's:
`detect_record` replays a record's raw ADC integers (wfdb ``d_signal``) through the same
protocol the board reads on its serial port.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from tinyecg import paths
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT_SYMBOLS, FS, MATCH_WINDOW_S

# Annotation symbols that mark beats (all others are rhythm, noise or comment annotations).
STRICT_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-pedantic")
HOST_SOURCES = ("main.c", "baseline_classifier.c")


def firmware_dir() -> Path:
    return paths.firmware_dir()


def core_sources() -> list[Path]:
    return sorted((firmware_dir() / "lib" / "tinyecg_core" / "src").glob("*.c"))


def core_include() -> Path:
    return firmware_dir() / "lib" / "tinyecg_core" / "include"


def _compiler(cc: str | None) -> str:
    cc = cc or os.environ.get("CC") or "cc"
    if shutil.which(cc) is None:
        for alt in ("gcc", "cc", "clang"):
            if shutil.which(alt):
                return alt
        raise TinyECGError(f"no C compiler found (tried {cc}, gcc, cc, clang)")
    return cc


def build_host_harness(build_dir, cc: str | None = None, extra_flags=()) -> Path:
    """Compile firmware/host with the project's strict flags into build_dir; returns the
    executable. Compiler errors raise TinyECGError with the compiler's message."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    host = firmware_dir() / "host"
    exe = build_dir / "tinyecg_host"
    cmd = [_compiler(cc), *STRICT_FLAGS, "-O2", *extra_flags, f"-I{core_include()}", f"-I{host}",
           *map(str, core_sources()), *(str(host / s) for s in HOST_SOURCES), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyECGError("host harness does not compile: " + proc.stderr.strip().splitlines()[0]
                           if proc.stderr.strip() else "host harness does not compile")
    return exe


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
        raise TinyECGError(f"host harness failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode()


def parse_peaks(text: str) -> np.ndarray:
    """R-peak indices from --peaks output (status lines skipped)."""
    vals = [int(line) for line in text.splitlines() if line and not line.startswith("#")]
    return np.asarray(vals, dtype=np.int64)


def _record_base(record_path) -> str:
    base = str(record_path)
    for ext in (".hea", ".dat", ".atr"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    if not Path(base + ".hea").is_file():
        raise TinyECGError(f"{base}: no WFDB record here (missing {Path(base).name}.hea)")
    return base


def default_channel(header) -> int:
    """MLII when the record has it (channel 1 of record 114), else channel 0."""
    names = list(header.sig_name or [])
    return names.index("MLII") if "MLII" in names else 0


def adc_range(header, channel: int) -> tuple[int, int]:
    """The ADC's valid range for a channel: adc_zero +- 2^(adc_res-1), else the format's."""
    res = (header.adc_res or [0] * header.n_sig)[channel]
    zero = (header.adc_zero or [0] * header.n_sig)[channel]
    if res and 2 <= res <= 16:
        lo, hi = zero - (1 << (res - 1)), zero + (1 << (res - 1)) - 1
    else:
        fmt = str(header.fmt[channel])
        bits = {"212": 12, "310": 10, "311": 10, "8": 8, "80": 8, "16": 16, "61": 16}.get(fmt, 16)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return max(lo, -32768), min(hi, 32767)


def read_record(record_path, channel: int | None = None, sampfrom: int = 0,
                sampto: int | None = None):
    """Raw ADC integers of one channel, the channel used, and its ADC range."""
    import wfdb

    base = _record_base(record_path)
    header = wfdb.rdheader(base)
    if header.fs != FS:
        raise TinyECGError(f"{base}: sampled at {header.fs} Hz; the detector needs {FS} Hz")
    ch = default_channel(header) if channel is None else int(channel)
    if not 0 <= ch < header.n_sig:
        raise TinyECGError(f"{base}: no channel {ch} (record has {header.n_sig})")
    rec = wfdb.rdrecord(base, channels=[ch], physical=False, sampfrom=sampfrom, sampto=sampto)
    lo, hi = adc_range(header, ch)
    return np.clip(rec.d_signal[:, 0].astype(np.int64), lo, hi), ch, (lo, hi)


def reference_beats(record_path, sampfrom: int = 0, sampto: int | None = None) -> np.ndarray:
    """Sample indices of the beat annotations ('atr'), relative to sampfrom."""
    import wfdb

    base = _record_base(record_path)
    ann = wfdb.rdann(base, "atr", sampfrom=sampfrom, sampto=sampto)
    s = np.asarray([i for i, sym in zip(ann.sample, ann.symbol) if sym in BEAT_SYMBOLS],
                   dtype=np.int64)
    return s - sampfrom


def flutter_intervals(record_path) -> list[tuple[int, int]]:
    """Ventricular flutter/fibrillation episodes ('[' to ']'), which EC57 leaves out of QRS
    scoring (the detector is not meant to find beats in them)."""
    import wfdb

    ann = wfdb.rdann(_record_base(record_path), "atr")
    out, start = [], None
    for i, sym in zip(ann.sample, ann.symbol):
        if sym == "[":
            start = int(i)
        elif sym == "]" and start is not None:
            out.append((start, int(i)))
            start = None
    return out


def parse_unreadable(text: str, peaks) -> np.ndarray:
    """Which peaks the core reports unreadable, from --quality's ``Q <r> <score> <poor>``
    lines (a peak without a beat line, at the very start or end, counts as readable)."""
    poor = {int(w[1]) for w in (ln.split() for ln in text.splitlines() if ln.startswith("Q "))
            if len(w) == 4 and w[3] == "1"}
    return np.asarray([int(p) in poor for p in peaks], dtype=bool)


def detect_samples(samples, exe=None, adc_min: int = -32768, adc_max: int = 32767,
                   build_dir=None, quality: bool = False):
    """R-peak indices the C detector finds in a sequence of raw integer samples; with
    quality=True also a bool array: the beats the core reports unreadable (U lines)."""
    if exe is None:
        exe = build_host_harness(build_dir or Path(".cache") / "host")
    out = run_harness(exe, samples_text(samples), "--peaks", *(["--quality"] if quality else []),
                      "--adc-min", str(adc_min), "--adc-max", str(adc_max))
    peaks = parse_peaks("\n".join(ln for ln in out.splitlines() if not ln.startswith("Q ")))
    return (peaks, parse_unreadable(out, peaks)) if quality else peaks


def detect_record(record_path, channel: int | None = None, exe=None, sampto: int | None = None,
                  build_dir=None, quality: bool = False):
    """Run the C detector on a WFDB record's raw ADC integers (d_signal); channel defaults
    to MLII when present, else 0. Returns R-peak sample indices (and, with quality=True,
    which of them the core reports unreadable)."""
    x, _, (lo, hi) = read_record(record_path, channel, sampto=sampto)
    return detect_samples(x, exe=exe, adc_min=lo, adc_max=hi, build_dir=build_dir,
                          quality=quality)


def score_detections(ref_samples, test_samples, fs: float = FS,
                     exclude: list[tuple[int, int]] | None = None) -> dict:
    """QRS detection scores with a 150 ms matching window (wfdb compare_annotations).
    exclude: sample intervals (e.g. flutter episodes) where neither reference beats nor
    detections count. Returns tp, fp, fn and se, ppv as fractions (None when undefined)."""
    from wfdb.processing import compare_annotations

    ref = np.sort(np.asarray(ref_samples, dtype=np.int64))
    test = np.sort(np.asarray(test_samples, dtype=np.int64))
    for a, b in exclude or ():
        ref = ref[(ref < a) | (ref > b)]
        test = test[(test < a) | (test > b)]
    window = int(round(MATCH_WINDOW_S * fs))
    if len(ref) == 0 or len(test) == 0:
        tp, fp, fn = 0, len(test), len(ref)
    else:
        cmp = compare_annotations(ref, test, window)
        tp, fp, fn = int(cmp.tp), int(cmp.fp), int(cmp.fn)
    return {"tp": tp, "fp": fp, "fn": fn,
            "se": tp / (tp + fn) if tp + fn else None,
            "ppv": tp / (tp + fp) if tp + fp else None}


def add_scores(scores) -> dict:
    """Sum of several score dicts (tp/fp/fn) with se/ppv recomputed."""
    tp = sum(s["tp"] for s in scores)
    fp = sum(s["fp"] for s in scores)
    fn = sum(s["fn"] for s in scores)
    return {"tp": tp, "fp": fp, "fn": fn,
            "se": tp / (tp + fn) if tp + fn else None,
            "ppv": tp / (tp + fp) if tp + fp else None}
