"""Lever 4: augmentation that mimics other patients and devices, applied to WHOLE records
(so the windows, the RR features and the running template of an augmented record stay
consistent, as a device would see that "other patient"):

  * time scale: the record resampled by f ~ U(0.88, 1.12) (QRS width and heart rate change
    together; R-peaks move to round(r * f));
  * lead polarity: inverted with probability p_flip;
  * gain: x g ~ logU(0.5, 2) (only matters through the std floor: preprocessing z-scores);
  * baseline wander: two sinusoids 0.05-0.5 Hz, amplitude up to 0.4 mV each;
  * broadband noise: Gaussian, sigma ~ U(0, 0.06) mV, plus 50/60 Hz mains up to 0.05 mV.
Then the same preprocessing (tinyecg.dsp.denoise.preprocess) on the windows.
Augmented records are named "<rec>~<k>" and flagged is_aug; they are only ever added to the
training side of a split whose base record is a training record."""
from pathlib import Path

import os
import numpy as np
import wfdb

from lib import CACHE

DATA = Path(os.environ.get("MITDB", Path(__file__).resolve().parents[4] / "shared/data/mitdb"))


def _synth_premature(x_leads, smp, sym, rng, rate, ratio=(0.55, 0.85), fade=16):
    """Synthetic supraventricular premature beats: for a fraction `rate` of normal beats i
    with regular, normal neighbours, delete D samples just before the P wave (ending at
    r_i - 90, cross-faded over `fade` samples), so beat i arrives at pre' = ratio * pre with
    its own P-QRS-T (the P lands on the previous T wave) and the rest of the record moves
    D samples earlier (non-compensatory pause: the sinus node is reset). Returns new
    signals, R-peaks and a bool mask of synthetic S beats."""
    n = len(smp)
    pre = np.diff(smp, prepend=smp[0])
    post = np.diff(smp, append=smp[-1])
    ok = np.zeros(n, bool)
    for i in range(2, n - 2):
        if sym[i] == "N" and sym[i - 1] == "N" and sym[i + 1] == "N" and sym[i - 2] == "N":
            if abs(pre[i] - pre[i - 1]) < 0.1 * pre[i] and abs(post[i] - pre[i]) < 0.1 * pre[i]:
                ok[i] = True
    cand = np.flatnonzero(ok)
    pick = np.sort(rng.choice(cand, size=int(rate * n), replace=False)) if len(cand) else cand
    # keep picks apart (at least 3 beats) so every synthetic beat has normal neighbours
    keep, last = [], -10
    for i in pick:
        if i - last >= 3:
            keep.append(i)
            last = i
    mask = np.zeros(n, bool)
    smp = smp.copy()
    xs = [x.copy() for x in x_leads]
    for i in keep[::-1]:  # from the end: earlier positions stay valid
        d = int(round(pre[i] * (1 - rng.uniform(*ratio))))
        d = min(d, int(pre[i]) - 160)
        if d < 10:
            continue
        c = int(smp[i]) - 90            # cut ends just before the P wave
        a = c - d                       # samples [a, c) removed
        if a - fade < smp[i - 1] + 40:
            continue
        w = np.linspace(0, 1, fade)
        for k, x in enumerate(xs):
            blend = x[a - fade:a] * (1 - w) + x[c - fade:c] * w
            xs[k] = np.concatenate([x[:a - fade], blend, x[c:]])
        smp[i:] -= d
        mask[i] = True
    return xs, smp, mask


def _augment_record(name, rng, p_flip, lead2, synth_s=0.0, mimic=True):
    from tinyecg.data.beats import BEAT_SYMBOLS, LABEL_SETS
    from tinyecg.dsp import denoise
    aami = LABEL_SETS["aami"]
    rec = wfdb.rdrecord(str(DATA / name), physical=True)
    ann = wfdb.rdann(str(DATA / name), "atr")
    i0 = rec.sig_name.index("MLII")
    sym = np.asarray(ann.symbol)
    smp = np.asarray(ann.sample, np.int64)
    isb = np.isin(sym, list(BEAT_SYMBOLS))
    sym, smp = sym[isb], smp[isb]
    f = rng.uniform(0.88, 1.12) if mimic else 1.0
    sig = {li: rec.p_signal[:, li].astype(np.float64) for li in (i0, 1 - i0)}
    syn = np.zeros(len(smp), bool)
    if synth_s:
        xs, smp, syn = _synth_premature([sig[i0], sig[1 - i0]], smp, sym, rng, synth_s)
        sig = {i0: xs[0], 1 - i0: xs[1]}
    out = {}
    for li, key in ((i0, "w0"), (1 - i0, "w1")):
        if key == "w1" and not lead2:
            continue
        x = sig[li]
        n = len(x)
        m = int(round(n * f))
        t = np.arange(m) / f
        y = np.interp(t, np.arange(n), x)
        tt = np.arange(m) / 360.0
        if not mimic:
            r = smp.copy()
            keep = (r - 180 >= 0) & (r + 180 <= n)
            idx = np.clip(r, 180, n - 180)[:, None] - 180 + np.arange(360)[None, :]
            w = denoise.preprocess(x[idx]).astype(np.float32)
            w[~keep] = 0
            out[key] = w
            continue
        sign = -1.0 if rng.random() < p_flip else 1.0
        g = np.exp(rng.uniform(np.log(0.5), np.log(2)))
        bw = sum(rng.uniform(0, 0.4) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * tt
                                               + rng.uniform(0, 2 * np.pi)) for _ in range(2))
        noise = rng.normal(0, rng.uniform(0, 0.06), m)
        mains = rng.uniform(0, 0.05) * np.sin(2 * np.pi * rng.choice([50, 60]) * tt
                                              + rng.uniform(0, 6.3))
        y = g * sign * y + bw + noise + mains
        r = np.round(smp * f).astype(np.int64)
        keep = (r - 180 >= 0) & (r + 180 <= m)
        idx = np.clip(r, 180, m - 180)[:, None] - 180 + np.arange(360)[None, :]
        w = denoise.preprocess(y[idx]).astype(np.float32)
        w[~keep] = 0
        out[key] = w
    yl = np.array([["N", "S", "V", "F", "Q"].index(aami["map"][s]) if s in aami["map"] else -1
                   for s in sym])
    yl[syn] = 1
    out.update(r=r, keep=keep, y=yl, sym=sym)
    return out


def augmented_beats(B, cfg, records):
    copies = cfg.get("augment", 1)
    p_flip = cfg.get("p_flip", 0.2)
    lead2 = bool(cfg.get("lead2"))
    synth_s = cfg.get("synth_s", 0.0)
    mimic = cfg.get("mimic", True)
    path = CACHE / f"aug_c{copies}_f{p_flip}_l{int(lead2)}_s{synth_s}_m{int(mimic)}.npz"
    if path.exists():
        z = np.load(path)
        A = {k: z[k] for k in z.files}
    else:
        rng = np.random.default_rng(1234)
        parts = []
        for name in records:
            for k in range(copies):
                o = _augment_record(name, rng, p_flip, lead2, synth_s, mimic)
                o["rec"] = np.full(len(o["r"]), f"{name}~{k}")
                parts.append(o)
        A = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        np.savez(path, **A)
    n = len(A["r"])
    out = {}
    for k, v in B.items():
        if k in A:
            out[k] = np.concatenate([v.astype(A[k].dtype) if k == "rec" else v, A[k]])
        elif k in ("w1",):
            out[k] = np.concatenate([v, np.zeros((n, 360), np.float32)])
        elif v.ndim == 1:
            out[k] = np.concatenate([v, np.zeros(n, v.dtype)])
    out["rec"] = np.concatenate([B["rec"].astype("<U8"), A["rec"].astype("<U8")])
    out["is_aug"] = np.concatenate([np.zeros(len(B["r"]), bool), np.ones(n, bool)])
    return out
