"""tinyecg.models.tflite against LiteRT's own reading of the same flatbuffers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cbackend_models as models
import numpy as np
import pytest

from tinyecg.errors import TinyECGError
from tinyecg.models.tflite import load_model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    cache = models.model_cache(tmp_path_factory)
    out = {}
    for name in models.MODEL_NAMES:
        models.build_model(name, cache)
        out[name] = cache / f"{name}.tflite"
    return out


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_helper_models_convert(name, tmp_path_factory):
    """The converter gives a graph with int8 input and output for every helper model."""
    from ai_edge_litert.interpreter import Interpreter

    data = models.build_model(name, models.model_cache(tmp_path_factory))
    interp = Interpreter(model_content=data)
    assert all(d["dtype"] == np.int8 for d in interp.get_input_details())
    assert all(d["dtype"] == np.int8 for d in interp.get_output_details())


def _litert(data: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # without the default XNNPACK delegate, which would replace ops by a DELEGATE node
    interp = Interpreter(
        model_content=data,
        experimental_op_resolver_type=(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
    )
    interp.allocate_tensors()
    return interp


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_graph_matches_litert(name, model_files):
    path = model_files[name]
    model = load_model(path)
    data = path.read_bytes()
    interp = _litert(data)

    assert model.data == data
    assert model.sha256 == hashlib.sha256(data).hexdigest()
    assert model.num_subgraphs == 1

    ops = interp._get_ops_details()
    assert [op.opcode for op in model.ops] == [d["op_name"] for d in ops]
    for op, d in zip(model.ops, ops):
        assert op.inputs == [int(i) for i in d["inputs"]]
        assert op.outputs == [int(i) for i in d["outputs"]]
    names = []
    for d in ops:
        if d["op_name"] not in names:
            names.append(d["op_name"])
    assert model.op_names() == names

    assert model.inputs == [d["index"] for d in interp.get_input_details()]
    assert model.outputs == [d["index"] for d in interp.get_output_details()]

    # LiteRT appends its own scratch tensors after the flatbuffer's (indices >= n)
    details = [d for d in interp.get_tensor_details() if d["index"] < len(model.tensors)]
    assert sorted(d["index"] for d in details) == list(range(len(model.tensors)))
    for d in details:
        t = model.tensors[d["index"]]
        assert t.name == d["name"]
        assert t.shape == tuple(int(s) for s in d["shape"])
        assert np.dtype(d["dtype"]).name == t.dtype.lower()
        q = d["quantization_parameters"]
        np.testing.assert_array_equal(np.float32(t.scales), np.float32(q["scales"]))
        np.testing.assert_array_equal(np.int64(t.zero_points), np.int64(q["zero_points"]))
        assert t.quantized_dimension == q["quantized_dimension"]
        if t.is_constant:
            np.testing.assert_array_equal(t.data, interp.get_tensor(d["index"]))
            assert t.data.dtype == d["dtype"]

    for i, d in enumerate(interp.get_input_details()):
        scale, zp = model.input_quant(i)
        assert (np.float32(scale), zp) == (np.float32(d["quantization"][0]), d["quantization"][1])
    for i, d in enumerate(interp.get_output_details()):
        scale, zp = model.output_quant(i)
        assert (np.float32(scale), zp) == (np.float32(d["quantization"][0]), d["quantization"][1])


def test_options_follow_the_keras_layers(model_files):
    student = load_model(model_files["student"])
    convs = [op for op in student.ops if op.opcode == "CONV_2D"]
    assert len(convs) == 4  # four (1, k) stride-2 blocks, BN folded away
    for op, k in zip(convs, (7, 5, 5, 5)):
        assert op.options["padding"] == "SAME"
        assert (op.options["stride_h"], op.options["stride_w"]) == (1, 2)
        assert op.options["fused_activation_function"] == "RELU"
        assert (op.options["dilation_h_factor"], op.options["dilation_w_factor"]) == (1, 1)
        w = student.tensors[op.inputs[1]]
        assert w.shape[1:3] == (1, k) and w.dtype == "INT8" and w.per_channel
        assert student.tensors[op.inputs[2]].dtype == "INT32"
    assert student.ops[-1].opcode == "SOFTMAX" and student.ops[-1].options["beta"] == 1.0
    assert student.output_quant(0) == (1.0 / 256, -128)

    zoo = load_model(model_files["zoo"])
    by_name = {op.opcode: op for op in zoo.ops}
    assert by_name["DEPTHWISE_CONV_2D"].options["depth_multiplier"] == 2
    assert zoo.ops[0].options["padding"] == "VALID"
    assert zoo.ops[0].options["fused_activation_function"] == "RELU6"
    assert by_name["MAX_POOL_2D"].options["filter_width"] == 3
    assert by_name["MEAN"].options["keep_dims"] is False
    # an omitted bias shows as -1, as in the flatbuffer
    assert any(op.opcode == "FULLY_CONNECTED" and op.inputs[2] == -1 for op in zoo.ops)


def test_fully_int8(model_files):
    for name in models.MODEL_NAMES:
        ok, reasons = load_model(model_files[name]).is_fully_int8()
        assert ok, (name, reasons)


def test_float_model_is_not_int8():
    import tflite_micro

    sine = Path(tflite_micro.__file__).parent / "python/tflite_micro/sine_float.tflite"
    if not sine.is_file():
        pytest.skip(f"{sine} is not in this tflite-micro wheel")
    model = load_model(sine)
    ok, reasons = model.is_fully_int8()
    assert not ok
    assert any("FLOAT32" in r for r in reasons)
    assert model.op_names() == ["FULLY_CONNECTED"]
    with pytest.raises(TinyECGError, match="not quantized"):
        model.input_quant(0)


def test_dequantize_op_is_reported(model_files):
    """Editing the opcode table of a real model: a QUANTIZE op makes it not fully int8."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    raw = schema.ModelT.InitFromPackedBuf(bytearray(model_files["student"].read_bytes()), 0)
    code = next(c for c in raw.operatorCodes if c.builtinCode == schema.BuiltinOperator.RESHAPE)
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(raw.Pack(builder), file_identifier=b"TFL3")
    edited = load_model(bytes(builder.Output()))
    ok, reasons = edited.is_fully_int8()
    assert not ok and any("QUANTIZE" in r for r in reasons)


def test_bad_files_raise_one_line_errors(tmp_path, model_files):
    cases = {
        "missing": tmp_path / "nope.tflite",
        "folder": tmp_path,
    }
    (tmp_path / "empty.tflite").write_bytes(b"")
    (tmp_path / "text.tflite").write_text("this is not a model at all\n" * 4)
    (tmp_path / "short.tflite").write_bytes(b"\x18\x00\x00\x00TFL")
    cases.update({k: tmp_path / f"{k}.tflite" for k in ("empty", "text", "short")})
    for what, path in cases.items():
        with pytest.raises(TinyECGError) as err:
            load_model(path)
        assert "\n" not in str(err.value), what
        assert str(path) in str(err.value), what
    with pytest.raises(TinyECGError):
        load_model(12345)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_files_raise(fraction, model_files):
    data = model_files["student"].read_bytes()
    with pytest.raises(TinyECGError, match="corrupt or truncated|too short"):
        load_model(data[: int(len(data) * fraction)])


def test_corrupt_offsets_raise(model_files):
    data = bytearray(model_files["zoo"].read_bytes())
    # the root table offset pointing past the end of the file
    bad = bytearray(data)
    bad[0:4] = (len(data) + 1000).to_bytes(4, "little")
    with pytest.raises(TinyECGError, match="corrupt or truncated"):
        load_model(bytes(bad))
    # random damage either still parses or raises TinyECGError, never anything else
    rng = np.random.default_rng(0)
    for _ in range(30):
        bad = bytearray(data)
        pos = rng.integers(8, len(bad), 8)
        for p in pos:
            bad[p] = int(rng.integers(0, 256))
        try:
            load_model(bytes(bad))
        except TinyECGError as exc:
            assert "\n" not in str(exc)
