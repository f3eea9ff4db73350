"""The Python reference of the lines a tinyecg device prints for the shockable-rhythm task
(firmware/lib/tinyecg_core/include/tinyecg_rhythm_task.h): what the core must print, byte
for byte, for a given input and rhythm model.

    ref = RhythmReference(tflm_classifier("model.tflite"))   # or the shipped model's
    ref.push(adc_samples); ref.stall(); ref.push(more); ref.reset(); ...
    ref.lines()     # ["# rhythm non-shockable 3599 -87", ..., "# alarm shockable 48599", ...]
    rhythm_lines(adc_samples, classify)    # the same for one uninterrupted input

It is built from the integer front end (tinyecg.dsp.rhythm_frontend: stream_int,
normalise_int, amplitude_gate), the model in host TFLM and the core's own rules, restated
here: the lead-off state machine of tinyecg_app.c (TINYECG_RAIL_RUN railed samples start a
lead-off, TINYECG_RECOVER good ones end it), out-of-range samples replaced by the last
unrailed one, the front end restarted when a lead-off ends, at "# input resumed" and on
#reset, a decision unreadable when any of the 2,880 input samples of its window was railed,
and the alarm of tinyecg.aed_metrics.alarm_active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg.dsp import rhythm_frontend as fe
from tinyecg.spec import (
    ALARM_CONSECUTIVE,
    FS,
    MITDB_ADC_BASELINE,
    MITDB_ADC_GAIN,
    MITDB_ADC_RANGE,
    RHYTHM_DECIMATION,
    RHYTHM_WARMUP_S,
    RHYTHM_WINDOW,
    RHYTHM_WINDOW_S,
)

RAIL_RUN = 90  # tinyecg_app.h TINYECG_RAIL_RUN: 0.25 s of railed samples = lead-off
RECOVER = 360  # tinyecg_app.h TINYECG_RECOVER: 1 s of unrailed samples ends it
SPAN = RHYTHM_WINDOW * RHYTHM_DECIMATION  # input samples a window covers (8 s at 360 Hz)
FIRST_DECISION = (RHYTHM_WINDOW_S + RHYTHM_WARMUP_S) * FS  # inputs before the first one
SHOCKABLE_OUTPUT = 1  # the rhythm model's output order: non-shockable, shockable

Classify = Callable[[np.ndarray], np.ndarray]  # (n, 720) int8 -> (n, 2) int8 scores


def tflm_classifier(model) -> Classify:
    """The int8 rhythm model (a .tflite path or its bytes) in host TFLM, as a Classify."""
    from tinyecg.runtime.tflm import TFLMModel

    data = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
    return TFLMModel(data).invoke_batch


@dataclass
class _Segment:
    """Input since the front end last started: its first index, its x values, which of them
    were railed, and how many of them the decisions made so far covered."""

    start: int
    x: list[int] = field(default_factory=list)
    railed: list[bool] = field(default_factory=list)
    decided: int = 0


class RhythmReference:
    """Feed it what the device is fed; lines() is what the device prints for the rhythm
    task (only the `# rhythm` and `# alarm` lines)."""

    def __init__(
        self,
        classify: Classify,
        *,
        baseline: int = MITDB_ADC_BASELINE,
        gain: int = MITDB_ADC_GAIN,
        adc_range: tuple[int, int] = MITDB_ADC_RANGE,
        shockable_output: int = SHOCKABLE_OUTPUT,
    ):
        self.classify = classify
        self.baseline, self.gain = int(baseline), int(round(gain))
        self.adc_min, self.adc_max = (int(v) for v in adc_range)
        self.shockable_output = shockable_output
        self._lines: list[str] = []
        self._clear()

    def _clear(self) -> None:
        """tinyecg_app.c clear_state + tinyecg_rhythm_task_clear."""
        self.index = 0  # samples since start / #reset
        self.lead_off = False
        self.rail_run = 0
        self.good_run = 0
        self.held = int((self.adc_min + self.adc_max) / 2)  # C: truncating division
        self.stalled = False
        self.run = 0
        self.alarm = False
        self.counts = dict(decisions=0, shockable=0, unreadable=0, errors=0, alarms=0)
        self.segment = _Segment(0)

    # ------------------------------------------------------------------ input
    def push(self, samples) -> None:
        """ADC samples, in order (as protocol sample tokens)."""
        for s in np.asarray(samples, np.int64).reshape(-1).tolist():
            self._sample(int(s))

    def _sample(self, s: int) -> None:
        if s < self.adc_min or s > self.adc_max:
            s = self.held  # out of range: the time slot keeps the last good sample
        if self.stalled:
            self.stalled = False
            self._restart()  # "# input resumed"
        railed = s <= self.adc_min or s >= self.adc_max
        if railed:
            self.rail_run += 1
            self.good_run = 0
            if not self.lead_off and self.rail_run >= RAIL_RUN:
                self.lead_off = True
        else:
            self.rail_run = 0
            self.held = s
            if self.lead_off:
                self.good_run += 1
                if self.good_run >= RECOVER:
                    self.lead_off = False
                    self.good_run = 0
                    self._restart()  # "# signal ok": this sample starts the new stream
        self.segment.railed.append(railed)
        self.segment.x.append(max(-32768, min(32767, s - self.baseline)))
        self.index += 1

    def stall(self) -> None:
        """The board's tinyecg_app_input_stalled (no input for a while)."""
        if not self.stalled and self.index > 0:
            self.stalled = True

    def reset(self) -> None:
        """The #reset command."""
        self._finish_segment()
        self._clear()

    def lines(self) -> list[str]:
        """The rhythm lines so far (decisions whose sample has been pushed)."""
        self._finish_segment()
        return list(self._lines)

    # ------------------------------------------------------------------ decisions
    def _restart(self) -> None:
        self._finish_segment()
        self.segment = _Segment(self.index)
        self.run = 0

    def _finish_segment(self) -> None:
        """Decide every due decision of the current segment not decided yet."""
        seg = self.segment
        ks = [k for k in range(FIRST_DECISION, len(seg.x) + 1, FS) if k > seg.decided]
        if not ks:
            return
        seg.decided = ks[-1]
        stream = fe.stream_int(np.asarray(seg.x, np.int64))
        ends = np.asarray(ks) // RHYTHM_DECIMATION
        windows = fe.windows_at(stream, ends, RHYTHM_WINDOW)
        gate = fe.amplitude_gate(windows, self.gain)
        q = fe.normalise_int(windows, self.gain)
        scores = np.asarray(self.classify(q)).reshape(len(ks), -1)
        # the first decision comes FIRST_DECISION > SPAN samples after a restart: a window
        # never reaches into the previous segment
        for k, g, row in zip(ks, gate, scores):
            end = seg.start + k - 1
            self.counts["decisions"] += 1
            if any(seg.railed[max(0, k - SPAN) : k]):  # the window's 2,880 input samples
                shock, word, score = None, "unreadable", 0
                self.counts["unreadable"] += 1
            else:
                shock = int(np.argmax(row)) == self.shockable_output and bool(g)
                word = "shockable" if shock else "non-shockable"
                score = int(row[self.shockable_output])
                self.counts["shockable"] += int(shock)
            self._lines.append(f"# rhythm {word} {end} {score}")
            self.run = min(self.run + 1, ALARM_CONSECUTIVE) if shock else 0
            if self.run >= ALARM_CONSECUTIVE and not self.alarm:
                self.alarm = True
                self.counts["alarms"] += 1
                self._lines.append(f"# alarm shockable {end}")
            elif not shock and self.alarm:
                self.alarm = False
                self._lines.append(f"# alarm cleared {end}")


def rhythm_lines(adc_samples, classify: Classify, **kwargs) -> list[str]:
    """The rhythm lines a device prints for one uninterrupted input (see RhythmReference)."""
    ref = RhythmReference(classify, **kwargs)
    ref.push(adc_samples)
    return ref.lines()


def device_rhythm_lines(text: str) -> list[str]:
    """The `# rhythm` and `# alarm` lines of a device's output, in order."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith("# rhythm ") or line.startswith("# alarm ")
    ]
