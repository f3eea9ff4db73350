"""`tinyecg stream` with a device that sends shockable-rhythm lines (`# rhythm ...`,
`# alarm ...`, docs/rhythm.md): parsing, the time base (device sample counts -> the
record's windows, with --start), the scores against the rhythm annotations, and what the
command prints and writes.

The lines come from ScriptedDevice, a small speaker of the line protocol on a local TCP
socket that sends lines computed beforehand (tests/helpers.rhythm_reference_lines: the
Python front end and a real int8 rhythm model in TFLM on the very samples streamed) once
the samples they need have arrived."""

from __future__ import annotations

import json
import socket
import threading

import numpy as np
import pytest
from helpers import (
    full_mitdb,
    rhythm_data,
    rhythm_model,
    rhythm_reference_lines,
    run_main,
    tcp_device,
)

from tinyecg import aed_metrics
from tinyecg.data import records
from tinyecg.data.records import Annotations
from tinyecg.data.rhythm import WC, load_rhythm_record, window_ends
from tinyecg.device import rhythm_score as rs
from tinyecg.device import stream
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS, RHYTHM_FS

INFO = "# tinyecg 0.3 fs=360 classifier=test labels=N,S,V rhythm=test"


class ScriptedDevice:
    """Counts sample lines after #reset and sends each (needed, line) of `lines` once
    `needed` samples have arrived; `# end` at #end, `# stats samples=<n>` at #stats. One
    client, on 127.0.0.1."""

    def __init__(self, lines, info=INFO):
        self.lines, self.info = sorted(lines, key=lambda x: x[0]), info
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._srv.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conn, _ = self._srv.accept()
        self._srv.close()
        n, nxt, buf = 0, 0, b""
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                *got, buf = buf.split(b"\n")
                out = []
                for raw in got:
                    line = raw.decode().strip()
                    if line == "#reset":
                        n, nxt = 0, 0
                    elif line == "#info":
                        out.append(self.info)
                    elif line == "#end":
                        out.append("# end")
                    elif line == "#stats":
                        out.append(f"# stats samples={n}")
                    elif line and not line.startswith("#"):
                        n += 1
                    while nxt < len(self.lines) and self.lines[nxt][0] <= n:
                        out.append(self.lines[nxt][1])
                        nxt += 1
                if out:
                    conn.sendall(("\n".join(out) + "\n").encode())


def _mitdb(name):
    data = full_mitdb()
    if data is None:
        pytest.skip("needs the full MIT-BIH (../shared/data/mitdb)")
    return data / name


# --------------------------------------------------------------------------- parsing, time base
def test_parse_rhythm_lines():
    lines = rs.parse_rhythm_lines(
        [
            "# rhythm shockable 3599 101",
            "# rhythm non-shockable 3959 -90",
            "# rhythm unreadable 4319 0",
            "# alarm shockable 4679",
            "# alarm cleared 5039",
            "# rhythm maybe 5399 0",
            "# rhythm shockable x 1",
            "# alarm",
            "# stats samples=10",
            "B 100 N 127 9",
        ]
    )
    assert lines.decisions == [
        (3599, "shockable", 101),
        (3959, "non-shockable", -90),
        (4319, "unreadable", 0),
    ]
    assert lines.alarms == [("shockable", 4679), ("cleared", 5039)]
    assert len(lines.malformed) == 3
    c = rs.counts(lines)
    assert (c["decisions"], c["shockable"], c["non_shockable"], c["unreadable"]) == (3, 1, 1, 1)
    assert c["alarm_lines"] == {"shockable": 1, "cleared": 1} and c["malformed_lines"] == 3
    assert not rs.parse_rhythm_lines(["# stats", "# tinyecg 0.3"])


def test_window_end_is_the_front_ends_decision_sample():
    """The front end decides once it has made stream sample e - 1, i.e. when input sample
    4e - 1 arrives (decimate_int); the first decision of a replay is tinyecg.data.rhythm's
    first window end, 10 s in."""
    first = window_ends(10 * RHYTHM_FS)[0]
    assert window_ends(10 * RHYTHM_FS - 1).size == 0 and first == 10 * RHYTHM_FS
    assert rs.window_end(4 * first - 1) == first
    assert rs.window_end(4 * first - 2) == first - 1  # a sample early: the previous window


def test_alarm_state_from_lines_and_annotation_kinds():
    ends = np.array([10, 20, 30, 40, 50])
    on = rs.alarm_from_lines(ends, [("shockable", 20), ("cleared", 40)])
    assert on.tolist() == [False, True, True, False, False]
    beats = Annotations(np.array([5, 9]), np.array(["N", "V"]), np.array(["", ""]))
    rhythm = Annotations(np.array([0]), np.array(["+"]), np.array(["(N"]))
    flutter = Annotations(np.array([3, 9]), np.array(["[", "]"]), np.array(["", ""]))
    assert not rs.has_rhythm_annotations(beats)
    assert rs.has_rhythm_annotations(rhythm) and rs.has_rhythm_annotations(flutter)


# --------------------------------------------------------------------------- a real model's lines
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return rhythm_model(tmp_path_factory)


def _excerpt(base, start_s, seconds):
    first = int(start_s * FS)
    sig = records.read_signal(base, sampfrom=first, sampto=first + int(seconds * FS))
    return stream.replay_samples(sig)


def test_stream_scores_a_vf_onset_from_model_decisions(model, tmp_path, monkeypatch, capsys):
    """cudb cu01 from 180 s for 100 s (VF from 214.2 s): the lines a device running the
    model would send, streamed and scored. Each decision is scored on the record's window
    ending at 180 s + its sample count; the VF episode is found at its annotated onset and
    its latency is the first alarm line's time minus that onset."""
    base = rhythm_data("cudb", "cu01")
    start, seconds = 180, 100
    lines = rhythm_reference_lines(_excerpt(base, start, seconds), model)
    fake = ScriptedDevice(lines)
    out = tmp_path / "scores.json"
    code, text, err = run_main(
        monkeypatch,
        capsys,
        "stream",
        "--port",
        fake.url,
        "--record",
        str(base),
        "--start",
        str(start),
        "--seconds",
        str(seconds),
        "--speed",
        "0",
        "--out",
        str(out),
    )
    assert code == 0, err
    r = json.loads(out.read_text())["rhythm"]
    decided = [line for _, line in lines if line.startswith("# rhythm")]
    assert r["decisions"] == len(decided) == seconds - 10 + 1 and r["scored"]
    assert r["decisions_outside_the_replay"] == 0 and r["alarm_lines_agree"]

    # the same windows, taken from the whole record as `tinyecg evaluate --task rhythm` does
    full = load_rhythm_record(base)
    dev_ends = np.array([int(line.split()[3]) for line in decided])
    record_ends = start * RHYTHM_FS + (dev_ends + 1) // 4
    index = np.searchsorted(full.ends, record_ends)
    assert np.array_equal(full.ends[index], record_ends)
    shock = np.array([line.split()[2] == "shockable" for line in decided])
    want = aed_metrics.class_table(full.score_class[index], shock)
    assert r["classes"] == json.loads(json.dumps(want))
    assert r["classes"]["VF_coarse"]["n"] > 20 and r["classes"]["UNSPEC"]["n"] > 10

    (ep,) = r["alarm"]["episodes"]
    assert ep["kind"] == "VF" and ep["onset_s"] == pytest.approx(214.2, abs=0.05)
    assert not ep["under_way_at_start"]
    alarm_lines = [
        (w, int(e))
        for _, line in lines
        if line.startswith("# alarm")
        for w, e in [line.split()[2:4]]
    ]
    t = start + (dev_ends + 1) // 4 / RHYTHM_FS
    on = rs.alarm_from_lines(dev_ends, alarm_lines)
    hits = t[on & (t >= ep["onset_s"])]
    if not len(hits):  # a weak model may miss it
        assert ep["latency_s"] is None
    else:
        assert ep["latency_s"] == pytest.approx(hits[0] - ep["onset_s"], abs=0.011)
        assert f"VF episode at 214.2 s ({ep['duration_s']:.0f} s replayed): alarm after" in text
    assert f"rhythm: {len(decided)} decisions" in text
    assert "| coarse VF/VFL (>= 200 uV) | Se |" in text


# --------------------------------------------------------------------------- scripted lines
def _nsr_lines(n=12, first_end=3599):
    """n decisions one second apart on a record in sinus rhythm: 3 shockable ones in a row
    (an alarm, false), one unreadable, the rest non-shockable."""
    out = []
    for i in range(n):
        end = first_end + i * FS
        kind = "shockable" if 3 <= i <= 5 else "unreadable" if i == 8 else "non-shockable"
        out.append((end + 1, f"# rhythm {kind} {end} {'90' if kind == 'shockable' else '-90'}"))
    out.append((first_end + 5 * FS + 1, f"# alarm shockable {first_end + 5 * FS}"))
    out.append((first_end + 6 * FS + 1, f"# alarm cleared {first_end + 6 * FS}"))
    return out


def test_stream_scores_scripted_lines_unreadable_and_a_false_alarm(monkeypatch, capsys):
    base = _mitdb("100")
    fake = ScriptedDevice(_nsr_lines())
    res = stream.stream_record(fake.url, str(base), speed=0, seconds=30)
    r = res["rhythm"]
    assert (r["decisions"], r["shockable"], r["unreadable"]) == (12, 3, 1)
    assert r["alarm_lines_agree"] and r["alarm_lines"] == {"shockable": 1, "cleared": 1}
    nsr = r["classes"]["NSR"]
    assert nsr["n"] == 12 and nsr["value"] == pytest.approx(
        100 * 9 / 12
    )  # unreadable: not shockable
    assert r["alarm"]["episodes"] == [] and r["alarm"]["false_alarms_s"] == [15.0]
    assert not any(s.startswith(("# rhythm", "# alarm")) for s in res["status"])

    # an alarm line where three shockable decisions are not: the lines disagree
    lines = [
        (n, x.replace("rhythm shockable 5399 90", "rhythm non-shockable 5399 -9"))
        for n, x in _nsr_lines()
    ]
    fake = ScriptedDevice(lines)
    code, out, err = run_main(
        monkeypatch,
        capsys,
        *("stream", "--port", fake.url, "--record", str(base), "--seconds", "30"),
        *("--speed", "0"),
    )
    assert code == 0, err
    assert "rhythm: 12 decisions (2 shockable, 9 non-shockable, 1 unreadable" in out
    assert "| normal sinus rhythm | Sp | 12 | 83.3 | > 99 |" in out
    assert "no shockable episode in the replayed samples" in out
    assert "false alarms: 1 (at 15 s)" in out
    assert "warning: the alarm lines disagree with the decisions at 1 of them" in out


def test_a_device_without_alarm_lines_never_alarmed():
    """Three shockable decisions in a row and no alarm line: the device sounded no alarm,
    so none is scored, and the disagreement with the alarm rule is said."""
    lines = rs.parse_rhythm_lines(x for _, x in _nsr_lines() if x.startswith("# rhythm"))
    r = rs.score_rhythm(lines, _mitdb("100"), None, 0, 30 * FS)
    assert r["scored"] and r["alarm"]["false_alarms_s"] == []
    assert not r["alarm_lines_agree"] and r["alarm_disagreements"] == 1
    assert any("disagree with the decisions at 1 of them" in x for x in rs.summary_lines(r))


def test_stream_with_start_offset_maps_the_time_base():
    """The same lines replayed from 600 s: scored on the record's windows 600 s later."""
    base = _mitdb("100")
    fake = ScriptedDevice(_nsr_lines())
    res = stream.stream_record(fake.url, str(base), speed=0, start=600.001, seconds=30)
    r = res["rhythm"]
    assert res["start_s"] == 600.0 and r["start_s"] == 600.0
    assert r["alarm"]["false_alarms_s"] == [615.0]


def test_beat_only_device_and_lines_outside_the_replay(monkeypatch, capsys):
    base = _mitdb("100")
    fake = ScriptedDevice([])
    code, out, err = run_main(
        monkeypatch,
        capsys,
        *("stream", "--port", fake.url, "--record", str(base), "--seconds", "20"),
        *("--speed", "0"),
    )
    assert code == 0 and "rhythm" not in out, err
    fake = ScriptedDevice([(100, "# rhythm non-shockable 99 -5"), (200, "# rhythm oops")])
    r = stream.stream_record(fake.url, str(base), speed=0, seconds=20)["rhythm"]
    assert not r["scored"] and r["why"] == "no decision falls in the replayed samples"
    assert r["decisions_outside_the_replay"] == 1 and r["malformed_lines"] == 1


def test_record_without_rhythm_notes_is_not_scored(monkeypatch, capsys):
    """The bundled excerpts keep beat labels only: the decisions are counted, not scored."""
    from helpers import EXCERPT

    fake = ScriptedDevice(_nsr_lines())
    code, out, err = run_main(
        monkeypatch,
        capsys,
        *("stream", "--port", fake.url, "--record", str(EXCERPT / "100"), "--seconds", "30"),
        *("--speed", "0"),
    )
    assert code == 0, err
    assert "rhythm: 12 decisions (3 shockable" in out
    assert "rhythm decisions not scored: the record has no rhythm annotations" in out
    assert "| rhythm (windows" not in out


def test_start_errors_are_one_line(monkeypatch, capsys):
    base = str(_mitdb("100"))
    for start, msg in (
        ("-1", "start must be a number >= 0 (got -1)"),
        ("nan", "start must be a number >= 0 (got nan)"),
        ("4000", "start 4000 s is past the end of 100 (1805.56 s)"),
    ):
        code, out, err = run_main(
            monkeypatch, capsys, "stream", "--port", "loop://", "--record", base, "--start", start
        )
        assert code == 2 and err == f"error: {msg}\n", err
    with pytest.raises(TinyECGError, match="start must be"):
        stream.stream_record("loop://", base, start=-0.5)


def test_class_names_used_by_the_table():
    assert set(aed_metrics.ROWS) <= set(WC) | {"shockable"}


# --------------------------------------------------------------------------- the real core
@pytest.fixture(scope="module")
def rhythm_harness(tmp_path_factory):
    """The host harness (the portable core, x86-64) built with the rhythm task and the
    committed C backend export of the shipped rhythm model."""
    from tinyecg.device import detect

    export = detect.rhythm_model_dir()
    if not (export / "tinyecg_rhythm_model.c").is_file():
        pytest.skip(f"{export}: the rhythm model's C backend export is missing")
    return detect.build_host_harness(tmp_path_factory.mktemp("host"), rhythm_model=export)


@pytest.fixture
def rhythm_device(rhythm_harness):
    """The harness serving the protocol on 127.0.0.1 with the rhythm task on (MIT-BIH
    replay units: ADC 0..2047, 1024 at 0 mV, 200 per mV: what stream sends)."""
    with tcp_device(rhythm_harness, "--rhythm") as url:
        yield url


def test_reference_lines_here_equal_the_cores_reference(model):
    """This module's line maker and the device's Python reference (rhythm_lines, what the
    core is tested against byte for byte) agree on an uninterrupted VF excerpt."""
    from tinyecg.device.rhythm_lines import rhythm_lines, tflm_classifier

    x = _excerpt(rhythm_data("vfdb", "423"), 870, 60)  # no railed sample in the replay
    mine = [line for _, line in rhythm_reference_lines(x, model)]
    assert mine == rhythm_lines(x, tflm_classifier(model))


def test_stream_a_vf_episode_through_the_core(rhythm_device, monkeypatch, capsys, tmp_path):
    """cudb cu01 from 180 s for 90 s (VF from 214.2 s; within MIT-BIH's +-5 mV, so the
    replay rails no sample) streamed to the host harness's rhythm task: every decision
    scored, the episode alarmed within 10 s, its latency the time of the first decision
    with the core's alarm on minus the annotated onset."""
    base = rhythm_data("cudb", "cu01")
    out = tmp_path / "cu01.json"
    code, text, err = run_main(
        monkeypatch,
        capsys,
        *("stream", "--port", rhythm_device, "--record", str(base), "--start", "180"),
        *("--seconds", "90", "--speed", "0", "--out", str(out)),
    )
    assert code == 0, err
    res = json.loads(out.read_text())
    r = res["rhythm"]
    assert r["decisions"] == 90 - 10 + 1 and r["unreadable"] == 0 and r["scored"]
    assert r["malformed_lines"] == 0 and r["alarm_lines_agree"]
    assert r["alarm_lines"]["shockable"] >= 1
    (ep,) = r["alarm"]["episodes"]
    assert ep["kind"] == "VF" and ep["onset_s"] == pytest.approx(214.2, abs=0.05)
    assert ep["latency_s"] is not None and 0 <= ep["latency_s"] <= 10  # issue 15's target
    assert not ep["alarm_on_at_onset"]
    (first,) = [e for w, e in r["device_alarms"] if w == "shockable"]
    t_alarm = 180 + rs.window_end(first) / RHYTHM_FS
    assert ep["latency_s"] == pytest.approx(t_alarm - ep["onset_s"], abs=0.011)
    assert len(r["device_decisions"]) == r["decisions"]
    stats = [s for s in res["status"] if s.startswith("# stats")]
    assert stats and "rhythm" in stats[-1]
    assert f"VF episode at 214.2 s ({ep['duration_s']:.0f} s replayed): alarm after" in text
    assert r["classes"]["VF_coarse"]["n"] > 0 and r["classes"]["VF_coarse"]["value"] > 90
    assert res["qrs"]["se"] > 0.9  # the beat path ran beside it, on the same time base


def test_stream_a_vf_episode_to_the_qemu_board_image(tmp_path_factory):
    """`tinyecg stream` on the two-task board image (Cortex-M4 on QEMU, C backend, MIT-BIH
    replay calibration) over its UART: cudb cu01 from 180 s for 60 s scored as the host
    harness's run is, one VF episode alarmed within 10 s."""
    from tinyecg.device import detect, firmware, qemu

    if qemu.missing_tools():
        pytest.skip(f"needs the ARM toolchain and QEMU ({', '.join(qemu.missing_tools())})")
    if not (detect.rhythm_model_dir() / "tinyecg_rhythm_model.c").is_file():
        pytest.skip("firmware/lib/tinyecg_rhythm_model (the rhythm export) is missing")
    base = rhythm_data("cudb", "cu01")
    work = tmp_path_factory.mktemp("rhythm_stream_qemu")
    export = work / "model"
    firmware.export_model(None, export, golden=8)
    fw = firmware.build_firmware(work, export_dir=export, io="uart", rhythm=True)
    with qemu.serial_tcp(fw.elf, timeout=300) as url:
        res = stream.stream_record(url, str(base), speed=0, start=180, seconds=60, reply_timeout=60)
        firmware.stop(url)
    r = res["rhythm"]
    assert r["scored"] and r["decisions"] == 60 - 10 + 1 and r["unreadable"] == 0
    assert r["alarm_lines_agree"] and r["malformed_lines"] == 0
    (ep,) = r["alarm"]["episodes"]
    assert ep["kind"] == "VF" and ep["latency_s"] is not None and ep["latency_s"] <= 10
    # the same lines as the Python reference of the core on the samples streamed
    from tinyecg.device.rhythm_lines import rhythm_lines, tflm_classifier
    from tinyecg.paths import rhythm_model_dir

    want = rhythm_lines(
        _excerpt(base, 180, 60), tflm_classifier(rhythm_model_dir() / "model.tflite")
    )
    got = [f"# rhythm {d} {e} {s}" for e, d, s in r["device_decisions"]]
    assert got == [w for w in want if w.startswith("# rhythm ")]
