"""The firmware's portable C core (firmware/lib/tinyecg_core) built with the strict flags and
run through the host harness: QRS detection on real MIT-BIH excerpts, beat windows and RR
context against the Python references, and the serial protocol's robustness."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tinyecg.device import detect
from tinyecg.dsp import rhythm

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "firmware" / "lib" / "tinyecg_core"
EXCERPTS = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
FIVE_MIN = 5 * 60 * 360


def _full_data() -> Path | None:
    for cand in (
        os.environ.get("TINYECG_DATA"),
        os.environ.get("TINYECG_FULL_DATA"),
        ROOT.parent / "shared" / "data" / "mitdb",
    ):
        if cand and (Path(cand) / "208.hea").is_file():
            return Path(cand)
    return None


FULL = _full_data()


def record(name: str):
    """(path, sampto): the first 5 minutes of the full record, else the bundled 3-minute
    excerpt of the same record (real MIT-BIH samples and annotations)."""
    if FULL is not None:
        return FULL / name, FIVE_MIN
    if (EXCERPTS / f"{name}.hea").is_file():
        return EXCERPTS / name, None
    pytest.skip(f"MIT-BIH record {name} not found (../shared/data/mitdb or $TINYECG_DATA)")


@pytest.fixture(scope="module")
def exe(tmp_path_factory):
    return detect.build_host_harness(tmp_path_factory.mktemp("host"))


def run(exe, text: str | bytes, *args) -> str:
    data = text.encode() if isinstance(text, str) else text
    return detect.run_harness(exe, data, *args)


def stats(out: str) -> dict:
    line = [ln for ln in out.splitlines() if ln.startswith("# stats")][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def samples_of(name):
    path, sampto = record(name)
    x, _, (lo, hi) = detect.read_record(path, sampto=sampto)
    return path, sampto, x, lo, hi


# ---------------------------------------------------------------------------- build


def test_core_compiles_strict_without_heap_or_float(tmp_path, strict_c_flags):
    """Every core file compiles alone with the strict flags, and the objects call neither the
    allocator nor floating-point helpers (checked on a no-FPU Cortex-M0 build if the ARM
    compiler is there, else on the host objects' undefined symbols)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    srcs = detect.core_sources()  # the core and the rhythm front end it runs
    assert {p.name for p in srcs} >= {
        "tinyecg_detector.c",
        "tinyecg_beats.c",
        "tinyecg_app.c",
        "tinyecg_rhythm_task.c",
        "tinyecg_rhythm_frontend.c",
    }
    incs = [f"-I{inc}" for inc in detect.core_includes()]
    arm = shutil.which("arm-none-eabi-gcc")
    for src in srcs:
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(
            [cc, *strict_c_flags, "-O2", *incs, "-c", str(src), "-o", str(obj)],
            check=True,
            capture_output=True,
        )
        if arm:
            aobj = tmp_path / (src.stem + ".m0.o")
            subprocess.run(
                [
                    arm,
                    *strict_c_flags,
                    "-Os",
                    "-mcpu=cortex-m0",
                    "-mthumb",
                    *incs,
                    "-c",
                    str(src),
                    "-o",
                    str(aobj),
                ],
                check=True,
                capture_output=True,
            )
            nm = shutil.which("arm-none-eabi-nm")
            undef = subprocess.run(
                [nm, "-u", str(aobj)], check=True, capture_output=True, text=True
            ).stdout
        else:
            undef = subprocess.run(
                ["nm", "-u", str(obj)], check=True, capture_output=True, text=True
            ).stdout
        names = {ln.split()[-1] for ln in undef.splitlines() if ln.strip()}
        assert not names & {"malloc", "calloc", "realloc", "free", "printf", "sprintf"}, src
        float_helpers = [
            n
            for n in names
            if re.match(
                r"__aeabi_[fd]|__(add|sub|mul|div)[sd]f3|"
                r"__float|__fix",
                n,
            )
        ]
        assert not float_helpers, (src.name, float_helpers)
    # headers are self-contained
    for hdr in sorted((CORE / "include").glob("*.h")):
        probe = tmp_path / f"probe_{hdr.stem}.c"
        probe.write_text(
            f'#include "{hdr.name}"\nint probe_{hdr.stem}(void);\n'
            f"int probe_{hdr.stem}(void) {{ return 0; }}\n"
        )
        subprocess.run(
            [
                cc,
                *strict_c_flags,
                *incs,
                "-c",
                str(probe),
                "-o",
                str(tmp_path / f"{hdr.stem}.o"),
            ],
            check=True,
            capture_output=True,
        )


def test_compile_c_is_strict_and_names_the_error(tmp_path):
    """tinyecg.device.cbuild: a narrowing conversion fails the build (the strict flags), the
    message is the compiler's error line, and defines are checked before any compiler runs."""
    from tinyecg.device import cbuild
    from tinyecg.errors import TinyECGError

    src = tmp_path / "probe.c"
    src.write_text("int main(void) { int x = 3.5; return x + N; }\n")
    with pytest.raises(TinyECGError, match=r"probe does not compile: .*error: conversion"):
        cbuild.compile_c([src], tmp_path / "probe", defines={"N": 1}, what="probe")
    with pytest.raises(TinyECGError, match="define 'N=1; rm'"):
        cbuild.compile_c([src], tmp_path / "probe", defines={"N": "1; rm"})
    src.write_text("int main(void) { return N - 2; }\n")
    exe = cbuild.compile_c([src], tmp_path / "probe", defines={"N": 2})
    assert subprocess.run([str(exe)]).returncode == 0


# ---------------------------------------------------------------------------- detection


@pytest.mark.parametrize("name", ["100", "208"])
def test_detector_on_real_records(exe, name):
    path, sampto, x, lo, hi = samples_of(name)
    det = detect.detect_samples(x, exe=exe, adc_min=lo, adc_max=hi)
    ref = detect.reference_beats(path, sampto=sampto)
    s = detect.score_detections(ref, det)
    assert len(ref) > 200
    assert s["se"] >= 0.99 and s["ppv"] >= 0.99, s
    # alignment with the annotated R-peaks (windows are cut around them)
    j = np.clip(np.searchsorted(det, ref), 1, len(det) - 1)
    off = np.where(np.abs(det[j] - ref) < np.abs(det[j - 1] - ref), det[j] - ref, det[j - 1] - ref)
    off = off[np.abs(off) <= 54]
    assert np.median(np.abs(off)) <= 4 and np.mean(np.abs(off) <= 10) >= 0.9


def test_detector_is_gain_and_offset_independent(exe):
    """Thresholds adapt: 8x the amplitude around another baseline finds the same beats."""
    _, _, x, lo, hi = samples_of("100")
    x = x[:36000]
    a = detect.detect_samples(x, exe=exe, adc_min=lo, adc_max=hi)
    y = (x - 1024) * 8 - 3000
    b = detect.detect_samples(y, exe=exe)
    assert len(a) > 100
    assert len(a) == len(b) and np.max(np.abs(a - b)) <= 1


# ---------------------------------------------------------------------------- beats, RR


def _rr_lines(out):
    rows = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("R ")]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 5)


def _check_rr(rows, peaks):
    pre, post, local = rhythm.rr_intervals(peaks)
    index = {int(r): i for i, r in enumerate(peaks)}
    for r, p, q, s, c in rows:
        i = index[int(r)]
        assert (p, q) == (pre[i], post[i]), (r, p, q, pre[i], post[i])
        assert c == min(max(i, 1), rhythm.LOCAL_BEATS)
        assert s / c == pytest.approx(local[i], abs=1e-9)


def test_rr_and_windows_match_python_on_annotated_peaks(exe, tmp_path):
    """Injected R-peaks (the record's annotations): every beat's RR context equals
    rhythm.rr_intervals on the same list and its window equals raw[r-180:r+180]."""
    path, sampto, x, lo, hi = samples_of("208")
    peaks = detect.reference_beats(path, sampto=sampto)
    pf = tmp_path / "peaks.txt"
    pf.write_text("\n".join(map(str, peaks)) + "\n")
    out = run(
        exe,
        detect.samples_text(x),
        "--rr",
        "--windows",
        "--peak-file",
        str(pf),
        "--adc-min",
        str(lo),
        "--adc-max",
        str(hi),
    )
    rows = _rr_lines(out)
    expected = [r for r in peaks if r >= 180 and r + 180 <= len(x)]
    assert rows[:, 0].tolist() == expected
    _check_rr(rows, peaks)
    wins = [ln.split()[1:] for ln in out.splitlines() if ln.startswith("W ")]
    assert len(wins) == len(expected)
    for w in wins:
        r, vals = int(w[0]), np.asarray(w[1:], dtype=np.int64)
        assert np.array_equal(vals, x[r - 180 : r + 180]), r


def test_rr_on_detector_peaks_matches_python(exe):
    path, sampto, x, lo, hi = samples_of("100")
    out = run(
        exe, detect.samples_text(x), "--peaks", "--rr", "--adc-min", str(lo), "--adc-max", str(hi)
    )
    peaks = detect.parse_peaks("\n".join(ln for ln in out.splitlines() if not ln.startswith("R ")))
    rows = _rr_lines(out)
    assert len(rows) >= len(peaks) - 2 and np.all(np.diff(peaks) < 720)
    _check_rr(rows, peaks)


def test_rr_edge_rules(exe, tmp_path):
    """A single beat gets 360/360; a beat with no next beat within 2 s completes with
    post_rr = pre_rr; the first beat's pre_rr is its post_rr."""
    x = np.full(4000, 100, dtype=np.int64)
    x[::7] = 101  # not flat
    pf = tmp_path / "p.txt"
    pf.write_text("400\n700\n1000\n2500\n2800\n")
    out = run(exe, detect.samples_text(x), "--rr", "--peak-file", str(pf))
    rows = _rr_lines(out)
    assert rows.tolist() == [
        [400, 300, 300, 300, 1],
        [700, 300, 300, 300, 1],
        [1000, 300, 300, 600, 2],
        [2500, 1500, 300, 2100, 3],
        [2800, 300, 300, 2400, 4],
    ]
    pf.write_text("1000\n")
    rows = _rr_lines(run(exe, detect.samples_text(x), "--rr", "--peak-file", str(pf)))
    assert rows.tolist() == [[1000, 360, 360, 360, 1]]


# ---------------------------------------------------------------------------- protocol


def test_protocol_garbage_is_counted_and_skipped(exe):
    """Garbage lines interleaved with a real record, and out-of-range values in place of
    some of its samples, change nothing but the counters; each episode of bad input is
    reported once."""
    _, _, x, lo, hi = samples_of("100")
    x = x[:20000]
    clean = run(exe, detect.samples_text(x), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    peaks = detect.parse_peaks(clean)
    lines = [str(v) for v in x]
    # two samples of every 1000 replaced by out-of-range numbers, away from any R-peak
    # (the held value stands in for them, so an R-peak would move)
    replaced = []
    for start in range(0, len(x), 1000):
        i = next(
            i
            for i in range(start + 10, start + 900)
            if np.min(np.abs(peaks - i)) > 60 and np.min(np.abs(peaks - i - 1)) > 60
        )
        lines[i], lines[i + 1] = "99999999999", "-40000"
        replaced.append(i)
    noisy = []
    for i, ln in enumerate(lines):
        if i in replaced:  # garbage lines (not samples) just before the bad samples
            noisy += ["abc", "12x 7y", "", "  \r", "#bogus", "x" * 3000, "\x00\x01\xff", "#stats"]
        noisy.append(ln)
    # several samples per line, separated by commas and spaces, also valid
    noisy[100:106] = [",".join(noisy[100:103]) + " " + " ".join(noisy[103:106])] + [""] * 5
    data = ("\n".join(noisy) + "\n").encode("latin-1")
    out = run(exe, data, "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    assert detect.parse_peaks(out).tolist() == peaks.tolist()
    k = len(replaced)
    # one report per episode (they are 1000 samples apart: a clean second ends each)
    reports = [ln for ln in out.splitlines() if ln.startswith("# bad-input")]
    assert reports == ["# bad-input garbage"] * k
    st = stats(
        out + "\n" + run(exe, data + b"#stats\n", "--adc-min", str(lo), "--adc-max", str(hi))
    )
    assert st["samples"] == len(x)
    assert st["garbage"] == 4 * k  # abc, 12x, 7y, the binary line
    assert st["overlong"] == k
    assert st["out_of_range"] == 2 * k  # 11 digits, -40000 outside 0..2047
    assert st["unknown_commands"] == k


def test_bare_cr_and_crlf_end_lines_like_lf(exe):
    """Many serial terminals end lines with a bare CR: the core must hear them as lines (no
    LF ever arrives), and CRLF must count as one line end, not two."""
    _, _, x, lo, hi = samples_of("100")
    x = x[:20000]
    args = ("--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    text = "\n".join(str(v) for v in x) + "\n#stats\n"
    want = run(exe, text, *args)
    assert len(detect.parse_peaks(want)) > 50
    for ending in ("\r", "\r\n"):
        got = run(exe, text.replace("\n", ending), *args)
        assert got == want, repr(ending)
    # an over-long line is reported at its CR, without waiting for an LF that never comes
    out = run(exe, "1" * 3000 + "\r#stats\r", "--adc-min", str(lo), "--adc-max", str(hi))
    assert "# bad-input overlong" in out
    assert stats(out)["overlong"] == 1


def test_out_of_range_samples_keep_their_time_slot(exe):
    """A burst of out-of-range values in place of real samples (a glitching front end)
    must not shift the indices of the beats that follow it."""
    _, _, x, lo, hi = samples_of("100")
    x = x[:20000]
    clean = detect.parse_peaks(
        run(exe, detect.samples_text(x), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    )
    bad = x.copy()
    bad[5000:5020] = hi + 500
    out = run(exe, detect.samples_text(bad), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    got = detect.parse_peaks(out)
    assert out.count("# bad-input out-of-range") == 1
    after = clean[clean > 6000]
    assert set(after.tolist()) <= set(got.tolist())


def test_protocol_commands_and_reset(exe):
    _, _, x, lo, hi = samples_of("100")
    text = detect.samples_text(x[:10000]).decode()
    out = run(
        exe,
        text + "#reset\n" + text + "#end\n#stats\n#info\n",
        "--peaks",
        "--adc-min",
        str(lo),
        "--adc-max",
        str(hi),
    )
    first, second = out.split("# reset\n")
    assert detect.parse_peaks(first).tolist() == detect.parse_peaks(second).tolist()
    assert "# end" in second and stats(second)["samples"] == 10000
    assert second.rstrip().splitlines()[-1].startswith("# tinyecg ")


def _segment_scores(det, ref, a, b):
    return detect.score_detections(ref[(ref >= a) & (ref < b)], det[(det >= a) & (det < b)])


def test_lead_off_reported_once_and_detection_resumes(exe):
    path, sampto, x, lo, hi = samples_of("208")
    x = x[:72000].copy()
    x[20000:23000] = hi  # lead-off: railed ADC for 8 s
    x[23000:23100] = lo
    out = run(exe, detect.samples_text(x), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    status = [ln for ln in out.splitlines() if ln.startswith("#") and "tinyecg" not in ln]
    assert status == ["# lead-off", "# signal ok"]
    det = detect.parse_peaks(out)
    ref = detect.reference_beats(path, sampto=72000)
    assert not np.any((det > 20100) & (det < 23100))
    s = _segment_scores(det, ref, 23100 + 4 * 360, 72000)
    assert s["se"] >= 0.98 and s["ppv"] >= 0.98, s


def test_flat_reported_once_and_detection_resumes(exe):
    path, sampto, x, lo, hi = samples_of("100")
    x = x[:60000].copy()
    x[20000:26000] = 1000  # 16 s of silence
    out = run(exe, detect.samples_text(x), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    status = [ln for ln in out.splitlines() if ln.startswith("#") and "tinyecg" not in ln]
    assert status == ["# flat", "# signal ok"]
    det = detect.parse_peaks(out)
    ref = detect.reference_beats(path, sampto=60000)
    assert not np.any((det > 20200) & (det < 26000))
    s = _segment_scores(det, ref, 26000 + 5 * 360, 60000)
    assert s["se"] >= 0.98 and s["ppv"] >= 0.98, s


def test_stream_stopping_mid_beat(exe):
    """Input that ends (even mid-line) inside a beat's window: no crash, no half window."""
    path, sampto, x, lo, hi = samples_of("100")
    ref = detect.reference_beats(path, sampto=sampto)
    cut = int(ref[20] + 90)
    text = detect.samples_text(x[:cut]).decode() + "10"  # a partial last line
    out = run(exe, text, "--rr", "--windows", "--adc-min", str(lo), "--adc-max", str(hi))
    rows = _rr_lines(out)
    assert len(rows) >= 17
    assert rows[-1, 0] + 180 <= cut
    assert abs(rows[-1, 0] - ref[19]) <= 5  # beat 19 completes as a last beat (post = pre)
    assert rows[-1, 1] == rows[-1, 2]
    for ln in out.splitlines():
        if ln.startswith("W "):
            assert len(ln.split()) == 362
    # the classifying mode also ends cleanly
    out = run(exe, text, "--adc-min", str(lo), "--adc-max", str(hi))
    beats = [ln.split() for ln in out.splitlines() if ln.startswith("B ")]
    assert len(beats) == len(rows) and all(b[2] in ("N", "S", "V") for b in beats)


def test_input_that_stops_is_reported_once_and_detection_resumes(exe):
    """A replay that goes silent mid-beat (--idle-ms: the board's 'no byte for a while'):
    "# input stopped" once, the waiting beats come out, and when samples come back a new
    RR sequence starts and beats are found again."""
    _, _, x, lo, hi = samples_of("100")
    first, second = x[:10800], x[10800:21600]  # the cut falls wherever 30 s ends
    proc = subprocess.Popen(
        [str(exe), "--rr", "--idle-ms", "300", "--adc-min", str(lo), "--adc-max", str(hi)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        proc.stdin.write(detect.samples_text(first).decode())
        proc.stdin.flush()
        time.sleep(1.5)  # several idle periods: still one report
        proc.stdin.write(detect.samples_text(second).decode())
        proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    lines = out.splitlines()
    assert lines.count("# input stopped") == 1 and lines.count("# input resumed") == 1
    stop, resume = lines.index("# input stopped"), lines.index("# input resumed")
    assert stop < resume
    rows = [
        (i, [int(v) for v in ln.split()[1:]]) for i, ln in enumerate(lines) if ln.startswith("R ")
    ]
    before = [r for i, r in rows if i < resume]
    after = [r for i, r in rows if i > resume]
    # every beat whose window was complete when the input stopped is reported by then
    ref = detect.parse_peaks(
        run(exe, detect.samples_text(first), "--peaks", "--adc-min", str(lo), "--adc-max", str(hi))
    )
    complete = [int(r) for r in ref if 180 <= r <= len(first) - 180]
    assert [r[0] for r in before] == complete
    # the last one had no next beat: post = pre; a new sequence starts after the gap
    assert before[-1][2] == before[-1][1]
    assert len(after) > 20 and after[0][0] > len(first)
    assert after[0][1] == after[0][2]  # first beat of a sequence: pre = post
