"""The patient's own context of every beat in a dataset: the eight long-term RR features, the
long-term mean RR A (Q4) and the template channel, as tinyecg.dsp.patient defines them.

The context of a beat depends on every beat of its record before it, labelled or not, so it
is computed per record over the whole beat sequence (every beat symbol, as the RR context of
tinyecg.data.beats) and then kept for the beats the dataset holds. The float template runs
over the preprocessed windows of every beat whose window fits (the "usable" beats), in
order; training feeds it, and the host int8 evaluation recomputes it in integers from the
int8 windows (`RecordBeats.windows` quantized, tinyecg.dsp.patient.template_inputs_int).

Today's recipe never builds any of this: a dataset carries a context only when asked
(`with_patient_context`), cached beside the dataset under the dataset's key.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from tinyecg import outputs
from tinyecg.data.beats import label_set, record_beat_rows, rr_context, window_fits
from tinyecg.dsp import denoise, patient
from tinyecg.errors import TinyECGError
from tinyecg.spec import PRE_R, WINDOW

log = logging.getLogger("tinyecg.data")

CONTEXT_VERSION = 1


@dataclass
class PatientContext:
    """Row i describes beat i of the dataset it belongs to."""

    longterm: np.ndarray  # float32 (n, 8): patient.LONGTERM_FEATURES
    mean16: np.ndarray  # int64 (n,): A (Q4 samples) as the beat saw it, the template gate's
    template: np.ndarray  # float32 (n, WINDOW): the template channel, float model domain
    symbol: np.ndarray  # <U2 (n,): the annotation symbol (the recipe leaves 'a' out of the loss)

    def __len__(self) -> int:
        return len(self.mean16)

    def subset(self, idx) -> PatientContext:
        return PatientContext(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(parts: list[PatientContext]) -> PatientContext:
        return PatientContext(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(PatientContext))
        )


@dataclass
class RecordBeats:
    """Every beat of one record in order, with its patient state (what a device sees)."""

    sample: np.ndarray  # int64 (m,) R-peaks
    symbol: np.ndarray  # str (m,)
    kept: np.ndarray  # int64: indices of the beats a dataset keeps (labelled, window fits)
    usable: np.ndarray  # bool (m,): window fits (updates and may start the template)
    rr: np.ndarray  # int64 (m, 4): pre, post, local sum, local count
    has_pre: np.ndarray  # bool (m,): not the record's first beat
    mean16: np.ndarray  # int64 (m,): A before the beat (Q4)
    longterm: np.ndarray  # float32 (m, 8)
    windows: np.ndarray  # float32 (m, WINDOW): preprocessed windows, zeros where unusable

    def template_float(self) -> np.ndarray:
        """float32 (m, WINDOW): the template channel each beat is given (training domain)."""
        return patient.template_inputs_float(self.windows, self.rr[:, 0], self.mean16, self.usable)

    def template_int(self, q: np.ndarray) -> np.ndarray:
        """int8 (m, WINDOW): the same from the int8 windows q (m, WINDOW), integers only."""
        return patient.template_inputs_int(q, self.rr[:, 0], self.mean16, self.usable)


def record_beats(record, labels: str = "aami", label_map: dict | None = None) -> RecordBeats:
    """The beat sequence of one record with its long-term RR state and preprocessed windows."""
    spec = label_set(labels, label_map)
    r_all, sym_all, kept = record_beat_rows(record, spec)
    rr = rr_context(r_all)
    has_pre = np.arange(len(r_all)) > 0
    mean16, irregularity16 = patient.longterm_state(rr[:, 0], has_pre)
    num, den = patient.clipped_fractions(
        *patient.longterm_fractions(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], mean16, irregularity16)
    )
    usable = window_fits(r_all, len(record.adc))
    windows = np.zeros((len(r_all), WINDOW), np.float32)
    rows = np.flatnonzero(usable)
    if len(rows):
        starts = r_all[rows] - PRE_R
        raw = record.adc[starts[:, None] + np.arange(WINDOW)[None, :]].astype(np.float64)
        windows[rows] = denoise.preprocess((raw - record.baseline) / record.gain)
    return RecordBeats(
        sample=np.asarray(r_all, np.int64),
        symbol=np.asarray(sym_all),
        kept=kept,
        usable=usable,
        rr=rr,
        has_pre=has_pre,
        mean16=mean16,
        longterm=(num / den).astype(np.float32),
        windows=windows,
    )


def context_of_record(seq: RecordBeats, sample: np.ndarray) -> PatientContext:
    """The context of a record's dataset beats (R-peaks `sample`, in dataset order)."""
    rows = seq.kept
    if not np.array_equal(seq.sample[rows], sample):
        raise TinyECGError("patient context: the record's beats differ from the dataset's")
    return PatientContext(
        longterm=seq.longterm[rows],
        mean16=seq.mean16[rows],
        template=seq.template_float()[rows],
        symbol=seq.symbol[rows].astype("<U2"),
    )


def records_context(ds, records: dict) -> PatientContext:
    """The context of every beat of dataset `ds`, from its records {name: Record}."""
    parts, order = [], []
    for name in dict.fromkeys(ds.beats.record.tolist()):
        rows = np.flatnonzero(ds.beats.record == name)
        seq = record_beats(records[name], ds.label_set)
        parts.append(context_of_record(seq, ds.beats.sample[rows]))
        order.append(rows)
    ctx = PatientContext.concat(parts)
    inverse = np.empty(len(ds), np.int64)
    inverse[np.concatenate(order)] = np.arange(len(ds))
    return ctx.subset(inverse)


def _key(ds_key: str) -> str:
    params = {"dataset": ds_key, "version": CONTEXT_VERSION, "preprocessing": denoise.PARAMS}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def with_patient_context(ds, data_dir: Path, use_cache: bool = True, lead=None):
    """`ds` with its `patient` context filled in (records re-read from `data_dir`), cached
    under the dataset's key."""
    from tinyecg.data.dataset import cache_dir
    from tinyecg.data.records import load_record

    if ds.patient is not None:
        return ds
    path = cache_dir() / f"patient-{_key(ds.key)}.npz"
    if use_cache and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                ctx = PatientContext(*(z[f.name] for f in fields(PatientContext)))
            if len(ctx) == len(ds):
                ds.patient = ctx
                return ds
        except Exception as exc:  # a damaged cache file is rebuilt, not trusted
            log.warning("cache %s unreadable (%s); rebuilding", path, exc)
    log.info("patient context (long-term RR, template) of %d records", len(ds.records))
    records = {}
    for name in ds.records:
        rec = load_record(Path(data_dir), name, lead=lead)
        if rec is None:
            raise TinyECGError(f"{data_dir}: record {name} has no usable lead any more")
        records[name] = rec
    ds.patient = records_context(ds, records)
    if use_cache:
        save_context(path, ds.patient)
    return ds


def save_context(path: Path, ctx: PatientContext, **extra) -> None:
    """Write a context (and extra arrays) to the cache; an unusable cache costs only the cache."""
    try:
        with outputs.staged(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **{f.name: getattr(ctx, f.name) for f in fields(ctx)}, **extra)
    except (OSError, TinyECGError) as exc:
        log.warning("warning: patient context cache not written (%s)", exc)
