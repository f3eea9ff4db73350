#!/usr/bin/env python3
"""What the signal-quality index costs on a Cortex-M4 (QEMU mps2-an386, -icount shift=0).

    python scripts/bench_quality_qemu.py [--data DIR] [--seconds 300] [--json PATH]

For a clean record (100) and a noisy one (118 with synthetic electrode motion at 6 dB,
tinyecg.data.noise), the first --seconds of signal are compiled into a small program with
the firmware core (arm-none-eabi-gcc -Os, the target's Makefile) and run under QEMU; it
counts with platform_instructions() (resolution 40 instructions):

* the index alone (tinyecg_quality_push on every sample), and an FNV-1a hash of every
  sub-block's score and state, which must equal the Python integer reference's
  (tinyecg/dsp/quality.py; a difference aborts: a wrong build is not measured);
* tinyecg_quality_beat_poor, the per-beat look-up;
* the whole core as a board runs it (tinyecg_app_sample: lead-off monitor, quality index,
  detector, beat assembly; R-peak and RR output to a counting sink) with this tree's core,
  and the same program with the core before the index (git revision --before, default
  66de738): the difference per beat is what the index adds to a board's work.

Also: code bytes of tinyecg_quality.o and of the other core objects (text + data, -Os, both
cores), and sizeof(tinyecg_quality_t). Prints a table, writes JSON (default
docs/bench/quality_qemu.json).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyecg.data import noise as nz  # noqa: E402
from tinyecg.device import detect, qemu  # noqa: E402
from tinyecg.device.cbuild import arm_object_size  # noqa: E402
from tinyecg.dsp import quality as Q  # noqa: E402
from tinyecg.run import write_json  # noqa: E402

CORE = ROOT / "firmware" / "lib" / "tinyecg_core"
BEFORE = "66de738"  # the last revision of the core without the quality index

PROGRAM = r"""
#include <stdio.h>
#include "platform.h"
#include "tinyecg_app.h"
#include "bench_signal.h"
#ifdef HAVE_QUALITY
#include "tinyecg_quality.h"
static tinyecg_quality_t q;
#endif

static tinyecg_app_t app;
static unsigned long lines;

static void sink(void *ctx, const char *text)
{
    (void)ctx;
    for (; *text != '\0'; text++) {
        lines += *text == '\n';
    }
}

int main(void)
{
    static tinyecg_app_config_t cfg;
    uint64_t t0, t1;
    uint32_t i;
    platform_init();
#ifdef HAVE_QUALITY
    {
        uint32_t h = 2166136261u, k = 0, look = 0, n_look = 0;
        tinyecg_quality_init(&q, ADC_MIN, ADC_MAX);
        t0 = platform_instructions();
        for (i = 0; i < N_SAMPLES; i++) {
            (void)tinyecg_quality_push(&q, k_x[i]);
        }
        t1 = platform_instructions();
        printf("quality_push %lu %lu\n", (unsigned long)(t1 - t0), (unsigned long)N_SAMPLES);
        /* again, hashing every sub-block's score and state (not timed) */
        tinyecg_quality_init(&q, ADC_MIN, ADC_MAX);
        for (i = 0; i < N_SAMPLES; i++) {
            if (tinyecg_quality_push(&q, k_x[i])) {
                /* the score (15 bits; bit 15 of the ring holds the state) */
                uint32_t s = q.scores[k % TINYECG_Q_RING] & 32767u;
                h = (h ^ (s & 255u)) * 16777619u;
                h = (h ^ (s >> 8)) * 16777619u;
                h = (h ^ q.state) * 16777619u;
                k++;
            }
            /* a beat look-up when a beat of the list would complete (r + 180) */
            if (n_look < N_BEATS && i == (uint32_t)k_r[n_look] + 180u) {
                t0 = platform_instructions();
                (void)tinyecg_quality_beat_poor(&q, (uint32_t)k_r[n_look], 300, 300, 2400, 8);
                t1 = platform_instructions();
                look += (uint32_t)(t1 - t0);
                n_look++;
            }
        }
        printf("hash %08lx %lu\n", (unsigned long)h, (unsigned long)k);
        printf("lookup %lu %lu\n", (unsigned long)look, (unsigned long)n_look);
        printf("sizeof_quality %lu\n", (unsigned long)sizeof(tinyecg_quality_t));
    }
#endif
    t0 = platform_instructions();
    t1 = platform_instructions();
    printf("empty %lu\n", (unsigned long)(t1 - t0));
    cfg.adc_min = ADC_MIN;
    cfg.adc_max = ADC_MAX;
    cfg.flat_tolerance = 2;
    cfg.outputs = TINYECG_OUT_PEAKS | TINYECG_OUT_RR;
    cfg.write = sink;
    if (tinyecg_app_init(&app, &cfg) != 0) {
        return 1;
    }
    t0 = platform_instructions();
    for (i = 0; i < N_SAMPLES; i++) {
        tinyecg_app_sample(&app, k_x[i]);
    }
    tinyecg_app_finish(&app);
    t1 = platform_instructions();
    printf("app %lu %lu %lu %lu\n", (unsigned long)(t1 - t0), (unsigned long)app.count.peaks,
           (unsigned long)app.count.beats, (unsigned long)sizeof(tinyecg_app_t));
    printf("lines %lu\n", lines);
    return 0;
}
"""


def signal_header(x, r, lo: int, hi: int) -> str:
    vals = ",".join(str(int(v)) for v in x)
    rs = ",".join(str(int(v)) for v in r) or "0"
    return (
        f"#include <stdint.h>\n#define N_SAMPLES {len(x)}u\n#define N_BEATS {len(r)}u\n"
        f"#define ADC_MIN {lo}\n#define ADC_MAX {hi}\n"
        f"static const int16_t k_x[N_SAMPLES] = {{{vals}}};\n"
        f"static const int32_t k_r[N_BEATS ? N_BEATS : 1] = {{{rs}}};\n"
    )


def want_hash(x, lo: int, hi: int) -> tuple[str, int]:
    x = np.asarray(x, np.int64)
    q = Q.quality(x, lo, hi)
    h = 2166136261
    for s, st in zip(q["score"], q["state"]):
        for v in (int(s) & 255, int(s) >> 8, int(st)):
            h = ((h ^ v) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}", len(q["score"])


def old_core(dest: Path, rev: str) -> Path:
    """The core's sources at git revision rev, in dest/include and dest/src."""
    for sub in ("include", "src"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        names = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "ls-tree",
                "--name-only",
                f"{rev}:firmware/lib/tinyecg_core/{sub}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for name in names:
            text = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{rev}:firmware/lib/tinyecg_core/{sub}/{name}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            (dest / sub / name).write_text(text)
    return dest


def object_sizes(core: Path, out: Path) -> dict:
    """text + data bytes of each core object; the tree before the change is measured as it
    was, so without the strict warnings."""
    sizes = {}
    for src in sorted((core / "src").glob("*.c")):
        size = arm_object_size(
            src, out / (src.stem + ".o"), "m4", "-Os", [core / "include"], strict=False
        )
        sizes[src.stem] = size["text"] + size["data"]
    return sizes


def run_program(core: Path, sig: Path, out: Path, quality: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    src = out / "bench_quality_main.c"
    src.write_text(PROGRAM)
    elf = qemu.build(
        [src, *sorted((core / "src").glob("*.c"))],
        includes=[core / "include", sig],
        out_dir=out,
        app="bench",
        defs={"HAVE_QUALITY": 1} if quality else None,
        stack_size=16384,
    )
    res = qemu.run(elf, timeout=600)
    if res.returncode != 0:
        raise SystemExit(f"QEMU exit {res.returncode}\n{res.stdout}\n{res.stderr}")
    got = {}
    for line in res.stdout.splitlines():
        w = line.split()
        if w:
            got[w[0]] = w[1:]
    return got


def signals(data: Path, seconds: int):
    out = []
    x, _, (lo, hi) = detect.read_record(data / "100")
    out.append(("100 clean", x[: seconds * 360], lo, hi))
    x, _, (lo, hi) = detect.read_record(data / "118")
    import wfdb

    ann = wfdb.rdann(str(data / "118"), "atr")
    sr = nz.make_stress_record(x, ann.sample, ann.symbol, "em", 6, 0)
    start = nz.LEARN_S * 360 - 60 * 360  # one clean minute, then the noisy block
    lo16, hi16 = nz.INT16_RANGE
    out.append(("118 em 6 dB", sr.samples[start : start + seconds * 360], lo16, hi16))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(ROOT.parent / "shared" / "data" / "mitdb"),
        help="the full MIT-BIH (records 100 and 118)",
    )
    ap.add_argument("--seconds", type=int, default=180, help="signal per case (default 180)")
    ap.add_argument("--before", default=BEFORE, help=f"core revision to compare with ({BEFORE})")
    ap.add_argument("--json", default=str(ROOT / "docs/bench/quality_qemu.json"))
    args = ap.parse_args(argv)
    missing = qemu.missing_tools()
    if missing:
        print(f"missing tools: {', '.join(missing)}", file=sys.stderr)
        return 2
    t_start = time.time()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyecg-bench-q-") as tmp:
        tmp = Path(tmp)
        before = old_core(tmp / "before", args.before)
        sizes_new = object_sizes(CORE, tmp)
        sizes_old = object_sizes(before, tmp)
        harness = detect.build_host_harness(tmp / "host")
        for name, x, lo, hi in signals(Path(args.data), args.seconds):
            sig = tmp / re.sub(r"\W", "_", name)
            sig.mkdir()
            peaks = detect.detect_samples(x, exe=harness, adc_min=lo, adc_max=hi)
            r = peaks[(peaks >= 180) & (peaks + 180 < len(x))]
            (sig / "bench_signal.h").write_text(signal_header(x, r, lo, hi))
            new = run_program(CORE, sig, sig / "new", True)
            old = run_program(before, sig, sig / "old", False)
            want, n_sub = want_hash(x, lo, hi)
            if new["hash"] != [want, str(n_sub)]:
                raise SystemExit(
                    f"{name}: QEMU scores {new['hash']} differ from the Python "
                    f"reference {want} {n_sub}"
                )
            empty = int(new["empty"][0])
            q_total, n = int(new["quality_push"][0]) - empty, int(new["quality_push"][1])
            look, n_look = int(new["lookup"][0]), int(new["lookup"][1])
            app_new, beats = int(new["app"][0]) - empty, int(new["app"][2])
            app_old, beats_old = int(old["app"][0]) - empty, int(old["app"][2])
            row = {
                "signal": name,
                "samples": n,
                "beats": beats,
                "beats_before": beats_old,
                "quality_push_per_sample": round(q_total / n, 1),
                "quality_push_per_beat": round(q_total / max(beats, 1)),
                "lookup_per_beat": round(look / max(n_look, 1) - empty),
                "app_per_sample": round(app_new / n, 1),
                "app_per_sample_before": round(app_old / n, 1),
                "app_added_per_beat": round((app_new - app_old) / max(beats, 1)),
                "sizeof_quality": int(new["sizeof_quality"][0]),
                "sizeof_app": int(new["app"][3]),
                "sizeof_app_before": int(old["app"][3]),
                "hash_equal_python": True,
            }
            rows.append(row)
    print(
        f"{'signal':<12} {'beats':>5} {'push/sample':>11} {'push/beat':>9} {'lookup':>6} "
        f"{'app/sample':>10} {'before':>7} {'added/beat':>10}"
    )
    for w in rows:
        print(
            f"{w['signal']:<12} {w['beats']:>5} {w['quality_push_per_sample']:>11} "
            f"{w['quality_push_per_beat']:>9,} {w['lookup_per_beat']:>6} "
            f"{w['app_per_sample']:>10} {w['app_per_sample_before']:>7} "
            f"{w['app_added_per_beat']:>10,}"
        )
    print(
        f"code bytes (-Os, text+data): quality {sizes_new.get('tinyecg_quality')}, app "
        f"{sizes_old.get('tinyecg_app')} -> {sizes_new.get('tinyecg_app')}, detector "
        f"{sizes_old.get('tinyecg_detector')} -> {sizes_new.get('tinyecg_detector')}; "
        f"RAM: tinyecg_quality_t {rows[0]['sizeof_quality']} B, tinyecg_app_t "
        f"{rows[0]['sizeof_app_before']} -> {rows[0]['sizeof_app']} B"
    )
    result = {
        "what": "instructions under QEMU mps2-an386 -icount shift=0 (Cortex-M4, -Os; "
        "platform_instructions(), resolution 40, empty measurement subtracted)",
        "command": "python scripts/bench_quality_qemu.py " + " ".join(argv or sys.argv[1:]),
        "before": args.before,
        "seconds_per_signal": args.seconds,
        "code_bytes": {"now": sizes_new, "before": sizes_old},
        "rows": rows,
        **qemu.toolchain_versions(),
        "seconds": round(time.time() - t_start, 1),
    }
    if args.json:
        write_json(Path(args.json), result)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
