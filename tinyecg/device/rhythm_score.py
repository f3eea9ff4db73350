"""The shockable-rhythm lines of a device (docs/rhythm.md, protocol of issue 15) and their
scores against a record's rhythm annotations, for `tinyecg stream`.

Lines (one per decision, once a second after the front end's warm-up; alarm lines when the
alarm sets or clears):

    # rhythm <shockable|non-shockable|unreadable> <end> <score_q>
    # alarm shockable <end>
    # alarm cleared <end>

<end> counts 360 Hz input samples from the first one streamed (as the beat lines' r): the
push of sample <end> completed the decision, whose window is the 8 s of the 90 Hz stream
before it. Stream sample j is made when input sample 4j + 3 arrives
(tinyecg.dsp.rhythm_frontend.decimate_int), so the window ends (exclusive, in stream
samples) at (end + 1) / 4: tinyecg.data.rhythm's window end, counted from the replay's
first sample. A replay that starts `start` samples into the record (a multiple of 4) has
its windows at start / 4 + (end + 1) / 4 of the record's stream.

Scoring (score_rhythm): the record's rhythm labels come from its whole annotation file
(tinyecg.data.rhythm.load_rhythm_record: the rhythm in force at the replay's start is
known), each device decision is scored on the window it names (one rhythm over the whole
window, tinyecg.aed_metrics.class_table), and the alarm as the device's alarm lines say it
was on (tinyecg.aed_metrics.record_alarms). Unreadable decisions count as not shockable and
are counted apart; whether the alarm lines agree with aed_metrics.alarm_active on the
decisions is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyecg import aed_metrics
from tinyecg.spec import FS, RHYTHM_DECIMATION, RHYTHM_FS, RHYTHM_WINDOW

DECISIONS = ("shockable", "non-shockable", "unreadable")
ALARM_STATES = ("shockable", "cleared")


def is_rhythm_line(line: str) -> bool:
    """A `# rhythm ...` or `# alarm ...` status line (well formed or not)."""
    return line.split()[:2] in (["#", "rhythm"], ["#", "alarm"])


@dataclass
class RhythmLines:
    """A device's rhythm and alarm lines, in arrival order."""

    decisions: list[tuple[int, str, int]] = field(default_factory=list)  # end, decision, score
    alarms: list[tuple[str, int]] = field(default_factory=list)  # shockable|cleared, end
    malformed: list[str] = field(default_factory=list)

    def add(self, line: str) -> bool:
        """Take one line; False when it is neither a rhythm nor an alarm line."""
        if not is_rhythm_line(line):
            return False
        words = line.split()
        try:
            if words[1] == "rhythm" and len(words) == 5 and words[2] in DECISIONS:
                self.decisions.append((int(words[3]), words[2], int(words[4])))
                return True
            if words[1] == "alarm" and len(words) == 4 and words[2] in ALARM_STATES:
                self.alarms.append((words[2], int(words[3])))
                return True
        except ValueError:
            pass
        self.malformed.append(line)
        return True

    def __bool__(self) -> bool:
        return bool(self.decisions or self.alarms or self.malformed)


def parse_rhythm_lines(lines) -> RhythmLines:
    """The rhythm and alarm lines among a device's lines (others are ignored)."""
    out = RhythmLines()
    for line in lines:
        out.add(line.strip())
    return out


def window_end(end: int) -> int:
    """The window end (exclusive, 90 Hz stream samples from the first sample streamed) of
    a decision the device reports at input sample `end`."""
    return (int(end) + 1) // RHYTHM_DECIMATION


def alarm_from_lines(ends: np.ndarray, alarms: list[tuple[str, int]]) -> np.ndarray:
    """Per decision (input-sample ends, ascending): the alarm is on, as the alarm lines
    say (a line at end e takes effect at the decision of e)."""
    on = np.zeros(len(ends), bool)
    state = False
    events = sorted(alarms, key=lambda a: a[1])
    k = 0
    for i, e in enumerate(np.asarray(ends).tolist()):
        while k < len(events) and events[k][1] <= e:
            state = events[k][0] == "shockable"
            k += 1
        on[i] = state
    return on


def counts(lines: RhythmLines) -> dict:
    """How many decisions of each kind and alarm lines the device sent."""
    kinds = [d for _, d, _ in lines.decisions]
    return {
        "decisions": len(kinds),
        "shockable": kinds.count("shockable"),
        "non_shockable": kinds.count("non-shockable"),
        "unreadable": kinds.count("unreadable"),
        "malformed_lines": len(lines.malformed),
        "alarm_lines": {s: sum(a == s for a, _ in lines.alarms) for s in ALARM_STATES},
    }


def has_rhythm_annotations(ann) -> bool:
    """The annotations mark rhythms: a `+` with an aux note, or a `[` / `]` VF episode."""
    for s, a in zip(ann.symbols, ann.aux):
        if (s == "+" and str(a).strip("\x00").strip()) or s in ("[", "]"):
            return True
    return False


def score_rhythm(lines: RhythmLines, base, lead, start: int, n_samples: int) -> dict:
    """The device's rhythm lines for a replay of n_samples input samples from sample
    `start` (a multiple of RHYTHM_DECIMATION) of record `base`, scored against the record's
    rhythm annotations: counts, then "scored" False with "why" when there is nothing to
    score against, else "classes" (aed_metrics.class_table of the scored windows),
    "alarm" (episodes, false alarms, as aed_metrics.record_alarms, times in the record's
    seconds) and "alarm_lines_agree" (the alarm lines against alarm_active on the
    decisions)."""
    from tinyecg.data.records import read_annotations
    from tinyecg.data.rhythm import RhythmRecord, classify_windows, load_rhythm_record

    out: dict = {
        **counts(lines),
        "scored": False,
        "why": None,
        "start_s": start / FS,
        "device_decisions": [list(d) for d in lines.decisions],  # [end, decision, score_q]
        "device_alarms": [list(a) for a in lines.alarms],  # [shockable|cleared, end]
    }
    ann = read_annotations(base, "atr")
    if ann is None or not has_rhythm_annotations(ann):
        out["why"] = "the record has no rhythm annotations"
        return out
    full = load_rhythm_record(base, lead=lead)
    first = start // RHYTHM_DECIMATION
    n_stream = min(n_samples // RHYTHM_DECIMATION, len(full.stream) - first)
    by_end: dict[int, tuple[str, int]] = {}
    out_of_range = 0
    for end, decision, _ in lines.decisions:
        e = window_end(end)
        if RHYTHM_WINDOW <= e <= n_stream:
            by_end[end] = (decision, e)
        else:
            out_of_range += 1
    out["decisions_outside_the_replay"] = out_of_range
    if not by_end:
        out["why"] = "no decision falls in the replayed samples"
        return out
    dev_ends = np.asarray(sorted(by_end), np.int64)
    ends = np.asarray([by_end[e][1] for e in dev_ends.tolist()], np.int64)
    shock = np.asarray([by_end[e][0] == "shockable" for e in dev_ends.tolist()], bool)
    part = slice(first, first + n_stream)
    codes, vt_rate, stream = full.codes[part], full.vt_rate[part], full.stream[part]
    score_class, amp = classify_windows(codes, vt_rate, stream, full.gain, ends, 1.0)
    rec = RhythmRecord(
        full.name,
        full.database,
        full.gain,
        stream,
        codes,
        vt_rate,
        ends,
        score_class,
        score_class,
        amp,
    )
    derived = aed_metrics.alarm_active(shock)
    # the alarm the device sounded: its own lines (none sent: never on), checked below
    # against the rule it should follow
    active = alarm_from_lines(dev_ends, lines.alarms)
    per = aed_metrics.record_alarms(rec, shock, active=active)
    offset = first / RHYTHM_FS
    for ep in per["episodes"]:
        # an episode already under way when the replay began: its latency counts from the
        # replay's first sample, and the device needs warm-up plus a window before any
        ep["under_way_at_start"] = ep["onset_s"] <= 0.0
        ep["onset_s"] = round(ep["onset_s"] + offset, 2)
    per["false_alarms_s"] = [round(t + offset, 1) for t in per["false_alarms_s"]]
    summary = aed_metrics.alarm_summary({f"{rec.database}/{rec.name}": per})
    out.update(
        {
            "scored": True,
            "classes": aed_metrics.class_table(score_class, shock),
            "alarm": {**per, "summary": summary},
            "alarm_lines_agree": bool(np.array_equal(active, derived)),
            "alarm_disagreements": int((active != derived).sum()),
        }
    )
    return out


def summary_lines(r: dict) -> list[str]:
    """What `tinyecg stream` prints after the beat scores: the decisions, the per-class
    table of the scored windows, and the alarm."""
    a = r["alarm_lines"]
    lines = [
        f"rhythm: {r['decisions']} decisions ({r['shockable']} shockable, "
        f"{r['non_shockable']} non-shockable, {r['unreadable']} unreadable: scored as not "
        f"shockable); alarm lines: {a['shockable']} set, {a['cleared']} cleared"
        + (f"; {r['malformed_lines']} malformed rhythm lines" if r["malformed_lines"] else "")
    ]
    if not r["scored"]:
        lines.append(f"rhythm decisions not scored: {r['why']}")
        return lines
    lines.append("| rhythm (windows one rhythm covers) | metric | n | device | AHA goal |")
    lines.append("|---|---|---:|---:|---|")
    for c in r["classes"].values():
        if not c["n"]:
            continue
        goal = f"> {c['aha_goal']:g}" if c["aha_goal"] else ""
        lines.append(f"| {c['label']} | {c['metric']} | {c['n']} | {c['value']:.1f} | {goal} |")
    al = r["alarm"]
    for ep in al["episodes"]:
        lat = ep["latency_s"]
        when = (
            "under way when the replay began; "
            if ep["under_way_at_start"]
            else "the alarm was already on at onset; "
            if ep["alarm_on_at_onset"]
            else ""
        )
        lines.append(
            f"{ep['kind']} episode at {ep['onset_s']:.1f} s ({ep['duration_s']:.0f} s replayed): "
            + (
                f"alarm after {lat:.1f} s ({when}latency from onset)"
                if lat is not None
                else f"{when}never alarmed"
            )
        )
    if not al["episodes"]:
        lines.append("no shockable episode in the replayed samples")
    lines.append(
        f"false alarms: {len(al['false_alarms_s'])}"
        + (
            f" (at {', '.join(f'{t:g}' for t in al['false_alarms_s'])} s)"
            if al["false_alarms_s"]
            else ""
        )
        + f"; alarms in slow VT {al['alarms_in_slow_vt']}, in noise {al['alarms_in_noise']}"
    )
    if not r["alarm_lines_agree"]:
        lines.append(
            f"warning: the alarm lines disagree with the decisions at "
            f"{r['alarm_disagreements']} of them (an alarm is due after "
            f"{aed_metrics.ALARM_CONSECUTIVE} consecutive shockable decisions)"
        )
    return lines
