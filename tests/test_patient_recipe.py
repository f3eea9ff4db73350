"""The patient recipe (docs/generalisation.md): the dataset's patient context against
tinyecg.dsp.patient on a real record, the record-level augmentation, two-channel
architectures, and `pipeline --recipe patient` end to end on the bundled excerpt."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import EXCERPT

from tinyecg.errors import TinyECGError


# --------------------------------------------------------------------------- dataset
@pytest.fixture(scope="module")
def record_232(mitdb_dir):
    from tinyecg.data.records import load_record

    return load_record(mitdb_dir, "232")


def test_patient_context_equals_dsp_patient_over_every_beat(mitdb_dir, record_232):
    """Record 232 (frequent APCs, long pauses): the dataset's long-term features, A16 and
    float template are tinyecg.dsp.patient's over the whole beat sequence, kept for the
    labelled beats."""
    from tinyecg.data.beats import rr_context
    from tinyecg.data.dataset import build_dataset
    from tinyecg.data.patient_context import with_patient_context
    from tinyecg.dsp import denoise, patient
    from tinyecg.spec import BEAT_SYMBOLS, PRE_R, WINDOW

    ds = with_patient_context(build_dataset(mitdb_dir, labels="aami", records=["232"]), mitdb_dir)
    ctx = ds.patient
    assert ctx.longterm.shape == (len(ds), 8) and ctx.longterm.dtype == np.float32
    assert ctx.template.shape == (len(ds), WINDOW) and ctx.template.dtype == np.float32
    assert ctx.mean16.shape == (len(ds),)

    rec = record_232
    is_beat = np.isin(rec.ann_symbols, list(BEAT_SYMBOLS))
    r = rec.ann_samples[is_beat]
    rr = rr_context(r)
    has_pre = np.arange(len(r)) > 0
    usable = (r - PRE_R >= 0) & (r - PRE_R + WINDOW <= len(rec.adc))
    w = np.zeros((len(r), WINDOW))
    w[usable] = denoise.preprocess(rec.mv[r[usable, None] - PRE_R + np.arange(WINDOW)])
    a16, _ = patient.longterm_state(rr[:, 0], has_pre)
    feats = patient.longterm_features(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], has_pre)
    tmpl = patient.template_inputs_float(w, rr[:, 0], a16, usable)
    rows = np.searchsorted(r, ds.beats.sample)
    assert np.array_equal(r[rows], ds.beats.sample)
    np.testing.assert_array_equal(ctx.longterm, feats[rows])
    np.testing.assert_array_equal(ctx.mean16, a16[rows])
    np.testing.assert_allclose(ctx.template, tmpl[rows], atol=1e-6)
    # subsets carry their rows' context
    sub = ds.subset(np.arange(10, 20))
    np.testing.assert_array_equal(sub.patient.template, ctx.template[10:20])


# --------------------------------------------------------------------------- augmentation
@pytest.fixture(scope="module")
def record_excerpt():
    from tinyecg.data.records import load_record

    if not (EXCERPT / "100.hea").is_file():
        pytest.skip(f"needs the bundled MIT-BIH excerpts ({EXCERPT})")
    return load_record(EXCERPT, "100")


def test_synthetic_premature_beats_are_early_and_the_record_shrinks(record_excerpt):
    from tinyecg.data.augment import AUGMENT, synthetic_premature

    rec = record_excerpt
    beat = np.isin(rec.ann_symbols, ["N", "A", "V"])
    r, sym = rec.ann_samples[beat].astype(np.int64), rec.ann_symbols[beat]
    params = dict(AUGMENT, synthetic_rate=0.1)
    x, r2, mask = synthetic_premature(rec.mv, r, sym, np.random.default_rng(3), params)
    assert mask.sum() >= 3
    pre_before, pre_after = (
        np.diff(r)[np.flatnonzero(mask) - 1],
        np.diff(r2)[np.flatnonzero(mask) - 1],
    )
    assert np.all(pre_after < 0.85 * pre_before + 1)  # pre' <= 0.85 pre (rounding)
    assert np.all(pre_after >= 0.55 * pre_before - 1)
    assert np.all(sym[mask] == "N")
    assert len(rec.mv) - len(x) == (r - r2)[-1]  # the cuts, all before the last beat
    assert np.all(np.diff(r2) > 0)
    # the rest of the record moved earlier by the cuts: the beat itself is unchanged
    i = np.flatnonzero(mask)[0]
    np.testing.assert_allclose(x[r2[i] - 50 : r2[i] + 50], rec.mv[r[i] - 50 : r[i] + 50])


def test_augmented_record_is_consistent_labelled_and_seeded(record_excerpt):
    from tinyecg.data.augment import SYNTHETIC_SYMBOL, augment_record
    from tinyecg.data.beats import beats_from_record

    rec = record_excerpt
    a = augment_record(rec, np.random.default_rng(0))
    b = augment_record(rec, np.random.default_rng(0))
    c = augment_record(rec, np.random.default_rng(1))
    assert a.name == "100~0" and a.adc.dtype == np.int16
    np.testing.assert_array_equal(a.adc, b.adc)
    np.testing.assert_array_equal(a.ann_samples, b.ann_samples)
    assert len(a.adc) != len(c.adc) or not np.array_equal(a.adc, c.adc)
    assert np.all(np.diff(a.ann_samples) > 0) and a.ann_samples[-1] < len(a.adc)
    # length: resampled by 0.88-1.12 after the cuts
    assert 0.8 * len(rec.adc) < len(a.adc) < 1.13 * len(rec.adc)
    new = (a.ann_symbols == SYNTHETIC_SYMBOL).sum() - (rec.ann_symbols == SYNTHETIC_SYMBOL).sum()
    assert new > 0
    beats = beats_from_record(a, "aami")
    assert beats.y[beats.record == "100~0"].tolist().count(1) >= new  # labelled S


# --------------------------------------------------------------------------- architectures
def test_two_channel_architectures_have_the_research_shapes():
    from tinyecg.models.architectures import build, count_macs
    from tinyecg.models.inputs import model_inputs

    student = build("student-cnn", 4, channels=2, n_rhythm=8)
    assert [tuple(t.shape[1:]) for t in student.inputs] == [(1, 360, 2), (8,)]
    assert (student.count_params(), count_macs(student)) == (12_188, 145_120)
    teacher = build("teacher-cnn", 4, channels=2, n_rhythm=8)
    assert (teacher.count_params(), count_macs(teacher)) == (116_964, 2_106_880)
    today = build("student-cnn", 5)
    assert [tuple(t.shape[1:]) for t in today.inputs] == [(1, 360, 1), (5,)]
    x, t = np.ones((3, 360)), np.full((3, 360), 2.0)
    beat, rr = model_inputs(student, x, np.zeros((3, 8)), t)
    assert beat.shape == (3, 1, 360, 2) and np.all(beat[..., 1] == 2.0)
    with pytest.raises(TinyECGError, match="template"):
        model_inputs(student, x, np.zeros((3, 8)))
    with pytest.raises(TinyECGError, match="8 rhythm features"):
        model_inputs(student, x, np.zeros((3, 5)), t)
    with pytest.raises(TinyECGError, match="channels"):
        build("student-cnn", 4, channels=3)


# --------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def patient_run(tmp_path_factory):
    """`pipeline --recipe patient` on the bundled excerpt (DS1 and DS2 records), 1 epoch."""
    from tinyecg.stages.pipeline import pipeline

    if not (EXCERPT / "100.hea").is_file():
        pytest.skip(f"needs the bundled MIT-BIH excerpts ({EXCERPT})")
    out = tmp_path_factory.mktemp("patient") / "run"
    res = pipeline(
        out,
        data=EXCERPT,
        split="inter",
        recipe="patient",
        teacher_epochs=1,
        student_epochs=1,
        quiet=True,
    )
    return out, res


def test_pipeline_patient_recipe_end_to_end(patient_run):
    import json

    from tinyecg.models.int8 import Int8Model
    from tinyecg.spec import BEAT, RHYTHM

    out, res = patient_run
    assert res["stages"] == dict.fromkeys(("train", "distill", "quantize", "bench"), "ran")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["recipe"] == "patient" and cfg["data"]["label_names"] == ["N", "S", "V", "F"]
    # trained on DS1 (train + val records) and their augmented copies only
    recs = cfg["split"]["records"]
    assert sorted(cfg["patient"]["records"]) == sorted(recs["train"] + recs["val"])
    assert cfg["patient"]["augmented_records"] == [f"{r}~0" for r in cfg["patient"]["records"]]
    assert not set(cfg["patient"]["records"]) & set(recs["test"])
    m = Int8Model.load(out / "student_int8.tflite")
    assert m.input(BEAT).shape[1:] == (1, 360, 2) and m.input(RHYTHM).shape[1:] == (8,)
    rows = {r["model"]: r for r in res["bench"]}
    assert set(rows) == {"teacher", "student", "student_nokd", "student_int8"}
    assert rows["student_int8"]["flatbuffer_bytes"] < 20_000
    assert rows["student_int8"]["arena_bytes"] < 8_192
    assert list(rows["student_int8"]["per_class"]) == ["N", "S", "V", "F"]
    assert rows["student_int8"]["agreement_with_float_student"] > 0.9
    assert np.array(rows["teacher"]["confusion"]).sum() == rows["teacher"]["n"]


def test_int8_template_is_the_integer_reference(patient_run):
    """The host int8 inputs: channel 1 is template_inputs_int of channel 0 over every beat
    of the record, the rhythm input the quantized exact fractions."""
    from tinyecg.data.patient_context import record_beats
    from tinyecg.data.records import load_record
    from tinyecg.dsp import patient
    from tinyecg.models.int8 import Int8Model
    from tinyecg.spec import BEAT, RHYTHM
    from tinyecg.stages.patient_eval import int8_record_inputs

    out, _ = patient_run
    m = Int8Model.load(out / "student_int8.tflite")
    rec = load_record(EXCERPT, "232")
    samples, inputs = int8_record_inputs(m, rec)
    by_role = dict(zip((i.role for i in m.inputs), inputs))
    beat, rhythm = by_role[BEAT].reshape(len(samples), 360, 2), by_role[RHYTHM]
    seq = record_beats(rec)
    assert np.array_equal(seq.sample[seq.kept], samples)
    s = m.input(BEAT)
    q = np.clip(np.round(seq.windows / s.scale) + s.zero_point, -128, 127).astype(np.int64)
    ref = patient.template_inputs_int(q, seq.rr[:, 0], seq.mean16, seq.usable)[seq.kept]
    np.testing.assert_array_equal(beat[..., 0], q[seq.kept])
    np.testing.assert_array_equal(beat[..., 1], ref)
    r = m.input(RHYTHM)
    expect = np.clip(np.round(seq.longterm[seq.kept] / r.scale) + r.zero_point, -128, 127)
    assert np.abs(rhythm.astype(int) - expect).max() <= 1  # float32 vs exact fractions


def test_evaluate_scores_a_patient_run_on_nsvf(patient_run):
    from tinyecg.stages.evaluate import evaluate

    out, _ = patient_run
    rep = evaluate(out, model="student_int8", write=False)
    assert rep["labels"] == ["N", "S", "V", "F"] and rep["runtime"] == "tflm"
    assert rep["recipe"] == "patient" and "Q not scored" in rep["scope"]
    # another WFDB folder: every record's beats, its own patient context
    ext = evaluate(out, model="student", records=str(EXCERPT), write=False)
    assert ext["split"] == "external" and ext["labels"] == ["N", "S", "V", "F"]
    assert ext["n"] > rep["n"]


def test_patient_recipe_refuses_what_it_cannot_honour(patient_run):
    from tinyecg.stages.patient_recipe import check_recipe
    from tinyecg.stages.quantize import quantize

    with pytest.raises(TinyECGError, match="--split inter"):
        check_recipe("patient", "intra", None)
    with pytest.raises(TinyECGError, match="--labels aami"):
        check_recipe("patient", "inter", "nlrav")
    with pytest.raises(TinyECGError, match="unknown recipe"):
        check_recipe("global", "inter", "aami")
    with pytest.raises(TinyECGError, match="post-training quantization only"):
        quantize(patient_run[0], qat=True)


# --------------------------------------------------------------------------- committed bench
def test_committed_interpatient_bench_is_consistent():
    """docs/bench/interpatient.json (scripts/bench_interpatient.py): DS1 trains, DS2 scores,
    each row's scores follow from its confusion matrix, the int8 model fits the budget."""
    import json

    from helpers import ROOT

    from tinyecg import metrics
    from tinyecg.data.records import DS1, DS2

    for name in ("interpatient.json", "interpatient_s1.json"):
        d = json.loads((ROOT / "docs" / "bench" / name).read_text())
        recs = d["records"]
        assert sorted(recs["train"] + recs["val"]) == sorted(DS1)
        assert sorted(recs["test"]) == sorted(DS2)
        assert sorted(d["training"]["records"]) == sorted(DS1)
        rows = {r["model"]: r for r in d["models"]}
        assert list(rows) == ["teacher", "student", "student_nokd", "student_int8"]
        for r in rows.values():
            cm = np.array(r["confusion"])
            assert cm.shape == (4, 4) and cm.sum() == r["n"] == 49_680
            y = np.repeat(np.arange(4), cm.sum(1))
            p = np.concatenate([np.repeat(np.arange(4), row) for row in cm])
            assert metrics.report(y, p, ["N", "S", "V", "F"])["per_class"] == r["per_class"]
        int8 = rows["student_int8"]
        assert int8["flatbuffer_bytes"] <= 20_000 and int8["arena_bytes"] <= 8_192
        assert int8["runtime"] == "tflm" and d["seconds"]["total"] < 20 * 60


def test_a_patient_run_exports_for_the_device(patient_run, tmp_path):
    """The training side's run goes through the device side's exporter (C backend): the
    2-channel beat input, the long-term features and the build flag it needs are stated."""
    from click.testing import CliRunner

    from tinyecg.app.cli import cli

    out, _ = patient_run
    res = CliRunner().invoke(
        cli, ["export", str(out), "--out", str(tmp_path / "exp"), "--runtime", "c"]
    )
    assert res.exit_code == 0, res.output
    assert "-DTINYECG_PATIENT_CONTEXT=1" in res.output
    header = (tmp_path / "exp" / "tinyecg_preprocess_params.h").read_text()
    assert "#define TINYECG_BEAT_CHANNELS 2" in header
    assert "#define TINYECG_RHYTHM_FEATURES 8" in header
    meta = (tmp_path / "exp" / "tinyecg_model_meta.h").read_text()
    assert "#define TINYECG_INPUT_BEAT_ELEMENTS 720u" in meta


def test_committed_device_path_bench_of_the_patient_run_is_quoted():
    """docs/bench/device_path_patient.json (scripts/bench_device_path.py on the seed-0 patient
    run): every DS2 record, RR rules equal to the C, the model's four classes scored in AAMI,
    and docs/generalisation.md quoting its per-class figures."""
    import json

    from helpers import ROOT

    from tinyecg.data.records import DS2

    d = json.loads((ROOT / "docs" / "bench" / "device_path_patient.json").read_text())
    assert sorted(d["per_record"]) == sorted(DS2)
    assert d["total"]["rr_check"]["mismatches"] == 0
    det = d["total"]["detected"]
    assert det["labels"] == ["N", "S", "V", "F", "Q"]
    assert all(row[4] == 0 for row in det["confusion"])  # the model never says Q
    docs = (ROOT / "docs" / "generalisation.md").read_text()
    for c in ("N", "S", "V"):
        pc = det["per_class"][c]
        quoted = f"{100 * pc['se']:.1f} / {100 * pc['ppv']:.1f} / {100 * pc['f1']:.1f}"
        assert quoted in docs, quoted


def test_device_path_scores_the_runs_four_classes_in_aami(patient_run, tmp_path):
    """The run's model outputs N, S, V, F: the device path maps them onto AAMI's classes."""
    import json

    from tinyecg.device.device_path import evaluate_device_path

    out, _ = patient_run
    cfg = json.loads((out / "config.json").read_text())
    res = evaluate_device_path(
        out / "student_int8.tflite",
        ["208"],
        EXCERPT,
        labels="aami",
        config=cfg,
        build_dir=tmp_path,
    )
    det = res["total"]["detected"]
    assert det["labels"] == ["N", "S", "V", "F", "Q"] and det["n"] > 100
    assert sum(row[4] for row in det["confusion"]) == 0


def test_stress_refuses_a_patient_model_in_one_line(patient_run):
    import subprocess
    import sys

    out, _ = patient_run
    proc = subprocess.run(
        [sys.executable, "-m", "tinyecg", "stress", str(EXCERPT / "208"), "--model"]
        + [str(out / "student_int8.tflite"), "--noise", "em", "--snr", "6"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "patient-context model" in last


def test_demo_refuses_a_patient_run_in_one_line(patient_run):
    from tinyecg.app.demo.model import load_model

    out, _ = patient_run
    for kwargs in ({"run_dir": out}, {"model": out / "student_int8.tflite"}):
        with pytest.raises(TinyECGError, match="patient-context"):
            load_model(**kwargs, float_model=False)
