"""The patient context on the device (TINYECG_PATIENT_CONTEXT: tinyecg_beats.c, tinyecg_app.c,
tinyecg_longterm.c) against the Python references (tinyecg.dsp.patient,
tinyecg.dsp.fixedpoint.longterm_features_int, tinyecg.device.device_path.patient), bit for bit:
compiled with gcc -std=c99 -Wall -Wextra -Werror -Wconversion -pedantic, fed real MIT-BIH
records with their annotated R-peaks (the bundled excerpts always, full records when
../shared/data/mitdb or $TINYECG_FULL_DATA has them), a lead-off break, a beat whose window
left the ring and a #reset."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import full_mitdb

from tinyecg import spec
from tinyecg.device import detect
from tinyecg.device.cbuild import compile_c
from tinyecg.device.device_path import device_beats, windows_at
from tinyecg.device.device_path.patient import device_patient_inputs, longterm_of_beats
from tinyecg.dsp import fixedpoint as fp
from tinyecg.export import preprocess as pp

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
DRIVER = ROOT / "tests" / "c" / "patient_core_main.c"
# (input scale, input zero point, rhythm scale, rhythm zero point)
VARIANTS = {"s05": (0.05, -20, 0.02, -128), "s0235": (0.0235, 7, 0.0157, -100)}
FULL_RECORDS = ("232", "201")  # long pauses (232) and atrial fibrillation (201)

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _params(name: str) -> dict:
    return fp.preprocess_params(*VARIANTS[name], rhythm_features="longterm", beat_channels=2)


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    root = tmp_path_factory.mktemp("patient_c")
    out = {}
    for name in VARIANTS:
        src = root / name
        src.mkdir()
        for fname, text in pp.render_preprocessing(_params(name), "test").items():
            (src / fname).write_text(text)
        out[name] = compile_c(
            [*detect.core_sources(), *detect.dsp_sources(), src / pp.SOURCE, DRIVER],
            src / "driver",
            includes=[src, *detect.core_includes(), detect.dsp_include()],
            defines=["TINYECG_PATIENT_CONTEXT=1"],
            what="patient core driver",
        )
    return out


def _events(peaks, reported_at, breaks=(), reset_at=None) -> bytes:
    rows = [(0, int(r), int(t)) for r, t in zip(peaks, reported_at)]
    rows += [(1, 0, int(b) + 1) for b in breaks]  # before the peaks reported then
    if reset_at is not None:
        rows.append((2, 0, int(reset_at)))
    rows.sort(key=lambda e: (e[2], 0 if e[0] != 0 else 1))
    return np.asarray(rows, np.int64).tobytes()


def _run(exe, x, events: bytes, tmp_path: Path) -> np.ndarray:
    (tmp_path / "x.bin").write_bytes(np.asarray(x, np.int16).tobytes())
    (tmp_path / "e.bin").write_bytes(events)
    out = subprocess.run(
        [str(exe), str(tmp_path / "x.bin"), str(tmp_path / "e.bin")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [list(map(int, line.split())) for line in out.splitlines()]
    return np.asarray(rows, np.int64).reshape(-1, 3 + 8 + 2 * spec.WINDOW)


def _scenario(base):
    """A record's samples, its annotated peaks reported 100 samples late (one of them
    2,000 late: its window has left the 2,048-sample ring), and a break in the middle."""
    x, _, _ = detect.read_record(base)
    peaks = detect.reference_beats(base)
    rep = peaks + 100
    k = len(peaks) // 3
    rep[k] = peaks[k] + 2000
    rep = np.maximum.accumulate(rep)
    keep = rep <= len(x)
    peaks, rep = peaks[keep], rep[keep]
    brk = int(peaks[2 * len(peaks) // 3]) + 50
    return np.asarray(x, np.int64), peaks, rep, [brk]


def _reference(x, peaks, rep, breaks, params):
    py = device_beats(peaks, rep, len(x), breaks)
    q = fp.preprocess_windows_int(windows_at(x, py.r), 1024, 200, params)
    beat, rhythm = device_patient_inputs(py, q, params)
    a16, d16 = longterm_of_beats(py)
    return py, np.column_stack([py.r, a16, d16, rhythm, beat]).astype(np.int64)


def _records():
    out = [EXCERPT / name for name in ("208", "100")]
    full = full_mitdb()
    if full is not None:
        out += [full / name for name in FULL_RECORDS if (full / f"{name}.dat").is_file()]
    return out


@pytest.mark.parametrize("base", _records(), ids=lambda p: p.name)
def test_core_inputs_equal_the_reference(drivers, base, tmp_path):
    x, peaks, rep, breaks = _scenario(base)
    params = _params("s05")
    py, want = _reference(x, peaks, rep, breaks, params)
    got = _run(drivers["s05"], x, _events(peaks, rep, breaks), tmp_path)
    assert py.skipped >= 1  # the late beat (and any before sample 180)
    assert len(got) == len(want) > 100
    assert np.array_equal(got[:, :3], want[:, :3])  # r, A, D
    assert np.array_equal(got[:, 3:11], want[:, 3:11])  # the 8 long-term features
    assert np.array_equal(got, want)  # the interleaved beat input: window and template
    # the state did its work: A moved, D is not zero, the template is not the window
    assert len(np.unique(got[:, 1])) > 10 and got[-1, 2] > 0
    assert np.any(got[5:, 12::2] != got[5:, 11::2])


def test_state_survives_a_break_and_reset_clears_it(drivers, tmp_path):
    x, peaks, rep, _ = _scenario(EXCERPT / "208")
    params = _params("s0235")
    _, with_break = _reference(x, peaks, rep, [int(x.size // 2)], params)
    _, fresh = _reference(x, peaks[peaks > x.size // 2], rep[peaks > x.size // 2], [], params)
    # after the break the first beat has no real pre, but A, D and T carry on
    later = with_break[with_break[:, 0] > x.size // 2 + 400]
    assert not np.array_equal(later[:5, 1:], fresh[fresh[:, 0] >= later[0, 0]][:5, 1:])
    got = _run(drivers["s0235"], x, _events(peaks, rep, [x.size // 2]), tmp_path)
    assert np.array_equal(got, with_break)
    # #reset: the same stream twice, reset between (the driver counts samples from 0
    # again, as the core does): the second copy gives exactly the lines of a fresh core
    n = len(x)
    rows = np.frombuffer(_events(peaks, rep), np.int64).reshape(-1, 3)
    second = rows.copy()
    second[:, 2] += n  # the driver's event clock runs on; its sample index restarts
    reset = np.array([[2, 0, n]], np.int64)
    ev = np.concatenate([rows, reset, second])
    got2 = _run(drivers["s0235"], np.concatenate([x, x]), ev.tobytes(), tmp_path)
    first = _run(drivers["s0235"], x, _events(peaks, rep), tmp_path)
    restart = int(np.flatnonzero(np.diff(got2[:, 0]) < 0)[0]) + 1
    assert np.array_equal(got2[restart:], first)
    assert np.array_equal(got2[:restart], first[:restart])  # beats pending at the reset: lost


FEATURES_C = r"""
#include <stdio.h>
#include "tinyecg_preprocess_params.h"

/* int32 rows {pre, post, local_sum, local_count, A, D} on stdin -> int8[8] each on stdout */
int main(void)
{
    int32_t v[6];
    int8_t f[TINYECG_DSP_LONGTERM_FEATURES];
    while (fread(v, sizeof v, 1, stdin) == 1) {
        tinyecg_longterm_features(&tinyecg_model_preprocess, v[0], v[1], v[2], v[3], v[4], v[5], f);
        if (fwrite(f, sizeof f, 1, stdout) != 1) {
            return 4;
        }
    }
    return 0;
}
"""


def test_longterm_features_c_on_edge_values(tmp_path):
    """Clipping, saturation, the smallest values and the largest RR the C takes (2^24 - 1),
    through tinyecg_longterm_features alone, for both parameter variants."""
    rng = np.random.default_rng(3)
    n = 4000
    top = fp.longterm.MAX_RR - 1
    pre = np.concatenate([rng.integers(1, 5000, n), [1, top, 1, top, 360]])
    post = np.concatenate([rng.integers(1, 5000, n), [top, 1, 1, top, 360]])
    count = np.concatenate([rng.integers(1, 9, n), [1, 8, 1, 8, 8]])
    lsum = np.maximum(
        count * np.concatenate([rng.integers(1, 3000, n), [1, top, 1, top, 360]]), count
    )
    lsum = np.minimum(lsum, 8 * top)
    a16 = np.concatenate([rng.integers(1, 80000, n), [1, 16 * top, 16, 16 * top, 5760]])
    d16 = np.concatenate([rng.integers(0, 80000, n), [0, 16 * top, 0, 0, 5760]])
    rows = np.column_stack([pre, post, lsum, count, a16, d16]).astype(np.int32)
    for name in VARIANTS:
        params = _params(name)
        src = tmp_path / name
        src.mkdir()
        for fname, text in pp.render_preprocessing(params, "test").items():
            (src / fname).write_text(text)
        (src / "main.c").write_text(FEATURES_C)
        exe = compile_c(
            [*detect.dsp_sources(), src / pp.SOURCE, src / "main.c"],
            src / "features",
            includes=[src, detect.dsp_include(), detect.core_include()],
            what="long-term features",
        )
        out = subprocess.run(
            [str(exe)], input=rows.tobytes(), capture_output=True, timeout=60, check=True
        ).stdout
        got = np.frombuffer(out, np.int8).reshape(-1, 8)
        want = fp.longterm_features_int(pre, post, lsum, count, a16, d16, params)
        assert np.array_equal(got, want)
        scale, zp = VARIANTS[name][2:]
        # zero reached, and the clip at 4 (or int8 saturation, whichever comes first)
        assert got.min() == zp and got.max() == min(127, round(4 / scale) + zp)


def _c_define(path: Path, name: str) -> int:
    import re

    found = re.search(rf"^#define {name} (\d+)u?\b", path.read_text(), re.M)
    assert found is not None, f"{name} not in {path.name}"
    return int(found.group(1))


def test_c_constants_equal_spec():
    """The patient constants the C states with their origin (tinyecg_beats.h,
    tinyecg_longterm.c) are tinyecg/spec.py's."""
    beats_h = ROOT / "firmware" / "lib" / "tinyecg_core" / "include" / "tinyecg_beats.h"
    longterm_c = ROOT / "firmware" / "lib" / "tinyecg_dsp" / "src" / "tinyecg_longterm.c"
    assert _c_define(beats_h, "TINYECG_PATIENT_Q") == spec.PATIENT_Q
    assert _c_define(beats_h, "TINYECG_LONGTERM_RR_COUNT") == 1 << spec.LONGTERM_RR_SHIFT
    assert _c_define(beats_h, "TINYECG_RR_IRREGULARITY_COUNT") == 1 << spec.RR_IRREGULARITY_SHIFT
    assert _c_define(beats_h, "TINYECG_TEMPLATE_Q") == spec.TEMPLATE_Q
    assert _c_define(beats_h, "TINYECG_TEMPLATE_COUNT") == 1 << spec.TEMPLATE_SHIFT
    assert _c_define(beats_h, "TINYECG_TEMPLATE_MIN_PRE_PERCENT") == spec.TEMPLATE_MIN_PRE_PERCENT
    assert _c_define(longterm_c, "PATIENT_ONE") == 1 << spec.PATIENT_Q
    assert _c_define(longterm_c, "FEATURE_CLIP") == spec.LONGTERM_FEATURE_CLIP
    assert _c_define(longterm_c, "MAX_RR") == fp.longterm.MAX_RR - 1
