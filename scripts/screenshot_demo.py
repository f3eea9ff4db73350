"""Screenshot of the browser demo for the README (docs/img/demo.png).

Serves the demo on a free 127.0.0.1 port, drives it in headless Debian Chromium (playwright
with executable_path, a fresh profile, no network services), analyses a bundled record (or
classifies one bundled beat) and saves the page:

    python scripts/screenshot_demo.py                       # the package's default model
    python scripts/screenshot_demo.py --run-dir runs/r1     # a run directory
    python scripts/screenshot_demo.py --tab beat --out /tmp/beat.png
    python scripts/screenshot_demo.py --tab rhythm --rhythm-record ../shared/data/cudb/cu01 \
        --out /tmp/rhythm.png                               # the rhythm view (uploads it)
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--run-dir", help="run directory (default: the package's default model)")
    src.add_argument("--model", help="one .tflite (or .keras) model file")
    ap.add_argument("--tab", choices=("record", "beat", "rhythm"), default="record")
    ap.add_argument("--rhythm-model", help="the rhythm view's .tflite (default: the shipped one)")
    ap.add_argument(
        "--rhythm-record",
        help="WFDB record (path without extension, .atr beside it) the rhythm tab uploads "
        "(default: the bundled excerpt --record)",
    )
    ap.add_argument("--record", default="208", help="bundled excerpt to analyse (record tab)")
    ap.add_argument("--start", type=float, default=52.0, help="detail view start, seconds")
    ap.add_argument("--example", type=int, default=4, help="example beat number (beat tab)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument(
        "--colors",
        type=int,
        default=128,
        help="palette size of the saved PNG (0: keep full colour)",
    )
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "demo.png"))
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import expect, sync_playwright

    from tinyecg.app import demo
    from tinyecg.errors import TinyECGError

    try:
        app = demo.build_app(args.run_dir, args.model, rhythm_model=args.rhythm_model)
        url = demo.launch(app, free_port(), block=False)
    except TinyECGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="tinyecg-chromium-") as profile,
            sync_playwright() as pw,
        ):
            ctx = pw.chromium.launch_persistent_context(
                profile,
                executable_path=args.chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": args.width, "height": 900},
            )
            page = ctx.new_page()
            page.goto(url)
            if args.tab == "beat":
                text = list(demo.example_beats().values())[args.example]
                page.locator("#beat-text textarea").fill(text)
                page.locator("#beat-run").click()
                expect(page.locator("#beat-result")).to_contain_text("Predicted", timeout=60_000)
            elif args.tab == "rhythm":
                page.get_by_role("tab", name="Rhythm (VF/VT alarm)").click()
                if args.rhythm_record:
                    base = Path(args.rhythm_record)
                    page.locator("#rhythm-files input[type=file]").set_input_files(
                        [str(base.with_name(base.name + e)) for e in (".hea", ".dat", ".atr")]
                    )
                    page.wait_for_timeout(500)
                else:
                    page.locator("#rhythm-bundled input").fill(args.record)
                    page.keyboard.press("Enter")
                page.locator("#rhythm-run").click()
                expect(page.locator("#rhythm-result")).to_contain_text(
                    "decisions shockable", timeout=60_000
                )
            else:
                page.get_by_role("tab", name="Record").click()
                page.locator("#record-bundled input").fill(args.record)
                page.keyboard.press("Enter")
                page.locator("#record-run").click()
                expect(page.locator("#record-result")).to_contain_text(
                    f"Record {args.record}", timeout=60_000
                )
                if args.start:
                    box = page.locator("#record-start input[type=number]")
                    box.fill(str(int(args.start)))
                    box.press("Enter")
                    page.wait_for_timeout(2500)
            page.wait_for_timeout(800)
            page.screenshot(path=str(out), full_page=True)
            ctx.close()
    finally:
        app.close()
    if args.colors:
        from PIL import Image  # a gradio dependency

        with Image.open(out) as im:
            small = im.convert("RGB").quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT)
        small.save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
