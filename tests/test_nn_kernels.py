"""The int8 kernels of firmware/lib/tinyecg_nn on their own, without any model: one C driver
(tests/c/tinyecg_nn_check.c) calls each kernel on parameters and data chosen here, and every
output must equal the integer reference of tests/nn_reference.py, written from TFLite's
reference kernels. The driver is built for the host with the strict flags and every build
option, and for Cortex-M4 (SMLAD path and portable C) and Cortex-M0+ under QEMU.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyecg.export.cbackend import library_include, library_sources

try:  # tests/ may or may not be a package
    from . import nn_reference as ref
except ImportError:
    import nn_reference as ref

ROOT = Path(__file__).resolve().parent
DRIVER = ROOT / "c" / "tinyecg_nn_check.c"
STRICT = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-Wconversion"]


def _ints(values) -> str:
    return " ".join(str(int(v)) for v in np.asarray(values).reshape(-1))


def _requant_params(rng, n: int, shifts=(-12, -6)):
    """Q31 multipliers in [2^30, 2^31) and shifts in [lo, hi]."""
    return (rng.integers(1 << 30, 1 << 31, n), rng.integers(shifts[0], shifts[1] + 1, n))


def _act(rng, zp: int) -> tuple[int, int]:
    kind = int(rng.integers(0, 3))
    return [(-128, 127), (max(-128, zp), 127), (max(-128, zp - 20), min(127, zp + 40))][kind]


def _out_len(padding: str, n: int, k: int, s: int) -> int:
    return -(-n // s) if padding == "SAME" else (n - k + s) // s


def _pad(padding: str, n: int, k: int, s: int, out: int) -> int:
    return max((out - 1) * s + k - n, 0) // 2 if padding == "SAME" else 0


# ------------------------------------------------------------------------------------------
# cases: (driver text, expected outputs)
# ------------------------------------------------------------------------------------------


def conv_case(
    rng,
    hw=(4, 9),
    c=3,
    oc=4,
    k=(3, 3),
    stride=(2, 1),
    padding="SAME",
    bias=True,
    depthwise=False,
    depth_mult=2,
):
    h, w = hw
    oh, ow = _out_len(padding, h, k[0], stride[0]), _out_len(padding, w, k[1], stride[1])
    ph, pw = _pad(padding, h, k[0], stride[0], oh), _pad(padding, w, k[1], stride[1], ow)
    oc = c * depth_mult if depthwise else oc
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    act = _act(rng, out_zp)
    x = rng.integers(-128, 128, (h, w, c))
    wt = rng.integers(-127, 128, (k[0], k[1], oc) if depthwise else (oc, k[0], k[1], c))
    b = rng.integers(-5000, 5000, oc) if bias else None
    mult, shift = _requant_params(rng, oc, (-12, 1))
    if depthwise:
        want = ref.depthwise_conv_per_channel(
            x, wt, b, mult, shift, stride, (ph, pw), depth_mult, -in_zp, out_zp, *act, (oh, ow)
        )
        head = ["depthwise", h, w, c, oh, ow, oc, *k, *stride, ph, pw, depth_mult]
    else:
        want = ref.conv_per_channel(
            x, wt, b, mult, shift, stride, (ph, pw), -in_zp, out_zp, *act, (oh, ow)
        )
        head = ["conv", h, w, c, oh, ow, oc, *k, *stride, ph, pw]
    text = (
        " ".join(map(str, head + [-in_zp, out_zp, *act, int(bias)]))
        + "\n"
        + "\n".join(_ints(v) for v in (wt, *([b] if bias else []), mult, shift, x))
    )
    return text, want


def fc_case(rng, batches=2, depth=19, units=5, per_channel=True, w_zp=0, bias=True):
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    act = _act(rng, out_zp)
    x = rng.integers(-128, 128, (batches, depth))
    wt = rng.integers(-127, 128, (units, depth))
    b = rng.integers(-5000, 5000, units) if bias else None
    mult, shift = _requant_params(rng, units if per_channel else 1, (-12, 0))
    want = ref.fully_connected(x, wt, b, mult, shift, -in_zp, -w_zp, out_zp, *act)
    head = ["fc", batches, depth, units, -in_zp, -w_zp, out_zp, *act, int(per_channel), int(bias)]
    text = (
        " ".join(map(str, head))
        + "\n"
        + "\n".join(_ints(v) for v in (wt, *([b] if bias else []), mult, shift, x))
    )
    return text, want


def _output_stage(rng, n: int, out_zp: int, act, one_multiply: bool, shifts=(-14, -4)):
    mult, shift = _requant_params(rng, n, shifts)
    add = [(1 << (-s - 1)) + out_zp * (1 << -s) for s in shift]
    if one_multiply:
        assert all(abs(a) < 1 << 30 for a in add) and all(-30 <= s <= -1 for s in shift)
    return (
        (
            f"{out_zp} {act[0]} {act[1]} {int(one_multiply)}\n"
            f"{_ints(mult)}\n{_ints(shift)}\n{_ints(add)}"
        ),
        mult,
        shift,
    )


def smlad_blocks(rows: np.ndarray, taps4: int) -> np.ndarray:
    """The layout tinyecg_nn_fast.h documents, built here from its description: per channel
    pair (u, v) (an odd last channel paired with itself) and group of 4 taps (zero-padded to
    taps4): u0 u2 v0 v2 u1 u3 v1 v3."""
    oc, taps = rows.shape
    out = []
    for u in range(0, oc, 2):
        v = min(u + 1, oc - 1)
        ru = np.concatenate([rows[u], np.zeros(taps4 - taps, np.int64)])
        rv = np.concatenate([rows[v], np.zeros(taps4 - taps, np.int64)])
        for g in range(0, taps4, 4):
            out += [ru[g], ru[g + 2], rv[g], rv[g + 2], ru[g + 1], ru[g + 3], rv[g + 1], rv[g + 3]]
    return np.array(out)


def conv_1_x_n_case(
    rng,
    w=37,
    c=3,
    oc=5,
    k=5,
    stride=2,
    padding="SAME",
    one_multiply=True,
    act=None,
    in_zp=None,
    out_zp=None,
):
    ow = _out_len(padding, w, k, stride)
    pad = _pad(padding, w, k, stride, ow)
    taps = k * c
    taps4 = -(-taps // 4) * 4
    in_zp = int(rng.integers(-128, 128)) if in_zp is None else in_zp
    out_zp = int(rng.integers(-100, 100)) if out_zp is None else out_zp
    act = act or _act(rng, out_zp)
    x = rng.integers(-128, 128, (1, w, c))
    wt = rng.integers(-127, 128, (oc, 1, k, c))
    b = rng.integers(-5000, 5000, oc)
    rows = wt.reshape(oc, taps)
    folded = b - in_zp * rows.sum(axis=1)
    inside = [
        o for o in range(ow) if o * stride - pad >= 0 and (o * stride - pad) * c + taps4 <= w * c
    ]
    first, end = (inside[0], inside[-1] + 1) if inside else (0, 0)
    stage, mult, shift = _output_stage(
        rng, oc, out_zp, act, one_multiply, (-14, -4) if one_multiply else (-3, 1)
    )
    want = ref.conv_per_channel(
        x, wt, b, mult, shift, (1, stride), (0, pad), -in_zp, out_zp, *act, (1, ow)
    )
    head = ["conv_1_x_n", w, c, ow, oc, stride, pad, taps, taps4, first, end, in_zp]
    text = (
        " ".join(map(str, head))
        + "\n"
        + _ints(rows)
        + "\n"
        + _ints(smlad_blocks(rows, taps4))
        + "\n"
        + _ints(folded)
        + "\n"
        + stage
        + "\n"
        + _ints(x)
    )
    return text, want


def fc_folded_case(rng, batches=3, depth=10, units=5, per_channel=True, one_multiply=True):
    depth4 = -(-depth // 4) * 4
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-100, 100))
    act = _act(rng, out_zp)
    x = rng.integers(-128, 128, (batches, depth))
    wt = rng.integers(-127, 128, (units, depth))
    b = rng.integers(-5000, 5000, units)
    folded = b - in_zp * wt.sum(axis=1)
    padded = np.zeros((units, depth4), np.int64)
    padded[:, :depth] = wt
    n = units if per_channel else 1
    stage, mult, shift = _output_stage(
        rng, n, out_zp, act, one_multiply, (-14, -4) if one_multiply else (-2, 1)
    )
    want = ref.fully_connected(x, wt, b, mult, shift, -in_zp, 0, out_zp, *act)
    text = (
        f"fc_folded {batches} {depth} {depth4} {units} {int(per_channel)}\n"
        + _ints(padded)
        + "\n"
        + _ints(folded)
        + "\n"
        + stage
        + "\n"
        + _ints(x)
    )
    return text, want


def pool_case(rng, kind="avgpool", hw=(5, 13), c=4, k=(2, 3), stride=(2, 2), padding="SAME"):
    h, w = hw
    oh, ow = _out_len(padding, h, k[0], stride[0]), _out_len(padding, w, k[1], stride[1])
    ph, pw = _pad(padding, h, k[0], stride[0], oh), _pad(padding, w, k[1], stride[1], ow)
    act = _act(rng, int(rng.integers(-128, 100)))
    x = rng.integers(-128, 128, (h, w, c))
    fn = ref.average_pool if kind == "avgpool" else ref.max_pool
    want = fn(x, k, stride, (ph, pw), *act, (oh, ow))
    head = [kind, h, w, c, oh, ow, *k, *stride, ph, pw, *act]
    return " ".join(map(str, head)) + "\n" + _ints(x), want


def softmax_case(rng, rows=3, depth=7, scale=0.07, beta=1.0):
    mult, left_shift, diff_min = ref.softmax_params(scale, beta)
    x = rng.integers(-128, 128, (rows, depth))
    x[0, :] = int(rng.integers(-128, 128))  # a row of equal values
    want = ref.softmax(x, mult, left_shift, diff_min)
    return f"softmax {rows} {depth} {mult} {left_shift} {diff_min}\n{_ints(x)}", want


def mean_case(rng, outer=3, count=11, inner=6, scale_ratio=1.0):
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    m0, s0 = math.frexp(scale_ratio)
    mult0, shift0 = int(round(m0 * (1 << 31))), s0
    s = min(count.bit_length() - 1, 32, 31 + shift0)
    mult, shift = (mult0 << s) // count, shift0 - s
    x = rng.integers(-128, 128, (outer, count, inner))
    want = ref.mean(x, outer, count, inner, in_zp, mult, shift, out_zp)
    return (f"mean {outer} {count} {inner} {in_zp} {mult} {shift} {out_zp}\n{_ints(x)}", want)


def requantize_case(rng, n=300):
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    mult, shift = int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-3, 2))
    x = rng.integers(-128, 128, n)
    want = ref.requantize(x, in_zp, mult, shift, out_zp)
    return f"requantize {in_zp} {mult} {shift} {out_zp} {n}\n{_ints(x)}", want


def concat_case(rng, outer=3, copy=4, out_stride=10, out_pos=5, requantize=True):
    in_zp, out_zp = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    mult, shift = int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-2, 2))
    x = rng.integers(-128, 128, (outer, copy))
    before = rng.integers(-128, 128, (outer, out_stride))
    want = before.copy()
    part = ref.requantize(x, in_zp, mult, shift, out_zp) if requantize else x
    want[:, out_pos : out_pos + copy] = part
    text = (
        f"concat {outer} {copy} {out_stride} {out_pos} {int(requantize)} {in_zp} {mult} "
        f"{shift} {out_zp}\n{_ints(x)}\n{_ints(before)}"
    )
    return text, want


def scalar_cases(rng, n=400):
    """mbqm, srdhm, rdbpot, mulhi16, one_multiply on random values and their edges."""
    out = []
    edges = [ref.INT32_MIN, ref.INT32_MAX, -1, 0, 1, 1 << 30, -(1 << 30), 65535, -65536]
    xs = np.concatenate([rng.integers(ref.INT32_MIN, ref.INT32_MAX, n), edges])
    ms = np.concatenate(
        [rng.integers(1 << 30, 1 << 31, n), [1 << 30, ref.INT32_MAX] * 4, [ref.INT32_MIN]]
    )
    pairs = list(zip(xs.tolist(), ms.tolist()))
    out.append(
        (
            "srdhm",
            [(x, m) for x, m in pairs] + [(ref.INT32_MIN, ref.INT32_MIN)],
            lambda x, m: ref.srdhm(x, m),
        )
    )
    small = [(int(x) >> int(rng.integers(0, 12)), int(rng.integers(-31, 4))) for x in xs]
    out.append(
        (
            "mbqm",
            [(x, int(m), s) for (x, s), m in zip(small, ms)],
            lambda x, m, s: ref.mbqm(x, m, s),
        )
    )
    out.append(
        (
            "rdbpot",
            [(x, int(e)) for x, e in zip(xs.tolist(), rng.integers(0, 32, len(xs)))],
            lambda x, e: ref.rdbpot(x, e),
        )
    )
    out.append(
        (
            "mulhi16",
            [(x, m) for x, m in pairs if m >= 1 << 30],
            lambda x, m: (x * m + (1 << 31)) >> 32,
        )
    )
    rows = []
    for _ in range(n):
        r = int(rng.integers(1, 31))
        m = int(rng.integers(1 << 30, 1 << 31))
        zp = int(rng.integers(-128, 128))
        add = (1 << (r - 1)) + zp * (1 << r)
        x = int(rng.integers(-(1 << 29), 1 << 29))
        if abs(add) < 1 << 30:
            rows.append((x, m, add, -r, zp))
    out.append(
        (
            "one_multiply",
            [row[:4] for row in rows],
            None,
            [ref.mbqm(x, m, s) + zp for x, m, _, s, zp in rows],
        )
    )
    cases = []
    for item in out:
        name, args, fn = item[:3]
        want = item[3] if len(item) > 3 else [fn(*a) for a in args]
        text = f"{name} {len(args)}\n" + "\n".join(" ".join(map(str, a)) for a in args)
        cases.append((f"{name}", text, np.array(want, dtype=np.int64)))
    return cases


def all_cases(seed: int = 0, small: bool = False) -> list[tuple[str, str, np.ndarray]]:
    """(label, driver text, expected) for every kernel and its edges; small: fewer scalar
    values (for QEMU, where semihosting I/O is slow)."""
    rng = np.random.default_rng(seed)
    cases = [
        ("conv same stride 2x1", *conv_case(rng)),
        (
            "conv valid 2x5 stride 1x3 no bias",
            *conv_case(rng, (4, 12), 5, 3, (2, 5), (1, 3), "VALID", bias=False),
        ),
        ("conv 1x1", *conv_case(rng, (2, 6), 9, 5, (1, 1), (1, 1))),
        ("conv kernel wider than input", *conv_case(rng, (2, 3), 2, 3, (3, 7), (1, 1))),
        (
            "depthwise mult 2 same",
            *conv_case(rng, (4, 10), 3, k=(3, 3), stride=(1, 2), depthwise=True),
        ),
        (
            "depthwise mult 1 valid",
            *conv_case(
                rng,
                (3, 11),
                4,
                k=(2, 4),
                stride=(1, 1),
                padding="VALID",
                depthwise=True,
                depth_mult=1,
            ),
        ),
        ("fc per channel", *fc_case(rng)),
        ("fc per tensor no bias", *fc_case(rng, 1, 33, 3, per_channel=False, bias=False)),
        ("fc weight zero point", *fc_case(rng, 2, 7, 4, w_zp=3)),
        ("conv_1_x_n odd everything", *conv_1_x_n_case(rng)),
        ("conv_1_x_n one channel 7 taps", *conv_1_x_n_case(rng, 60, 1, 8, 7, 2)),
        ("conv_1_x_n valid stride 3", *conv_1_x_n_case(rng, 29, 2, 6, 4, 3, "VALID")),
        ("conv_1_x_n wider than input", *conv_1_x_n_case(rng, 3, 2, 3, 7, 1)),
        ("conv_1_x_n one column", *conv_1_x_n_case(rng, 1, 5, 1, 1, 1)),
        ("conv_1_x_n two-step requantization", *conv_1_x_n_case(rng, one_multiply=False)),
        ("conv_1_x_n no clamp", *conv_1_x_n_case(rng, act=(-128, 127), in_zp=-128, out_zp=127)),
        ("fc_folded per channel", *fc_folded_case(rng)),
        ("fc_folded per tensor depth 3", *fc_folded_case(rng, 1, 3, 4, per_channel=False)),
        ("fc_folded two-step", *fc_folded_case(rng, 2, 37, 7, one_multiply=False)),
        ("avgpool same", *pool_case(rng)),
        ("avgpool valid", *pool_case(rng, padding="VALID")),
        ("maxpool same 3x3", *pool_case(rng, "maxpool", k=(3, 3))),
        ("maxpool valid 1x2", *pool_case(rng, "maxpool", (1, 21), 6, (1, 2), (1, 2), "VALID")),
        ("softmax 0.07", *softmax_case(rng)),
        ("softmax small scale", *softmax_case(rng, 3, 11, 0.004)),
        ("softmax large scale", *softmax_case(rng, 2, 37, 0.9)),
        ("softmax huge scale", *softmax_case(rng, 2, 6, 40.0)),
        ("softmax beta 0.5", *softmax_case(rng, 2, 9, 0.2, 0.5)),
        ("mean rescaled", *mean_case(rng, scale_ratio=4.0)),
        ("mean same quantization", *mean_case(rng, 1, 23, 5)),
        ("requantize", *requantize_case(rng)),
        ("concat requantize", *concat_case(rng)),
        ("concat copy", *concat_case(rng, 2, 3, 7, 0, requantize=False)),
    ]
    cases += scalar_cases(rng, 60 if small else 3000)
    return cases


def run_driver(run, cases) -> None:
    """Feed every case to the driver (run(stdin bytes) -> stdout text) and compare."""
    text = "\n".join(c[1] for c in cases) + "\n"
    lines = run(text.encode()).splitlines()
    assert lines and lines[-1] == "end", lines[-3:]
    assert len(lines) == len(cases) + 1, (len(lines), len(cases))
    for (label, _, want), line in zip(cases, lines):
        got = np.array([int(v) for v in line.split()], dtype=np.int64)
        want = np.asarray(want, dtype=np.int64).reshape(-1)
        assert got.shape == want.shape, (label, got.shape, want.shape)
        bad = np.flatnonzero(got != want)
        assert not len(bad), (
            f"{label}: {len(bad)} of {len(want)} differ, first at "
            f"{bad[0]}: C {got[bad[0]]} reference {want[bad[0]]}"
        )


def _host_driver(tmp: Path, flags) -> Path:
    exe = tmp / "nn_check"
    subprocess.run(
        [
            "gcc",
            *STRICT,
            *flags,
            "-I",
            str(library_include()),
            str(DRIVER),
            *map(str, library_sources()),
            "-o",
            str(exe),
        ],
        check=True,
    )
    return exe


@pytest.mark.parametrize(
    "flags",
    [
        ["-O2"],
        ["-Os", "-DTINYECG_NO_INLINE"],
        ["-O2", "-DTINYECG_MULHI16"],
        ["-O0", "-DTINYECG_NO_ASM"],
    ],
    ids=["O2", "no-inline", "mulhi16", "O0-no-asm"],
)
def test_kernels_match_the_reference_on_the_host(flags, tmp_path):
    exe = _host_driver(tmp_path, flags)
    run = lambda data: subprocess.run(
        [str(exe)], input=data, capture_output=True, check=True
    ).stdout.decode()
    run_driver(run, all_cases(seed=1))


def test_reference_agrees_with_the_generator_arithmetic():
    """The reference's softmax scaling is TFLite's, as tinyecg.quantmath computes it for the
    generator (two independent writings of PreprocessSoftmaxScaling)."""
    from tinyecg.quantmath import quantize_multiplier

    for scale in (0.004, 0.07, 0.9, 40.0):
        mult, shift, _ = ref.softmax_params(scale)
        assert (mult, shift) == quantize_multiplier(min(scale * (1 << 26), (1 << 31) - 1.0))


@pytest.mark.parametrize(
    "label,arch,defs",
    [("m4-dsp", "m4", {}), ("m4-portable", "m4", {"TINYECG_NO_DSP": 1}), ("m0", "m0", {})],
)
def test_kernels_match_the_reference_under_qemu(label, arch, defs, tmp_path):
    """The SMLAD/SMMLAR path (M4), the portable C on the same core and the ARMv6-M assembly
    loop and multiply-high (M0+), each on every case."""
    from tinyecg.device import qemu

    if not qemu.toolchain_available():
        pytest.skip(f"Cortex-M toolchain or QEMU missing: {', '.join(qemu.missing_tools())}")
    elf = qemu.build(
        [DRIVER, *library_sources()],
        includes=[library_include()],
        defs=defs,
        out_dir=tmp_path / label,
        arch=arch,
        app="nn_check",
        extra_cflags=["-Wconversion"],
    )
    disasm = subprocess.run(
        ["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True
    ).stdout
    assert ("smlad" in disasm) == (label == "m4-dsp"), label

    def run(data: bytes) -> str:
        result = qemu.run(elf, timeout=300, stdin_bytes=data, machine=qemu.MACHINES[arch])
        assert result.returncode == 0, (label, result.stdout[-300:], result.stderr[-300:])
        return result.stdout

    run_driver(run, all_cases(seed=2, small=True))
