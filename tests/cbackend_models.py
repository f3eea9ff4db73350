"""Small int8 .tflite models for the flatbuffer reader and C backend tests.

Not a test module: the test modules import `build_model(name, cache_dir)` and `sample_inputs`.
Converted models are cached as files under the pytest session's base temp folder, so every
test module (and both import paths of this file) reuses one conversion per model per session.

Models:
- student / teacher / seed: `tinyecg.models.build(...)`, trained briefly on real beats (a few
  MIT-BIH records, preprocessed exactly as training does) or, when the database is absent, on
  synthetic beats, then converted to a fully int8 graph with a representative dataset.
- zoo: a tiny graph, trained the same way, that covers what the three architectures do not:
  DEPTHWISE_CONV_2D, VALID padding, RELU6, MEAN (global average pooling, rescaled: its output
  takes the concatenation's scale), a FULLY_CONNECTED without bias.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DATA_DIR = Path(
    os.environ.get("TINYECG_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared/data/mitdb"
)
RECORDS = ("100", "119", "208", "233", "201", "118")
AAMI = {
    **{s: 0 for s in "NLRej"},
    **{s: 1 for s in "AaJS"},
    **{s: 2 for s in "VE"},
    "F": 3,
    **{s: 4 for s in "/fQ"},
}
HALF = 180

# name -> (architecture, training steps, batch size); steps kept low so a session stays fast
TRAINING = {
    "student": ("student-cnn", 300, 32),
    "teacher": ("teacher-cnn", 120, 32),
    "seed": ("seed-cnn", 25, 16),
    "zoo": (None, 150, 32),
}


def have_data() -> bool:
    return (DATA_DIR / "100.hea").is_file()


def real_beats(per_record: int = 150, records=RECORDS, seed: int = 0):
    """(beats (n,1,360,1) float32, rhythm (n,5) float32, labels (n,)) from MIT-BIH MLII,
    windows [r-180, r+180) preprocessed with the float reference."""
    import wfdb

    from tinyecg.dsp.denoise import preprocess
    from tinyecg.dsp.rhythm import rhythm_features

    rng = np.random.default_rng(seed)
    beats, rhythm, labels = [], [], []
    for rec in records:
        path = str(DATA_DIR / rec)
        record = wfdb.rdrecord(path, channels=[0])
        ann = wfdb.rdann(path, "atr")
        sig = record.p_signal[:, 0]
        keep = np.array([s in AAMI for s in ann.symbol])
        peaks = np.asarray(ann.sample)[keep]
        symbols = np.asarray(ann.symbol)[keep]
        feats = rhythm_features(peaks)
        ok = np.flatnonzero((peaks >= HALF) & (peaks + HALF <= len(sig)))
        # every non-N beat (they are rare) plus a random share of N beats
        abnormal = [i for i in ok if AAMI[symbols[i]] != 0]
        normal = [i for i in ok if AAMI[symbols[i]] == 0]
        n_abn = min(len(abnormal), per_record // 2)
        pick = list(rng.choice(abnormal, n_abn, replace=False)) if n_abn else []
        pick += list(rng.choice(normal, min(len(normal), per_record - n_abn), replace=False))
        pick = np.sort(np.asarray(pick, dtype=np.int64))
        windows = np.stack([sig[peaks[i] - HALF : peaks[i] + HALF] for i in pick])
        beats.append(preprocess(windows))
        rhythm.append(feats[pick])
        labels.append(np.array([AAMI[symbols[i]] for i in pick]))
    beats = np.concatenate(beats).astype(np.float32)[:, None, :, None]
    return beats, np.concatenate(rhythm).astype(np.float32), np.concatenate(labels)


def synthetic_beats(n: int = 600, seed: int = 0):
    """Beat-like windows (a QRS-ish spike on a wandering baseline) when MIT-BIH is absent."""
    rng = np.random.default_rng(seed)
    t = np.arange(360)
    labels = rng.integers(0, 5, n)
    width = 4 + 3 * labels + rng.uniform(0, 2, n)
    beats = np.exp(-0.5 * ((t[None, :] - 180 - rng.normal(0, 3, (n, 1))) / width[:, None]) ** 2)
    beats += 0.2 * np.sin(t[None, :] / rng.uniform(20, 60, (n, 1))) + rng.normal(0, 0.05, (n, 360))
    beats = (beats - beats.mean(1, keepdims=True)) / beats.std(1, keepdims=True)
    rr = rng.uniform(0.5, 1.3, (n, 3)) * (1 - 0.1 * (labels[:, None] == 1))
    rhythm = np.concatenate([rr, rr[:, :2] / rr[:, 2:3]], axis=1)
    return beats.astype(np.float32)[:, None, :, None], rhythm.astype(np.float32), labels


def dataset():
    return real_beats() if have_data() else synthetic_beats()


def _zoo_model():
    import tf_keras as keras

    beat = keras.Input(shape=(1, 360, 1), name="beat")
    rr = keras.Input(shape=(5,), name="rhythm")
    x = keras.layers.Conv2D(6, (1, 5), strides=(1, 3), padding="valid", name="v")(beat)
    x = keras.layers.ReLU(max_value=6.0, name="v_relu6")(x)
    x = keras.layers.DepthwiseConv2D(
        (1, 5), strides=(1, 2), padding="same", depth_multiplier=2, activation="relu", name="dw"
    )(x)
    x = keras.layers.MaxPooling2D((1, 3), strides=(1, 2), padding="same", name="mp")(x)
    x = keras.layers.AveragePooling2D((1, 3), strides=(1, 2), padding="same", name="ap")(x)
    x = keras.layers.Conv2D(8, (1, 3), padding="same", activation="relu", name="c")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    r = keras.layers.Dense(4, activation=None, use_bias=False, name="rr_dense")(rr)
    x = keras.layers.Concatenate(name="cat")([x, r])
    logits = keras.layers.Dense(5, name="logits")(x)
    probs = keras.layers.Softmax(name="probs")(logits)
    return keras.Model([beat, rr], probs)


def _train_and_convert(name: str) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tf_keras as keras

    from tinyecg.models.architectures import build

    tf.random.set_seed(1)
    keras.utils.set_random_seed(1)
    beats, rhythm, labels = dataset()
    arch, steps, batch = TRAINING[name]
    model = _zoo_model() if name == "zoo" else build(arch)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    idx = np.random.default_rng(0).integers(0, len(beats), steps * batch)
    model.fit(
        [beats[idx], rhythm[idx]] if len(model.inputs) == 2 else beats[idx],
        labels[idx],
        batch_size=batch,
        epochs=1,
        verbose=0,
        shuffle=False,
    )
    two = len(model.inputs) == 2
    calib = np.random.default_rng(1).choice(len(beats), min(120, len(beats)), replace=False)

    def representative():
        for i in calib:
            # by name: the flatbuffer may order the inputs differently from the Keras model
            yield (
                {"beat": beats[i : i + 1], "rhythm": rhythm[i : i + 1]}
                if two
                else {"beat": beats[i : i + 1]}
            )

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


MODEL_NAMES = ("student", "teacher", "seed", "zoo")


def build_model(name: str, cache_dir: Path) -> bytes:
    """The converted .tflite bytes of `name`, converted once per cache_dir."""
    path = Path(cache_dir) / f"{name}.tflite"
    if not path.is_file():
        data = _train_and_convert(name)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path.read_bytes()


def model_cache(tmp_path_factory) -> Path:
    path = tmp_path_factory.getbasetemp() / "tinyecg_int8_models"
    path.mkdir(exist_ok=True)
    return path


def quantize_inputs(model_bytes: bytes, beats: np.ndarray, rhythm: np.ndarray) -> list[np.ndarray]:
    """Float beats/rhythm -> for each flatbuffer input (in input order) an int8 array of shape
    (n, *tensor shape); the beat input is the 4-D one, the rhythm input the 2-D one."""
    from tinyecg.models.tflite import load_model

    model = load_model(model_bytes)
    out = []
    for k, t_index in enumerate(model.inputs):
        t = model.tensors[t_index]
        x = beats if len(t.shape) == 4 else rhythm
        scale, zp = model.input_quant(k)
        q = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
        out.append(q.reshape((len(x),) + tuple(t.shape)))  # sample i is out[k][i]
    return out


def sample_inputs(model_bytes: bytes, n: int = 300, seed: int = 2) -> list[np.ndarray]:
    """n real beats (or synthetic when MIT-BIH is absent) plus 40 random int8 vectors that
    reach both ends of the int8 range, quantized for the model's inputs."""
    beats, rhythm, _ = (
        real_beats(per_record=n // len(RECORDS) + 1, seed=seed)
        if have_data()
        else synthetic_beats(n, seed=seed)
    )
    q = quantize_inputs(model_bytes, beats[:n], rhythm[:n])
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([a, rng.integers(-128, 128, (40,) + a.shape[1:]).astype(np.int8)]) for a in q
    ]


# ------------------------------------------------------------------------------------------
# Hand-built flatbuffers: single ops with chosen shapes and quantization (no TensorFlow)
# ------------------------------------------------------------------------------------------


def T(name, shape, scale=None, zero_point=0, dtype="INT8", data=None, qdim=0):
    """A tensor description for flatbuffer(): scale may be a list (per channel)."""
    return dict(
        name=name,
        shape=list(shape),
        scale=scale,
        zero_point=zero_point,
        dtype=dtype,
        data=data,
        qdim=qdim,
    )


def flatbuffer(tensors, ops, inputs, outputs) -> bytes:
    """Serialize a one-subgraph TFLite model. ops: (opcode name, input indices, output
    indices, options table name or None, {field: value} or None)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    model.buffers = [schema.BufferT()]
    sub = schema.SubGraphT()
    sub.tensors = []
    for t in tensors:
        tt = schema.TensorT()
        tt.name = t["name"]
        tt.shape = list(t["shape"])
        tt.type = getattr(schema.TensorType, t["dtype"])
        if t["scale"] is not None:
            q = schema.QuantizationParametersT()
            scales = (
                t["scale"] if isinstance(t["scale"], (list, tuple, np.ndarray)) else [t["scale"]]
            )
            zps = (
                t["zero_point"]
                if isinstance(t["zero_point"], (list, tuple))
                else [t["zero_point"]] * len(scales)
            )
            q.scale = [float(s) for s in scales]
            q.zeroPoint = [int(z) for z in zps]
            q.quantizedDimension = t["qdim"]
            tt.quantization = q
        if t["data"] is not None:
            buf = schema.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(t["data"]).tobytes(), np.uint8)
            model.buffers.append(buf)
            tt.buffer = len(model.buffers) - 1
        sub.tensors.append(tt)
    codes: list[int] = []
    sub.operators = []
    for name, ins, outs, opt_name, opt_fields in ops:
        code = getattr(schema.BuiltinOperator, name)
        if code not in codes:
            codes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = codes.index(code)
        op.inputs = list(ins)
        op.outputs = list(outs)
        if opt_name:
            opts = getattr(schema, opt_name + "T")()
            for k, v in (opt_fields or {}).items():
                setattr(opts, k, v)
            op.builtinOptionsType = getattr(schema.BuiltinOptions, opt_name)
            op.builtinOptions = opts
        sub.operators.append(op)
    model.operatorCodes = []
    for code in codes:
        oc = schema.OperatorCodeT()
        oc.builtinCode = code
        oc.deprecatedBuiltinCode = min(code, 127)
        oc.version = 1
        model.operatorCodes.append(oc)
    sub.inputs = list(inputs)
    sub.outputs = list(outputs)
    model.subgraphs = [sub]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def truncated(model_bytes: bytes, last_op: int) -> bytes:
    """The same model cut after op last_op: that op's output becomes the model output, so
    each intermediate tensor can be compared with TFLM on its own."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    raw = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    sub = raw.subgraphs[0]
    sub.operators = sub.operators[: last_op + 1]
    sub.outputs = [int(sub.operators[-1].outputs[0])]
    used = {int(i) for op in sub.operators for i in op.inputs if i >= 0}
    sub.inputs = [int(i) for i in sub.inputs if int(i) in used]
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(raw.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
