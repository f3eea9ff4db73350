"""Shared code of the issue-12 study: causal device-computable features, models, training,
scoring. Everything per record, in beat order, causal (past beats + the next R-peak only).

Integer definitions (what the device keeps; the float arrays below are exactly these
integers divided out, so a C port is bit-exact up to the final int8 quantization, which
tinyecg.dsp.fixedpoint._rr_feature already does for rationals num/den):

RR (samples at 360 Hz), for beat i of a record's beat sequence:
  pre_i  = r_i - r_{i-1}        (first beat: post_i)
  post_i = r_{i+1} - r_i        (last beat: pre_i)
  loc8_i = sum of the up to 8 RR intervals ending at beat i / their count (today's local RR)
Long-term RR average A (Q4 samples, int32), the state BEFORE beat i is used for beat i, then
  updated with pre_i (for i >= 1):
      cnt += 1;  s = min(K, floor(log2(cnt)));  A += ((pre_i << 4) - A) >> s
  (arithmetic shift; cnt = 1 initialises A = pre_1 << 4; the power-of-two warm-up makes A
  about the running mean of the first 2^K intervals, then an EMA with alpha = 2^-K)
  If A is not yet defined (beat 0): A := pre_0 << 4.
Irregularity D (Q4 samples): same update rule with |pre_i - pre_{i-1}| (i >= 2), shift KD.
Template T (Q8 of the int8 model input, int32 per sample, 360 of them): initialised with the
  first beat's window; beat i's window w_i updates it, AFTER beat i was classified, iff
  beat i is "regular": GLO*A <= 16*pre_i*? (see gate below), with the same count warm-up
  and maximum shift KT:  T += ((w_i << 8) - T) >> s.
  Gate (integers): 16*pre_i*100 >= G_LO*A and 16*pre_i*100 <= G_HI*A and the same for post_i.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.environ["TINYECG_493A651"])  # a checkout of tinyecg at 493a651

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
LABELS = ["N", "S", "V", "F"]
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
       "201", "203", "205", "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212",
       "213", "214", "219", "221", "222", "228", "231", "232", "233", "234")
FOLDS = [("209", "208", "116", "101", "230"),
         ("201", "207", "119", "122", "115", "109"),
         ("118", "223", "106", "114", "108"),
         ("220", "124", "203", "215", "205", "112")]


def load_beats():
    z = np.load(CACHE / "beats.npz")
    return {k: z[k] for k in z.files}


# --------------------------------------------------------------------------- RR features
def rr_basic(r):
    r = np.asarray(r, np.int64)
    n = len(r)
    d = np.diff(r)
    pre = np.concatenate([[d[0]], d])
    post = np.concatenate([d, [d[-1]]])
    csum = np.concatenate([[0], np.cumsum(d)])
    hi = np.arange(n)
    lo = np.maximum(hi - 8, 0)
    cnt = hi - lo
    lsum = np.where(cnt > 0, csum[hi] - csum[lo], pre)
    cnt = np.maximum(cnt, 1)
    return pre, post, lsum, cnt


def ema_shift(values, valid, K, frac=4, init=None):
    """State BEFORE each element (Q`frac` int); updates with values[i] where valid[i].
    cnt-based warm-up: s = min(K, floor(log2(cnt)))."""
    out = np.empty(len(values), np.int64)
    a = None if init is None else int(init) << frac
    cnt = 0
    for i, (v, ok) in enumerate(zip(values.tolist(), valid.tolist())):
        out[i] = a if a is not None else (int(v) << frac)
        if ok:
            cnt += 1
            s = min(K, cnt.bit_length() - 1)
            if a is None:
                a = int(v) << frac
            else:
                a += ((int(v) << frac) - a) >> s
    return out


def rhythm_old(r):
    pre, post, lsum, cnt = rr_basic(r)
    loc = lsum / cnt
    return np.stack([pre / 360, post / 360, loc / 360, pre / loc, post / loc], -1)


def rhythm_new(r, K=8, KD=5, clip=True):
    """pre/A, post/A, loc8/A, pre/loc8, post/pre, A (s), D/A, pre (s)."""
    pre, post, lsum, cnt = rr_basic(r)
    n = len(r)
    valid = np.arange(n) >= 1
    A = ema_shift(pre, valid, K) / 16.0
    dpre = np.abs(np.diff(pre, prepend=pre[0]))
    D = ema_shift(dpre, np.arange(n) >= 2, KD) / 16.0
    loc = lsum / cnt
    f = np.stack([pre / A, post / A, loc / A, pre / loc, post / pre, A / 360, D / A, pre / 360], -1)
    if clip:
        f = np.minimum(f, 4.0)
    return f, A


def template_seq(w, keep, gate, KT=5):
    """EMA (state before each beat) of windows w (n, L) of beats with gate & keep."""
    n, L = w.shape
    out = np.empty_like(w)
    t = None
    cnt = 0
    for i in range(n):
        if t is None and keep[i]:
            t = w[i].astype(np.float64).copy()
        out[i] = t if t is not None else 0.0
        if gate[i] and keep[i]:
            cnt += 1
            s = min(KT, cnt.bit_length() - 1)
            t = t + (w[i] - t) / (1 << s)
    return out


def record_features(B, cfg):
    """Per-beat features for all beats (arrays aligned with B)."""
    n = len(B["r"])
    rh = np.zeros((n, 8 if cfg.get("rr", "new") == "new" else 5), np.float32)
    tm = np.zeros((n, 360), np.float32) if cfg.get("template") else None
    tm1 = np.zeros((n, 360), np.float32) if cfg.get("template") and cfg.get("lead2") else None
    for rec in np.unique(B["rec"]):
        ix = np.flatnonzero(B["rec"] == rec)
        r = B["r"][ix]
        if cfg.get("rr", "new") == "new":
            f, A = rhythm_new(r, K=cfg.get("K", 8))
            rh[ix] = f
        else:
            rh[ix] = rhythm_old(r)
            _, A = rhythm_new(r, K=cfg.get("K", 8))
        if tm is not None:
            pre, post, _, _ = rr_basic(r)
            lo, hi = cfg.get("gate", (0.85, 1.2))
            if cfg.get("tgate") == "pre_only":
                # any beat that is not premature updates the template (robust when few beats
                # are RR-regular, e.g. frequent ectopy): pre >= LO * A
                gate = pre >= lo * A
            else:
                gate = (pre >= lo * A) & (pre <= hi * A) & (post >= lo * A) & (post <= hi * A)
            tm[ix] = template_seq(B["w0"][ix], B["keep"][ix], gate, cfg.get("KT", 5))
            if tm1 is not None:
                tm1[ix] = template_seq(B["w1"][ix], B["keep"][ix], gate, cfg.get("KT", 5))
    return rh, tm, tm1


def make_inputs(B, idx, cfg, feats):
    """Model inputs for beats idx: beat (n,1,L,C) and rhythm (n,k)."""
    rh, tm, tm1 = feats
    c0, c1 = cfg.get("crop", (0, 360))
    chans = [B["w0"][idx]]
    if cfg.get("lead2"):
        chans.append(B["w1"][idx])
    if tm is not None:
        if cfg["template"] == "diff":
            chans.append(B["w0"][idx] - tm[idx])
        else:
            chans.append(tm[idx])
        if tm1 is not None:
            chans.append(B["w1"][idx] - tm1[idx] if cfg["template"] == "diff" else tm1[idx])
    x = np.stack(chans, -1)[:, None, c0:c1, :].astype(np.float32)
    return [x, rh[idx].astype(np.float32)]


# --------------------------------------------------------------------------- models
def keras():
    from tinyecg.models.architectures import keras as k
    return k


def build_model(cfg, in_shape, n_rh, n_classes=4):
    K = keras()
    beat = K.Input(shape=in_shape, name="beat")
    rr = K.Input(shape=(n_rh,), name="rhythm")
    x = beat
    for i, (f, k, s) in enumerate(cfg.get("convs", [(8, 7, 2), (12, 5, 2), (16, 5, 2), (16, 5, 2)])):
        x = K.layers.Conv2D(f, (1, k), strides=(1, s), padding="same", use_bias=False,
                            name=f"c{i}_conv")(x)
        x = K.layers.BatchNormalization(name=f"c{i}_bn")(x)
        x = K.layers.ReLU(name=f"c{i}_relu")(x)
        if cfg.get("pool"):
            x = K.layers.MaxPooling2D((1, 2), name=f"c{i}_pool")(x)
    x = K.layers.Flatten(name="flatten")(x)
    if cfg.get("dropout", 0):
        x = K.layers.Dropout(cfg["dropout"])(x)
    r = rr
    if cfg.get("rr_hidden"):
        r = K.layers.Dense(cfg["rr_hidden"], activation="relu", name="rr_dense")(rr)
    if cfg.get("additive"):
        # logits = W_m . morph_hidden + W_r . rr_hidden: rhythm evidence adds to the
        # morphology evidence instead of being gated by it (no ADD op: one Dense on a concat)
        x = K.layers.Dense(cfg.get("hidden", 24), activation="relu", name="hidden")(x)
        if cfg.get("dropout", 0):
            x = K.layers.Dropout(cfg["dropout"])(x)
        x = K.layers.Concatenate(name="with_rhythm")([x, r])
    else:
        x = K.layers.Concatenate(name="with_rhythm")([x, r])
        x = K.layers.Dense(cfg.get("hidden", 24), activation="relu", name="hidden")(x)
        if cfg.get("dropout", 0):
            x = K.layers.Dropout(cfg["dropout"])(x)
    logits = K.layers.Dense(n_classes, name="logits")(x)
    probs = K.layers.Softmax(name="probs")(logits)
    return K.Model([beat, rr], probs)


def count_macs(model):
    from tinyecg.models.architectures import count_macs as cm
    return cm(model)


def focal_loss(gamma):
    import tensorflow as tf

    def loss(y_true, y_pred):
        y = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        p = tf.clip_by_value(y_pred, 1e-7, 1.0)
        pt = tf.gather(p, y, axis=1, batch_dims=1)
        return -tf.pow(1.0 - pt, gamma) * tf.math.log(pt)
    return loss


def train(cfg, inputs, y, seed=0, quiet=True, teacher_logits=None):
    """Fixed-epoch training (no early stopping: CV folds have no inner validation).
    Imbalance: cfg['sampling'] = ('weights', p) damped class weights | ('balanced', q):
    each epoch resamples indices with class probability proportional to n_c^q."""
    import tensorflow as tf
    K = keras()
    tf.config.threading.set_intra_op_parallelism_threads(cfg.get("threads", 2))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    K.utils.set_random_seed(seed)
    model = build_model(cfg, inputs[0].shape[1:], inputs[1].shape[1])
    if quiet is False:
        print(f"model: {model.count_params()} params, {count_macs(model)} MACs", flush=True)
    n_classes = 4
    epochs = cfg.get("epochs", 10)
    bs = cfg.get("batch", 256)
    kind, p = cfg.get("sampling", ("weights", 0.5))
    counts = np.bincount(y, minlength=n_classes).astype(float)
    rng = np.random.default_rng(seed)
    per_epoch = cfg.get("epoch_size", len(y))
    steps = epochs * int(np.ceil(per_epoch / bs))
    sched = K.optimizers.schedules.CosineDecay(cfg.get("lr", 3e-3), steps, alpha=0.05)
    loss = focal_loss(cfg["focal"]) if cfg.get("focal") else K.losses.SparseCategoricalCrossentropy()
    fitter = model
    if teacher_logits is not None:
        from tinyecg.distill import make_distiller
        fitter = make_distiller(model, cfg.get("kd_T", 2.0), cfg.get("kd_alpha", 0.5))
        loss = K.losses.SparseCategoricalCrossentropy(from_logits=True)
    fitter.compile(optimizer=K.optimizers.Adam(sched), loss=loss)
    cw = None
    if kind == "weights":
        w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** p, 0)
        w /= (w * counts).sum() / counts.sum()
        cw = {i: float(w[i]) for i in range(n_classes)}
    aug = cfg.get("aug_fn")
    t0 = time.time()
    for ep in range(epochs):
        if kind == "balanced":
            prob = np.where(counts > 0, counts ** p, 0)
            prob = prob / prob.sum()
            cls = rng.choice(n_classes, size=per_epoch, p=prob)
            idx = np.empty(per_epoch, np.int64)
            for c in range(n_classes):
                m = cls == c
                pool = np.flatnonzero(y == c)
                idx[m] = rng.choice(pool, size=m.sum())
        else:
            idx = rng.permutation(len(y))[:per_epoch]
        xb = [a[idx] for a in inputs]
        if aug is not None:
            xb = aug(xb, rng)
        if teacher_logits is not None:
            xb = xb + [teacher_logits[idx]]
        fitter.fit(xb, y[idx], batch_size=bs, epochs=1, verbose=0, shuffle=True,
                   class_weight=cw)
    return model, time.time() - t0


# --------------------------------------------------------------------------- scoring
def confusion(y, p, n=4):
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (y, p), 1)
    return cm


def scores(cm):
    out = {}
    for i, lab in enumerate(LABELS):
        tp = cm[i, i]
        sup = cm[i].sum()
        pr = cm[:, i].sum()
        out[lab] = {"se": tp / sup if sup else float("nan"),
                    "ppv": tp / pr if pr else float("nan"),
                    "f1": 2 * tp / (sup + pr) if sup + pr else float("nan"), "n": int(sup)}
    out["acc"] = np.trace(cm) / cm.sum()
    return out


def fmt(sc, classes=("N", "S", "V", "F")):
    return "  ".join(f"{c}: Se {100*sc[c]['se']:.1f} +P {100*sc[c]['ppv']:.1f} "
                     f"F1 {100*sc[c]['f1']:.1f}" for c in classes)


def log_result(path, row):
    with open(path, "a") as fh:
        fh.write(json.dumps(row, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)) + "\n")


def rr_gate(pred, rh, cfg):
    """Device-side RR rule on the S decision (chosen in DS1-CV, posthoc2.py), integers on
    the device: with P = pre/A, Dn = D/A, PP = post/pre from the rhythm state,
      an S output becomes N unless P <= G and Dn <= DG        (S needs prematurity in a
                                                                regular background)
      an N output becomes S if P <= R and Dn <= DG and PP >= 1.15  (rescue)
    cfg['gate_s'] = (G, DG, R) or None."""
    g = cfg.get("gate_s")
    if not g:
        return pred
    G, DG, R = g
    pa, da, pp = rh[:, 0], rh[:, 6], rh[:, 4]
    p = pred.copy()
    p[(pred == 1) & ((pa > G) | (da > DG))] = 0
    if R:
        p[(pred == 0) & (pa <= R) & (da <= DG) & (pp >= 1.15)] = 1
    return p


def gate_features(B):
    """pre/A, D/A, post/pre for every beat (K = 8, KD = 5), whatever the network's inputs."""
    rh = np.zeros((len(B["r"]), 8), np.float32)
    for rec in np.unique(B["rec"]):
        ix = np.flatnonzero(B["rec"] == rec)
        rh[ix] = rhythm_new(B["r"][ix], K=8)[0]
    return rh
