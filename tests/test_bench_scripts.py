"""scripts/bench_detector.py (the source of docs/bench/detector.json) run end to end on three
records of the full MIT-BIH database, its JSON checked for internal consistency and against an
independent scoring of the same records through tinyecg.device.detect's public functions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "bench_detector.py"
# 100: plain sinus rhythm; 114: MLII is channel 1 (the others have it on 0);
# 207: ventricular flutter episodes, so the EC57 total differs from the plain one.
RECORDS = ("100", "114", "207")
SCORE_KEYS = ("tp", "fp", "fn", "se", "ppv")


@pytest.fixture(scope="module")
def bench_json(mitdb_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_detector") / "nested" / "detector.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--data",
            str(mitdb_dir),
            "--out",
            str(out),
            "--records",
            *RECORDS,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text()), proc.stdout


def _check_ratios(s: dict, where: str) -> None:
    for key in SCORE_KEYS:
        assert key in s, f"{where}: no {key!r}"
    for key in ("tp", "fp", "fn"):
        assert isinstance(s[key], int) and s[key] >= 0, (where, key, s[key])
    assert s["tp"] + s["fn"] > 0 and s["tp"] + s["fp"] > 0, where
    assert s["se"] == pytest.approx(s["tp"] / (s["tp"] + s["fn"]), rel=1e-12), where
    assert s["ppv"] == pytest.approx(s["tp"] / (s["tp"] + s["fp"]), rel=1e-12), where


def test_json_has_totals_and_one_entry_per_record(bench_json):
    result, stdout = bench_json
    assert set(result["per_record"]) == set(RECORDS)
    assert result["records"] == len(RECORDS)
    assert result["window_ms"] == 150
    _check_ratios(result["total"], "total")
    _check_ratios(result["total_ec57"], "total_ec57")
    for rec, s in result["per_record"].items():
        _check_ratios(s, rec)
        # every annotated beat is either matched or missed
        assert s["tp"] + s["fn"] == s["beats"], rec
        # the printed table has a row per record with the JSON's counts
        row = next(line.split() for line in stdout.splitlines() if line.split()[:1] == [rec])
        assert [int(v) for v in row[2:6]] == [s["beats"], s["tp"], s["fp"], s["fn"]], row


def test_total_is_the_sum_of_the_records(bench_json):
    result, _ = bench_json
    per = result["per_record"].values()
    for key in ("tp", "fp", "fn"):
        assert result["total"][key] == sum(s[key] for s in per), key
    # EC57 leaves out flutter episodes (record 207): the same beats found, fewer false ones
    assert result["total_ec57"]["fp"] < result["total"]["fp"]
    assert result["total_ec57"]["tp"] + result["total_ec57"]["fn"] <= (
        result["total"]["tp"] + result["total"]["fn"]
    )


def test_records_match_an_independent_scoring(bench_json, mitdb_dir, tmp_path):
    import wfdb

    from tinyecg.device import detect

    result, _ = bench_json
    exe = detect.build_host_harness(tmp_path / "host")
    ec57 = {"tp": 0, "fp": 0, "fn": 0}
    for rec in RECORDS:
        base = mitdb_dir / rec
        det = detect.detect_record(base, exe=exe)
        ref = detect.reference_beats(base)
        want = detect.score_detections(ref, det)
        got = result["per_record"][rec]
        assert {k: got[k] for k in SCORE_KEYS} == pytest.approx(want), rec
        assert got["beats"] == len(ref), rec
        assert got["channel"] == wfdb.rdheader(str(base)).sig_name.index("MLII"), rec
        assert got["se"] > 0.95, (rec, got)  # the detector really ran on the record
        flutter = detect.score_detections(ref, det, exclude=detect.flutter_intervals(base))
        for key in ec57:
            ec57[key] += flutter[key]
    assert {k: result["total_ec57"][k] for k in ec57} == ec57
