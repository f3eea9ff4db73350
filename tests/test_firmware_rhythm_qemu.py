"""The two-task firmware (beats + the shockable-rhythm task) on an emulated Cortex-M4 (QEMU
mps2-an386), C backend: the board image streamed a VF episode over UART0 prints the Python
reference's rhythm lines byte for byte (tinyecg.device.rhythm_lines: the integer front end
+ the shipped rhythm model in host TFLM) and raises `# alarm shockable` within 10 s of the
annotated onset; a clean MIT-BIH excerpt raises none; the rhythm model passes its golden
self-test at boot; and the image keeps the two-task budget (flash <= 64 KB, RAM <= 20 KB,
<= 300k instructions per rhythm decision)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tinyecg import paths
from tinyecg.data.records import read_signal
from tinyecg.device import detect, qemu
from tinyecg.device.rhythm_lines import RhythmReference, tflm_classifier
from tinyecg.spec import FS, MITDB_ADC_BASELINE, MITDB_ADC_GAIN, MITDB_ADC_RANGE

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RHYTHM_MODEL = paths.rhythm_model_dir() / "model.tflite"
VF = ("cudb", "cu01", 180, 80)  # database, record, start s, seconds: VF from 214.2 s

pytestmark = pytest.mark.skipif(
    bool(qemu.missing_tools()),
    reason=f"needs the ARM toolchain and QEMU (missing: {', '.join(qemu.missing_tools())})",
)


def _signal(db, name, start_s, seconds):
    base = SHARED / db / name
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"needs ../shared/data/{db}/{name} (the issue-15 databases)")
    return read_signal(base, sampfrom=start_s * FS, sampto=(start_s + seconds) * FS)


def _vf_onset_s(db, name) -> float:
    """The record's first VF onset in seconds: cudb's '[' (start of VF/flutter)."""
    import wfdb

    ann = wfdb.rdann(str(SHARED / db / name), "atr")
    fs = float(wfdb.rdheader(str(SHARED / db / name)).fs)
    return next(at / fs for sym, at in zip(ann.symbol, ann.sample) if sym == "[")


def _rhythm_lines(status: list[str]) -> list[str]:
    return [s for s in status if s.startswith("# rhythm ") or s.startswith("# alarm ")]


@pytest.fixture(scope="module")
def fq():
    from tinyecg.device import firmware

    if not (detect.rhythm_model_dir() / "tinyecg_rhythm_model.c").is_file():
        pytest.skip("firmware/lib/tinyecg_rhythm_model (the rhythm export) is missing")
    if not RHYTHM_MODEL.is_file():
        pytest.skip(f"{RHYTHM_MODEL}: the shipped rhythm model is missing")
    return firmware


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("firmware_rhythm_qemu")


@pytest.fixture(scope="module")
def export_dir(fq, work) -> Path:
    out = work / "model"
    fq.export_model(None, out, golden=8)  # the shipped beat model, as the boards ship it
    return out


@pytest.fixture(scope="module")
def classify(fq):
    return tflm_classifier(RHYTHM_MODEL)


@pytest.fixture(scope="module")
def fw_uart(fq, work, export_dir):
    """The board image with both tasks, MIT-BIH calibration (the default replay)."""
    return fq.build_firmware(work, export_dir=export_dir, io="uart", rhythm=True)


@pytest.fixture(scope="module")
def fw_semihost(fq, work, export_dir):
    return fq.build_firmware(work, export_dir=export_dir, io="semihost", rhythm=True)


def test_vf_episode_streamed_alarms_within_10_s_as_the_reference(fq, work, export_dir, classify):
    """cudb cu01 over UART0, the board calibrated as that record (baseline 0, 400 ADC/mV,
    12-bit): every rhythm and alarm line as the reference's, the alarm <= 10 s after onset."""
    db, name, start_s, seconds = VF
    sig = _signal(db, name, start_s, seconds)
    fw = fq.build_firmware(
        work / "cudb",
        export_dir=export_dir,
        io="uart",
        rhythm=True,
        adc_range=sig.adc_range,
        calibration=(sig.baseline, round(sig.gain)),
    )
    with qemu.serial_tcp(fw.elf, timeout=300) as url:
        lines = fq.replay(url, sig.adc, timeout=240)
        fq.stop(url)
    ref = RhythmReference(
        classify, baseline=sig.baseline, gain=round(sig.gain), adc_range=sig.adc_range
    )
    ref.push(sig.adc)
    got = _rhythm_lines(lines.status)
    assert got == ref.lines()
    assert len([g for g in got if g.startswith("# rhythm ")]) == seconds - 10 + 1
    onset_s = _vf_onset_s(db, name) - start_s
    alarm = [int(g.split()[-1]) / FS for g in got if g.startswith("# alarm shockable ")]
    assert alarm and onset_s <= alarm[0] <= onset_s + 10.0, (onset_s, alarm)
    assert lines.stats["alarms"] >= 1 and lines.stats["rhythm_unreadable"] == 0


def test_clean_record_streamed_has_no_alarm(fq, fw_uart, classify):
    """MIT-BIH 100 (normal sinus rhythm), 2 minutes over UART0: all decisions
    non-shockable, no alarm, every line as the reference's."""
    x, _, (lo, hi) = detect.read_record(SHARED / "mitdb" / "100", sampto=120 * FS)
    assert (lo, hi) == MITDB_ADC_RANGE
    with qemu.serial_tcp(fw_uart.elf, timeout=300) as url:
        lines = fq.replay(url, x, timeout=240)
        fq.stop(url)
    ref = RhythmReference(classify, baseline=MITDB_ADC_BASELINE, gain=MITDB_ADC_GAIN)
    ref.push(x)
    got = _rhythm_lines(lines.status)
    assert got == ref.lines()
    assert len(got) == 120 - 10 + 1 and all("non-shockable" in g for g in got)
    assert lines.stats["rhythm_decisions"] == 111 and lines.stats["alarms"] == 0
    assert lines.beats  # the beat path runs beside it


def test_boot_runs_the_rhythm_golden_selftest(fq, fw_semihost):
    """The boot: the rhythm classifier's line, its golden windows bit for bit (tolerance 0),
    the core's info line naming the rhythm model; exit 0 means both self-tests passed."""
    x = detect.read_record(SHARED / "mitdb" / "100", sampto=15 * FS)[0]
    run = fq.run_samples(fw_semihost, x)
    assert run.returncode == 0
    status = run.lines.status
    header = (detect.rhythm_model_dir() / "tinyecg_rhythm_model.h").read_text()
    sha = header.split('TINYECG_RHYTHM_MODEL_SHA256 "')[1][:16]
    start = [s for s in status if s.startswith("# rhythm-classifier ")]
    assert start == [s for s in start if f"sha256={sha}" in s] and len(start) == 1
    rows = [s for s in status if s.startswith("# rhythm-selftest ")]
    summary = rows[-1].split()
    assert summary[2] == "pass" and "maxdiff=0" in rows[-1] and "tolerance=0" in rows[-1]
    n = int(summary[3].split("/")[1])
    assert summary[3] == f"{n}/{n}" and n >= 2
    assert all("output=ok maxdiff=0" in r for r in rows[:-1])
    assert f"rhythm=cbackend rhythm_sha256={sha}" in run.lines.info


def test_two_task_budget(fq, fw_uart, fw_semihost):
    """Flash <= 64 KB and RAM (.data + .bss + the stack's high-water mark after boot and a
    replay) <= 20 KB for the board image; <= 300k Cortex-M4 instructions per rhythm
    decision: one second of front-end pushes + one window + one model call."""
    x = detect.read_record(SHARED / "mitdb" / "208", sampto=40 * FS)[0]
    with qemu.serial_tcp(fw_uart.elf, timeout=300) as url:
        fq.replay(url, x, timeout=120)
        stack = fq.device_command(url, "perf").qemu["stack_peak"]
        fq.stop(url)
    assert fw_uart.flash_bytes <= 64 * 1024, fw_uart.sizes
    assert fw_uart.static_ram_bytes + stack <= 20 * 1024, (fw_uart.sizes, stack)
    run = fq.run_samples(fw_semihost, x)
    q = run.lines.qemu
    assert q["rdecisions"] == q["rwindows"] == 40 - 10 + 1
    per_decision = (
        q["rfe_instr"] / (q["samples"] / FS)
        + q["rwin_instr"] / q["rwindows"]
        + q["rmodel_instr"] / q["rdecisions"]
    )
    assert per_decision <= 300_000, q
    assert q["rmodel_max"] + q["rwin_max"] + q["rfe_instr"] / (q["samples"] / FS) <= 300_000
    # the instruction count is the same whatever the input: a plain sanity bound below
    assert np.isfinite(per_decision) and per_decision > 100_000


def test_tflm_build_runs_the_rhythm_model_in_tflm(fq, work, export_dir, tflm_library):
    """A TFLM firmware (the boards' default classifier) with the rhythm task: both models in
    TFLM, the rhythm model in a second interpreter on a `--runtime tflm` export made for the
    build. Its boot self-test passes bit for bit (tolerance 0), and cudb cu01's VF onset
    excerpt gives the reference's rhythm and alarm lines byte for byte (TFLM's int8 outputs
    are the C backend's) with the alarm within 10 s of the onset."""
    db, name, start_s, seconds = VF
    sig = _signal(db, name, start_s, seconds)
    fw = fq.build_firmware(
        work / "tflm",
        export_dir=None,
        io="semihost",
        runtime="tflm",
        rhythm=True,
        tflm_library=tflm_library("m4"),
        adc_range=sig.adc_range,
        calibration=(sig.baseline, round(sig.gain)),
    )
    assert "TINYECG_RHYTHM=1" in fw.defs
    run = fq.run_samples(fw, sig.adc)
    assert run.returncode == 0  # both golden self-tests passed
    status = run.lines.status
    sha = hashlib.sha256(RHYTHM_MODEL.read_bytes()).hexdigest()[:16]
    assert "classifier=tflm" in run.lines.info
    assert f"rhythm=tflm rhythm_sha256={sha}" in run.lines.info
    start = [s for s in status if s.startswith("# rhythm-classifier ")]
    assert len(start) == 1 and start[0].startswith("# rhythm-classifier tflm arena="), start
    assert not [s for s in status if "error" in s]
    rows = [s for s in status if s.startswith("# rhythm-selftest ")]
    assert rows[-1] == "# rhythm-selftest pass 4/4 tolerance=0 maxdiff=0", rows
    assert len(rows) == 5 and all("output=ok maxdiff=0" in r for r in rows[:-1])
    ref = RhythmReference(
        tflm_classifier(RHYTHM_MODEL),
        baseline=sig.baseline,
        gain=round(sig.gain),
        adc_range=sig.adc_range,
    )
    ref.push(sig.adc)
    got = _rhythm_lines(status)
    assert got == ref.lines()
    assert len([g for g in got if g.startswith("# rhythm ")]) == seconds - 10 + 1
    onset_s = _vf_onset_s(db, name) - start_s
    alarm = [int(g.split()[-1]) / FS for g in got if g.startswith("# alarm shockable ")]
    assert alarm and onset_s <= alarm[0] <= onset_s + 10.0, (onset_s, alarm)
    q = run.lines.qemu
    assert q["rdecisions"] == q["rwindows"] == seconds - 10 + 1 and q["rmodel_max"] > 0


def test_committed_bench_is_consistent_and_quoted():
    """docs/bench/rhythm_qemu.json (scripts/bench_rhythm_qemu.py): within the budget, every
    excerpt's lines equal to the reference, the VF alarms within 10 s, and docs/rhythm.md
    quoting its figures."""
    import json

    root = Path(__file__).resolve().parents[1]
    d = json.loads((root / "docs" / "bench" / "rhythm_qemu.json").read_text())
    assert all(d["met"].values())
    assert d["image"]["flash_bytes"] <= 64 * 1024 and d["image"]["ram_bytes"] <= 20 * 1024
    assert d["per_decision"]["total_worst"] <= 300_000
    assert all(r["lines_equal_reference"] for r in d["excerpts"])
    vf = [r for r in d["excerpts"] if r["vf_onset_s"] is not None]
    assert vf and all(r["alarm_latency_s"] is not None and r["alarm_latency_s"] <= 10 for r in vf)
    assert all(r["alarms"] == 0 for r in d["excerpts"] if r["record"].startswith("mitdb/"))
    docs = (root / "docs" / "rhythm.md").read_text()
    for v in (
        d["image"]["flash_bytes"],
        d["image"]["ram_bytes"],
        d["per_decision"]["total_worst"],
        d["beat_only_image"]["flash_bytes"],
    ):
        assert f"{v:,}" in docs, v
