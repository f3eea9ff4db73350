"""DS1-CV only: gate (S needs pre/A <= g and D/A <= d) plus rescue (N -> S when pre/A <= r1,
D/A <= d, and post/pre >= r2)."""
import sys, numpy as np
from lib import *
B = load_beats()
rh, _, _ = record_features(B, {"rr": "new", "K": 8})
names = sys.argv[1:]
res = {}
for name in names:
    z = np.load(f"preds/{name}.npz"); idx, prob = z["idx"], z["prob"]
    y = B["y"][idx]; p = prob.argmax(1)
    pa, da, pp = rh[idx, 0], rh[idx, 6], rh[idx, 4]
    for g in (0.8, 0.85, 0.9):
        for d in (0.1, 0.15, 0.2, 0.25):
            for r1 in (0, 0.6, 0.7, 0.75):
                p2 = p.copy()
                p2[(p == 1) & ((pa > g) | (da > d))] = 0
                if r1:
                    p2[(p == 0) & (pa <= r1) & (da <= d) & (pp >= 1.15)] = 1
                s = scores(confusion(y, p2))
                res.setdefault((g, d, r1), []).append((s["S"]["f1"], s["S"]["se"], s["S"]["ppv"], s["N"]["se"], s["V"]["f1"]))
best = sorted(res.items(), key=lambda kv: -np.mean([v[0] for v in kv[1]]))
for k, v in best[:12]:
    v = np.array(v).mean(0) * 100
    print(k, "S F1 %.1f Se %.1f +P %.1f  N Se %.1f V F1 %.1f" % tuple(v))
print("no gate:", [round(100*scores(confusion(B['y'][np.load(f'preds/{n}.npz')['idx']], np.load(f'preds/{n}.npz')['prob'].argmax(1)))['S']['f1'],1) for n in names])
