"""`tinyecg train --task rhythm` (tinyecg.stages.rhythm_train.train_rhythm_run): a run folder
written all at once from WFDB folders with rhythm annotations, that `tinyecg export --task
rhythm` takes as it is; one-line errors for bad input; the shipped rhythm model is such a run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import ROOT
from test_cli import assert_one_line_error, tinyecg

from tinyecg import spec
from tinyecg.paths import rhythm_model_dir

DATA = ROOT.parent / "shared" / "data"


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--task", "rhythm"], ["--task rhythm needs --records"]),
        (["--task", "rhythm", "--records", "nowhere"], ["nowhere: records folder not found"]),
        (["--records", "tinyecg/data/excerpts/mitdb"], ["are for --task rhythm"]),
        (["--teacher-epochs", "2"], ["are for --task rhythm"]),
        (["--task", "rhythm", "--records", "tinyecg", "--student-epochs", "0"], ["0"]),
    ],
)
def test_bad_input_gives_one_line_and_no_run(tmp_path, args, fragments):
    proc = tinyecg("train", *args, "--out", tmp_path / "run", check=False)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_folder_without_rhythm_annotations_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = tinyecg(
        "train", "--task", "rhythm", "--records", empty, "--out", tmp_path / "r", check=False
    )
    assert_one_line_error(proc, "no WFDB records")


def _linked(tmp_path, db: str, names) -> str:
    folder = tmp_path / db  # the folder's name is the records' database
    folder.mkdir()
    for name in names:
        for ext in ("hea", "dat", "atr"):
            src = DATA / db / f"{name}.{ext}"
            if not src.is_file():
                pytest.skip(f"{db}/{name} not in ../shared/data")
            (folder / src.name).symlink_to(src)
    return str(folder)


def test_train_then_export_a_small_rhythm_run(tmp_path):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tflite_micro")
    dirs = [_linked(tmp_path, "cudb", ["cu01", "cu02"]), _linked(tmp_path, "mitdb", ["207"])]
    run = tmp_path / "run"
    args = ["--teacher-epochs", "1", "--student-epochs", "1", "--out", run]
    out = tinyecg("train", "--task", "rhythm", "--records", *dirs, *args).stdout
    assert "trained on 3 records (cudb 2, mitdb 1)" in out
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["task"] == "rhythm" and cfg["data"]["records"] == [
        "cudb/cu01",
        "cudb/cu02",
        "mitdb/207",
    ]
    assert cfg["training"]["teacher_epochs"] == 1 and cfg["training"]["alpha"] == 0.3
    assert str(tmp_path) not in (run / "config.json").read_text()
    from tinyecg.models.int8 import Int8Model

    m = Int8Model.load(run / "student_int8.tflite", task=spec.RHYTHM_TASK)
    assert m.task == spec.RHYTHM_TASK
    assert (m.inputs[0].scale, m.inputs[0].zero_point) == (1 / 16, 0)
    with np.load(run / "golden_windows.npz") as z:
        assert set(z["record"]) <= set(cfg["data"]["records"])
    # again without --force: refused, the run untouched
    proc = tinyecg("train", "--task", "rhythm", "--records", *dirs, *args, check=False)
    assert_one_line_error(proc, "not empty")
    exp = tmp_path / "exp"
    out = tinyecg("export", run, "--task", "rhythm", "--runtime", "c", "--out", exp).stdout
    assert "golden: 8 windows" in out and "golden_windows.npz beside student_int8.tflite" in out
    assert (exp / "tinyecg_rhythm_model.c").is_file()


def test_shipped_rhythm_model_is_a_rhythm_run_on_all_records():
    folder = rhythm_model_dir()
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["task"] == "rhythm"
    assert cfg["data"]["databases"] == {"cudb": 30, "mitdb": 44, "vfdb": 17}
    from tinyecg.stages.rhythm_train import DEFAULTS

    assert cfg["training"] == DEFAULTS  # the recipe of scripts/bench_rhythm.py
    assert cfg["model"]["int8_bytes"] == (folder / "model.tflite").stat().st_size <= 16 * 1024
    readme = (folder / "README.md").read_text()
    for fact in ("docs/bench/rhythm.json", "no held-out", "Kerber"):
        assert fact in readme
