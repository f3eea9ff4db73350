"""Reading WFDB records: lead choice, record quirks, units and sampling rate.

Mirrors the database: a Record is one ECG lead of one record with its beat annotations.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.spec import FS

log = logging.getLogger("tinyecg.data")

PACED = ("102", "104", "107", "217")
# de Chazal et al. 2004 inter-patient split
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
       "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
       "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
LEAD_PREFERENCE = ("MLII", "II", "ML2", "ECG")  # MLII first; other databases name lead II so

BUNDLED = Path(__file__).resolve().parent / "excerpts" / "mitdb"
ENV_DATA = "TINYECG_DATA"


@dataclass
class Record:
    name: str
    adc: np.ndarray        # int16 raw ADC counts of the chosen lead, at FS
    baseline: int          # ADC counts at 0 mV
    gain: float            # ADC counts per mV
    fs: int                # always FS after loading (resampled when the file differs)
    lead: str
    ann_samples: np.ndarray  # annotation sample indices at FS
    ann_symbols: np.ndarray  # annotation symbols (str)

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
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        names = sorted(p.stem for p in data_dir.glob("*.hea"))
    if not names:
        raise TinyECGError(f"{data_dir}: no WFDB records (.hea files) found")
    return names


def check_record_files(data_dir: Path, name: str, annotator: str = "atr") -> None:
    for ext in ("hea", "dat", annotator):
        path = Path(data_dir) / f"{name}.{ext}"
        if not path.is_file():
            raise TinyECGError(f"{path}: missing (record {name} needs .hea, .dat and .{annotator})")


def choose_lead(sig_names: list[str]) -> int | None:
    for lead in LEAD_PREFERENCE:
        if lead in sig_names:
            return sig_names.index(lead)
    return None


def load_record(data_dir: Path, name: str, annotator: str = "atr") -> Record | None:
    """One record's MLII lead and annotations; None (with a logged reason) when it has no
    MLII-like lead. Raises TinyECGError for missing or corrupt files."""
    import wfdb

    check_record_files(data_dir, name, annotator)
    base = str(Path(data_dir) / name)
    try:
        header = wfdb.rdheader(base)
    except Exception as exc:  # wfdb raises many types for a bad header
        raise TinyECGError(f"{base}.hea: unreadable header ({_short(exc)})") from None
    lead = choose_lead(list(header.sig_name or []))
    if lead is None:
        log.info("record %s skipped: no MLII lead (leads %s)", name, ", ".join(header.sig_name or []))
        return None
    try:
        rec = wfdb.rdrecord(base, channels=[lead], physical=False)
        ann = wfdb.rdann(base, annotator)
    except Exception as exc:
        raise TinyECGError(f"{base}: unreadable record ({_short(exc)})") from None
    adc = rec.d_signal[:, 0].astype(np.int64)
    gain = float(rec.adc_gain[0]) or 200.0
    baseline = int(rec.baseline[0])
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = np.asarray(ann.symbol)
    fs = int(round(rec.fs))
    if fs != FS:
        adc, samples = _resample(adc, samples, fs)
    if adc.size == 0:
        raise TinyECGError(f"{base}.dat: no samples")
    adc = np.clip(adc, -32768, 32767).astype(np.int16)
    return Record(name, adc, baseline, gain, FS, rec.sig_name[0], samples, symbols)


def _resample(adc: np.ndarray, samples: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray]:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(FS, fs)
    up, down = FS // g, fs // g
    resampled = resample_poly(adc.astype(np.float64), up, down)
    new_samples = np.round(samples * (FS / fs)).astype(np.int64)
    return np.round(resampled).astype(np.int64), new_samples


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
