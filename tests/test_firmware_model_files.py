"""firmware/lib/tinyecg_model holds the export of the shipped default model, so `pio run`
builds out of the box; it must be exactly what `tinyecg export` makes of that model today."""

from __future__ import annotations

import json

from helpers import ROOT

COMMITTED = ROOT / "firmware" / "lib" / "tinyecg_model"


def test_committed_firmware_model_files_equal_a_fresh_export(tmp_path):
    from tinyecg.export.exporter import export

    export(None, tmp_path / "fresh")
    fresh = {p.name for p in (tmp_path / "fresh").iterdir()}
    assert {p.name for p in COMMITTED.iterdir()} == fresh
    for name in sorted(fresh - {"manifest.json"}):
        assert (COMMITTED / name).read_text() == (tmp_path / "fresh" / name).read_text(), (
            f"firmware/lib/tinyecg_model/{name} is stale: run "
            "`tinyecg export --out firmware/lib/tinyecg_model --force`"
        )
    committed = json.loads((COMMITTED / "manifest.json").read_text())
    current = json.loads((tmp_path / "fresh" / "manifest.json").read_text())
    assert committed["files"] == current["files"] and committed["model"] == current["model"]
