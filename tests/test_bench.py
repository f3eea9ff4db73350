"""Benchmark rows checked against independent recomputation (Keras for float models, the
tflite_micro runtime driven directly for int8), its files, the sampled-TFLM mode, and the
pipeline's resume logic."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import EXCERPT, tiny_run

from tinyecg.errors import TinyECGError

KEYS = {
    "model",
    "runtime",
    "params",
    "flatbuffer_bytes",
    "arena_bytes",
    "macs",
    "accuracy",
    "macro_f1",
    "per_class",
    "latency_ms",
}


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    from tinyecg.stages.bench import bench

    run = tiny_run(tmp_path_factory, "int8", tmp_path_factory.mktemp("bench") / "run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        rows = bench(run, latency_repeats=20, quiet=True)
    return run, {r["model"]: r for r in rows}


@pytest.fixture(scope="module")
def held_out(benched, tmp_path_factory):
    from tinyecg.data.dataset import dataset_from_config
    from tinyecg.run import read_config

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        ds, split = dataset_from_config(read_config(benched[0]))
    return ds.subset(split["test"])


def test_one_row_per_model_with_the_required_columns(benched):
    run, rows = benched
    assert set(rows) == {"teacher", "student", "student_nokd", "student_int8"}
    for r in rows.values():
        assert KEYS <= set(r), KEYS - set(r)
        assert set(r["latency_ms_by_runtime"]) == {"tflm", "litert_ref"}
        assert all(v > 0 for v in r["latency_ms_by_runtime"].values())
        assert {"V", "A"} <= set(r["per_class"])
        for m in r["per_class"].values():
            assert {"se", "ppv", "f1", "support"} <= set(m)
    assert json.loads((run / "bench.json").read_text()) == list(rows.values())


def test_float_rows_match_keras_recomputed(benched, held_out):
    from tinyecg.models.architectures import count_macs
    from tinyecg.models.inputs import model_inputs
    from tinyecg.stages.evaluate import load_keras

    run, rows = benched
    for name in ("teacher", "student", "student_nokd"):
        model = load_keras(run / f"{name}.keras")
        pred = model.predict(
            model_inputs(model, held_out.x, held_out.beats.rhythm), verbose=0
        ).argmax(1)
        y = held_out.beats.y
        assert rows[name]["accuracy"] == pytest.approx(np.mean(pred == y))
        v = rows[name]["per_class"]["V"]
        vi = held_out.labels.index("V")
        tp = np.sum((pred == vi) & (y == vi))
        assert v["support"] == np.sum(y == vi)
        if v["se"] is not None:
            assert v["se"] == pytest.approx(tp / np.sum(y == vi))
        assert rows[name]["params"] == model.count_params()
        assert rows[name]["macs"] == count_macs(model)
        assert rows[name]["runtime"] == "keras-float"


def test_int8_row_is_measured_in_tflm(benched, held_out):
    """Drive the tflite_micro runtime and LiteRT's reference kernels directly (own input
    quantization) and compare."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    from tinyecg.runtime.tflm import capture_c_stdout

    run, rows = benched
    r = rows["student_int8"]
    data = (run / "student_int8.tflite").read_bytes()
    interp = capture_c_stdout(lambda: runtime.Interpreter.from_bytes(data))[0]
    details = [interp.get_input_details(i) for i in range(2)]
    ref = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    ref_inputs = {int(np.prod(d["shape"])): d["index"] for d in ref.get_input_details()}
    ref_output = ref.get_output_details()[0]["index"]
    preds, ref_preds, lsb = [], [], []
    for x, rr in zip(held_out.x, held_out.beats.rhythm):
        for i, d in enumerate(details):
            scale = d["quantization_parameters"]["scales"][0]
            zp = d["quantization_parameters"]["zero_points"][0]
            src = x if int(np.prod(d["shape"])) == 360 else rr
            q = np.clip(np.round(src / scale) + zp, -128, 127).astype(np.int8)
            interp.set_input(q.reshape(d["shape"]), i)
            ref.set_tensor(ref_inputs[int(np.prod(d["shape"]))], q.reshape(d["shape"]))
        interp.invoke()
        ref.invoke()
        out = np.asarray(interp.get_output(0), np.int32).ravel()
        preds.append(int(np.argmax(out)))
        ref_preds.append(int(np.argmax(ref.get_tensor(ref_output))))
        lsb.append(np.abs(out - ref.get_tensor(ref_output).astype(np.int32).ravel()))
    assert r["runtime"] == "tflm"
    assert r["accuracy"] == pytest.approx(np.mean(np.array(preds) == held_out.beats.y))
    assert r["flatbuffer_bytes"] == len(data)
    assert r["params"] == rows["student"]["params"] and r["macs"] == rows["student"]["macs"]
    assert 0 < r["arena_bytes"] < rows["student"]["arena_bytes"]  # int8 vs float32 activations
    assert r["arena_bytes"] <= 8192 and r["flatbuffer_bytes"] <= 20480
    a = r["agreement"]
    assert a["beats"] == len(held_out)
    assert a["class_agreement"] == pytest.approx(np.mean(np.array(preds) == ref_preds))
    assert a["class_mismatches"] == round((1 - a["class_agreement"]) * a["beats"])
    # the TFLM - LiteRT-REF difference, recomputed beat by beat from the two runtimes
    lsb = np.array(lsb)
    assert a["max_abs_lsb"] == int(lsb.max())
    assert a["outputs_differing"] == pytest.approx(float(np.mean(np.any(lsb > 0, axis=1))))


def test_files_written(benched):
    run, rows = benched
    for name in rows:
        rep = json.loads((run / "reports" / f"{name}.json").read_text())
        assert rep["model"] == name and rep["accuracy"] == rows[name]["accuracy"]
    md = (run / "bench.md").read_text()
    for name in rows:
        assert f"| {name} |" in md
    for col in ("V Se", "V +P", "V F1", "A Se", "A +P", "A F1", "TFLM ms", "LiteRT-REF ms"):
        assert col in md
    assert (run / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sampled_tflm_mode_states_its_scope(benched, held_out, tmp_path_factory):
    from tinyecg.models.int8 import Int8Model
    from tinyecg.runtime.tflm import LiteRTModel
    from tinyecg.stages.bench import bench
    from tinyecg.stages.distill import shifted_windows

    run, _ = benched
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        rows = {
            r["model"]: r
            for r in bench(
                run,
                runtime_sample=40,
                latency_repeats=5,
                models=["student_int8"],
                shifts=(0, 3),
                quiet=True,
            )
        }
    assert set(rows) == {"student_int8"}
    # shift 0 re-cuts the aligned windows (float16 copies, LiteRT-REF): the full-split score
    sh = rows["student_int8"]["shifted"]
    assert sh["0"]["accuracy"] == pytest.approx(rows["student_int8"]["accuracy"], abs=0.01)
    # shift 3: the test windows cut 3 samples late, scored here in LiteRT-REF
    late = shifted_windows(EXCERPT, held_out.beats, [3])[:, 0].astype(np.float32)
    data = (run / "student_int8.tflite").read_bytes()
    int8 = Int8Model.load(data)
    q = LiteRTModel(data).invoke_batch(
        *int8.quantize_inputs(beat=late, rhythm=held_out.beats.rhythm)
    )
    assert sh["3"]["accuracy"] == pytest.approx(np.mean(q.argmax(1) == held_out.beats.y))
    assert "R-peak misalignment" in (run / "bench.md").read_text()
    r = rows["student_int8"]
    assert r["runtime"] == "litert-ref"
    assert r["agreement"]["beats"] == 40 and "sample of 40" in r["agreement"]["scope"]
    assert r["tflm_sample"]["n"] == 40
    assert "TFLM on stratified sample of 40" in (run / "bench.md").read_text()


def test_bad_arguments_fail_cleanly(benched, tmp_path):
    from tinyecg.stages.bench import bench

    with pytest.raises(TinyECGError):
        bench(tmp_path)  # not a run directory
    with pytest.raises(TinyECGError, match="runtime sample"):
        bench(benched[0], runtime_sample=0)
    with pytest.raises(TinyECGError, match="unknown model"):
        bench(benched[0], models=["student_int4"])


def test_pipeline_resumes_finished_stages_and_refuses_another_run(
    benched, tmp_path, tmp_path_factory
):
    import shutil

    from tinyecg.stages.pipeline import pipeline

    run = tmp_path / "run"
    shutil.copytree(benched[0], run)
    before = {p.name: p.stat().st_mtime_ns for p in run.glob("*.keras")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        with pytest.raises(TinyECGError, match="labels nlrav"):
            pipeline(run, data=EXCERPT, split="intra", labels="aami", quiet=True)
        res = pipeline(run, split="intra", qat=False, quiet=True)  # data: the run's own
    assert res["stages"] == {
        "train": "kept",
        "distill": "kept",
        "quantize": "kept",
        "bench": "kept",
    }
    assert {p.name: p.stat().st_mtime_ns for p in run.glob("*.keras")} == before
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["pipeline"]["runs"][-1]["stages"] == res["stages"]
