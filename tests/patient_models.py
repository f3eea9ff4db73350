"""Small patient-context models (beat input (1, 360, 2) = [window, template], rhythm input
(8,) = tinyecg.dsp.patient.LONGTERM_FEATURES) for the device tests and the benches.

Not a test module: `patient_model(cache_dir, size)` builds, trains a few steps on the bundled
MIT-BIH excerpt (the float inputs as training defines them: tinyecg.dsp.patient's float
template and long-term features over each record's beats) and converts to full int8 with
dense layers per tensor (the research recipe's convert_int8_per_tensor_dense and tinyecg
quantize), once per cache folder.

Sizes: "student" is the research student of docs/generalisation.md (4 strided Conv2D (1, k)
with BN and ReLU: 8x7, 12x5, 16x5, 16x5, stride 2; hidden 24); "tiny" two convolutions and
hidden 8, for the tests that stream whole records.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
SIZES = {  # "student" is tinyecg.models.architectures.student_cnn with two channels
    "tiny": {"convs": [(4, 7, 4), (8, 5, 4)], "hidden": 8},
}
STEPS = 150


def build_keras(size: str, n_classes: int):
    from tinyecg.models import architectures
    from tinyecg.models.architectures import keras as K

    if size == "student":  # the recipe's own student (tinyecg.models.architectures)
        return architectures.student_cnn(n_classes, channels=2, n_rhythm=8)
    cfg = SIZES[size]
    beat = K.Input(shape=(1, 360, 2), name="beat")
    rr = K.Input(shape=(8,), name="rhythm")
    x = beat
    for i, (f, k, s) in enumerate(cfg["convs"]):
        x = K.layers.Conv2D(
            f, (1, k), strides=(1, s), padding="same", use_bias=False, name=f"c{i}_conv"
        )(x)
        x = K.layers.BatchNormalization(name=f"c{i}_bn")(x)
        x = K.layers.ReLU(name=f"c{i}_relu")(x)
    x = K.layers.Flatten(name="flatten")(x)
    x = K.layers.Concatenate(name="with_rhythm")([x, rr])
    x = K.layers.Dense(cfg["hidden"], activation="relu", name="hidden")(x)
    logits = K.layers.Dense(n_classes, name="logits")(x)
    return K.Model([beat, rr], K.layers.Softmax(name="probs")(logits))


def excerpt_inputs():
    """(beat (n, 1, 360, 2), rhythm (n, 8), y (n,), labels) of the bundled excerpt: each
    record's labelled beats in order, with the patient's float template and long-term
    features over that sequence (the first beat of a record has no real pre)."""
    from tinyecg.data.dataset import build_dataset
    from tinyecg.dsp import patient

    ds = build_dataset(EXCERPT)
    x = ds.x.reshape(-1, 360).astype(np.float32)
    rr = np.asarray(ds.beats.rr, np.int64)
    records = np.asarray(ds.beats.record)
    beat = np.zeros((len(x), 1, 360, 2), np.float32)
    rhythm = np.zeros((len(x), 8), np.float32)
    for name in dict.fromkeys(records.tolist()):
        rows = np.flatnonzero(records == name)
        rows = rows[np.argsort(np.asarray(ds.beats.sample)[rows], kind="stable")]
        has_pre = np.arange(len(rows)) > 0
        a16, _ = patient.longterm_state(rr[rows, 0], has_pre)
        beat[rows, 0, :, 0] = x[rows]
        beat[rows, 0, :, 1] = patient.template_inputs_float(x[rows], rr[rows, 0], a16)
        rhythm[rows] = patient.longterm_features(*rr[rows].T, has_pre)
    return beat, rhythm, np.asarray(ds.beats.y), list(ds.labels)


def convert_int8_per_tensor_dense(model, beat, rhythm) -> bytes:
    """The package's conversion (dense layers per tensor) on 200 of the given examples."""
    from tinyecg.stages.quantize import convert_int8

    calib = np.random.default_rng(1).choice(len(beat), 200, replace=False)
    return convert_int8(model, [beat[calib], rhythm[calib]])


def patient_model(cache: Path, size: str = "tiny") -> Path:
    """The int8 .tflite of a patient-context model of `size`, built once per cache folder."""
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"patient_{size}_int8.tflite"
    if path.is_file():
        return path
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tinyecg.models.architectures import keras as K

    beat, rhythm, y, labels = excerpt_inputs()
    K.utils.set_random_seed(0)
    model = build_keras(size, len(labels))
    model.compile(optimizer=K.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    idx = np.random.default_rng(0).integers(0, len(y), STEPS * 32)
    model.fit([beat[idx], rhythm[idx]], y[idx], batch_size=32, epochs=1, verbose=0, shuffle=False)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(convert_int8_per_tensor_dense(model, beat, rhythm))
    tmp.replace(path)
    return path
