"""Models of the shockable-rhythm task: one input, the device's 8-s window (RHYTHM_WINDOW
int8 values as a (1, 720, 1) image, float value = q / 16), two classes (non-shockable,
shockable). Built like the beat models (tinyecg.models.architectures): Conv2D (1, k)
kernels, a Dense "logits" layer then a softmax, so distillation and int8 conversion are
the beat stages' own. Global average and max pooling are AVERAGE_POOL_2D / MAX_POOL_2D over
the whole width (not MEAN, which 2023 TFLM builds compute differently).

The student is the research round's (docs/rhythm.md): 3,034
parameters, 114,688 MACs per decision; the teacher has 13x its MACs.
"""

from __future__ import annotations

from tinyecg.models.architectures import _conv_bn_relu, keras
from tinyecg.spec import RHYTHM_WINDOW

INPUT_NAME = "rhythm_window"
N_CLASSES = 2  # [non-shockable, shockable]


def _pooled_head(x, hidden: int, dropout: float, inp) -> keras.Model:
    width = int(x.shape[2])
    avg = keras.layers.AveragePooling2D((1, width), name="gap")(x)
    peak = keras.layers.MaxPooling2D((1, width), name="gmp")(x)
    x = keras.layers.Flatten(name="flatten")(keras.layers.Concatenate(name="pools")([avg, peak]))
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    logits = keras.layers.Dense(N_CLASSES, name="logits")(x)
    return keras.Model(inp, keras.layers.Softmax(name="probs")(logits))


def rhythm_teacher() -> keras.Model:
    """Five stride-2 blocks (16-64 filters), hidden 64, dropout 0.3."""
    inp = keras.Input((1, RHYTHM_WINDOW, 1), name=INPUT_NAME)
    x = inp
    for i, (filters, kernel) in enumerate([(16, 7), (32, 5), (32, 5), (64, 5), (64, 3)]):
        x = _conv_bn_relu(x, filters, kernel, 2, name=f"t{i}")
    return _pooled_head(x, 64, 0.3, inp)


def rhythm_student() -> keras.Model:
    """Four blocks (8, 12, 16, 16 filters; strides 4, 2, 2, 2), hidden 16."""
    inp = keras.Input((1, RHYTHM_WINDOW, 1), name=INPUT_NAME)
    x = inp
    for i, (filters, kernel, stride) in enumerate([(8, 7, 4), (12, 5, 2), (16, 5, 2), (16, 3, 2)]):
        x = _conv_bn_relu(x, filters, kernel, stride, name=f"s{i}")
    return _pooled_head(x, 16, 0.0, inp)
