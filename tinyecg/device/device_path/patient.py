"""A patient-context model's inputs as the firmware core computes them (tinyecg_beats.c,
tinyecg_app.c, tinyecg_longterm.c): the long-term RR state A, D over every peak of the RR
sequences in order, the template beat over the beats the core classifies, and the eight
long-term features, from tinyecg.dsp.patient and tinyecg.dsp.fixedpoint (integers only)."""

from __future__ import annotations

import numpy as np

from tinyecg.device.device_path.beats import DeviceBeats
from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp import patient
from tinyecg.errors import TinyECGError
from tinyecg.spec import WINDOW


def longterm_of_beats(beats: DeviceBeats) -> tuple[np.ndarray, np.ndarray]:
    """A and D (Q4) each returned beat saw before its own update: the state follows every
    peak that left the core's queue, skipped ones included."""
    a_all, d_all = patient.longterm_state(beats.seq_pre, beats.seq_has_pre)
    rows = beats.seq_beat >= 0
    if not np.array_equal(beats.seq_beat[rows], np.arange(len(beats.r))):
        raise TinyECGError("device beats: the RR sequence does not hold every beat in order")
    return a_all[rows], d_all[rows]


def interleave(q: np.ndarray, template: np.ndarray) -> np.ndarray:
    """int8 (n, 2 * WINDOW): [q0, t0, q1, t1, ...], the (1, WINDOW, 2) beat input flattened."""
    q = np.asarray(q, np.int8).reshape(-1, WINDOW)
    return np.stack([q, np.asarray(template, np.int8).reshape(-1, WINDOW)], axis=-1).reshape(
        len(q), 2 * WINDOW
    )


def patient_inputs_int(
    q: np.ndarray, rr: np.ndarray, mean16: np.ndarray, irregularity16: np.ndarray, params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """The int8 inputs of beats in stream order, all classified (the template follows them):
    q (n, WINDOW) their preprocessed windows, rr (n, 4) their RR context, A and D as they
    saw them -> (beat (n, 2 * WINDOW) interleaved, rhythm (n, 8))."""
    q = np.asarray(q, np.int8).reshape(-1, WINDOW)
    rr = np.asarray(rr, np.int64).reshape(-1, 4)
    if len(q) == 0:
        return np.zeros((0, 2 * WINDOW), np.int8), np.zeros((0, 8), np.int8)
    template = patient.template_inputs_int(q, rr[:, 0], mean16)
    rhythm = fp.longterm_features_int(
        rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], mean16, irregularity16, params
    )
    return interleave(q, template), rhythm


def device_patient_inputs(
    beats: DeviceBeats, q: np.ndarray, params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """The inputs the core gives a patient-context model for the beats of device_beats()."""
    a16, d16 = longterm_of_beats(beats)
    return patient_inputs_int(q, beats.rr, a16, d16, params)
