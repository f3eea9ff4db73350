"""The int8 model of the final recipe on the DEVICE PATH for DS2: R-peaks and RR context from
the firmware core's C detector and beat assembly (tinyecg.device_path: event driver +
device_beats rules), beat windows through the fixed-point preprocessing
(tinyecg.dsp.fixedpoint.preprocess_windows_int, bit-exact with the C), the template as the
integer EMA of those int8 windows, the new RR features from integer state (A, D in Q4), and
the model in the TFLM host runtime. Detected beats are matched to annotations within 150 ms.

usage: python3 devpath.py MODEL.tflite RECIPE"""
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from configs import CONFIGS
from lib import DS2, HERE, LABELS, confusion, fmt, log_result, scores, rhythm_new, rr_gate
from final import ema_template_int

DATA = Path(os.environ.get("MITDB", Path(__file__).resolve().parents[4] / "shared/data/mitdb"))


def main():
    tfl_path, recipe = sys.argv[1], sys.argv[2]
    records = sys.argv[3].split(",") if len(sys.argv) > 3 else DS2
    cfg = CONFIGS[recipe]
    from tinyecg import detect
    from tinyecg.data.beats import LABEL_SETS
    from tinyecg.data.records import load_record
    from tinyecg.device_path import (build_event_driver, device_beats, device_events,
                                     match_beats, windows_at)
    from tinyecg.dsp import fixedpoint
    from tinyecg.tflm import TFLMModel, capture_c_stdout

    aami = LABEL_SETS["aami"]
    tfl = Path(tfl_path).read_bytes()
    m, _ = capture_c_stdout(lambda: TFLMModel(tfl))
    qb, qr = m.inputs[0], m.inputs[1]
    swap = int(np.prod(qb.shape)) < int(np.prod(qr.shape))
    if swap:
        qb, qr = qr, qb
    params = fixedpoint.preprocess_params(qb.scale, qb.zero_point)
    build = Path(tempfile.mkdtemp(prefix="devpath"))
    driver = build_event_driver(build)
    t0 = time.time()
    ys, ps, ps_raw, qrs_tp, qrs_fn, qrs_fp = [], [], [], 0, 0, 0
    qrs_all = []
    for name in records:
        rec = load_record(DATA, name)
        base = str(DATA / name)
        x, _, (lo, hi) = detect.read_record(base, None)
        ev = device_events(x, driver, lo, hi)
        db = device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
        r = db.r
        # features from the device's own beat sequence (pre/post as the core computes them)
        rh, A = rhythm_new(r, K=cfg.get("K", 8))
        pre, post = db.rr[:, 0], db.rr[:, 1]
        q = fixedpoint.preprocess_windows_int(windows_at(x, r), rec.baseline,
                                              int(round(rec.gain)), params).astype(np.int64)
        xb = q
        if cfg.get("template"):
            A16 = np.round(A * 16).astype(np.int64)
            t = ema_template_int(q, pre, post, A16, np.ones(len(r), bool), cfg)
            xb = np.stack([q, t], -1)
        else:
            xb = q[..., None]
        xb = xb.reshape((len(r),) + tuple(qb.shape[1:])).astype(np.int8)
        xr = qr.quantize(rh).reshape((len(r),) + tuple(qr.shape[1:]))
        out = m.invoke_batch(*((xr, xb) if swap else (xb, xr)))
        pred_raw = out.argmax(1)
        pred = rr_gate(pred_raw, rh, cfg)
        # annotations: match every reference beat to a detected peak
        ref = detect.reference_beats(base)
        sc = detect.score_detections(ref, ev.peaks)
        import wfdb
        a = wfdb.rdann(base, "atr")
        sym_of = {int(s): sym for s, sym in zip(a.sample, a.symbol)}
        match = match_beats(ref, r)
        for i, k in enumerate(match):
            sym = sym_of.get(int(ref[i]))
            if sym not in aami["map"]:
                continue
            c = ["N", "S", "V", "F", "Q"].index(aami["map"][sym])
            if c > 3:
                continue
            if k >= 0:
                ys.append(c)
                ps.append(int(pred[k]))
                ps_raw.append(int(pred_raw[k]))
        qrs_all.append(sc)
        print(name, len(r), "peaks", len(ev.peaks), sc if not isinstance(sc, dict) else
              {k: sc[k] for k in list(sc)[:6]}, flush=True)
    cm = confusion(np.array(ys), np.array(ps))
    cm_raw = confusion(np.array(ys), np.array(ps_raw))
    tp = sum(q["tp"] for q in qrs_all); fp = sum(q["fp"] for q in qrs_all); fn = sum(q["fn"] for q in qrs_all)
    print(f"QRS detection DS2: TP {tp} FP {fp} FN {fn} Se {tp/(tp+fn):.4f} +P {tp/(tp+fp):.4f}")
    print("DEVICE PATH no gate", fmt(scores(cm_raw)))
    print("DEVICE PATH", fmt(scores(cm)))
    print(cm)
    log_result(HERE / "results_devpath.jsonl", {"model": tfl_path, "records": records, "recipe": recipe, "cm": cm,
                                                "scores": scores(cm), "cm_nogate": cm_raw,
                                                "qrs": {"tp": tp, "fp": fp, "fn": fn},
                                                "seconds": round(time.time() - t0, 1)})


if __name__ == "__main__":
    main()
