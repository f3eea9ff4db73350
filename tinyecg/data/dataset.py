"""The beat dataset of a WFDB folder: built once, cached on disk keyed by its parameters."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import outputs, paths
from tinyecg.data.beats import Beats, beats_from_record, label_set, unmapped_beats
from tinyecg.data.patient_context import PatientContext
from tinyecg.data.records import PACED, list_records, load_record
from tinyecg.dsp import denoise
from tinyecg.errors import TinyECGError

log = logging.getLogger("tinyecg.data")

CACHE_VERSION = 1
ENV_CACHE = paths.ENV_CACHE


@dataclass
class Dataset:
    beats: Beats
    x: np.ndarray  # float32 (n, 360): preprocessed windows (denoised, z-scored)
    labels: list[str]
    label_set: str
    records: list[str]  # records that contributed beats
    skipped: dict  # record -> reason
    key: str
    unmapped: dict | None = None  # beat annotation symbol -> count not in the label set
    # the patient's own context per beat (tinyecg.data.patient_context), for the patient
    # recipe only; None otherwise
    patient: PatientContext | None = None

    def __len__(self) -> int:
        return len(self.beats)

    def subset(self, idx) -> Dataset:
        return Dataset(
            self.beats.subset(idx),
            self.x[idx],
            self.labels,
            self.label_set,
            self.records,
            self.skipped,
            self.key,
            self.unmapped,
            None if self.patient is None else self.patient.subset(idx),
        )


def cache_dir() -> Path:
    return paths.cache_dir()


def _fingerprint(data_dir: Path, names: list[str], annotator: str) -> list:
    out = []
    for name in names:
        for ext in ("hea", "dat", annotator):
            p = data_dir / f"{name}.{ext}"
            st = p.stat() if p.exists() else None
            out.append([p.name, st.st_size if st else None, st.st_mtime_ns if st else None])
    return out


def dataset_key(
    data_dir: Path,
    names: list[str],
    labels: str,
    include_paced: bool,
    annotator: str,
    lead=None,
    label_map: dict | None = None,
) -> str:
    params = {
        "lead": None if lead is None else str(lead),
        "label_map": label_map or {},
        "version": CACHE_VERSION,
        "data": str(Path(data_dir).resolve()),
        "records": names,
        "labels": labels,
        "include_paced": include_paced,
        "annotator": annotator,
        "preprocessing": denoise.PARAMS,
        "files": _fingerprint(Path(data_dir), names, annotator),
    }
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def build_dataset(
    data_dir: Path,
    labels: str = "nlrav",
    include_paced: bool = False,
    records: list[str] | None = None,
    annotator: str = "atr",
    use_cache: bool = True,
    lead: str | int | None = None,
    label_map: dict[str, str] | None = None,
) -> Dataset:
    """The labelled beats of a WFDB folder (MLII-like lead, or `lead`), preprocessed.
    Records without such a lead, flat records and paced ones (unless include_paced) are
    skipped with a reason; beat codes the label set does not map are counted in
    `unmapped`. Cached on disk; an unusable cache location only costs the cache."""
    data_dir = Path(data_dir)
    spec = label_set(labels, label_map)
    names = records or list_records(data_dir)
    skipped: dict[str, str] = {}
    if not include_paced:
        for name in names:
            if name in PACED:
                skipped[name] = "paced (left out as AAMI recommends)"
        names = [n for n in names if n not in PACED]
    key = dataset_key(data_dir, names, labels, include_paced, annotator, lead, label_map)
    path = cache_dir() / f"beats-{key}.npz"
    if use_cache and path.exists():
        try:
            return _load(path, key)
        except Exception as exc:  # a damaged cache file is rebuilt, not trusted
            log.warning("cache %s unreadable (%s); rebuilding", path, exc)
    t0 = time.perf_counter()
    parts, used = [], []
    unmapped: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        rec = load_record(data_dir, name, annotator, lead=lead)
        if rec is None:
            skipped[name] = "no MLII lead"
            continue
        if rec.flat:
            skipped[name] = "flat signal (no variation in the whole record)"
            log.warning("record %s skipped: flat signal", name)
            continue
        for sym, n in unmapped_beats(rec.ann_symbols, spec).items():
            unmapped[sym] = unmapped.get(sym, 0) + n
        b = beats_from_record(rec, labels, label_map)
        log.info("[%d/%d] record %s: %d beats", i, len(names), name, len(b))
        if len(b):
            parts.append(b)
            used.append(name)
    if not parts:
        raise TinyECGError(f"{data_dir}: no labelled beats found in {len(names)} record(s)")
    beats = Beats.concat(parts)
    log.info("preprocessing %d windows (wavelet denoise + z-score)", len(beats))
    x = np.empty(beats.raw.shape, np.float32)
    for s in range(0, len(beats), 8192):
        x[s : s + 8192] = denoise.preprocess(_mv(beats, s, s + 8192))
    ds = Dataset(beats, x, spec["labels"], labels, used, skipped, key, unmapped)
    log.info(
        "built %d beats from %d records in %.1f s", len(beats), len(used), time.perf_counter() - t0
    )
    if use_cache:
        _save(path, ds)
    return ds


def _mv(beats: Beats, lo: int, hi: int) -> np.ndarray:
    raw = beats.raw[lo:hi].astype(np.float64)
    return (raw - beats.baseline[lo:hi, None]) / beats.gain[lo:hi, None]


def _save(path: Path, ds: Dataset) -> None:
    """Write the cache file; a cache location that cannot be used costs only the cache."""
    meta = json.dumps(
        {
            "labels": ds.labels,
            "label_set": ds.label_set,
            "records": ds.records,
            "skipped": ds.skipped,
            "key": ds.key,
            "unmapped": ds.unmapped,
        }
    )
    try:
        with outputs.staged(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                x=ds.x,
                meta=np.array(meta),
                **{f: getattr(ds.beats, f) for f in Beats.__dataclass_fields__},
            )
    except (OSError, TinyECGError) as exc:
        log.warning(
            "warning: dataset cache not written (%s); set %s to a writable folder",
            str(exc).removeprefix(f"{path}: "),
            ENV_CACHE,
        )


def _load(path: Path, key: str) -> Dataset:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta["key"] != key:
            raise ValueError("key mismatch")
        beats = Beats(*(z[f] for f in Beats.__dataclass_fields__))
        return Dataset(
            beats,
            z["x"],
            meta["labels"],
            meta["label_set"],
            meta["records"],
            meta["skipped"],
            key,
            meta.get("unmapped"),
        )


def dataset_from_config(cfg: dict) -> tuple[Dataset, dict[str, np.ndarray]]:
    """The dataset and split a run was made with (rebuilt from cache in seconds)."""
    from tinyecg.data.records import resolve_data_dir
    from tinyecg.data.splits import make_split

    d = cfg["data"]
    data_dir = resolve_data_dir(d["dir"])
    ds = build_dataset(
        data_dir, labels=d["labels"], include_paced=d["include_paced"], records=d.get("records")
    )
    split = make_split(cfg["split"]["name"], ds.beats.y, ds.beats.record, cfg["split"]["seed"])
    return ds, split


def dataset_summary(
    data=None,
    labels: str = "nlrav",
    include_paced: bool = False,
    lead=None,
    label_map: str | Path | None = None,
) -> list[str]:
    """`tinyecg data info`: the dataset's class counts, skipped records and unmapped codes."""
    from tinyecg.data.beats import read_label_map
    from tinyecg.data.records import resolve_data_dir

    mapping = read_label_map(label_map) if label_map else None
    ds = build_dataset(
        resolve_data_dir(data),
        labels=labels,
        include_paced=include_paced,
        lead=lead,
        label_map=mapping,
    )
    counts = np.bincount(ds.beats.y, minlength=len(ds.labels))
    lines = [f"{len(ds)} beats from {len(ds.records)} records (cache key {ds.key})"]
    lines += [f"  {lab}: {n}" for lab, n in zip(ds.labels, counts)]
    lines += [f"  skipped {rec}: {why}" for rec, why in sorted(ds.skipped.items())]
    lines += [
        f"  not in the label set: {n} beats annotated {sym!r}"
        for sym, n in (ds.unmapped or {}).items()
    ]
    return lines
