"""DS1-CV table: pooled (sum of the 4 held-out folds' confusions) and fold-mean F1, mean over seeds."""
import json, sys
from collections import defaultdict
import numpy as np
from lib import scores
rows = defaultdict(list)
for line in open("results_cv.jsonl"):
    r = json.loads(line)
    if r.get("folds", "0,1,2,3") != "0,1,2,3": continue
    rows[r["config"]].append(r)
order = sys.argv[1:] or list(rows)
print("| config | seeds | N Se | N +P | S Se | S +P | S F1 | V Se | V +P | V F1 | S F1 fold-mean | V F1 fold-mean | train s/fold |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in order:
    if c not in rows: continue
    rs = rows[c]
    sc = [scores(np.array(r["pooled"])) for r in rs]
    def m(k, f): return 100 * np.mean([s[k][f] for s in sc])
    def fm(k):
        v = []
        for r in rs:
            for cm in r["fold_cms"]:
                s = scores(np.array(cm))[k]["f1"]
                if not np.isnan(s): v.append(s)
        return 100 * np.mean(v)
    t = np.mean([np.mean(r["train_seconds"]) for r in rs])
    print(f"| {c} | {len(rs)} | {m('N','se'):.1f} | {m('N','ppv'):.1f} | {m('S','se'):.1f} | {m('S','ppv'):.1f} | {m('S','f1'):.1f} | {m('V','se'):.1f} | {m('V','ppv'):.1f} | {m('V','f1'):.1f} | {fm('S'):.1f} | {fm('V'):.1f} | {t:.0f} |")
