"""Render tinyecg_spec.h, the C face of tinyecg.spec, into the core library.

python -m tinyecg.export.spec_header          # rewrite the committed header
"""

from __future__ import annotations

from pathlib import Path

from tinyecg import paths, spec
from tinyecg.export.render import render

HEADER = Path("lib") / "tinyecg_core" / "include" / "tinyecg_spec.h"


def render_spec_header() -> str:
    return render(
        "core/tinyecg_spec.h.j2",
        fs=spec.FS,
        window=spec.WINDOW,
        pre_r=spec.PRE_R,
        local_beats=spec.LOCAL_BEATS,
        default_rr=spec.DEFAULT_RR,
    )


def main() -> None:
    path = paths.firmware_dir() / HEADER
    path.write_text(render_spec_header())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
