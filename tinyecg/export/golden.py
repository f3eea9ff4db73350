"""Golden vectors: real beats with everything the board computes from them, so firmware can
check itself against Python bit for bit.

For each chosen beat: the raw int16 ADC window [r - 180, r + 180), the lead's baseline and gain,
the integer RR context (pre, post, local sum, local count), the int8 model inputs computed by
the integer reference (:func:`tinyecg.dsp.fixedpoint.preprocess_windows_int` and
:func:`tinyecg.dsp.fixedpoint.rhythm_features_int`, which the generated C reproduces exactly)
and the int8 output of the TFLM host runtime (:class:`tinyecg.runtime.tflm.TFLMModel`) on
those inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg.data.beats import Beats, beats_from_record, label_set
from tinyecg.data.records import BUNDLED, PACED, list_records, load_record
from tinyecg.dsp import fixedpoint as fp
from tinyecg.errors import TinyECGError
from tinyecg.spec import BEAT, RHYTHM


@dataclass
class Golden:
    record: str
    sample: int  # R-peak sample index in the record (360 Hz)
    label: int  # annotated class (index into the labels)
    baseline: int  # ADC counts at 0 mV
    gain: int  # ADC counts per mV
    rr: tuple[int, int, int, int]  # pre_rr, post_rr, local_rr_sum, local_rr_count (samples)
    raw: np.ndarray  # int16 (360,)
    beat: np.ndarray  # int8 (360,): expected "beat" input
    rhythm: np.ndarray | None  # int8 (5,): expected "rhythm" input, None without rhythm input
    output: np.ndarray  # int8 (n_classes,): TFLM output on beat/rhythm
    # a patient-context model: A and D (Q4) the beat saw; beat is then (720,) interleaved
    longterm: tuple[int, int] | None = None

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.output))

    def as_dict(self) -> dict:
        return {
            "record": self.record,
            "sample": self.sample,
            "label": self.label,
            "predicted": self.predicted,
            "baseline": self.baseline,
            "gain": self.gain,
            "rr": list(self.rr),
            "output": self.output.tolist(),
        }


def excerpt_beats(labels: str, data_dir: Path = BUNDLED) -> Beats:
    """Every labelled beat of the excerpt bundled with the package (paced records left out,
    as the dataset does), without the float preprocessing the golden vectors do not need."""
    label_set(labels)
    parts = []
    for name in list_records(data_dir):
        if name in PACED:
            continue
        rec = load_record(data_dir, name)
        if rec is None:
            continue
        b = beats_from_record(rec, labels)
        if len(b):
            parts.append(b)
    if not parts:
        raise TinyECGError(f"{data_dir}: no labelled beats for golden vectors")
    return Beats.concat(parts)


def choose(
    y: np.ndarray, candidates: np.ndarray, n: int, n_classes: int, seed: int = 0
) -> np.ndarray:
    """n indices from candidates covering the classes: one beat of every class present in
    turn (class order), then again, until n are chosen; random within a class (seeded)."""
    rng = np.random.default_rng(seed)
    candidates = np.asarray(candidates, dtype=np.int64)
    pools = []
    for c in range(n_classes):
        members = candidates[np.asarray(y)[candidates] == c]
        pools.append(list(rng.permutation(members)))
    chosen: list[int] = []
    while len(chosen) < n and any(pools):
        for pool in pools:
            if pool and len(chosen) < n:
                chosen.append(int(pool.pop()))
    return np.asarray(chosen, dtype=np.int64)


def _whole(value, what: str) -> int:
    v = float(value)
    if not v.is_integer():
        raise TinyECGError(f"golden vectors: {what} {v} is not a whole number of ADC counts")
    return int(v)


def make_golden(
    beats: Beats, idx: np.ndarray, params: dict, model, roles: list[str]
) -> list[Golden]:
    """Golden vectors of beats[idx]: integer-reference inputs, TFLM outputs.

    model: a tinyecg.runtime.tflm.TFLMModel; roles: "beat" or "rhythm" for each of its inputs in
    flatbuffer order."""
    idx = np.asarray(idx, dtype=np.int64)
    raw = np.asarray(beats.raw[idx], dtype=np.int16)
    baseline = np.array([_whole(b, "baseline") for b in beats.baseline[idx]], np.int64)
    gain = np.array([_whole(g, "gain") for g in beats.gain[idx]], np.int64)
    rr = np.asarray(beats.rr[idx], dtype=np.int64)
    q_beat = fp.preprocess_windows_int(raw, baseline, gain, params)
    q_rhythm = None
    state = None
    if params.get("beat_channels", 1) == 2:
        q_beat, q_rhythm, state = patient_golden(beats, idx, params)
    elif RHYTHM in roles:
        q_rhythm = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    rows = {BEAT: q_beat} if q_rhythm is None else {BEAT: q_beat, RHYTHM: q_rhythm}
    out = []
    for k, i in enumerate(idx):
        inputs = [rows[role][k] for role in roles]
        y = np.asarray(model.invoke(*inputs), dtype=np.int8)
        out.append(
            Golden(
                record=str(beats.record[i]),
                sample=int(beats.sample[i]),
                label=int(beats.y[i]),
                baseline=int(baseline[k]),
                gain=int(gain[k]),
                rr=(int(rr[k, 0]), int(rr[k, 1]), int(rr[k, 2]), int(rr[k, 3])),
                raw=raw[k].copy(),
                beat=np.asarray(q_beat[k], np.int8).copy(),
                rhythm=None if q_rhythm is None else np.asarray(q_rhythm[k], np.int8),
                output=y.copy(),
                longterm=None if state is None else (int(state[k, 0]), int(state[k, 1])),
            )
        )
    return out


def patient_golden(beats: Beats, idx: np.ndarray, params: dict):
    """A patient-context model's golden inputs of beats[idx]: (beat (n, 720) interleaved,
    rhythm (n, 8), [A, D] (n, 2)). The patient's state of a beat is that of the labelled
    beats of its record before it, in sample order (tinyecg.dsp.patient over that sequence,
    the first beat of a record with no real pre); the self-test checks the window channel,
    the features from A and D, and the model on these inputs."""
    from tinyecg.dsp import patient
    from tinyecg.dsp.fixedpoint.longterm import patient_inputs_int

    beat = np.zeros((len(idx), 2 * len(beats.raw[0])), np.int8)
    rhythm = np.zeros((len(idx), patient.N_LONGTERM_FEATURES), np.int8)
    state = np.zeros((len(idx), 2), np.int64)
    records = np.asarray(beats.record)
    for name in dict.fromkeys(records[idx].tolist()):
        rows = np.flatnonzero(records == name)
        rows = rows[np.argsort(np.asarray(beats.sample)[rows], kind="stable")]
        rr = np.asarray(beats.rr[rows], np.int64)
        has_pre = np.arange(len(rows)) > 0
        a16, d16 = patient.longterm_state(rr[:, 0], has_pre)
        g = [_whole(v, "baseline") for v in beats.baseline[rows]]
        gn = [_whole(v, "gain") for v in beats.gain[rows]]
        q = fp.preprocess_windows_int(
            np.asarray(beats.raw[rows], np.int16), np.asarray(g), np.asarray(gn), params
        )
        b2, r8 = patient_inputs_int(q, rr, a16, d16, params)
        where = {int(r): k for k, r in enumerate(rows)}
        for k, i in enumerate(idx):
            if records[i] == name:
                beat[k], rhythm[k] = b2[where[int(i)]], r8[where[int(i)]]
                state[k] = a16[where[int(i)]], d16[where[int(i)]]
    return beat, rhythm, state


def table_bytes(n: int, window: int, n_rhythm: int, n_classes: int, channels: int = 1) -> int:
    """Flash bytes of the tinyecg_golden[] table (struct padding to 4 bytes included): 9,024
    estimated for 8 beats with rhythm and 5 classes, 9,016 measured (arm-none-eabi-gcc -Os).
    channels 2 (a patient-context model): a 2-channel beat input and A, D (8 bytes)."""
    per = 4 + 4 + 2 + 4 + 16 + 2 * window + window + n_rhythm + n_classes  # ptr, sample, ...
    if channels == 2:
        per += window + 8
    per = (per + 3) // 4 * 4
    return n * per + 8 * n  # + the record name strings
