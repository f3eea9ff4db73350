"""Replay a WFDB record to a device over its serial protocol and score what it sends back.

The device (a board, QEMU, or the host harness behind a TCP socket) reads one ADC sample per
line and answers `B <r> <label> <score_q> <inference_us>` per beat, `U ...` for a beat in
signal its quality index finds unreadable (see
firmware/lib/tinyecg_core/include/tinyecg_app.h). `stream_record` sends `#reset`, the
samples (paced at real time x speed), `#end` and `#stats`, reads the answers concurrently,
and scores QRS detection (150 ms window) and the classes of the matched beats.

Which label set the class scores use: by default ("auto") the one the device names in the
`labels=` field of its `# tinyecg ...` info line (N,L,R,A,V -> the nlrav map, N,S,V,F,Q ->
the AAMI map, any other list -> its own labels when every annotation of the replayed excerpt
maps to one of them), else the AAMI classes; an explicit set or symbol map always wins.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinyecg import metrics
from tinyecg.data import records
from tinyecg.device.rhythm_score import RhythmLines, score_rhythm
from tinyecg.errors import TinyECGError
from tinyecg.spec import (
    BEAT_SYMBOLS,
    FS,
    MITDB_ADC_BASELINE,
    MITDB_ADC_GAIN,
    MITDB_ADC_RANGE,
    RHYTHM_DECIMATION,
)

CHUNK = 36  # samples per write (0.1 s at 360 Hz)
INFO_PREFIX = "# tinyecg "


def parse_info(line: str) -> dict | None:
    """Fields of the device's info line `# tinyecg <version> key=value ...` (the reply to
    `#info`): {"version": str, <key>: str, ...}, with "labels" split on commas into a list.
    None when the line is not an info line."""
    if not line.startswith(INFO_PREFIX):
        return None
    words = line[len(INFO_PREFIX) :].split()
    info: dict = {"version": words[0] if words and "=" not in words[0] else None}
    for w in words:
        key, eq, val = w.partition("=")
        if eq and key:
            info[key] = val
    if "labels" in info:
        info["labels"] = [lab for lab in info["labels"].split(",") if lab]
    return info


def device_labels(status: list[str]) -> list[str] | None:
    """The label list of the last info line among the device's status lines (None when no
    info line has a non-empty `labels=` field: older firmware, or no classifier)."""
    for line in reversed(status):
        info = parse_info(line)
        if info is not None:
            return info.get("labels") or None
    return None


def _symbol_maps(dev: list[str]) -> list[tuple[str, dict]]:
    """Candidate maps annotation symbol -> one of the device's labels dev: the AAMI classes
    among dev, then annotation symbols used as labels themselves."""
    from tinyecg.data.beats import LABEL_SETS

    aami = {s: c for s, c in LABEL_SETS["aami"]["map"].items() if c in dev}
    own = {s: s for s in dev if s in BEAT_SYMBOLS}
    return [(name, m) for name, m in (("AAMI classes", aami), ("annotation symbols", own)) if m]


def resolve_labels(spec, dev: list[str] | None, symbols: list[str]) -> dict:
    """Which annotation-symbol -> label map scores the classes.

    spec: "auto" or None (from the device's labels dev, see the module doc), a name in
    tinyecg.data.beats.LABEL_SETS, or a dict symbol -> label. symbols are the beat
    annotations of the replayed excerpt. Returns {"set" (a LABEL_SETS name, "device" or
    "custom"), "source" ("device", "option", "default" or "fallback"), "labels" (order of
    the report), "map", "device_labels", "mapped_as" (how symbols map to the device's own
    labels, else None), "warning" (one line or None)}."""
    from tinyecg.data.beats import LABEL_SETS, label_set

    out: dict[str, Any] = {"device_labels": dev, "warning": None, "mapped_as": None}
    if isinstance(spec, dict):
        m = dict(spec)
        out.update(
            {
                "set": "custom",
                "source": "option",
                "map": m,
                "labels": list(dict.fromkeys(m.values())),
            }
        )
    elif spec is not None and spec != "auto":
        if not isinstance(spec, str):
            raise TinyECGError(
                f"labels must be 'auto', a label set name or a symbol map (got {spec!r})"
            )
        ls = label_set(spec)
        out.update(
            {"set": spec, "source": "option", "map": dict(ls["map"]), "labels": list(ls["labels"])}
        )
        if dev is not None and set(dev) != set(ls["labels"]):
            out["warning"] = (
                f"labels {spec} ({','.join(ls['labels'])}) chosen, but the "
                f"device reports {','.join(dev)}"
            )
    elif dev is None:
        ls = LABEL_SETS["aami"]
        out.update(
            {
                "set": "aami",
                "source": "default",
                "map": dict(ls["map"]),
                "labels": list(ls["labels"]),
            }
        )
    else:
        for name, ls in LABEL_SETS.items():
            if set(dev) == set(ls["labels"]) and len(dev) == len(ls["labels"]):
                out.update(
                    {"set": name, "source": "device", "map": dict(ls["map"]), "labels": list(dev)}
                )
                return out
        present = set(symbols)
        candidates = _symbol_maps(dev)
        for how, m in candidates:
            if present <= set(m):
                out.update(
                    {
                        "set": "device",
                        "source": "device",
                        "map": m,
                        "labels": list(dev),
                        "mapped_as": how,
                    }
                )
                return out
        ls = LABEL_SETS["aami"]
        out.update(
            {
                "set": "aami",
                "source": "fallback",
                "map": dict(ls["map"]),
                "labels": list(ls["labels"]),
            }
        )
        if candidates:
            best = max((m for _, m in candidates), key=lambda m: len(present & set(m)))
            why = f"annotation(s) {','.join(sorted(present - set(best)))} map to none of them"
        else:
            why = "they are neither AAMI classes nor annotation symbols"
        out["warning"] = (
            f"device labels {','.join(dev)}: {why}; scored with the aami classes instead"
        )
    return out


def _open_port(port, baudrate: int, timeout: float):
    if not port:
        raise TinyECGError("no port given (a serial device, or socket://host:port)")
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        raise TinyECGError("pyserial is not installed (pip install pyserial)") from None
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TinyECGError(f"{port}: cannot open ({msg})") from None


def replay_samples(sig) -> np.ndarray:
    """A record's samples in the units the device's replay mode expects: MIT-BIH's ADC
    (adc_zero 1024, 200 counts per mV, 0..2047; ecg_config.h TINYECG_REPLAY_*). MIT-BIH
    records pass unchanged; others are rescaled by their own baseline and gain."""
    if sig.baseline == MITDB_ADC_BASELINE and sig.gain == MITDB_ADC_GAIN:
        return sig.adc
    mv = (sig.adc.astype(np.float64) - sig.baseline) / sig.gain
    lo, hi = MITDB_ADC_RANGE
    return np.clip(np.round(mv * MITDB_ADC_GAIN) + MITDB_ADC_BASELINE, lo, hi).astype(np.int64)


class _Reader(threading.Thread):
    """Collects the device's lines until `# stats` arrives after `#end`, or stop()."""

    def __init__(self, ser):
        super().__init__(daemon=True)
        self.ser = ser
        self.beats: list[tuple[int, str, int, int]] = []
        self.unreadable: set[int] = set()  # r of the U lines (beats in unreadable signal)
        self.status: list[str] = []
        self.rhythm = RhythmLines()  # `# rhythm` and `# alarm` lines (rhythm_score)
        self.other: list[str] = []
        self.done = threading.Event()
        self.ended = threading.Event()  # run() returned: done, stopped, or the port failed
        self._halt = threading.Event()
        self.error: Exception | None = None

    def stop(self):
        self._halt.set()

    def run(self):
        buf = b""
        try:
            while not self._halt.is_set():
                chunk = self.ser.read(4096)
                if not chunk:
                    continue
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    self._line(raw.decode(errors="replace").strip())
                if self.done.is_set():
                    return
        except Exception as exc:  # a closed port ends the reader; report it
            self.error = exc
        finally:
            self.ended.set()

    def _line(self, line: str):
        if not line:
            return
        if line.startswith("#"):
            if self.rhythm.add(line):
                return
            self.status.append(line)
            if line.startswith("# stats") and any(s == "# end" for s in self.status):
                self.done.set()
            return
        parts = line.split()
        if parts[0] in ("B", "U") and len(parts) == 5:
            try:
                self.beats.append((int(parts[1]), parts[2], int(parts[3]), int(parts[4])))
                if parts[0] == "U":
                    self.unreadable.add(int(parts[1]))
                return
            except ValueError:
                pass
        self.other.append(line)


def _number(name: str, value, rule: str) -> float:
    """value as a finite float, else TinyECGError naming the parameter and its rule."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v):
        raise TinyECGError(f"{name} must be {rule} (got {value})")
    return v


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def stream_record(
    port: str,
    record_path: str,
    speed: float = 1.0,
    labels: str | dict | None = "auto",
    lead: str | int | None = None,
    seconds: float | None = None,
    baudrate: int = 115200,
    reply_timeout: float = 10.0,
    start: float | None = None,
) -> dict:
    """Replay a WFDB record's raw samples to the device at `port` (pyserial URL: a serial
    device, `socket://host:port`, `loop://`) at real time x speed (0: as fast as the line
    allows), read its beat lines, and score them.

    labels: "auto" (or None) takes the label set from the `labels=` field of the device's
    `#info` reply (see resolve_labels), else the AAMI classes; a name in
    tinyecg.data.beats.LABEL_SETS or a dict annotation symbol -> device label overrides it.
    Beats whose symbol is not in the map are left out of the class confusion, not of QRS
    scoring. start (>= 0 s, rounded down to a multiple of 4 samples so the device's 90 Hz
    rhythm stream lines up with the record's) skips the record's first seconds; seconds
    (> 0) limits the replay to that many. Returns a dict
    with "qrs" (tp, fp, fn, se, ppv), "classes" (tinyecg.metrics.report of the matched
    beats), "beats_unreadable" (U lines) and "readable" (QRS and classes of the other beats
    alone), "labels" (the label set used, where it came from, a warning or None),
    "inference_us" (mean, max), "rhythm" (the `# rhythm` / `# alarm` lines scored by
    tinyecg.device.rhythm_score.score_rhythm; None when the device sent none), the
    device's status lines and counts. A port that cannot be
    opened or is lost mid-replay, or a device that never answers, raises TinyECGError."""
    rule = "a number >= 0"
    speed = _number("speed", speed, rule)
    if speed < 0:
        raise TinyECGError(f"speed must be {rule} (got {speed:g})")
    if seconds is not None:
        seconds = _number("seconds", seconds, "a positive number")
        if seconds <= 0:
            raise TinyECGError(f"seconds must be a positive number (got {seconds:g})")
    first = 0
    if start is not None:
        start = _number("start", start, "a number >= 0")
        if start < 0:
            raise TinyECGError(f"start must be a number >= 0 (got {start:g})")
        first = int(start * FS) // RHYTHM_DECIMATION * RHYTHM_DECIMATION
    if not record_path:
        raise TinyECGError("no record given")
    base = records.record_base(record_path)
    if isinstance(labels, str) and labels != "auto":
        from tinyecg.data.beats import label_set

        label_set(labels)  # an unknown name fails before the replay
    if first:
        header = records.read_header(base)
        length_s = (header.sig_len or 0) / float(header.fs)
        if first >= length_s * FS:
            raise TinyECGError(f"start {start:g} s is past the end of {base.name} ({length_s:g} s)")
    sampto = None if seconds is None else first + max(1, int(round(seconds * FS)))
    sig = records.read_signal(base, lead=lead, sampfrom=first, sampto=sampto)
    ann = records.read_annotations(
        base, "atr", sampfrom=first, sampto=sampto, source_fs=sig.source_fs, required=True
    )
    assert ann is not None
    is_beat = np.isin(ann.symbols, list(BEAT_SYMBOLS))
    ref, symbols = ann.samples[is_beat], [str(s) for s in ann.symbols[is_beat]]
    x, ch = replay_samples(sig), sig.channel

    import serial

    ser = _open_port(port, baudrate, timeout=0.05)
    ser.write_timeout = reply_timeout  # a device that stops reading must not hang us
    reader = _Reader(ser)
    reader.start()
    t0 = time.monotonic()
    sent = 0
    lost: str | None = None
    try:
        try:
            ser.write(b"#reset\n#info\n")
            lines = [str(int(v)) for v in x]
            for i in range(0, len(lines), CHUNK):
                if reader.error is not None:
                    break
                ser.write(("\n".join(lines[i : i + CHUNK]) + "\n").encode())
                sent = min(i + CHUNK, len(lines))
                if speed > 0:
                    due = t0 + (i + CHUNK) / (FS * speed)
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            if reader.error is None:
                ser.write(b"#end\n#stats\n")
                ser.flush()
                reader.ended.wait(reply_timeout)  # '# stats' came, or the port failed
        except serial.SerialTimeoutException:
            lost = f"the device stopped reading (no write progress for {reply_timeout:g} s)"
        except (serial.SerialException, OSError) as exc:
            lost = _first_line(exc)
    finally:
        reader.stop()
        reader.join(2.0)
        try:
            ser.close()
        except (serial.SerialException, OSError):
            pass
    elapsed = time.monotonic() - t0
    if lost is None and reader.error is not None and not reader.done.is_set():
        lost = _first_line(reader.error)
    if lost is not None:
        raise TinyECGError(
            f"{port}: connection lost after {sent} of {len(x)} samples sent "
            f"and {len(reader.beats)} beats received ({lost})"
        )
    if not reader.done.is_set():
        raise TinyECGError(
            f"{port}: no '# stats' reply within {reply_timeout:g} s after the "
            f"record (is a tinyecg device on this port?)"
        )

    used = resolve_labels(labels, device_labels(reader.status), symbols)
    label_map = used["map"]
    test = np.asarray([b[0] for b in reader.beats], dtype=np.int64)
    qrs = metrics.score_detections(ref, test)
    # class confusion of matched beats
    y_true, y_pred, y_readable = [], [], []
    for ri, ti in enumerate(metrics.match_beats(ref, test)):
        if ti >= 0 and symbols[ri] in label_map:
            y_true.append(label_map[symbols[ri]])
            y_pred.append(reader.beats[ti][1])
            y_readable.append(reader.beats[ti][0] not in reader.unreadable)
    label_list = list(dict.fromkeys(used["labels"] + sorted(set(y_pred) | set(y_true))))
    index = {lab: i for i, lab in enumerate(label_list)}
    classes = metrics.report([index[t] for t in y_true], [index[p] for p in y_pred], label_list)
    # U lines: beats the device reported in unreadable signal, also scored apart
    ok = [i for i, r in enumerate(y_readable) if r]
    readable = {
        "beats": int(len(test) - len(reader.unreadable)),
        "qrs": metrics.score_detections(
            ref, [b[0] for b in reader.beats if b[0] not in reader.unreadable]
        ),
        "classes": metrics.report(
            [index[y_true[i]] for i in ok], [index[y_pred[i]] for i in ok], label_list
        ),
    }
    us = np.asarray([b[3] for b in reader.beats], dtype=np.int64)
    return {
        "record": Path(base).name,
        "channel": ch,
        "samples": int(len(x)),
        "start_s": first / FS,
        "speed": speed,
        "seconds": round(elapsed, 3),
        "beats_reported": int(len(test)),
        "beats_unreadable": int(len(reader.unreadable)),
        "labels": {k: v for k, v in used.items() if k != "map"},
        "qrs": qrs,
        "classes": classes,
        "readable": readable,
        "inference_us": {
            "mean": float(us.mean()) if len(us) else None,
            "max": int(us.max()) if len(us) else None,
        },
        "rhythm": score_rhythm(reader.rhythm, base, lead, first, len(x)) if reader.rhythm else None,
        "status": reader.status,
        "unparsed_lines": reader.other[:20],
    }
