"""What AED standards report for a shockable-rhythm detector, from per-window decisions:
sensitivity per shockable class, specificity per non-shockable class with the AHA goals
beside them (Kerber et al., Circulation 95:1677-1682, 1997), the issue's targets, and the
alarm (N consecutive shockable decisions): latency from episode onset, false alarms.

Windows are scored when one rhythm covers all of them (tinyecg.data.rhythm.WINDOW_CLASSES);
intermediate rhythms (fine VF, VT below the rate threshold) are reported as the share of
windows decided shockable, outside the goals, as Kerber does.
"""

from __future__ import annotations

import numpy as np

from tinyecg.data.rhythm import NOISE, VF, VT, WC, RhythmRecord, runs_of
from tinyecg.spec import (
    ALARM_CONSECUTIVE,
    COARSE_VF_UV,
    RHYTHM_FS,
    RHYTHM_WINDOW_S,
    VT_SHOCKABLE_BPM,
)

# row -> (metric, AHA goal (Kerber 1997, "greater than"), issue 15 target (">="), label)
ROWS = {
    "VF_coarse": ("Se", 90.0, None, f"coarse VF/VFL (>= {COARSE_VF_UV} uV)"),
    "VT_rapid": ("Se", 75.0, None, f"rapid VT (>= {VT_SHOCKABLE_BPM} bpm)"),
    "shockable": ("Se", None, 95.0, "all shockable (coarse VF + rapid VT)"),
    "NSR": ("Sp", 99.0, 99.5, "normal sinus rhythm"),
    "OTHER": ("Sp", 95.0, 97.0, "other organised rhythms"),
    "ASYS": ("Sp", 95.0, None, "asystole (as annotated)"),
    "UNSPEC": ("Sp", None, None, "non-VF without rhythm label (cudb)"),
    "VF_fine": ("shock %", None, None, f"fine VF < {COARSE_VF_UV} uV (intermediate)"),
    "VT_slow": ("shock %", None, None, f"VT < {VT_SHOCKABLE_BPM} bpm (intermediate)"),
}
ALARM_WITHIN_S = 10.0  # issue 15: an alarm within 10 s of onset in >= 95 % of episodes
ALARM_TARGET_PCT = 95.0
EPISODE_MIN_S = RHYTHM_WINDOW_S  # episodes shorter than a window are not scored
EPISODE_MERGE_S = 3  # shockable runs closer than 3 s are one episode
# an alarm belongs to an episode up to a window (plus 2 s) after its end: the window still
# holds the episode then
ALARM_TAIL_S = RHYTHM_WINDOW_S + 2


def class_table(score_class: np.ndarray, shock: np.ndarray) -> dict:
    """Per row: metric, value (%), n windows, goal, target and whether each is met."""
    sc = np.asarray(score_class)
    shock = np.asarray(shock, bool)
    out = {}
    for row, (metric, goal, target, label) in ROWS.items():
        m = np.isin(sc, [WC["VF_coarse"], WC["VT_rapid"]]) if row == "shockable" else sc == WC[row]
        n = int(m.sum())
        pos = int(shock[m].sum())
        value = None if n == 0 else 100.0 * (pos if metric != "Sp" else n - pos) / n
        out[row] = {
            "label": label,
            "metric": metric,
            "value": value,
            "n": n,
            "aha_goal": goal,
            "issue_target": target,
            "aha_met": None if goal is None or value is None else value > goal,
            "issue_met": None if target is None or value is None else value >= target,
        }
    return out


def alarm_active(shock: np.ndarray, n: int = ALARM_CONSECUTIVE) -> np.ndarray:
    """Per decision: the last n decisions were all shockable."""
    run = np.zeros(len(shock), np.int64)
    count = 0
    for i, s in enumerate(np.asarray(shock, bool).tolist()):
        count = count + 1 if s else 0
        run[i] = count
    return run >= n


def _seconds(runs, merge_s=0.0):
    out = []
    for a, e in runs:
        s, t = a / RHYTHM_FS, e / RHYTHM_FS
        if out and s - out[-1][1] <= merge_s:
            out[-1] = (out[-1][0], t)
        else:
            out.append((s, t))
    return out


def record_alarms(
    rec: RhythmRecord,
    shock: np.ndarray,
    n: int = ALARM_CONSECUTIVE,
    active: np.ndarray | None = None,
) -> dict:
    """One record's episodes (onset, duration, VF or VT, latency or None) and alarms that
    no shockable rhythm explains: in slow VT, in noise, or false. active: whether the alarm
    is on at each decision when known otherwise (a device's alarm lines), else
    alarm_active(shock, n)."""
    t = rec.seconds
    active = alarm_active(shock, n) if active is None else np.asarray(active, bool)
    rising = t[active & ~np.concatenate([[False], active[:-1]])]
    truth = rec.shockable_truth
    runs = _seconds(runs_of(truth))
    episodes = []
    for s, e in _seconds(runs_of(truth), EPISODE_MERGE_S):
        if e - s < EPISODE_MIN_S:
            continue
        a, b = int(s * RHYTHM_FS), int(e * RHYTHM_FS)
        kind = "VF" if np.mean(rec.codes[a:b] == VF) >= 0.5 else "VT"
        hit = t[active & (t >= s) & (t <= e + ALARM_TAIL_S)]
        before = active[t < s]
        # an alarm already sounding at onset (set off by what preceded it) has latency ~0:
        # counted apart so the latency is not mistaken for detection speed
        episodes.append(
            {
                "onset_s": round(s, 2),
                "duration_s": round(e - s, 2),
                "kind": kind,
                "latency_s": round(float(hit[0] - s), 2) if len(hit) else None,
                "alarm_on_at_onset": bool(before[-1]) if len(before) else False,
            }
        )
    slow = _seconds(runs_of((rec.codes == VT) & ~truth))
    noise = _seconds(runs_of(rec.codes == NOISE))
    false, in_slow, in_noise = [], 0, 0
    for a in rising.tolist():
        if any(s - 1 <= a <= e + ALARM_TAIL_S for s, e in runs):
            continue
        if any(s <= a <= e + ALARM_TAIL_S for s, e in slow):
            in_slow += 1
        elif any(s <= a <= e + ALARM_TAIL_S for s, e in noise):
            in_noise += 1
        else:
            false.append(round(a, 1))
    return {
        "episodes": episodes,
        "false_alarms_s": false,
        "alarms_in_slow_vt": in_slow,
        "alarms_in_noise": in_noise,
        "hours": len(t) * 1.0 / 3600,
    }


def alarm_summary(per_record: dict[str, dict]) -> dict:
    """Pooled alarm figures over records (name -> record_alarms output)."""
    eps = [e for r in per_record.values() for e in r["episodes"]]

    def within(kind):
        sel = [e for e in eps if kind is None or e["kind"] == kind]
        ok = [e for e in sel if e["latency_s"] is not None and e["latency_s"] <= ALARM_WITHIN_S]
        return None if not sel else 100.0 * len(ok) / len(sel)

    lat = [e["latency_s"] for e in eps if e["latency_s"] is not None]
    fresh = [
        e["latency_s"] for e in eps if e["latency_s"] is not None and not e["alarm_on_at_onset"]
    ]
    return {
        "n_consecutive": ALARM_CONSECUTIVE,
        "episodes": {
            "VF": sum(e["kind"] == "VF" for e in eps),
            "VT": sum(e["kind"] == "VT" for e in eps),
        },
        "alarmed_within_10s_pct": {"VF": within("VF"), "VT": within("VT"), "all": within(None)},
        "target_within_10s_pct": ALARM_TARGET_PCT,
        "median_latency_s": float(np.median(lat)) if lat else None,
        "alarm_on_at_onset": sum(e["alarm_on_at_onset"] for e in eps),
        "median_latency_new_alarm_s": float(np.median(fresh)) if fresh else None,
        "missed": sum(e["latency_s"] is None for e in eps),
        "false_alarms": sum(len(r["false_alarms_s"]) for r in per_record.values()),
        "false_alarms_per_record": {
            k: len(r["false_alarms_s"]) for k, r in per_record.items() if r["false_alarms_s"]
        },
        "alarms_in_slow_vt": sum(r["alarms_in_slow_vt"] for r in per_record.values()),
        "alarms_in_noise": sum(r["alarms_in_noise"] for r in per_record.values()),
        "hours": round(sum(r["hours"] for r in per_record.values()), 2),
    }


def score(
    records: list[RhythmRecord], decisions: dict[str, np.ndarray], n: int = ALARM_CONSECUTIVE
) -> dict:
    """The table and the alarm figures of one detector: `decisions` maps "database/name" to
    its shockable decision per window of that record."""
    keys = [f"{r.database}/{r.name}" for r in records]
    sc = np.concatenate([r.score_class for r in records]) if records else np.zeros(0)
    shock = np.concatenate([decisions[k] for k in keys]) if records else np.zeros(0, bool)
    per_record = {k: record_alarms(r, decisions[k], n) for k, r in zip(keys, records)}
    return {
        "classes": class_table(sc, shock),
        "alarm": alarm_summary(per_record),
        "alarm_per_record": per_record,
    }


def markdown_table(results: dict[str, dict]) -> str:
    """One column per detector (name -> score output), AHA goals and issue targets beside."""
    names = list(results)
    head = "| rhythm | metric | n | " + " | ".join(names) + " | AHA goal | issue target |"
    lines = [head, "|---|---|---:|" + "---:|" * len(names) + "---|---|"]
    for row, (metric, goal, target, label) in ROWS.items():
        cells = [results[name]["classes"][row] for name in names]
        same_n = len({c["n"] for c in cells}) == 1
        vals = []
        for c in cells:
            v = "-" if c["value"] is None else f"{c['value']:.1f}"
            miss = (c["aha_met"] is False) or (c["issue_met"] is False)
            v = f"**{v}**" if miss else v
            vals.append(v if same_n else f"{v} ({c['n']})")
        lines.append(
            f"| {label} | {metric} | {cells[0]['n'] if same_n else '(per cell)'} | "
            + " | ".join(vals)
            + f" | {f'> {goal:g}' if goal else ''} | "
            f"{f'>= {target:g}' if target else ''} |"
        )
    lines.append("")
    lines.append("Bold: below the AHA goal or the issue's target.")
    lines.append("")
    lines.append(f"| alarm (N = {ALARM_CONSECUTIVE} consecutive) | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))

    def fmt(v, spec=".1f"):
        return "-" if v is None else format(v, spec)

    for label, get in (
        ("episodes VF / VT", lambda a: f"{a['episodes']['VF']} / {a['episodes']['VT']}"),
        ("alarmed <= 10 s, VF (%)", lambda a: fmt(a["alarmed_within_10s_pct"]["VF"])),
        ("alarmed <= 10 s, VT (%)", lambda a: fmt(a["alarmed_within_10s_pct"]["VT"])),
        (
            "alarmed <= 10 s, all (%; target >= 95)",
            lambda a: fmt(a["alarmed_within_10s_pct"]["all"]),
        ),
        ("median latency from onset (s)", lambda a: fmt(a["median_latency_s"])),
        ("episodes with the alarm already on at onset", lambda a: str(a["alarm_on_at_onset"])),
        ("median latency, the others (s)", lambda a: fmt(a["median_latency_new_alarm_s"])),
        ("episodes never alarmed", lambda a: str(a["missed"])),
        (
            "false alarms (records with any)",
            lambda a: f"{a['false_alarms']} ({len(a['false_alarms_per_record'])})",
        ),
        (
            "alarms in slow VT / in noise",
            lambda a: f"{a['alarms_in_slow_vt']} / {a['alarms_in_noise']}",
        ),
    ):
        lines.append(f"| {label} | " + " | ".join(get(results[n]["alarm"]) for n in names) + " |")
    return "\n".join(lines) + "\n"
