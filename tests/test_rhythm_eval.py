"""Scoring of the shockable-rhythm task (tinyecg.aed_metrics), the TCSC baseline
(tinyecg.dsp.vf_detectors) and `tinyecg evaluate --task rhythm` end to end on real cudb /
mitdb records, with its one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyecg import aed_metrics as am
from tinyecg.data import rhythm as rh
from tinyecg.dsp import vf_detectors as vfd
from tinyecg.spec import RHYTHM_FS, RHYTHM_WINDOW

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def synthetic_record(codes_by_second, vt_rate=np.nan):
    """A RhythmRecord whose rhythm is given per second (stream and classes unused)."""
    codes = np.repeat(np.asarray(codes_by_second, np.int8), RHYTHM_FS)
    ends = rh.window_ends(len(codes))
    rate = np.where(codes == rh.VT, vt_rate, np.nan).astype(np.float32)
    cls = np.zeros(len(ends), np.int8)
    return rh.RhythmRecord(
        "r",
        "db",
        200.0,
        np.zeros(len(codes), np.int16),
        codes,
        rate,
        ends,
        cls,
        cls,
        np.zeros(len(ends), np.float32),
    )


def test_alarm_needs_n_consecutive_decisions():
    shock = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1], bool)
    np.testing.assert_array_equal(am.alarm_active(shock, 3), [0, 0, 0, 0, 0, 1, 1, 0, 0])


def test_alarm_latency_from_onset_and_false_alarms():
    # 60 s NSR, 30 s VF from t = 60 s, 60 s NSR
    rec = synthetic_record([rh.NSR] * 60 + [rh.VF] * 30 + [rh.NSR] * 60)
    t = rec.seconds
    shock = (t >= 64) & (t < 95)  # the detector follows VF from 4 s after onset
    shock |= (t >= 120) & (t < 124)  # and fires 4 s in NSR: a false alarm
    res = am.record_alarms(rec, shock, 3)
    assert res["episodes"] == [
        {
            "onset_s": 60.0,
            "duration_s": 30.0,
            "kind": "VF",
            "latency_s": 6.0,
            "alarm_on_at_onset": False,
        }
    ]  # 64, 65, 66 s
    early = am.record_alarms(rec, (t >= 50) & (t < 95), 3)  # set off 10 s before onset
    assert early["episodes"][0]["latency_s"] == 0.0 and early["episodes"][0]["alarm_on_at_onset"]
    assert res["false_alarms_s"] == [122.0]
    miss = am.record_alarms(rec, np.zeros(len(t), bool), 3)
    assert miss["episodes"][0]["latency_s"] is None
    summary = am.alarm_summary({"a": res, "b": miss})
    assert summary["alarmed_within_10s_pct"]["VF"] == 50.0 and summary["missed"] == 1
    assert summary["false_alarms_per_record"] == {"a": 1}
    assert summary["median_latency_new_alarm_s"] == 6.0 and summary["alarm_on_at_onset"] == 0


def test_slow_vt_is_not_shockable_truth():
    rec = synthetic_record([rh.NSR] * 20 + [rh.VT] * 30 + [rh.NSR] * 20, vt_rate=120)
    assert not rec.shockable_truth.any()
    fast = synthetic_record([rh.NSR] * 20 + [rh.VT] * 30 + [rh.NSR] * 20, vt_rate=180)
    assert fast.shockable_truth.sum() == 30 * RHYTHM_FS
    res = am.record_alarms(rec, np.ones(len(rec.ends), bool), 3)
    assert res["alarms_in_slow_vt"] == 0 and res["false_alarms_s"] == [12.0]


def test_class_table_se_sp_and_goals():
    sc = np.array([rh.WC["VF_coarse"]] * 10 + [rh.WC["NSR"]] * 100 + [rh.WC["MIXED"]] * 5)
    shock = np.zeros(len(sc), bool)
    shock[:9] = True  # 9 of 10 VF
    shock[10] = True  # 1 of 100 NSR
    t = am.class_table(sc, shock)
    assert t["VF_coarse"]["value"] == 90.0 and t["VF_coarse"]["aha_met"] is False  # > 90
    assert t["NSR"]["value"] == 99.0 and t["NSR"]["issue_met"] is False
    assert t["shockable"]["n"] == 10 and t["ASYS"]["value"] is None


def test_tcsc_separates_vf_like_from_beats():
    t = np.arange(RHYTHM_WINDOW) / RHYTHM_FS
    vf = 500 * np.sin(2 * np.pi * 4.5 * t)
    beats = np.zeros(RHYTHM_WINDOW)
    beats[::RHYTHM_FS] = 1000  # narrow QRS once a second
    values = vfd.tcsc(np.stack([vf, beats]))
    assert values[0] > vfd.TCSC_LITERATURE > values[1]
    v = np.array([10, 20, 30, 60, 70, 80.0])
    y = np.array([0, 0, 0, 1, 1, 1], bool)
    thr = vfd.fit_threshold(v, np.ones(6, bool), y)
    assert 30 <= thr < 60


def tinyecg(*args):
    return subprocess.run(
        [sys.executable, "-m", "tinyecg", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def one_line_error(proc, fragment):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and fragment in lines[-1], proc.stderr


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """cudb cu01 (VF) and mitdb 207 (flutter), plus a RECORDS line for a withheld record."""
    if not (SHARED / "cudb" / "cu01.hea").is_file() or not (SHARED / "mitdb" / "207.hea").is_file():
        pytest.skip("needs ../shared/data/{cudb,mitdb} (the issue-15 databases)")
    d = tmp_path_factory.mktemp("rhythm_records")
    for db, name in (("cudb", "cu01"), ("mitdb", "207")):
        for ext in ("hea", "dat", "atr"):
            (d / f"{name}.{ext}").symlink_to(SHARED / db / f"{name}.{ext}")
    (d / "RECORDS").write_text("cu01\n207\ncu05\n")
    return d


def test_evaluate_rhythm_cli_writes_the_report(folder, tmp_path):
    out = tmp_path / "report"
    proc = tinyecg("evaluate", "--task", "rhythm", "--records", folder, "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "skipped cu05" in proc.stdout and "coarse VF/VFL" in proc.stdout
    rep = json.loads((out / "rhythm_report.json").read_text())
    assert rep["n_records"] == 2 and "cu05" in rep["skipped"]
    ((name, res),) = rep["detectors"].items()
    assert name.startswith("TCSC")
    vf = res["classes"]["VF_coarse"]
    assert vf["n"] == 286 + 101 and vf["value"] > 90  # cu01's and 207's flutter windows
    alarm = res["alarm"]
    assert alarm["episodes"]["VF"] >= 3 and alarm["alarmed_within_10s_pct"]["VF"] is not None
    md = (out / "rhythm_report.md").read_text()
    assert "| coarse VF/VFL (>= 200 uV) | Se | 387 |" in md and "> 90" in md


def test_evaluate_rhythm_one_line_errors(folder, tmp_path):
    one_line_error(tinyecg("evaluate", "--task", "rhythm"), "--records")
    one_line_error(
        tinyecg("evaluate", "--task", "rhythm", "--records", tmp_path / "none"), "not found"
    )
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    one_line_error(
        tinyecg(
            "evaluate",
            "--task",
            "rhythm",
            "--records",
            folder,
            "--model",
            bad,
            "--out",
            tmp_path / "o",
        ),
        "bad.tflite",
    )
    assert not (tmp_path / "o").exists()  # nothing half-written
    one_line_error(tinyecg("evaluate"), "RUN_DIR")


def test_committed_bench_is_consistent_and_quoted():
    """docs/bench/rhythm.json (scripts/bench_rhythm.py --learned): every record in one
    fold, every detector scored on the same windows, goals applied right, the int8 model
    within the issue's 16 KB, and docs/rhythm.md quoting its figures."""
    d = json.loads((ROOT / "docs" / "bench" / "rhythm.json").read_text())
    assert d["databases"] == {"vfdb": 17, "cudb": 30, "mitdb": 44}
    assert len(d["folds"]) == d["records"] == 91 and set(d["folds"].values()) == set(range(5))
    windows = {
        name: {row: c["n"] for row, c in det["classes"].items()}
        for name, det in d["detectors"].items()
    }
    assert len({tuple(sorted(w.items())) for w in windows.values()}) == 1
    for det in d["detectors"].values():
        for c in det["classes"].values():
            if c["value"] is not None and c["aha_goal"] is not None:
                assert c["aha_met"] == (c["value"] > c["aha_goal"])
    for info in d["learned"].values():
        assert info["int8_bytes"] <= 16 * 1024 and info["student_macs"] == 114688
    docs = (ROOT / "docs" / "rhythm.md").read_text()
    int8 = d["detectors"]["student int8 (TFLM) + gate, CV"]["classes"]
    for row in ("VF_coarse", "VT_rapid", "shockable", "NSR", "OTHER", "ASYS"):
        assert f"{int8[row]['value']:.1f}" in docs, row


def test_operating_points_start_from_the_committed_cv_and_are_quoted():
    """docs/bench/rhythm_operating_points.json (scripts/bench_rhythm_operating_points.py on
    the fold models of the CV bench): its argmax row at the device's run length is the CV
    bench's int8 column, the threshold trades Se against NSR Sp monotonically, and
    docs/rhythm.md quotes the best Se it reaches."""
    d = json.loads((ROOT / "docs" / "bench" / "rhythm_operating_points.json").read_text())
    cv = json.loads((ROOT / "docs" / "bench" / "rhythm.json").read_text())
    int8 = cv["detectors"]["student int8 (TFLM) + gate, CV"]
    points = d["operating_points"]
    device = points[f"argmax, run {am.ALARM_CONSECUTIVE}"]
    assert device["shockable_se"] == pytest.approx(int8["classes"]["shockable"]["value"])
    assert device["nsr_sp"] == pytest.approx(int8["classes"]["NSR"]["value"])
    assert device["false_alarms"] == int8["alarm"]["false_alarms"]
    rows = [points[f"p >= {t:g}, run 3"] for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)]
    se = [r["shockable_se"] for r in rows]
    sp = [r["nsr_sp"] for r in rows]
    assert se == sorted(se, reverse=True) and sp == sorted(sp)
    docs = (ROOT / "docs" / "rhythm.md").read_text()
    assert f"{rows[0]['shockable_se']:.1f}" in docs and f"{rows[0]['nsr_sp']:.1f}" in docs


def test_operating_points_without_fold_models_is_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_rhythm_operating_points.py"),
            "--models",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "out.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and not (tmp_path / "out.json").exists()
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("error: ") and "fold0_student_int8.tflite" in err[-1]
    assert "Traceback" not in proc.stderr
