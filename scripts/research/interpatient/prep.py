"""Build the beat arrays for DS1 + DS2 (44 non-paced MIT-BIH records) once.

For every record: ALL beat annotations (BEAT_SYMBOLS, as the device would see every beat),
their R-peaks, AAMI label (-1 for non-AAMI symbols), preprocessed windows of lead 0 (MLII,
tinyecg.dsp.denoise.preprocess) and of the other lead (V1/V2/V4/V5), both float32.
Beats whose window leaves the record get a zero window and keep=False.
Output: cache/beats.npz beside this script
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, os.environ["TINYECG_493A651"])  # a checkout of tinyecg at 493a651
from tinyecg.data.beats import BEAT_SYMBOLS, LABEL_SETS  # noqa: E402
from tinyecg.data.records import DS1, DS2  # noqa: E402
from tinyecg.dsp import denoise  # noqa: E402

DATA = Path(os.environ.get("MITDB", Path(__file__).resolve().parents[4] / "shared/data/mitdb"))
OUT = Path(__file__).resolve().parent / "cache"
OUT.mkdir(parents=True, exist_ok=True)
AAMI = LABEL_SETS["aami"]
NAMES = AAMI["labels"]  # N S V F Q


def main():
    t0 = time.time()
    cols = {k: [] for k in ("rec", "r", "y", "keep", "w0", "w1", "raw0", "base0", "gain0", "sym")}
    leads = {}
    for name in DS1 + DS2:
        h = wfdb.rdheader(str(DATA / name))
        i0 = h.sig_name.index("MLII")
        i1 = 1 - i0
        leads[name] = h.sig_name[i1]
        rec = wfdb.rdrecord(str(DATA / name), physical=False)
        ann = wfdb.rdann(str(DATA / name), "atr")
        sym = np.asarray(ann.symbol)
        smp = np.asarray(ann.sample, np.int64)
        isb = np.isin(sym, list(BEAT_SYMBOLS))
        sym, smp = sym[isb], smp[isb]
        n = len(rec.d_signal)
        keep = (smp - 180 >= 0) & (smp + 180 <= n)
        y = np.array([NAMES.index(AAMI["map"][s]) if s in AAMI["map"] else -1 for s in sym])
        idx = np.clip(smp, 180, n - 180)[:, None] - 180 + np.arange(360)[None, :]
        for lead, key in ((i0, "w0"), (i1, "w1")):
            adc = rec.d_signal[:, lead].astype(np.float64)
            mv = (adc - rec.baseline[lead]) / rec.adc_gain[lead]
            w = denoise.preprocess(mv[idx]).astype(np.float32)
            w[~keep] = 0
            cols[key].append(w)
        cols["raw0"].append(rec.d_signal[:, i0][idx].astype(np.int16))
        cols["base0"].append(np.full(len(smp), rec.baseline[i0], np.int32))
        cols["gain0"].append(np.full(len(smp), rec.adc_gain[i0], np.float32))
        cols["rec"].append(np.full(len(smp), name))
        cols["r"].append(smp)
        cols["y"].append(y)
        cols["keep"].append(keep)
        cols["sym"].append(sym)
        print(name, leads[name], len(smp), np.bincount(y[(y >= 0) & keep], minlength=5),
              f"{time.time() - t0:.0f}s", flush=True)
    arr = {k: np.concatenate(v) for k, v in cols.items()}
    arr["rec"] = arr["rec"].astype("<U4")
    arr["sym"] = arr["sym"].astype("<U2")
    np.savez(OUT / "beats.npz", **arr)
    print("lead 1 names", leads)


if __name__ == "__main__":
    main()
