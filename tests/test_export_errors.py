"""tinyecg export refuses bad input with one clear line (TinyECGError) and writes nothing."""

from __future__ import annotations

import json
import shutil

import pytest


def _replace_op(data: bytes, old: str, new: str) -> bytes:
    """The flatbuffer with every `old` operator code turned into `new` (FlatBuffers object API
    of the schema in the tflite-micro wheel): a fully int8 graph with an op TFLM lacks."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    code_old = getattr(schema.BuiltinOperator, old)
    code_new = getattr(schema.BuiltinOperator, new)
    for code in model.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == code_old:
            code.builtinCode = code_new
            code.deprecatedBuiltinCode = min(code_new, 127)  # 127: PLACEHOLDER_FOR_GREATER_OP_CODES
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _fails(tmp_path, source, match, out_name="out", **kw):
    """export(...) raises a one-line TinyECGError matching `match`; nothing is written."""
    from tinyecg.errors import TinyECGError
    from tinyecg.export.exporter import export

    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(TinyECGError, match=match) as info:
        export(source, tmp_path / out_name, **kw)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    assert isinstance(info.value, ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temp folder
    return message


def test_float_model(models, tmp_path):
    shutil.copy(models["float"], tmp_path / "float.tflite")
    msg = _fails(tmp_path, tmp_path / "float.tflite", "not a fully int8 model")
    assert "FLOAT32" in msg


def test_hybrid_model(models, tmp_path):
    """Dynamic-range quantization: int8 weights, float activations."""
    shutil.copy(models["hybrid"], tmp_path / "hybrid.tflite")
    _fails(tmp_path, tmp_path / "hybrid.tflite", "not a fully int8 model")


def test_op_outside_the_resolver_vocabulary(models, tmp_path):
    (tmp_path / "rfft.tflite").write_bytes(
        _replace_op(models["int8"].read_bytes(), "SOFTMAX", "RFFT2D")
    )
    msg = _fails(tmp_path, tmp_path / "rfft.tflite", "outside the TFLM resolver vocabulary")
    assert "RFFT2D" in msg


def test_op_tflm_cannot_prepare_is_named_for_the_c_backend(models, tmp_path):
    """An op both runtimes know but that TFLM refuses in this model (a SQUEEZE with a
    RESHAPE's two inputs): the message names the file, the node and TFLM's failed check,
    not only "TFLM failed to allocate tensors"."""
    (tmp_path / "squeeze.tflite").write_bytes(
        _replace_op(models["int8"].read_bytes(), "RESHAPE", "SQUEEZE")
    )
    msg = _fails(tmp_path, tmp_path / "squeeze.tflite", "failed to prepare", runtime="c")
    assert "squeeze.tflite" in msg and "Node SQUEEZE" in msg and "NumInputs" in msg


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "not_tflite", "empty"])
def test_damaged_file(models, tmp_path, damage):
    data = models["int8"].read_bytes()
    bad = {
        "truncated": data[: len(data) // 2],
        "corrupt": data[:8] + b"\xff" * 200 + data[208:],
        "not_tflite": b"PK\x03\x04" + data[4:],
        "empty": b"",
    }[damage]
    (tmp_path / "bad.tflite").write_bytes(bad)
    _fails(tmp_path, tmp_path / "bad.tflite", "truncated|corrupt|not a TFLite|too short")


def test_window_disagrees_with_the_model_input(models, tmp_path):
    from tinyecg.dsp import denoise

    shutil.copy(models["int8"], tmp_path / "m.tflite")
    cfg = {
        "data": {"fs": 360, "window": 256, "pre_r": 128},
        "preprocessing": dict(denoise.PARAMS, window=256),
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    msg = _fails(tmp_path, tmp_path / "m.tflite", "takes 360 samples")
    assert "256" in msg


def test_preprocessing_the_c_does_not_implement(models, tmp_path):
    from tinyecg.dsp import denoise

    shutil.copy(models["int8"], tmp_path / "m.tflite")
    cfg = {"preprocessing": dict(denoise.PARAMS, wavelet="db4")}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    _fails(tmp_path, tmp_path / "m.tflite", "wavelet")


def test_labels_disagree_with_the_outputs(models, tmp_path):
    shutil.copy(models["int8"], tmp_path / "m.tflite")
    (tmp_path / "config.json").write_text(json.dumps({"data": {"label_names": ["N", "V"]}}))
    _fails(tmp_path, tmp_path / "m.tflite", "2 labels but the model has 5 outputs")


def test_unknown_board(models, tmp_path):
    msg = _fails(tmp_path, models["int8"], "unknown board", board="arduino_uno")
    assert "nano33ble" in msg


def test_board_too_small(models, tmp_path):
    msg = _fails(tmp_path, models["int8"], "does not fit", board="nucleo_f031k6")
    assert "nucleo_f031k6" in msg and "flash needs" in msg and "RAM needs" in msg


def test_output_folder_not_empty(models, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _fails(tmp_path, models["int8"], "not empty.*--force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_output_is_a_file(models, tmp_path):
    (tmp_path / "out").write_text("a file")
    _fails(tmp_path, models["int8"], "not a folder")


def test_output_folder_unwritable(models, tmp_path):
    """A parent that is a file cannot hold the folder (works as root too, unlike chmod)."""
    (tmp_path / "blocker").write_text("a file")
    _fails(tmp_path, models["int8"], "cannot write", out_name="blocker/lib")


@pytest.mark.parametrize("golden", [0, -1, 65, 2.5, "8", True])
def test_bad_golden_count(models, tmp_path, golden):
    _fails(tmp_path, models["int8"], "--golden", golden=golden)


def test_bad_runtime(models, tmp_path):
    _fails(tmp_path, models["int8"], "unknown runtime", runtime="tvm")


def test_missing_source_and_folder_without_config(tmp_path):
    _fails(tmp_path, tmp_path / "nothing.tflite", "no such file")
    (tmp_path / "folder").mkdir()
    _fails(tmp_path, tmp_path / "folder", "not a tinyecg run directory")


def test_run_directory_without_int8_model(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    _fails(tmp_path, run, "no int8 model in the run")


def test_bad_config_json(models, tmp_path):
    shutil.copy(models["int8"], tmp_path / "m.tflite")
    (tmp_path / "config.json").write_text("{not json")
    _fails(tmp_path, tmp_path / "m.tflite", "not valid JSON")


def _per_channel_dense(data: bytes) -> bytes:
    """The flatbuffer with each FULLY_CONNECTED weight tensor's one scale written per output
    channel (same values): what TF's converter emits by default for dense layers."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    graph = model.subgraphs[0]
    fully_connected = schema.BuiltinOperator.FULLY_CONNECTED
    for op in graph.operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode != fully_connected:
            continue
        w = graph.tensors[op.inputs[1]]
        n = int(w.shape[0])
        w.quantization.scale = [float(w.quantization.scale[0])] * n
        w.quantization.zeroPoint = [0] * n
        w.quantization.quantizedDimension = 0
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize(
    "board, what", [("nano33ble", "channel 0's scale"), ("esp32s3", "refuses when")]
)
def test_board_whose_tflm_computes_the_model_wrongly(models, tmp_path, board, what):
    (tmp_path / "m.tflite").write_bytes(_per_channel_dense(models["int8"].read_bytes()))
    msg = _fails(tmp_path, tmp_path / "m.tflite", "per-channel weight scales", board=board)
    assert what in msg and f"board {board}" in msg and "FULLY_CONNECTED" in msg


def test_per_channel_dense_layers_are_fine_for_the_c_backend(models, tmp_path):
    from tinyecg.export.exporter import export

    (tmp_path / "m.tflite").write_bytes(_per_channel_dense(models["int8"].read_bytes()))
    export(tmp_path / "m.tflite", tmp_path / "c", board="nano33ble", runtime="c")
    assert (tmp_path / "c" / "tinyecg_model.c").is_file()
