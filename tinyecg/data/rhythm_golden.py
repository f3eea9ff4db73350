"""Golden windows of the rhythm task: real 8-s windows, as the device's front end hands them
to the model, kept beside a trained rhythm model so its export can embed them without the
databases (a wheel has none).

    g = pick_golden(records)           # round robin over the window classes, seeded
    save_golden(path, g); load_golden(path)

Each window: its record ("database/name"), the stream index of its end (90 Hz, exclusive:
the window is stream[end - RHYTHM_WINDOW, end)), its annotated class (WINDOW_CLASSES), the
int8 front-end output (tinyecg.dsp.rhythm_frontend.normalise_int) and the amplitude gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyecg.data.rhythm import WC, WINDOW_CLASSES, RhythmRecord
from tinyecg.dsp import rhythm_frontend as fe
from tinyecg.errors import TinyECGError
from tinyecg.spec import RHYTHM_WINDOW

FILE = "golden_windows.npz"
# class order of the round robin: a shockable and a non-shockable window come first
ORDER = ("VF_coarse", "NSR", "VT_rapid", "OTHER", "ASYS", "UNSPEC", "VF_fine", "VT_slow")
PER_CLASS = 4
KEYS = ("record", "end", "window_class", "window", "gate")


def pick_golden(records: list[RhythmRecord], per_class: int = PER_CLASS, seed: int = 0) -> dict:
    """Up to per_class windows of every class of ORDER (each from another record while
    records last), in round-robin order: class 0, class 1, ..., class 0, ..."""
    rng = np.random.default_rng(seed)
    ordered = sorted(records, key=lambda r: (r.database, r.name))
    pools: list[list[tuple[RhythmRecord, int]]] = []
    for name in ORDER:
        holders = [r for r in ordered if (r.score_class == WC[name]).any()]
        picks = []
        for r in rng.permutation(len(holders))[:per_class]:
            rec = holders[int(r)]
            k = int(rng.choice(np.flatnonzero(rec.score_class == WC[name])))
            picks.append((rec, k))
        pools.append(picks[::-1])
    chosen = []
    while any(pools):
        for pool in pools:
            if pool:
                chosen.append(pool.pop())
    if not chosen:
        raise TinyECGError("no scored rhythm window to keep as golden windows")
    ends = [int(r.ends[k]) for r, k in chosen]
    windows = [fe.windows_at(r.stream, r.ends[k : k + 1], RHYTHM_WINDOW) for r, k in chosen]
    return {
        "record": np.array([f"{r.database}/{r.name}" for r, _ in chosen]),
        "end": np.array(ends, np.int64),
        "window_class": np.array([WINDOW_CLASSES[int(r.score_class[k])] for r, k in chosen]),
        "window": np.concatenate(
            [fe.normalise_int(w, r.gain) for w, (r, _) in zip(windows, chosen)]
        ).astype(np.int8),
        "gate": np.concatenate(
            [fe.amplitude_gate(w, r.gain) for w, (r, _) in zip(windows, chosen)]
        ).astype(bool),
    }


def save_golden(path: Path, golden: dict) -> None:
    """As .npz (no pickles), atomically."""
    import io

    from tinyecg import outputs

    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: golden[k] for k in KEYS})
    outputs.write_file(Path(path), buf.getvalue())


def load_golden(path: Path) -> dict:
    """The golden windows of save_golden; a one-line TinyECGError for a bad file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            g = {k: z[k] for k in KEYS}
    except (OSError, ValueError, KeyError) as exc:
        raise TinyECGError(f"{path}: not a golden-windows file ({exc})") from None
    n = len(g["record"])
    if g["window"].shape != (n, RHYTHM_WINDOW) or g["window"].dtype != np.int8:
        raise TinyECGError(f"{path}: windows are not int8 [{n}, {RHYTHM_WINDOW}]")
    return g
