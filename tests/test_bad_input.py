"""Issue 13, part 1: every bad record, cache location or output a user meets gives a one-line
`error: ...` (exit 2) naming the file, no traceback and nothing half-written. Each case
runs the real command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import wfdb
from helpers import EXCERPT, ROOT, write_like


def tinyecg(*args, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, "-m", "tinyecg", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def one_line_error(proc, *fragments) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("error: "), proc.stderr
    for frag in fragments:
        assert frag in lines[-1], lines[-1]
    return lines[-1]


@pytest.fixture
def rec(tmp_path) -> Path:
    """A copy of the bundled excerpt of record 100 to damage."""
    for ext in ("hea", "dat", "atr"):
        shutil.copy(EXCERPT / f"100.{ext}", tmp_path / f"100.{ext}")
    return tmp_path / "100"


def _edit_header(rec: Path, old: str, new: str) -> None:
    hea = rec.with_suffix(".hea")
    hea.write_text(hea.read_text().replace(old, new))


# --------------------------------------------------------------------------- tinyecg detect


def test_detect_truncated_empty_and_missing_dat(rec):
    dat = rec.with_suffix(".dat")
    data = dat.read_bytes()
    dat.write_bytes(data[:1000])
    one_line_error(tinyecg("detect", rec), "100.dat", "truncated")
    dat.write_bytes(b"")
    one_line_error(tinyecg("detect", rec), "100.dat", "truncated")
    dat.unlink()
    one_line_error(tinyecg("detect", rec), "100.dat", "missing")


def test_detect_header_naming_another_dat(rec):
    _edit_header(rec, "100.dat", "elsewhere.dat")
    one_line_error(tinyecg("detect", rec), "elsewhere.dat", "missing")


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00garbage\xff\xfe", b"just some text, not a WFDB header\n"]
)
def test_detect_garbage_or_text_header(rec, content):
    rec.with_suffix(".hea").write_bytes(content)
    one_line_error(tinyecg("detect", rec), "100.hea")


def test_detect_header_with_zero_samples(rec):
    _edit_header(rec, "100 2 360 64800", "100 2 360 0")
    one_line_error(tinyecg("detect", rec), "100.hea", "0 samples")


def test_detect_garbage_atr_fails_before_any_result(rec):
    rec.with_suffix(".atr").write_bytes(bytes(range(256)) * 4)
    proc = tinyecg("detect", rec)
    one_line_error(proc, "100.atr", "unreadable annotations")
    assert proc.stdout == ""


def test_detect_empty_atr_and_flat_record(rec, tmp_path):
    rec.with_suffix(".atr").write_bytes(b"")
    proc = tinyecg("detect", rec)
    assert proc.returncode == 0, proc.stderr
    assert "Se -  +P -" in proc.stdout or "Se - " in proc.stdout, proc.stdout
    r = wfdb.rdrecord(str(rec), physical=False)
    write_like(r, tmp_path, "flat", np.full_like(r.d_signal, 1024), fmt="212")
    shutil.copy(EXCERPT / "100.atr", tmp_path / "flat.atr")
    proc = tinyecg("detect", tmp_path / "flat")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "0 beats detected" in proc.stdout and "flat" in proc.stderr
    assert "Se 0.00 %  +P -" in proc.stdout


def test_detect_from_a_read_only_working_folder(rec, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = tinyecg("detect", rec, cwd=ro, env={"TINYECG_CACHE": str(ro / "cache")})
        assert proc.returncode == 0, proc.stderr
        assert "beats detected" in proc.stdout
        assert not (ro / ".cache").exists()
    finally:
        ro.chmod(0o755)


def test_detect_other_rates_and_leads(rec, tmp_path):
    r = wfdb.rdrecord(str(rec), physical=False)
    from scipy.signal import resample_poly

    sig = np.round(resample_poly(r.d_signal.astype(float), 25, 36, axis=0, padtype="edge"))
    write_like(r, tmp_path, "r250", sig.astype(np.int64), fs=250, sig_name=["ECG1", "ECG2"])
    proc = tinyecg("detect", tmp_path / "r250", "--lead", "ECG2")
    assert proc.returncode == 0, proc.stderr
    assert "lead ECG2, resampled from 250 Hz" in proc.stdout
    one_line_error(
        tinyecg("detect", tmp_path / "r250", "--lead", "MLII"), "r250.hea", "no lead 'MLII'"
    )


# --------------------------------------------------------------------------- stream, data, evaluate


def test_stream_bad_record_fails_before_the_port(rec):
    rec.with_suffix(".dat").write_bytes(b"")
    # a port that does not exist: the record must be refused first
    one_line_error(
        tinyecg("stream", "--port", "/dev/does-not-exist", "--record", rec), "100.dat", "truncated"
    )


def test_sampling_frequency_zero(rec):
    _edit_header(rec, "100 2 360 64800", "100 2 0 64800")
    one_line_error(tinyecg("data", "info", "--data", rec.parent), "100.hea", "sampling frequency 0")


@pytest.mark.parametrize("kind", ["unwritable", "file", "folder-at-cache-name"])
def test_unusable_cache_location_only_costs_the_cache(tmp_path, kind):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("100", "119"):
        for ext in ("hea", "dat", "atr"):
            shutil.copy(EXCERPT / f"{name}.{ext}", data / f"{name}.{ext}")
    cache = tmp_path / "cache"
    if kind == "unwritable":
        # not even root can create a folder in /proc (a 0555 folder would not stop root)
        cache = Path("/proc/tinyecg-cache")
    elif kind == "file":
        cache.write_text("not a folder")
    else:
        from tinyecg.data.dataset import dataset_key
        from tinyecg.data.records import list_records

        cache.mkdir()
        key = dataset_key(data, list_records(data), "nlrav", False, "atr")
        (cache / f"beats-{key}.npz").mkdir()
    proc = tinyecg("data", "info", "--data", data, env={"TINYECG_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert "beats from 2 records" in proc.stdout
    assert "cache not written" in proc.stderr and "Traceback" not in proc.stderr


def test_a_killed_cache_write_is_swept(tmp_path):
    """A partial cache file left by a killed `data info` is removed by the next write."""
    from tinyecg import outputs

    cache = tmp_path / "cache"
    cache.mkdir()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    left = cache / f"{outputs.PARTIAL}{dead}-abcd1234-beats-0123.npz"
    left.write_bytes(b"x" * 1000)
    mine = cache / f"{outputs.PARTIAL}{os.getpid()}-abcd1234-beats-0123.npz"
    mine.write_bytes(b"x")
    proc = tinyecg("data", "info", env={"TINYECG_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr
    assert not left.exists() and mine.exists()  # a live writer's file is left alone
    assert any(p.name.startswith("beats-") for p in cache.iterdir())


def test_demo_refuses_a_flat_beat():
    from tinyecg.app.demo import parse_beat
    from tinyecg.errors import TinyECGError

    with pytest.raises(TinyECGError, match="flat"):
        parse_beat("\n".join(["1024"] * 360))


def _dead_pid() -> str:
    return subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()


def test_export_force_that_cannot_finish_changes_nothing(tmp_path):
    from tinyecg import outputs

    out = tmp_path / "out"
    assert tinyecg("export", "--out", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "tinyecg_golden.c").unlink()
    (out / "tinyecg_golden.c").mkdir()  # one target name is now a folder
    del before["tinyecg_golden.c"]
    left = tmp_path / f"{outputs.PARTIAL}{_dead_pid()}-0badc0de-out"
    left.mkdir()  # what a killed export leaves
    (left / "tinyecg_model_data.c").write_text("half")
    one_line_error(
        tinyecg("export", "--out", out, "--runtime", "c", "--force"),
        "tinyecg_golden.c",
        "is a folder",
    )
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not left.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(outputs.PARTIAL)]


def test_evaluate_report_set_is_written_whole(tmp_path):
    """report.json, report.md and confusion.png are replaced together: a failure while
    writing the set leaves the old three."""
    from tinyecg import outputs

    run = tmp_path / "run"
    run.mkdir()
    for name, text in (("report.json", "{}"), ("report.md", "old"), ("confusion.png", "old")):
        (run / name).write_text(text)
    (run / "model.tflite").write_text("model")
    with pytest.raises(RuntimeError):
        with outputs.write_set_folder(run) as tmp:
            (tmp / "report.json").write_text('{"new": 1}')
            raise RuntimeError("killed half way")
    assert (run / "report.json").read_text() == "{}" and (run / "report.md").read_text() == "old"
    outputs.write_set(
        run, {"report.json": "{}", "report.md": "new", "confusion.png": b"png"}, require_empty=False
    )
    assert (run / "report.md").read_text() == "new" and (run / "model.tflite").is_file()
