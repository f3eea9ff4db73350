"""The board's whole beat path, run on the host and scored against MIT-BIH annotations.

A board has no annotations: it finds the beats itself. For every record this package

1. replays the raw ADC lead through the firmware core's host harness (the C detector and
   beat assembly, :mod:`tinyecg.device.detect`), keeping the R-peaks it reports and the RR context
   it computes for every beat (``--peaks --rr``);
2. forms the beats again in Python from those peaks, with the C core's rules
   (:func:`device_beats`: window ``[r-180, r+180)``, first/last beat, the 2 s timeout, RR
   sequences restarted after lead-off or a flat signal, beats whose window starts before
   the first sample or ends after the last one dropped) and checks them against the C's own
   ``R`` lines, so the figures below are those of the device code, not of a re-reading;
3. computes the int8 model inputs with the integer reference of the generated C
   (:func:`tinyecg.dsp.fixedpoint.preprocess_windows_int`, :func:`rhythm_features_int`);
4. runs the int8 model in the TFLite Micro host runtime (:class:`tinyecg.runtime.tflm.TFLMModel`);
5. matches detected beats to annotated beats within 150 ms (ANSI/AAMI EC57) and reports
   QRS Se/+P, the class confusion of matched beats, and beside it the same model on the
   ANNOTATED R-peaks through the same fixed-point path and through the float preprocessing
   (:mod:`tinyecg.dsp.denoise`, quantized as
   :meth:`tinyecg.models.int8.Int8Model.quantize_inputs` does, i.e. what ``tinyecg evaluate``
   measures). Differences between the three are the cost of
   detection and of fixed-point preprocessing, separately.

The path also measures the R-peak alignment (detected - annotated, samples) and its effect: on the
beats that were both detected and annotated, the detected window with the annotated RR
context (window alignment alone) and, optionally, annotated windows deliberately shifted by
a few samples (``shifts``).
The report time of each R-peak (the sample count when the detector reported it) decides the
2 s timeout rule, and the harness does not print it; :func:`build_event_driver` compiles
firmware/host/events_main.c, a driver of the same core (`tinyecg_app`, peaks only) that
prefixes every output line with the sample count at that moment.

Modules, in the order of the path:
    events      the C programs' output: R-peaks, report times, RR breaks, the harness's RR lines
    beats       the core's beat-assembly rules in Python; windows at R-peaks
    classifier  the int8 model fed as the board feeds it; fixed-point and float inputs
    record      one record through every path (RecordResult)
    summary     reports over records
    evaluate    evaluate_device_path: the whole run
"""

from __future__ import annotations

from tinyecg.device.device_path.beats import (
    BEAT_TIMEOUT,
    BEATS_PENDING,
    BEATS_RING,
    DeviceBeats,
    device_beats,
    windows_at,
)
from tinyecg.device.device_path.classifier import (
    Int8Classifier,
    annotated_inputs,
    fixed_inputs,
    float_inputs,
    quantize_float,
)
from tinyecg.device.device_path.evaluate import evaluate_device_path
from tinyecg.device.device_path.events import (
    DeviceEvents,
    build_event_driver,
    device_events,
    harness_beats,
    parse_rr_lines,
)
from tinyecg.device.device_path.record import RecordResult, evaluate_record
from tinyecg.device.device_path.summary import offset_summary

__all__ = [
    "BEAT_TIMEOUT",
    "BEATS_PENDING",
    "BEATS_RING",
    "DeviceBeats",
    "DeviceEvents",
    "Int8Classifier",
    "RecordResult",
    "annotated_inputs",
    "build_event_driver",
    "device_beats",
    "device_events",
    "evaluate_device_path",
    "evaluate_record",
    "fixed_inputs",
    "float_inputs",
    "harness_beats",
    "offset_summary",
    "parse_rr_lines",
    "quantize_float",
    "windows_at",
]
