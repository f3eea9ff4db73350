"""The beat pipeline: record quirks, windows at record edges, labels, rhythm, cache, splits."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import wfdb
from helpers import write_like

from tinyecg.data import records as rec_mod
from tinyecg.data.beats import PRE_R, WINDOW, beats_from_record, rr_context
from tinyecg.data.dataset import build_dataset, cache_dir
from tinyecg.data.records import load_record, resolve_data_dir
from tinyecg.data.splits import split_inter, split_intra
from tinyecg.dsp import denoise
from tinyecg.dsp.rhythm import rhythm_features
from tinyecg.errors import TinyECGError


def test_114_takes_mlii_from_channel_1(excerpt_dir):
    rec = load_record(excerpt_dir, "114")
    assert rec.lead == "MLII"
    raw = wfdb.rdrecord(str(excerpt_dir / "114"), physical=False)
    assert raw.sig_name == ["V5", "MLII"]
    assert np.array_equal(rec.adc, raw.d_signal[:, 1])


def test_record_without_mlii_is_skipped_with_reason(excerpt_dir, caplog):
    caplog.set_level("INFO", logger="tinyecg.data")
    assert load_record(excerpt_dir, "102") is None
    assert "no MLII" in caplog.text
    ds = build_dataset(excerpt_dir, include_paced=True, records=["102", "100"])
    assert ds.skipped == {"102": "no MLII lead"}
    assert set(ds.beats.record) == {"100"}


def test_paced_records_are_left_out_by_default(excerpt_dir):
    ds = build_dataset(excerpt_dir, records=["102", "100"])
    assert "102" in ds.skipped and "paced" in ds.skipped["102"]


def _crop(excerpt_dir, tmp_path, name, start, stop):
    """Write samples [start, stop) of an excerpt record, annotations shifted, as a new record."""
    src = wfdb.rdrecord(str(excerpt_dir / name), sampfrom=start, sampto=stop, physical=False)
    src.record_name = name
    src.wrsamp(write_dir=str(tmp_path))
    ann = wfdb.rdann(
        str(excerpt_dir / name), "atr", sampfrom=start, sampto=stop - 1, shift_samps=True
    )
    ann.record_name = name
    ann.wrann(write_dir=str(tmp_path))
    return tmp_path


def test_windows_are_annotation_centred_and_skip_record_edges(excerpt_dir, tmp_path):
    ann = wfdb.rdann(str(excerpt_dir / "100"), "atr")
    beats_at = ann.sample[np.isin(ann.symbol, ["N", "A"])]
    start, stop = beats_at[3] - 100, beats_at[40] + 100  # beats 3 and 40 sit at the edges
    rec = load_record(_crop(excerpt_dir, tmp_path, "100", start, stop), "100")
    beats = beats_from_record(rec, "nlrav")
    for r, window in zip(beats.sample, beats.raw):  # independent slice of the raw record
        assert np.array_equal(window, rec.adc[r - PRE_R : r - PRE_R + WINDOW])
    annotated = rec.ann_samples[np.isin(rec.ann_symbols, list("NLRAV"))]
    inside = annotated[(annotated >= PRE_R) & (annotated + WINDOW - PRE_R <= len(rec.adc))]
    assert 100 in annotated and len(rec.adc) - 100 in annotated
    assert beats.sample.tolist() == inside.tolist()
    assert len(inside) == len(annotated) - 2


def test_labels_nlrav_and_aami(excerpt_dir):
    rec = load_record(excerpt_dir, "232")  # A and R beats
    nlrav = beats_from_record(rec, "nlrav")
    aami = beats_from_record(rec, "aami")
    sym = dict(zip(rec.ann_samples.tolist(), rec.ann_symbols.tolist()))
    names = ["N", "L", "R", "A", "V"]
    assert all(names[y] == sym[s] for y, s in zip(nlrav.y, nlrav.sample))
    to_aami = {"A": "S", "R": "N", "N": "N", "L": "N", "V": "V"}
    got = dict(zip(aami.sample.tolist(), aami.y.tolist()))
    for s, y in zip(nlrav.sample, nlrav.y):
        assert ["N", "S", "V", "F", "Q"][got[s]] == to_aami[names[y]]


def test_rhythm_context_uses_every_beat_and_matches_float_features(excerpt_dir):
    rec = load_record(excerpt_dir, "201")
    beats = beats_from_record(rec, "nlrav")
    is_beat = np.isin(rec.ann_symbols, "N L R B A a J S V r F e j n E / f Q ?".split())
    r_all = rec.ann_samples[is_beat]
    pos = np.searchsorted(r_all, beats.sample)
    k = pos[5]  # a beat with history
    assert beats.rr[5, 0] == r_all[k] - r_all[k - 1]
    assert beats.rr[5, 1] == r_all[k + 1] - r_all[k]
    lo = max(k - 8, 0)
    assert beats.rr[5, 2] == r_all[k] - r_all[lo] and beats.rr[5, 3] == k - lo
    pre, post, s, c = beats.rr.T
    expect = np.stack([pre / 360, post / 360, s / c / 360, pre / (s / c), post / (s / c)], 1)
    np.testing.assert_allclose(beats.rhythm, expect, rtol=1e-6)


def test_rr_context_edge_rules():
    ctx = rr_context(np.array([1000]))
    assert ctx.tolist() == [[360, 360, 360, 1]]
    ctx = rr_context(np.array([0, 300, 700]))
    assert ctx[0].tolist() == [300, 300, 300, 1]
    assert ctx[2].tolist() == [400, 400, 700, 2]
    assert rhythm_features(np.array([0, 300, 700])).shape == (3, 5)


def test_preprocessing_matches_pywt_denoise_and_zscore(excerpt_dir):
    rec = load_record(excerpt_dir, "119")
    b = beats_from_record(rec, "nlrav")
    x = denoise.preprocess(b.mv[:50])
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=1), 1, atol=1e-4)
    # the denoised window keeps the QRS: correlation with the raw window stays high
    raw = b.mv[:50] - b.mv[:50].mean(1, keepdims=True)
    corr = [np.corrcoef(r, d)[0, 1] for r, d in zip(raw, x)]
    assert min(corr) > 0.9
    flat = denoise.preprocess(np.zeros((1, 360)))
    assert np.isfinite(flat).all() and np.all(flat == 0)


def test_cache_hit_and_invalidation(excerpt_dir, tmp_path):
    data = tmp_path / "db"
    shutil.copytree(excerpt_dir, data)
    first = build_dataset(data, records=["100", "119"])
    files = list(cache_dir().glob(f"beats-{first.key}.npz"))
    assert len(files) == 1
    again = build_dataset(data, records=["100", "119"])
    assert again.key == first.key and np.array_equal(again.x, first.x)
    other_labels = build_dataset(data, labels="aami", records=["100", "119"])
    assert other_labels.key != first.key
    # a changed annotation file changes the key
    ann = wfdb.rdann(str(data / "100"), "atr")
    keep = np.ones(len(ann.sample), bool)
    keep[10] = False
    wfdb.wrann(
        "100", "atr", ann.sample[keep], np.asarray(ann.symbol)[keep].tolist(), write_dir=str(data)
    )
    changed = build_dataset(data, records=["100", "119"])
    assert changed.key != first.key and len(changed) == len(first) - 1


def test_damaged_cache_is_rebuilt(excerpt_dir):
    first = build_dataset(excerpt_dir, records=["100"])
    path = cache_dir() / f"beats-{first.key}.npz"
    path.write_bytes(b"not a zip")
    again = build_dataset(excerpt_dir, records=["100"])
    assert np.array_equal(again.beats.y, first.beats.y)


def test_intra_split_is_disjoint_stratified_and_natural(excerpt_dir):
    ds = build_dataset(excerpt_dir)
    s = split_intra(ds.beats.y, seed=3)
    allidx = np.concatenate(list(s.values()))
    assert len(allidx) == len(set(allidx.tolist())) == len(ds)
    for part in s.values():  # class proportions follow the data (nothing resampled)
        frac = np.bincount(ds.beats.y[part], minlength=5) / len(part)
        np.testing.assert_allclose(frac, np.bincount(ds.beats.y, minlength=5) / len(ds), atol=0.02)
    assert np.array_equal(split_intra(ds.beats.y, seed=3)["test"], s["test"])


def test_inter_split_shares_no_record(excerpt_dir):
    ds = build_dataset(excerpt_dir)
    s = split_inter(ds.beats.record, seed=0)
    recs = {k: set(ds.beats.record[v].tolist()) for k, v in s.items()}
    assert not (recs["train"] & recs["test"]) and not (recs["val"] & recs["train"])
    assert not (recs["val"] & recs["test"])
    assert recs["test"] <= set(rec_mod.DS2) and recs["train"] | recs["val"] <= set(rec_mod.DS1)


def test_inter_split_on_full_database_is_de_chazal(mitdb_dir):
    ds = build_dataset(mitdb_dir, labels="aami")
    s = split_inter(ds.beats.record)
    assert set(ds.beats.record[s["test"]]) == set(rec_mod.DS2)
    assert set(ds.beats.record[s["train"]]) | set(ds.beats.record[s["val"]]) == set(rec_mod.DS1)
    counts = np.bincount(ds.beats.y[s["test"]], minlength=5)
    # independent count from the annotation files (AAMI mapping spelled out here); only beats
    # within half a window of a record's ends may be lost
    aami = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    expected = np.zeros(5, int)
    for r in rec_mod.DS2:
        symbols = wfdb.rdann(str(mitdb_dir / r), "atr").symbol
        for i, members in enumerate(aami.values()):
            expected[i] += sum(sym in members for sym in symbols)
    assert expected[:4].tolist() == [44259, 1837, 3221, 388]
    assert np.all(counts <= expected) and np.all(expected - counts <= 30)


def test_full_database_class_counts(mitdb_dir):
    ds = build_dataset(mitdb_dir)
    counts = np.bincount(ds.beats.y, minlength=5)
    # shared README counts (MLII, paced records out): N 74,505 L 8,071 R 7,255 A 2,546 V 6,902
    assert counts.tolist() == [74505, 8071, 7255, 2546, 6902]


@pytest.mark.parametrize("missing", ["hea", "dat", "atr"])
def test_missing_record_file_is_named(excerpt_dir, tmp_path, missing):
    data = tmp_path / "db"
    shutil.copytree(excerpt_dir, data)
    (data / f"100.{missing}").unlink()
    with pytest.raises(TinyECGError, match=rf"100\.{missing}: missing"):
        build_dataset(data, records=["100"])
    assert not list(cache_dir().glob("*.tmp")) if cache_dir().exists() else True


def test_corrupt_header_is_reported(excerpt_dir, tmp_path):
    data = tmp_path / "db"
    shutil.copytree(excerpt_dir, data)
    (data / "100.hea").write_text("this is not a header\n")
    with pytest.raises(TinyECGError, match=r"100\.hea: unreadable header"):
        build_dataset(data, records=["100"])


def test_data_dir_resolution(tmp_path, monkeypatch, excerpt_dir):
    assert resolve_data_dir(None) == rec_mod.BUNDLED
    monkeypatch.setenv("TINYECG_DATA", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path
    with pytest.raises(TinyECGError, match="data folder not found"):
        resolve_data_dir(tmp_path / "nope")
    with pytest.raises(TinyECGError, match="no WFDB records"):
        build_dataset(tmp_path)


def test_resampled_record_lands_at_360_hz(excerpt_dir, tmp_path):
    src = wfdb.rdrecord(str(excerpt_dir / "100"), physical=False)
    ann = wfdb.rdann(str(excerpt_dir / "100"), "atr")
    from scipy.signal import resample_poly

    sig = np.round(resample_poly(src.d_signal.astype(float), 25, 36)).astype(int)  # 250 Hz
    write_like(src, tmp_path, "r250", sig, fs=250)
    wfdb.wrann(
        "r250",
        "atr",
        np.round(ann.sample * 250 / 360).astype(int),
        ann.symbol,
        write_dir=str(tmp_path),
    )
    rec = load_record(tmp_path, "r250")
    assert rec.fs == 360 and abs(len(rec.adc) - len(src.d_signal)) <= 2
    # resampled signal tracks the original within a few ADC counts around R-peaks
    r = ann.sample[50]
    assert (
        np.abs(rec.adc[r - 20 : r + 20].astype(int) - src.d_signal[r - 20 : r + 20, 0]).max() < 40
    )
