import json, sys, numpy as np
want = sys.argv[1:]
for line in open("results_cv.jsonl"):
    r = json.loads(line)
    if "per_record" not in r or (want and r["config"] not in want): continue
    print(r["config"], r["seed"])
    for rec, cm in sorted(r["per_record"].items()):
        cm = np.array(cm)
        print(f"  {rec}: N {cm[0].sum():4d} ->S {cm[0,1]:4d} ->V {cm[0,2]:4d} | S {cm[1].sum():4d}: ->S {cm[1,1]:4d} ->N {cm[1,0]:4d} ->V {cm[1,2]:3d} | V {cm[2].sum():4d}: ->V {cm[2,2]:4d} ->N {cm[2,0]:4d} ->S {cm[2,1]:3d}| F {cm[3].sum()}: ->V {cm[3,2]}")
