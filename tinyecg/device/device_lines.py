"""The protocol lines a tinyecg device prints (the firmware application on a board or under
QEMU, the host harness), sorted by kind: parse_lines(text) -> DeviceLines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_KV = re.compile(r"([A-Za-z_]+)=(\S+)")


def _kv(text: str) -> dict:
    out = {}
    for key, value in _KV.findall(text):
        out[key] = int(value) if re.fullmatch(r"-?\d+", value) else value
    return out


@dataclass
class DeviceLines:
    """The protocol lines a device printed, sorted by kind."""

    firmware: dict | None = None  # "# tinyecg firmware ..." fields
    selftest: list[dict] = field(default_factory=list)  # one per golden vector
    selftest_diffs: dict = field(default_factory=dict)  # index -> (got, want) when they differ
    selftest_summary: dict | None = None  # {"passed": bool, input=, ...}
    info: str | None = None  # the core's "# tinyecg <version> ..."
    peaks: list[int] = field(default_factory=list)
    rr: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    beats: list[tuple[int, str, int, int]] = field(default_factory=list)  # r, label, score, us
    unreadable: list[int] = field(default_factory=list)  # r of the beats sent as "U" lines
    perf: list[dict] = field(default_factory=list)  # per beat: pre, rhythm, inf
    qemu: dict | None = None  # "# qemu ..." key=values
    stats: dict | None = None
    status: list[str] = field(default_factory=list)  # every other "#" line
    other: list[str] = field(default_factory=list)


def parse_lines(text: str) -> DeviceLines:
    """Sort a device's output lines (firmware/targets/mps2-an386/board/main.c and the
    application's self-test, tinyecg_selftest.h). Lines of kinds it does not know (a newer
    core's) land in .other, never lost."""
    out = DeviceLines()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        words = line.split()
        if line.startswith("# selftest ") and len(words) > 2:
            if words[2].isdigit() and len(words) > 3 and words[3] == "got":
                got, _, want = line.split(" got ", 1)[1].partition(" want ")
                out.selftest_diffs[int(words[2])] = (
                    [int(v) for v in got.split()],
                    [int(v) for v in want.split()],
                )
            elif words[2].isdigit():
                out.selftest.append(dict(_kv(line), index=int(words[2])))
            else:
                out.selftest_summary = dict(_kv(line), passed=words[2] == "pass")
        elif line.startswith("# tinyecg firmware "):
            out.firmware = _kv(line)
        elif line.startswith("# perf "):
            out.perf.append(_kv(line))
        elif line.startswith("# qemu "):
            out.qemu = _kv(line)
        elif line.startswith("# stats"):
            out.stats = _kv(line)
        elif line.startswith("# tinyecg"):
            out.info = line
        elif line.startswith("#"):
            out.status.append(line)
        elif line.isdigit():
            out.peaks.append(int(line))
        elif line.startswith("R ") and len(line.split()) == 6:
            pre, post, local_sum, local_count = (int(v) for v in words[2:6])
            out.rr.append((int(words[1]), pre, post, local_sum, local_count))
        elif words[0] in ("B", "U") and len(words) == 5:
            # U: a beat the core's quality index finds unreadable, classified all the same
            _, r, label, score, us = words
            out.beats.append((int(r), label, int(score), int(us)))
            if words[0] == "U":
                out.unreadable.append(int(r))
        else:
            out.other.append(line)
    return out
