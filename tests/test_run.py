"""The run directory's one model resolver (tinyecg.run.run_model / find_run_model), which
export, evaluate, the demo and the benchmarks all use."""

from __future__ import annotations

import pytest

from tinyecg.errors import TinyECGError
from tinyecg.run import find_run_model, run_model


def _touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b"x")


def test_int8_order_and_notes(tmp_path):
    _touch(tmp_path, "student_clustered_int8.tflite", "student_qat_int8.tflite")
    notes = []
    assert run_model(tmp_path, notes=notes).name == "student_qat_int8.tflite"
    assert notes == ["no student_int8.tflite: using student_qat_int8.tflite"]
    _touch(tmp_path, "student_int8.tflite")
    notes = []
    assert run_model(tmp_path, "int8", notes=notes).name == "student_int8.tflite" and not notes
    # the shipped model's layout: model.tflite, no note
    _touch(tmp_path, "model.tflite")
    notes = []
    assert run_model(tmp_path, notes=notes).name == "model.tflite" and not notes
    # config.json's export.model wins when it names a file of the run
    notes = []
    cfg = {"export": {"model": "student_clustered_int8.tflite"}}
    assert run_model(tmp_path, config=cfg, notes=notes).name == "student_clustered_int8.tflite"
    assert notes == ["config.json export.model names student_clustered_int8.tflite"]
    assert run_model(tmp_path, config={"export": {"model": "gone.tflite"}}).name == "model.tflite"


def test_int8_under_another_name(tmp_path):
    _touch(tmp_path, "zz.tflite", "b_int8_x.tflite")
    notes = []
    assert run_model(tmp_path, notes=notes).name == "b_int8_x.tflite"
    assert notes == ["no student_int8.tflite: using b_int8_x.tflite"]
    (tmp_path / "b_int8_x.tflite").unlink()
    assert run_model(tmp_path).name == "zz.tflite"


def test_float_order(tmp_path):
    _touch(tmp_path, "teacher.keras")
    assert run_model(tmp_path, "float").name == "teacher.keras"
    _touch(tmp_path, "student.keras")
    assert run_model(tmp_path, "float").name == "student.keras"
    _touch(tmp_path, "model.keras")
    assert run_model(tmp_path, "float").name == "model.keras"


def test_names_and_paths(tmp_path):
    _touch(tmp_path, "student.keras", "student.tflite")
    assert run_model(tmp_path, "student").suffix == ".keras"
    assert run_model(tmp_path, "student", suffixes=(".tflite",)).suffix == ".tflite"
    other = tmp_path / "elsewhere.tflite"
    _touch(tmp_path, other.name)
    assert run_model(tmp_path / "nowhere", str(other)) == other


def test_missing_models(tmp_path):
    assert find_run_model(tmp_path, "int8") is None
    assert find_run_model(tmp_path, "float") is None
    assert find_run_model(tmp_path, "teacher") is None
    with pytest.raises(TinyECGError, match="no int8 model in the run .*quantize"):
        run_model(tmp_path)
    with pytest.raises(TinyECGError, match="no float model in the run .*train"):
        run_model(tmp_path, "float")
    with pytest.raises(TinyECGError, match="teacher: no such model in the run"):
        run_model(tmp_path, "teacher")
