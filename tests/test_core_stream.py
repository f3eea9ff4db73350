"""tinyecg.stream.stream_record against the host harness serving the protocol on a local TCP
socket (127.0.0.1), plus the user-facing errors of stream and detect."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyecg import detect, stream
from tinyecg.errors import TinyECGError

ROOT = Path(__file__).resolve().parents[1]
EXCERPTS = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"


def _record(name: str) -> Path:
    for cand in (os.environ.get("TINYECG_DATA"), ROOT.parent / "shared" / "data" / "mitdb",
                 EXCERPTS):
        if cand and (Path(cand) / f"{name}.hea").is_file():
            return Path(cand) / name
    pytest.skip(f"MIT-BIH record {name} not found (../shared/data/mitdb or $TINYECG_DATA)")


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return detect.build_host_harness(tmp_path_factory.mktemp("host"))


@pytest.fixture
def device(exe):
    """The host harness listening on 127.0.0.1 (port chosen by the OS)."""
    proc = subprocess.Popen([str(exe), "--tcp", "0", "--adc-min", "0", "--adc-max", "2047"],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("listening "), line
        yield f"socket://127.0.0.1:{int(line.split()[1])}"
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_stream_scores_device_beats(device):
    path = _record("208")
    res = stream.stream_record(device, str(path), speed=0, seconds=120)
    ref = detect.reference_beats(path, sampto=120 * 360)
    q = res["qrs"]
    assert res["samples"] == 120 * 360
    assert q["tp"] + q["fn"] == len(ref)
    assert q["se"] >= 0.98 and q["ppv"] >= 0.99, q
    assert any(s.startswith("# tinyecg ") and "baseline-rules" in s for s in res["status"])
    assert any(s.startswith("# stats samples=43200 ") for s in res["status"])
    cls = res["classes"]
    assert cls["labels"][:5] == ["N", "S", "V", "F", "Q"]
    cm = np.asarray(cls["confusion"])
    assert cm.sum() == q["tp"]  # every matched beat of 208 has an AAMI symbol
    # the rule baseline separates 208's many V beats from N (wide vs narrow QRS)
    n, v = cls["labels"].index("N"), cls["labels"].index("V")
    assert cm[v].sum() > 50 and cm[v, v] / cm[v].sum() > 0.8
    assert cm[n, n] / cm[n].sum() > 0.8
    assert res["inference_us"]["max"] is not None


def test_stream_paced_and_label_mapping(device):
    """Real-time x 30 pacing takes the time it should; a custom symbol map is honoured."""
    path = _record("100")
    res = stream.stream_record(device, str(path), speed=30, seconds=30,
                               labels={"N": "N", "A": "S"})
    assert 0.9 <= res["seconds"] <= 5.0
    assert res["qrs"]["se"] >= 0.97 and res["qrs"]["ppv"] >= 0.99
    assert np.asarray(res["classes"]["confusion"]).sum() <= res["qrs"]["tp"]


def test_stream_errors(tmp_path):
    path = _record("100")
    with pytest.raises(TinyECGError, match="no port"):
        stream.stream_record("", str(path))
    with pytest.raises(TinyECGError, match="no WFDB record"):
        stream.stream_record("loop://", str(tmp_path / "nothere"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TinyECGError, match="cannot open"):
        stream.stream_record(f"socket://127.0.0.1:{port}", str(path), speed=0, seconds=2)
    with pytest.raises(TinyECGError, match="cannot open"):
        stream.stream_record(str(tmp_path / "ttyNONE"), str(path), speed=0, seconds=2)
    with pytest.raises(TinyECGError, match="speed"):
        stream.stream_record("loop://", str(path), speed=-1)
    # loop:// echoes our own samples back: not a device, so no stats line comes
    with pytest.raises(TinyECGError, match="no '# stats' reply"):
        stream.stream_record("loop://", str(path), speed=0, seconds=1, reply_timeout=0.5)


def test_detect_errors(tmp_path):
    with pytest.raises(TinyECGError, match="no WFDB record"):
        detect.detect_record(tmp_path / "missing")
    with pytest.raises(TinyECGError, match="no channel"):
        detect.detect_record(_record("100"), channel=5)
    with pytest.raises(TinyECGError, match="one channel"):
        detect.samples_text(np.zeros((3, 2)))


def test_detect_cli_scores_flutter_records_both_ways(mitdb_dir, tmp_path, monkeypatch):
    """On 207 (ventricular flutter episodes) `tinyecg detect` prints the plain score and the
    EC57 one without the episodes; the latter has fewer false positives and the same beats
    outside them. Record 100 has no episode, so only the plain line."""
    from click.testing import CliRunner

    from tinyecg.cli import cli

    monkeypatch.chdir(tmp_path)  # the harness build cache goes here
    res = CliRunner().invoke(cli, ["detect", str(mitdb_dir / "207")])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if "TP " in ln]
    assert len(lines) == 2 and "flutter" in lines[1], res.output

    def counts(line):
        words = line.split()
        return {k: int(words[words.index(k) + 1]) for k in ("TP", "FP", "FN")}

    plain, ec57 = counts(lines[0]), counts(lines[1])
    intervals = detect.flutter_intervals(mitdb_dir / "207")
    ref = detect.reference_beats(mitdb_dir / "207")
    inside = sum(int(((ref >= a) & (ref <= b)).sum()) for a, b in intervals)
    assert ec57["FP"] < plain["FP"]
    assert ec57["TP"] + ec57["FN"] == plain["TP"] + plain["FN"] - inside
    res = CliRunner().invoke(cli, ["detect", str(mitdb_dir / "100")])
    assert res.exit_code == 0 and "flutter" not in res.output, res.output
