#!/usr/bin/env python3
"""Instructions per window of the preprocessing library on Cortex-M4 / M0+ under QEMU.

    python scripts/bench_preprocess_qemu.py [--data DIR] [--beats 48] [--json PATH]
           [--builds m4:-O2 m4:-Os m0:-O2 m0:-Os] [--phases] [--lib DIR]

Builds the static library firmware/lib/tinyecg_dsp with generated parameters
(tinyecg_preprocess_params.c for input scale 0.05, zero point -20; rhythm 0.02, -128) and the
mps2-an386 target (tinyecg.device.qemu: -mcpu=cortex-m4 hard-float, or cortex-m0plus run on the
AN385 Cortex-M3 image) and runs it under qemu-system-arm -icount shift=0. The program times
every call of tinyecg_preprocess_window() with platform_instructions() (resolution 40
instructions; the cost of an empty measurement is subtracted) and prints an FNV-1a hash of
each output, which must equal the Python integer reference's (any difference aborts: a wrong
build is not measured). Windows: real beats (--data, else $TINYECG_DATA, else the bundled
excerpts), the full-scale stress windows and random ECG-like windows. Also reported: code
size of the library's objects (arm-none-eabi-size, text + data) and the stack one call uses
(platform_stack_peak_bytes() after it, less main's depth at the call). Prints a table and
writes JSON (default docs/bench/preprocess_qemu.json).

--phases also times the steps of tinyecg_preprocess_window() and tinyecg_denoise_window() on
the real beats: a copy of the library gets a counter read before each top-level comment of
those functions and at their ends (each read costs about 40 instructions, the counter's
resolution); the time from one read to the next is the step of the first, and the mean per
step is printed and saved. --lib DIR measures another copy of the library's sources.
"""

from __future__ import annotations

import argparse
import platform as host_platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.device import detect, qemu  # noqa: E402
from tinyecg.device.cbuild import arm_object_size  # noqa: E402
from tinyecg.dsp import fixedpoint as fp  # noqa: E402
from tinyecg.export import preprocess as pp  # noqa: E402
from tinyecg.run import write_json  # noqa: E402

PARAMS = (0.05, -20, 0.02, -128)
DEFAULT_BUILDS = ("m4:-O2", "m4:-Os", "m0:-O2", "m0:-Os")
COUNT_PROGRAM = qemu.target_dir() / "examples" / "preprocess_count.c"


def real_windows(data: str | None, n: int):
    """n beat windows spread over the records found (every k-th beat of each record)."""
    from tinyecg.data.beats import beats_from_record
    from tinyecg.data.records import list_records, load_record, resolve_data_dir

    root = resolve_data_dir(data)
    names = list_records(root)
    per = max(1, -(-n // max(1, len(names))))
    raws, bases, gains = [], [], []
    for name in names:
        rec = load_record(root, name)
        if rec is None:
            continue
        beats = beats_from_record(rec, labels="aami")
        if len(beats) == 0:
            continue
        pick = np.linspace(0, len(beats) - 1, per).astype(int)
        raws.append(beats.raw[pick])
        bases.append(np.full(len(pick), rec.baseline))
        gains.append(np.full(len(pick), int(round(float(rec.gain)))))
    if not raws:
        raise SystemExit(f"{root}: no beats found")
    return (
        np.concatenate(raws)[:n],
        np.concatenate(bases)[:n],
        np.concatenate(gains)[:n],
        str(root),
    )


def random_windows(n: int, seed: int = 31):
    """ECG-like: a Gaussian R wave of random width and height on a random offset and drift."""
    rng = np.random.default_rng(seed)
    t = np.arange(fp.WINDOW)
    sig = rng.uniform(1, 3000, (n, 1)) * np.exp(-(((t - 180) / rng.uniform(3, 30, (n, 1))) ** 2))
    sig += rng.normal(0, 1, (n, fp.WINDOW)) * rng.uniform(0, 50, (n, 1))
    sig += rng.uniform(-20000, 20000, (n, 1)) + np.cumsum(rng.normal(0, 2, (n, fp.WINDOW)), 1)
    raw = np.clip(np.round(sig), -32768, 32767).astype(np.int16)
    return raw, rng.integers(-32768, 32768, n), rng.integers(1, 65536, n)


def code_size(lib: Path, arch: str, opt: str, out: Path) -> int:
    """text + data bytes of the library's objects (code + constants), as the target compiles
    them; the generated parameters (40 bytes) not included."""
    total = 0
    for src in sorted(lib.glob("*.c")):
        size = arm_object_size(
            src,
            out / f"lib-{arch}{opt}-{src.stem}.o",
            arch,
            opt,
            [detect.dsp_include(), detect.core_include()],
        )
        total += size["text"] + size["data"]
    return total


PHASES_C = r"""
#include <stdio.h>
#include "platform.h"
#include "tinyecg_preprocess_params.h"
#include "bench_windows.h"

#define MAX_SEQ 64
static uint64_t seq_t[MAX_SEQ];
static int seq_id[MAX_SEQ];
static int n_seq;
static uint64_t total[N_MARKS];
void bench_mark(int k);
void bench_mark(int k)
{
    if (n_seq < MAX_SEQ) {
        seq_id[n_seq] = k;
        seq_t[n_seq++] = platform_instructions();
    }
}

/* "p <mark> <mean instructions from it to the next mark>" over the real beats (the first
 * N_REAL windows) */
int main(void)
{
    static int8_t out[TINYECG_WINDOW];
    tinyecg_adc_t adc;
    uint32_t w;
    int k;
    platform_init();
    for (w = 0; w < N_REAL; ++w) {
        adc.baseline = k_base[w];
        adc.gain_adu_per_mv = k_gain[w];
        n_seq = 0;
        tinyecg_preprocess_window(&tinyecg_model_preprocess, k_raw[w], &adc, out);
        for (k = 1; k < n_seq; ++k) {
            total[seq_id[k - 1]] += seq_t[k] - seq_t[k - 1];
        }
    }
    for (k = 0; k < N_MARKS; ++k) {
        printf("p %d %lu\n", k, (unsigned long)(total[k] / N_REAL));
    }
    return 0;
}
"""
# the functions whose steps --phases times: (file, function)
PHASED = (
    ("tinyecg_preprocess.c", "tinyecg_preprocess_window"),
    ("tinyecg_denoise.c", "tinyecg_denoise_window"),
)


def instrument(c_text: str, function: str, first: int) -> tuple[str, list[str]]:
    """The C with bench_mark(k) (k = first, first + 1, ...) before each top-level comment of
    function after its declarations (up to the first blank line) and at its end; returns it
    and the step names (the comments' first lines)."""
    sig = f"void {function}("
    head, body = c_text.split(sig, 1)
    lines, out, names = body.split("\n"), [], []
    opened = started = False
    for i, line in enumerate(lines):
        if line == "{":
            opened = True
        elif opened and not line.strip():
            started = True
        elif started and line.startswith("    /* "):
            out.append(f"    bench_mark({first + len(names)});")
            names.append(line.strip()[3:].split("*/")[0].strip().rstrip(",:;"))
        elif started and line == "}":
            out.append(f"    bench_mark({first + len(names)});")
            names.append(f"(end of {function})")
            out += lines[i:]
            break
        out.append(line)
    return head + "void bench_mark(int k);\n" + sig + "\n".join(out), names


def phases(build: str, lib: Path, src: Path, out: Path, n_real: int) -> list[dict]:
    """Mean instructions per step of the phased functions over the real beats (--phases)."""
    arch, opt = build.split(":")
    psrc = out / f"phases-{arch}{opt}"
    shutil.copytree(lib, psrc)
    names: list[str] = []
    for fname, function in PHASED:
        text, more = instrument((psrc / fname).read_text(), function, len(names))
        (psrc / fname).write_text(text)
        names += more
    (psrc / "phases_main.c").write_text(PHASES_C)
    lib_copy = [p for p in sorted(psrc.glob("*.c")) if p.name != "phases_main.c"]
    elf = qemu.build(
        [psrc / "phases_main.c", src / pp.SOURCE, *lib_copy],
        includes=[psrc, src, detect.dsp_include(), detect.core_include()],
        out_dir=psrc / "build",
        arch=arch,
        app="phases",
        extra_cflags=[opt],
        defs={"N_MARKS": len(names), "N_REAL": n_real},
        stack_size=16384,
    )
    res = qemu.run(elf, timeout=300, machine=qemu.MACHINES[arch])
    if res.returncode != 0:
        raise SystemExit(f"{build} phases: QEMU exit {res.returncode}\n{res.stderr}")
    means = {
        int(m.group(1)): int(m.group(2)) for m in re.finditer(r"^p (\d+) (\d+)$", res.stdout, re.M)
    }
    return [{"step": name, "instructions": means.get(k, 0)} for k, name in enumerate(names)]


def bench(
    build: str, lib: Path, src: Path, out: Path, want: list[str], groups: dict[str, slice]
) -> dict:
    arch, opt = build.split(":")
    elf = qemu.build(
        [COUNT_PROGRAM, src / pp.SOURCE, *sorted(lib.glob("*.c"))],
        includes=[src, lib, detect.dsp_include(), detect.core_include()],
        out_dir=out / f"{arch}{opt}",
        arch=arch,
        app="bench",
        extra_cflags=[opt],
        stack_size=16384,
    )
    res = qemu.run(elf, timeout=300, machine=qemu.MACHINES[arch])
    if res.returncode != 0:
        raise SystemExit(f"{build}: QEMU exit {res.returncode}\n{res.stderr}")
    counts, hashes = [], []
    for line in res.stdout.splitlines():
        m = re.match(r"w (\d+) (\d+) ([0-9a-f]{8})$", line)
        if m:
            counts.append(int(m.group(2)))
            hashes.append(m.group(3))
    stack = int(re.search(r"stack (\d+)", res.stdout).group(1))
    if hashes != want:
        bad = sum(a != b for a, b in zip(hashes, want)) + abs(len(hashes) - len(want))
        raise SystemExit(f"{build}: {bad} of {len(want)} windows differ from the Python reference")
    counts = np.array(counts)
    row = {
        "arch": arch,
        "opt": opt,
        "machine": qemu.MACHINES[arch],
        "code_bytes": code_size(lib, arch, opt, out),
        "stack_bytes": stack,
    }
    for name, sl in groups.items():
        c = counts[sl]
        row[name] = {
            "windows": int(len(c)),
            "mean": int(round(c.mean())),
            "min": int(c.min()),
            "max": int(c.max()),
        }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=None,
        help="MIT-BIH folder (default: $TINYECG_DATA or the bundled excerpts)",
    )
    ap.add_argument("--beats", type=int, default=48, help="real beat windows (default 48)")
    ap.add_argument(
        "--builds",
        nargs="*",
        default=list(DEFAULT_BUILDS),
        help="arch:opt pairs, arch m4 or m0 (default: %(default)s)",
    )
    ap.add_argument(
        "--phases",
        action="store_true",
        help="also time the steps of the function on the real beats",
    )
    ap.add_argument(
        "--lib", default=None, help="the library's sources (default firmware/lib/tinyecg_dsp/src)"
    )
    ap.add_argument(
        "--json",
        default=str(ROOT / "docs/bench/preprocess_qemu.json"),
        help="JSON output (default docs/bench/preprocess_qemu.json); '' for none",
    )
    args = ap.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2

    params = fp.preprocess_params(*PARAMS)
    lib = Path(args.lib) if args.lib else detect.dsp_sources()[0].parent
    r_raw, r_base, r_gain, data_dir = real_windows(args.data, args.beats)
    s_raw, s_base, s_gain = fp.stress_windows()
    s_raw, s_base, s_gain = s_raw[::9], s_base[::9], s_gain[::9]
    x_raw, x_base, x_gain = random_windows(16)
    raw = np.concatenate([r_raw, s_raw, x_raw])
    base = np.concatenate([r_base, s_base, x_base])
    gain = np.concatenate([r_gain, s_gain, x_gain])
    n_r, n_s = len(r_raw), len(s_raw)
    groups = {
        "real": slice(0, n_r),
        "stress": slice(n_r, n_r + n_s),
        "random": slice(n_r + n_s, len(raw)),
        "all": slice(0, len(raw)),
    }
    want = [qemu.fnv1a32_hex(q) for q in fp.preprocess_windows_int(raw, base, gain, params)]

    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="tinyecg-bench-pp-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name, text in pp.render_preprocessing(params, "bench").items():
            (src / name).write_text(text)
        (src / "bench_windows.h").write_text(pp.windows_header(raw, base, gain))
        print(
            f"{len(raw)} windows ({n_r} real beats from {data_dir}, {n_s} stress, "
            f"{len(x_raw)} random); all outputs equal the Python reference"
        )
        print(
            f"{'build':<10} {'real mean':>10} {'real max':>9} {'all max':>9} "
            f"{'code B':>7} {'stack B':>8}"
        )
        for build in args.builds:
            row = bench(build, lib, src, Path(tmp), want, groups)
            rows.append(row)
            print(
                f"{build:<10} {row['real']['mean']:>10,} {row['real']['max']:>9,} "
                f"{row['all']['max']:>9,} {row['code_bytes']:>7,} {row['stack_bytes']:>8,}"
            )
        if args.phases:
            for row, build in zip(rows, args.builds):
                row["phases"] = phases(build, lib, src, Path(tmp), n_r)
                print(f"\n{build} steps (mean over the {n_r} real beats, instructions):")
                for ph in row["phases"]:
                    print(f"  {ph['instructions']:>7,}  {ph['step'][:70]}")
    result = {
        "what": "instructions per tinyecg_preprocess_window() call under QEMU -icount shift=0 "
        "(platform_instructions(), resolution 40, empty measurement subtracted)",
        "command": "python scripts/bench_preprocess_qemu.py " + " ".join(argv or sys.argv[1:]),
        "params": dict(
            zip(("input_scale", "input_zero_point", "rhythm_scale", "rhythm_zero_point"), PARAMS)
        ),
        "windows": {"real": n_r, "stress": n_s, "random": len(x_raw), "data": data_dir},
        **qemu.toolchain_versions(),
        "host": host_platform.machine(),
        "seconds": round(time.time() - t0, 1),
        "builds": rows,
    }
    if args.json:
        path = Path(args.json)
        write_json(path, result)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
