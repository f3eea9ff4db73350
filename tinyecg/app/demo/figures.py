"""The demo's figures (matplotlib, no pyplot state): a beat and its model input, a record
with every beat in its class colour and a detail view."""

from __future__ import annotations

import numpy as np

from tinyecg.app.demo.analysis import BeatResult, RecordResult
from tinyecg.spec import FS, PRE_R, WINDOW

DETAIL_SECONDS = 10.0  # span of the record's detail view

# one colour per class index (matplotlib tab10 order), grey for beats not classified
CLASS_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
EDGE_COLOUR = "#999999"


def _colour(i: int) -> str:
    return EDGE_COLOUR if i < 0 else CLASS_COLOURS[i % len(CLASS_COLOURS)]


def beat_figure(res: BeatResult):
    """Raw window (mV) above, preprocessed model input below."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.6), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    t = (np.arange(WINDOW) - PRE_R) / FS * 1000
    ax1.plot(t, res.beat.mv, color="#333333", lw=1)
    ax1.set_ylabel("mV")
    ax1.set_title(f"input beat (predicted {res.shown_class})", fontsize=10)
    ax2.plot(t, res.x, color="#1f77b4", lw=1, label="float preprocessing")
    if res.q_fixed is not None:
        # q_fixed exists only with an int8 model, whose beat input quantization is known
        assert res.beat_quant is not None
        ax2.plot(
            t,
            res.beat_quant.dequantize(res.q_fixed),
            color="#d62728",
            lw=0.8,
            ls="--",
            label="fixed-point (int8 input)",
        )
    ax2.set_ylabel("z-score")
    ax2.set_xlabel("ms from the R-peak")
    ax2.legend(fontsize=8, loc="upper right")
    for ax in (ax1, ax2):
        ax.axvline(0, color="#bbbbbb", lw=0.8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def record_figure(res: RecordResult, start_s: float = 0.0, span_s: float = DETAIL_SECONDS):
    """Whole record above (every beat marked in its class colour), a detail view below
    (predicted class above each beat, the annotation below it in grey)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(11, 5.8), dpi=100)
    ax1, ax2 = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.3]})
    mv = res.mv
    t = np.arange(len(mv)) / FS
    step = max(1, len(mv) // 20000)  # the overview needs no more points than pixels
    ax1.plot(t[::step], mv[::step], color="#555555", lw=0.5)
    res_n = len(res.labels)
    for i in range(-1, res_n):
        sel = res.pred == i
        if sel.any():
            ax1.scatter(res.peaks[sel] / FS, mv[res.peaks[sel]], s=9, color=_colour(i), zorder=3)
    ax1.set_xlim(0, max(t[-1], 1 / FS))
    ax1.set_title(f"record {res.name}: {res.n_beats} beats", fontsize=10, loc="left")
    ax1.set_ylabel("mV")
    handles = [
        Line2D([], [], marker="o", ls="", color=_colour(i), label=res.labels[i])
        for i in range(res_n)
        if (res.pred == i).any()
    ]
    if (res.pred < 0).any():
        handles.append(Line2D([], [], marker="o", ls="", color=EDGE_COLOUR, label="not classified"))
    if handles:
        ax1.legend(
            handles=handles,
            fontsize=8,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=len(handles),
            frameon=False,
            borderaxespad=0.2,
        )
    start_s = float(min(max(start_s, 0.0), max(res.seconds - span_s, 0.0)))
    a, b = int(start_s * FS), min(len(mv), int((start_s + span_s) * FS))
    ax1.axvspan(a / FS, b / FS, color="#ffdd88", alpha=0.4)
    ax2.plot(t[a:b], mv[a:b], color="#333333", lw=0.8)
    lo, hi = (float(mv[a:b].min()), float(mv[a:b].max())) if b > a else (0.0, 1.0)
    pad = 0.15 * (hi - lo or 1.0)
    ax2.set_ylim(lo - 2 * pad, hi + 2 * pad)
    for k in np.flatnonzero((res.peaks >= a) & (res.peaks < b)):
        p = res.peaks[k]
        c = res.pred[k]
        ax2.plot(p / FS, mv[p], "o", ms=5, color=_colour(c))
        ax2.text(
            p / FS,
            hi + pad,
            res.labels[c] if c >= 0 else "?",
            color=_colour(c),
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
    if res.ann_samples is not None:
        assert res.ann_symbols is not None  # read together with the samples
        for s, sym in zip(res.ann_samples, res.ann_symbols):
            if a <= s < b:
                ax2.text(s / FS, lo - pad, sym, color="#777777", ha="center", va="top", fontsize=9)
    ax2.set_xlim(a / FS, max(b, a + 1) / FS)
    ax2.set_xlabel(
        "s"
        + (
            "   (coloured: predicted class; grey below: annotation)"
            if res.ann_samples is not None
            else "   (coloured: predicted class)"
        )
    )
    ax2.set_ylabel("mV")
    fig.tight_layout()
    return fig
