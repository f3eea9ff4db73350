"""The int8 model fed as the board feeds it, and the two ways its inputs are computed:
the integer reference of the generated C (fixed point) and the float reference quantized
(what `tinyecg evaluate` feeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyecg import spec
from tinyecg.errors import TinyECGError
from tinyecg.spec import WINDOW


class Int8Classifier:
    """An int8 TFLite model in the TFLM host runtime, fed int8 inputs the way the board
    feeds it: the 360-value "beat" input and, if the model has one, the 5-value "rhythm"."""

    def __init__(self, model):
        """model: a .tflite path or its bytes."""
        from tinyecg.models.int8 import Int8Model
        from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

        source = bytes(model) if isinstance(model, (bytes, bytearray, memoryview)) else Path(model)
        self.int8 = Int8Model.load(source)
        ok, reasons = self.int8.flatbuffer.is_fully_int8()
        if not ok:
            raise TinyECGError(
                f"{self.int8.source}: not a full-int8 model (int8 inputs and "
                "output): " + "; ".join(reasons[:3])
            )
        self.model, _ = capture_c_stdout(lambda: TFLMModel(self.int8.data))
        self.beat_q = self.int8.input(spec.BEAT)
        self.rhythm_q = self.int8.input(spec.RHYTHM)
        self.n_classes = self.int8.n_classes
        # a patient-context model: the beat input holds the window and the patient's
        # template, the rhythm input the long-term features (tinyecg.device.device_path.patient)
        self.patient = self.int8.beat_channels == 2

    def preprocess_params(self) -> dict:
        from tinyecg.dsp import fixedpoint as fp

        if self.patient:
            return fp.preprocess_params(
                self.beat_q.scale,
                self.beat_q.zero_point,
                self.rhythm_q.scale,
                self.rhythm_q.zero_point,
                rhythm_features="longterm",
                beat_channels=2,
            )
        if self.rhythm_q is None:
            return fp.preprocess_params(self.beat_q.scale, self.beat_q.zero_point)
        return fp.preprocess_params(
            self.beat_q.scale, self.beat_q.zero_point, self.rhythm_q.scale, self.rhythm_q.zero_point
        )

    def scores(self, beat_q: np.ndarray, rhythm_q: np.ndarray | None) -> np.ndarray:
        """int8 inputs (n, 360) and (n, 5) -> int8 output scores (n, classes)."""
        inputs = self.int8.order(beat=beat_q, rhythm=rhythm_q)
        out = np.zeros((len(beat_q), self.n_classes), np.int8)
        for k in range(len(beat_q)):
            out[k] = self.model.invoke(*(x[k] for x in inputs))
        return out

    def dequantized_scores(self, beat_q: np.ndarray, rhythm_q: np.ndarray | None) -> np.ndarray:
        """scores() in the output's real values (n, classes)."""
        return self.int8.output.dequantize(self.scores(beat_q, rhythm_q))

    def predict(self, beat_q, rhythm_q) -> np.ndarray:
        return (
            self.scores(beat_q, rhythm_q).argmax(axis=1) if len(beat_q) else np.zeros(0, np.int64)
        )


def fixed_inputs(clf: Int8Classifier, params: dict, windows, rr, baseline: int, gain: int):
    """int8 model inputs of integer windows and RR context: the generated C's computation."""
    from tinyecg.dsp import fixedpoint as fp

    if len(windows) == 0:
        return np.zeros((0, WINDOW), np.int8), np.zeros((0, 5), np.int8)
    beat = fp.preprocess_windows_int(
        np.asarray(windows, np.int16), int(baseline), int(gain), params
    )
    rhythm = None
    if clf.rhythm_q is not None:
        rr = np.asarray(rr, np.int64)
        rhythm = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    return beat, rhythm


def quantize_float(clf: Int8Classifier, x, rhythm_float):
    """Float model inputs (n, WINDOW) and (n, features) -> the int8 inputs, quantized as
    Int8Model.quantize_inputs does (rhythm None when the model takes none)."""
    x = np.asarray(x)
    beat = clf.beat_q.quantize(x).reshape(len(x), WINDOW)
    rhythm = (
        clf.rhythm_q.quantize(rhythm_float).reshape(len(x), clf.rhythm_q.size)
        if clf.rhythm_q is not None
        else None
    )
    return beat, rhythm


def float_inputs(clf: Int8Classifier, windows, rhythm_float, baseline: float, gain: float):
    """int8 model inputs through the float reference (denoise.preprocess, then the model's
    input quantization as Int8Model.quantize_inputs): what `tinyecg evaluate` feeds."""
    from tinyecg.dsp import denoise

    mv = (np.asarray(windows, np.float64) - float(baseline)) / float(gain)
    x = denoise.preprocess(mv) if len(mv) else np.zeros((0, WINDOW), np.float32)
    return quantize_float(clf, x, rhythm_float)


def annotated_inputs(clf: Int8Classifier, rec, labels: str, params: dict | None = None):
    """The labelled annotated beats of a record (tinyecg.data.beats.beats_from_record: the
    dataset's windows and RR context) and their int8 model inputs through the fixed-point
    path and through the float path: (beats, (beat, rhythm) fixed, (beat, rhythm) float).
    A patient-context model's state follows the labelled beats in order (the first with no
    real pre), as the export's golden vectors take it."""
    from tinyecg.data.beats import beats_from_record

    params = params or clf.preprocess_params()
    ann = beats_from_record(rec, labels)
    gain = int(round(rec.gain))
    if clf.patient:
        return (ann, *patient_annotated_inputs(clf, params, ann, rec.baseline, rec.gain))
    return (
        ann,
        fixed_inputs(clf, params, ann.raw, ann.rr, rec.baseline, gain),
        float_inputs(clf, ann.raw, ann.rhythm, rec.baseline, rec.gain),
    )


def patient_annotated_inputs(clf: Int8Classifier, params: dict, ann, baseline, gain):
    """A patient-context model's fixed-point and float inputs of annotated beats in order."""
    from tinyecg.dsp import denoise, patient
    from tinyecg.dsp import fixedpoint as fp
    from tinyecg.dsp.fixedpoint.longterm import interleave, patient_inputs_int

    rr = np.asarray(ann.rr, np.int64).reshape(-1, 4)
    has_pre = np.arange(len(rr)) > 0
    a16, d16 = patient.longterm_state(rr[:, 0], has_pre)
    q = fp.preprocess_windows_int(
        np.asarray(ann.raw, np.int16), int(baseline), int(round(gain)), params
    )
    fixed = patient_inputs_int(q, rr, a16, d16, params)
    mv = (np.asarray(ann.raw, np.float64) - float(baseline)) / float(gain)
    x = denoise.preprocess(mv) if len(mv) else np.zeros((0, WINDOW), np.float32)
    tf = patient.template_inputs_float(x, rr[:, 0], a16)
    lt = (
        patient.longterm_features(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], has_pre)
        if len(rr)
        else np.zeros((0, 8), np.float32)
    )
    b = clf.beat_q

    def quantize_channel(v):  # one channel of the beat input, as TensorSpec.quantize rounds
        return np.clip(np.round(np.asarray(v, np.float64) / b.scale) + b.zero_point, -128, 127)

    beat = interleave(quantize_channel(x), quantize_channel(tf))
    rhythm = clf.rhythm_q.quantize(lt).reshape(len(x), clf.rhythm_q.size)
    return fixed, (beat, rhythm)
