"""Distillation: the Hinton loss against hand-computed values, the Distiller's training step,
and a real (tiny) distill run on the bundled MIT-BIH excerpts.

The run directory comes from `helpers.tiny_run`, shared with test_quantize and test_bench.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from helpers import EXCERPT, tiny_run

from tinyecg.errors import TinyECGError

# ---------------------------------------------------------------------------- the loss


def test_loss_equals_hand_computed_value():
    from tinyecg.stages.distill import distillation_loss

    # one beat, two classes, label 0; student logits (0, 0): softmax (1/2, 1/2);
    # teacher logits (ln 3, 0): softmax (3/4, 1/4).
    # T = 1, alpha = 1/2:  CE = ln 2 = 0.693147
    #   KL = 3/4 ln(3/4 / 1/2) + 1/4 ln(1/4 / 1/2) = 0.304099 - 0.173287 = 0.130812
    #   loss = 0.5 * 0.693147 + 0.5 * 1 * 0.130812 = 0.411980
    y, zt, zs = np.array([0]), np.array([[math.log(3), 0.0]]), np.array([[0.0, 0.0]])
    assert float(distillation_loss(y, zt, zs, 1.0, 0.5)) == pytest.approx(0.411980, abs=1e-6)
    # T = 2, alpha = 1/4: teacher softmax(ln3/2, 0) = (sqrt3, 1)/(sqrt3 + 1) = (0.633975, 0.366025)
    #   KL = 0.633975 ln(1.267949) + 0.366025 ln(0.732051) = 0.036341
    #   loss = 0.25 * 0.693147 + 0.75 * 4 * 0.036341 = 0.282309
    assert float(distillation_loss(y, zt, zs, 2.0, 0.25)) == pytest.approx(0.282309, abs=1e-6)


def _reference_loss(y, zt, zs, t, alpha, w=None):
    """The formula written out per sample with math only."""
    total = 0.0
    for i in range(len(y)):

        def softmax(z):
            e = [math.exp(v - max(z)) for v in z]
            return [v / sum(e) for v in e]

        ps1 = softmax(list(zs[i]))
        pt, ps = softmax([v / t for v in zt[i]]), softmax([v / t for v in zs[i]])
        ce = -math.log(ps1[y[i]]) * (1.0 if w is None else w[i])
        kl = sum(a * math.log(a / b) for a, b in zip(pt, ps))
        total += alpha * ce + (1 - alpha) * t * t * kl
    return total / len(y)


def test_loss_matches_the_formula_on_a_toy_batch_with_weights():
    from tinyecg.stages.distill import distillation_loss

    rng = np.random.default_rng(3)
    y = np.array([0, 2, 1, 4])
    zt, zs = rng.normal(0, 3, (4, 5)), rng.normal(0, 2, (4, 5))
    w = np.array([1.0, 2.5, 0.5, 3.0])
    for t, alpha in ((1.0, 0.0), (4.0, 0.1), (2.5, 0.7), (3.0, 1.0)):
        got = float(distillation_loss(y, zt, zs, t, alpha, w))
        assert got == pytest.approx(_reference_loss(y, zt, zs, t, alpha, w), rel=1e-5)
    # class weights touch the hard term only: with alpha = 0 they change nothing
    assert float(distillation_loss(y, zt, zs, 4.0, 0.0, w)) == pytest.approx(
        float(distillation_loss(y, zt, zs, 4.0, 0.0)), rel=1e-6
    )
    # a student equal to its teacher leaves only the hard term
    assert float(distillation_loss(y, zt, zt, 4.0, 0.3)) == pytest.approx(
        _reference_loss(y, zt, zt, 1.0, 1.0) * 0.3, rel=1e-5
    )


def test_loss_rejects_bad_hyperparameters():
    from tinyecg.stages.distill import distillation_loss

    y, z = np.array([0]), np.zeros((1, 2))
    with pytest.raises(TinyECGError):
        distillation_loss(y, z, z, 0.0, 0.5)
    with pytest.raises(TinyECGError):
        distillation_loss(y, z, z, 2.0, 1.5)


def test_distiller_steps_use_the_loss_and_move_the_student_to_the_teacher():
    from tinyecg.models.architectures import build, keras
    from tinyecg.stages.distill import distillation_loss, logits_model, make_distiller, with_teacher

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    student = build("student-cnn", n_classes=5)
    x = [
        rng.normal(size=(64, 1, 360, 1)).astype(np.float32),
        rng.uniform(0.3, 2.0, size=(64, 5)).astype(np.float32),
    ]
    y = rng.integers(0, 5, 64)
    zt = rng.normal(0, 3, (64, 5)).astype(np.float32)
    d = make_distiller(student, 3.0, 0.2)
    d.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    zs = logits_model(student).predict(x, verbose=0)
    # evaluate() runs test_step: it must report exactly distillation_loss of the student
    got = d.evaluate(with_teacher(x, zt), y, batch_size=64, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(float(distillation_loss(y, zt, zs, 3.0, 0.2)), rel=1e-4)
    before = got["loss"]
    hist = d.fit(with_teacher(x, zt), y, batch_size=64, epochs=30, verbose=0).history
    # the train step lowers the loss it reports on what it trains (batch statistics) and, less
    # so while BatchNorm's moving averages catch up, the inference-mode loss
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    after = d.evaluate(with_teacher(x, zt), y, batch_size=64, verbose=0, return_dict=True)
    assert after["loss"] < before
    # and the weights it changed are the student's own (the Distiller trains it in place)
    zs2 = logits_model(student).predict(x, verbose=0)
    assert not np.allclose(zs, zs2)


# ---------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    return tiny_run(tmp_path_factory, "student", tmp_path_factory.mktemp("distill") / "run")


def test_distill_writes_students_histories_and_config(distilled):
    from tinyecg.models.architectures import keras
    from tinyecg.stages.distill import DEFAULTS, jitter_shifts
    from tinyecg.stages.evaluate import load_keras

    cfg = json.loads((distilled / "config.json").read_text())
    st = cfg["student"]
    assert st["arch"] == "student-cnn" and st["temperature"] == DEFAULTS["temperature"]
    assert st["alpha"] == DEFAULTS["alpha"] and st["jitter"] == DEFAULTS["jitter"]
    assert st["jitter_shifts"] == jitter_shifts(DEFAULTS["jitter"])
    assert st["file"] == "student.keras" and st["nokd"]["file"] == "student_nokd.keras"
    assert cfg["teacher"]["file"] == "teacher.keras"  # stage 1's section untouched
    for name in ("student_history.json", "student_nokd_history.json"):
        hist = json.loads((distilled / name).read_text())
        assert len(hist["loss"]) == len(hist["val_loss"]) >= 1
    for name in ("student.keras", "student_nokd.keras"):
        model = load_keras(distilled / name)
        # the logits feed the distillation loss: one unit per class of the run
        assert model.get_layer("logits").units == len(cfg["data"]["label_names"])
        assert model.count_params() == st["params"]
        assert not any(
            isinstance(
                layer, (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalAveragePooling2D)
            )
            for layer in model.layers
        )
    # the reported validation accuracy is the saved student's on the run's validation split
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.models.inputs import model_inputs

    ds, split = dataset_from_config(cfg)
    va = ds.subset(split["val"])
    student = load_keras(distilled / "student.keras")
    p = student.predict(model_inputs(student, va.x, va.beats.rhythm), verbose=0)
    assert st["val_accuracy"]["student"] == pytest.approx(np.mean(p.argmax(1) == va.beats.y))
    assert not list(distilled.glob("*.tmp")) and not list(distilled.glob(".*"))


def test_distill_without_teacher_fails_cleanly(distilled, tmp_path):
    from tinyecg.stages.distill import distill

    run = tmp_path / "run"
    shutil.copytree(distilled, run)
    (run / "teacher.keras").unlink()
    before = (run / "config.json").read_bytes()
    with pytest.raises(TinyECGError, match="no teacher"):
        distill(run, epochs=1, quiet=True)
    assert (run / "config.json").read_bytes() == before


def test_distill_rejects_unknown_architecture(distilled):
    from tinyecg.stages.distill import distill

    with pytest.raises(TinyECGError, match="unknown architecture"):
        distill(distilled, arch="no-such-net", quiet=True)


def test_shifted_windows_are_cut_from_the_record_at_the_shifted_peak(distilled, tmp_path_factory):
    import wfdb

    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.dsp import denoise
    from tinyecg.run import read_config
    from tinyecg.stages.distill import jitter_shifts, shifted_windows

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        ds, _ = dataset_from_config(read_config(distilled))
    beats = ds.beats.subset(np.flatnonzero(ds.beats.record == "100"))
    shifts = jitter_shifts(4)
    assert shifts == [-4, -2, 0, 2, 4]
    copies = shifted_windows(EXCERPT, beats, shifts)
    assert copies.shape == (len(beats), 5, 360)
    x0 = ds.x[ds.beats.record == "100"]
    assert np.allclose(copies[:, 2], x0, atol=2e-2)  # shift 0: the dataset's own windows
    sig = wfdb.rdrecord(str(EXCERPT / "100"), physical=True).p_signal[:, 0]  # MLII
    inside = (beats.sample + 4 - 180 >= 0) & (beats.sample + 4 + 180 <= len(sig))
    for k, s in enumerate(shifts):
        i = np.flatnonzero(inside)[:20]
        cut = sig[(beats.sample[i] + s - 180)[:, None] + np.arange(360)[None, :]]
        assert np.allclose(copies[i, k], denoise.preprocess(cut), atol=2e-2), s
    assert not np.allclose(copies[:, 0], copies[:, 4], atol=0.1)
    with pytest.raises(TinyECGError):
        jitter_shifts(-1)


def test_distill_without_jitter_trains_on_the_aligned_windows_only(distilled, tmp_path):
    from tinyecg.stages.distill import distill

    run = tmp_path / "run"
    shutil.copytree(distilled, run)
    section = distill(run, epochs=1, jitter=0, nokd=False, quiet=True)
    assert section["jitter_shifts"] == [0]
    assert (run / "student.keras").stat().st_mtime > (distilled / "student.keras").stat().st_mtime
