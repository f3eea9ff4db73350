"""The board's beat path on the host (the tinyecg.device.device_path package): the C core's
beat assembly restated in Python and checked against the C, the fixed-point and float model
inputs checked against the dataset's, and the whole path (C detector -> beats -> fixed-point ->
int8 model in TFLM -> EC57 matching) run on the bundled MIT-BIH excerpt with a small int8
student trained here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyecg.device import detect
from tinyecg.device import device_path as dp
from tinyecg.dsp import fixedpoint as fp
from tinyecg.errors import TinyECGError
from tinyecg.spec import MATCH_WINDOW

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
RECORDS = ["100", "109", "114", "118", "119", "201", "207", "208", "212", "214", "231", "232"]


@pytest.fixture(scope="session")
def tools(tmp_path_factory):
    """(stock host harness, timestamping event driver firmware/host/events_main.c), built
    with the strict flags."""
    d = tmp_path_factory.mktemp("device-c")
    return detect.build_host_harness(d / "host"), dp.build_event_driver(d / "events")


@pytest.fixture(scope="session")
def excerpt_ds():
    from tinyecg.data.dataset import build_dataset

    return build_dataset(EXCERPT, labels="nlrav", use_cache=False)


@pytest.fixture(scope="session")
def int8_model(tmp_path_factory, excerpt_ds) -> Path:
    """student-cnn trained ~220 steps on the excerpt's beats, full-int8 converted."""
    from tinyecg.models.architectures import build, keras
    from tinyecg.models.inputs import model_inputs
    from tinyecg.stages.quantize import convert_int8, representative_inputs, stratified_indices

    ds = excerpt_ds
    keras.utils.set_random_seed(0)
    model = build("student-cnn", n_classes=len(ds.labels))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=keras.losses.SparseCategoricalCrossentropy()
    )
    model.fit(
        model_inputs(model, ds.x, ds.beats.rhythm),
        ds.beats.y,
        batch_size=64,
        epochs=5,
        shuffle=True,
        verbose=0,
    )
    idx = stratified_indices(ds.beats.y, 200)
    data = convert_int8(model, representative_inputs(model, ds.x[idx], ds.beats.rhythm[idx]))
    path = tmp_path_factory.mktemp("device-model") / "student_int8.tflite"
    path.write_bytes(data)
    return path


def _signal(n: int) -> np.ndarray:
    t = np.arange(n)
    return (1024 + 300 * np.sin(2 * np.pi * t / 290.0)).astype(np.int64)


# --------------------------------------------------------------------------- beat assembly


def _peak_file_run(harness, x, peaks, tmp_path):
    pf = tmp_path / "peaks.txt"
    pf.write_text("\n".join(map(str, peaks)) + "\n")
    out = detect.run_harness(
        harness,
        detect.samples_text(x),
        "--rr",
        "--windows",
        "--peak-file",
        str(pf),
        "--adc-min",
        "0",
        "--adc-max",
        "2047",
    )
    c_r, c_rr = dp.parse_rr_lines(out)
    py = dp.device_beats(peaks, np.asarray(peaks) + 100, len(x))
    assert py.r.tolist() == c_r.tolist()
    assert py.rr.tolist() == c_rr.tolist()
    return py, out


def test_beat_rules_match_c_with_known_report_times(tools, tmp_path):
    """External peaks (--peak-file: each registered when the sample 100 after it arrives)
    exercise every rule with known report times: first window before sample 0, a 1400-sample
    gap whose next peak is registered after the 1480-sample timeout, a 1500-sample gap, the
    8-beat local mean, a last beat finished by the end of the stream, a window cut by the end."""
    harness, _ = tools
    n = 12000
    x = _signal(n)
    peaks = [50, 400, 700, 2100, 2450, 3950]
    peaks += [
        int(v) for v in 3950 + np.cumsum([280, 310, 250, 330, 300, 290, 270, 360, 240, 300, 320])
    ]
    peaks += [n - 600, n - 300]
    py, out = _peak_file_run(harness, x, peaks, tmp_path)
    rows = {int(r): tuple(int(v) for v in rr) for r, rr in zip(py.r, py.rr)}
    # hand-derived: 50 has no window but keeps its place (400's pre = 350, local = 350, 1)
    assert 50 not in rows and rows[400] == (350, 300, 350, 1)
    # 700: its next peak (2100) is registered at 2200 > 700 + 1480, so post = pre
    assert rows[700] == (300, 300, 650, 2)
    # 2100 keeps its place in the sequence: pre = 1400, local = 350 + 300 + 1400 over 3
    assert rows[2100] == (1400, 350, 2050, 3)
    # 2450 -> 3950 (registered 4050 > 2450 + 1480): post = pre
    assert rows[2450] == (350, 350, 2400, 4)
    # the last beat has no next one: finished at the end of the stream with post = pre
    assert rows[n - 300][:2] == (300, 300)
    assert py.skipped == 1
    # a beat deep in the run: local = the 8 most recent intervals
    i = len(peaks) - 5
    ref = np.diff(peaks)[i - 8 : i]
    assert rows[peaks[i]][2:] == (int(ref.sum()), 8)
    # windows: the harness's W lines are the raw slices
    w = {
        int(ln.split()[1]): [int(v) for v in ln.split()[2:]]
        for ln in out.splitlines()
        if ln.startswith("W ")
    }
    assert sorted(w) == py.r.tolist()
    assert np.array_equal(dp.windows_at(x, py.r), np.asarray([w[r] for r in py.r]))
    # a window cut by the end of the stream: the beat is dropped, its predecessor is not
    py2, _ = _peak_file_run(harness, x, [n - 900, n - 600, n - 120], tmp_path)
    assert py2.r.tolist() == [n - 900, n - 600] and py2.skipped == 1
    assert py2.rr[1].tolist() == [300, 480, 300, 1]


@pytest.mark.parametrize("name", RECORDS)
def test_rr_from_detected_peaks_equals_c(tools, name):
    """The Python rules on the detector's peaks and report times give exactly the RR
    context (and beat list) of the C core's --rr output."""
    harness, driver = tools
    x, _, (lo, hi) = detect.read_record(EXCERPT / name)
    peaks, c_r, c_rr = dp.harness_beats(x, harness, lo, hi)
    ev = dp.device_events(x, driver, lo, hi)
    assert np.array_equal(ev.peaks, peaks) and len(peaks) > 100
    assert np.all(ev.reported_at > ev.peaks)
    py = dp.device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
    assert np.array_equal(py.r, c_r)
    assert np.array_equal(py.rr, c_rr)


def test_rr_with_flat_and_lead_off_breaks(tools):
    """A flat second and a railed lead-off inside a real record: the core restarts its RR
    sequence on '# signal ok'; the Python rules with the driver's break times agree."""
    harness, driver = tools
    x, _, (lo, hi) = detect.read_record(EXCERPT / "119")
    x = x.copy()
    x[20000:21000] = 1000  # > 2 whole 1 s blocks without variation
    x[40000:40300] = hi  # 0.8 s railed at the ADC maximum
    peaks, c_r, c_rr = dp.harness_beats(x, harness, lo, hi)
    ev = dp.device_events(x, driver, lo, hi)
    assert len(ev.breaks) == 2
    assert any("flat" in s for _, s in ev.status) and any("lead-off" in s for _, s in ev.status)
    py = dp.device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
    assert np.array_equal(py.r, c_r) and np.array_equal(py.rr, c_rr)
    # the first beat after each break starts a sequence: local count 1
    for b in ev.breaks:
        first = py.r[py.r > b][0]
        assert py.rr[py.r == first][0, 3] == 1
    # without the breaks the rules would give other RR values: the breaks matter here
    no_break = dp.device_beats(ev.peaks, ev.reported_at, ev.n_samples)
    assert not np.array_equal(no_break.rr, c_rr)


def test_device_beats_rejects_bad_input():
    with pytest.raises(TinyECGError):
        dp.device_beats([400, 700], [500], 2000)
    with pytest.raises(TinyECGError):
        dp.device_beats([400, 700], [900, 800], 2000)  # report times go back
    with pytest.raises(TinyECGError):
        dp.device_beats([400, 700], [400, 900], 2000)  # reported before it happened
    with pytest.raises(TinyECGError):
        dp.windows_at(np.zeros(500), [100])


# --------------------------------------------------------------------------- model inputs


def test_annotated_inputs_equal_dataset_windows(int8_model, excerpt_ds):
    """The annotated paths feed the model exactly what the dataset's windows give through
    preprocess_windows_int / rhythm_features_int (fixed) and through the dataset's float x
    quantized as Int8Model.quantize_inputs (what `tinyecg evaluate` feeds)."""
    from tinyecg.data.records import load_record

    clf = dp.Int8Classifier(int8_model.read_bytes())
    params = clf.preprocess_params()
    b = excerpt_ds.beats
    checked = 0
    for name in ("100", "208", "232"):
        rec = load_record(EXCERPT, name)
        sel = b.record == name
        ann, fixed, flt = dp.annotated_inputs(clf, rec, "nlrav", params)
        assert np.array_equal(ann.sample, b.sample[sel])
        want = fp.preprocess_windows_int(
            b.raw[sel], int(b.baseline[sel][0]), int(round(float(b.gain[sel][0]))), params
        )
        assert np.array_equal(fixed[0], want)
        rr = b.rr[sel]
        assert np.array_equal(
            fixed[1], fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
        )
        q = clf.int8.quantize_inputs(beat=excerpt_ds.x[sel], rhythm=b.rhythm[sel])
        assert np.array_equal(flt[0], q[clf.beat_q.position].reshape(len(ann), -1))
        assert np.array_equal(flt[1], q[clf.rhythm_q.position].reshape(len(ann), -1))
        # fixed and float inputs are close but not the same computation
        assert np.mean(fixed[0] == flt[0]) > 0.9
        checked += len(ann)
    assert checked > 500


# --------------------------------------------------------------------------- the whole path


@pytest.fixture(scope="session")
def excerpt_result(int8_model, tmp_path_factory):
    return dp.evaluate_device_path(
        int8_model,
        RECORDS,
        EXCERPT,
        labels="nlrav",
        shifts=(3,),
        build_dir=tmp_path_factory.mktemp("device-eval"),
    )


def test_device_path_on_excerpt(excerpt_result, excerpt_ds):
    t = excerpt_result["total"]
    assert t["qrs_ec57"]["se"] > 0.98 and t["qrs_ec57"]["ppv"] > 0.98
    assert t["qrs"]["se"] > 0.98
    assert t["rr_check"]["mismatches"] == 0
    assert t["rr_check"]["python_beats"] == t["rr_check"]["beats"] == t["device_beats"]
    # every labelled annotated beat is in the annotated paths
    assert t["annotated_fixed"]["n"] == t["annotated_float"]["n"] == len(excerpt_ds)
    # matched labelled beats: almost all labelled beats, and the model works on them
    det = t["detected"]
    assert det["n"] > 0.97 * len(excerpt_ds)
    assert det["accuracy"] > 0.8 and t["annotated_fixed"]["accuracy"] > 0.8
    assert abs(t["annotated_fixed"]["accuracy"] - t["annotated_float"]["accuracy"]) < 0.03
    assert abs(det["accuracy"] - t["annotated_fixed"]["accuracy"]) < 0.05
    assert sum(det["end_to_end"][c]["annotated"] for c in det["labels"]) == len(excerpt_ds)
    off = t["offsets"]
    assert off["n"] == t["qrs"]["tp"] and off["within_5"] > 0.9
    assert [r["shift"] for r in t["shift_effect"]] == [3]
    assert set(excerpt_result["per_record"]) == set(RECORDS)


def test_detected_confusion_matches_nearest_annotation(excerpt_result, tools, int8_model):
    """Independent re-count for one record: each device beat labelled by the nearest
    annotated beat within 150 ms, its class from the model run on its own window."""
    import wfdb

    from tinyecg.data.beats import LABEL_SETS

    harness, _ = tools
    name = "208"
    x, _, (lo, hi) = detect.read_record(EXCERPT / name)
    _, r, rr = dp.harness_beats(x, harness, lo, hi)
    clf = dp.Int8Classifier(int8_model.read_bytes())
    params = clf.preprocess_params()
    beat = fp.preprocess_windows_int(dp.windows_at(x, r), 1024, 200, params)
    rhythm = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    pred = clf.predict(beat, rhythm)
    ann = wfdb.rdann(str(EXCERPT / name), "atr")
    beats = [(int(s), sym) for s, sym in zip(ann.sample, ann.symbol) if sym in detect.BEAT_SYMBOLS]
    samples = np.array([s for s, _ in beats])
    spec = LABEL_SETS["nlrav"]
    cm = np.zeros((5, 5), int)
    for k, rk in enumerate(r):
        j = int(np.argmin(np.abs(samples - rk)))
        if abs(samples[j] - rk) <= MATCH_WINDOW and beats[j][1] in spec["map"]:
            cm[spec["labels"].index(spec["map"][beats[j][1]]), pred[k]] += 1
    assert cm.tolist() == excerpt_result["per_record"][name]["confusion_detected"]
    assert cm.sum() > 200


def test_device_path_errors(tmp_path, int8_model):
    with pytest.raises(TinyECGError, match="not found"):
        dp.evaluate_device_path(tmp_path / "none.tflite", ["100"], EXCERPT)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(TinyECGError):
        dp.evaluate_device_path(bad, ["100"], EXCERPT)
    with pytest.raises(TinyECGError, match="no records"):
        dp.evaluate_device_path(int8_model, [], EXCERPT)
    with pytest.raises(TinyECGError, match="cannot be scored"):
        dp.evaluate_device_path(
            int8_model, ["100"], EXCERPT, labels="nlrav", config={"data": {"labels": "aami"}}
        )
    with pytest.raises(TinyECGError, match="label set"):
        dp.evaluate_device_path(int8_model, ["100"], EXCERPT, labels="xyz")


def test_model_name_resolves_to_the_int8_file_first(tmp_path):
    """A run (like the shipped default model) may hold model.keras beside model.tflite:
    the device-path bench asks for the .tflite, evaluate keeps preferring .keras."""
    from tinyecg.run import run_model

    (tmp_path / "model.keras").write_bytes(b"k")
    (tmp_path / "model.tflite").write_bytes(b"t")
    assert run_model(tmp_path, "model", suffixes=(".tflite",)).suffix == ".tflite"
    assert run_model(tmp_path, "model").suffix == ".keras"
