"""Reading WFDB records: the one place where a record becomes samples at the device's rate,
and where every problem with its files becomes a one-line error naming the file.

Any WFDB database can be read: a lead is chosen by name or index (`lead`), else by
LEAD_PREFERENCE; records at other sampling rates are resampled to spec.FS (polyphase,
scipy.signal.resample_poly, on the ADC integers, then rounded), and annotation positions
are mapped to the new rate. `tinyecg detect`, `stream`, `evaluate --records`, the demo and
the dataset all read records through read_signal / read_annotations / load_record.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import paths
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS

log = logging.getLogger("tinyecg.data")

PACED = ("102", "104", "107", "217")
# de Chazal et al. 2004 inter-patient split
DS1 = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2 = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)

# Leads tried in this order when none is asked for: MIT-BIH's modified lead II first, then
# the names other PhysioNet databases give a lead-II-like or single ECG channel (svdb and
# edb: ECG1/ECG2; vfdb and cudb: ECG). The models are trained on MLII.
LEAD_PREFERENCE = ("MLII", "ML2", "II", "ECG1", "ECG", "ECG2")

BUNDLED = paths.excerpts_dir()
ENV_DATA = "TINYECG_DATA"

# WFDB's "invalid sample" value of each storage format (signal.py, wfdb-python)
_INVALID = {
    "8": -128,
    "16": -32768,
    "61": -32768,
    "80": -128,
    "160": -32768,
    "212": -2048,
    "310": -512,
    "311": -512,
    "24": -(1 << 23),
    "32": -(1 << 31),
}
# bits per stored sample of each format, to check a .dat's size against its header
_BITS = {
    "8": 8,
    "16": 16,
    "61": 16,
    "80": 8,
    "160": 16,
    "212": 12,
    "310": 32 / 3,
    "311": 32 / 3,
    "24": 24,
    "32": 32,
}


@dataclass
class Signal:
    """One lead of a record, as ADC integers at spec.FS."""

    name: str
    base: Path  # the record's path without extension
    adc: np.ndarray  # int64 ADC counts at FS, clipped to adc_range
    adc_range: tuple[int, int]  # the ADC's valid range
    baseline: int  # ADC counts at 0 mV
    gain: float  # ADC counts per mV
    lead: str
    channel: int
    source_fs: float  # the file's sampling rate before resampling
    invalid: int  # samples stored as WFDB's invalid value (replaced by the last valid one)

    @property
    def flat(self) -> bool:
        """No variation at all: a disconnected lead, or a record of invalid samples."""
        return self.adc.size == 0 or int(self.adc.max()) == int(self.adc.min())


@dataclass
class Record:
    """One ECG lead of a record with its annotations, at spec.FS (the dataset's view)."""

    name: str
    adc: np.ndarray  # int16 raw ADC counts of the chosen lead, at FS
    baseline: int
    gain: float
    fs: int  # always FS after loading
    lead: str
    ann_samples: np.ndarray  # annotation sample indices at FS
    ann_symbols: np.ndarray  # annotation symbols (str)
    ann_aux: np.ndarray | None = None  # aux notes (rhythm labels such as "(AFIB")
    flat: bool = False

    @property
    def mv(self) -> np.ndarray:
        return (self.adc.astype(np.float64) - self.baseline) / self.gain


def resolve_data_dir(data: str | os.PathLike | None) -> Path:
    """--data, else $TINYECG_DATA, else the excerpt bundled with the package."""
    chosen = data or os.environ.get(ENV_DATA) or BUNDLED
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise TinyECGError(f"{path}: data folder not found")
    return path


def list_records(data_dir: Path) -> list[str]:
    """Record names from the RECORDS file, else from the .hea files present."""
    data_dir = Path(data_dir)
    listing = data_dir / "RECORDS"
    try:
        if listing.is_file():
            names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        else:
            names = sorted(p.stem for p in data_dir.glob("*.hea"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TinyECGError(f"{listing}: unreadable ({_short(exc)})") from None
    if not names:
        raise TinyECGError(f"{data_dir}: no WFDB records (.hea files) found")
    return names


def record_base(path) -> Path:
    """A record path given with or without .hea/.dat/.atr -> its base; the .hea must exist."""
    text = str(path)
    for ext in (".hea", ".dat", ".atr"):
        if text.endswith(ext):
            text = text[: -len(ext)]
    base = Path(text)
    if not base.with_name(base.name + ".hea").is_file():
        raise TinyECGError(f"{base}: no WFDB record here (missing {base.name}.hea)")
    return base


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def read_header(base: Path):
    """The checked WFDB header of a record."""
    import wfdb

    hea = base.with_name(base.name + ".hea")
    try:
        header = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for a bad header
        raise TinyECGError(f"{hea}: unreadable header ({_short(exc)})") from None
    if not header.n_sig:
        raise TinyECGError(f"{hea}: the header declares no signals")
    fs = header.fs
    if fs is None or not math.isfinite(float(fs)) or float(fs) <= 0:
        raise TinyECGError(f"{hea}: sampling frequency {fs} (must be a positive number)")
    if header.sig_len is not None and header.sig_len <= 0:
        raise TinyECGError(f"{hea}: the header declares 0 samples")
    return header


def choose_lead(sig_names: list[str], lead: str | int | None = None) -> int | None:
    """The channel to read: `lead` by name or index, else the first of LEAD_PREFERENCE the
    record has, else None."""
    if lead is not None:
        text = str(lead)
        if text in sig_names:
            return sig_names.index(text)
        if text.lstrip("-").isdigit():
            k = int(text)
            return k if 0 <= k < len(sig_names) else None
        return None
    for name in LEAD_PREFERENCE:
        if name in sig_names:
            return sig_names.index(name)
    return None


def _lead_or_error(header, base: Path, lead: str | int | None, fallback_first: bool) -> int:
    names = [str(n) for n in (header.sig_name or [])]
    ch = choose_lead(names, lead)
    if ch is None and lead is None and fallback_first:
        ch = 0
    if ch is None:
        have = ", ".join(f"{i}:{n}" for i, n in enumerate(names))
        want = (
            f"lead {lead!r}" if lead is not None else f"a lead named {', '.join(LEAD_PREFERENCE)}"
        )
        raise TinyECGError(f"{base}.hea: no {want} (leads {have}; choose one with --lead)")
    return ch


def _check_signal_file(header, base: Path, ch: int) -> Path:
    dat = base.parent / str(header.file_name[ch])
    if not dat.is_file():
        raise TinyECGError(
            f"{dat}: missing (the signal file {base.name}.hea names for lead {header.sig_name[ch]})"
        )
    fmt = str(header.fmt[ch])
    if header.sig_len and fmt in _BITS:
        frame = sum(
            (header.samps_per_frame or [1] * header.n_sig)[i]
            for i in range(header.n_sig)
            if header.file_name[i] == header.file_name[ch]
        )
        offset = int((header.byte_offset or [0] * header.n_sig)[ch] or 0)
        want = offset + math.ceil(header.sig_len * frame * _BITS[fmt] / 8)
        have = dat.stat().st_size
        if have < want:
            raise TinyECGError(
                f"{dat}: truncated ({have} of {want} bytes for {header.sig_len} samples)"
            )
    return dat


def _hold_invalid(x: np.ndarray, invalid: int | None) -> tuple[np.ndarray, int]:
    """Replace WFDB's invalid sample value by the last valid sample (the first valid one
    at the start): the device core treats an out-of-range sample the same way."""
    if invalid is None:
        return x, 0
    bad = x == invalid
    n_bad = int(bad.sum())
    if n_bad == 0:
        return x, 0
    if n_bad == x.size:
        return x, n_bad
    idx = np.where(~bad, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(~bad))
    idx[:first] = first
    return x[idx], n_bad


def adc_range(header, channel: int) -> tuple[int, int]:
    """The ADC's valid range for a channel: adc_zero +- 2^(adc_res-1), else the format's."""
    res = (header.adc_res or [0] * header.n_sig)[channel]
    zero = (header.adc_zero or [0] * header.n_sig)[channel] or 0
    if res and 2 <= res <= 16:
        lo, hi = zero - (1 << (res - 1)), zero + (1 << (res - 1)) - 1
    else:
        bits = {"212": 12, "310": 10, "311": 10, "8": 8, "80": 8}.get(str(header.fmt[channel]), 16)
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return max(lo, -32768), min(hi, 32767)


def to_source_index(sample: int | None, source_fs: float) -> int | None:
    """A sample index at spec.FS -> the index in the file (rounded up)."""
    if sample is None:
        return None
    return int(math.ceil(sample * float(source_fs) / FS - 1e-9))


def resample_to_fs(x: np.ndarray, source_fs: float) -> np.ndarray:
    """Integer samples at source_fs -> rounded integers at spec.FS (unchanged at FS)."""
    up, down = _ratio(source_fs)
    if up == down:
        return np.asarray(x, np.int64)
    from scipy.signal import resample_poly

    # padded with its own edge values: zero padding would make the start and end of a
    # record fall to 0 ADC counts, a step that the detector learns its thresholds on
    return np.round(resample_poly(np.asarray(x, np.float64), up, down, padtype="edge")).astype(
        np.int64
    )


def _ratio(source_fs: float) -> tuple[int, int]:
    fs = float(source_fs)
    if abs(fs - round(fs)) > 1e-6:
        from fractions import Fraction

        frac = Fraction(FS) / Fraction(fs).limit_denominator(1000)
        return frac.numerator, frac.denominator
    g = math.gcd(FS, int(round(fs)))
    return FS // g, int(round(fs)) // g


def read_signal(
    path,
    lead: str | int | None = None,
    sampfrom: int = 0,
    sampto: int | None = None,
    fallback_first: bool = True,
) -> Signal:
    """One lead of a record as ADC integers at spec.FS. sampfrom/sampto count samples at
    spec.FS. Without `lead`, the first of LEAD_PREFERENCE, else (fallback_first) channel 0.
    Raises TinyECGError naming the file for every problem with the record."""
    import wfdb

    base = record_base(path)
    header = read_header(base)
    ch = _lead_or_error(header, base, lead, fallback_first)
    _check_signal_file(header, base, ch)
    fs = float(header.fs)
    start = to_source_index(sampfrom, fs) or 0
    stop = to_source_index(sampto, fs)
    if header.sig_len is not None and stop is not None:
        stop = min(stop, header.sig_len)
    try:
        rec = wfdb.rdrecord(str(base), channels=[ch], physical=False, sampfrom=start, sampto=stop)
    except Exception as exc:
        raise TinyECGError(f"{base}: unreadable signal ({_short(exc)})") from None
    if rec.d_signal is None or rec.d_signal.size == 0:
        raise TinyECGError(f"{base}.dat: no samples")
    raw, invalid = _hold_invalid(
        rec.d_signal[:, 0].astype(np.int64), _INVALID.get(str(header.fmt[ch]))
    )
    lo, hi = adc_range(header, ch)
    adc = np.clip(resample_to_fs(raw, fs), lo, hi)
    if invalid == raw.size:
        adc = np.full(adc.shape, (lo + hi) // 2, np.int64)
    gain = float(rec.adc_gain[0]) or 200.0
    return Signal(
        base.name,
        base,
        adc,
        (lo, hi),
        int(rec.baseline[0]),
        gain,
        str(header.sig_name[ch]),
        ch,
        fs,
        invalid,
    )


@dataclass
class Annotations:
    samples: np.ndarray  # int64 indices at spec.FS
    symbols: np.ndarray  # str
    aux: np.ndarray  # str aux notes ("" where none)
    # WFDB subtype per annotation: for '~' the signals it concerns (MIT convention: -1 all,
    # bit 4 + k signal k unreadable); zeros when the file has none
    subtypes: np.ndarray | None = None


def read_annotations(
    path,
    annotator: str = "atr",
    sampfrom: int = 0,
    sampto: int | None = None,
    source_fs: float | None = None,
    required: bool = False,
) -> Annotations | None:
    """A record's annotations with positions at spec.FS (relative to sampfrom), or None when
    the record has no such file (TinyECGError if `required`). An empty file gives no
    annotations; an unreadable one raises TinyECGError naming it."""
    import wfdb

    base = record_base(path)
    f = base.with_name(f"{base.name}.{annotator}")
    if not f.is_file():
        if required:
            raise TinyECGError(f"{f}: missing (the record's .{annotator} annotations)")
        return None
    if source_fs is None:
        source_fs = float(read_header(base).fs)
    empty = Annotations(
        np.zeros(0, np.int64), np.zeros(0, "<U1"), np.zeros(0, "<U1"), np.zeros(0, np.int64)
    )
    if f.stat().st_size == 0:
        return empty
    try:
        ann = wfdb.rdann(str(base), annotator)
    except Exception as exc:
        raise TinyECGError(f"{f}: unreadable annotations ({_short(exc)})") from None
    if ann.sample is None or len(ann.sample) == 0:
        return empty
    samples = np.round(np.asarray(ann.sample, np.float64) * FS / float(source_fs)).astype(np.int64)
    symbols = np.asarray(ann.symbol if ann.symbol is not None else [""] * len(samples))
    aux = np.asarray([a or "" for a in (ann.aux_note or [""] * len(samples))])
    subtypes = np.asarray(
        ann.subtype if ann.subtype is not None else np.zeros(len(samples)), np.int64
    )
    keep = samples >= sampfrom
    if sampto is not None:
        keep &= samples < sampto
    return Annotations(samples[keep] - sampfrom, symbols[keep], aux[keep], subtypes[keep])


def check_record_files(data_dir: Path, name: str, annotator: str = "atr") -> None:
    for ext in ("hea", annotator):
        path = Path(data_dir) / f"{name}.{ext}"
        if not path.is_file():
            raise TinyECGError(f"{path}: missing (record {name} needs .hea, .dat and .{annotator})")


def load_record(
    data_dir: Path, name: str, annotator: str = "atr", lead: str | int | None = None
) -> Record | None:
    """One record's lead (MLII-like by default) and annotations, at spec.FS; None (with a
    logged reason) when the record has no such lead. Raises TinyECGError for missing or
    corrupt files."""
    check_record_files(data_dir, name, annotator)
    base = Path(data_dir) / name
    header = read_header(base)
    if lead is None and choose_lead([str(n) for n in (header.sig_name or [])]) is None:
        log.info(
            "record %s skipped: no MLII-like lead (leads %s)",
            name,
            ", ".join(str(n) for n in header.sig_name or []),
        )
        return None
    sig = read_signal(base, lead=lead, fallback_first=False)
    ann = read_annotations(base, annotator, source_fs=sig.source_fs, required=True)
    assert ann is not None
    return Record(
        name,
        np.clip(sig.adc, -32768, 32767).astype(np.int16),
        sig.baseline,
        sig.gain,
        FS,
        sig.lead,
        ann.samples,
        ann.symbols,
        ann.aux,
        sig.flat,
    )
