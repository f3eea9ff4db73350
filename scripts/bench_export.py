"""Benchmark `tinyecg export`: wall time of exporting the default model (target: <= 10 s).

    python scripts/bench_export.py [--source RUN_DIR|MODEL.tflite] [--repeat 3] [--json PATH]

Without --source it exports the model shipped in tinyecg/assets/default_model/; while the
package has none yet, it builds a stand-in (student-cnn, 200 training steps on the bundled
excerpt, full-int8 conversion) in a temporary folder and says so. Each export runs in a fresh
Python process (what `tinyecg export` costs a user: imports, TFLM, golden vectors, rendering,
writing), with --board nano33ble; the runtime c export is timed too when tinyecg has the C
backend. Prints a table and writes the JSON (default: bench_export.json in the temp folder).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinyecg.run import write_json

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 10.0


def stand_in_model(folder: Path) -> Path:
    """The tests' recipe (tests/helpers.py build_models), int8 only."""
    sys.path.insert(0, str(ROOT / "tests"))
    import helpers  # noqa: E402  (the recipe lives with the tests that use it)

    return helpers.build_models(folder)["int8"]


def timed_export(source: Path | None, out: Path, runtime: str) -> tuple[float, dict]:
    code = (
        "import json, sys, time; from tinyecg.export.exporter import export; "
        "t0 = time.perf_counter(); "
        "s = export(None if sys.argv[1] == '-' else sys.argv[1], sys.argv[2], "
        "board='nano33ble', runtime=sys.argv[3]); "
        "print(json.dumps({'seconds': time.perf_counter() - t0, 'files': len(s['written']), "
        "'golden': s['golden']['count'], 'arena': s['arena'].get('total'), "
        "'model_bytes': s['model']['bytes'], 'board': s['board']['fits']}))"
    )
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", code, str(source) if source else "-", str(out), runtime],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"export failed: {r.stderr.strip().splitlines()[-1:]}")
    return wall, json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", default=str(Path(tempfile.gettempdir()) / "bench_export.json"))
    ns = ap.parse_args()

    from tinyecg.export.exporter import DEFAULT_MODEL_DIR

    with tempfile.TemporaryDirectory(prefix="bench_export.") as tmp:
        tmp = Path(tmp)
        source, what = (Path(ns.source), ns.source) if ns.source else (None, "default model")
        if source is None and not (DEFAULT_MODEL_DIR / "model.tflite").is_file():
            t0 = time.perf_counter()
            source = stand_in_model(tmp / "model")
            what = (
                f"stand-in student-cnn (no default model shipped yet; built in "
                f"{time.perf_counter() - t0:.0f} s)"
            )
        try:
            from tinyecg.export import cbackend  # noqa: F401

            runtimes = ["tflm", "c"]
        except ImportError:
            runtimes = ["tflm"]
        rows = {}
        for runtime in runtimes:
            walls, inner = [], None
            for k in range(ns.repeat):
                wall, inner = timed_export(source, tmp / f"out_{runtime}_{k}", runtime)
                walls.append(wall)
            rows[runtime] = {
                "wall_seconds": [round(w, 3) for w in walls],
                "median_wall_seconds": round(statistics.median(walls), 3),
                "in_process_seconds": inner["seconds"],
                **inner,
            }
    result = {
        "source": what,
        "target_seconds": TARGET_SECONDS,
        "runtimes": rows,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "ok": all(r["median_wall_seconds"] <= TARGET_SECONDS for r in rows.values()),
    }
    print(f"tinyecg export benchmark: {what}")
    print(
        f"{'runtime':<8} {'median wall s':>13} {'in-process s':>13} {'files':>6} "
        f"{'golden':>7} {'arena':>6}"
    )
    for runtime, r in rows.items():
        print(
            f"{runtime:<8} {r['median_wall_seconds']:>13.2f} {r['in_process_seconds']:>13.2f} "
            f"{r['files']:>6} {r['golden']:>7} {str(r['arena']):>6}"
        )
    print(f"target <= {TARGET_SECONDS:.0f} s: {'met' if result['ok'] else 'NOT met'}")
    write_json(Path(ns.json), result)
    print(f"wrote {ns.json}")


if __name__ == "__main__":
    main()
