"""The wheel carries the templates, the default model and the excerpts: a non-editable
install exports the default model without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from helpers import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 and "hatchling" in proc.stderr:
        pytest.skip("hatchling (the build backend) is not installed")
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("tinyecg-*.whl"))


def test_wheel_contains_templates_model_and_excerpts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {
        p.relative_to(ROOT / "templates").as_posix() for p in (ROOT / "templates").rglob("*.j2")
    }
    assert templates and {f"tinyecg/templates/{t}" for t in templates} <= names
    for f in ("model.tflite", "config.json"):
        assert f"tinyecg/assets/default_model/{f}" in names
    for f in ("model.tflite", "config.json", "README.md", "golden_windows.npz"):
        assert f"tinyecg/assets/rhythm_model/{f}" in names
    assert "tinyecg/data/excerpts/mitdb/100.dat" in names
    assert "tinyecg/firmware/lib/tinyecg_dsp/src/tinyecg_preprocess.c" in names
    assert "tinyecg/firmware/lib/tinyecg_core/include/tinyecg_spec.h" in names


def test_installed_wheel_exports_and_detects(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    out = tmp_path / "exported"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def venv_python(*args: str) -> subprocess.CompletedProcess:
        """The venv's python, outside the source tree and without PYTHONPATH."""
        return subprocess.run(
            [str(py), *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300
        )

    proc = venv_python("-m", "tinyecg", "export", "--out", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    # the package imported from the venv, not from the source tree
    assert str(venv) in venv_python("-c", "import tinyecg; print(tinyecg.__file__)").stdout
    for name in (
        "tinyecg_model_data.c",
        "tinyecg_preprocess_params.h",
        "tinyecg_golden.c",
        "tinyecg_op_resolver.h",
        "manifest.json",
    ):
        assert (out / name).is_file()
    # the shipped rhythm model exports from the wheel alone (its golden windows inside)
    rhythm = tmp_path / "rhythm"
    proc = venv_python(
        "-m", "tinyecg", "export", "--task", "rhythm", "--runtime", "c", "--out", str(rhythm)
    )
    assert proc.returncode == 0, proc.stderr
    assert (rhythm / "tinyecg_rhythm_model.c").is_file()
    assert (rhythm / "tinyecg_rhythm_model_golden.c").is_file()
    # detect compiles the core it carries (no source tree) and scores a bundled excerpt
    where = "from tinyecg import paths; print(paths.excerpts_dir() / '100')"
    record = venv_python("-c", where).stdout.strip()
    assert str(venv) in record
    proc = venv_python("-m", "tinyecg", "detect", record)
    assert proc.returncode == 0, proc.stderr
    assert "beats detected" in proc.stdout and "Se 100.00 %" in proc.stdout, proc.stdout
