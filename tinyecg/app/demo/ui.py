"""The demo's page: Gradio components wired to the plain functions of the other modules,
and the local server (`tinyecg demo`). Callbacks never raise: a mistake is one line of
Markdown, an unexpected error a line that points to the server's log."""

from __future__ import annotations

import html
import logging
import os
import tempfile

from tinyecg.app.demo.analysis import RecordResult, analyse_record, classify_beat
from tinyecg.app.demo.figures import DETAIL_SECONDS, beat_figure, record_figure
from tinyecg.app.demo.inputs import (
    MAX_RECORD_FILE_BYTES,
    bundled_record,
    bundled_records,
    example_beats,
    parse_beat,
    read_text_file,
    record_from_uploads,
    short_error,
    upload_path,
)
from tinyecg.app.demo.model import DemoModel, load_model
from tinyecg.app.demo.report import beat_markdown, record_markdown
from tinyecg.app.demo.rhythm import (
    STRIP_SECONDS,
    RhythmResult,
    analyse_rhythm,
    rhythm_figure,
    rhythm_markdown,
)
from tinyecg.errors import TinyECGError
from tinyecg.spec import FS, PRE_R, WINDOW
from tinyecg.spec import MITDB_ADC_BASELINE as ADC_BASELINE
from tinyecg.spec import MITDB_ADC_GAIN as ADC_GAIN

log = logging.getLogger("tinyecg.app.demo")

DISCLAIMER = (
    "**Research and teaching tool, not a medical device.** Its output is not a "
    "diagnosis and must not be used for any clinical decision."
)


def _error_markdown(exc: Exception) -> str:
    if isinstance(exc, TinyECGError):
        return f"**Error:** {html.escape(str(exc))}"
    log.exception("demo: unexpected error")
    return (
        f"**Error:** something went wrong inside the demo ({type(exc).__name__}); the "
        "details are in the server's log."
    )


def beat_handler(dm: DemoModel, text: str, file, units_label: str, gain, baseline):
    """Page callback for one beat: (markdown, figure or None)."""
    try:
        units = {"auto": "auto", "ADC counts": "adc", "millivolts": "mv"}.get(
            units_label, units_label
        )
        source = None
        if file:
            path = upload_path(file)
            text, source = read_text_file(path), path.name
        elif not (text or "").strip():
            raise TinyECGError("paste a beat (360 numbers) or upload a CSV file first")
        beat = parse_beat(text, units, gain, baseline)
        if source:
            beat.note = (
                f"From the uploaded file {source} (it takes precedence over the text "
                f"box). {beat.note}"
            )
        res = classify_beat(dm, beat)
        return beat_markdown(res), beat_figure(res)
    except Exception as exc:  # the page shows one line, never a traceback
        return _error_markdown(exc), None


def record_handler(dm: DemoModel, bundled: str | None, files, detector: str = "auto"):
    """Page callback for one record: (markdown, figure or None, RecordResult or None)."""
    try:
        if files:
            with tempfile.TemporaryDirectory(prefix="tinyecg-demo-upload-") as work:
                base = record_from_uploads([upload_path(f) for f in files], work)
                res = analyse_record(dm, base, detector)
                res.notes.insert(
                    0, "Uploaded record (it takes precedence over the bundled excerpt menu)."
                )
        elif bundled:
            res = analyse_record(
                dm, bundled_record(bundled), detector, name=f"{bundled} (bundled MIT-BIH excerpt)"
            )
        else:
            raise TinyECGError("choose a bundled excerpt or upload a record (.hea + .dat)")
        return record_markdown(res), record_figure(res), res
    except Exception as exc:
        return _error_markdown(exc), None, None


def rhythm_handler(rhythm_model, bundled: str | None, files):
    """Page callback for the rhythm view: (markdown, figure or None, RhythmResult or None).
    rhythm_model: a .tflite path, or None for the shipped one."""
    try:
        if files:
            with tempfile.TemporaryDirectory(prefix="tinyecg-demo-upload-") as work:
                base = record_from_uploads([upload_path(f) for f in files], work)
                res = analyse_rhythm(base, rhythm_model)
        elif bundled:
            res = analyse_rhythm(
                bundled_record(bundled), rhythm_model, name=f"{bundled} (bundled MIT-BIH excerpt)"
            )
        else:
            raise TinyECGError("choose a bundled excerpt or upload a record (.hea + .dat + .atr)")
        first = first_alarm_or_shock(res)
        return rhythm_markdown(res), rhythm_figure(res, first), res
    except Exception as exc:
        return _error_markdown(exc), None, None


def first_alarm_or_shock(res: RhythmResult) -> float:
    """Where the strip starts first: a little before the first alarm, else 0."""
    spans = res.alarm_spans()
    return max(0.0, spans[0][0] - STRIP_SECONDS / 2) if spans else 0.0


def rhythm_detail_handler(res: RhythmResult | None, start_s):
    try:
        return None if res is None else rhythm_figure(res, float(start_s or 0))
    except Exception as exc:  # a stale state must not break the page
        log.warning("demo: rhythm view failed: %s", exc)
        return None


def detail_handler(res: RecordResult | None, start_s):
    try:
        return None if res is None else record_figure(res, float(start_s or 0))
    except Exception as exc:  # a stale state must not break the page
        log.warning("demo: detail view failed: %s", exc)
        return None


def _gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError:
        raise TinyECGError("the demo needs gradio: pip install 'tinyecg[demo]'") from None
    return gr


INTRO = """## tinyecg: heartbeat classification, as the microcontroller does it

{disclaimer}

{model}

Paste one beat, or analyse a record from the MIT-BIH Arrhythmia Database (bundled excerpts, or
upload your own WFDB record at 360 Hz). The int8 model runs in the TensorFlow Lite Micro
interpreter, the same kernels a board runs.
"""


def _record_picker(gr, records: list[str], tab: str, databases: str = ""):
    """A tab's record choice: a bundled excerpt or an uploaded WFDB record (elem_ids
    "<tab>-bundled" and "<tab>-files", which the browser test drives)."""
    with gr.Row():
        bundled = gr.Dropdown(
            records,
            value=records[0] if records else None,
            label="Bundled MIT-BIH excerpt",
            elem_id=f"{tab}-bundled",
        )
        files = gr.File(
            label=f"...or upload a WFDB record (.hea + .dat [+ .atr]){databases}",
            file_count="multiple",
            file_types=[".hea", ".dat", ".atr"],
            elem_id=f"{tab}-files",
        )
    return bundled, files


def build_app(run_dir=None, model=None, dm: DemoModel | None = None, rhythm_model=None):
    """The Gradio page (gr.Blocks) for a run directory, a model file, or the default model;
    rhythm_model: the rhythm view's .tflite (default: the one shipped with tinyecg)."""
    gr = _gradio()
    dm = dm or load_model(run_dir, model)
    examples = example_beats()
    records = bundled_records()
    model_text = dm.describe() + "".join(f"  \n_{n}_" for n in dm.notes)
    with gr.Blocks(title="tinyecg demo", analytics_enabled=False) as app:
        gr.Markdown(INTRO.format(disclaimer=DISCLAIMER, model=model_text), elem_id="intro")
        with gr.Tab("One beat", id="tab-beat"):
            with gr.Row():
                with gr.Column(scale=2):
                    text = gr.Textbox(
                        label=f"One beat: {WINDOW} samples at {FS} Hz, R-peak at "
                        f"sample {PRE_R} (commas, spaces or new lines)",
                        lines=5,
                        max_lines=8,
                        elem_id="beat-text",
                    )
                    file = gr.File(
                        label="...or a CSV / text file",
                        file_types=[".csv", ".txt"],
                        elem_id="beat-file",
                    )
                with gr.Column(scale=1):
                    example = gr.Dropdown(
                        list(examples),
                        label="Real beats to try",
                        value=None,
                        elem_id="beat-example",
                    )
                    units = gr.Radio(
                        ["auto", "ADC counts", "millivolts"],
                        value="auto",
                        label="Units",
                        elem_id="beat-units",
                    )
                    gain = gr.Number(ADC_GAIN, label="ADC counts per mV", precision=0)
                    baseline = gr.Number(ADC_BASELINE, label="ADC counts at 0 mV", precision=0)
            run = gr.Button("Classify beat", variant="primary", elem_id="beat-run")
            with gr.Row():
                result = gr.Markdown(elem_id="beat-result")
                plot = gr.Plot(label="beat", elem_id="beat-plot")
        with gr.Tab("Record", id="tab-record"):
            bundled, files = _record_picker(gr, records, "record")
            rrun = gr.Button("Analyse record", variant="primary", elem_id="record-run")
            rresult = gr.Markdown(elem_id="record-result")
            start = gr.Slider(
                0, 180, value=0, step=1, label="detail view from (s)", elem_id="record-start"
            )
            rplot = gr.Plot(label="record", elem_id="record-plot")
            state = gr.State(None)
        with gr.Tab("Rhythm (VF/VT alarm)", id="tab-rhythm"):
            gr.Markdown(RHYTHM_INTRO, elem_id="rhythm-intro")
            vbundled, vfiles = _record_picker(gr, records, "rhythm", ": vfdb, cudb, mitdb")
            vrun = gr.Button("Analyse rhythm", variant="primary", elem_id="rhythm-run")
            vresult = gr.Markdown(elem_id="rhythm-result")
            vstart = gr.Slider(
                0, 180, value=0, step=1, label="strip from (s)", elem_id="rhythm-start"
            )
            vplot = gr.Plot(label="rhythm", elem_id="rhythm-plot")
            vstate = gr.State(None)

        example.change(lambda k: examples.get(k, ""), inputs=example, outputs=text)
        run.click(
            lambda *a: beat_handler(dm, *a),
            inputs=[text, file, units, gain, baseline],
            outputs=[result, plot],
        )

        def on_record(b, f):
            md, fig, res = record_handler(dm, b, f)
            top = max(0.0, res.seconds - DETAIL_SECONDS) if res is not None else 0.0
            return md, fig, res, gr.Slider(minimum=0, maximum=max(1.0, round(top)), value=0)

        rrun.click(on_record, inputs=[bundled, files], outputs=[rresult, rplot, state, start])
        start.input(
            detail_handler, inputs=[state, start], outputs=rplot, trigger_mode="always_last"
        )

        def on_rhythm(b, f):
            md, fig, res = rhythm_handler(rhythm_model, b, f)
            if res is None:
                return md, fig, res, gr.Slider(minimum=0, maximum=1, value=0)
            top = max(1.0, round(res.duration - STRIP_SECONDS))
            return md, fig, res, gr.Slider(minimum=0, maximum=top, value=first_alarm_or_shock(res))

        vrun.click(on_rhythm, inputs=[vbundled, vfiles], outputs=[vresult, vplot, vstate, vstart])
        vstart.input(
            rhythm_detail_handler,
            inputs=[vstate, vstart],
            outputs=vplot,
            trigger_mode="always_last",
        )
    return app


RHYTHM_INTRO = """The shockable-rhythm alarm as a device runs it: every second, the 8 s before
it through the integer front end and the int8 rhythm model (TFLM), a shockable decision only
when the signal is large enough, and an alarm after three shockable decisions in a row. With
rhythm annotations (MIT-BIH, vfdb, cudb) the annotated rhythm is drawn beneath and the
decisions are scored as AED standards do."""


def launch(app, port: int = 7860, block: bool = True):
    """Serve on 127.0.0.1 only. block=False returns at once (the server runs in a thread;
    app.close() stops it). Returns the local URL."""
    import inspect

    gr = _gradio()
    kwargs = {
        "server_name": "127.0.0.1",
        "server_port": int(port),
        "share": False,
        "inbrowser": False,
        "show_error": False,
        "quiet": True,
        "max_file_size": MAX_RECORD_FILE_BYTES,
        "prevent_thread_lock": not block,
        "ssr_mode": False,
        "mcp_server": False,
    }
    accepted = inspect.signature(gr.Blocks.launch).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    try:
        app.launch(**kwargs)
    except OSError as exc:
        raise TinyECGError(f"cannot serve on 127.0.0.1:{port} ({short_error(exc)})") from None
    return getattr(app, "local_url", None) or f"http://127.0.0.1:{port}/"


def serve(run_dir=None, model=None, port: int = 7860, rhythm_model=None) -> None:
    """`tinyecg demo [RUN_DIR | --model MODEL.tflite] [--rhythm-model R.tflite] [--port N]`:
    build and serve, blocking."""
    if not 1 <= int(port) <= 65535:
        raise TinyECGError(f"port {port} is not in 1..65535")
    app = build_app(run_dir, model, rhythm_model=rhythm_model)
    url = launch(app, port, block=False)
    print(f"tinyecg demo on {url} (Ctrl-C stops it)", flush=True)
    try:
        app.block_thread()  # returns after Ctrl-C, with the server closed
    finally:
        app.close()
