"""DS2 tables from results_ds2.jsonl (+ results_devpath.jsonl)."""
import json
import numpy as np
from lib import scores

def f_to_n(cm):
    cm = np.array(cm).copy(); cm[:, 0] += cm[:, 3]; cm[:, 3] = 0; return cm

def row(name, cm, extra=""):
    s = scores(np.array(cm))
    f = lambda c, k: f"{100*s[c][k]:.1f}"
    return (f"| {name} | {f('N','se')} | {f('N','ppv')} | {f('S','se')} | {f('S','ppv')} | {f('S','f1')} | "
            f"{f('V','se')} | {f('V','ppv')} | {f('V','f1')} | {f('F','se')} | {100*s['acc']:.1f} | {extra} |")

hdr = ("| model | N Se | N +P | S Se | S +P | S F1 | V Se | V +P | V F1 | F Se | acc | notes |\n"
       "|---|---|---|---|---|---|---|---|---|---|---|---|")
rows = [json.loads(l) for l in open("results_ds2.jsonl")]
print("## Final recipe (teacher + distillation), DS2\n"); print(hdr)
for r in rows:
    if r["tag"] not in ("final", "final2"):
        continue
    print(f"| **{r['tag']}** |||||||||||")
    sd = r["seed"]
    if "teacher" in r:
        print(row(f"teacher float s{sd}", r["teacher"]["cm"], f"{r['teacher']['macs']} MACs, {r['teacher']['seconds']} s"))
        print(row(f"teacher float s{sd}, no RR gate", r["teacher"]["cm_nogate"]))
    print(row(f"student float s{sd}", r["student"]["cm"], f"{r['student']['macs']} MACs, {r['student']['params']} params, {r['student']['seconds']} s"))
    print(row(f"student float s{sd}, no RR gate", r["student"]["cm_nogate"]))
    if "int8" in r:
        i = r["int8"]
        print(row(f"student int8 TFLM s{sd}", i["cm"], f"{i['flatbuffer_bytes']} B, arena {i['arena_bytes']} B, agree {100*i['agreement_with_float']:.2f} %"))
        print(row(f"student int8 TFLM s{sd}, no RR gate", i["cm_nogate"]))
        print(row(f"student int8 TFLM s{sd}, no RR gate, F output -> N", f_to_n(i["cm_nogate"])))
    print(f"|  total {r['total_seconds']} s |||||||||||")
print("\n## Ablations (student trained directly on DS1, int8 TFLM, with RR gate unless said), DS2\n"); print(hdr)
for r in rows:
    if r["tag"] in ("final", "final2"):
        continue
    k = "int8" if "int8" in r else "student"
    print(row(f"{r['tag']} s{r['seed']} ({k})", r[k]["cm"], f"float S F1 {100*scores(np.array(r['student']['cm']))['S']['f1']:.1f} V F1 {100*scores(np.array(r['student']['cm']))['V']['f1']:.1f}"))
    if r["cfg"].get("gate_s"):
        print(row(f"{r['tag']} s{r['seed']} ({k}) no RR gate", r[k]["cm_nogate"]))
try:
    for l in open("results_devpath.jsonl"):
        r = json.loads(l)
        if "cm_nogate" not in r:
            continue
        print(f"\n## Device path {r['model']} ({len(r.get('records', []))} records), QRS {r.get('qrs')}\n"); print(hdr)
        print(row("device path int8", r["cm"])); print(row("device path int8, no RR gate", r["cm_nogate"]))
        print(row("device path int8, no RR gate, F -> N", f_to_n(r["cm_nogate"])))
except FileNotFoundError:
    pass
