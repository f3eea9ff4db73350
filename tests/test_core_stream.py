"""tinyecg.device.stream.stream_record against the host harness serving the protocol on a local TCP
socket (127.0.0.1), plus the user-facing errors of stream and detect.

The label-set and lost-connection tests talk to FakeDevice: a small independent speaker of
the firmware's line protocol (tinyecg_app.h) whose info line and beat labels the test
chooses, served on a TCP socket or on a pseudo-terminal (a real serial port to pyserial)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import tty
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import run_main, tcp_device

from tinyecg.device import detect, stream
from tinyecg.errors import TinyECGError

ROOT = Path(__file__).resolve().parents[1]
EXCERPTS = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"


def _record(name: str) -> Path:
    for cand in (
        os.environ.get("TINYECG_DATA"),
        ROOT.parent / "shared" / "data" / "mitdb",
        EXCERPTS,
    ):
        if cand and (Path(cand) / f"{name}.hea").is_file():
            return Path(cand) / name
    pytest.skip(f"MIT-BIH record {name} not found (../shared/data/mitdb or $TINYECG_DATA)")


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return detect.build_host_harness(tmp_path_factory.mktemp("host"))


@pytest.fixture
def device(exe):
    """The host harness listening on 127.0.0.1 (port chosen by the OS)."""
    with tcp_device(exe) as url:
        yield url


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
    res = stream.stream_record(device, str(path), speed=30, seconds=30, labels={"N": "N", "A": "S"})
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
    with pytest.raises(TinyECGError, match="no lead 5 "):
        detect.detect_record(_record("100"), lead=5)
    with pytest.raises(TinyECGError, match="one channel"):
        detect.samples_text(np.zeros((3, 2)))


def test_detect_cli_scores_flutter_records_both_ways(mitdb_dir, tmp_path, monkeypatch):
    """On 207 (ventricular flutter episodes) `tinyecg detect` prints the plain score and the
    EC57 one without the episodes; the latter has fewer false positives and the same beats
    outside them. Record 100 has no episode, so only the plain line."""
    from click.testing import CliRunner

    from tinyecg.app.cli import cli

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


# ---- a fake device: the protocol lines, with labels and a failure the test chooses ----

NLRAV_INFO = "# tinyecg 0.1 fs=360 window=360 classifier=fake labels=N,L,R,A,V adc=0..2047"
AAMI_CLASS = {
    **{c: "N" for c in "NLRej"},
    **{c: "S" for c in "AaJS"},
    "V": "V",
    "E": "V",
    "F": "F",
    **{c: "Q" for c in "/fQ"},
}  # written out here, not imported


class FakeDevice:
    """Counts sample lines after #reset, answers #info with `info` (also sent on connect),
    reports `B <r> <label> 127 9` once 100 samples have arrived past each (r, label) of
    `beats`, the rest and `# end` at #end, and `# stats samples=<n> beats=<m>` at #stats.
    die_after: once that many samples arrived it reports the beats due, waits 0.3 s (the
    client reads them) and closes its end: the socket peer dies, or the serial port hangs
    up; died_at is then the sample count it had reached. Serves one client on a socket
    (`url` is socket://...) or on a pseudo-terminal (`url` is its path)."""

    def __init__(self, info, beats, die_after=None, transport="socket"):
        self.info, self.beats, self.die_after = info, sorted(beats), die_after
        if transport == "socket":
            self._srv = socket.create_server(("127.0.0.1", 0))
            self.url = f"socket://127.0.0.1:{self._srv.getsockname()[1]}"
        else:
            # our slave end stays open until the client's first bytes: reading a master
            # with no slave open fails (EIO), which would end the fake before it starts
            self._master, self._slave = os.openpty()
            tty.setraw(self._slave)  # no echo of our own info line: a board does not echo
            self.url = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, args=(transport,), daemon=True)
        self._thread.start()

    def _serve(self, transport):
        if transport == "socket":
            conn, _ = self._srv.accept()
            self._srv.close()
            recv, send, close = conn.recv, conn.sendall, conn.close
        else:
            fd = self._master

            def recv(size):
                data = os.read(fd, size)
                if self._slave is not None:
                    os.close(self._slave)
                    self._slave = None
                return data

            send = lambda b: os.write(fd, b)  # noqa: E731
            close = lambda: os.close(fd)  # noqa: E731
        n, nxt, sent_beats, ended, buf = 0, 0, 0, False, b""
        try:
            if self.info:
                send((self.info + "\n").encode())
            while True:
                try:
                    data = recv(4096)
                except OSError:  # pty: the client closed the port
                    return
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                out = []
                for raw in lines:
                    line, reply = raw.decode().strip(), None
                    if line == "#reset":
                        n, nxt, ended, reply = 0, 0, False, "# reset"
                    elif line == "#info":
                        reply = self.info
                    elif line == "#end":
                        ended, reply = True, "# end"
                    elif line == "#stats":
                        reply = f"# stats samples={n} beats={sent_beats}"
                    elif line and not line.startswith("#"):
                        n += len(line.replace(",", " ").split())
                    while nxt < len(self.beats) and (ended or self.beats[nxt][0] + 100 <= n):
                        r, lab = self.beats[nxt]
                        out.append(f"B {r} {lab} 127 9")
                        nxt += 1
                        sent_beats += 1
                    if reply:
                        out.append(reply)
                if out:
                    send(("\n".join(out) + "\n").encode())
                if self.die_after is not None and n >= self.die_after:
                    self.died_at = n
                    time.sleep(0.3)
                    return
        finally:
            close()


def _annotated_beats(path, seconds):
    import wfdb

    ann = wfdb.rdann(str(path), "atr", sampto=int(seconds * 360))
    return [(int(r), s) for r, s in zip(ann.sample, ann.symbol) if s in detect.BEAT_SYMBOLS]


def test_parse_info_line():
    info = stream.parse_info(
        "# tinyecg 0.2 fs=360 window=360 classifier=student-cnn labels=N,L,R,A,V adc=-1024..1023"
    )
    assert info == {
        "version": "0.2",
        "fs": "360",
        "window": "360",
        "classifier": "student-cnn",
        "labels": ["N", "L", "R", "A", "V"],
        "adc": "-1024..1023",
    }
    assert "labels" not in stream.parse_info(
        "# tinyecg 0.1 fs=360 window=360 classifier=none adc=0..2047"
    )
    assert stream.parse_info("# stats samples=3") is None
    # the last info line counts; a status list without one names no labels
    status = ["# tinyecg 0.1 labels=N,S,V", "# reset", "# tinyecg 0.1 labels=N,L,R,A,V"]
    assert stream.device_labels(status) == ["N", "L", "R", "A", "V"]
    assert stream.device_labels(["# reset", "# stats samples=1"]) is None
    assert stream.device_labels(["# tinyecg 0.1 classifier=none adc=0..2047"]) is None


def test_auto_labels_follow_the_device_info_nlrav():
    """A device whose model reports N,L,R,A,V: auto scores with the nlrav map, so a device
    that reports every beat's own symbol is 100 % right; the old default (aami) would have
    scored its L beats as wrong, and an explicit --labels aami still does."""
    path = _record("214")  # L and V beats
    beats = _annotated_beats(path, 30)
    fake_label = {s: (s if s in "NLRAV" else "N") for _, s in beats}
    dev = [(r, fake_label[s]) for r, s in beats]
    res = stream.stream_record(FakeDevice(NLRAV_INFO, dev).url, str(path), speed=0, seconds=30)
    used = res["labels"]
    assert (used["set"], used["source"], used["warning"]) == ("nlrav", "device", None)
    assert used["device_labels"] == ["N", "L", "R", "A", "V"]
    assert res["qrs"]["tp"] == len(beats) and res["qrs"]["fp"] == 0
    cls = res["classes"]
    assert cls["labels"] == ["N", "L", "R", "A", "V"]
    counts = Counter(s for _, s in beats)
    cm = np.asarray(cls["confusion"])
    assert counts["L"] > 20 and counts["V"] > 0
    for lab in "NLRAV":  # diagonal, one row per symbol
        assert (
            cm[cls["labels"].index(lab)].sum() == cm[cls["labels"].index(lab)].max() == counts[lab]
        )
    assert cls["accuracy"] == 1.0

    res = stream.stream_record(
        FakeDevice(NLRAV_INFO, dev).url, str(path), speed=0, seconds=30, labels="aami"
    )
    used = res["labels"]
    assert (used["set"], used["source"]) == ("aami", "option")
    assert "N,L,R,A,V" in used["warning"]
    right = sum(1 for _, s in beats if s in AAMI_CLASS and AAMI_CLASS[s] == fake_label[s])
    n = sum(1 for _, s in beats if s in AAMI_CLASS)
    assert res["classes"]["accuracy"] == pytest.approx(right / n) and right < n


@pytest.mark.parametrize(
    "info, source",
    [
        ("# tinyecg 0.2 fs=360 window=360 classifier=x labels=N,S,V,F,Q adc=0..2047", "device"),
        ("# tinyecg 0.1 fs=360 window=360 classifier=x adc=0..2047", "default"),  # older firmware
        ("# tinyecg 0.2 fs=360 window=360 classifier=none adc=0..2047", "default"),
        (None, "default"),  # says nothing at all
    ],
    ids=["labels-aami", "older-firmware", "no-classifier", "no-info-line"],
)
def test_auto_labels_aami_from_info_or_by_default(info, source):
    path = _record("208")  # N, V and F beats
    beats = _annotated_beats(path, 20)
    res = stream.stream_record(
        FakeDevice(info, [(r, AAMI_CLASS[s]) for r, s in beats]).url, str(path), speed=0, seconds=20
    )
    used = res["labels"]
    assert (used["set"], used["source"], used["warning"]) == ("aami", source, None)
    assert res["classes"]["labels"] == ["N", "S", "V", "F", "Q"]
    assert res["classes"]["accuracy"] == 1.0
    assert res["classes"]["n"] == len(beats)


def test_auto_labels_other_device_lists():
    """Any other label list: the device's own labels when every annotation of the excerpt
    maps to one of them (as AAMI classes, or as annotation symbols), else aami + warning."""
    nsv = "# tinyecg 0.2 fs=360 window=360 classifier=rules labels=N,S,V adc=0..2047"
    path = _record("100")  # 73 N and one A in the first minute
    beats = _annotated_beats(path, 60)
    res = stream.stream_record(
        FakeDevice(nsv, [(r, AAMI_CLASS[s]) for r, s in beats]).url, str(path), speed=0, seconds=60
    )
    used = res["labels"]
    assert (used["set"], used["source"], used["warning"]) == ("device", "device", None)
    assert res["classes"]["labels"] == ["N", "S", "V"]
    cm = np.asarray(res["classes"]["confusion"])
    assert cm.tolist() == [[73, 0, 0], [0, 1, 0], [0, 0, 0]]

    path = _record("208")  # has fusion beats (F): N,S,V cannot name them
    beats = _annotated_beats(path, 20)
    res = stream.stream_record(
        FakeDevice(nsv, [(r, AAMI_CLASS[s]) for r, s in beats]).url, str(path), speed=0, seconds=20
    )
    used = res["labels"]
    assert (used["set"], used["source"]) == ("aami", "fallback")
    assert "N,S,V" in used["warning"] and "F" in used["warning"]
    assert "\n" not in used["warning"]
    assert res["classes"]["labels"][:5] == ["N", "S", "V", "F", "Q"]

    path = _record("214")  # L and V: symbols as labels
    beats = _annotated_beats(path, 30)
    lv = "# tinyecg 0.2 classifier=lv labels=L,V"
    res = stream.stream_record(FakeDevice(lv, beats).url, str(path), speed=0, seconds=30)
    used = res["labels"]
    assert (used["set"], used["mapped_as"], used["warning"]) == (
        "device",
        "annotation symbols",
        None,
    )
    assert res["classes"]["labels"] == ["L", "V"] and res["classes"]["accuracy"] == 1.0


@pytest.mark.parametrize("transport", ["socket", "pty"])
def test_stream_connection_lost_mid_replay(transport):
    """The peer dies (socket) or the serial port hangs up (pty) after some beats: one
    TinyECGError naming the port and how far the replay got, not a SerialException
    traceback nor a "no '# stats' reply" guess."""
    path = _record("100")
    beats = _annotated_beats(path, 60)
    fake = FakeDevice(NLRAV_INFO, [(r, "N") for r, _ in beats], die_after=5000, transport=transport)
    with pytest.raises(TinyECGError) as err:
        stream.stream_record(fake.url, str(path), speed=0, seconds=60, reply_timeout=3)
    msg = str(err.value)
    m = re.fullmatch(
        re.escape(fake.url) + r": connection lost after (\d+) of 21600 samples "
        r"sent and (\d+) beats received \(.+\)",
        msg,
    )
    assert m, msg
    assert 5000 <= int(m.group(1)) <= 21600  # the OS buffers may have taken them all
    assert int(m.group(2)) == sum(1 for r, _ in beats if r + 100 <= fake.died_at) > 10


def test_stream_rejects_bad_numbers_and_label_sets():
    path = _record("100")
    for bad in (float("nan"), 0, -5, float("inf"), "x"):
        with pytest.raises(TinyECGError, match="seconds must be a positive number"):
            stream.stream_record("loop://", str(path), seconds=bad)
    with pytest.raises(TinyECGError, match="speed must be a number >= 0"):
        stream.stream_record("loop://", str(path), speed=float("nan"))
    with pytest.raises(TinyECGError, match="unknown label set"):
        stream.stream_record("loop://", str(path), labels="xyz")


def test_stream_cli_labels_and_errors(monkeypatch, capsys):
    path = str(_record("214"))
    beats = _annotated_beats(path, 30)
    fake = FakeDevice(NLRAV_INFO, [(r, s if s in "NLRAV" else "N") for r, s in beats])
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "stream",
        "--port",
        fake.url,
        "--record",
        path,
        "--seconds",
        "30",
        "--speed",
        "0",
    )
    assert code == 0, err
    assert "labels: nlrav (N,L,R,A,V; from the device's #info)" in out
    assert "accuracy 1.0000" in out

    for bad in ("nan", "0", "-5"):
        code, out, err = run_main(
            monkeypatch, capsys, "stream", "--port", "loop://", "--record", path, "--seconds", bad
        )
        assert code == 2 and err == f"error: seconds must be a positive number (got {bad})\n"

    fake = FakeDevice(NLRAV_INFO, [(r, "N") for r, _ in beats], die_after=3000)
    code, out, err = run_main(
        monkeypatch, capsys, "stream", "--port", fake.url, "--record", path, "--speed", "0"
    )
    assert code == 2, err
    assert err.startswith(f"error: {fake.url}: connection lost after ") and err.count("\n") == 1


def test_stream_labels_from_the_host_harness(device):
    """The host harness (rule baseline, labels N,S,V in its #info line) on 100's first
    minute (N and one A beat): auto scores with the device's own three labels; on 208 the
    fusion beats have none of them, so the aami classes with a warning."""
    path = _record("100")
    res = stream.stream_record(device, str(path), speed=0, seconds=60)
    infos = [stream.parse_info(s) for s in res["status"] if s.startswith("# tinyecg ")]
    assert infos and infos[-1]["classifier"] == "baseline-rules"
    assert infos[-1]["labels"] == ["N", "S", "V"]
    used = res["labels"]
    assert (used["set"], used["source"], used["labels"], used["warning"]) == (
        "device",
        "device",
        ["N", "S", "V"],
        None,
    )
    assert res["classes"]["labels"] == ["N", "S", "V"]
    assert res["classes"]["n"] == res["qrs"]["tp"] >= 70


def test_stream_harness_fallback_warning(device):
    res = stream.stream_record(device, str(_record("208")), speed=0, seconds=20)
    used = res["labels"]
    assert (used["set"], used["source"], used["device_labels"]) == (
        "aami",
        "fallback",
        ["N", "S", "V"],
    )
    assert "F map to none of them" in used["warning"]
