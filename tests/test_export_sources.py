"""tinyecg export from each kind of source (run directory, .tflite with or without config.json,
the packaged default model), with each runtime, and the board budget check."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from export_harness import (
    CFLAGS,
    HARNESS,
    TFLM_SET,
    compile_c,
    compile_resolver,
    lib_includes,
    lib_sources,
    need,
    parse_harness,
    run,
)
from helpers import EXCERPT, ROOT


def run_config(labels: str = "nlrav") -> dict:
    """A config.json as `tinyecg train` writes it, on the bundled excerpt."""
    from tinyecg.data.beats import LABEL_SETS
    from tinyecg.dsp import denoise

    return {
        "tinyecg_version": "0.1.0",
        "data": {
            "dir": str(EXCERPT),
            "labels": labels,
            "label_names": LABEL_SETS[labels]["labels"],
            "include_paced": False,
            "records": None,
            "fs": 360,
            "window": 360,
            "pre_r": 180,
        },
        "preprocessing": denoise.PARAMS,
        "split": {"name": "intra", "seed": 0},
    }


def test_run_directory_golden_beats_come_from_its_test_split(models, tmp_path):
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.export.exporter import export

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(models["int8"], run / "student_int8.tflite")
    cfg = run_config()
    (run / "config.json").write_text(json.dumps(cfg))
    out = tmp_path / "out"
    summary = export(run, out, golden=12)
    assert summary["source"]["kind"] == "run"
    assert summary["source"]["model"]["file"] == "student_int8.tflite"
    assert "test split (intra, seed 0)" in summary["golden"]["origin"]
    ds, split = dataset_from_config(cfg)
    test = {(str(ds.beats.record[i]), int(ds.beats.sample[i])) for i in split["test"]}
    items = summary["golden"]["items"]
    assert len(items) == 12 and all((g["record"], g["sample"]) in test for g in items)
    assert {g["label"] for g in items} == set(range(5))  # every class of the test split
    meta = (out / "tinyecg_model_meta.h").read_text()
    assert "config.json of run" in meta and '"N",\n    "L",' in meta
    assert not summary["notes"]


def test_run_directory_without_data_falls_back_to_the_excerpt(models, tmp_path):
    from tinyecg.export.exporter import export

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(models["int8"], run / "student_qat_int8.tflite")  # no student_int8.tflite
    cfg = run_config()
    cfg["data"]["dir"] = str(tmp_path / "gone")
    (run / "config.json").write_text(json.dumps(cfg))
    summary = export(run, tmp_path / "out", golden=3)
    assert summary["source"]["model"]["file"] == "student_qat_int8.tflite"
    assert summary["golden"]["origin"] == "MIT-BIH excerpt bundled with tinyecg"
    assert any("student_qat_int8" in n for n in summary["notes"])
    assert any("run data unavailable" in n for n in summary["notes"])


def test_tflite_with_config_beside_it_takes_its_labels(models, tmp_path):
    from tinyecg.export.exporter import export

    shutil.copy(models["int8"], tmp_path / "model.tflite")
    (tmp_path / "config.json").write_text(json.dumps(run_config("aami")))
    out = tmp_path / "out"
    summary = export(tmp_path / "model.tflite", out, golden=6)
    assert summary["labels"] == ["N", "S", "V", "F", "Q"]
    meta = (out / "tinyecg_model_meta.h").read_text()
    assert '#define TINYECG_LABEL_S 1 /* "S" */' in meta
    assert not summary["notes"]  # nothing assumed
    labels = [g["label"] for g in summary["golden"]["items"]]
    assert labels[:3] == [0, 1, 2]  # N, S, V: the excerpt has no F or Q beats


def test_default_model_is_found_in_the_package(models, tmp_path, monkeypatch):
    from tinyecg.errors import TinyECGError
    from tinyecg.export import exporter, source

    assert exporter.DEFAULT_MODEL_DIR == ROOT / "tinyecg" / "assets" / "default_model"
    shipped = tmp_path / "default_model"
    monkeypatch.setattr(source, "default_model_dir", lambda: shipped)
    with pytest.raises(TinyECGError, match="no default model"):
        exporter.export(None, tmp_path / "none")
    assert not (tmp_path / "none").exists()
    shipped.mkdir()
    shutil.copy(models["int8"], shipped / "model.tflite")
    (shipped / "config.json").write_text(json.dumps(run_config()))
    summary = exporter.export(None, tmp_path / "out")
    assert summary["source"]["kind"] == "default"
    assert summary["command"].startswith("tinyecg export --out ")
    assert (tmp_path / "out" / "tinyecg_model_data.c").is_file()


@pytest.mark.parametrize("board", ["nano33ble", "esp32s3", "nucleo_l432kc", "pico"])
def test_budget_fits_the_real_boards(models, tmp_path, board):
    from tinyecg.export.boards import BOARDS
    from tinyecg.export.exporter import export
    from tinyecg.export.preprocess import STACK_BYTES

    out = tmp_path / "out"
    summary = export(models["int8"], out, board=board, golden=4)
    report = summary["board"]
    arena = int(
        re.search(
            r"#define TINYECG_ARENA_BYTES (\d+)u", (out / "tinyecg_arena.h").read_text()
        ).group(1)
    )
    b = BOARDS[board]
    assert report["fits"]
    assert report["flash"]["parts"]["model"] == models["int8"].stat().st_size
    assert report["ram"]["parts"]["arena"] == arena
    assert report["ram"]["parts"]["preprocess_stack"] == STACK_BYTES
    assert report["flash"]["parts"]["tflm_runtime"] == b.tflm_flash
    for kind, total in (("flash", b.flash_app), ("ram", b.ram_app)):
        part = report[kind]
        assert part["needed"] == sum(part["parts"].values())
        assert part["available"] == total and part["free"] == total - part["needed"] > 0


def test_board_profiles_are_consistent():
    from tinyecg.export.boards import BOARDS, get_board

    assert {"nano33ble", "esp32s3", "pico", "nucleo_f031k6"} <= set(BOARDS)
    assert any(name.startswith("nucleo_") and name != "nucleo_f031k6" for name in BOARDS)
    for b in BOARDS.values():
        assert 0 < b.flash_app <= b.flash_total and 0 < b.ram_app <= b.ram_total
        assert b.notes and get_board(b.name) is b
    assert (BOARDS["nano33ble"].flash_total, BOARDS["nano33ble"].ram_total) == (1 << 20, 256 << 10)
    assert (BOARDS["pico"].flash_total, BOARDS["pico"].ram_total) == (2 << 20, 264 << 10)
    assert (BOARDS["nucleo_f031k6"].flash_total, BOARDS["nucleo_f031k6"].ram_total) == (
        32 << 10,
        4 << 10,
    )


def test_runtime_c_replaces_the_tflm_files(models, tmp_path):
    """--runtime c: cbackend's C model instead of model data + resolver + arena; the golden
    outputs (from TFLM) are reproduced by that C fed by the generated preprocessing."""
    from tinyecg.errors import TinyECGError
    from tinyecg.export.exporter import export

    try:
        from tinyecg.export import cbackend  # noqa: F401
    except ImportError:
        with pytest.raises(TinyECGError, match="cbackend"):
            export(models["int8"], tmp_path / "out", runtime="c")
        assert not (tmp_path / "out").exists()
        return
    out = tmp_path / "out"
    summary = export(models["int8"], out, runtime="c", board="nucleo_l432kc", golden=8)
    names = {p.name for p in out.iterdir()}
    assert {
        "tinyecg_model_meta.h",
        "tinyecg_preprocess_params.c",
        "tinyecg_golden.c",
        "manifest.json",
    } <= names
    assert not names & {"tinyecg_model_data.c", "tinyecg_op_resolver.h", "tinyecg_arena.h"}
    assert summary["runtime"] == "c" and summary["board"]["flash"]["parts"]["tflm_runtime"] == 0
    assert '#define TINYECG_RUNTIME "c"' in (out / "tinyecg_model_meta.h").read_text()
    from tinyecg.export.cbackend import library_include, library_sources

    c_files = [*sorted(p for p in out.glob("*.c")), *library_sources()]
    exe = tmp_path / "c_runtime_check"
    r = run(
        [
            need("gcc"),
            *CFLAGS,
            "-I",
            out,
            "-I",
            library_include(),
            *lib_includes(),
            "-o",
            exe,
            HARNESS / "export_c_runtime_check.c",
            *c_files,
            *lib_sources(),
        ]
    )
    assert r.returncode == 0, r.stderr
    r = run([exe])
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines()[-1] == "mismatches 0"
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("golden ")]) == 8


def test_force_replaces_the_files_and_keeps_others(models, tmp_path):
    from tinyecg.export.exporter import export

    out = tmp_path / "lib"
    out.mkdir()
    (out / "library.json").write_text("{}")
    (out / "tinyecg_golden.c").write_text("stale")
    export(models["int8"], out, golden=2, force=True)
    assert (out / "library.json").read_text() == "{}"
    assert "tinyecg_golden" in (out / "tinyecg_golden.c").read_text()
    assert np.all([(out / n).is_file() for n in TFLM_SET])


def test_model_without_rhythm_input(models, tmp_path):
    """One input: no rhythm in the preprocessing, golden table or meta; the C still compiles
    warning-free and reproduces the golden inputs, and the resolver has no CONCATENATION."""
    from tinyecg.export.exporter import export

    out = tmp_path / "out"
    summary = export(models["beat_only"], out, golden=5)
    assert [i["role"] for i in summary["model"]["inputs"]] == ["beat"]
    assert "CONCATENATION" not in summary["model"]["ops"]
    assert "TINYECG_INPUT_RHYTHM" not in (out / "tinyecg_model_meta.h").read_text()
    assert "rhythm[" not in (out / "tinyecg_golden.h").read_text()
    exe = tmp_path / "golden_check"
    compile_c(out, exe)
    r = run([exe, tmp_path / "model.bin"])
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "mismatches 0", r.stdout[-500:]
    info = parse_harness(r.stdout)
    assert set(info["inputs"]) == {"beat"} and len(info["golden"]) == 5
    assert (tmp_path / "model.bin").read_bytes() == models["beat_only"].read_bytes()
    compile_resolver(out, tmp_path / "resolver_check")
    lines = run([tmp_path / "resolver_check"]).stdout.splitlines()
    assert [ln[3:] for ln in lines if ln.startswith("op ")] == summary["model"]["ops"]
