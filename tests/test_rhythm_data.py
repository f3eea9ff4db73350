"""The shockable-rhythm dataset (tinyecg.data.rhythm) and its integer front end's Python
side (tinyecg.dsp.rhythm_frontend): labels from synthetic annotations, the window classes
of real vfdb / cudb / mitdb records (figures checked against the research round's
independent labelling), folds by record, and the front end's arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyecg.data import rhythm as rh
from tinyecg.data.records import Annotations
from tinyecg.dsp import rhythm_frontend as fe
from tinyecg.spec import RHYTHM_FS, RHYTHM_WINDOW

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_record(db: str, name: str) -> Path:
    base = SHARED / db / name
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"needs ../shared/data/{db} (the issue-15 databases)")
    return base


def ann(events, subtypes=None):
    """Annotations from (second, symbol, aux) triples, positions at 360 Hz."""
    return Annotations(
        np.array([round(t * 360) for t, _, _ in events], np.int64),
        np.array([s for _, s, _ in events]),
        np.array([a for _, _, a in events]),
        np.array(subtypes if subtypes is not None else [0] * len(events)),
    )


def at(codes, t):
    return int(codes[int(t * RHYTHM_FS)])


def test_rhythm_codes_follow_plus_brackets_and_noise():
    a = ann(
        [
            (1, "+", "(N"),
            (10, "+", "(AFIB"),
            (20, "[", ""),
            (20.1, "+", "(VFL"),
            (30, "]", ""),
            (40, "+", "(VT"),
            (50, "~", ""),
            (55, "~", ""),
            (60, "+", "(XYZ"),
        ],
        [0, 0, 0, 0, 0, 0, -1, 0, 0],
    )
    c = rh.rhythm_codes(70 * RHYTHM_FS, a)
    assert at(c, 0.5) == rh.UNSPEC  # before any rhythm annotation
    assert at(c, 5) == rh.NSR and at(c, 15) == rh.OTHER
    assert at(c, 20.05) == rh.VF and at(c, 29.9) == rh.VF  # brackets win over '+'
    assert at(c, 35) == rh.UNSPEC  # after ']' of a VF episode: unknown until the next '+'
    assert at(c, 45) == rh.VT and at(c, 52) == rh.NOISE and at(c, 56) == rh.VT
    assert at(c, 65) == rh.OTHER  # an unknown rhythm note is another organised rhythm


def test_noise_follows_the_chosen_lead_and_paced_records_are_unscored():
    a = ann([(0, "+", "(N"), (10, "~", ""), (20, "~", "")], [0, 0x20, 0])  # lead 1 unreadable
    assert at(rh.rhythm_codes(30 * RHYTHM_FS, a, 0), 15) == rh.NSR
    assert at(rh.rhythm_codes(30 * RHYTHM_FS, a, 1), 15) == rh.NOISE
    paced = ann([(0, "+", "(N"), (1, "/", ""), (5, "[", ""), (8, "]", "")])
    c = rh.rhythm_codes(30 * RHYTHM_FS, paced)
    assert at(c, 2) == rh.PACED and at(c, 6) == rh.VF


def test_window_ends_are_one_per_second_after_the_warm_up():
    ends = rh.window_ends(60 * RHYTHM_FS)
    assert ends[0] == 10 * RHYTHM_FS and np.all(np.diff(ends) == RHYTHM_FS)
    assert ends[-1] == 60 * RHYTHM_FS


# the research round's labelling (independent code, not in this repository) gave these counts
@pytest.mark.parametrize(
    "db,name,expect",
    [
        ("cudb", "cu01", {"VF_coarse": 286, "UNSPEC": 205, "MIXED": 8}),
        (
            "vfdb",
            "424",
            {"VF_coarse": 148, "NSR": 1453, "OTHER": 96, "ASYS": 45, "MIXED": 89, "NOISE": 260},
        ),
    ],
)
def test_window_classes_of_real_records(db, name, expect):
    r = rh.load_rhythm_record(shared_record(db, name))
    got = {
        rh.WINDOW_CLASSES[k]: int(n) for k, n in zip(*np.unique(r.score_class, return_counts=True))
    }
    assert got == expect
    assert len(r.stream) == len(r.codes) == len(r.vt_rate)
    assert r.shockable_truth.any()


def test_rapid_vt_rate_from_peaks_on_vfdb():
    r = rh.load_rhythm_record(shared_record("vfdb", "421"))
    rapid = (r.score_class == rh.WC["VT_rapid"]).sum()
    slow = (r.score_class == rh.WC["VT_slow"]).sum()
    assert rapid > 100 and slow == 0  # 421's VT runs at ~200 bpm


def test_folds_keep_records_whole_and_spread_each_kind():
    recs = []
    for i in range(10):
        cls = np.full(20, rh.WC["NSR"], np.int8)
        if i < 5:
            cls[:3] = rh.WC["VF_coarse"]
        recs.append(
            rh.RhythmRecord(f"r{i}", "db", 200.0, *(np.zeros(0),) * 4, cls, cls, np.zeros(0))
        )
    folds = rh.folds_by_record(recs, k=5, seed=0)
    assert sorted(folds) == sorted(f"db/r{i}" for i in range(10))
    vf_folds = {folds[f"db/r{i}"] for i in range(5)}
    assert vf_folds == set(range(5))  # one VF record per fold
    assert folds == rh.folds_by_record(recs, k=5, seed=0)  # seeded


def test_fir_table_is_its_design_and_decimation_is_the_convolution():
    np.testing.assert_array_equal(fe.FIR_Q15, fe.fir_design_q15())
    assert fe.FIR_Q15.sum() == 1 << fe.FIR_BITS
    rng = np.random.default_rng(1)
    x = rng.integers(-2048, 2048, 4000)
    full = np.convolve(x, fe.FIR_Q15)[: len(x)]  # y[n] = sum h[k] x[n - k]
    want = (full[3::4] + (1 << 14)) >> 15
    np.testing.assert_array_equal(fe.decimate_int(x), want)
    # full-scale input stays within int16 and the accumulator within int32
    assert int(np.abs(fe.FIR_Q15).sum()) * 32768 < 2**31
    assert fe.decimate_int(np.full(400, 32767)).max() == 32767


def test_dc_blocker_removes_offset_and_keeps_vf_band():
    z = fe.stream_int(np.full(360 * 20, 500))
    assert abs(int(z[-1])) <= 1
    t = np.arange(360 * 20) / 360
    vf = fe.stream_int(np.round(400 * np.sin(2 * np.pi * 5 * t)))
    assert 370 <= vf[-900:].max() <= 410  # 5 Hz passes within 10 %


def test_normalisation_and_gate_in_integers():
    rng = np.random.default_rng(0)
    w = rng.integers(-3000, 3000, (4, RHYTHM_WINDOW))
    q = fe.normalise_int(w, 200.0)
    x = w - w.mean(1, keepdims=True)
    ref = np.clip(np.round(16 * x / x.std(1, keepdims=True)), -128, 127)
    assert np.abs(q - ref).max() <= 1
    flat = np.zeros((1, RHYTHM_WINDOW), np.int64)
    flat[0, ::90] = 20  # 0.1 mV spikes: std below the 50 uV floor, gate closed
    assert fe.normalise_int(flat, 200.0).max() == round(16 * (20 - 0) / 10)
    assert not fe.amplitude_gate(flat, 200.0)[0]
    big = flat.copy()
    big[0, ::90] = 40  # 200 uV at 200 counts/mV: the gate's threshold, open
    assert fe.amplitude_gate(big, 200.0)[0]
