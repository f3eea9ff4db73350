"""The patient context reference (tinyecg.dsp.patient) on hand-worked sequences."""

import numpy as np

from tinyecg.dsp import patient


def test_longterm_state_warms_up_as_a_running_mean_then_decays():
    pre = np.array([300, 300, 360, 240, 300])
    has_pre = np.array([False, True, True, True, True])
    a16, d16 = patient.longterm_state(pre, has_pre)
    # beat 0 has no update yet: its own pre; beat 1 sees nothing yet either
    assert a16.tolist()[:2] == [300 * 16, 300 * 16]
    # after beat 1: A = 4800; after beat 2 (count 2, shift 1): 4800 + (5760 - 4800) / 2
    assert a16[2] == 4800 and a16[3] == 5280
    # count 3 -> shift 1: 5280 + ((3840 - 5280) >> 1) = 4560
    assert a16[4] == 4560
    # D: first pair with two real pres is beats 1, 2: |360 - 300| = 60 -> 960
    assert d16.tolist() == [0, 0, 0, 960, 960 + ((120 * 16 - 960) >> 1)]


def test_a_break_keeps_the_state_and_skips_the_irregularity_pair():
    pre = np.array([300, 300, 600, 600])
    has_pre = np.array([False, True, False, True])  # beat 2 starts a new sequence
    a16, d16 = patient.longterm_state(pre, has_pre)
    assert a16[2] == a16[3] == 4800  # beat 2 is not an interval: no update
    assert d16.tolist() == [0, 0, 0, 0]  # |600 - 300| spans the break: never used


def test_features_are_the_clipped_fractions():
    pre, post = np.array([360, 180]), np.array([180, 2000])
    lsum, lcount = np.array([360, 540]), np.array([1, 2])
    f = patient.longterm_features(pre, post, lsum, lcount, np.array([False, True]))
    # beat 0 is no interval, so beat 1 still sees its own pre as A (before its update)
    assert np.allclose(f[1], [1.0, 4.0, 270 / 180, 180 / 270, 4.0, 0.5, 0.0, 0.5])
    assert np.allclose(f[0], [1.0, 0.5, 1.0, 1.0, 0.5, 1.0, 0.0, 1.0])


def test_template_skips_premature_beats_and_rounds_q8():
    q = np.array([[10, -10], [20, 0], [-100, 100], [30, 30]])
    pre = np.array([360, 360, 200, 360])  # beat 2 is premature (200 < 0.85 * 360)
    a16 = np.full(4, 360 * 16)
    t = patient.template_inputs_int(q, pre, a16)
    # beat 0 sees itself; beat 1 the first window; beat 2 the mean of 0 and 1 (shift 1)
    assert t.tolist()[:3] == [[10, -10], [10, -10], [15, -5]]
    # beat 2 did not update: beat 3 sees the same template
    assert t[3].tolist() == [15, -5]
    tf = patient.template_inputs_float(q.astype(float), pre, a16)
    assert np.allclose(tf, t)
