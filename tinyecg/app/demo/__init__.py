"""The browser demo (`tinyecg demo`): one beat or one WFDB record through the same pipeline a
board runs, shown in a local Gradio page.

The logic lives in plain functions, tested without a browser; only :mod:`.ui` knows Gradio.
Every user mistake raises :class:`~tinyecg.errors.TinyECGError`, which the page shows as one
readable line.

    inputs    a pasted/uploaded beat (text, CSV), uploaded WFDB records, the bundled excerpts
    model     the models: int8 in TFLM (tinyecg.models.int8.Int8Model gives the input roles
              and quantization) and the float Keras model, found as tinyecg.run finds them
    analysis  one beat through every path; a record through the device layer
    report    the results as Markdown
    figures   the results as matplotlib figures
    rhythm    the rhythm view: a record's shockable decision per second (the int8 rhythm
              model in TFLM), its alarm and its annotated rhythm (analysis, figure, text)
    ui        the Gradio page, `serve`, `build_app`, `launch`

For a beat: the float reference preprocessing (:mod:`tinyecg.dsp.denoise`), then the float
Keras model (when one is available) and the int8 model in the TFLM host interpreter; and the
fixed-point preprocessing the generated C runs (:mod:`tinyecg.dsp.fixedpoint`) feeding the same
int8 model, to show whether the device's integer path gives the same class.

For a record: R-peaks from the firmware's C detector (:mod:`tinyecg.device.detect`; the
annotated R-peaks when the C harness cannot be built, which the page says), every beat
classified by the int8 model in TFLM (:mod:`tinyecg.device.device_path`'s classifier and
inputs), and a per-class count and confusion summary against the reference annotations (a
detection matches an annotated beat within 150 ms, ANSI/AAMI EC57: tinyecg.metrics).
"""

from __future__ import annotations

from tinyecg.app.demo.analysis import (
    BeatResult,
    RecordResult,
    analyse_record,
    classify_beat,
    detector_error,
    detector_executable,
    neutral_rr,
)
from tinyecg.app.demo.figures import beat_figure, record_figure
from tinyecg.app.demo.inputs import (
    BeatInput,
    bundled_record,
    bundled_records,
    example_beats,
    parse_beat,
    parse_numbers,
    read_text_file,
    record_from_uploads,
)
from tinyecg.app.demo.model import DemoModel, default_model_dir, load_model, training_note
from tinyecg.app.demo.report import beat_markdown, record_markdown
from tinyecg.app.demo.rhythm import (
    RhythmResult,
    analyse_rhythm,
    default_rhythm_model,
    rhythm_figure,
    rhythm_markdown,
)
from tinyecg.app.demo.ui import (
    beat_handler,
    build_app,
    detail_handler,
    launch,
    record_handler,
    rhythm_detail_handler,
    rhythm_handler,
    serve,
)

__all__ = [
    "BeatInput",
    "BeatResult",
    "DemoModel",
    "RecordResult",
    "RhythmResult",
    "analyse_rhythm",
    "default_rhythm_model",
    "rhythm_detail_handler",
    "rhythm_figure",
    "rhythm_handler",
    "rhythm_markdown",
    "analyse_record",
    "beat_figure",
    "beat_handler",
    "beat_markdown",
    "build_app",
    "bundled_record",
    "bundled_records",
    "classify_beat",
    "default_model_dir",
    "detail_handler",
    "detector_error",
    "detector_executable",
    "example_beats",
    "launch",
    "load_model",
    "neutral_rr",
    "parse_beat",
    "parse_numbers",
    "read_text_file",
    "record_figure",
    "record_from_uploads",
    "record_handler",
    "record_markdown",
    "serve",
    "training_note",
]
