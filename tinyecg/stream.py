"""Replay a WFDB record to a device over its serial protocol and score what it sends back.

The device (a board, QEMU, or the host harness behind a TCP socket) reads one ADC sample per
line and answers `B <r> <label> <score_q> <inference_us>` per beat (see
firmware/lib/tinyecg_core/include/tinyecg_app.h). `stream_record` sends `#reset`, the
samples (paced at real time x speed), `#end` and `#stats`, reads the answers concurrently,
and scores QRS detection (150 ms window) and the classes of the matched beats.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from tinyecg import detect, metrics
from tinyecg.errors import TinyECGError

# Annotation symbol -> AAMI class (the labels the project's models predict).
AAMI_LABELS = {
    **{s: "N" for s in "NLRej"},
    **{s: "S" for s in "AaJS"},
    **{s: "V" for s in "VE"},
    "F": "F",
    **{s: "Q" for s in "/fQ"},
}
CHUNK = 36  # samples per write (0.1 s at 360 Hz)


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


def _record_symbols(record_path, sampto):
    import wfdb

    ann = wfdb.rdann(str(record_path), "atr", sampto=sampto)
    keep = [(int(i), s) for i, s in zip(ann.sample, ann.symbol) if s in detect.BEAT_SYMBOLS]
    return (np.asarray([i for i, _ in keep], dtype=np.int64), [s for _, s in keep])


class _Reader(threading.Thread):
    """Collects the device's lines until `# stats` arrives after `#end`, or stop()."""

    def __init__(self, ser):
        super().__init__(daemon=True)
        self.ser = ser
        self.beats: list[tuple[int, str, int, int]] = []
        self.status: list[str] = []
        self.other: list[str] = []
        self.done = threading.Event()
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

    def _line(self, line: str):
        if not line:
            return
        if line.startswith("#"):
            self.status.append(line)
            if line.startswith("# stats") and any(s == "# end" for s in self.status):
                self.done.set()
            return
        parts = line.split()
        if parts[0] == "B" and len(parts) == 5:
            try:
                self.beats.append((int(parts[1]), parts[2], int(parts[3]), int(parts[4])))
                return
            except ValueError:
                pass
        self.other.append(line)


def stream_record(port: str, record_path: str, speed: float = 1.0, labels: dict | None = None,
                  channel: int | None = None, seconds: float | None = None,
                  baudrate: int = 115200, reply_timeout: float = 10.0) -> dict:
    """Replay a WFDB record's raw samples to the device at `port` (pyserial URL: a serial
    device, `socket://host:port`, `loop://`) at real time x speed (0: as fast as the line
    allows), read its beat lines, and score them.

    labels maps annotation symbols to the device's labels (default: AAMI classes); beats
    whose symbol is not in it are left out of the class confusion, not of QRS scoring.
    seconds limits the replay to the record's first seconds. Returns a dict with "qrs"
    (tp, fp, fn, se, ppv), "classes" (tinyecg.metrics.report of the matched beats),
    "inference_us" (mean, max), the device's status lines and counts."""
    if speed is None or speed < 0:
        raise TinyECGError(f"speed must be >= 0 (got {speed})")
    if not record_path:
        raise TinyECGError("no record given")
    base = str(record_path)
    for ext in (".hea", ".dat", ".atr"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    if not Path(base + ".hea").is_file():
        raise TinyECGError(f"{record_path}: no WFDB record (missing {Path(base).name}.hea)")
    if not Path(base + ".atr").is_file():
        raise TinyECGError(f"{record_path}: no beat annotations (missing {Path(base).name}.atr)")
    labels = dict(AAMI_LABELS if labels is None else labels)
    sampto = None if seconds is None else max(1, int(round(seconds * detect.FS)))
    x, ch, _ = detect.read_record(base, channel, sampto=sampto)
    ref, symbols = _record_symbols(base, sampto)

    ser = _open_port(port, baudrate, timeout=0.05)
    reader = _Reader(ser)
    reader.start()
    t0 = time.monotonic()
    try:
        ser.write(b"#reset\n#info\n")
        lines = [str(int(v)) for v in x]
        for i in range(0, len(lines), CHUNK):
            ser.write(("\n".join(lines[i:i + CHUNK]) + "\n").encode())
            if speed > 0:
                due = t0 + (i + CHUNK) / (detect.FS * speed)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if reader.error is not None:
                break
        ser.write(b"#end\n#stats\n")
        ser.flush()
        reader.done.wait(reply_timeout)
    finally:
        reader.stop()
        reader.join(2.0)
        ser.close()
    elapsed = time.monotonic() - t0
    if reader.error is not None and not reader.beats:
        raise TinyECGError(f"{port}: connection lost ({reader.error})")
    if not reader.done.is_set():
        raise TinyECGError(f"{port}: no '# stats' reply within {reply_timeout:g} s after the "
                           f"record (is a tinyecg device on this port?)")

    test = np.asarray([b[0] for b in reader.beats], dtype=np.int64)
    qrs = detect.score_detections(ref, test)
    # class confusion of matched beats
    y_true, y_pred = [], []
    if len(ref) and len(test):
        from wfdb.processing import compare_annotations

        cmp = compare_annotations(ref, test, int(round(detect.MATCH_WINDOW_S * detect.FS)))
        for ri, ti in enumerate(cmp.matching_sample_nums):
            if ti >= 0 and symbols[ri] in labels:
                y_true.append(labels[symbols[ri]])
                y_pred.append(reader.beats[ti][1])
    label_list = list(dict.fromkeys(list(labels.values()) + sorted(set(y_pred))))
    index = {lab: i for i, lab in enumerate(label_list)}
    classes = metrics.report([index[t] for t in y_true], [index[p] for p in y_pred], label_list)
    us = np.asarray([b[3] for b in reader.beats], dtype=np.int64)
    return {
        "record": Path(base).name,
        "channel": ch,
        "samples": int(len(x)),
        "speed": speed,
        "seconds": round(elapsed, 3),
        "beats_reported": int(len(test)),
        "qrs": qrs,
        "classes": classes,
        "inference_us": {"mean": float(us.mean()) if len(us) else None,
                         "max": int(us.max()) if len(us) else None},
        "status": reader.status,
        "unparsed_lines": reader.other[:20],
    }
