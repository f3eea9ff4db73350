"""The CLI end to end on the bundled excerpt, and its one-line errors for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ROOT


def tinyecg(*args, env=None, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "tinyecg", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tinyecg {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def assert_one_line_error(proc, *fragments):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: ") or "Error:" in proc.stderr, proc.stderr
    for frag in fragments:
        assert frag in proc.stderr, proc.stderr


def test_help_lists_commands():
    out = tinyecg("--help").stdout
    for cmd in ("data", "train", "evaluate"):
        assert cmd in out


@pytest.fixture(scope="module")
def excerpt_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "intra"
    tinyecg("train", "--epochs", "2", "--out", run, "--quiet")
    return run


def test_train_and_evaluate_on_bundled_excerpt(excerpt_run):
    cfg = json.loads((excerpt_run / "config.json").read_text())
    assert cfg["split"]["name"] == "intra" and cfg["data"]["label_names"] == list("NLRAV")
    assert cfg["preprocessing"]["wavelet"] == "sym4"
    assert (excerpt_run / "teacher.keras").is_file()
    out = tinyecg("evaluate", excerpt_run).stdout
    rep = json.loads((excerpt_run / "report.json").read_text())
    for key in ("split", "model", "labels", "accuracy", "macro_f1", "per_class", "confusion"):
        assert key in rep
    assert set(rep["per_class"]) == set("NLRAV")
    for m in rep["per_class"].values():
        assert {"se", "ppv", "f1", "support"} <= set(m)
    assert sum(map(sum, rep["confusion"])) == cfg["split"]["sizes"]["test"]
    # two epochs on 1,750 beats already separate the classes far better than chance
    assert rep["accuracy"] > 0.5
    assert (excerpt_run / "confusion.png").stat().st_size > 1000
    assert "accuracy" in (excerpt_run / "report.md").read_text() and "accuracy" in out


def test_evaluate_on_another_wfdb_folder_maps_to_aami(excerpt_run, excerpt_dir, tmp_path):
    proc = tinyecg("evaluate", excerpt_run, "--records", excerpt_dir, "-q")
    rep = json.loads((excerpt_run / "report.json").read_text())
    assert rep["labels"] == ["N", "S", "V", "F", "Q"] and rep["split"] == "external"
    assert "Traceback" not in proc.stderr


def test_inter_split_run_has_disjoint_records(tmp_path):
    run = tmp_path / "inter"
    tinyecg("train", "--split", "inter", "--labels", "aami", "--epochs", "1", "--out", run, "-q")
    cfg = json.loads((run / "config.json").read_text())
    recs = cfg["split"]["records"]
    assert not set(recs["train"]) & set(recs["test"]) and not set(recs["val"]) & set(recs["train"])
    assert cfg["data"]["label_names"] == ["N", "S", "V", "F", "Q"]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (
            ["train", "--data", "/nonexistent/db", "--out", "{tmp}/r"],
            ["/nonexistent/db", "not found"],
        ),
        (["train", "--split", "bogus", "--out", "{tmp}/r"], ["bogus"]),
        (["train", "--arch", "nope-cnn", "--out", "{tmp}/r"], ["unknown architecture 'nope-cnn'"]),
        (["train", "--data", "{tmp}", "--out", "{tmp}/r"], ["no WFDB records"]),
        (["evaluate", "{tmp}"], ["config.json: not found"]),
        # the patient recipe needs the inter split and AAMI classes (docs/generalisation.md)
        (
            ["pipeline", "--recipe", "patient", "--out", "{tmp}/r"],
            ["--recipe patient", "--split inter"],
        ),
        (
            ["train", "--recipe", "patient", "--split", "inter", "--out", "{tmp}/r"],
            ["--recipe patient", "--labels aami"],
        ),
        # pipeline's own options reach it (no other command's decorators on it)
        (
            ["pipeline", "--data", "/nonexistent/db", "--out", "{tmp}/r"],
            ["/nonexistent/db", "not found"],
        ),
    ],
)
def test_bad_input_gives_one_line_and_no_run_dir(tmp_path, args, fragments):
    args = [a.format(tmp=tmp_path) for a in args]
    proc = tinyecg(*args, check=False)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]


def test_corrupt_record_gives_one_line(tmp_path, excerpt_dir):
    import shutil

    data = tmp_path / "db"
    shutil.copytree(excerpt_dir, data)
    (data / "119.dat").write_bytes(b"\x00\x01")
    proc = tinyecg("train", "--data", data, "--out", tmp_path / "r", check=False)
    assert_one_line_error(proc, "119")
    assert not (tmp_path / "r").exists()


def test_existing_run_dir_needs_force(excerpt_run):
    proc = tinyecg("train", "--out", excerpt_run, check=False)
    assert_one_line_error(proc, "not empty", "--force")
    assert (excerpt_run / "teacher.keras").is_file()
