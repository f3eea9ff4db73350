"""The demo's rhythm view: a record through the shockable-rhythm path a device runs (the
integer front end, tinyecg.dsp.rhythm_frontend, and the int8 rhythm model in the TFLM host
interpreter, tinyecg.stages.rhythm_evaluate.RhythmModel, gated as the device gates it): one
decision per second on the 8 s before it, the alarm after spec.ALARM_CONSECUTIVE shockable
decisions in a row, and, when the record has rhythm annotations, the annotated rhythm
beneath and the scores of tinyecg.aed_metrics.

    analyse_rhythm   record -> RhythmResult
    rhythm_figure    a strip of the signal with the decisions, the annotated rhythm and
                     the alarm span, under an overview of the whole record
    rhythm_markdown  decisions, alarm episodes and per-class Se/Sp
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg import aed_metrics, paths
from tinyecg.data import records
from tinyecg.data import rhythm as rh
from tinyecg.errors import TinyECGError
from tinyecg.spec import (
    ALARM_CONSECUTIVE,
    FS,
    RHYTHM_FS,
    RHYTHM_WARMUP_S,
    RHYTHM_WINDOW_S,
    SHOCKABLE_OUTPUT,
)

STRIP_SECONDS = 30.0  # span of the rhythm strip
MAX_SECONDS = 40 * 60  # vfdb records are 35 min

# annotated rhythm code -> (name shown, colour)
RHYTHM_STYLE = {
    rh.NSR: ("NSR", "#2ca02c"),
    rh.OTHER: ("other", "#17becf"),
    rh.ASYS: ("asystole", "#7f7f7f"),
    rh.VF: ("VF/VFL", "#d62728"),
    rh.VT: ("VT", "#ff7f0e"),
    rh.NOISE: ("noise", "#c7c7c7"),
    rh.UNSPEC: ("unlabelled", "#e8e8e8"),
    rh.PACED: ("paced", "#9467bd"),
}
DECISION_COLOURS = {"shockable": "#d62728", "non-shockable": "#2ca02c"}
ALARM_COLOUR = "#ff9896"


def default_rhythm_model() -> Path:
    """The rhythm model shipped with tinyecg (tinyecg/assets/rhythm_model/model.tflite)."""
    path = paths.rhythm_model_dir() / "model.tflite"
    if not path.is_file():
        raise TinyECGError(
            "no rhythm model ships with this tinyecg: give one (tinyecg demo --rhythm-model "
            "FILE.tflite; `tinyecg train --task rhythm` makes one)"
        )
    return path


@dataclass
class RhythmResult:
    name: str
    mv: np.ndarray  # float: the analysed lead at FS, millivolts
    lead: str
    model: str  # the model's file name
    seconds: np.ndarray  # time of each decision (the end of its 8-s window)
    shockable: np.ndarray  # bool per decision: arg-max shockable and the amplitude gate
    score_q: np.ndarray  # int8 shockable output per decision
    gated: np.ndarray  # bool per decision: the gate vetoed a shockable arg-max
    alarm: np.ndarray  # bool per decision: ALARM_CONSECUTIVE shockable in a row
    codes: np.ndarray | None  # annotated rhythm per 90 Hz sample (None: no annotations)
    scores: dict | None = None  # aed_metrics: classes, alarm episodes (None: no annotations)
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.mv) / FS

    def alarm_spans(self) -> list[tuple[float, float]]:
        """(on, off) seconds of each alarm: from the decision that set it to the first one
        that was not shockable (or the record's end)."""
        out = []
        for a, e in rh.runs_of(self.alarm):
            off = self.seconds[e] if e < len(self.seconds) else self.duration
            out.append((float(self.seconds[a]), float(off)))
        return out


def analyse_rhythm(record_base, model=None, name: str | None = None, lead=None) -> RhythmResult:
    """Every second's shockable decision on a WFDB record (any rate: resampled to 360 Hz),
    with its rhythm annotations when it has a .atr that marks rhythms."""
    from tinyecg.device.rhythm_score import has_rhythm_annotations
    from tinyecg.dsp import rhythm_frontend as fe
    from tinyecg.stages.rhythm_evaluate import RhythmModel

    m = RhythmModel(model if model is not None else default_rhythm_model())
    base = records.record_base(record_base)
    name = name or base.name
    header = records.read_header(base)
    if header.sig_len and header.sig_len / header.fs > MAX_SECONDS:
        raise TinyECGError(
            f"{name}: {header.sig_len / header.fs / 60:.0f} minutes is longer than the "
            f"rhythm view's {MAX_SECONDS // 60}-minute limit"
        )
    sig = records.read_signal(base, lead=lead)
    ann = records.read_annotations(base, "atr", source_fs=sig.source_fs)
    notes = []
    if sig.source_fs != FS:
        notes.append(f"Sampled at {sig.source_fs:g} Hz: resampled to {FS} Hz.")
    codes = None
    if ann is not None and has_rhythm_annotations(ann):
        rec = rh.load_rhythm_record(base, lead=lead)
        codes = rec.codes
    else:
        stream = fe.stream_int(sig.adc - sig.baseline)
        ends = rh.window_ends(len(stream))
        empty = np.zeros(len(ends), np.int8)
        rec = rh.RhythmRecord(
            sig.name, base.parent.name, sig.gain, stream, np.zeros(0, np.int8),
            np.zeros(0, np.float32), ends, empty, empty, np.zeros(len(ends), np.float32),
        )  # fmt: skip
        notes.append("No rhythm annotations (.atr with rhythm notes): decisions not scored.")
    if not len(rec.ends):
        raise TinyECGError(
            f"{name}: {len(sig.adc) / FS:.1f} s is too short for a rhythm decision "
            f"(the first comes after {RHYTHM_WINDOW_S + RHYTHM_WARMUP_S} s)"
        )
    out, gate = m.outputs(rec)
    argmax = out.argmax(1) == SHOCKABLE_OUTPUT
    shock = argmax & gate
    alarm = aed_metrics.alarm_active(shock)
    scores = None
    if codes is not None:
        scores = {
            "classes": aed_metrics.class_table(rec.score_class, shock),
            "alarm": aed_metrics.record_alarms(rec, shock),
        }
    return RhythmResult(
        name,
        (sig.adc - sig.baseline) / sig.gain,
        sig.lead,
        m.name,
        rec.seconds,
        shock,
        out[:, SHOCKABLE_OUTPUT].astype(np.int64),
        argmax & ~shock,
        alarm,
        codes,
        scores,
        notes,
    )


def _code_spans(codes: np.ndarray):
    """(start s, end s, code) of each run of one annotated rhythm."""
    change = np.flatnonzero(np.diff(codes.astype(np.int64))) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(codes)]])
    return [(a / RHYTHM_FS, b / RHYTHM_FS, int(codes[a])) for a, b in zip(starts, stops)]


def _rhythm_band(ax, codes, lo, hi, labels: bool):
    for a, b, c in _code_spans(codes):
        if b <= lo or a >= hi:
            continue
        label, colour = RHYTHM_STYLE.get(c, ("?", "#ffffff"))
        ax.axvspan(max(a, lo), min(b, hi), color=colour, alpha=0.8, lw=0)
        if labels and min(b, hi) - max(a, lo) > 0.04 * (hi - lo):
            ax.text((max(a, lo) + min(b, hi)) / 2, 0.5, label, ha="center", va="center",
                    fontsize=8, transform=ax.get_xaxis_transform())  # fmt: skip


def rhythm_figure(res: RhythmResult, start_s: float = 0.0, span_s: float = STRIP_SECONDS):
    """Overview of the whole record (shockable decisions, alarm, annotated rhythm), then
    a strip of span_s seconds: the signal with the alarm span shaded, each second's
    decision (bar: the second that completed its 8-s window; grey: vetoed by the amplitude
    gate) and the annotated rhythm beneath."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    has_codes = res.codes is not None
    ratios = [0.5, 1.6, 0.35] + ([0.35] if has_codes else [])
    fig = Figure(figsize=(11, 5.8 if has_codes else 5.2), dpi=100)
    axes = fig.subplots(len(ratios), 1, gridspec_kw={"height_ratios": ratios})
    over, sig_ax, dec_ax = axes[:3]
    dur = res.duration
    start_s = float(min(max(start_s, 0.0), max(dur - span_s, 0.0)))
    stop_s = min(dur, start_s + span_s)

    # overview: decisions as a raster below, the annotated shockable rhythm above
    over.fill_between(
        res.seconds, 0, 0.45 * res.shockable, step="pre", color=DECISION_COLOURS["shockable"], lw=0
    )
    for a, b in res.alarm_spans():
        over.axvspan(a, b, ymax=0.5, color=ALARM_COLOUR, alpha=0.5, lw=0)
    ticks, names = [0.22], ["shockable"]
    if res.codes is not None:
        for a, b, c in _code_spans(res.codes):
            if c in (rh.VF, rh.VT):
                over.axvspan(a, b, ymin=0.55, ymax=1.0, color=RHYTHM_STYLE[c][1], lw=0)
        ticks, names = [0.22, 0.77], ["shockable", "annotated VF/VT"]
    over.axvspan(start_s, stop_s, color="#ffdd88", alpha=0.4)
    over.set_xlim(0, dur)
    over.set_ylim(0, 1)
    over.set_yticks(ticks, names, fontsize=8)
    n_alarms = len(res.alarm_spans())
    over.set_title(
        f"record {res.name}: {int(res.shockable.sum())} of {len(res.shockable)} decisions "
        f"shockable, {n_alarms} alarm{'s' if n_alarms != 1 else ''} ({res.model})",
        fontsize=10,
        loc="left",
    )

    # the strip
    a, b = int(start_s * FS), int(stop_s * FS)
    t = np.arange(a, b) / FS
    for on, off in res.alarm_spans():
        if off > start_s and on < stop_s:
            sig_ax.axvspan(max(on, start_s), min(off, stop_s), color=ALARM_COLOUR, alpha=0.35, lw=0)
    sig_ax.plot(t, res.mv[a:b], color="#333333", lw=0.7)
    sig_ax.set_ylabel("mV")
    sig_ax.set_xlim(start_s, stop_s)
    sig_ax.set_xticklabels([])
    sel = (res.seconds > start_s) & (res.seconds - 1 < stop_s)
    for s, shock, gated in zip(res.seconds[sel], res.shockable[sel], res.gated[sel]):
        colour = "#bbbbbb" if gated else DECISION_COLOURS["shockable" if shock else "non-shockable"]
        dec_ax.axvspan(s - 1, s, color=colour, lw=0.5, ec="white")
    dec_ax.set_xlim(start_s, stop_s)
    dec_ax.set_yticks([0.5], ["decision"], fontsize=8)
    handles = [
        Patch(color=DECISION_COLOURS["shockable"], label="shockable"),
        Patch(color=DECISION_COLOURS["non-shockable"], label="non-shockable"),
        Patch(color="#bbbbbb", label="vetoed by the amplitude gate"),
        Patch(color=ALARM_COLOUR, label=f"alarm ({ALARM_CONSECUTIVE} shockable in a row)"),
    ]
    sig_ax.legend(handles=handles, fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  ncol=4, frameon=False, borderaxespad=0.2)  # fmt: skip
    last = axes[-1]
    if has_codes:
        assert res.codes is not None
        dec_ax.set_xticklabels([])
        _rhythm_band(last, res.codes, start_s, stop_s, labels=True)
        last.set_xlim(start_s, stop_s)
        last.set_yticks([0.5], ["annotated"], fontsize=8)
    last.set_xlabel(
        "s   (each decision covers the 8 s before the end of its bar"
        + ("; lowest band: the annotated rhythm)" if has_codes else ")")
    )
    fig.tight_layout()
    return fig


def _first(items, n: int = 8) -> str:
    """The first n items joined by commas, then how many there are in all."""
    items = list(items)
    more = f", ... ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def rhythm_markdown(res: RhythmResult) -> str:
    """Decisions, the alarm and (with annotations) per-class Se/Sp and the episodes."""
    n, k = len(res.shockable), int(res.shockable.sum())
    out = [
        f"### Record {res.name}: {k} of {n} decisions shockable",
        "",
        f"One decision a second on the 8 s before it (lead {res.lead}; model {res.model} in "
        f"TFLM, gated by amplitude as the device gates it; {int(res.gated.sum())} vetoed). "
        f"Alarm after {ALARM_CONSECUTIVE} shockable decisions in a row: "
        + (_first(f"{a:.0f}-{b:.0f} s" for a, b in res.alarm_spans()) or "never")
        + ".",
    ]
    if res.scores is not None:
        out += ["", "| annotated rhythm (windows) | metric | n | value | AHA goal |"]
        out.append("|---|---|---:|---:|---|")
        for c in res.scores["classes"].values():
            if c["n"]:
                goal = f"> {c['aha_goal']:g}" if c["aha_goal"] else ""
                out.append(
                    f"| {c['label']} | {c['metric']} | {c['n']} | {c['value']:.1f} | {goal} |"
                )
        al = res.scores["alarm"]
        out.append("")
        for ep in al["episodes"]:
            lat = ep["latency_s"]
            out.append(
                f"- {ep['kind']} episode at {ep['onset_s']:.0f} s ({ep['duration_s']:.0f} s): "
                + (f"alarm after {lat:.1f} s" if lat is not None else "**never alarmed**")
            )
        fa = al["false_alarms_s"]
        out.append(
            f"- false alarms: {len(fa)}"
            + (f" (at {_first(f'{t:.0f} s' for t in fa)})" if fa else "")
        )
    out += ["", *(f"_{note}_" for note in res.notes)]
    return "\n".join(out)
