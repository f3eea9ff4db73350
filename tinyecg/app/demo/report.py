"""The demo's results as the Markdown the page shows beside each figure."""

from __future__ import annotations

import numpy as np

from tinyecg.app.demo.analysis import BeatResult, RecordResult
from tinyecg.spec import WINDOW


def _pct(p) -> str:
    return f"{100 * float(p):.1f} %"


def beat_markdown(res: BeatResult) -> str:
    """The beat result as Markdown (what the page shows beside the plot)."""
    lines = [f"### Predicted class: {res.shown_class}", ""]
    if res.class_float is not None:
        lines.append(f"- float model (Keras): **{res.class_float}**")
    if res.class_int8 is not None:
        lines.append(f"- int8 model (TFLM): **{res.class_int8}**")
    if res.class_fixed is not None:
        same = "same class" if res.class_fixed == res.class_int8 else "DIFFERENT class"
        # the fixed-point path runs only beside the float path into the int8 model
        assert res.q_fixed is not None and res.q_float is not None
        diff = np.abs(res.q_fixed.astype(int) - res.q_float.astype(int))
        lines.append(
            f"- fixed-point preprocessing (C-equivalent) + int8 model: "
            f"**{res.class_fixed}** ({same}; {int((diff > 0).sum())} of {WINDOW} int8 "
            f"inputs differ from the float path, by at most {int(diff.max())})"
        )
    lines += [
        "",
        "| class | "
        + " | ".join(
            n
            for n, p in (
                ("float", res.probs_float),
                ("int8", res.probs_int8),
                ("fixed-point", res.probs_fixed),
            )
            if p is not None
        )
        + " |",
        "|---|"
        + "---:|" * sum(p is not None for p in (res.probs_float, res.probs_int8, res.probs_fixed)),
    ]
    for i, name in enumerate(res.labels):
        cells = [
            _pct(p[i]) for p in (res.probs_float, res.probs_int8, res.probs_fixed) if p is not None
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", f"_{res.beat.note}_ _{res.rhythm_note}_"]
    return "\n".join(lines)


def record_markdown(res: RecordResult) -> str:
    out = [
        f"### Record {res.name}: {res.n_beats} beats",
        "",
        f"{res.seconds:.1f} s, lead {res.channel}. R-peaks: {res.detector}. "
        f"Every beat classified by the int8 model in TFLM (float preprocessing, rhythm "
        f"context from the detected beats).",
    ]
    edge = res.n_beats - res.n_classified
    if edge:
        out.append(
            f"{edge} beat(s) within 0.5 s of the record's ends are not classified "
            "(their window leaves the record)."
        )
    out += [
        "",
        "| class | " + " | ".join(res.labels) + " |",
        "|---|" + "---:|" * len(res.labels),
        "| predicted beats | " + " | ".join(str(v) for v in res.counts().values()) + " |",
    ]
    if res.fixed_agree is not None:
        out += [
            "",
            f"Fixed-point (C-equivalent) preprocessing gives the same class for "
            f"{res.fixed_agree} of {res.n_classified} classified beats.",
        ]
    conf = res.confusion()
    if conf is not None:
        rows, cols, m = conf
        # confusion() is None without annotations; with them, symbols and matches are set
        assert res.ann_samples is not None and res.ann_symbols is not None
        assert res.match is not None
        matched = int((res.match >= 0).sum())
        n_ann = len(res.ann_samples)
        out += [
            "",
            f"**Against the annotations** ({n_ann} annotated beats; {matched} matched "
            f"within 150 ms, {n_ann - matched} missed, {res.n_beats - matched} detections "
            f"without an annotated beat). Rows: annotated; columns: predicted.",
            "",
            "| | " + " | ".join(cols) + " |",
            "|---|" + "---:|" * len(cols),
        ]
        for r, row in zip(rows, m):
            if row.sum():
                if r == "other" and res.label_map:
                    syms = sorted({s for s in res.ann_symbols.tolist() if s not in res.label_map})
                    r = f"other ({' '.join(syms)})"
                out.append(f"| {r} | " + " | ".join(str(v) for v in row) + " |")
        if res.label_map:
            correct = sum(int(m[i, i]) for i in range(len(res.labels)))
            scored = int(m[: len(res.labels), : len(res.labels)].sum())
            if scored:
                out.append(
                    f"\nAgreement on matched, classified beats of the model's classes: "
                    f"{correct} of {scored} ({100 * correct / scored:.1f} %)."
                )
    out += [f"\n_{note}_" for note in res.notes]
    return "\n".join(out)
