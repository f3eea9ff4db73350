"""What the demo reads: a pasted or uploaded beat (text/CSV), an uploaded WFDB record, the
bundled MIT-BIH excerpts and real example beats from them. Every mistake raises
TinyECGError with one readable line."""

from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import paths
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS, PRE_R, WINDOW
from tinyecg.spec import MITDB_ADC_BASELINE as ADC_BASELINE
from tinyecg.spec import MITDB_ADC_GAIN as ADC_GAIN

MAX_TEXT_CHARS = 100_000  # a pasted or uploaded beat (360 numbers need about 2 KB)
MAX_BEAT_FILE_BYTES = 100_000
MAX_RECORD_FILE_BYTES = 8 * 2**20  # per uploaded record file (a 30-min MIT-BIH .dat: 1.9 MB)
MAX_UPLOAD_FILES = 3  # .hea + .dat + .atr

EXCERPTS = paths.excerpts_dir()

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,;\s]+")


def short_error(exc: Exception) -> str:
    """The first line of an exception's message (at most 160 characters), for one-line
    errors about files the demo could not read."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


# --------------------------------------------------------------------------- one beat
@dataclass
class BeatInput:
    """One 360-sample window: ADC counts (int64) and millivolts, and what was assumed."""

    raw_adc: np.ndarray
    mv: np.ndarray
    units: str  # "adc" or "mv"
    baseline: int
    gain: int
    note: str


def parse_numbers(text: str) -> tuple[np.ndarray, bool]:
    """Numbers separated by commas, semicolons, spaces or newlines -> (float64 array, all of
    them written as whole numbers). A first line without any number is taken as a CSV
    header and skipped."""
    if not isinstance(text, str):
        raise TinyECGError("expected text")
    if len(text) > MAX_TEXT_CHARS:
        raise TinyECGError(
            f"input too long ({len(text):,} characters; a beat needs about 2,000, "
            f"limit {MAX_TEXT_CHARS:,})"
        )
    text = text.strip().lstrip("\ufeff")
    lines = text.splitlines()
    if len(lines) > 1 and not re.search(r"\d", lines[0]):
        lines = lines[1:]  # a CSV header such as "mV" or "sample"
    tokens = [t for t in _SEPARATORS.split("\n".join(lines)) if t]
    if not tokens:
        raise TinyECGError(
            "no numbers given: paste 360 samples of one beat "
            "(separated by commas, spaces or new lines)"
        )
    for i, tok in enumerate(tokens, 1):
        if _NUMBER.fullmatch(tok):
            continue
        if _NONFINITE.fullmatch(tok):
            raise TinyECGError(f"value {i} is {tok!r}: NaN and infinity are not samples")
        shown = tok if len(tok) <= 20 else tok[:20] + "..."
        raise TinyECGError(f"value {i} ({shown!r}) is not a number")
    values = np.array([float(t) for t in tokens], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0]) + 1
        raise TinyECGError(f"value {bad} ({tokens[bad - 1]}) is too large to be a sample")
    return values, all(_INTEGER.fullmatch(t) for t in tokens)


def _whole(value, name: str, lo: int, hi: int) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TinyECGError(f"{name} must be a number") from None
    if not math.isfinite(v) or v != round(v) or not lo <= v <= hi:
        raise TinyECGError(f"{name} must be a whole number in {lo}..{hi} (got {value})")
    return int(v)


def parse_beat(text: str, units: str = "auto", gain=ADC_GAIN, baseline=ADC_BASELINE) -> BeatInput:
    """A pasted beat -> BeatInput. units: "auto" (ADC counts when every number is written as
    a whole number, else millivolts), "adc" or "mv". gain (counts per mV) and baseline (counts
    at 0 mV) convert between the two, as MIT-BIH's 200/mV and 1024 by default."""
    if units not in ("auto", "adc", "mv"):
        raise TinyECGError(f"units must be auto, adc or mv (got {units!r})")
    gain = _whole(gain, "gain (ADC counts per mV)", 1, 65535)
    baseline = _whole(baseline, "baseline (ADC counts at 0 mV)", -32768, 32767)
    values, all_int = parse_numbers(text)
    if len(values) != WINDOW:
        hint = ""
        if len(values) % WINDOW == 0 and len(values) > WINDOW:
            hint = f" (a table of {len(values) // WINDOW} columns? give one column)"
        raise TinyECGError(
            f"got {len(values)} numbers; a beat is {WINDOW} samples (1 s at "
            f"{FS} Hz with the R-peak at sample {PRE_R}){hint}"
        )
    chosen = ("adc" if all_int else "mv") if units == "auto" else units
    why = (
        " (all whole numbers)"
        if units == "auto" and all_int
        else " (not all whole numbers)"
        if units == "auto"
        else " (as chosen)"
    )
    if chosen == "adc":
        if not np.all(values == np.round(values)):
            raise TinyECGError("ADC counts must be whole numbers (choose millivolts instead)")
        if values.min() < -32768 or values.max() > 32767:
            raise TinyECGError("ADC counts must fit 16 bits (-32768..32767)")
        raw = values.astype(np.int64)
        mv = (raw - baseline) / float(gain)
        note = f"Taken as ADC counts{why}: mV = (x - {baseline}) / {gain}."
    else:
        mv = values
        counts = np.round(mv * gain) + baseline
        if counts.min() < -32768 or counts.max() > 32767:
            raise TinyECGError(
                f"values up to {np.abs(mv).max():.4g} mV do not fit a 16-bit ADC "
                f"at {gain} counts/mV: are these ADC counts?"
            )
        raw = counts.astype(np.int64)
        note = (
            f"Taken as millivolts{why}; the fixed-point path sees them as ADC counts "
            f"round(mV x {gain}) + {baseline}."
        )
    if np.ptp(raw) == 0:
        raise TinyECGError(
            f"the beat is flat (all {WINDOW} samples are {int(raw[0])}): there "
            "is no ECG to classify (lead off?)"
        )
    return BeatInput(raw, mv, chosen, baseline, gain, note)


def read_text_file(path, limit: int = MAX_BEAT_FILE_BYTES) -> str:
    """An uploaded CSV/text beat: size-checked, UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise TinyECGError(f"{path.name}: cannot read the uploaded file") from None
    if size > limit:
        raise TinyECGError(
            f"{path.name}: {size:,} bytes is too large for one beat (limit {limit:,})"
        )
    data = path.read_bytes()
    if b"\x00" in data:
        raise TinyECGError(f"{path.name}: a binary file; give a CSV or text file of numbers")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TinyECGError(f"{path.name}: not UTF-8 text; give a CSV or text file") from None


# --------------------------------------------------------------------------- records
def bundled_records() -> list[str]:
    """Names of the MIT-BIH excerpts shipped in the package."""
    listing = EXCERPTS / "RECORDS"
    if not listing.is_file():
        return []
    return [
        n.strip()
        for n in listing.read_text().splitlines()
        if n.strip() and (EXCERPTS / f"{n.strip()}.hea").is_file()
    ]


def bundled_record(name: str) -> Path:
    if name not in bundled_records():
        raise TinyECGError(f"no bundled excerpt named {name!r}")
    return EXCERPTS / name


def record_from_uploads(files, workdir) -> Path:
    """Uploaded WFDB files (one .hea, its .dat, optionally one .atr) copied into workdir
    under the header's names; returns the record's base path (without extension)."""
    import wfdb

    uploaded = [Path(p) for p in (files or []) if p]
    if not uploaded:
        raise TinyECGError(
            "no files uploaded: give a .hea and its .dat (and a .atr for the reference annotations)"
        )
    if len(uploaded) > MAX_UPLOAD_FILES:
        raise TinyECGError(f"{len(uploaded)} files uploaded; give one record: .hea, .dat, .atr")
    by_ext: dict[str, list[Path]] = {}
    for p in uploaded:
        ext = p.suffix.lower()
        if ext not in (".hea", ".dat", ".atr"):
            raise TinyECGError(f"{p.name}: not a WFDB record file (expected .hea, .dat, .atr)")
        size = p.stat().st_size
        if size > MAX_RECORD_FILE_BYTES:
            raise TinyECGError(
                f"{p.name}: {size / 2**20:.1f} MB is over the "
                f"{MAX_RECORD_FILE_BYTES // 2**20} MB limit per file"
            )
        by_ext.setdefault(ext, []).append(p)
    for ext in (".hea", ".atr"):
        if len(by_ext.get(ext, [])) > 1:
            raise TinyECGError(f"more than one {ext} file uploaded: give one record")
    if ".hea" not in by_ext:
        raise TinyECGError("no .hea header uploaded: a WFDB record needs its .hea and .dat")
    hea = by_ext[".hea"][0]
    name = hea.stem
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise TinyECGError(f"{hea.name}: record names use letters, digits, - and _ only")
    workdir = Path(workdir)
    shutil.copyfile(hea, workdir / f"{name}.hea")
    try:
        header = wfdb.rdheader(str(workdir / name))
    except Exception as exc:  # wfdb raises many types for a malformed header
        raise TinyECGError(f"{hea.name}: not a readable WFDB header ({short_error(exc)})") from None
    if getattr(header, "n_seg", None):
        raise TinyECGError(f"{hea.name}: multi-segment records are not supported")
    wanted = sorted(set(header.file_name or []))
    dats = {p.name: p for p in by_ext.get(".dat", [])}
    for fname in wanted:
        if fname not in dats:
            raise TinyECGError(
                f"{hea.name} names the signal file {fname}, which was not "
                f"uploaded (got {', '.join(sorted(dats)) or 'no .dat'})"
            )
        shutil.copyfile(dats[fname], workdir / fname)
    if ".atr" in by_ext:
        shutil.copyfile(by_ext[".atr"][0], workdir / f"{name}.atr")
    return workdir / name


def upload_path(file) -> Path:
    """Gradio gives a path string (a dict with "path", or a temp-file object whose .name is
    the path, in other versions)."""
    if isinstance(file, (str, os.PathLike)):
        return Path(file)
    if isinstance(file, dict) and "path" in file:
        return Path(file["path"])
    return Path(getattr(file, "name", str(file)))


def example_beats(
    per_symbol=(("100", "N"), ("109", "L"), ("118", "R"), ("232", "A"), ("208", "V")),
) -> dict[str, str]:
    """Label -> pasteable text (360 ADC counts) of one real beat from the bundled excerpts."""
    import wfdb

    from tinyecg.device import detect

    out = {}
    for rec, sym in per_symbol:
        base = EXCERPTS / rec
        if not base.with_suffix(".hea").is_file():
            continue
        adc, _, _ = detect.read_record(base)
        ann = wfdb.rdann(str(base), "atr")
        for s, a in zip(ann.sample, ann.symbol):
            if a == sym and PRE_R <= s <= len(adc) - WINDOW + PRE_R and s > 10 * FS:
                window = adc[s - PRE_R : s - PRE_R + WINDOW]
                out[f"record {rec}, beat at {s / FS:.1f} s (annotated {sym})"] = ", ".join(
                    str(int(v)) for v in window
                )
                break
    return out
