"""Train/validation/test splits. Nothing is balanced or oversampled here: class imbalance is
handled in training only."""

from __future__ import annotations

import numpy as np

from tinyecg.data.records import DS1, DS2
from tinyecg.errors import TinyECGError

SPLITS = ("intra", "inter")


def split_intra(
    y: np.ndarray, seed: int = 0, val_frac: float = 0.1, test_frac: float = 0.2
) -> dict[str, np.ndarray]:
    """Stratified random split over beats (patients leak: neighbouring beats of one person land
    on both sides; reported because the literature does, never alone)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(idx) * test_frac))
        n_val = int(round(len(idx) * val_frac))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


def split_inter(records: np.ndarray, seed: int = 0, val_records: int = 4) -> dict[str, np.ndarray]:
    """de Chazal et al. 2004: train on DS1, test on DS2; validation is whole DS1 records, so
    early stopping never sees a training patient."""
    records = np.asarray(records)
    ds1 = sorted(set(records[np.isin(records, DS1)]))
    ds2 = sorted(set(records[np.isin(records, DS2)]))
    if len(ds1) < 2 or not ds2:
        raise TinyECGError(
            "inter split needs at least two DS1 records and one DS2 record "
            f"(found DS1: {len(ds1)}, DS2: {len(ds2)})"
        )
    rng = np.random.default_rng(seed)
    n_val = min(val_records, max(1, len(ds1) // 5))
    val = set(rng.choice(ds1, size=n_val, replace=False).tolist())
    return {
        "train": np.flatnonzero(np.isin(records, [r for r in ds1 if r not in val])),
        "val": np.flatnonzero(np.isin(records, sorted(val))),
        "test": np.flatnonzero(np.isin(records, ds2)),
    }


def make_split(
    name: str, y: np.ndarray, records: np.ndarray, seed: int = 0
) -> dict[str, np.ndarray]:
    if name == "intra":
        return split_intra(y, seed)
    if name == "inter":
        return split_inter(records, seed)
    raise TinyECGError(f"unknown split {name!r} (choose from {', '.join(SPLITS)})")
