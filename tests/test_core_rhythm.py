"""The core's shockable-rhythm task (tinyecg_rhythm_task.h) in the host harness, built with
the committed C backend export of the shipped rhythm model, against the Python reference
of its lines (tinyecg.device.rhythm_lines: the integer front end + the same model in host
TFLM), byte for byte: VF onsets (cudb cu01, vfdb 424), a clean MIT-BIH record, lead-off,
a flat signal, out-of-range samples, #reset and an input that stops and resumes."""

from __future__ import annotations

import hashlib
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tinyecg import paths
from tinyecg.data.records import read_signal
from tinyecg.device import detect
from tinyecg.device.rhythm_lines import (
    RhythmReference,
    device_rhythm_lines,
    tflm_classifier,
)
from tinyecg.spec import FS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODEL = paths.rhythm_model_dir() / "model.tflite"
EXPORT = detect.rhythm_model_dir()


def _signal(db: str, name: str, start_s: int, seconds: int):
    base = SHARED / db / name
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"needs ../shared/data/{db}/{name} (the issue-15 databases)")
    return read_signal(base, sampfrom=start_s * FS, sampto=(start_s + seconds) * FS)


@pytest.fixture(scope="module")
def classify():
    if not MODEL.is_file():
        pytest.skip(f"{MODEL}: the shipped rhythm model is missing")
    return tflm_classifier(MODEL)


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    if not (EXPORT / "tinyecg_rhythm_model.c").is_file():
        pytest.skip(f"{EXPORT}: the rhythm model's C backend export is missing")
    return detect.build_host_harness(tmp_path_factory.mktemp("host"), rhythm_model=EXPORT)


def test_export_is_the_reference_model():
    """The C backend the harness links and the .tflite the reference runs are one model."""
    if not MODEL.is_file() or not (EXPORT / "tinyecg_rhythm_model.h").is_file():
        pytest.skip("the rhythm model or its export is missing")
    header = (EXPORT / "tinyecg_rhythm_model.h").read_text()
    sha = re.search(r'TINYECG_RHYTHM_MODEL_SHA256 "([0-9a-f]{64})"', header).group(1)
    assert sha == hashlib.sha256(MODEL.read_bytes()).hexdigest()


def _args(sig, *extra: str) -> list[str]:
    lo, hi = sig.adc_range
    return [
        "--peaks",
        "--rhythm",
        "--adc-min",
        str(lo),
        "--adc-max",
        str(hi),
        "--baseline",
        str(sig.baseline),
        "--gain",
        str(round(sig.gain)),
        *extra,
    ]


def _reference(classify, sig) -> RhythmReference:
    return RhythmReference(
        classify, baseline=sig.baseline, gain=round(sig.gain), adc_range=sig.adc_range
    )


def _run(exe, sig, chunks) -> str:
    """Protocol text of chunks (sample arrays, or command strings such as "#reset")."""
    text = b"".join(
        (c + "\n").encode() if isinstance(c, str) else detect.samples_text(c) for c in chunks
    )
    return detect.run_harness(exe, text, *_args(sig))


def _stats(out: str) -> dict:
    line = [ln for ln in out.splitlines() if ln.startswith("# stats")][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def _onset_s(db: str, name: str) -> float:
    """The first VF onset of a record in seconds: cudb's '[' mark, vfdb's '(VF' notes."""
    import wfdb

    ann = wfdb.rdann(str(SHARED / db / name), "atr")
    fs = float(wfdb.rdheader(str(SHARED / db / name)).fs)
    for sym, at, note in zip(ann.symbol, ann.sample, ann.aux_note):
        if sym == "[" or note.rstrip("\x00") in ("(VF", "(VFIB", "(VFL"):
            return at / fs
    raise AssertionError(f"{name}: no VF onset annotated")


@pytest.mark.parametrize("db,name,start_s", [("cudb", "cu01", 180), ("vfdb", "424", 1230)])
def test_vf_onset_lines_equal_reference_and_alarm_within_10_s(exe, classify, db, name, start_s):
    sig = _signal(db, name, start_s, 90)
    out = _run(exe, sig, [sig.adc, "#stats"])
    ref = _reference(classify, sig)
    ref.push(sig.adc)
    got = device_rhythm_lines(out)
    assert got == ref.lines()
    assert len([g for g in got if g.startswith("# rhythm ")]) == 90 - 10 + 1  # 1/s after 10 s
    onset = _onset_s(db, name) - start_s
    alarms = [int(g.split()[-1]) for g in got if g.startswith("# alarm shockable ")]
    assert alarms, got
    first = alarms[0] / FS
    assert onset <= first <= onset + 10.0, (onset, first)
    st = _stats(out)
    assert st["rhythm_decisions"] == ref.counts["decisions"] == 81
    assert st["rhythm_shockable"] == ref.counts["shockable"] > 0
    assert st["alarms"] == ref.counts["alarms"] >= 1
    assert st["rhythm_unreadable"] == st["rhythm_errors"] == 0


def test_clean_record_equal_reference_no_alarm(exe, classify):
    sig = _signal("mitdb", "100", 0, 300)
    out = _run(exe, sig, [sig.adc])
    got = device_rhythm_lines(out)
    assert got == _ref_lines(classify, sig)
    assert len(got) == 300 - 10 + 1
    assert all(g.startswith("# rhythm non-shockable ") for g in got)


def _ref_lines(classify, sig, chunks=None) -> list[str]:
    ref = _reference(classify, sig)
    for c in chunks if chunks is not None else [sig.adc]:
        if isinstance(c, str):
            assert c == "#reset"
            ref.reset()
        else:
            ref.push(c)
    return ref.lines()


def test_lead_off_flat_out_of_range_and_reset(exe, classify):
    """A VF stretch with the leads off for 3 s (railed at the ADC's top), a flat second
    stretch, out-of-range samples, then #reset and more VF: every line as the reference."""
    sig = _signal("cudb", "cu01", 200, 120)
    lo, hi = sig.adc_range
    x = sig.adc.copy()
    x[40 * FS : 43 * FS] = hi  # lead-off (0.25 s of railed samples starts it)
    x[60 * FS : 66 * FS] = x[60 * FS]  # flat: asystole-like, not unreadable
    x[80 * FS + 5 : 80 * FS + 9] = hi + 1000  # out of range: the last good sample is held
    chunks = [x[: 100 * FS], "#reset", x[100 * FS :]]
    out = _run(exe, sig, chunks)
    got = device_rhythm_lines(out)
    assert got == _ref_lines(classify, sig, chunks)
    lines = out.splitlines()
    assert "# lead-off" in lines and "# flat" in lines and "# reset" in lines
    unreadable = [int(g.split()[3]) for g in got if g.startswith("# rhythm unreadable ")]
    # every decision whose 8 s hold a railed sample, and only those, until the front end
    # restarts when the lead-off ends (1 s of good samples after 43 s)
    assert unreadable and min(unreadable) >= 40 * FS and max(unreadable) < 44 * FS
    ends = [int(g.split()[3]) for g in got if g.startswith("# rhythm ")]
    gaps = np.diff(ends)
    assert gaps.max() >= 10 * FS  # the warm-up after lead-off and after #reset: no lines
    flat = [g for g in got if g.startswith("# rhythm ") and 67 * FS <= int(g.split()[3]) < 68 * FS]
    assert flat and all("unreadable" not in g for g in flat)


def test_input_stopped_restarts_the_front_end(exe, classify):
    """The board's 'no byte for a while' (--idle-ms): the front end starts over at
    "# input resumed"; the lines equal the reference's with a stall at the same place."""
    sig = _signal("cudb", "cu01", 200, 60)
    half = 30 * FS
    proc = subprocess.Popen(
        [str(exe), *_args(sig, "--idle-ms", "300")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        proc.stdin.write(detect.samples_text(sig.adc[:half]))
        proc.stdin.flush()
        time.sleep(1.2)
        proc.stdin.write(detect.samples_text(sig.adc[half:]))
        proc.stdin.close()
        out = proc.stdout.read().decode()
    finally:
        proc.wait(timeout=30)
    ref = _reference(classify, sig)
    ref.push(sig.adc[:half])
    ref.stall()
    ref.push(sig.adc[half:])
    got = device_rhythm_lines(out)
    assert "# input stopped" in out and "# input resumed" in out
    assert got == ref.lines()
    ends = [int(g.split()[3]) for g in got if g.startswith("# rhythm ")]
    assert min(e for e in ends if e >= half) == half + 10 * FS - 1  # warm-up again


def test_beat_only_output_unchanged(exe, tmp_path):
    """Without --rhythm the rhythm-capable harness prints exactly what the beat-only one
    does (info line, beats, stats): the task is optional."""
    plain = detect.build_host_harness(tmp_path)
    sig = _signal("mitdb", "100", 0, 60)
    text = detect.samples_text(sig.adc) + b"#stats\n#info\n"
    args = ["--peaks", "--rr", "--adc-min", "0", "--adc-max", "2047"]
    a = detect.run_harness(plain, text, *args)
    b = detect.run_harness(exe, text, *args)
    assert a == b
    assert "rhythm" not in a and "alarm" not in a


def test_info_line_names_the_rhythm_model(exe):
    out = detect.run_harness(exe, b"#info\n", "--rhythm")
    info = [ln for ln in out.splitlines() if ln.startswith("# tinyecg ")]
    header = (EXPORT / "tinyecg_rhythm_model.h").read_text()
    sha = re.search(r'TINYECG_RHYTHM_MODEL_SHA256 "([0-9a-f]{64})"', header).group(1)
    assert len(info) == 2 and all(f"rhythm=cbackend rhythm_sha256={sha[:16]}" in i for i in info)


def test_rhythm_flag_needs_a_rhythm_build(tmp_path):
    plain = detect.build_host_harness(tmp_path)
    proc = subprocess.run([str(plain), "--rhythm"], input=b"", capture_output=True)
    assert proc.returncode == 2 and b"without the rhythm model" in proc.stderr


def test_core_constants_match_spec_and_reference():
    """The task's constants are the spec's and the reference restates the core's own."""
    from tinyecg import spec
    from tinyecg.device import rhythm_lines

    task_h = (detect.core_include() / "tinyecg_rhythm_task.h").read_text()
    app_h = (detect.core_include() / "tinyecg_app.h").read_text()

    def define(text: str, name: str) -> int:
        return int(re.search(rf"#define {name} (\d+)u?\b", text).group(1))

    assert define(task_h, "TINYECG_ALARM_CONSECUTIVE") == spec.ALARM_CONSECUTIVE
    assert define(task_h, "TINYECG_RHYTHM_CLASSES") == 2
    assert define(app_h, "TINYECG_RAIL_RUN") == rhythm_lines.RAIL_RUN
    assert define(app_h, "TINYECG_RECOVER") == rhythm_lines.RECOVER
    assert rhythm_lines.SPAN == spec.RHYTHM_WINDOW * spec.RHYTHM_DECIMATION
