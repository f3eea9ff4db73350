"""The static preprocessing library (firmware/lib/tinyecg_dsp) with generated parameters
(tinyecg_preprocess_params.c) against the Python integer reference, bit for bit: compiled
with gcc -std=c99 -Wall -Wextra -Werror -Wconversion -pedantic, fed real MIT-BIH beats and
full-scale stress windows, on the host and under QEMU on Cortex-M4 and Cortex-M0+; plus its
constants against Python's, and the no-float, stack and C++ checks. No model export needed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyecg.device import detect
from tinyecg.device.cbuild import STRICT_C_FLAGS
from tinyecg.device.qemu import fnv1a32_hex
from tinyecg.dsp import fixedpoint as fp
from tinyecg.errors import TinyECGError
from tinyecg.export import preprocess as pp
from tinyecg.spec import PRE_R, WINDOW

GCC = shutil.which("gcc")
ARM_GCC = shutil.which("arm-none-eabi-gcc")
CFLAGS = list(STRICT_C_FLAGS)  # -std=c99 -Wall -Wextra -Werror -Wconversion -pedantic
# a C source compiled as C++ (some builds compile every file with g++)
AS_CXX = ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror"]
LIB_SOURCES = detect.dsp_sources()
INCLUDES = [detect.dsp_include(), detect.core_include()]
LIB_SRC_DIR = LIB_SOURCES[0].parent if LIB_SOURCES else None
RECORDS = ("100", "119", "208", "232")
BEATS_PER_RECORD = 300
# (input scale, input zero point, rhythm scale, rhythm zero point)
VARIANTS = {
    "s05": (0.05, -20, 0.02, -128),
    "s0235": (0.0235, 7, 0.0157, -100),
    "s1-norhythm": (0.1, -128, None, None),
}
# deepest libgcc helper chain reached from our code on Cortex-M0 (__aeabi_ldivmod ->
# __gnu_ldivmod_helper -> __divdi3 -> __udivmoddi4), from the push/sub sp prologues in
# arm-none-eabi-objdump -d libgcc.a: about 140 bytes; memcpy and __aeabi_lmul use less
LIB_CALL_BYTES = 160

MAIN_C = r"""
#include <stdio.h>
#include "tinyecg_preprocess_params.h"

/* usage: main w|r in.bin out.bin
 * w: records of int16 {baseline, gain, raw[360]} -> int8[360] each
 * r: records of int32 {pre, post, local_sum, local_count} -> int8[5] each (a model without
 *    rhythm input: the 5 bytes the call left untouched, 0x55 each) */
int main(int argc, char **argv)
{
    FILE *in, *out;
    if (argc != 4) {
        return 2;
    }
    in = fopen(argv[2], "rb");
    out = fopen(argv[3], "wb");
    if (in == NULL || out == NULL) {
        return 3;
    }
    if (argv[1][0] == 'w') {
        int16_t buf[2 + TINYECG_WINDOW];
        int8_t q[TINYECG_WINDOW];
        while (fread(buf, sizeof buf, 1, in) == 1) {
            tinyecg_adc_t adc;
            adc.baseline = buf[0];
            adc.gain_adu_per_mv = (uint16_t)buf[1];
            tinyecg_preprocess_window(&tinyecg_model_preprocess, buf + 2, &adc, q);
            if (fwrite(q, sizeof q, 1, out) != 1) {
                return 4;
            }
        }
    } else {
        int32_t rr[4];
        int8_t f[TINYECG_DSP_RHYTHM_FEATURES];
        while (fread(rr, sizeof rr, 1, in) == 1) {
            int i;
            for (i = 0; i < TINYECG_DSP_RHYTHM_FEATURES; ++i) {
                f[i] = 0x55;
            }
            tinyecg_rhythm_features(&tinyecg_model_preprocess, rr[0], rr[1], rr[2], rr[3], f);
            if (fwrite(f, sizeof f, 1, out) != 1) {
                return 4;
            }
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 5;
}
"""

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc not installed")


def _params(name: str) -> dict:
    return fp.preprocess_params(*VARIANTS[name])


def _render(out: Path, params: dict) -> Path:
    """The generated params (header and source) and the test program in out."""
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in pp.render_preprocessing(params, "test").items():
        (out / fname).write_text(text)
    (out / "main.c").write_text(MAIN_C)
    return out


def _inc(src: Path) -> list[str]:
    return [f"-I{d}" for d in (src, *INCLUDES)]


def _run(cmd: list, cwd: Path | None = None) -> str:
    res = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def _build(out: Path, params: dict, extra: list[str]) -> Path:
    src = _render(out, params)
    exe = src / "main"
    _run(
        [GCC, *CFLAGS, *extra, *_inc(src), *LIB_SOURCES, src / pp.SOURCE, src / "main.c", "-o", exe]
    )
    return exe


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    """Each variant built with -O2, and the first also with ASan + UBSan."""
    root = tmp_path_factory.mktemp("preprocess_c")
    exes = {name: _build(root / name, _params(name), ["-O2"]) for name in VARIANTS}
    exes["sanitized"] = _build(
        root / "sanitized",
        _params("s05"),
        ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
    )
    return exes


def _c_windows(exe: Path, raw, base, gain, tmp: Path) -> np.ndarray:
    n = len(raw)
    rec = np.zeros((n, 2 + WINDOW), np.int16)
    rec[:, 0] = base
    rec[:, 1] = np.asarray(gain, np.int64).astype(np.uint16).view(np.int16)
    rec[:, 2:] = raw
    (tmp / "w.in").write_bytes(rec.astype("<i2").tobytes())
    _run([exe, "w", tmp / "w.in", tmp / "w.out"])
    return np.frombuffer((tmp / "w.out").read_bytes(), np.int8).reshape(n, WINDOW)


def _c_rhythm(exe: Path, rr: np.ndarray, tmp: Path) -> np.ndarray:
    (tmp / "r.in").write_bytes(np.asarray(rr, "<i4").tobytes())
    _run([exe, "r", tmp / "r.in", tmp / "r.out"])
    return np.frombuffer((tmp / "r.out").read_bytes(), np.int8).reshape(len(rr), 5)


@pytest.fixture(scope="module")
def real(mitdb_dir):
    from tinyecg.data.beats import beats_from_record, rr_context
    from tinyecg.data.records import load_record
    from tinyecg.spec import BEAT_SYMBOLS

    raws, bases, gains, rrs = [], [], [], []
    for name in RECORDS:
        rec = load_record(mitdb_dir, name)
        beats = beats_from_record(rec, labels="aami")
        raws.append(beats.raw[:BEATS_PER_RECORD])
        bases.append(np.full(len(raws[-1]), rec.baseline))
        gains.append(np.full(len(raws[-1]), int(round(float(rec.gain)))))
        beat = np.isin(rec.ann_symbols, list(BEAT_SYMBOLS))
        rrs.append(rr_context(rec.ann_samples[beat]))
    return np.concatenate(raws), np.concatenate(bases), np.concatenate(gains), np.concatenate(rrs)


def _random_windows(n: int, seed: int):
    """Realistic ECG-like amplitudes with random offsets, gains and baselines, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW)
    amp = rng.uniform(1, 3000, (n, 1))
    sig = amp * np.exp(-(((t - 180) / rng.uniform(3, 30, (n, 1))) ** 2))
    sig += rng.normal(0, 1, (n, WINDOW)) * rng.uniform(0, 50, (n, 1))
    sig += rng.uniform(-20000, 20000, (n, 1)) + np.cumsum(rng.normal(0, 2, (n, WINDOW)), 1)
    raw = np.clip(np.round(sig), -32768, 32767).astype(np.int16)
    return raw, rng.integers(-32768, 32768, n), rng.integers(1, 65536, n)


# ----------------------------------------------------------------------------- the library
def test_library_compiles_on_its_own():
    """No model, no export: the library's sources alone, with the strict flags, as C and as
    C++ (some builds compile every file with g++)."""
    assert [p.name for p in LIB_SOURCES] == [
        "tinyecg_denoise.c",
        "tinyecg_longterm.c",  # a patient-context model's features (tests/test_patient_c.py)
        "tinyecg_preprocess.c",
        "tinyecg_rhythm.c",
    ]
    for opt in ("-O0", "-O2", "-Os"):
        for src in LIB_SOURCES:
            _run([GCC, *CFLAGS, opt, *_inc(LIB_SRC_DIR), "-c", src, "-o", "/dev/null"])
    gxx = shutil.which("g++")
    if gxx is not None:
        for src in LIB_SOURCES:
            _run([gxx, *AS_CXX, "-O2", *_inc(LIB_SRC_DIR), "-c", src, "-o", "/dev/null"])


def _c_defines(text: str) -> dict[str, int]:
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^#define (\w+) \(?(-?\d+)u?\)?\s", text, re.M)
    }


def _c_pairs(text: str, name: str) -> list[tuple[int, int]]:
    body = re.search(
        rf"static const int32_t {name}\[TAPS\]\[2\] = \{{(.*?)\n\}};", text, re.S
    ).group(1)
    return [(int(a), int(b)) for a, b in re.findall(r"\{(-?\d+), (-?\d+)\}", body)]


def test_library_constants_equal_python():
    """The model-independent constants of the C library are the Python reference's."""
    src = {p.name: p.read_text() for p in LIB_SRC_DIR.iterdir()}
    defs = _c_defines(src["tinyecg_dsp_internal.h"])
    want = {
        "FILTER_BITS": fp.FILTER_BITS,
        "BLOCK_BITS": fp.BLOCK_BITS,
        "BIAS_BITS": fp.ROUND_BIAS_BITS,
        "RECIP_BITS": fp.RECIP_BITS,
        "Z_PRE_BITS": fp.Z_PRE_BITS,
        "Z_BITS": fp.Z_BITS,
        "THR_BITS": fp.THR_BITS,
        "STD_FLOOR_DIV": fp.STD_FLOOR_DIV,
        "MEDIAN_HI": fp.MEDIAN_RANKS[1],
    }
    assert {k: defs.get(k) for k in want} == want
    assert fp.MEDIAN_RANKS[0] == fp.MEDIAN_RANKS[1] - 1  # the C takes rank 89 beside 90
    dwt = src["tinyecg_denoise.c"]
    assert _c_pairs(dwt, "k_dec") == list(zip(fp.DEC_LO_Q, fp.DEC_HI_Q))
    assert _c_pairs(dwt, "k_rec") == list(zip(fp.REC_LO_Q, fp.REC_HI_Q))
    thr = re.search(r"k_thr_mult = INT64_C\((\d+)\);", src["tinyecg_denoise.c"]).group(1)
    assert int(thr) == fp.THR_MULT
    header = detect.dsp_include() / "tinyecg_dsp.h"
    api = _c_defines(header.read_text())
    assert api["TINYECG_PREPROCESS_STACK_BYTES"] == pp.STACK_BYTES
    from tinyecg.dsp.rhythm import N_FEATURES

    assert api["TINYECG_DSP_RHYTHM_FEATURES"] == N_FEATURES


# ----------------------------------------------------------------------------- windows
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_c_equals_python_on_real_beats(programs, real, variant, tmp_path):
    raw, base, gain, _ = real
    params = _params(variant)
    got = _c_windows(programs[variant], raw, base, gain, tmp_path)
    want = fp.preprocess_windows_int(raw, base, gain, params)
    assert len(got) >= 1000
    assert np.array_equal(got, want), f"{np.sum(got != want)} of {got.size} values differ"
    # and the C output agrees with the float reference as the Python does
    z_float = fp.zscore_windows_float(raw, base, gain)
    q_float = fp.quantize_float(z_float, params["input_scale"], params["input_zero_point"])
    assert np.mean(got == q_float) >= 0.999
    assert np.abs(got.astype(int) - q_float).max() <= 1


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_c_equals_python_on_stress_and_random_windows(programs, variant, tmp_path):
    raw, base, gain = fp.stress_windows()
    r_raw, r_base, r_gain = _random_windows(600, seed=11)
    raw = np.concatenate([raw, r_raw])
    base = np.concatenate([base, r_base])
    gain = np.concatenate([gain, r_gain])
    got = _c_windows(programs[variant], raw, base, gain, tmp_path)
    want = fp.preprocess_windows_int(raw, base, gain, _params(variant))
    assert np.array_equal(got, want), f"{np.sum(got != want)} of {got.size} values differ"
    assert len(np.unique(got)) > 50  # the inputs exercise much of the int8 range


def test_sanitized_build_is_clean_and_exact(programs, real, tmp_path):
    """ASan + UBSan (signed overflow, shifts, bounds) over stress, random and real windows."""
    raw, base, gain = fp.stress_windows()
    r_raw, r_base, r_gain = _random_windows(200, seed=12)
    raw = np.concatenate([raw, r_raw, real[0][:300]])
    base = np.concatenate([base, r_base, real[1][:300]])
    gain = np.concatenate([gain, r_gain, real[2][:300]])
    got = _c_windows(programs["sanitized"], raw, base, gain, tmp_path)
    assert np.array_equal(got, fp.preprocess_windows_int(raw, base, gain, _params("s05")))


def test_c_quantization_with_a_short_shift_equals_python(real, tmp_path):
    """Input scales below 3.8e-6 give a quantization shift below 33: the C then takes its
    64-bit path instead of the high-word one. Absurd for a model, but it must still be exact
    (also under UBSan)."""
    params = fp.preprocess_params(2e-6, 3)
    assert params["quant_shift"] < 33
    raw, base, gain = fp.stress_windows()
    r_raw, r_base, r_gain = _random_windows(600, seed=11)
    raw = np.concatenate([raw, r_raw, real[0][:200]])
    base = np.concatenate([base, r_base, real[1][:200]])
    gain = np.concatenate([gain, r_gain, real[2][:200]])
    want = fp.preprocess_windows_int(raw, base, gain, params)
    for name, flags in (
        ("short", ["-O2"]),
        ("short-ubsan", ["-O1", "-fsanitize=undefined", "-fno-sanitize-recover=all"]),
    ):
        exe = _build(tmp_path / name, params, flags)
        got = _c_windows(exe, raw, base, gain, tmp_path)
        assert np.array_equal(got, want), name
    assert np.sum((got > -128) & (got < 127)) > 100  # not only saturated values


def test_c_gain_zero_means_one(programs, tmp_path):
    raw, _, _ = _random_windows(20, seed=13)
    got = _c_windows(programs["s05"], raw, np.zeros(20, int), np.zeros(20, int), tmp_path)
    assert np.array_equal(got, fp.preprocess_windows_int(raw, 0, 1, _params("s05")))


# ----------------------------------------------------------------------------- rhythm
def _rr_cases(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = 4000
    count = rng.integers(0, 9, n)
    lsum = np.maximum(count * rng.integers(1, 1500, n) + rng.integers(0, 8, n), count)
    rr = np.stack([rng.integers(1, 3000, n), rng.integers(1, 3000, n), lsum, count], 1)
    big = 2**31 - 1
    edge = np.array(
        [
            [1, 1, 1, 1],
            [1, 1, 0, 0],
            [big, big, big, big],
            [big, 1, big, 1],
            [1, big, 1, 1],
            [big, big, big, 0],
            [360, 360, 2880, 8],
            [1, 1, big, 1],
            [big, big, 1, 1],
            [big, 2, 9, 8],
        ]
    )
    return np.concatenate([rr, edge])


@pytest.mark.parametrize("variant", ["s05", "s0235"])
def test_rhythm_c_equals_python(programs, real, variant, tmp_path):
    params = _params(variant)
    rr = np.concatenate([_rr_cases(21), real[3]])
    got = _c_rhythm(programs[variant], rr, tmp_path)
    want = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    assert np.array_equal(got, want)
    assert len(np.unique(got)) > 50


def test_rhythm_c_clamps_out_of_range_input(programs, tmp_path):
    """The C cannot raise: pre/post < 1 -> 1, count < 1 -> no history, sum < count -> count."""
    params = _params("s05")
    bad = np.array(
        [
            [0, 300, 300, 1],
            [-5, -7, 300, 1],
            [300, 300, -9, -3],
            [300, 300, 2, 8],
            [-(2**31), -(2**31), -(2**31), -(2**31)],
        ]
    )
    fixed = np.array(
        [[1, 300, 300, 1], [1, 1, 300, 1], [300, 300, 0, 0], [300, 300, 8, 8], [1, 1, 0, 0]]
    )
    got = _c_rhythm(programs["s05"], bad, tmp_path)
    want = fp.rhythm_features_int(fixed[:, 0], fixed[:, 1], fixed[:, 2], fixed[:, 3], params)
    assert np.array_equal(got, want)


def test_rhythm_c_writes_nothing_for_a_model_without_rhythm(programs, tmp_path):
    got = _c_rhythm(programs["s1-norhythm"], _rr_cases(23)[-50:], tmp_path)
    assert np.all(got == 0x55)


# ----------------------------------------------------------------------------- C properties
def test_params_header_and_no_rhythm_variant():
    with_rr = pp.render_preprocessing(_params("s05"), "test")
    without = pp.render_preprocessing(_params("s1-norhythm"), "test")
    for files in (with_rr, without):
        assert set(files) == {"tinyecg_preprocess_params.h", "tinyecg_preprocess_params.c"}
        text = files[pp.HEADER]
        assert '#include "tinyecg_dsp.h"' in text
        assert 'extern "C"' in text and "#ifndef TINYECG_PREPROCESS_PARAMS_H" in text
        assert "extern const tinyecg_preprocess_params_t tinyecg_model_preprocess;" in text
        # the window constants come from tinyecg_spec.h (through tinyecg_dsp.h), not from here
        assert not re.search(r"#define TINYECG_(WINDOW|PRE_R|FS)\b", text)
    assert re.search(r"#define TINYECG_RHYTHM_FEATURES 5\b", with_rr[pp.HEADER])
    assert re.search(r"#define TINYECG_RHYTHM_FEATURES 0\b", without[pp.HEADER])
    code = re.sub(r"/\*.*?\*/", "", without[pp.SOURCE], flags=re.S)
    p = _params("s05")
    assert str(p["rhythm"]["seconds"]["mult"]) in with_rr[pp.SOURCE]
    assert re.findall(r"-?\d+", code.split("=", 1)[1]) == [
        str(_params("s1-norhythm")["quant_mult"]),
        str(_params("s1-norhythm")["quant_shift"]),
        "-128",
        "0",
        "0",
        "0",
        "64",
        "0",
        "0",
        "0",
        "64",
        "0",
        "0",
    ]  # INT64_C(0): "64", "0"
    spec_h = (detect.core_include() / "tinyecg_spec.h").read_text()
    assert re.search(rf"#define TINYECG_WINDOW {WINDOW}\b", spec_h)
    assert re.search(rf"#define TINYECG_PRE_R {PRE_R}\b", spec_h)


def _lib_and_params(tmp_path: Path) -> list[Path]:
    src = _render(tmp_path, _params("s05"))
    return [*LIB_SOURCES, src / pp.SOURCE]


def test_no_floating_point_and_no_heap(tmp_path):
    sources = _lib_and_params(tmp_path)
    for src in [*sources, *LIB_SRC_DIR.glob("*.h"), detect.dsp_include() / "tinyecg_dsp.h"]:
        code = re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)
        assert not re.search(r"\b(float|double|malloc|calloc|realloc|free)\b", code), src
    # x86-64: -mgeneral-regs-only rejects any floating-point operation
    for src in sources:
        _run(
            [
                GCC,
                *CFLAGS,
                "-O2",
                "-mgeneral-regs-only",
                *_inc(tmp_path),
                "-c",
                src,
                "-o",
                tmp_path / "x.o",
            ]
        )
    if ARM_GCC is None:
        pytest.skip("arm-none-eabi-gcc not installed: Cortex-M0 check skipped")
    for cpu in ("cortex-m0plus", "cortex-m4"):
        objs = []
        for src in sources:
            obj = tmp_path / f"{cpu}-{src.stem}.o"
            _run(
                [
                    ARM_GCC,
                    *CFLAGS,
                    "-Os",
                    f"-mcpu={cpu}",
                    "-mthumb",
                    *_inc(tmp_path),
                    "-c",
                    src,
                    "-o",
                    obj,
                ]
            )
            objs.append(obj)
        undefined = _run(["arm-none-eabi-nm", "-u", *objs]).split()
        assert not [s for s in undefined if re.match(r"__aeabi_([fd]|[iul]+2[fd])", s)]
        assert not [s for s in undefined if s in ("malloc", "free", "calloc", "realloc")]


def _max_stack(graphs: list[Path], lib_bytes: int) -> int:
    """Deepest stack of tinyecg_preprocess_window / tinyecg_rhythm_features in the gcc
    -fcallgraph-info=su graphs of the library's files (merged: the calls cross files);
    functions defined in none of them count lib_bytes."""
    node = r'node: \{ title: "([^"]+)" label: "[^"]*\\n(\d+) bytes \((?:static|dynamic,bounded)\)'
    frame: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    for ci in graphs:
        text = ci.read_text()
        assert "dynamic" not in re.sub(r"dynamic,bounded", "", text)
        frame.update({m.group(1): int(m.group(2)) for m in re.finditer(node, text)})
        for m in re.finditer(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', text):
            calls.setdefault(m.group(1), set()).add(m.group(2))

    def depth(fn: str, seen: frozenset) -> int:
        assert fn not in seen, f"recursion through {fn}"
        if fn not in frame:
            return lib_bytes
        return frame[fn] + max((depth(c, seen | {fn}) for c in calls.get(fn, ())), default=0)

    roots = [t for t in frame if t in ("tinyecg_preprocess_window", "tinyecg_rhythm_features")]
    assert len(roots) == 2
    assert "tinyecg_denoise_window" in frame
    return max(depth(r, frozenset()) for r in roots)


def test_stack_bound_in_header_holds(tmp_path):
    header = (detect.dsp_include() / "tinyecg_dsp.h").read_text()
    bound = int(re.search(r"#define TINYECG_PREPROCESS_STACK_BYTES (\d+)", header).group(1))
    assert bound == pp.STACK_BYTES and pp.STACK_BUFFER_BYTES == 2880
    builds = [("x86-64", GCC, [])]
    if ARM_GCC:
        builds += [
            (cpu, ARM_GCC, [f"-mcpu={cpu}", "-mthumb"]) for cpu in ("cortex-m0plus", "cortex-m4")
        ]
    measured = {}
    for name, cc, arch in builds:
        for opt in ("-O0", "-O2", "-Os"):
            graphs = []
            for src in LIB_SOURCES:
                obj = tmp_path / f"{name}{opt}-{src.stem}.o"
                _run(
                    [
                        cc,
                        *CFLAGS,
                        *arch,
                        opt,
                        "-fcallgraph-info=su",
                        *_inc(LIB_SRC_DIR),
                        "-c",
                        src,
                        "-o",
                        obj,
                    ],
                    cwd=tmp_path,
                )
                graphs.append(obj.with_suffix(".ci"))
            measured[name + opt] = _max_stack(graphs, LIB_CALL_BYTES)
    assert max(measured.values()) <= bound, measured
    assert min(measured.values()) >= pp.STACK_BUFFER_BYTES, measured


def test_header_links_from_cpp(tmp_path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    sources = _lib_and_params(tmp_path)
    (tmp_path / "use.cpp").write_text(
        '#include <cstdio>\n#include "tinyecg_preprocess_params.h"\n'
        "int main() {\n"
        "    int16_t raw[TINYECG_WINDOW] = {0};\n"
        "    int8_t out[TINYECG_WINDOW];\n"
        "    int8_t rr[TINYECG_RHYTHM_FEATURES];\n"
        "    tinyecg_adc_t adc = {1024, 200};\n"
        "    raw[TINYECG_PRE_R] = 100;\n"
        "    tinyecg_preprocess_window(&tinyecg_model_preprocess, raw, &adc, out);\n"
        "    tinyecg_rhythm_features(&tinyecg_model_preprocess, 360, 360, 2880, 8, rr);\n"
        '    std::printf("%d %d\\n", out[TINYECG_PRE_R], rr[4]);\n'
        "    return 0;\n"
        "}\n"
    )
    objs = []
    for src in sources:
        objs.append(tmp_path / f"{src.stem}.o")
        _run([GCC, *CFLAGS, "-O2", *_inc(tmp_path), "-c", src, "-o", objs[-1]])
        # and each source compiles as C++ (some builds compile every file with g++)
        _run(
            [gxx, *AS_CXX, "-O2", *_inc(tmp_path), "-c", src, "-o", tmp_path / f"{src.stem}_cxx.o"]
        )
    _run(
        [
            gxx,
            "-std=c++11",
            "-Wall",
            "-Wextra",
            "-Werror",
            *_inc(tmp_path),
            tmp_path / "use.cpp",
            *objs,
            "-o",
            tmp_path / "use",
        ]
    )
    printed = _run([tmp_path / "use"]).split()
    raw = np.zeros(WINDOW, np.int16)
    raw[PRE_R] = 100
    want_beat = fp.preprocess_windows_int(raw, 1024, 200, _params("s05"))[PRE_R]
    want_rr = fp.rhythm_features_int(360, 360, 2880, 8, _params("s05"))[0, 4]
    assert printed == [str(want_beat), str(want_rr)]


def _uncommented_constants(text: str) -> list[str]:
    """File-scope #defines (not include guards) and static consts, and initializer lines that
    hold numbers, without a comment on the line (or, for the former, ending the line above)."""
    lines = text.splitlines()
    bad = []
    for i, line in enumerate(lines):
        s = line.strip()
        file_scope = line.startswith(("#define", "static const")) and not re.match(
            r"#define \w+_H$", line
        )
        number = re.match(r"^(\{+)?-?\d+u?[,}]|^INT64_C\(", s) is not None
        above = i > 0 and lines[i - 1].rstrip().endswith("*/")
        if (file_scope and not ("/*" in line or above)) or (number and "/*" not in line):
            bad.append(line)
    return bad


def test_every_constant_is_commented():
    for variant in VARIANTS:
        text = pp.render_preprocessing(_params(variant), "test")[pp.SOURCE]
        assert not _uncommented_constants(text), variant
    text = pp.render_preprocessing(_params("s05"), "test")[pp.SOURCE]
    for value in ("0.05", "-20", "0.02", "-128", "Q20", "Q31", "2^-shift"):
        assert value in text
    for path in [*LIB_SRC_DIR.iterdir(), detect.dsp_include() / "tinyecg_dsp.h"]:
        assert not _uncommented_constants(path.read_text()), path
    internal = (LIB_SRC_DIR / "tinyecg_dsp_internal.h").read_text()
    assert "tinyecg/dsp/fixedpoint/formats.py" in internal
    assert "tinyecg/dsp/fixedpoint/formats.py" in (LIB_SRC_DIR / "tinyecg_denoise.c").read_text()


def test_render_refuses_foreign_params():
    params = _params("s05")
    with pytest.raises(TinyECGError):
        pp.render_preprocessing({**params, "thr_mult": params["thr_mult"] + 1}, "x")
    with pytest.raises(TinyECGError):
        pp.render_preprocessing({k: v for k, v in params.items() if k != "quant_mult"}, "x")
    with pytest.raises(TinyECGError):
        pp.render_preprocessing("not params", "x")


# ----------------------------------------------------------------------------- Cortex-M
BOARD_MAIN_C = r"""
#include <stdio.h>
#include "platform.h"
#include "tinyecg_preprocess_params.h"
#include "windows.h"

/* one line per window: FNV-1a of its 360 int8 outputs, then one line of rhythm features */
int main(void)
{
    uint32_t w, i;
    static int8_t out[TINYECG_WINDOW];
    int8_t rr[TINYECG_RHYTHM_FEATURES];
    platform_init();
    for (w = 0; w < N_WINDOWS; ++w) {
        uint32_t h = 2166136261u;
        tinyecg_adc_t adc;
        adc.baseline = k_base[w];
        adc.gain_adu_per_mv = k_gain[w];
        tinyecg_preprocess_window(&tinyecg_model_preprocess, k_raw[w], &adc, out);
        for (i = 0; i < TINYECG_WINDOW; ++i) {
            h = (h ^ (uint8_t)out[i]) * 16777619u;
        }
        printf("%08lx\n", (unsigned long)h);
    }
    for (w = 0; w < N_RR; ++w) {
        tinyecg_rhythm_features(&tinyecg_model_preprocess, k_rr[w][0], k_rr[w][1], k_rr[w][2],
                                k_rr[w][3], rr);
        for (i = 0; i < TINYECG_RHYTHM_FEATURES; ++i) {
            printf("%d ", rr[i]);
        }
    }
    printf("\n");
    return 0;
}
"""


@pytest.mark.parametrize("arch", ["m4", "m0"])
def test_cortex_m_under_qemu_equals_python(tmp_path, arch):
    """The library cross-compiled for Cortex-M4 and Cortex-M0+ (32-bit int, newlib; on M0+
    every 64-bit product is a libgcc call) with the mps2-an386 target and run in QEMU."""
    from tinyecg.device import qemu

    if qemu.missing_tools():
        pytest.skip(f"needs {', '.join(qemu.missing_tools())}")
    params = _params("s05")
    src = _render(tmp_path / "src", params)
    raw, base, gain = fp.stress_windows()
    r_raw, r_base, r_gain = _random_windows(60, seed=14)
    step = 3 if arch == "m4" else 9  # the M0+ is ten times slower
    raw = np.concatenate([raw[::step], r_raw])
    base = np.concatenate([base[::step], r_base])
    gain = np.concatenate([gain[::step], r_gain])
    rr = _rr_cases(22)[-40:]
    (src / "windows.h").write_text(
        pp.windows_header(raw, base, gain) + f"#define N_RR {len(rr)}u\n"
        "static const int32_t k_rr[N_RR][4] = {"
        + ",".join("{" + ",".join(map(str, r)) + "}" for r in rr.tolist())
        + "};\n"
    )
    (src / "board.c").write_text(BOARD_MAIN_C)
    elf = qemu.build(
        [src / "board.c", src / pp.SOURCE, *LIB_SOURCES],
        includes=[src, *INCLUDES],
        out_dir=tmp_path / "build",
        arch=arch,
        app="dsp",
        extra_cflags=["-O2", "-Wconversion"],
    )
    res = qemu.run(elf, timeout=120, machine=qemu.MACHINES[arch])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    want = [fnv1a32_hex(q) for q in fp.preprocess_windows_int(raw, base, gain, params)]
    assert lines[: len(raw)] == want
    want_rr = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    assert lines[len(raw)].split() == [str(v) for v in want_rr.ravel().tolist()]


# instructions per window the preprocessing may take on Cortex-M4 at -O2 (the per-beat budget
# is 500,000 including inference); measured 66,000 on real beats, 76,600 at worst on the stress
# windows (docs/preprocessing.md, scripts/bench_preprocess_qemu.py)
M4_BUDGET = 80_000


def test_cortex_m4_instructions_per_window_within_budget(tmp_path):
    """The speed is a requirement too: count instructions under QEMU -icount (the platform's
    SysTick counter) for ECG-like and stress windows, with the outputs checked again."""
    from tinyecg.device import qemu

    if qemu.missing_tools():
        pytest.skip(f"needs {', '.join(qemu.missing_tools())}")
    params = _params("s05")
    src = _render(tmp_path / "src", params)
    raw, base, gain = _random_windows(12, seed=15)
    s_raw, s_base, s_gain = fp.stress_windows()
    raw, base, gain = (
        np.concatenate([a, b[::27]]) for a, b in ((raw, s_raw), (base, s_base), (gain, s_gain))
    )
    (src / "bench_windows.h").write_text(pp.windows_header(raw, base, gain))
    elf = qemu.build(
        [qemu.target_dir() / "examples" / "preprocess_count.c", src / pp.SOURCE, *LIB_SOURCES],
        includes=[src, *INCLUDES],
        out_dir=tmp_path / "build",
        arch="m4",
        app="count",
        extra_cflags=["-O2"],
    )
    res = qemu.run(elf, timeout=60)
    assert res.returncode == 0, res.stderr
    # "w <index> <instructions> <hash>" per window
    lines = [line.split()[1:] for line in res.stdout.splitlines() if line.startswith("w ")]
    assert [int(w) for w, _, _ in lines] == list(range(len(raw)))
    assert [h for _, _, h in lines] == [
        fnv1a32_hex(q) for q in fp.preprocess_windows_int(raw, base, gain, params)
    ]
    counts = np.array([int(n) for _, n, _ in lines])
    assert counts.min() > 20_000  # the counter works (the filters alone need 10,080 MACs)
    assert counts.max() <= M4_BUDGET, counts.tolist()
