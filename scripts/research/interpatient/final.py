"""Final recipe: train on all of DS1, report on DS2 (teacher float, student float, student
int8 in TFLM with the template and RR features computed in integers as the device would).

usage: python3 final.py RECIPE [--seed S] [--teacher TEACHER_CFG] [--no-int8] [--tag TAG]
Writes results_ds2.jsonl rows and models/<tag>_s<seed>_{teacher,student}.keras, .tflite."""
import argparse
import json
import time
import warnings

import numpy as np

from configs import CONFIGS
from lib import (DS1, DS2, HERE, LABELS, confusion, count_macs, fmt, load_beats, log_result,
                 rr_gate, gate_features,
                 make_inputs, record_features, rr_basic, rhythm_new, scores, train)


def convert_int8_per_tensor_dense(model, rep):
    """tinyecg.quantize.convert_int8 with dense layers kept per-tensor (TFLM before mid-2024
    mis-computes per-channel FULLY_CONNECTED)."""
    import tensorflow as tf
    from tinyecg.export.tflite_model import load_model
    names = [t.name.split(":")[0] for t in model.inputs]

    def dataset():
        for i in range(len(rep[0])):
            yield {name: arr[i:i + 1] for name, arr in zip(names, rep)}

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = dataset
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = conv.convert()
    ok, reasons = load_model(bytes(data)).is_fully_int8()
    assert ok, reasons
    return bytes(data)


def ema_template_int(q, pre, post, A16, keep, cfg):
    """The device's template, integers only: T (int32 per sample, Q8 of the int8 beat input
    q), initialised to the first beat's q << 8; after beat j has been classified it is updated
    iff beat j is regular by RR: 100*16*pre >= LO*A16, 100*16*pre <= HI*A16 and the same
    for post (LO, HI = 85, 120 percent; A16 = the Q4 long-term RR state), with
    cnt += 1; s = min(KT, floor(log2(cnt))); T += ((q_j << 8) - T) >> s.
    Beat j's template input is (T + 128) >> 8 (state BEFORE beat j's own update).
    q: (n, 360) int; returns (n, 360) int64 in [-128, 127]."""
    lo, hi = cfg.get("gate", (0.85, 1.2))
    lo_i, hi_i = int(round(lo * 100)), int(round(hi * 100))
    if cfg.get("tgate") == "pre_only":
        gate = 1600 * pre >= lo_i * A16
    else:
        gate = ((1600 * pre >= lo_i * A16) & (1600 * pre <= hi_i * A16) &
                (1600 * post >= lo_i * A16) & (1600 * post <= hi_i * A16))
    out = np.zeros(q.shape, np.int64)
    T = None
    cnt = 0
    KT = cfg.get("KT", 5)
    for j in range(len(q)):
        if T is None and keep[j]:
            T = q[j].astype(np.int64) << 8
        out[j] = ((T + 128) >> 8) if T is not None else 0
        if gate[j] and keep[j]:
            cnt += 1
            s = min(KT, cnt.bit_length() - 1)
            T = T + (((q[j].astype(np.int64) << 8) - T) >> s)
    return np.clip(out, -128, 127)


def int8_eval(tfl, B, te, cfg, feats_float):
    """Run the int8 model in the TFLM host runtime on beats te. The template channel is
    recomputed from the int8-quantized windows with the integer EMA (device arithmetic)."""
    from tinyecg.tflm import TFLMModel, capture_c_stdout
    m, _ = capture_c_stdout(lambda: TFLMModel(tfl))
    arena = m.arena_bytes()
    qb, qr = m.inputs[0], m.inputs[1]
    if int(np.prod(qb.shape)) < int(np.prod(qr.shape)):
        qb, qr = qr, qb
        swap = True
    else:
        swap = False
    rh, tm, tm1 = feats_float
    # integer template per record over ALL beats (the device sees every beat)
    nch = qb.shape[-1]
    q_beats = np.zeros((len(B["r"]), 360), np.int64)
    q_tmpl = np.zeros((len(B["r"]), 360), np.int64)
    recs = sorted(set(B["rec"][te].tolist()))
    for rec in recs:
        ix = np.flatnonzero(B["rec"] == rec)
        q = qb.quantize(B["w0"][ix]).astype(np.int64)
        q_beats[ix] = q
        if cfg.get("template"):
            r = B["r"][ix]
            pre, post, _, _ = rr_basic(r)
            _, A = rhythm_new(r, K=cfg.get("K", 8))
            A16 = np.round(A * 16).astype(np.int64)  # the integer Q4 state
            q_tmpl[ix] = ema_template_int(q, pre, post, A16, B["keep"][ix], cfg)
    xb = q_beats[te]
    if cfg.get("template"):
        t = q_tmpl[te]
        if cfg["template"] == "diff":
            t = np.clip(xb - t, -128, 127)
        xb = np.stack([xb, np.clip(t, -128, 127)], -1)
    else:
        xb = xb[..., None]
    c0, c1 = cfg.get("crop", (0, 360))
    xb = xb[:, c0:c1, :].reshape((len(te),) + tuple(qb.shape[1:])).astype(np.int8)
    xr = qr.quantize(rh[te]).reshape((len(te),) + tuple(qr.shape[1:]))
    t0 = time.time()
    ins = (xr, xb) if swap else (xb, xr)
    out = m.invoke_batch(*ins)
    return out.argmax(1), arena, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--teacher", default=None, help="teacher config (architecture) name")
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--tag", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dev", action="store_true",
                    help="plumbing check inside DS1: train on folds 0-2, test on fold 3")
    a = ap.parse_args()
    from lib import FOLDS
    train_set, test_set = (DS1, DS2) if not a.dev else \
        ([r for r in DS1 if r not in FOLDS[3]], FOLDS[3])
    tag = a.tag or a.recipe
    cfg = dict(CONFIGS[a.recipe])
    cfg["threads"] = a.threads
    t_start = time.time()
    B = load_beats()
    if cfg.get("augment"):
        from augment import augmented_beats
        B = augmented_beats(B, cfg, DS1)
    feats = record_features(B, cfg)
    t_feat = time.time() - t_start
    lab = (B["y"] >= 0) & (B["y"] <= 3) & B["keep"]
    # beats left out of the training loss only (still scored on held-out records)
    train_ok = ~np.isin(B["sym"], cfg.get("drop_train_syms", []))
    real = ~B.get("is_aug", np.zeros(len(lab), bool))
    base_rec = np.array([s.split("~")[0] for s in B["rec"]])
    tr = np.flatnonzero(lab & train_ok & np.isin(base_rec, train_set))
    te = np.flatnonzero(lab & real & np.isin(B["rec"], test_set))
    q_beats = np.flatnonzero(real & B["keep"] & (B["y"] == 4) & np.isin(B["rec"], test_set))
    grh = gate_features(B)[te]
    xtr = make_inputs(B, tr, cfg, feats)
    xte = make_inputs(B, te, cfg, feats)
    ytr, yte = B["y"][tr], B["y"][te]
    (HERE / "models").mkdir(exist_ok=True)
    row = {"recipe": a.recipe, "tag": tag, "seed": a.seed, "cfg": {k: v for k, v in cfg.items()
                                                                  if k != "aug_fn"},
           "n_train": int(len(tr)), "n_test": int(len(te)), "features_seconds": round(t_feat, 1)}
    zt = None
    if a.teacher:
        tcfg = dict(cfg)
        tcfg.update(CONFIGS[a.teacher])
        tcfg["threads"] = a.threads
        teacher, sec = train(tcfg, xtr, ytr, seed=a.seed, quiet=False)
        p = teacher.predict(xte, batch_size=4096, verbose=0)
        cm_raw = confusion(yte, p.argmax(1))
        cm = confusion(yte, rr_gate(p.argmax(1), grh, cfg))
        row["teacher"] = {"seconds": round(sec, 1), "macs": count_macs(teacher),
                          "params": teacher.count_params(), "cm": cm, "scores": scores(cm),
                          "cm_nogate": cm_raw, "scores_nogate": scores(cm_raw)}
        print(f"[{tag}] TEACHER ({sec:.0f}s) no gate: {fmt(scores(cm_raw))}", flush=True)
        print(f"[{tag}] TEACHER ({sec:.0f}s): {fmt(scores(cm))}", flush=True)
        teacher.save(HERE / "models" / f"{tag}_s{a.seed}_teacher.keras")
        from tinyecg.distill import logits_model
        zt = logits_model(teacher).predict(xtr, batch_size=4096, verbose=0)
    student, sec = train(cfg, xtr, ytr, seed=a.seed, quiet=False, teacher_logits=zt)
    p = student.predict(xte, batch_size=4096, verbose=0)
    cm_raw = confusion(yte, p.argmax(1))
    cm = confusion(yte, rr_gate(p.argmax(1), grh, cfg))
    row["student"] = {"seconds": round(sec, 1), "macs": count_macs(student),
                      "params": student.count_params(), "cm": cm, "scores": scores(cm),
                      "cm_nogate": cm_raw, "scores_nogate": scores(cm_raw),
                      "distilled": bool(a.teacher)}
    print(f"[{tag}] STUDENT float no gate: {fmt(scores(cm_raw))}", flush=True)
    from configs import GATE
    cm_g = confusion(yte, rr_gate(p.argmax(1), grh, {"gate_s": GATE}))
    row["student"]["cm_with_ds1_gate"] = cm_g
    print(f"[{tag}] STUDENT float with the DS1-chosen RR gate: {fmt(scores(cm_g))}", flush=True)
    if len(q_beats):
        xq = make_inputs(B, q_beats, cfg, feats)
        row["student"]["Q_beats_predicted"] = np.bincount(
            student.predict(xq, verbose=0).argmax(1), minlength=4)
    print(f"[{tag}] STUDENT float ({sec:.0f}s): {fmt(scores(cm))}", flush=True)
    print(cm, flush=True)
    student.save(HERE / "models" / f"{tag}_s{a.seed}_student.keras")
    if not a.no_int8:
        t0 = time.time()
        rng = np.random.default_rng(a.seed)
        real_tr = tr[real[tr]]
        pick = np.concatenate([rng.choice(np.flatnonzero(B["y"][real_tr] == c),
                                          size=min(125, int((B["y"][real_tr] == c).sum())),
                                          replace=False) for c in range(4)])
        rep = make_inputs(B, real_tr[pick], cfg, feats)
        tfl = convert_int8_per_tensor_dense(student, rep)
        t_q = time.time() - t0
        (HERE / "models" / f"{tag}_s{a.seed}_student_int8.tflite").write_bytes(tfl)
        p8, arena, t_inf = int8_eval(tfl, B, te, cfg, feats)
        cm8_raw = confusion(yte, p8)
        p8 = rr_gate(p8, grh, cfg)
        cm8 = confusion(yte, p8)
        row["int8"] = {"flatbuffer_bytes": len(tfl), "arena_bytes": arena,
                       "quantize_seconds": round(t_q, 1), "cm": cm8, "scores": scores(cm8),
                       "cm_nogate": cm8_raw, "scores_nogate": scores(cm8_raw),
                       "invoke_seconds": round(t_inf, 1),
                       "agreement_with_float": float(np.mean(p8 == rr_gate(p.argmax(1), grh, cfg)))}
        print(f"[{tag}] STUDENT int8 TFLM ({len(tfl)} B, arena {arena} B): {fmt(scores(cm8))}",
              flush=True)
        print(cm8, flush=True)
    row["total_seconds"] = round(time.time() - t_start, 1)
    row["dev"] = a.dev
    log_result(HERE / ("results_dev.jsonl" if a.dev else "results_ds2.jsonl"), row)
    print(f"[{tag}] total {row['total_seconds']} s", flush=True)


if __name__ == "__main__":
    main()
