"""The firmware core's own account of a signal: the R-peaks it reports and when, and the
beats and RR context it completes.

Two C programs of the same core tell it: the stock host harness (firmware/host/main.c,
``--peaks --rr``: peaks and the RR context of every completed beat) and the event driver
(firmware/host/events_main.c: every output line prefixed with the sample count at that
moment, since the report time of an R-peak decides the core's 2 s timeout rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg.device import detect
from tinyecg.device.cbuild import compile_c
from tinyecg.errors import TinyECGError

EVENT_DRIVER = "tinyecg_events"  # the executable's name
EVENT_DRIVER_SOURCE = "events_main.c"  # in firmware/host


def build_event_driver(build_dir, cc: str | None = None) -> Path:
    """Compile the timestamping driver of the firmware core (firmware/host/events_main.c)
    with the project's strict flags into build_dir; returns the executable."""
    src = detect.firmware_dir() / "host" / EVENT_DRIVER_SOURCE
    return compile_c(
        [*detect.core_sources(), src],
        Path(build_dir) / EVENT_DRIVER,
        includes=detect.core_includes(),
        cc=cc,
        what="event driver",
    )


@dataclass
class DeviceEvents:
    """What the core's detector reported for one signal, and when."""

    peaks: np.ndarray  # int64 R-peak sample indices (accepted by the beat assembly)
    reported_at: np.ndarray  # int64 sample count when each peak was reported
    breaks: np.ndarray  # int64 sample counts at "# signal ok" (a new RR sequence)
    n_samples: int
    status: list = field(default_factory=list)  # (n, status line) of every '#' line


def device_events(
    samples, exe, adc_min: int = -32768, adc_max: int = 32767, flat_tolerance: int = 2
) -> DeviceEvents:
    """Run the event driver on integer samples: peaks, their report times, RR breaks."""
    x = np.asarray(samples)
    out = detect.run_harness(
        exe, detect.samples_text(x), str(int(adc_min)), str(int(adc_max)), str(int(flat_tolerance))
    )
    peaks, times, breaks, status = [], [], [], []
    for line in out.splitlines():
        n_text, _, rest = line.partition(" ")
        if not n_text.isdigit():
            raise TinyECGError(f"event driver: unexpected line {line[:80]!r}")
        n = int(n_text)
        if rest.startswith("#"):
            status.append((n, rest))
            if rest.strip() == "# signal ok":
                breaks.append(n)
        else:
            peaks.append(int(rest))
            times.append(n)
    return DeviceEvents(
        np.asarray(peaks, np.int64),
        np.asarray(times, np.int64),
        np.asarray(breaks, np.int64),
        int(len(x)),
        status,
    )


def parse_rr_lines(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The harness's ``R <r> <pre> <post> <local_sum> <local_count>`` lines: (r, rr (n, 4))."""
    r, rr = [], []
    for line in text.splitlines():
        if line.startswith("R "):
            v = [int(t) for t in line.split()[1:]]
            if len(v) != 5:
                raise TinyECGError(f"harness: malformed RR line {line[:80]!r}")
            r.append(v[0])
            rr.append(v[1:])
    return np.asarray(r, np.int64), np.asarray(rr, np.int64).reshape(-1, 4)


def harness_beats(samples, exe, adc_min: int = -32768, adc_max: int = 32767):
    """The stock host harness (firmware/host) with ``--peaks --rr``: the detector's peaks and,
    for every beat the core completes, its r and RR context (pre, post, local sum, count)."""
    out = detect.run_harness(
        exe,
        detect.samples_text(samples),
        "--peaks",
        "--rr",
        "--adc-min",
        str(int(adc_min)),
        "--adc-max",
        str(int(adc_max)),
    )
    r, rr = parse_rr_lines(out)
    return (
        detect.parse_peaks("\n".join(ln for ln in out.splitlines() if not ln.startswith("R "))),
        r,
        rr,
    )
