"""Leave-records-out CV inside DS1 (4 folds of whole records, lib.FOLDS).

usage: python3 cv.py CONFIG [SEED] [--threads N]
Appends one JSON row per config to results_cv.jsonl (pooled confusion over the 4 held-out
folds, per-fold confusions, train seconds)."""
import argparse
import time

import numpy as np

from configs import CONFIGS
from lib import (DS1, FOLDS, HERE, confusion, fmt, load_beats, log_result, make_inputs,
                 record_features, scores, train, count_macs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", default="0,1,2,3")
    a = ap.parse_args()
    cfg = dict(CONFIGS[a.config])
    cfg["threads"] = a.threads
    B = load_beats()
    if cfg.get("augment"):
        from augment import augmented_beats
        B = augmented_beats(B, cfg, DS1)
    feats = record_features(B, cfg)
    lab = (B["y"] >= 0) & (B["y"] <= 3) & B["keep"]
    # beats left out of the training loss only (still scored on held-out records)
    train_ok = ~np.isin(B["sym"], cfg.get("drop_train_syms", []))
    real = ~B.get("is_aug", np.zeros(len(lab), bool))
    cms, secs, per_rec = [], [], {}
    all_prob, all_idx = [], []
    for k in [int(v) for v in a.folds.split(",")]:
        test_recs = FOLDS[k]
        train_recs = [r for r in DS1 if r not in test_recs]
        base_rec = np.array([s.split("~")[0] for s in B["rec"]]) if cfg.get("augment") else B["rec"]
        tr = np.flatnonzero(lab & train_ok & np.isin(base_rec, train_recs))
        if not cfg.get("augment"):
            tr = tr[real[tr]]
        te = np.flatnonzero(lab & real & np.isin(B["rec"], test_recs))
        xtr = make_inputs(B, tr, cfg, feats)
        xte = make_inputs(B, te, cfg, feats)
        if cfg.get("aug_fn_name"):
            from augment import BEAT_AUG
            cfg["aug_fn"] = BEAT_AUG[cfg["aug_fn_name"]]
        model, sec = train(cfg, xtr, B["y"][tr], seed=a.seed)
        prob = model.predict(xte, batch_size=4096, verbose=0)
        p = prob.argmax(1)
        all_prob.append(prob)
        all_idx.append(te)
        cm = confusion(B["y"][te], p)
        cms.append(cm)
        for rec in test_recs:
            mm = B["rec"][te] == rec
            per_rec[rec] = confusion(B["y"][te][mm], p[mm])
        secs.append(sec)
        print(f"[{a.config} s{a.seed}] fold {k} ({sec:.0f}s, {len(tr)} train): {fmt(scores(cm))}",
              flush=True)
    pooled = sum(cms)
    sc = scores(pooled)
    print(f"[{a.config} s{a.seed}] POOLED: {fmt(sc)}  acc {100*sc['acc']:.1f}", flush=True)
    (HERE / "preds").mkdir(exist_ok=True)
    np.savez(HERE / "preds" / f"{a.config}_s{a.seed}.npz", idx=np.concatenate(all_idx),
             prob=np.concatenate(all_prob))
    log_result(HERE / "results_cv.jsonl", {
        "config": a.config, "seed": a.seed, "folds": a.folds, "pooled": pooled,
        "fold_cms": cms, "train_seconds": secs, "macs": count_macs(model),
        "params": model.count_params(), "per_record": per_rec, "scores": sc, "time": time.strftime("%H:%M")})


if __name__ == "__main__":
    main()
