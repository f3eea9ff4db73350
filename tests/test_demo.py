"""The browser demo: parsing, classification and record analysis checked against independent
references (the evaluation API, the dataset builder, the detector's scorer, hand-worked
matching cases), then the page itself driven in headless Chromium.

Everything runs on the bundled MIT-BIH excerpts (shipped in the repository), so no test here
needs the full database. The model is a student-cnn trained for two epochs on the excerpts and
converted to full int8 here, so the tests do not depend on which model the package ships.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import full_mitdb, rhythm_data, rhythm_model, write_like

from tinyecg import spec
from tinyecg.app import demo
from tinyecg.app.demo import analysis, inputs, ui
from tinyecg.errors import TinyECGError

EXCERPT = Path(__file__).resolve().parents[1] / "tinyecg" / "data" / "excerpts" / "mitdb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def _chromium_page(sync_api, tmp_path, url):
    """A page of Debian's headless chromium (own profile under tmp_path) opened at url."""
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="chromium-", dir=tmp_path),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1200},
        )
        try:
            page = ctx.new_page()
            page.goto(url)
            yield page
        finally:
            ctx.close()


# --------------------------------------------------------------------------- fixtures
def _convert_int8(model, x, rhythm) -> bytes:
    """The project's own full-int8 conversion (representative set in Keras input order)."""
    from tinyecg.stages.quantize import convert_int8

    return convert_int8(
        model, [x.reshape(-1, 1, 360, 1).astype(np.float32), rhythm.astype(np.float32)]
    )


@pytest.fixture(scope="session")
def excerpt_beats():
    from tinyecg.data.dataset import build_dataset

    return build_dataset(EXCERPT, labels="nlrav")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, excerpt_beats):
    """A run-like folder: config.json, model.keras (float) and model.tflite (int8)."""
    from tinyecg._tf import import_quietly

    import_quietly()
    from tinyecg.models.architectures import build, keras
    from tinyecg.models.inputs import model_inputs

    ds = excerpt_beats
    keras.utils.set_random_seed(0)
    model = build("student-cnn", n_classes=len(ds.labels))
    model.compile(
        optimizer=keras.optimizers.Adam(4e-3), loss=keras.losses.SparseCategoricalCrossentropy()
    )
    model.fit(
        model_inputs(model, ds.x, ds.beats.rhythm), ds.beats.y, epochs=2, batch_size=128, verbose=0
    )
    out = tmp_path_factory.mktemp("demo_model")
    model.save(out / "model.keras")
    pick = np.random.default_rng(0).permutation(len(ds))[:64]
    (out / "model.tflite").write_bytes(_convert_int8(model, ds.x[pick], ds.beats.rhythm[pick]))
    (out / "config.json").write_text(
        json.dumps({"data": {"labels": "nlrav", "label_names": list(ds.labels)}})
    )
    return out


@pytest.fixture(scope="session")
def dm(model_dir):
    return demo.load_model(model_dir)


def _beats_of(ds, record: str, label: str, n: int = 2) -> np.ndarray:
    idx = np.flatnonzero((ds.beats.record == record) & (ds.beats.y == ds.labels.index(label)))
    assert len(idx) >= n, f"excerpt {record} has too few {label} beats"
    return idx[len(idx) // 2 : len(idx) // 2 + n]


def _text(raw) -> str:
    return ", ".join(str(int(v)) for v in raw)


def _write_record(src: Path, dest_dir: Path, name: str, start_s: float, seconds: float) -> Path:
    """A new WFDB record (212, both leads, beat annotations) cut from a bundled excerpt."""
    import wfdb

    a, b = int(start_s * 360), int((start_s + seconds) * 360)
    rec = wfdb.rdrecord(str(src), physical=False, sampfrom=a, sampto=b)
    ann = wfdb.rdann(str(src), "atr", sampfrom=a, sampto=b)
    write_like(rec, dest_dir, name, rec.d_signal, fmt="212")
    wfdb.wrann(
        name, "atr", np.asarray(ann.sample) - a, symbol=list(ann.symbol), write_dir=str(dest_dir)
    )
    return dest_dir / name


# --------------------------------------------------------------------------- parsing
def test_parse_adc_counts_match_the_dataset_millivolts(excerpt_beats):
    ds = excerpt_beats
    i = _beats_of(ds, "208", "V", 1)[0]
    text = "\n".join(", ".join(str(int(v)) for v in row) for row in ds.beats.raw[i].reshape(36, 10))
    beat = demo.parse_beat(text)
    assert beat.units == "adc" and "ADC counts" in beat.note and "1024" in beat.note
    np.testing.assert_array_equal(beat.raw_adc, ds.beats.raw[i])
    np.testing.assert_allclose(beat.mv, ds.beats.mv[i])


def test_parse_millivolts_and_overrides():
    mv = np.round(np.sin(np.arange(360) / 20.0), 4)
    beat = demo.parse_beat(" ".join(f"{v:.4f}" for v in mv))
    assert beat.units == "mv" and "millivolts" in beat.note
    np.testing.assert_allclose(beat.mv, mv)
    np.testing.assert_array_equal(beat.raw_adc, np.round(mv * 200) + 1024)
    # whole numbers forced to millivolts; gain and baseline are applied to ADC counts
    ints = "; ".join(["1"] * 180 + ["-1"] * 180)
    assert demo.parse_beat(ints, units="mv").units == "mv"
    beat = demo.parse_beat(ints, gain=100, baseline=0)
    np.testing.assert_allclose(beat.mv[:2], [0.01, 0.01])
    # a CSV header line is skipped
    beat = demo.parse_beat("mV\n" + "\n".join(f"{v:.4f}" for v in mv))
    np.testing.assert_allclose(beat.mv, mv)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no numbers"),
        ("1, 2, 3", "got 3 numbers; a beat is 360"),
        (", ".join(["1"] * 359 + ["abc"]), "value 360 ('abc') is not a number"),
        (", ".join(["1"] * 100 + ["NaN"] + ["1"] * 259), "value 101 is 'NaN'"),
        (", ".join(["1"] * 100 + ["-inf"] + ["1"] * 259), "NaN and infinity"),
        (", ".join(["1e400"] + ["1"] * 359), "too large"),
        (", ".join(["1"] * 720), "2 columns"),
        (", ".join(["40000"] * 360), "16 bits"),
        (", ".join(["400.5"] * 360), "do not fit a 16-bit ADC"),
        ("1" * 200_000, "too long"),
    ],
)
def test_parse_rejects_bad_input_with_a_readable_message(text, message):
    with pytest.raises(TinyECGError) as err:
        demo.parse_beat(text)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_parse_rejects_bad_settings():
    text = ", ".join(["1"] * 360)
    for kwargs, message in (
        ({"gain": 0}, "gain"),
        ({"gain": 2.5}, "gain"),
        ({"baseline": 40000}, "baseline"),
        ({"units": "volts"}, "units"),
    ):
        with pytest.raises(TinyECGError, match=message):
            demo.parse_beat(text, **kwargs)


def test_beat_files(tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("1\n" * 60_000)
    with pytest.raises(TinyECGError, match="too large"):
        demo.read_text_file(big)
    binary = tmp_path / "x.csv"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(TinyECGError, match="binary"):
        demo.read_text_file(binary)
    ok = tmp_path / "beat.csv"
    ok.write_text("sample\n" + "\n".join(["3", "4"] * 180))
    assert demo.parse_beat(demo.read_text_file(ok)).raw_adc.tolist() == [3, 4] * 180


# --------------------------------------------------------------------------- classification
def test_classify_beat_matches_the_evaluation_api(dm, model_dir, excerpt_beats):
    """Every path against the project's own APIs, on real beats of all five classes: the
    float preprocessing is the dataset's, int8 and float probabilities are
    evaluate.predict_proba's, the fixed-point input is fixedpoint's."""
    from tinyecg.dsp.fixedpoint import preprocess_params, preprocess_windows_int
    from tinyecg.stages.evaluate import predict_proba

    ds = excerpt_beats
    idx = np.concatenate(
        [
            _beats_of(ds, r, c)
            for r, c in (("100", "N"), ("109", "L"), ("118", "R"), ("232", "A"), ("208", "V"))
        ]
    )
    neutral = np.ones((len(idx), 5), np.float32)
    p8 = predict_proba(model_dir / "model.tflite", ds.x[idx], neutral)
    pf = predict_proba(model_dir / "model.keras", ds.x[idx], neutral)
    bq, rq = dm.int8.int8.input(spec.BEAT), dm.int8.int8.input(spec.RHYTHM)
    params = preprocess_params(bq.scale, bq.zero_point, rq.scale, rq.zero_point)
    qfix = preprocess_windows_int(ds.beats.raw[idx], 1024, 200, params)
    classes = set()
    for k, i in enumerate(idx):
        res = demo.classify_beat(dm, demo.parse_beat(_text(ds.beats.raw[i])))
        np.testing.assert_allclose(res.x, ds.x[i], atol=1e-6)
        np.testing.assert_array_equal(res.rhythm, neutral[k])
        np.testing.assert_allclose(res.probs_int8, p8[k], atol=1e-9)
        np.testing.assert_allclose(res.probs_float, pf[k], atol=1e-5)
        np.testing.assert_array_equal(res.q_fixed, qfix[k])
        assert res.class_int8 == ds.labels[int(np.argmax(p8[k]))]
        assert res.class_float == ds.labels[int(np.argmax(pf[k]))]
        assert res.shown_class == res.class_int8
        classes.add(res.class_int8)
        text = demo.beat_markdown(res)
        assert f"Predicted class: {res.class_int8}" in text and "neutral features" in text
    assert len(classes) >= 3, "the fixture model should tell several classes apart"


def test_classify_beat_with_rhythm_context(dm, model_dir, excerpt_beats):
    """The integer RR context gives rhythm.py's features (what the dataset stores)."""
    from tinyecg.stages.evaluate import predict_proba

    ds = excerpt_beats
    idx = _beats_of(ds, "232", "A", 3)
    p8 = predict_proba(model_dir / "model.tflite", ds.x[idx], ds.beats.rhythm[idx])
    for k, i in enumerate(idx):
        res = demo.classify_beat(dm, demo.parse_beat(_text(ds.beats.raw[i])), rr=ds.beats.rr[i])
        np.testing.assert_allclose(res.rhythm, ds.beats.rhythm[i], rtol=1e-6)
        np.testing.assert_allclose(res.probs_int8, p8[k], atol=1e-9)


def test_int8_only_model_and_model_errors(model_dir, tmp_path):
    only = demo.load_model(model=model_dir / "model.tflite")
    assert only.keras is None and only.labels == ["N", "L", "R", "A", "V"]
    res = demo.classify_beat(only, demo.parse_beat(", ".join(["1000"] * 180 + ["1100"] * 180)))
    assert res.probs_float is None and res.class_int8 in only.labels
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(model_dir / "model.tflite", lone / "m.tflite")
    assert demo.load_model(model=lone / "m.tflite").labels[0] == "class 0"
    (lone / "config.json").write_text(json.dumps({"data": {"label_names": ["N", "V"]}}))
    with pytest.raises(TinyECGError, match="names 2 classes but the model has 5"):
        demo.load_model(model=lone / "m.tflite")
    for kwargs, message in (
        ({"run_dir": tmp_path / "nope"}, "not found"),
        ({"model": model_dir / "config.json"}, "expected .tflite"),
        ({"run_dir": tmp_path / "empty"}, "no model found"),
        ({"run_dir": model_dir, "model": model_dir / "model.tflite"}, "not both"),
    ):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(TinyECGError, match=message):
            demo.load_model(**kwargs)
    (lone / "bad.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(TinyECGError):
        demo.load_model(model=lone / "bad.tflite")


def test_default_model_when_shipped():
    if not (demo.default_model_dir() / "model.tflite").is_file():
        with pytest.raises(TinyECGError, match="no model shipped"):
            demo.load_model()
        pytest.skip("no default model in tinyecg/assets/default_model yet (the error is checked)")
    dm = demo.load_model(float_model=False)
    beat = demo.parse_beat(demo.example_beats()[next(iter(demo.example_beats()))])
    assert demo.classify_beat(dm, beat).class_int8 in dm.labels


# --------------------------------------------------------------------------- records
def test_confusion_hand_worked():
    labels = ["N", "L", "R", "A", "V"]
    res = demo.RecordResult(
        name="t",
        adc=np.zeros(5000, np.int64),
        baseline=0,
        gain=200.0,
        channel="MLII",
        peaks=np.array([100, 1000, 2000, 3000, 4900]),
        detector="test",
        pred=np.array([-1, 4, 0, 0, -1]),
        probs=np.zeros((5, 5)),
        labels=labels,
        ann_samples=np.array([100, 1010, 2000, 2500, 3000]),
        ann_symbols=np.array(["N", "V", "F", "N", "A"]),
        match=np.array([0, 1, 2, -1, 3]),
        fixed_agree=None,
        label_map={"N": "N", "L": "L", "R": "R", "A": "A", "V": "V"},
    )
    rows, cols, m = res.confusion()
    assert rows == labels + ["other", "not annotated"]
    assert cols == labels + ["not classified", "missed"]
    expected = np.zeros((7, 7), np.int64)
    expected[0, 5] = 1  # N at 100: matched to an edge beat
    expected[4, 4] = 1  # V -> V
    expected[5, 0] = 1  # F (other) -> N
    expected[0, 6] = 1  # N at 2500: missed
    expected[3, 0] = 1  # A -> N
    expected[6, 5] = 1  # detection at 4900 without annotation, not classified
    np.testing.assert_array_equal(m, expected)
    assert res.counts() == {"N": 2, "L": 0, "R": 0, "A": 0, "V": 1}
    assert "other (F)" in demo.record_markdown(res)


def test_analyse_bundled_record(dm, model_dir):
    """C detector vs annotations (EC57 scorer), and every class against predict_proba on
    windows and rhythm built independently from data.records."""
    from tinyecg.data.records import load_record
    from tinyecg.device import detect
    from tinyecg.dsp.denoise import preprocess
    from tinyecg.dsp.rhythm import rhythm_features
    from tinyecg.stages.evaluate import predict_proba

    base = EXCERPT / "208"
    res = demo.analyse_record(dm, base, detector="auto")
    if demo.detector_error():
        pytest.skip(f"the C detector does not build here: {demo.detector_error()}")
    assert "C QRS detector" in res.detector
    score = detect.score_detections(detect.reference_beats(base), res.peaks)
    assert score["se"] > 0.99 and score["ppv"] > 0.99
    assert int((res.match >= 0).sum()) == score["tp"]
    rec = load_record(EXCERPT, "208")
    keep = (res.peaks >= 180) & (res.peaks + 180 <= len(rec.adc))
    windows = np.stack([rec.mv[p - 180 : p + 180] for p in res.peaks[keep]])
    proba = predict_proba(
        model_dir / "model.tflite", preprocess(windows), rhythm_features(res.peaks)[keep]
    )
    np.testing.assert_array_equal(res.pred[keep], proba.argmax(axis=1))
    assert (res.pred[~keep] == -1).all()
    rows, cols, m = res.confusion()
    assert m[:-1].sum() == len(res.ann_samples) and m.sum() == len(res.ann_samples) + score["fp"]
    assert res.fixed_agree is not None and res.fixed_agree >= 0.95 * res.n_classified
    text = demo.record_markdown(res)
    assert f"{res.n_beats} beats" in text and "within 150 ms" in text
    fig = demo.record_figure(res, 20.0)
    assert len(fig.axes) == 2


def test_fallback_to_annotations_is_said(dm, monkeypatch):
    from tinyecg.device import detect

    monkeypatch.setitem(analysis._DETECTOR, "exe", None)
    monkeypatch.setitem(analysis._DETECTOR, "error", "no C compiler found (test)")
    res = demo.analyse_record(dm, EXCERPT / "119")
    np.testing.assert_array_equal(res.peaks, detect.reference_beats(EXCERPT / "119"))
    text = demo.record_markdown(res)
    assert "taken from the annotations" in text and "no C compiler found (test)" in text
    assert (res.match == np.arange(len(res.peaks))).all()
    with pytest.raises(TinyECGError, match="cannot be built"):
        demo.analyse_record(dm, EXCERPT / "119", detector="c")


def test_record_uploads(dm, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    base = _write_record(EXCERPT / "119", src, "cut119", 20, 30)
    files = [base.with_suffix(e) for e in (".hea", ".dat", ".atr")]
    md, fig, res = demo.record_handler(dm, "100", files)
    assert res is not None and fig is not None, md
    assert res.name == "cut119" and "Uploaded record" in md
    assert abs(res.n_beats - len(res.ann_samples)) <= 1
    # header + signal only: classified, nothing to compare with
    md, _, res = demo.record_handler(dm, None, files[:2])
    assert res.ann_samples is None and "No annotations" in md

    def error(paths):
        md, fig, res = demo.record_handler(dm, None, paths)
        assert md.startswith("**Error:**") and fig is None and res is None
        assert "Traceback" not in md
        return md

    assert "names the signal file cut119.dat" in error([files[0], files[2]])
    assert "no .hea" in error(files[1:])
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert "not a WFDB record file" in error([files[0], files[1], other])
    garbage = tmp_path / "bad" / "cut119.hea"
    garbage.parent.mkdir()
    garbage.write_text("this is not a header\n")
    assert "not a readable WFDB header" in error([garbage, files[1]])
    monkeypatch.setattr(inputs, "MAX_RECORD_FILE_BYTES", 1000)
    assert "limit per file" in error(files)


def test_handlers_never_show_a_traceback(dm, monkeypatch):
    md, fig = demo.beat_handler(dm, "1, 2, x", None, "auto", 200, 1024)
    assert md == "**Error:** value 3 (&#x27;x&#x27;) is not a number" and fig is None
    md, fig = demo.beat_handler(dm, "   ", None, "auto", 200, 1024)
    assert "paste a beat" in md
    monkeypatch.setattr(ui, "classify_beat", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    md, fig = demo.beat_handler(dm, ", ".join(["5", "6"] * 180), None, "auto", 200, 1024)
    assert "RuntimeError" in md and "boom" not in md and fig is None
    assert demo.record_handler(dm, "not-a-record", None)[0].startswith("**Error:**")
    assert demo.detail_handler(None, 3) is None


def test_beat_file_takes_precedence_and_is_named(dm, tmp_path):
    csv = tmp_path / "my_beat.csv"
    csv.write_text("adc\n" + "\n".join(str(1000 + (k % 40)) for k in range(360)))
    md, fig = demo.beat_handler(dm, "this text is ignored", str(csv), "auto", 200, 1024)
    assert "From the uploaded file my_beat.csv" in md and fig is not None
    md, _ = demo.beat_handler(dm, "", str(csv), "millivolts", 200, 1024)
    assert "**Error:**" in md and "do not fit a 16-bit ADC" in md


def test_serve_checks_the_port():
    with pytest.raises(TinyECGError, match="port 70000"):
        demo.serve(port=70000)


def test_training_note():
    assert demo.training_note(None) is None
    intra = {"split": {"name": "intra"}, "data": {"records": ["100", "101"]}}
    assert "2 MIT-BIH records" in demo.training_note(intra)
    inter = {"split": {"name": "inter", "records": {"test": ["100", "212"]}}}
    assert demo.training_note(inter).endswith("100 212.")


# --------------------------------------------------------------------------- the page
# --------------------------------------------------------------------------- rhythm view
@pytest.fixture(scope="module")
def rmodel(tmp_path_factory):
    return rhythm_model(tmp_path_factory)


def test_rhythm_view_on_a_vf_onset(rmodel, tmp_path):
    """cudb cu01 (VF from 214.2 s): a decision per second equal to the evaluation API's on
    the same windows, the alarm as aed_metrics sets it, the episode at its annotated onset,
    and the strip rendered around the alarm."""
    from tinyecg import aed_metrics
    from tinyecg.data.rhythm import load_rhythm_record
    from tinyecg.stages.rhythm_evaluate import RhythmModel

    base = rhythm_data("cudb", "cu01")
    files = [base.with_suffix(e) for e in (".hea", ".dat", ".atr")]
    md, fig, res = demo.rhythm_handler(rmodel, None, files)
    assert res is not None and fig is not None, md
    rec = load_rhythm_record(base)
    np.testing.assert_array_equal(res.seconds, rec.ends / spec.RHYTHM_FS)
    np.testing.assert_array_equal(res.shockable, RhythmModel(rmodel).decisions(rec))
    np.testing.assert_array_equal(res.alarm, aed_metrics.alarm_active(res.shockable))
    assert not (res.gated & res.shockable).any()
    (ep,) = res.scores["alarm"]["episodes"]
    assert ep["kind"] == "VF" and ep["onset_s"] == pytest.approx(214.2, abs=0.05)
    assert res.scores["classes"]["VF_coarse"]["n"] > 250
    assert md.startswith(f"### Record cu01: {int(res.shockable.sum())} of 499 decisions")
    assert "VF episode at 214 s" in md and "Sampled at 250 Hz" in md
    for on, _ in res.alarm_spans():
        i = int(np.searchsorted(res.seconds, on))
        assert res.alarm[i] and (i == 0 or not res.alarm[i - 1])
    assert len(fig.axes) == 4
    strip = demo.rhythm_detail_handler(res, 200)
    assert strip.axes[1].get_xlim() == (200.0, 230.0)
    assert strip.axes[3].get_yticklabels()[0].get_text() == "annotated"
    strip.savefig(tmp_path / "rhythm.png")
    assert (tmp_path / "rhythm.png").stat().st_size > 20_000


def test_rhythm_view_without_annotations_and_errors(rmodel, tmp_path, monkeypatch):
    import wfdb

    src = rhythm_data("vfdb", "424")
    rec = wfdb.rdrecord(str(src), physical=False, sampfrom=1250 * 250, sampto=1310 * 250)
    names = ["ECG", "ECG2"]  # vfdb names both leads ECG; WFDB writes unique names only
    base = write_like(rec, tmp_path, "vf424", rec.d_signal, fs=250, sig_name=names)
    res = demo.analyse_rhythm(base, rmodel)
    assert res.codes is None and res.scores is None and len(res.seconds) == 60 - 10 + 1
    md = demo.rhythm_markdown(res)
    assert "No rhythm annotations" in md and "AHA goal" not in md
    assert len(demo.rhythm_figure(res).axes) == 3

    def error(*args):
        md, fig, res = demo.rhythm_handler(*args)
        assert md.startswith("**Error:**") and fig is None and res is None
        assert "Traceback" not in md
        return md

    short = write_like(rec, tmp_path, "short", rec.d_signal[: 9 * 250], fs=250, sig_name=names)
    assert "too short for a rhythm decision" in error(
        rmodel, None, [short.with_suffix(".hea"), short.with_suffix(".dat")]
    )
    assert "choose a bundled excerpt" in error(rmodel, None, None)
    assert "model not found" in error(tmp_path / "none.tflite", "100", None)
    monkeypatch.setattr("tinyecg.paths.rhythm_model_dir", lambda: tmp_path)
    assert "no rhythm model ships with this tinyecg" in error(None, "100", None)
    assert demo.rhythm_detail_handler(None, 3) is None


def test_rhythm_view_on_a_bundled_excerpt_and_full_mitdb(rmodel):
    """The bundled excerpts keep beat labels only: decisions, not scored; the full 100 has
    its rhythm notes: scored on its NSR windows."""
    md, fig, res = demo.rhythm_handler(rmodel, "100", None)
    assert res is not None and fig is not None, md
    assert res.scores is None and "No rhythm annotations" in md
    assert len(res.seconds) == 180 - 10 + 1
    full = full_mitdb()
    if full is None:
        pytest.skip("needs the full MIT-BIH for a record with rhythm notes")
    res = demo.analyse_rhythm(full / "100", rmodel)
    assert res.scores["classes"]["NSR"]["n"] > 1500
    assert "normal sinus rhythm" in demo.rhythm_markdown(res)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_page_in_headless_chromium(dm, tmp_path, excerpt_beats):
    """The served page, driven like a user: paste a real beat, upload a record, paste junk."""
    pytest.importorskip("gradio", reason="the demo needs gradio (pip install 'tinyecg[demo]')")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs playwright (pip install playwright)"
    )
    if not CHROMIUM.is_file():
        pytest.skip("the browser test needs Debian's chromium (/usr/bin/chromium)")
    ds = excerpt_beats
    i = _beats_of(ds, "208", "V", 1)[0]
    beat_text = _text(ds.beats.raw[i])
    expected = demo.classify_beat(dm, demo.parse_beat(beat_text))
    rec = _write_record(EXCERPT / "100", tmp_path, "rec100", 60, 40)
    expected_rec = demo.analyse_record(dm, rec)

    t0 = time.monotonic()
    app = demo.build_app(dm=dm)
    port = _free_port()
    url = demo.launch(app, port, block=False)
    assert url.startswith(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TinyECGError, match=f"cannot serve on 127.0.0.1:{port}"):
            demo.launch(demo.build_app(dm=dm), port, block=False)
        with _chromium_page(sync_api, tmp_path, url) as page:
            expect = sync_api.expect
            expect(page.locator("#intro")).to_contain_text("not a medical device")

            page.locator("#beat-text textarea").fill(beat_text)
            page.locator("#beat-run").click()
            result = page.locator("#beat-result")
            expect(result).to_contain_text("Predicted class", timeout=30_000)
            shown = result.inner_text()
            assert f"Predicted class: {expected.shown_class}" in shown
            assert f"int8 model (TFLM): {expected.class_int8}" in shown
            assert f"float model (Keras): {expected.class_float}" in shown
            assert "Taken as ADC counts" in shown and "neutral features" in shown
            page.screenshot(path=str(tmp_path / "demo_beat.png"), full_page=True)

            page.locator("#beat-text textarea").fill("0.1, 0.2, banana")
            page.locator("#beat-run").click()
            expect(result).to_contain_text("is not a number", timeout=30_000)
            assert "Error: value 3 ('banana') is not a number" in result.inner_text()
            assert "Traceback" not in page.content()

            page.get_by_role("tab", name="Record").click()
            page.locator("#record-files input[type=file]").set_input_files(
                [str(rec.with_suffix(e)) for e in (".hea", ".dat", ".atr")]
            )
            page.wait_for_timeout(500)
            page.locator("#record-run").click()
            rresult = page.locator("#record-result")
            expect(rresult).to_contain_text("beats", timeout=30_000)
            heading = rresult.locator("h3").inner_text()
            assert heading == f"Record rec100: {expected_rec.n_beats} beats", heading
            assert abs(expected_rec.n_beats - len(expected_rec.ann_samples)) <= 1
            page.screenshot(path=str(tmp_path / "demo_record.png"), full_page=True)
    finally:
        app.close()
    assert (tmp_path / "demo_beat.png").stat().st_size > 10_000
    assert time.monotonic() - t0 < 60


def test_rhythm_tab_in_headless_chromium(dm, rmodel, tmp_path):
    """The rhythm tab, driven like a user: upload cudb cu01, analyse, read the heading."""
    pytest.importorskip("gradio", reason="the demo needs gradio (pip install 'tinyecg[demo]')")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs playwright (pip install playwright)"
    )
    if not CHROMIUM.is_file():
        pytest.skip("the browser test needs Debian's chromium (/usr/bin/chromium)")
    base = rhythm_data("cudb", "cu01")
    expected = demo.analyse_rhythm(base, rmodel)
    app = demo.build_app(dm=dm, rhythm_model=rmodel)
    url = demo.launch(app, _free_port(), block=False)
    try:
        with _chromium_page(sync_api, tmp_path, url) as page:
            page.get_by_role("tab", name="Rhythm (VF/VT alarm)").click()
            page.locator("#rhythm-files input[type=file]").set_input_files(
                [str(base.with_suffix(e)) for e in (".hea", ".dat", ".atr")]
            )
            page.wait_for_timeout(500)
            page.locator("#rhythm-run").click()
            result = page.locator("#rhythm-result")
            expect = sync_api.expect
            expect(result).to_contain_text("decisions shockable", timeout=30_000)
            heading = result.locator("h3").inner_text()
            k = int(expected.shockable.sum())
            assert heading == f"Record cu01: {k} of 499 decisions shockable", heading
            assert "VF episode at 214 s" in result.inner_text()
            expect(page.locator("#rhythm-plot")).to_be_visible()
            page.screenshot(path=str(tmp_path / "demo_rhythm.png"), full_page=True)
    finally:
        app.close()
    assert (tmp_path / "demo_rhythm.png").stat().st_size > 10_000
