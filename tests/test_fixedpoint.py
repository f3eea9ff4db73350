"""Integer preprocessing reference (tinyecg.dsp.fixedpoint) against independent references:
pywt for the periodized transforms, exact rational arithmetic for the rounding helpers and
the rhythm features, and the float pipeline (tinyecg.dsp.denoise) on real MIT-BIH beats."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import pywt

from tinyecg.dsp import denoise
from tinyecg.dsp import fixedpoint as fp
from tinyecg.errors import TinyECGError
from tinyecg.quantmath import right_shift_multiplier
from tinyecg.spec import BEAT_SYMBOLS, WINDOW

RECORDS = ("100", "119", "208", "232")
BEATS_PER_RECORD = 300


@pytest.fixture(scope="module")
def real_windows(mitdb_dir):
    """(raw int16 (n, 360), baseline, gain) of the first beats of a few MIT-BIH records."""
    root = mitdb_dir
    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import load_record

    raws, bases, gains = [], [], []
    for name in RECORDS:
        rec = load_record(root, name)
        beats = beats_from_record(rec, labels="aami")
        raws.append(beats.raw[:BEATS_PER_RECORD])
        bases.append(np.full(len(raws[-1]), rec.baseline))
        gains.append(np.full(len(raws[-1]), int(round(float(rec.gain)))))
    return np.concatenate(raws), np.concatenate(bases), np.concatenate(gains)


# ----------------------------------------------------------------------------- transforms
def test_float_transforms_reproduce_pywt_periodization():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, WINDOW)) * 100
    a = x
    for n in (360, 180, 90):
        ca, cd = fp.dwt_float(a)
        want_a, want_d = pywt.dwt(a, "sym4", mode="periodization", axis=-1)
        assert np.abs(ca - want_a).max() < 1e-12 * np.abs(want_a).max()
        assert np.abs(cd - want_d).max() < 1e-12 * np.abs(want_a).max()
        back = fp.idwt_float(ca, cd)
        want = pywt.idwt(ca, cd, "sym4", mode="periodization", axis=-1)
        assert back.shape == (20, n)
        assert np.abs(back - want).max() < 1e-12 * np.abs(want).max()
        a = ca


def test_filters_and_threshold_constants():
    w = pywt.Wavelet("sym4")
    for q, h in (
        (fp.DEC_LO_Q, w.dec_lo),
        (fp.DEC_HI_Q, w.dec_hi),
        (fp.REC_LO_Q, w.rec_lo),
        (fp.REC_HI_Q, w.rec_hi),
    ):
        err = np.abs(np.array(q) / 2.0**fp.FILTER_BITS - np.array(h))
        assert err.max() <= 2.0 ** -(fp.FILTER_BITS + 1)
        assert max(abs(v) for v in q) < 2**31
    want = math.sqrt(2 * math.log(360)) / (2 * 0.6745)
    assert abs(fp.THR_MULT / 2.0**fp.THR_BITS - want) <= 2.0 ** -(fp.THR_BITS + 1)
    assert fp.THR_MULT < 2**31


def test_headroom_bounds_hold():
    h = fp.headroom()
    assert set(h) == set(fp.HEADROOM_LIMITS)
    for name, bits in h.items():
        assert bits < fp.HEADROOM_LIMITS[name], (name, bits)
    assert h["y"] < 26  # the docstring's 15.42 * 2**22
    assert h["filter_accumulator"] < 57 and h["z_product"] < 59.6  # the docstring's figures
    # the C's accumulators start at 2**60 + 2**30: they stay non-negative and inside int64
    assert 2.0 ** h["filter_accumulator"] < 2.0**fp.ROUND_BIAS_BITS - 2**30


# ----------------------------------------------------------------------------- helpers
def _exact_round(x: Fraction) -> int:
    mag = math.floor(abs(x) + Fraction(1, 2))
    return mag if x >= 0 else -mag


def test_rounding_helpers_against_exact_arithmetic():
    rng = np.random.default_rng(1)
    a = np.concatenate(
        [
            rng.integers(-(2**40), 2**40, 3000),
            np.arange(-40, 41),
            [2**45 + 2**9, -(2**45 + 2**9), 3 * 2**9, -3 * 2**9],
        ]
    )
    for k in (1, 2, 10, 30, 40):
        got = fp.rshift_round(a, k)
        want = [_exact_round(Fraction(int(v), 2**k)) for v in a]
        assert got.tolist() == want
    d = np.concatenate([rng.integers(1, 2**20, len(a) - 10), [1, 2, 3, 360, 100, 7, 2, 4, 6, 8]])
    got = fp.div_round(a, d)
    assert got.tolist() == [_exact_round(Fraction(int(x), int(y))) for x, y in zip(a, d)]
    v = np.concatenate(
        [
            rng.integers(0, 2**62, 3000),
            np.arange(0, 200),
            [2**62, 2**62 - 1, (2**31 - 1) ** 2, (2**31 - 1) ** 2 + 2**31 - 1],
        ]
    )
    want = []
    for x in v.tolist():
        r = math.isqrt(x)
        want.append(r + 1 if 4 * x >= (2 * r + 1) ** 2 else r)
    assert fp.isqrt_round(v).tolist() == want
    m = np.arange(0, 65536)
    assert fp.ceil_log2(m).tolist() == [0 if x <= 1 else (x - 1).bit_length() for x in m.tolist()]


def test_round_shift_and_reciprocal_against_exact_arithmetic():
    rng = np.random.default_rng(2)
    a = np.concatenate(
        [
            rng.integers(-(2**57), 2**57, 3000),
            np.arange(-40, 41),
            [3 * 2**30, -3 * 2**30, 2**30, -(2**30)],
        ]
    )
    for k in (1, 2, 9, 24, 31, 41):
        got = fp.round_shift(a, k)
        want = [math.floor(Fraction(int(v), 2**k) + Fraction(1, 2)) for v in a]
        assert got.tolist() == want
    ks = rng.integers(10, 42, len(a))  # one shift per element, as per window in the z-score
    want = [math.floor(Fraction(int(v), 2 ** int(k)) + Fraction(1, 2)) for v, k in zip(a, ks)]
    assert fp.round_shift(a, ks).tolist() == want
    d = np.concatenate(
        [
            rng.integers(1, 2**32, 3000),
            np.arange(1, 300),
            [2**k for k in range(32)]
            + [2**k - 1 for k in range(2, 33)]
            + [2**k + 1 for k in range(1, 31)],
        ]
    )
    m, k = fp.reciprocal(d)
    assert np.all((m >= 2**29) & (m <= 2**30))
    for di, mi, ki in zip(d.tolist(), m.tolist(), k.tolist()):
        assert ki == fp.RECIP_BITS + di.bit_length()
        assert mi == _exact_round(Fraction(2**ki, di))
        assert abs(Fraction(mi, 2**ki) - Fraction(1, di)) <= Fraction(1, 2**30 * di)


def test_high_word_rounding_identity():
    """What the C relies on to round with 32-bit operations after one 64-bit product:
    floor((x + 2**(s-1)) / 2**s) = floor((floor(x / 2**32) + 2**(s-33)) / 2**(s-32)), s >= 33."""
    rng = np.random.default_rng(4)
    for x in [int(v) for v in rng.integers(-(2**60), 2**60, 2000)] + [2**32 - 1, -1, 0, 2**40]:
        for s in (33, 34, 41, 46, 52):
            want = math.floor(Fraction(x, 2**s) + Fraction(1, 2))
            assert (x // 2**32 + 2 ** (s - 33)) // 2 ** (s - 32) == want


def test_quantize_multiplier():
    """The multipliers of preprocess_params come from tinyecg.quantmath, within the shifts the
    C handles (1..MAX_SHIFT)."""
    for value in (1e-6, 1.9073486328125e-05, 0.1388888, 0.5, 1.0, 50.0, 12345.678):
        m, k = right_shift_multiplier(value, "x", fp.MAX_SHIFT)
        assert 2**30 <= m < 2**31 and 1 <= k <= fp.MAX_SHIFT
        assert abs(m / 2.0**k - value) <= value * 2.0**-31
    for bad in (2.0**40, 0.0, 2.0**-30, float("nan")):
        with pytest.raises(TinyECGError):
            right_shift_multiplier(bad, "x", fp.MAX_SHIFT)
    params = fp.preprocess_params(0.0235, 7, 0.0157, -100)
    assert (params["quant_mult"], params["quant_shift"]) == right_shift_multiplier(
        1.0 / (0.0235 * 2**20), "x", fp.MAX_SHIFT
    )
    sec = params["rhythm"]["seconds"]
    assert (sec["mult"], sec["shift"]) == right_shift_multiplier(
        1.0 / (360 * 0.0157), "x", fp.MAX_SHIFT
    )
    assert not hasattr(fp, "quantize_multiplier")  # one home: tinyecg.quantmath


# ----------------------------------------------------------------------------- accuracy
def test_fixed_point_matches_float_on_real_beats(real_windows):
    raw, base, gain = real_windows
    for scale, zp in ((0.05, -20), (0.0235, 7), (0.1, -128)):
        params = fp.preprocess_params(scale, zp)
        r = fp.compare_with_float(raw, base, gain, params)
        assert r["windows"] == len(raw) >= 1000
        assert r["snr_db"] >= 60.0, r
        assert r["max_abs_err"] < 1e-3, r
        assert r["int8_agreement"] >= 0.999, r
        assert r["int8_max_diff"] <= 1, r


def test_zscore_is_gain_and_baseline_consistent(real_windows):
    raw, base, gain = real_windows
    raw, base = raw[:200], base[:200]
    z = fp.zscore_windows_int(raw, base, 200)
    z_float = fp.zscore_windows_float(raw, base, 200)
    assert np.abs(z - z_float).max() < 1e-3
    # a huge gain puts every window on the std floor: z = (y - mean) / 0.01 mV
    z_floor = fp.zscore_windows_int(raw, base, 65535)
    want = fp.zscore_windows_float(raw, base, 65535)
    assert np.abs(z_floor - want).max() < 1e-3 * max(1.0, np.abs(want).max())


def test_extreme_windows_do_not_overflow():
    raw, base, gain = fp.stress_windows()
    # the reference raises AssertionError if any stored value leaves int32
    z = fp.zscore_windows_int(raw, base, gain)
    q = fp.preprocess_windows_int(raw, base, gain, fp.preprocess_params(0.05, -20))
    assert z.shape == raw.shape and q.dtype == np.int8
    assert np.all(np.abs(z) < 46.5)
    z_float = fp.zscore_windows_float(raw, base, gain)
    # centring on the midrange keeps ~22 bits for the signal whatever its DC offset, so even
    # a 1-count spike on a full-scale step or a 1-count signal with gain 1 is accurate
    assert np.abs(z - z_float).max() < 1e-4


def test_constant_window_is_zero_point():
    params = fp.preprocess_params(0.05, -20)
    q = fp.preprocess_windows_int(np.full(360, 1234, np.int16), 1024, 200, params)
    assert q.shape == (360,) and np.all(q == -20)


def test_fifty_thousand_windows_well_under_a_minute():
    rng = np.random.default_rng(3)
    raw = (rng.standard_normal((4096, 360)) * 150 + 1024).astype(np.int16)
    params = fp.preprocess_params(0.05, -20)
    t0 = time.perf_counter()
    fp.preprocess_windows_int(raw, 1024, 200, params)
    per_window = (time.perf_counter() - t0) / len(raw)
    assert per_window * 50_000 < 40.0  # measured about 5 s on 2 shared cores


# ----------------------------------------------------------------------------- rhythm
def _rhythm_exact(pre, post, lsum, count, scale):
    """The five features divided by the scale, as exact fractions (n, 5)."""
    out = []
    s = Fraction(scale)
    for p, q, su, c in zip(pre, post, lsum, count):
        if c == 0:
            su, c = p, 1
        local = Fraction(int(su), int(c))
        feats = (
            Fraction(int(p), 360),
            Fraction(int(q), 360),
            local / 360,
            Fraction(int(p)) / local,
            Fraction(int(q)) / local,
        )
        out.append([f / s for f in feats])
    return out


def _quantize_exact(values, zp):
    return np.array([[max(-128, min(127, _exact_round(v) + zp)) for v in row] for row in values])


def _tie_distance(values) -> np.ndarray:
    """|x - (k + 1/2)| for the nearest rounding tie, as float."""
    return np.array([[abs(float(v - math.floor(v)) - 0.5) for v in row] for row in values])


def test_rhythm_features_against_exact_rationals():
    """Exact except where the exact value sits (within the multiplier's 2**-31 relative
    error) on a rounding tie; 'nice' scales make exact ties common (1/64: every 45th RR)."""
    rng = np.random.default_rng(5)
    n = 3000
    pre = rng.integers(1, 2000, n)
    post = rng.integers(1, 2000, n)
    count = rng.integers(0, 9, n)
    lsum = count * rng.integers(1, 1000, n) + rng.integers(0, 8, n) * (count > 0)
    lsum = np.maximum(lsum, count)
    for scale, zp in ((0.02, -128), (0.0157, -100), (0.05, 0), (1 / 64, -128)):
        params = fp.preprocess_params(0.05, 0, scale, zp)
        got = fp.rhythm_features_int(pre, post, lsum, count, params).astype(np.int64)
        exact = _rhythm_exact(pre, post, lsum, count, scale)
        want = _quantize_exact(exact, zp)
        diff = got != want
        assert np.abs(got - want).max() <= 1
        assert np.all(_tie_distance(exact)[diff] <= 256 * 2.0**-30), scale
        assert np.mean(diff) < 0.05


def test_rhythm_features_on_real_rr(mitdb_dir):
    """Against the float32 features training sees, quantized in float64: equal except at
    rounding ties (scale 0.02 = 1/50 puts every 18th pre_rr exactly on a tie)."""
    from tinyecg.data.beats import rr_context
    from tinyecg.data.records import load_record
    from tinyecg.dsp.rhythm import rhythm_features

    rec = load_record(mitdb_dir, "208")
    beat = np.isin(rec.ann_symbols, list(BEAT_SYMBOLS))
    r = rec.ann_samples[beat]
    rr = rr_context(r)
    feats = rhythm_features(r)  # float32, as training sees them
    for scale, zp in ((0.02, -128), (0.0173, -90)):
        params = fp.preprocess_params(0.05, 0, scale, zp)
        got = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
        want = fp.quantize_float(feats, scale, zp)
        diff = got != want
        assert np.abs(got.astype(int) - want).max() <= 1
        exact = _rhythm_exact(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], scale)
        assert np.all(_tie_distance(exact)[diff] < 1e-4), scale
        if scale != 0.02:  # no exact ties: the integer result is the exact one
            assert np.array_equal(got, _quantize_exact(exact, zp))


def test_rhythm_saturates_without_overflow():
    big = 2**31 - 1
    params = fp.preprocess_params(0.05, 0, 0.02, -128)
    got = fp.rhythm_features_int([big, 1, big], [big, 1, 1], [big, big, 1], [big, 1, 1], params)
    exact = _rhythm_exact([big, 1, big], [big, 1, 1], [big, big, 1], [big, 1, 1], 0.02)
    assert got.tolist() == _quantize_exact(exact, -128).tolist()


# ----------------------------------------------------------------------------- user errors
def test_bad_inputs_raise_tinyecg_error():
    params = fp.preprocess_params(0.05, -20, 0.02, -128)
    ok = np.zeros((2, 360), np.int16)
    bad_calls = [
        lambda: fp.preprocess_params(0.0, 0),
        lambda: fp.preprocess_params(float("nan"), 0),
        lambda: fp.preprocess_params(0.05, 200),
        lambda: fp.preprocess_params(0.05, 0, 0.02, None),
        lambda: fp.preprocess_params(1e9, 0),
        lambda: fp.preprocess_windows_int(np.zeros((2, 359), np.int16), 0, 200, params),
        lambda: fp.preprocess_windows_int(ok.astype(np.float32) + 0.5, 0, 200, params),
        lambda: fp.preprocess_windows_int(ok.astype(np.int32) + 40000, 0, 200, params),
        lambda: fp.preprocess_windows_int(ok, 0, 0, params),
        lambda: fp.preprocess_windows_int(ok, 0, 70000, params),
        lambda: fp.preprocess_windows_int(ok, [0, 1, 2], 200, params),
        lambda: fp.preprocess_windows_int(ok, 0, 200, {}),
        lambda: fp.rhythm_features_int(0, 300, 300, 1, params),
        lambda: fp.rhythm_features_int(300, 300, 300, -1, params),
        lambda: fp.rhythm_features_int(300, 300, 3, 8, params),
        lambda: fp.rhythm_features_int(300, 300, 300, 1, fp.preprocess_params(0.05, 0)),
    ]
    for call in bad_calls:
        with pytest.raises(TinyECGError):
            call()
    assert issubclass(TinyECGError, ValueError)


def test_float_reference_is_denoise_module(real_windows):
    raw, base, gain = real_windows
    mv = (raw[:50].astype(np.float64) - base[:50, None]) / gain[:50, None]
    want = denoise.zscore(denoise.denoise(mv))
    assert np.array_equal(fp.zscore_windows_float(raw[:50], base[:50], gain[:50]), want)


def test_bench_script_measures_whole_records(excerpt_dir, tmp_path):
    """scripts/bench_preprocess.py (the source of docs/preprocessing.md's accuracy table) on a
    bundled excerpt: its JSON totals agree with compare_with_float on the same beats."""
    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import load_record

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_preprocess.py"
    out = tmp_path / "pp.json"
    proc = subprocess.run(
        [sys.executable, str(script), "--data", str(excerpt_dir), "--json", str(out), "100"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    rec = load_record(excerpt_dir, "100")
    beats = beats_from_record(rec, labels="aami")
    gain = int(round(float(rec.gain)))
    want = fp.compare_with_float(beats.raw, rec.baseline, gain, fp.preprocess_params(0.05, -20))
    assert result["windows"] == want["windows"] == len(beats) > 100
    assert result["snr_db"] == pytest.approx(want["snr_db"], abs=1e-9) and want["snr_db"] > 100
    assert result["int8_agreement"] == pytest.approx(want["int8_agreement"], abs=1e-12)
    assert result["int8_max_diff"] == want["int8_max_diff"] <= 1
    assert result["max_abs_err"] == pytest.approx(want["max_abs_err"], rel=1e-12)
    assert set(result["records"]) == {"100"}
    assert any(line.split()[:1] == ["all"] for line in proc.stdout.splitlines())
