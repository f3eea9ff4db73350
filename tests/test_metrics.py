"""EC57 beat matching and QRS detection scores (tinyecg.metrics): the one matching every
scorer uses, checked on hand-worked cases and against wfdb's own counts."""

from __future__ import annotations

import numpy as np

from tinyecg import metrics


def test_match_beats_hand_worked():
    # 54 samples = 150 ms: 110 matches 100, 560 is 60 away from 500, 905 matches 900
    assert metrics.match_beats([100, 500, 900], [110, 560, 905, 2000]).tolist() == [0, -1, 2]
    assert metrics.match_beats([100], []).tolist() == [-1]
    assert metrics.match_beats([], [5]).tolist() == []
    # a narrower window drops the 10-sample match
    assert metrics.match_beats([100, 900], [110, 905], window=8).tolist() == [-1, 1]


def test_scores_count_matches_as_wfdb_does(excerpt_dir):
    """tp/fp/fn from match_beats equal wfdb.processing.compare_annotations' own counts, on a
    real record's annotations against a perturbed copy (missed, moved and extra beats)."""
    import wfdb
    from wfdb.processing import compare_annotations

    ann = wfdb.rdann(str(excerpt_dir / "208"), "atr")
    ref = np.asarray([s for s, sym in zip(ann.sample, ann.symbol) if sym in "NV"], np.int64)
    rng = np.random.default_rng(0)
    kept = ref[rng.random(len(ref)) > 0.05]  # about 5 % missed
    moved = kept + rng.integers(-70, 71, len(kept))  # some beyond the 54-sample window
    test = np.unique(np.concatenate([moved, rng.integers(0, int(ref.max()), 40)]))
    cmp = compare_annotations(ref, test, 54)
    s = metrics.score_detections(ref, test)
    assert (s["tp"], s["fp"], s["fn"]) == (cmp.tp, cmp.fp, cmp.fn)
    assert 0 < s["fn"] and 0 < s["fp"] and s["se"] == s["tp"] / (s["tp"] + s["fn"])
    # excluded intervals drop reference beats and detections alike
    a, b = int(ref[10]), int(ref[40])
    e = metrics.score_detections(ref, test, exclude=[(a, b)])
    inside_ref = int(((ref >= a) & (ref <= b)).sum())
    inside_test = int(((test >= a) & (test <= b)).sum())
    assert e["tp"] + e["fn"] == len(ref) - inside_ref
    assert e["tp"] + e["fp"] == len(test) - inside_test
    total = metrics.add_scores([s, e])
    assert total["tp"] == s["tp"] + e["tp"] and total["fn"] == s["fn"] + e["fn"]
    assert metrics.score_detections([], [3])["ppv"] == 0.0
    assert metrics.score_detections([], [])["se"] is None
