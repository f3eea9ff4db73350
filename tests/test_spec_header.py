"""firmware/lib/tinyecg_core/include/tinyecg_spec.h is rendered from tinyecg/spec.py and
committed: it must equal a fresh rendering, and say what spec.py says."""

from __future__ import annotations

import re

from tinyecg import spec
from tinyecg.export import spec_header
from tinyecg.paths import firmware_dir


def test_committed_spec_header_equals_a_fresh_rendering():
    committed = (firmware_dir() / spec_header.HEADER).read_text()
    assert committed == spec_header.render_spec_header(), (
        "tinyecg_spec.h is stale: run `python -m tinyecg.export.spec_header`"
    )


def test_spec_header_values_are_the_spec():
    text = (firmware_dir() / spec_header.HEADER).read_text()
    defines = dict(re.findall(r"^#define (TINYECG_\w+) (\d+)", text, re.M))
    assert defines == {
        "TINYECG_FS": str(spec.FS),
        "TINYECG_WINDOW": str(spec.WINDOW),
        "TINYECG_PRE_R": str(spec.PRE_R),
        "TINYECG_LOCAL_BEATS": str(spec.LOCAL_BEATS),
        "TINYECG_DEFAULT_RR": str(spec.DEFAULT_RR),
    }
