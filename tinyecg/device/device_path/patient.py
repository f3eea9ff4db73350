"""A patient-context model's inputs as the firmware core computes them (tinyecg_beats.c,
tinyecg_app.c, tinyecg_longterm.c): the long-term RR state A, D over every peak of the RR
sequences in order (skipped beats included), then the template over the beats the core
classifies and the eight long-term features (tinyecg.dsp.fixedpoint.longterm, integers
only)."""

from __future__ import annotations

import functools

import numpy as np

from tinyecg.device.device_path.beats import DeviceBeats
from tinyecg.dsp import patient
from tinyecg.dsp.fixedpoint.longterm import patient_inputs_int
from tinyecg.errors import TinyECGError


def longterm_of_beats(beats: DeviceBeats) -> tuple[np.ndarray, np.ndarray]:
    """A and D (Q4) each returned beat saw before its own update: the state follows every
    peak that left the core's queue, skipped ones included."""
    a_all, d_all = patient.longterm_state(beats.seq_pre, beats.seq_has_pre)
    rows = beats.seq_beat >= 0
    if not np.array_equal(beats.seq_beat[rows], np.arange(len(beats.r))):
        raise TinyECGError("device beats: the RR sequence does not hold every beat in order")
    return a_all[rows], d_all[rows]


def device_patient_inputs(
    beats: DeviceBeats, q: np.ndarray, params: dict
) -> tuple[np.ndarray, np.ndarray]:
    """The inputs the core gives a patient-context model for the beats of device_beats()."""
    a16, d16 = longterm_of_beats(beats)
    return patient_inputs_int(q, beats.rr, a16, d16, params)


def patient_reference_beats(
    model, samples, events, calibration=(1024, 200), labels: list[str] | None = None
) -> list[tuple[int, str, int]]:
    """What a device with a patient-context model prints for each beat, computed on the host
    without its C: the core's beat rules on the detector's events (device_beats on
    tinyecg.device.device_path.device_events' peaks, report times and breaks), the fixed-point
    window, the patient's state and features, then the TFLM host interpreter. Returns
    (r, label, int8 score of the arg-max class) per beat, as tinyecg.device.firmware's
    reference_beats does for today's models."""
    from tinyecg.device.device_path.beats import device_beats, windows_at
    from tinyecg.device.device_path.classifier import Int8Classifier
    from tinyecg.dsp import fixedpoint as fp

    clf = Int8Classifier(model)
    if not clf.patient:
        raise TinyECGError(f"{clf.int8.source}: not a patient-context model")
    x = np.asarray(samples, np.int64)
    beats = device_beats(events.peaks, events.reported_at, len(x), events.breaks)
    if len(beats.r) == 0:
        return []
    params = clf.preprocess_params()
    q = fp.preprocess_windows_int(windows_at(x, beats.r), calibration[0], calibration[1], params)
    beat_q, rhythm_q = device_patient_inputs(beats, q, params)
    out = clf.scores(beat_q, rhythm_q).astype(np.int64)
    names = labels if labels is not None else [f"class{i}" for i in range(out.shape[1])]
    best = out.argmax(axis=1)  # the first maximum, as the core's loop
    return [(int(r), names[int(k)], int(row[k])) for r, k, row in zip(beats.r, best, out)]


@functools.lru_cache(maxsize=1)
def _event_driver():
    """The event driver, compiled once per process (a bench asks for a reference per
    record) into a temporary folder removed at exit."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    from tinyecg.device.device_path.events import build_event_driver

    tmp = tempfile.mkdtemp(prefix="tinyecg-events-")
    atexit.register(shutil.rmtree, tmp, True)
    return build_event_driver(Path(tmp))


def reference_of_rows(model, samples, rows_r, calibration=(1024, 200), labels=None):
    """patient_reference_beats on MIT-BIH-range samples with the detector's events computed
    here (the event driver, built in a temporary folder); its beats must be rows_r (the
    device's R lines): tinyecg.device.firmware.reference_beats of a patient-context model."""
    from tinyecg.device.device_path.events import device_events
    from tinyecg.spec import MITDB_ADC_RANGE

    lo, hi = MITDB_ADC_RANGE
    events = device_events(samples, _event_driver(), lo, hi)
    out = patient_reference_beats(model, samples, events, calibration, labels)
    if [r for r, _, _ in out] != [int(r) for r in rows_r]:
        raise TinyECGError("the Python beat rules give other beats than the device's R lines")
    return out
