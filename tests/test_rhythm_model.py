"""The shockable-rhythm model path (tinyecg.stages.rhythm_train): teacher -> distilled
student -> int8 on synthetic VF-like and beat-like records, small and fast; the int8
model takes the front end's bytes unchanged (input scale 1/16, zero point 0), runs in TFLM
through the evaluation harness and separates the two rhythms."""

from __future__ import annotations

import numpy as np
import pytest

from tinyecg.data import rhythm as rh
from tinyecg.models.tflite import load_model
from tinyecg.spec import FS, RHYTHM_FS


def synthetic(name: str, vf: bool, seconds: int = 40, seed: int = 0) -> rh.RhythmRecord:
    """A record made by the real front end from 360 Hz samples: a 4-6 Hz VF-like wave, or
    narrow beats at 60-100 bpm; every window labelled as such."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * FS) / FS
    if vf:
        x = 300 * np.sin(2 * np.pi * rng.uniform(4, 6) * t + np.sin(t))
    else:
        x = np.zeros_like(t)
        period = int(FS * 60 / rng.uniform(60, 100))
        for p in range(0, len(t) - 20, period):
            x[p : p + 20] += 400 * np.hanning(20)
    x = np.round(x + rng.normal(0, 5, len(t))).astype(np.int64)
    from tinyecg.dsp.rhythm_frontend import stream_int

    stream = stream_int(x)
    codes = np.full(len(stream), rh.VF if vf else rh.NSR, np.int8)
    ends = rh.window_ends(len(stream))
    cls = np.full(len(ends), rh.WC["VF_coarse" if vf else "NSR"], np.int8)
    return rh.RhythmRecord(
        name,
        "syn",
        200.0,
        stream,
        codes,
        np.full(len(stream), np.nan, np.float32),
        ends,
        cls,
        cls,
        np.ones(len(ends), np.float32),
    )


def test_teacher_student_int8_on_synthetic_rhythms(tmp_path, monkeypatch):
    pytest.importorskip("tflite_micro")
    # the beat stage's floor of 400 optimiser steps is for real data; these rhythms are
    # told apart in far fewer
    monkeypatch.setattr("tinyecg.stages.train.MIN_STEPS", 150)
    from tinyecg.stages.rhythm_evaluate import RhythmModel
    from tinyecg.stages.rhythm_train import train_rhythm_models

    records = [synthetic(f"r{i}", vf=i % 2 == 0, seed=i) for i in range(8)]
    out = train_rhythm_models(
        records,
        teacher_epochs=1,
        student_epochs=1,
        batch_size=16,
        representative=64,
        validation_every=4,
        non_shockable_step_s=1,
    )
    info = out["info"]
    assert info["student_params"] == 3034 and info["student_macs"] == 114688
    assert info["int8_bytes"] <= 16 * 1024  # issue 15: model <= 16 KB int8
    graph = load_model(out["int8"])
    assert graph.input_quant(0) == pytest.approx((1 / 16, 0))  # the front end's bytes as is
    path = tmp_path / "student_int8.tflite"
    path.write_bytes(out["int8"])
    model = RhythmModel(path)
    reference = RhythmModel(path, "litert-ref")  # `evaluate --runtime litert-ref`
    for seed, vf in ((20, True), (21, False)):
        rec = synthetic("t", vf, seed=seed)
        d = model.decisions(rec)
        assert d.mean() > 0.9 if vf else d.mean() < 0.1
        np.testing.assert_array_equal(reference.decisions(rec), d)
    assert len(rec.ends) == 40 - 10 + 1 and RHYTHM_FS == 90
