"""Fixtures shared by every test module: where the data is, an isolated cache, and the
strict C flags every compiled test program is held to."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"


def full_mitdb() -> Path | None:
    """The full MIT-BIH database: $TINYECG_FULL_DATA, else ../shared/data/mitdb."""
    for cand in (os.environ.get("TINYECG_FULL_DATA"), ROOT.parent / "shared" / "data" / "mitdb"):
        if cand and (Path(cand) / "100.hea").is_file() and (Path(cand) / "234.dat").is_file():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def excerpt_dir() -> Path:
    return EXCERPT


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    path = full_mitdb()
    if path is None:
        pytest.skip("needs the full MIT-BIH database (../shared/data/mitdb or $TINYECG_FULL_DATA)")
    return path


@pytest.fixture(scope="session")
def strict_c_flags() -> list[str]:
    """-std=c99 -Wall -Wextra -Werror -Wconversion -pedantic: the one flag list the package
    compiles its own host C with (tinyecg.device.cbuild.STRICT_C_FLAGS)."""
    from tinyecg.device.cbuild import STRICT_C_FLAGS

    return list(STRICT_C_FLAGS)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test session gets its own dataset cache; the user's is never touched."""
    monkeypatch.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("TINYECG_DATA", raising=False)
