"""Sanity checks on DS1 only: RR rule and template gate purity."""
import numpy as np, time
from lib import *
B = load_beats()
ds1 = np.isin(B["rec"], DS1)
for K in (6, 8):
    t=time.time()
    rh, tm, _ = record_features(B, {"rr": "new", "K": K, "template": "tmpl"})
    print("features", time.time()-t)
    m = ds1 & B["keep"] & (B["y"] >= 0) & (B["y"] != 2)
    pred = rh[:, 0] < 0.8
    s = B["y"] == 1
    tp = (pred & s & m).sum(); print("K", K, "rule Se", tp / (s & m).sum(), "+P", tp / (pred & m).sum())
    # gate purity
    for rec in DS1:
        pass
    pre_a, post_a = rh[:, 0], rh[:, 1]
    gate = (pre_a >= .85) & (pre_a <= 1.2) & (post_a >= .85) & (post_a <= 1.2) & ds1 & B["keep"]
    print(" gate share", gate.sum() / (ds1 & B['keep']).sum(), "classes in gate", np.bincount(B["y"][gate] + 1, minlength=6))
    # template similarity for V vs N
    cc = np.sum(B["w0"] * tm, 1) / 360 / np.maximum(np.std(tm, 1), 1e-3)
    for c in range(4):
        mm = ds1 & B["keep"] & (B["y"] == c)
        print("  class", LABELS[c], "corr to template median", np.median(cc[mm]).round(3), "p10", np.percentile(cc[mm], 10).round(3))
