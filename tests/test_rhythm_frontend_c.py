"""The shockable-rhythm front end in C (firmware/lib/tinyecg_rhythm) against its Python
integer reference (tinyecg.dsp.rhythm_frontend), bit for bit: compiled with the package's
strict flags (tinyecg.device.cbuild.STRICT_C_FLAGS), fed real vfdb / cudb / mitdb excerpts
(VF onsets, asystole, NSR) and full-scale stress input; every 90 Hz stream sample, every
int8 window and every amplitude-gate decision must match. Plus its constants against
tinyecg.spec, and a Cortex-M4 build without floating point."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyecg import paths, spec
from tinyecg.data.records import read_signal
from tinyecg.data.rhythm import window_ends
from tinyecg.device.cbuild import STRICT_C_FLAGS, compile_c
from tinyecg.dsp import rhythm_frontend as fe

LIB = paths.firmware_dir() / "lib" / "tinyecg_rhythm"
HEADER = LIB / "include" / "tinyecg_rhythm_frontend.h"
SOURCE = LIB / "src" / "tinyecg_rhythm_frontend.c"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# (database, record, start s, seconds): 424 VF onset ~ 1325 s and asystole, cu01's VF onset
# at 214 s, 207's flutter at 40 s, 421's rapid VT, mitdb 100 NSR
EXCERPTS = [
    ("vfdb", "424", 1300, 90),
    ("cudb", "cu01", 190, 60),
    ("mitdb", "207", 20, 60),
    ("vfdb", "421", 1420, 40),
    ("mitdb", "100", 0, 30),
]

MAIN_C = r"""
#include <stdio.h>
#include "tinyecg_rhythm_frontend.h"

/* usage: main in.bin stream.bin windows.bin
 * in: uint16 gain, then int32 samples (ADC - baseline) at 360 Hz
 * stream: every int16 stream sample; windows: per decision int8[720] then the gate byte */
int main(int argc, char **argv)
{
    static tinyecg_rhythm_frontend_t fe;
    FILE *in, *st, *wn;
    uint16_t gain;
    int32_t x;
    if (argc != 4) {
        return 2;
    }
    in = fopen(argv[1], "rb");
    st = fopen(argv[2], "wb");
    wn = fopen(argv[3], "wb");
    if (in == NULL || st == NULL || wn == NULL || fread(&gain, sizeof gain, 1, in) != 1) {
        return 3;
    }
    tinyecg_rhythm_frontend_init(&fe);
    while (fread(&x, sizeof x, 1, in) == 1) {
        int16_t z;
        int r = tinyecg_rhythm_frontend_push(&fe, x, &z);
        if (r != TINYECG_RHYTHM_NOTHING && fwrite(&z, sizeof z, 1, st) != 1) {
            return 4;
        }
        if (r == TINYECG_RHYTHM_DECISION) {
            int8_t q[TINYECG_RHYTHM_WINDOW];
            int8_t gate = (int8_t)tinyecg_rhythm_window(&fe, gain, q);
            if (fwrite(q, sizeof q, 1, wn) != 1 || fwrite(&gate, 1, 1, wn) != 1) {
                return 5;
            }
        }
    }
    fclose(st);
    fclose(wn);
    return 0;
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    d = tmp_path_factory.mktemp("rhythm_c")
    main = d / "main.c"
    main.write_text(MAIN_C)
    return compile_c(
        [main, SOURCE],
        d / "rhythm_frontend",
        includes=[LIB / "include"],
        what="rhythm front end harness",
    ), d


def run_c(harness, x: np.ndarray, gain: int):
    exe, d = harness
    (d / "in.bin").write_bytes(np.uint16(gain).tobytes() + np.asarray(x, "<i4").tobytes())
    subprocess.run([str(exe), str(d / "in.bin"), str(d / "st.bin"), str(d / "wn.bin")], check=True)
    stream = np.fromfile(d / "st.bin", "<i2")
    rows = np.fromfile(d / "wn.bin", np.int8).reshape(-1, spec.RHYTHM_WINDOW + 1)
    return stream, rows[:, :-1], rows[:, -1].astype(bool)


def python_reference(x: np.ndarray, gain: int):
    stream = fe.stream_int(x)
    ends = window_ends(len(stream))
    w = fe.windows_at(stream, ends, spec.RHYTHM_WINDOW)
    return stream, fe.normalise_int(w, gain), fe.amplitude_gate(w, gain)


def assert_bit_exact(harness, x, gain):
    c_stream, c_q, c_gate = run_c(harness, x, gain)
    p_stream, p_q, p_gate = python_reference(x, gain)
    np.testing.assert_array_equal(c_stream, p_stream)
    assert len(c_q) == len(p_q) > 0
    np.testing.assert_array_equal(c_q, p_q)
    np.testing.assert_array_equal(c_gate, p_gate)
    return p_gate


@pytest.mark.parametrize("db,name,start,seconds", EXCERPTS)
def test_c_front_end_equals_python_on_real_excerpts(harness, db, name, start, seconds):
    base = SHARED / db / name
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"needs ../shared/data/{db} (the issue-15 databases)")
    sig = read_signal(base, sampfrom=start * spec.FS, sampto=(start + seconds) * spec.FS)
    gate = assert_bit_exact(harness, sig.adc - sig.baseline, round(sig.gain))
    assert gate.any()  # real ECG opens the gate somewhere in each excerpt


def test_c_front_end_equals_python_at_full_scale(harness):
    rng = np.random.default_rng(3)
    n = 25 * spec.FS
    square = np.where((np.arange(n) // 7) % 2 == 0, 40000, -40000)  # beyond int16: clamped
    noise = rng.integers(-32768, 32768, n)
    flat = np.zeros(n, np.int64)  # asystole: the std floor and a closed gate
    for x, gain in ((square, 200), (noise, 1), (flat, 200), (noise // 64, 400)):
        assert_bit_exact(harness, x, gain)


def _defines(text: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"#define (\w+) (-?\d+)u?\b", text)}


def test_c_constants_are_the_python_ones():
    h = _defines(HEADER.read_text())
    c = _defines(SOURCE.read_text())
    assert h["TINYECG_RHYTHM_DECIMATION"] == spec.RHYTHM_DECIMATION
    assert h["TINYECG_RHYTHM_FS"] == spec.RHYTHM_FS
    assert h["TINYECG_RHYTHM_WINDOW_S"] == spec.RHYTHM_WINDOW_S
    assert h["TINYECG_RHYTHM_WINDOW"] == spec.RHYTHM_WINDOW
    assert h["TINYECG_RHYTHM_WARMUP_S"] == spec.RHYTHM_WARMUP_S
    assert h["TINYECG_RHYTHM_FIR_TAPS"] == fe.FIR_TAPS
    assert (c["FIR_BITS"], c["DC_SHIFT"], c["DC_FRAC"]) == (fe.FIR_BITS, fe.DC_SHIFT, fe.DC_FRAC)
    assert (c["Q_PER_STD"], c["STD_FLOOR_UV"], c["AMP_GATE_UV"]) == (
        spec.RHYTHM_Q_PER_STD,
        spec.RHYTHM_STD_FLOOR_UV,
        spec.AMP_GATE_UV,
    )
    # the C keeps the first half of the symmetric taps (its FIR folds the pairs): with the
    # symmetry of Python's taps, that half determines the whole filter
    table = re.search(r"fir_q15\[[^]]*\] = \{([^}]*)\}", SOURCE.read_text())[1]
    half = fe.FIR_TAPS // 2
    assert fe.FIR_Q15.tolist() == fe.FIR_Q15[::-1].tolist()
    assert [int(v) for v in table.replace("\n", " ").split(",") if v.strip()] == (
        fe.FIR_Q15[:half].tolist()
    )


def test_cortex_m4_build_has_no_floating_point(tmp_path):
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("needs arm-none-eabi-gcc")
    obj = tmp_path / "rf.o"
    subprocess.run(
        [
            gcc,
            *STRICT_C_FLAGS,
            "-Os",
            "-mcpu=cortex-m4",
            "-mthumb",
            "-mfloat-abi=soft",
            f"-I{LIB / 'include'}",
            "-c",
            str(SOURCE),
            "-o",
            str(obj),
        ],
        check=True,
    )
    nm = subprocess.run(
        ["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True, check=True
    ).stdout
    assert not re.search(r"__aeabi_[fd]|__(add|sub|mul|div)[sd]f3", nm), nm
    size = (
        subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True, check=True)
        .stdout.splitlines()[1]
        .split()
    )
    text, data, bss = map(int, size[:3])
    assert text < 2048 and data == 0 and bss == 0  # code and const table only: no state


QEMU_MAIN_C = r"""
#include <stdio.h>
#include "platform.h"
#include "tinyecg_rhythm_frontend.h"
#include "rhythm_samples.h"

/* one line per decision: "d <instructions of tinyecg_rhythm_window> <gate> <fnv1a of q>",
 * then "push <instructions of every push call> <calls>" */
int main(void)
{
    static tinyecg_rhythm_frontend_t fe;
    static int8_t q[TINYECG_RHYTHM_WINDOW];
    uint64_t t0, t1, empty, pushes = 0;
    uint32_t n, i;
    platform_init();
    t0 = platform_instructions();
    t1 = platform_instructions();
    empty = t1 - t0;
    tinyecg_rhythm_frontend_init(&fe);
    for (n = 0; n < N_SAMPLES; ++n) {
        int r;
        t0 = platform_instructions();
        r = tinyecg_rhythm_frontend_push(&fe, k_samples[n], NULL);
        t1 = platform_instructions();
        pushes += t1 - t0 - empty;
        if (r == TINYECG_RHYTHM_DECISION) {
            uint32_t h = 2166136261u;
            int gate;
            t0 = platform_instructions();
            gate = tinyecg_rhythm_window(&fe, K_GAIN, q);
            t1 = platform_instructions();
            for (i = 0; i < TINYECG_RHYTHM_WINDOW; ++i) {
                h = (h ^ (uint8_t)q[i]) * 16777619u;
            }
            printf("d %lu %d %08lx\n", (unsigned long)(t1 - t0 - empty), gate, (unsigned long)h);
        }
    }
    printf("push %lu %lu\n", (unsigned long)pushes, (unsigned long)N_SAMPLES);
    return 0;
}
"""


def test_cortex_m4_under_qemu_is_bit_exact_and_counts_instructions(tmp_path):
    """The library on an emulated Cortex-M4 (mps2-an386, -Os): the int8 windows and gates of
    14 s of cudb cu01 around its VF onset hash equal to Python's, and the instruction
    counts stay within the issue's per-decision budget with room for the model."""
    from tinyecg.device import qemu
    from tinyecg.device.qemu import fnv1a32_hex

    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs qemu-system-arm and arm-none-eabi-gcc")
    base = SHARED / "cudb" / "cu01"
    if not base.with_suffix(".hea").is_file():
        pytest.skip("needs ../shared/data/cudb (the issue-15 databases)")
    sig = read_signal(base, sampfrom=205 * spec.FS, sampto=219 * spec.FS)
    x = np.clip(sig.adc - sig.baseline, -32768, 32767)
    gain = round(sig.gain)
    (tmp_path / "rhythm_samples.h").write_text(
        f"#define N_SAMPLES {len(x)}u\n#define K_GAIN {gain}u\n"
        "static const int16_t k_samples[N_SAMPLES] = {" + ",".join(map(str, x.tolist())) + "};\n"
    )
    (tmp_path / "main.c").write_text(QEMU_MAIN_C)
    elf = qemu.build(
        [tmp_path / "main.c", SOURCE],
        includes=[LIB / "include", tmp_path],
        out_dir=tmp_path / "build",
        app="rhythm_count",
    )
    run = qemu.run(elf, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [ln.split() for ln in run.stdout.splitlines() if ln.startswith("d ")]
    push = next(ln.split() for ln in run.stdout.splitlines() if ln.startswith("push "))
    _, p_q, p_gate = python_reference(x, gain)
    assert [r[3] for r in rows] == [fnv1a32_hex(q) for q in p_q]
    assert [r[2] == "1" for r in rows] == p_gate.tolist()
    window_instr = max(int(r[1]) for r in rows)
    push_per_second = int(push[1]) * spec.FS / int(push[2])
    print(
        f"Cortex-M4 -Os: tinyecg_rhythm_window <= {window_instr} instructions, pushes "
        f"{push_per_second:.0f} instructions per second of input"
    )
    # measured 35,760 + 54,111: the issue allows 300k per decision for the model and all
    assert window_instr + push_per_second < 120_000
