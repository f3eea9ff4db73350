"""Diagnostic: device path vs annotated path on one record (features, inputs, predictions)."""
import os
import sys, tempfile
from pathlib import Path
import numpy as np
from configs import CONFIGS
from lib import *
from final import ema_template_int
rec_name = sys.argv[1]
cfg = CONFIGS["final"]
from tinyecg import detect
from tinyecg.data.records import load_record
from tinyecg.device_path import build_event_driver, device_beats, device_events, match_beats, windows_at
from tinyecg.dsp import fixedpoint
from tinyecg.tflm import TFLMModel, capture_c_stdout
DATA = Path(os.environ.get("MITDB", Path(__file__).resolve().parents[4] / "shared/data/mitdb"))
tfl = Path("models/final_s0_student_int8.tflite").read_bytes()
m, _ = capture_c_stdout(lambda: TFLMModel(tfl))
qb, qr = m.inputs[0], m.inputs[1]
swap = int(np.prod(qb.shape)) < int(np.prod(qr.shape))
if swap: qb, qr = qr, qb
params = fixedpoint.preprocess_params(qb.scale, qb.zero_point)
drv = build_event_driver(Path(tempfile.mkdtemp()))
rec = load_record(DATA, rec_name); base = str(DATA / rec_name)
x, _, (lo, hi) = detect.read_record(base, None)
ev = device_events(x, drv, lo, hi)
db = device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
r = db.r
rh_d, A_d = rhythm_new(r)
B = load_beats(); ix = np.flatnonzero(B["rec"] == rec_name)
rh_a, A_a = rhythm_new(B["r"][ix])
mt = match_beats(B["r"][ix], r)
ok = mt >= 0
print("annotated beats", len(ix), "device beats", len(r), "matched", ok.sum(), "skipped", db.skipped)
ys = B["y"][ix]
S = ok & (ys == 1)
print("S beats", (ys == 1).sum(), "matched", S.sum())
for k, nm in enumerate(["pre/A", "post/A", "loc/A", "pre/loc", "post/pre", "A", "D/A", "pre"]):
    print(f"  {nm}: ann {np.median(rh_a[S, k]):.3f}  dev {np.median(rh_d[mt[S], k]):.3f}   mean|diff| {np.mean(np.abs(rh_a[S, k] - rh_d[mt[S], k])):.3f}")
off = r[mt[ok]] - B["r"][ix][ok]
print("offsets (dev - ann) percentiles", np.percentile(off, [1, 10, 50, 90, 99]))
print("offsets for S", np.percentile(r[mt[S]] - B["r"][ix][S], [1, 10, 50, 90, 99]))
q_dev = fixedpoint.preprocess_windows_int(windows_at(x, r), rec.baseline, int(round(rec.gain)), params).astype(np.int64)
q_ann = qb.quantize(B["w0"][ix]).astype(np.int64)
d = q_dev[mt[ok]] - q_ann[ok]
print("beat q |diff| mean", np.abs(d).mean(), "max", np.abs(d).max(), "frac equal", np.mean(d == 0))
pre, post = db.rr[:, 0], db.rr[:, 1]
t_dev = ema_template_int(q_dev, pre, post, np.round(A_d * 16).astype(np.int64), np.ones(len(r), bool), cfg)
pa, pb, _, _ = rr_basic(B["r"][ix])
t_ann = ema_template_int(q_ann, pa, pb, np.round(A_a * 16).astype(np.int64), B["keep"][ix], cfg)
dt = t_dev[mt[ok]] - t_ann[ok]
print("template |diff| mean", np.abs(dt).mean(), "max", np.abs(dt).max())
print("db.rr pre vs rr_basic pre (S):", np.mean(np.abs(pre[mt[S]] - pa[S])), "post:", np.mean(np.abs(post[mt[S]] - pb[S])))
print("input scale", qb.scale, qb.zero_point, "rhythm", qr.scale, qr.zero_point)
def run(qbeat, tmpl, rhy):
    xb = np.stack([qbeat, tmpl], -1).reshape((len(qbeat),) + tuple(qb.shape[1:])).astype(np.int8)
    xr = qr.quantize(rhy).reshape((len(qbeat),) + tuple(qr.shape[1:]))
    return m.invoke_batch(*((xr, xb) if swap else (xb, xr))).argmax(1)
sel = np.flatnonzero(ok)
yy = ys[sel]
for nm, qq, tt, rr_ in (("ann q, ann tmpl", q_ann[sel], t_ann[sel], rh_a[sel]),
                        ("dev q, dev tmpl", q_dev[mt[sel]], t_dev[mt[sel]], rh_d[mt[sel]]),
                        ("dev q, ann tmpl", q_dev[mt[sel]], t_ann[sel], rh_d[mt[sel]]),
                        ("ann q, dev tmpl", q_ann[sel], t_dev[mt[sel]], rh_a[sel])):
    p = run(qq, tt, rr_)
    print(nm, "S Se", np.mean(p[yy == 1] == 1).round(3), "N Se", np.mean(p[yy == 0] == 0).round(3))
# device template with the gate fed by the annotated-style post (next peak, no timeout)
pre2, post2, _, _ = rr_basic(r)
t_dev2 = ema_template_int(q_dev, pre2, post2, np.round(A_d * 16).astype(np.int64), np.ones(len(r), bool), cfg)
p = run(q_dev[mt[sel]], t_dev2[mt[sel]], rh_d[mt[sel]])
print("dev q, dev tmpl (gate post = next peak)", "S Se", np.mean(p[yy == 1] == 1).round(3), "N Se", np.mean(p[yy == 0] == 0).round(3))
print("beats with db post != next-peak post:", np.sum(post != post2), "of", len(r))
dd = np.abs(t_dev[mt[sel]] - t_ann[sel]).mean(1)
print("template diff along record (every 100th matched beat):", np.round(dd[::100], 1))
first = np.argmax(dd > 1); print("first diverging matched beat", first, "ann idx", sel[first])
j = sel[first]
print("ann r around", B["r"][ix][j-3:j+3], B["sym"][ix][j-3:j+3])
print("dev r around", r[mt[j]-3:mt[j]+3])
ga = lambda p_, q_, A_: (1600*p_ >= 85*A_) & (1600*p_ <= 120*A_) & (1600*q_ >= 85*A_) & (1600*q_ <= 120*A_)
g_a = ga(pa, pb, np.round(A_a*16).astype(np.int64)); g_d = ga(pre2, post2, np.round(A_d*16).astype(np.int64))
print("gate count ann", g_a.sum(), "dev", g_d.sum(), "gate mismatch on matched", np.sum(g_a[sel] != g_d[mt[sel]]))
