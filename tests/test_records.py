"""tinyecg.data.records: any WFDB database in (lead by name or index, any sampling rate),
and every problem with a record's files a one-line error naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb
from helpers import EXCERPT, write_like
from scipy.signal import resample_poly

from tinyecg.data import records
from tinyecg.errors import TinyECGError

RECORDS = ("100", "109", "118", "201", "208", "232")


def _rewrite(src: Path, name: str, out: Path, fs: int, lead_name: str) -> None:
    """A record as another database would hold it: sampled at `fs`, MLII renamed, 16-bit."""
    rec = wfdb.rdrecord(str(src / name), physical=False)
    ann = wfdb.rdann(str(src / name), "atr")
    g = np.gcd(fs, 360)
    sig = np.round(
        resample_poly(rec.d_signal.astype(np.float64), fs // g, 360 // g, axis=0, padtype="edge")
    ).astype(np.int64)
    names = [lead_name if s == "MLII" else f"OTHER{i}" for i, s in enumerate(rec.sig_name)]
    write_like(rec, out, name, sig, fs=fs, sig_name=names)
    wfdb.wrann(
        name,
        "atr",
        np.round(ann.sample * fs / 360).astype(np.int64),
        np.array(ann.symbol),
        aux_note=ann.aux_note,
        write_dir=str(out),
    )


@pytest.fixture(scope="module")
def resampled(tmp_path_factory):
    out = {}
    for fs, lead in ((250, "ECG"), (128, "ECG1")):
        d = tmp_path_factory.mktemp(f"fs{fs}")
        for name in RECORDS:
            _rewrite(EXCERPT, name, d, fs, lead)
        (d / "RECORDS").write_text("\n".join(RECORDS) + "\n")
        out[fs] = d
    return out


def _detector_scores(folder: Path, harness) -> tuple[int, int, int]:
    from tinyecg.device import detect

    tp = fp = fn = 0
    for name in RECORDS:
        sig = records.read_signal(folder / name)
        peaks = detect.detect_samples(
            sig.adc, exe=harness, adc_min=sig.adc_range[0], adc_max=sig.adc_range[1]
        )
        ann = records.read_annotations(folder / name, source_fs=sig.source_fs)
        beats = ann.samples[np.isin(ann.symbols, list(detect.BEAT_SYMBOLS))]
        s = detect.score_detections(beats, peaks)
        tp, fp, fn = tp + s["tp"], fp + s["fp"], fn + s["fn"]
    return tp, fp, fn


def _accuracy(folder: Path) -> tuple[int, float]:
    from tinyecg import paths
    from tinyecg.data.dataset import build_dataset
    from tinyecg.models.int8 import Int8Model
    from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

    data = (paths.default_model_dir() / "model.tflite").read_bytes()
    ds = build_dataset(folder, labels="nlrav", records=list(RECORDS), use_cache=False)
    tflm = capture_c_stdout(lambda: TFLMModel(data))[0]
    q = tflm.invoke_batch(*Int8Model.load(data).quantize_inputs(beat=ds.x, rhythm=ds.beats.rhythm))
    return len(ds), float(np.mean(q.argmax(1) == ds.beats.y))


def test_other_rates_and_lead_names_give_the_same_beats_and_accuracy(resampled, tmp_path):
    from tinyecg.device import detect

    harness = detect.build_host_harness(tmp_path / "host")
    want_det = _detector_scores(EXCERPT, harness)
    n0, acc0 = _accuracy(EXCERPT)
    assert want_det[0] > 1300 and acc0 > 0.95
    for fs, folder in resampled.items():
        sig = records.read_signal(folder / "100")
        assert sig.source_fs == fs and sig.lead in ("ECG", "ECG1") and sig.channel == 0
        assert len(sig.adc) == len(records.read_signal(EXCERPT / "100").adc)
        got = _detector_scores(folder, harness)
        # the same beats found: within 0.2 % of the 360 Hz original's true positives
        assert abs(got[0] - want_det[0]) <= 0.002 * want_det[0], (fs, got, want_det)
        assert got[1] <= want_det[1] + 3, (fs, got, want_det)
        n, acc = _accuracy(folder)
        assert n == n0
        assert abs(acc - acc0) <= 0.01, (fs, acc, acc0)


def test_lead_by_name_index_and_preference(resampled):
    folder = resampled[250]
    assert records.read_signal(folder / "100").lead == "ECG"  # by preference
    assert records.read_signal(folder / "100", lead="OTHER1").channel == 1
    assert records.read_signal(folder / "100", lead=1).lead == "OTHER1"
    assert records.read_signal(folder / "100", lead="1").lead == "OTHER1"
    with pytest.raises(TinyECGError, match=r"100\.hea: no lead 'V9'.*0:ECG, 1:OTHER1"):
        records.read_signal(folder / "100", lead="V9")
    with pytest.raises(TinyECGError, match="no lead 7 "):
        records.read_signal(folder / "100", lead=7)
    # MIT-BIH's record 114 has MLII on channel 1
    assert records.read_signal(EXCERPT / "114").channel == 1


def test_the_360_hz_path_is_unchanged():
    """No resampling at 360 Hz: the dataset's loader gives the file's integers."""
    rec = wfdb.rdrecord(str(EXCERPT / "100"), channels=[0], physical=False)
    sig = records.read_signal(EXCERPT / "100")
    assert np.array_equal(sig.adc, rec.d_signal[:, 0])
    assert sig.adc_range == (0, 2047) and sig.invalid == 0 and not sig.flat


# --------------------------------------------------------------------------- bad records


@pytest.fixture
def rec100(tmp_path) -> Path:
    for ext in ("hea", "dat", "atr"):
        shutil.copy(EXCERPT / f"100.{ext}", tmp_path / f"100.{ext}")
    return tmp_path / "100"


def _header(base: Path) -> str:
    return base.with_suffix(".hea").read_text()


def _fails(fn, match):
    with pytest.raises(TinyECGError, match=match) as info:
        fn()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_truncated_empty_and_missing_signal_files(rec100):
    dat = rec100.with_suffix(".dat")
    data = dat.read_bytes()
    dat.write_bytes(data[: len(data) // 2])
    _fails(lambda: records.read_signal(rec100), r"100\.dat: truncated \(97200 of 194400 bytes")
    dat.write_bytes(b"")
    _fails(lambda: records.read_signal(rec100), r"100\.dat: truncated \(0 of")
    dat.unlink()
    _fails(lambda: records.read_signal(rec100), r"100\.dat: missing")


def test_header_naming_another_signal_file(rec100):
    hea = rec100.with_suffix(".hea")
    hea.write_text(_header(rec100).replace("100.dat", "other.dat"))
    _fails(lambda: records.read_signal(rec100), r"other\.dat: missing \(the signal file 100\.hea")


@pytest.mark.parametrize("text", ["\x00\x01garbage\xff\n", "hello, this is not a header\n", ""])
def test_garbage_or_text_header(rec100, text):
    rec100.with_suffix(".hea").write_text(text, errors="surrogateescape")
    _fails(lambda: records.read_signal(rec100), r"100\.hea: ")


def test_zero_samples_and_zero_sampling_frequency(rec100):
    hea = rec100.with_suffix(".hea")
    text = _header(rec100)
    hea.write_text(text.replace("100 2 360 64800", "100 2 360 0"))
    _fails(lambda: records.read_signal(rec100), r"100\.hea: the header declares 0 samples")
    hea.write_text(text.replace("100 2 360 64800", "100 2 0 64800"))
    _fails(lambda: records.read_signal(rec100), r"100\.hea: sampling frequency 0")
    _fails(lambda: records.load_record(rec100.parent, "100"), r"sampling frequency 0")


def test_garbage_and_empty_annotations(rec100):
    atr = rec100.with_suffix(".atr")
    atr.write_bytes(bytes(range(256)) * 3)
    _fails(lambda: records.read_annotations(rec100), r"100\.atr: unreadable annotations")
    atr.write_bytes(b"")
    ann = records.read_annotations(rec100)
    assert ann is not None and len(ann.samples) == 0
    atr.unlink()
    assert records.read_annotations(rec100) is None
    _fails(lambda: records.read_annotations(rec100, required=True), r"100\.atr: missing")


def test_flat_and_invalid_records_are_recognised(rec100, tmp_path):
    rec = wfdb.rdrecord(str(rec100), physical=False)
    flat = np.full_like(rec.d_signal, 1000)
    write_like(rec, tmp_path, "flat", flat)
    assert records.read_signal(tmp_path / "flat").flat
    invalid = np.full_like(rec.d_signal, -32768)
    write_like(rec, tmp_path, "bad", invalid)
    sig = records.read_signal(tmp_path / "bad")
    assert sig.flat and sig.invalid == len(invalid)
    # a few invalid samples are held at the last valid one, as the device core does
    some = rec.d_signal.copy()
    some[100:110, 0] = -32768
    write_like(rec, tmp_path, "some", some)
    sig = records.read_signal(tmp_path / "some")
    assert sig.invalid == 10 and np.all(sig.adc[100:110] == some[99, 0])
    assert not sig.flat


def test_dataset_skips_flat_records_and_counts_unmapped_codes(tmp_path):
    from tinyecg.data.dataset import build_dataset

    for name in ("100", "232"):
        for ext in ("hea", "dat", "atr"):
            shutil.copy(EXCERPT / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    rec = wfdb.rdrecord(str(tmp_path / "100"), physical=False)
    flat = np.full_like(rec.d_signal, 1024)
    write_like(rec, tmp_path, "300", flat, fmt="212")
    shutil.copy(tmp_path / "100.atr", tmp_path / "300.atr")
    ann = wfdb.rdann(str(tmp_path / "232"), "atr")
    symbols = np.array(ann.symbol)
    symbols[10:15] = "B"  # a bundle branch block beat nlrav does not map
    wfdb.wrann("232", "atr", ann.sample, symbols, aux_note=ann.aux_note, write_dir=str(tmp_path))
    ds = build_dataset(tmp_path, labels="nlrav", use_cache=False)
    assert ds.skipped["300"].startswith("flat signal")
    assert ds.records == ["100", "232"]
    assert ds.unmapped["B"] == 5
    # a label map puts them in a class instead
    mapped = build_dataset(tmp_path, labels="nlrav", use_cache=False, label_map={"B": "N"})
    assert "B" not in mapped.unmapped and len(mapped) == len(ds) + 5
    with pytest.raises(TinyECGError, match="'B' -> 'X' is not a class of nlrav"):
        build_dataset(tmp_path, labels="nlrav", use_cache=False, label_map={"B": "X"})
