"""Feeding beats to a model: a (1, 360, 1) image per beat (or (1, 360, 2) with the patient's
template), plus rhythm features if taken."""

from __future__ import annotations

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.models.int8 import input_role
from tinyecg.spec import BEAT, RHYTHM


def takes_rhythm(model) -> bool:
    return len(model.inputs) > 1


def beat_channels(model) -> int:
    """Channels of a Keras model's beat input: 1 (the window) or 2 (window and template)."""
    for t in model.inputs:
        if input_role(t.name, int(np.prod(t.shape[1:]))) == BEAT or len(model.inputs) == 1:
            return int(t.shape[-1])
    return 1


def model_inputs(model, x: np.ndarray, rhythm: np.ndarray, template: np.ndarray | None = None):
    """Windows (n, WINDOW) and rhythm features (n, k) -> a Keras model's inputs, in its own
    order (the roles come from the input names, as for int8 models). A two-channel model
    (the patient recipe) also takes the template channel (n, WINDOW), stacked as channel 1."""
    x = np.asarray(x, np.float32)
    if beat_channels(model) == 2:
        if template is None:
            raise TinyECGError("this model takes the patient's template as a second channel")
        beat = np.stack([x, np.asarray(template, np.float32)], axis=-1)[:, None, :, :]
    else:
        beat = x.reshape(-1, 1, x.shape[-1], 1)
    if not takes_rhythm(model):
        return beat
    feeds = {BEAT: beat, RHYTHM: np.asarray(rhythm, np.float32)}
    ordered = []
    for t in model.inputs:
        role = input_role(t.name, int(np.prod(t.shape[1:])))
        if role not in feeds:
            raise TinyECGError(
                f"model input {t.name!r} is neither the beat window nor the rhythm features"
            )
        if role == RHYTHM and feeds[RHYTHM].shape[-1] != t.shape[-1]:
            raise TinyECGError(
                f"the model takes {t.shape[-1]} rhythm features, given {feeds[RHYTHM].shape[-1]}"
            )
        ordered.append(feeds[role])
    return ordered


def class_weights(y: np.ndarray, n_classes: int, power: float = 0.5) -> dict[int, float]:
    """Inverse-frequency weights damped by `power` (0: none, 1: fully balanced), normalised
    so the average training sample keeps weight 1. Imbalance is handled here, in training
    only, never by resampling the data."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, (counts.sum() / np.maximum(counts, 1)) ** power, 0.0)
    w /= (w * counts).sum() / counts.sum()
    return {i: float(w[i]) for i in range(n_classes)}
