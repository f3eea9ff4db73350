"""The board's whole beat path, run on the host and scored against MIT-BIH annotations.

A board has no annotations: it finds the beats itself. For every record this module

1. replays the raw ADC lead through the firmware core's host harness (the C detector and
   beat assembly, :mod:`tinyecg.device.detect`), keeping the R-peaks it reports and the RR context
   it computes for every beat (``--peaks --rr``);
2. forms the beats again in Python from those peaks, with the C core's rules
   (:func:`device_beats`: window ``[r-180, r+180)``, first/last beat, the 2 s timeout, RR
   sequences restarted after lead-off or a flat signal, beats whose window starts before
   the first sample or ends after the last one dropped) and checks them against the C's own
   ``R`` lines, so the figures below are those of the device code, not of a re-reading;
3. computes the int8 model inputs with the integer reference of the generated C
   (:func:`tinyecg.dsp.fixedpoint.preprocess_windows_int`, :func:`rhythm_features_int`);
4. runs the int8 model in the TFLite Micro host runtime (:class:`tinyecg.runtime.tflm.TFLMModel`);
5. matches detected beats to annotated beats within 150 ms (ANSI/AAMI EC57) and reports
   QRS Se/+P, the class confusion of matched beats, and beside it the same model on the
   ANNOTATED R-peaks through the same fixed-point path and through the float preprocessing
   (:mod:`tinyecg.dsp.denoise`, quantized as :meth:`tinyecg.models.int8.Int8Model.quantize_inputs` does,
   i.e. what ``tinyecg evaluate`` measures). Differences between the three are the cost of
   detection and of fixed-point preprocessing, separately.

It also measures the R-peak alignment (detected - annotated, samples) and its effect: on the
beats that were both detected and annotated, the detected window with the annotated RR
context (window alignment alone) and, optionally, annotated windows deliberately shifted by
a few samples (``shifts``).

The report time of each R-peak (the sample count when the detector reported it) decides the
2 s timeout rule, and the harness does not print it; :func:`build_event_driver` compiles a
20-line driver of the same core (`tinyecg_app`, peaks only) that prefixes every output line
with the sample count at that moment.
"""
from __future__ import annotations

import logging
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyecg import metrics, spec
from tinyecg.device import detect
from tinyecg.errors import TinyECGError
from tinyecg.spec import DEFAULT_RR, LOCAL_BEATS, MATCH_WINDOW, NLRAV_TO_AAMI, PRE_R, WINDOW

log = logging.getLogger("tinyecg.device.device_path")

BEAT_TIMEOUT = 1480    # TINYECG_BEAT_TIMEOUT: 2 s + the detector's worst report delay
BEATS_RING = 2048      # TINYECG_BEATS_RING: raw samples the core keeps
BEATS_PENDING = 16     # TINYECG_BEATS_PENDING
OFFSET_BINS = ((0, 0), (1, 1), (2, 2), (3, 5), (6, MATCH_WINDOW))

# --------------------------------------------------------------------------- the C side

EVENT_DRIVER = "tinyecg_events"
EVENT_DRIVER_C = r"""/*
 * tinyecg_events.c - written by tinyecg/device/device_path.py (build_event_driver); a test and
 * benchmark driver, not firmware. It runs the firmware core (tinyecg_app: signal quality,
 * detector, beat assembly) on protocol text from stdin exactly as firmware/host/main.c
 * does, with R-peak output only, and prefixes every output line with the number of
 * samples the core had received when the line was written:
 *     <n> <r>             R-peak r, reported once sample n-1 had arrived
 *     <n> # signal ok     a new RR sequence starts before sample n is pushed
 * Usage: tinyecg_events ADC_MIN ADC_MAX FLAT_TOLERANCE < samples
 */
#include <stdio.h>
#include <stdlib.h>

#include "tinyecg_app.h"

static tinyecg_app_t app;
static int at_line_start = 1;

static void write_text(void *ctx, const char *text)
{
    (void)ctx;
    for (; *text != '\0'; text++) {
        if (at_line_start) {
            printf("%lu ", (unsigned long)app.beats.n); /* sample count at this line */
            at_line_start = 0;
        }
        putchar((unsigned char)*text);
        at_line_start = *text == '\n';
    }
}

int main(int argc, char **argv)
{
    tinyecg_app_config_t cfg = {0};
    static char buf[4096];
    size_t n;
    if (argc != 4) {
        fprintf(stderr, "usage: tinyecg_events ADC_MIN ADC_MAX FLAT_TOLERANCE < samples\n");
        return 2;
    }
    cfg.adc_min = (int32_t)strtol(argv[1], NULL, 10);
    cfg.adc_max = (int32_t)strtol(argv[2], NULL, 10);
    cfg.flat_tolerance = (int32_t)strtol(argv[3], NULL, 10);
    cfg.outputs = TINYECG_OUT_PEAKS;
    cfg.write = write_text;
    if (tinyecg_app_init(&app, &cfg) != 0) {
        fprintf(stderr, "tinyecg_events: invalid configuration\n");
        return 2;
    }
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        tinyecg_app_feed(&app, buf, n);
    }
    tinyecg_app_finish(&app);
    return 0;
}
"""


def build_event_driver(build_dir, cc: str | None = None) -> Path:
    """Compile the timestamping driver of the firmware core (see EVENT_DRIVER_C) with the
    project's strict flags into build_dir; returns the executable."""
    import subprocess

    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    src = build_dir / f"{EVENT_DRIVER}.c"
    src.write_text(EVENT_DRIVER_C)
    exe = build_dir / EVENT_DRIVER
    cmd = [detect._compiler(cc), *detect.STRICT_FLAGS, "-O2", f"-I{detect.core_include()}",
           *map(str, detect.core_sources()), str(src), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
        raise TinyECGError(f"event driver does not compile: {first}")
    return exe


@dataclass
class DeviceEvents:
    """What the core's detector reported for one signal, and when."""
    peaks: np.ndarray        # int64 R-peak sample indices (accepted by the beat assembly)
    reported_at: np.ndarray  # int64 sample count when each peak was reported
    breaks: np.ndarray       # int64 sample counts at "# signal ok" (a new RR sequence)
    n_samples: int
    status: list = field(default_factory=list)  # (n, status line) of every '#' line


def device_events(samples, exe, adc_min: int = -32768, adc_max: int = 32767,
                  flat_tolerance: int = 2) -> DeviceEvents:
    """Run the event driver on integer samples: peaks, their report times, RR breaks."""
    x = np.asarray(samples)
    out = detect.run_harness(exe, detect.samples_text(x), str(int(adc_min)), str(int(adc_max)),
                             str(int(flat_tolerance)))
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
    return DeviceEvents(np.asarray(peaks, np.int64), np.asarray(times, np.int64),
                        np.asarray(breaks, np.int64), int(len(x)), status)


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
    out = detect.run_harness(exe, detect.samples_text(samples), "--peaks", "--rr",
                             "--adc-min", str(int(adc_min)), "--adc-max", str(int(adc_max)))
    r, rr = parse_rr_lines(out)
    return detect.parse_peaks("\n".join(ln for ln in out.splitlines()
                                        if not ln.startswith("R "))), r, rr


# --------------------------------------------------------------------------- the core's rules

@dataclass
class DeviceBeats:
    r: np.ndarray        # int64 (n,) R-peaks of the beats the device classifies
    rr: np.ndarray       # int64 (n, 4): pre_rr, post_rr, local_rr_sum, local_rr_count
    done_at: np.ndarray  # int64 (n,) sample count when each beat completed
    skipped: int         # peaks that kept their RR place but gave no beat


def device_beats(peaks, reported_at, n_samples: int, breaks=()) -> DeviceBeats:
    """The beats and RR context the firmware core (tinyecg_beats.c with tinyecg_app.c)
    forms from R-peaks reported at the given sample counts; a Python statement of its rules:

    * a beat r completes once its window is full (n >= r + 180) and either the next R-peak
      of its sequence is known, or n >= r + BEAT_TIMEOUT without one: then post_rr = pre_rr;
    * pre_rr = r - previous r (first beat of a sequence: post_rr; a lone beat: 360);
      local = sum and count of the up to 8 most recent intervals ending here (first beat:
      pre_rr, 1);
    * a break (``# signal ok`` after lead-off or a flat second) starts a new sequence:
      waiting beats complete as last beats;
    * beats whose window starts before sample 0, or whose oldest sample has left the
      2048-sample ring by completion, or which are still incomplete when the stream ends,
      keep their RR place but are not returned (``skipped``).

    breaks are sample counts n at which the new sequence starts (before sample n arrives)."""
    r_all = np.asarray(peaks, np.int64)
    rep = np.asarray(reported_at, np.int64)
    brk = np.sort(np.asarray(breaks, np.int64))
    n_total = int(n_samples)
    if r_all.shape != rep.shape or r_all.ndim != 1:
        raise TinyECGError("peaks and reported_at must be 1-D arrays of the same length")
    if len(rep) and (np.any(np.diff(rep) < 0) or rep[-1] > n_total or np.any(rep <= r_all)):
        raise TinyECGError("report times must increase, follow their peaks and fit the stream")

    queue: deque = deque()  # [r, pre, local_sum, local_count]; pre -1 = first of a sequence
    diffs: deque = deque(maxlen=LOCAL_BEATS)
    state = {"have_last": False, "last_r": 0, "skipped": 0}
    out_r, out_rr, out_t = [], [], []

    def drain(n: int, final: bool) -> None:
        while queue:
            p = queue[0]
            nxt = queue[1] if len(queue) > 1 and queue[1][1] >= 0 else None
            if n < p[0] + (WINDOW - PRE_R):
                if not final:
                    return
                state["skipped"] += 1
                queue.popleft()
                continue
            if (nxt is None and len(queue) == 1 and state["have_last"]
                    and state["last_r"] == p[0] and n < p[0] + BEAT_TIMEOUT and not final):
                return
            pre, post = p[1], (nxt[1] if nxt is not None else -1)
            if pre < 0 and post < 0:
                pre = post = DEFAULT_RR
            elif pre < 0:
                pre = post
            elif post < 0:
                post = pre
            lsum, lcount = (p[2], p[3]) if p[3] > 0 else (pre, 1)
            queue.popleft()
            if p[0] >= PRE_R and n - (p[0] - PRE_R) <= BEATS_RING:
                out_r.append(p[0])
                out_rr.append((pre, post, lsum, lcount))
                out_t.append(n)
            else:
                state["skipped"] += 1

    def add_peak(r: int, n: int) -> None:
        if r >= n or (state["have_last"] and r <= state["last_r"]):
            raise TinyECGError(f"peak {r} reported at {n} would be rejected by the core")
        if len(queue) >= BEATS_PENDING:
            raise TinyECGError(f"peak {r}: the core's pending queue would overflow")
        if state["have_last"]:
            pre = r - state["last_r"]
            diffs.append(pre)
            queue.append([r, pre, sum(diffs), len(diffs)])
        else:
            queue.append([r, -1, 0, 0])
        state["have_last"], state["last_r"] = True, r

    i = j = 0
    n = 0
    while True:
        cands = []
        if i < len(rep):
            cands.append(int(rep[i]))
        if j < len(brk):
            cands.append(int(brk[j]) + 1)  # the break happens while sample brk[j] arrives
        if queue:
            cands += [queue[0][0] + WINDOW - PRE_R, queue[0][0] + BEAT_TIMEOUT]
        cands = [c for c in cands if c > n]
        if not cands or min(cands) > n_total:
            break
        t = min(cands)
        while j < len(brk) and brk[j] + 1 <= t:
            if brk[j] + 1 < t:
                raise TinyECGError("break times out of order")
            state["have_last"] = False
            diffs.clear()
            j += 1
        while i < len(rep) and rep[i] == t:
            add_peak(int(r_all[i]), t)
            drain(t, False)
            i += 1
        drain(t, False)
        n = t
    if i < len(rep):
        raise TinyECGError("peaks reported after the end of the stream")
    drain(n_total, True)
    return DeviceBeats(np.asarray(out_r, np.int64), np.asarray(out_rr, np.int64).reshape(-1, 4),
                       np.asarray(out_t, np.int64), state["skipped"])


def windows_at(samples, r) -> np.ndarray:
    """int16 (n, 360) windows samples[r-180 : r+180] (every r must have a full window)."""
    x = np.asarray(samples)
    r = np.asarray(r, np.int64)
    if len(r) and (r.min() < PRE_R or r.max() + WINDOW - PRE_R > len(x)):
        raise TinyECGError("a window reaches outside the signal")
    if len(r) == 0:
        return np.zeros((0, WINDOW), np.int16)
    return x[(r - PRE_R)[:, None] + np.arange(WINDOW)[None, :]].astype(np.int16)


# --------------------------------------------------------------------------- the model

class Int8Classifier:
    """An int8 TFLite model in the TFLM host runtime, fed int8 inputs the way the board
    feeds it: the 360-value "beat" input and, if the model has one, the 5-value "rhythm"."""

    def __init__(self, model_bytes: bytes):
        from tinyecg.models.int8 import Int8Model
        from tinyecg.runtime.tflm import TFLMModel, capture_c_stdout

        self.int8 = Int8Model.load(bytes(model_bytes))
        ok, reasons = self.int8.flatbuffer.is_fully_int8()
        if not ok:
            raise TinyECGError("the device path needs a full-int8 model: " + "; ".join(reasons[:3]))
        self.model, _ = capture_c_stdout(lambda: TFLMModel(bytes(model_bytes)))
        self.beat_q = self.int8.input(spec.BEAT)
        self.rhythm_q = self.int8.input(spec.RHYTHM)
        self.n_classes = self.int8.n_classes

    def preprocess_params(self) -> dict:
        from tinyecg.dsp import fixedpoint as fp

        if self.rhythm_q is None:
            return fp.preprocess_params(self.beat_q.scale, self.beat_q.zero_point)
        return fp.preprocess_params(self.beat_q.scale, self.beat_q.zero_point,
                                    self.rhythm_q.scale, self.rhythm_q.zero_point)

    def scores(self, beat_q: np.ndarray, rhythm_q: np.ndarray | None) -> np.ndarray:
        """int8 inputs (n, 360) and (n, 5) -> int8 output scores (n, classes)."""
        inputs = self.int8.order(beat=beat_q, rhythm=rhythm_q)
        out = np.zeros((len(beat_q), self.n_classes), np.int8)
        for k in range(len(beat_q)):
            out[k] = self.model.invoke(*(x[k] for x in inputs))
        return out

    def predict(self, beat_q, rhythm_q) -> np.ndarray:
        return self.scores(beat_q, rhythm_q).argmax(axis=1) if len(beat_q) else \
            np.zeros(0, np.int64)


def fixed_inputs(clf: Int8Classifier, params: dict, windows, rr, baseline: int, gain: int):
    """int8 model inputs of integer windows and RR context: the generated C's computation."""
    from tinyecg.dsp import fixedpoint as fp

    if len(windows) == 0:
        return np.zeros((0, WINDOW), np.int8), np.zeros((0, 5), np.int8)
    beat = fp.preprocess_windows_int(np.asarray(windows, np.int16), int(baseline), int(gain),
                                     params)
    rhythm = None
    if clf.rhythm_q is not None:
        rr = np.asarray(rr, np.int64)
        rhythm = fp.rhythm_features_int(rr[:, 0], rr[:, 1], rr[:, 2], rr[:, 3], params)
    return beat, rhythm


def float_inputs(clf: Int8Classifier, windows, rhythm_float, baseline: float, gain: float):
    """int8 model inputs through the float reference (denoise.preprocess, then the model's
    input quantization as Int8Model.quantize_inputs): what `tinyecg evaluate` feeds."""
    from tinyecg.dsp import denoise

    mv = (np.asarray(windows, np.float64) - float(baseline)) / float(gain)
    x = denoise.preprocess(mv) if len(mv) else np.zeros((0, WINDOW), np.float32)
    beat = clf.beat_q.quantize(x).reshape(len(x), WINDOW)
    rhythm = clf.rhythm_q.quantize(rhythm_float).reshape(len(x), 5) \
        if clf.rhythm_q is not None else None
    return beat, rhythm


def annotated_inputs(clf: Int8Classifier, rec, labels: str, params: dict | None = None):
    """The labelled annotated beats of a record (tinyecg.data.beats.beats_from_record: the
    dataset's windows and RR context) and their int8 model inputs through the fixed-point
    path and through the float path: (beats, (beat, rhythm) fixed, (beat, rhythm) float)."""
    from tinyecg.data.beats import beats_from_record

    params = params or clf.preprocess_params()
    ann = beats_from_record(rec, labels)
    gain = int(round(rec.gain))
    return (ann, fixed_inputs(clf, params, ann.raw, ann.rr, rec.baseline, gain),
            float_inputs(clf, ann.raw, ann.rhythm, rec.baseline, rec.gain))


# --------------------------------------------------------------------------- matching

def match_beats(ref, test, window: int = MATCH_WINDOW) -> np.ndarray:
    """For each reference beat the index of its matching test beat, or -1 (EC57 matching,
    wfdb.processing.compare_annotations, window in samples)."""
    ref = np.asarray(ref, np.int64)
    test = np.asarray(test, np.int64)
    if len(ref) == 0 or len(test) == 0:
        return np.full(len(ref), -1, np.int64)
    from wfdb.processing import compare_annotations

    return np.asarray(compare_annotations(ref, test, int(window)).matching_sample_nums, np.int64)


def offset_summary(offsets) -> dict:
    """Statistics of detected - annotated R-peak offsets (samples; 1 sample = 2.8 ms)."""
    o = np.asarray(offsets, np.int64)
    if len(o) == 0:
        return {"n": 0}
    a = np.abs(o)
    return {"n": int(len(o)), "mean": float(o.mean()), "median": float(np.median(o)),
            "std": float(o.std()), "mean_abs": float(a.mean()),
            "p95_abs": float(np.percentile(a, 95)), "max_abs": int(a.max()),
            "within_1": float(np.mean(a <= 1)), "within_2": float(np.mean(a <= 2)),
            "within_5": float(np.mean(a <= 5))}


# --------------------------------------------------------------------------- one record

@dataclass
class RecordResult:
    name: str
    n_samples: int
    qrs: dict
    qrs_ec57: dict
    n_peaks: int
    n_device_beats: int
    skipped: int
    rr_check: dict
    status: list
    offsets: np.ndarray            # detected - annotated of every matched peak
    # detected path: labelled device beats that match an annotation
    det_y: np.ndarray
    det_pred: np.ndarray
    det_offset: np.ndarray
    det_sample: np.ndarray         # the annotation's sample
    det_pair: np.ndarray           # index into the annotated arrays, or -1
    det_hybrid: np.ndarray         # detected window + annotated RR (-1 without a pair)
    false_pred: np.ndarray         # predictions of device beats matching no annotation
    unlabelled: int                # device beats matching a beat outside the label set
    # annotated paths: every labelled beat with a full window
    ann_y: np.ndarray
    ann_sample: np.ndarray
    ann_fixed: np.ndarray
    ann_float: np.ndarray
    input_agreement: dict
    shifted: dict                  # shift -> (mask over annotated beats, predictions)


def _labels_map(labels: str) -> tuple[list[str], dict]:
    from tinyecg.data.beats import label_set

    spec = label_set(labels)
    return list(spec["labels"]), dict(spec["map"])


def evaluate_record(clf: Int8Classifier, data_dir: Path, name: str, labels: str,
                    harness, driver, pred_map=None, shifts=()) -> RecordResult | None:
    """Every path for one record (None when the record has no MLII lead)."""
    from tinyecg.data.records import load_record

    rec = load_record(data_dir, name)
    if rec is None:
        return None
    base = str(Path(data_dir) / name)
    x, _, (lo, hi) = detect.read_record(base, None)
    if not np.array_equal(x, rec.adc.astype(np.int64)):
        raise TinyECGError(f"{name}: the detector's lead differs from the dataset's lead")
    gain = int(round(rec.gain))
    params = clf.preprocess_params()

    def predict(beat, rhythm):
        p = clf.predict(beat, rhythm)
        return pred_map[p] if pred_map is not None and len(p) else p

    # --- the device: C detector and beat assembly, then the Python rules as a check
    peaks, c_r, c_rr = harness_beats(x, harness, lo, hi)
    ev = device_events(x, driver, lo, hi)
    if not np.array_equal(ev.peaks, peaks):
        raise TinyECGError(f"{name}: event driver and harness disagree on the R-peaks")
    py = device_beats(ev.peaks, ev.reported_at, ev.n_samples, ev.breaks)
    same = len(py.r) == len(c_r) and np.array_equal(py.r, c_r) and np.array_equal(py.rr, c_rr)
    mismatches = 0 if same else int(len(set(map(tuple, np.c_[py.r, py.rr])) ^
                                        set(map(tuple, np.c_[c_r, c_rr]))))
    # beats completed by the 2 s rule although the detector found a next beat later
    nxt = np.searchsorted(peaks, c_r, side="right")
    has_next = nxt < len(peaks)
    gap = np.where(has_next, peaks[np.minimum(nxt, len(peaks) - 1)] - c_r, -1)
    timeouts = int(np.sum(has_next & (c_rr[:, 1] != gap))) if len(c_r) else 0
    # the C's own beats are what the board classifies
    dev_r, dev_rr = c_r, c_rr
    beat_q, rhythm_q = fixed_inputs(clf, params, windows_at(x, dev_r), dev_rr, rec.baseline, gain)
    dev_pred = predict(beat_q, rhythm_q)

    # --- annotations
    ref = detect.reference_beats(base)
    flutter = detect.flutter_intervals(base)
    qrs = detect.score_detections(ref, peaks)
    qrs_ec57 = detect.score_detections(ref, peaks, exclude=flutter)
    match = match_beats(ref, peaks)
    matched = match >= 0
    offsets = peaks[match[matched]] - ref[matched]

    label_names, symbol_map = _labels_map(labels)
    ann, ann_fixed_q, ann_float_q = annotated_inputs(clf, rec, labels, params)
    ann_fixed = predict(*ann_fixed_q)
    ann_float = predict(*ann_float_q)
    eq_beat = float(np.mean(ann_fixed_q[0] == ann_float_q[0])) if len(ann) else None
    eq_rhythm = float(np.mean(ann_fixed_q[1] == ann_float_q[1])) \
        if len(ann) and ann_fixed_q[1] is not None else None

    # device beats -> annotation symbol (label) of the matched reference beat
    import wfdb

    a = wfdb.rdann(base, "atr")
    sym_of = {int(s): sym for s, sym in zip(a.sample, a.symbol) if sym in detect.BEAT_SYMBOLS}
    peak_to_ref = np.full(len(peaks), -1, np.int64)
    peak_to_ref[match[matched]] = np.flatnonzero(matched)
    peak_index = {int(r): k for k, r in enumerate(peaks)}
    ann_index = {int(s): k for k, s in enumerate(ann.sample)}
    det_rows, false_rows, unlabelled = [], [], 0
    for k, r in enumerate(dev_r):
        ri = peak_to_ref[peak_index[int(r)]]
        if ri < 0:
            if not any(lo_ <= r <= hi_ for lo_, hi_ in flutter):
                false_rows.append(k)
            continue
        sym = sym_of[int(ref[ri])]
        if sym not in symbol_map:
            unlabelled += 1
            continue
        det_rows.append((k, label_names.index(symbol_map[sym]), int(ref[ri]),
                         ann_index.get(int(ref[ri]), -1)))
    det = np.asarray(det_rows, np.int64).reshape(-1, 4)
    rows = det[:, 0]
    pair = det[:, 3]
    hybrid = np.full(len(det), -1, np.int64)
    has = pair >= 0
    if clf.rhythm_q is not None and has.any():
        hybrid[has] = predict(beat_q[rows[has]], ann_fixed_q[1][pair[has]])
    elif has.any():
        hybrid[has] = dev_pred[rows[has]]

    # --- optional: annotated windows shifted on purpose (RR context unchanged)
    shifted = {}
    if shifts:
        m = max(abs(int(s)) for s in shifts)
        keep = (ann.sample - PRE_R - m >= 0) & (ann.sample - PRE_R + WINDOW + m <= len(x))
        for s in shifts:
            w = windows_at(x, ann.sample[keep] + int(s))
            bq, _ = fixed_inputs(clf, params, w, ann.rr[keep], rec.baseline, gain)
            rq = ann_fixed_q[1][keep] if ann_fixed_q[1] is not None else None
            shifted[int(s)] = (keep, predict(bq, rq))

    return RecordResult(
        name=name, n_samples=int(len(x)), qrs=qrs, qrs_ec57=qrs_ec57, n_peaks=int(len(peaks)),
        n_device_beats=int(len(dev_r)), skipped=int(py.skipped),
        rr_check={"beats": int(len(c_r)), "python_beats": int(len(py.r)),
                  "mismatches": mismatches, "timeouts": timeouts},
        status=[s for _, s in ev.status if not s.startswith("# tinyecg")],
        offsets=offsets.astype(np.int64),
        det_y=det[:, 1], det_pred=dev_pred[rows] if len(rows) else np.zeros(0, np.int64),
        det_offset=(dev_r[rows] - det[:, 2]) if len(rows) else np.zeros(0, np.int64),
        det_sample=det[:, 2], det_pair=pair, det_hybrid=hybrid,
        false_pred=dev_pred[np.asarray(false_rows, np.int64)] if false_rows else
        np.zeros(0, np.int64),
        unlabelled=unlabelled,
        ann_y=ann.y, ann_sample=ann.sample, ann_fixed=ann_fixed, ann_float=ann_float,
        input_agreement={"beat_int8_equal": eq_beat, "rhythm_int8_equal": eq_rhythm},
        shifted=shifted,
    )


# --------------------------------------------------------------------------- summaries

def _acc(y, p) -> float | None:
    return float(np.mean(np.asarray(y) == np.asarray(p))) if len(y) else None


def _summaries(parts: list[RecordResult], labels: list[str], mask_fn=None) -> dict:
    """Reports over several records; mask_fn(part, kind) -> boolean mask selects beats
    (kind "det" or "ann"), e.g. the test split's beats."""
    def cat(attr, kind):
        vals = []
        for p in parts:
            v = getattr(p, attr)
            if mask_fn is not None:
                v = v[mask_fn(p, kind)]
            vals.append(v)
        return np.concatenate(vals) if vals else np.zeros(0, np.int64)

    det_y, det_pred = cat("det_y", "det"), cat("det_pred", "det")
    ann_y = cat("ann_y", "ann")
    out = {
        "detected": metrics.report(det_y, det_pred, labels),
        "annotated_fixed": metrics.report(ann_y, cat("ann_fixed", "ann"), labels),
        "annotated_float": metrics.report(ann_y, cat("ann_float", "ann"), labels),
    }
    # end to end: annotated beats of each class the device classified correctly / annotated
    support = np.bincount(ann_y, minlength=len(labels))
    paired = cat("det_pair", "det") >= 0  # the annotation is one of the annotated beats
    correct = np.bincount(det_y[paired & (det_y == det_pred)], minlength=len(labels))
    found = np.bincount(det_y[paired], minlength=len(labels))
    out["detected"]["end_to_end"] = {
        lab: {"annotated": int(support[i]), "classified": int(found[i]),
              "correct": int(correct[i]),
              "se": float(correct[i] / support[i]) if support[i] else None}
        for i, lab in enumerate(labels)}
    if mask_fn is None:
        false = cat("false_pred", "false")
        fc = np.bincount(false, minlength=len(labels)) if len(false) else np.zeros(len(labels), int)
        cm = np.asarray(out["detected"]["confusion"])
        out["detected"]["false_beats"] = {lab: int(fc[i]) for i, lab in enumerate(labels)}
        out["detected"]["ppv_with_false_beats"] = {
            lab: float(cm[i, i] / (cm[:, i].sum() + fc[i])) if cm[:, i].sum() + fc[i] else None
            for i, lab in enumerate(labels)}
    # paired: matched beats whose annotation is in the annotated set
    pair_y, pair_det, pair_hyb, pair_ann = [], [], [], []
    for p in parts:
        sel = p.det_pair >= 0
        if mask_fn is not None:
            sel &= mask_fn(p, "det")
        pair_y.append(p.det_y[sel])
        pair_det.append(p.det_pred[sel])
        pair_hyb.append(p.det_hybrid[sel])
        pair_ann.append(p.ann_fixed[p.det_pair[sel]])
    py_, pd_, ph_, pa_ = (np.concatenate(v) if v else np.zeros(0, np.int64)
                          for v in (pair_y, pair_det, pair_hyb, pair_ann))
    out["paired"] = {
        "n": int(len(py_)),
        "accuracy_annotated_fixed": _acc(py_, pa_),
        "accuracy_detected_window_annotated_rr": _acc(py_, ph_),
        "accuracy_detected": _acc(py_, pd_),
        "macro_f1_annotated_fixed": metrics.report(py_, pa_, labels)["macro_f1"],
        "macro_f1_detected": metrics.report(py_, pd_, labels)["macro_f1"],
        "prediction_changed": None if len(pd_) == 0 else 1.0 - _acc(pd_, pa_),
    }
    return out


def _offset_effect(parts: list[RecordResult]) -> list[dict]:
    """Accuracy of matched beats by |detected - annotated| bin, beside the annotated-peak
    accuracy of the same beats (so harder beats in a bin do not pass for misalignment)."""
    off = np.concatenate([p.det_offset for p in parts]) if parts else np.zeros(0, np.int64)
    y = np.concatenate([p.det_y for p in parts]) if parts else np.zeros(0, np.int64)
    pd_ = np.concatenate([p.det_pred for p in parts]) if parts else np.zeros(0, np.int64)
    pair = np.concatenate([p.det_pair >= 0 for p in parts]) if parts else np.zeros(0, bool)
    pa_ = np.concatenate([np.where(p.det_pair >= 0, p.ann_fixed[np.maximum(p.det_pair, 0)], -1)
                          if len(p.det_pair) else np.zeros(0, np.int64) for p in parts]) \
        if parts else np.zeros(0, np.int64)
    rows = []
    for lo, hi in OFFSET_BINS:
        sel = (np.abs(off) >= lo) & (np.abs(off) <= hi) & pair
        rows.append({"abs_offset": f"{lo}" if lo == hi else f"{lo}-{hi}", "n": int(sel.sum()),
                     "accuracy_detected": _acc(y[sel], pd_[sel]),
                     "accuracy_annotated_fixed": _acc(y[sel], pa_[sel])})
    return rows


def _shift_effect(parts: list[RecordResult], labels: list[str]) -> list[dict]:
    shifts = sorted({s for p in parts for s in p.shifted})
    rows = []
    for s in shifts:
        ys, ps, bs = [], [], []
        for p in parts:
            keep, pred = p.shifted[s]
            ys.append(p.ann_y[keep])
            ps.append(pred)
            bs.append(p.ann_fixed[keep])
        y, pr, base = np.concatenate(ys), np.concatenate(ps), np.concatenate(bs)
        rep = metrics.report(y, pr, labels)
        rows.append({"shift": s, "n": int(len(y)), "accuracy": rep["accuracy"],
                     "accuracy_unshifted": _acc(y, base),
                     "macro_f1": rep["macro_f1"],
                     "macro_f1_unshifted": metrics.report(y, base, labels)["macro_f1"],
                     "prediction_changed": 1.0 - _acc(pr, base) if len(y) else None,
                     "per_class_se": {k: v["se"] for k, v in rep["per_class"].items()}})
    return rows


def _record_summary(p: RecordResult, labels: list[str]) -> dict:
    return {
        "samples": p.n_samples,
        "peaks": p.n_peaks,
        "device_beats": p.n_device_beats,
        "skipped": p.skipped,
        "qrs": p.qrs,
        "qrs_ec57": p.qrs_ec57,
        "rr_check": p.rr_check,
        "status": p.status,
        "offsets": offset_summary(p.offsets),
        "matched_labelled": int(len(p.det_y)),
        "unlabelled_matched": p.unlabelled,
        "false_beats": int(len(p.false_pred)),
        "accuracy_detected": _acc(p.det_y, p.det_pred),
        "accuracy_annotated_fixed": _acc(p.ann_y, p.ann_fixed),
        "accuracy_annotated_float": _acc(p.ann_y, p.ann_float),
        "annotated_beats": int(len(p.ann_y)),
        "input_agreement": p.input_agreement,
        "confusion_detected": metrics.confusion(p.det_y, p.det_pred, len(labels)).tolist(),
    }


def _test_split_keys(config: dict, data_dir: Path) -> set | None:
    """(record, sample) of the beats in the run's test split (intra runs only), rebuilt
    from data_dir (the run may have been made, or shipped, with another path)."""
    if not config or config.get("split", {}).get("name") != "intra":
        return None
    from tinyecg.data.dataset import dataset_from_config

    ds, split = dataset_from_config({**config, "data": {**config["data"], "dir": str(data_dir)}})
    b = ds.beats
    idx = split["test"]
    return set(zip(b.record[idx].tolist(), b.sample[idx].tolist()))


def evaluate_device_path(model_tflite: Path, records: list[str], data_dir=None,
                         labels: str = "nlrav", config: dict | None = None,
                         shifts=(), build_dir=None) -> dict:
    """Score the board's beat path (C detector -> C beat assembly -> fixed-point
    preprocessing -> int8 model in TFLM) on whole records, beside the same model on the
    annotated R-peaks (fixed-point and float preprocessing).

    model_tflite: a full-int8 .tflite; records: record names in data_dir (default: the
    bundled excerpt / $TINYECG_DATA); labels: the label set beats are scored in ("nlrav" or
    "aami"). config: the run's config.json (optional): its data.labels are the model's
    classes (an nlrav model scored in aami has its predictions mapped N L R -> N, A -> S,
    V -> V) and, for an intra split, every summary is repeated on the beats of its test
    split alone (the model saw the other beats of the same records in training, and
    neighbours of the test beats too: an intra figure is not a generalisation figure).
    shifts: sample offsets for the deliberate-misalignment experiment (e.g. (-5, -2, 2, 5)).
    Returns {"per_record": {...}, "total": {...}, "meta": {...}}."""
    from tinyecg.data.records import resolve_data_dir

    model_tflite = Path(model_tflite)
    if not model_tflite.is_file():
        raise TinyECGError(f"{model_tflite}: model file not found")
    if not records:
        raise TinyECGError("no records given")
    data_dir = resolve_data_dir(data_dir)
    label_names, _ = _labels_map(labels)
    model_labels = (config or {}).get("data", {}).get("labels", labels)
    pred_map = None
    if model_labels != labels:
        if (model_labels, labels) != ("nlrav", "aami"):
            raise TinyECGError(f"a model trained on {model_labels!r} classes cannot be scored "
                               f"in {labels!r} classes")
        nlrav, _ = _labels_map("nlrav")
        pred_map = np.array([label_names.index(NLRAV_TO_AAMI[c]) for c in nlrav], np.int64)
    clf = Int8Classifier(model_tflite.read_bytes())
    if pred_map is None and clf.n_classes != len(label_names):
        raise TinyECGError(f"model has {clf.n_classes} outputs; {labels!r} has {len(label_names)}")
    test_keys = _test_split_keys(config, data_dir) if config else None

    tmp = None
    if build_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tinyecg-device-")
        build_dir = tmp.name
    try:
        harness = detect.build_host_harness(Path(build_dir) / "host")
        driver = build_event_driver(Path(build_dir) / "events")
        parts = []
        for i, name in enumerate(records, 1):
            res = evaluate_record(clf, data_dir, str(name), labels, harness, driver,
                                  pred_map, tuple(shifts))
            if res is None:
                log.info("[%d/%d] %s: no MLII lead, skipped", i, len(records), name)
                continue
            log.info("[%d/%d] %s: %d device beats, accuracy %.4f (annotated %.4f)", i,
                     len(records), name, res.n_device_beats,
                     _acc(res.det_y, res.det_pred) or 0.0, _acc(res.ann_y, res.ann_fixed) or 0.0)
            parts.append(res)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if not parts:
        raise TinyECGError("none of the records has an MLII lead")

    total = _summaries(parts, label_names)
    total["qrs"] = detect.add_scores([p.qrs for p in parts])
    total["qrs_ec57"] = detect.add_scores([p.qrs_ec57 for p in parts])
    all_off = np.concatenate([p.offsets for p in parts])
    total["offsets"] = offset_summary(all_off)
    vals, counts = np.unique(np.clip(all_off, -10, 10), return_counts=True)
    total["offsets"]["histogram_clipped_10"] = {int(v): int(c) for v, c in zip(vals, counts)}
    total["offset_effect"] = _offset_effect(parts)
    if shifts:
        total["shift_effect"] = _shift_effect(parts, label_names)
    total["rr_check"] = {k: sum(p.rr_check[k] for p in parts)
                         for k in ("beats", "python_beats", "mismatches", "timeouts")}
    total["device_beats"] = sum(p.n_device_beats for p in parts)
    total["false_beats"] = sum(len(p.false_pred) for p in parts)
    total["unlabelled_matched"] = sum(p.unlabelled for p in parts)
    if test_keys is not None:
        def in_test(p, kind):
            samples = p.det_sample if kind == "det" else p.ann_sample
            return np.array([(p.name, int(s)) in test_keys for s in samples], bool)
        total["test_split_only"] = _summaries(parts, label_names, in_test)
    meta = {
        "model": str(model_tflite),
        "labels": labels,
        "model_labels": model_labels,
        "records": [p.name for p in parts],
        "data": str(data_dir),
        "split": (config or {}).get("split", {}).get("name"),
        "match_window_samples": MATCH_WINDOW,
        "shifts": [int(s) for s in shifts],
        "preprocess_params": {k: v for k, v in clf.preprocess_params().items()
                              if k in ("input_scale", "input_zero_point", "quant_mult",
                                       "quant_shift")},
    }
    return {"meta": meta,
            "per_record": {p.name: _record_summary(p, label_names) for p in parts},
            "total": total}
