"""Named architectures, all built with tf_keras (tfmot rejects Keras 3 models).

One formulation everywhere: a beat is a (1, 360, 1) image and every convolution is a Conv2D
with a (1, k) kernel, because tfmot's quantization-aware training has no Conv1D support and the
converter then emits plain CONV_2D (no EXPAND_DIMS/RESHAPE pairs). Models that use rhythm
context take a second input of shape (5,) (see tinyecg.dsp.rhythm). A patient-context model
(the patient recipe, docs/generalisation.md) takes the beat as (1, 360, 2), the window and
the patient's template as two channels, and the eight long-term RR features of
tinyecg.dsp.patient as (8,): `channels` and `n_rhythm` of every architecture. Every model ends in a
Dense layer producing logits followed by a separate softmax, so distillation can read the
logits (model.get_layer("logits")).
"""

from __future__ import annotations

from tinyecg._tf import import_quietly
from tinyecg.dsp.patient import N_LONGTERM_FEATURES
from tinyecg.dsp.rhythm import N_FEATURES as N_RHYTHM
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT, BEAT_CHANNELS, RHYTHM, WINDOW

import_quietly()

import tf_keras as keras  # noqa: E402

# the RR feature sets a model may take: today's five (tinyecg.dsp.rhythm), or the patient
# recipe's eight long-term features (tinyecg.dsp.patient)
RHYTHM_LENGTHS = (N_RHYTHM, N_LONGTERM_FEATURES)


def _inputs(rhythm: bool, channels: int = 1, n_rhythm: int = N_RHYTHM):
    if channels not in BEAT_CHANNELS:
        raise TinyECGError(f"beat channels must be one of {BEAT_CHANNELS} (got {channels})")
    if n_rhythm not in RHYTHM_LENGTHS:
        raise TinyECGError(f"rhythm features must be one of {RHYTHM_LENGTHS} (got {n_rhythm})")
    beat = keras.Input(shape=(1, WINDOW, channels), name=BEAT)
    rr = keras.Input(shape=(n_rhythm,), name=RHYTHM) if rhythm else None
    return beat, rr


def _conv_bn_relu(x, filters, kernel, stride=1, name=None):
    x = keras.layers.Conv2D(
        filters,
        (1, kernel),
        strides=(1, stride),
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _head(x, rr, hidden, n_classes, dropout, inputs):
    if rr is not None:
        x = keras.layers.Concatenate(name="with_rhythm")([x, rr])
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(n_classes, name="logits")(x)
    probs = keras.layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs)


def seed_cnn(
    n_classes: int = 5, rhythm: bool = False, channels: int = 1, n_rhythm: int = N_RHYTHM
) -> keras.Model:
    """The seed notebook's network (293k parameters), morphology only by default."""
    beat, rr = _inputs(rhythm, channels, n_rhythm)
    x = beat
    for i, (filters, kernel) in enumerate([(16, 13), (32, 15), (64, 17), (128, 19)]):
        x = keras.layers.Conv2D(
            filters, (1, kernel), padding="same", activation="relu", name=f"c{i}_conv"
        )(x)
        x = keras.layers.AveragePooling2D((1, 3), strides=(1, 2), name=f"c{i}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(0.5, name="flatten_dropout")(x)
    inputs = [beat, rr] if rr is not None else beat
    return _head(x, rr, 35, n_classes, 0.0, inputs)


def teacher_cnn(
    n_classes: int = 5, rhythm: bool = True, channels: int = 1, n_rhythm: int = N_RHYTHM
) -> keras.Model:
    """Default teacher: four conv blocks with batch norm and max pooling, rhythm context
    joined before the classifier head. About 2 M MACs per beat: fast enough to train on two
    CPU cores within the pipeline's time budget."""
    beat, rr = _inputs(rhythm, channels, n_rhythm)
    x = beat
    for i, (filters, kernel) in enumerate([(16, 7), (32, 5), (64, 5), (64, 3)]):
        x = _conv_bn_relu(x, filters, kernel, name=f"c{i}")
        x = keras.layers.MaxPooling2D((1, 2), name=f"c{i}_pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(0.3, name="flatten_dropout")(x)
    inputs = [beat, rr] if rr is not None else beat
    return _head(x, rr, 64, n_classes, 0.3, inputs)


def student_cnn(
    n_classes: int = 5, rhythm: bool = True, channels: int = 1, n_rhythm: int = N_RHYTHM
) -> keras.Model:
    """Microcontroller student: four strided (1, k) convolutions (no pooling ops, no MEAN:
    the MEAN kernel differs between 2023 TFLM builds and today's runtime), about 12k
    parameters and 135k MACs per beat; int8 arena under 2 KB of activations."""
    beat, rr = _inputs(rhythm, channels, n_rhythm)
    x = beat
    for i, (filters, kernel) in enumerate([(8, 7), (12, 5), (16, 5), (16, 5)]):
        x = _conv_bn_relu(x, filters, kernel, stride=2, name=f"s{i}")
    x = keras.layers.Flatten(name="flatten")(x)
    inputs = [beat, rr] if rr is not None else beat
    return _head(x, rr, 24, n_classes, 0.0, inputs)


ARCHITECTURES = {
    "seed-cnn": seed_cnn,
    "teacher-cnn": teacher_cnn,
    "student-cnn": student_cnn,
}


def build(
    name: str,
    n_classes: int = 5,
    rhythm: bool | None = None,
    channels: int = 1,
    n_rhythm: int = N_RHYTHM,
) -> keras.Model:
    """An architecture by name; rhythm None: the architecture's own default. channels (1 or
    2) and n_rhythm (5 or 8) shape its inputs (module doc)."""
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r} (choose from {', '.join(ARCHITECTURES)})")
    make = ARCHITECTURES[name]
    if rhythm is None:  # the architecture's own default
        return make(n_classes=n_classes, channels=channels, n_rhythm=n_rhythm)
    return make(n_classes=n_classes, rhythm=rhythm, channels=channels, n_rhythm=n_rhythm)


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates per beat of the Conv2D, DepthwiseConv2D and Dense layers."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            out = layer.output_shape
            kh, kw = layer.kernel_size
            macs += out[1] * out[2] * out[3] * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            out = layer.output_shape
            kh, kw = layer.kernel_size
            macs += out[1] * out[2] * out[3] * kh * kw * layer.input_shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            macs += layer.input_shape[-1] * layer.units
    return int(macs)
