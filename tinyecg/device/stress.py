"""The noise stress test of the device: nstdb-style noisy records through the board's path.

For one clean WFDB record, every noise kind (tinyecg.data.noise: bw, ma, em) and every SNR,
this module builds the noise-stress record (noise in alternating two-minute blocks after a
five-minute clean start, SNR set from the clean record's QRS amplitude, as WFDB's nst does)
and replays it through

1. the firmware core in the host harness (firmware/host: the C detector, its quality index
   and beat assembly; ``--peaks --rr --quality``), which reports the R-peaks, every beat's RR
   context and every beat's quality score (>= 256: the device reports it unreadable, a U
   line);
2. the device's classifier: the fixed-point preprocessing (tinyecg.dsp.fixedpoint, the
   generated C's integer reference) and the int8 model in the TFLite Micro host runtime, as
   tinyecg.device.device_path does (default: the model shipped with tinyecg);

and scores, separately in the noisy blocks, the clean blocks between them and the
five-minute start:

* the detector: Se and +P of all detections, and of the detections the device does not
  flag (matching within 150 ms, as EC57);
* the classifier, on the matched beats whose annotation is in the model's label set:
  right (unflagged, correct label), wrong (unflagged, wrong label) and flagged;
* the quality flag: the share of reported beats flagged.

Counts are kept (not only rates) so that runs over several records add up
(:func:`add_counts`, :func:`rates`).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg.data import noise as nz
from tinyecg.device import detect
from tinyecg.errors import TinyECGError
from tinyecg.metrics import match_beats, score_detections
from tinyecg.spec import BEAT_SYMBOLS, LABEL_SETS

log = logging.getLogger("tinyecg.device.stress")

DEFAULT_SNRS = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
REGIONS = ("noisy", "clean", "learning")
CLEAN = "none"  # the kind of the reference run: the record without noise


@dataclass
class CoreRun:
    """What the core reported for one signal."""

    peaks: np.ndarray  # R-peaks (detector output)
    beat_r: np.ndarray  # beats completed (each has a full window)
    beat_rr: np.ndarray  # (n, 4) pre, post, local sum, local count
    beat_score: np.ndarray  # quality score of each beat
    beat_poor: np.ndarray  # the device reports it unreadable (a U line)
    status: list


def run_core(samples, exe, adc_min: int = -32768, adc_max: int = 32767) -> CoreRun:
    """Replay integer samples through the host harness: peaks, beats, RR and quality."""
    out = detect.run_harness(
        exe,
        detect.samples_text(samples),
        "--peaks",
        "--rr",
        "--quality",
        "--adc-min",
        str(int(adc_min)),
        "--adc-max",
        str(int(adc_max)),
    )
    peaks, r, rr, q, status = [], [], [], {}, []
    for line in out.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            status.append(line)
        elif line.startswith("R "):
            v = [int(t) for t in line.split()[1:]]
            r.append(v[0])
            rr.append(v[1:])
        elif line.startswith("Q "):
            w = line.split()
            q[int(w[1])] = (int(w[2]), int(w[3]))
        else:
            peaks.append(int(line))
    r_arr = np.asarray(r, np.int64)
    qs = [q.get(int(v), (0, 0)) for v in r_arr]
    return CoreRun(
        np.asarray(peaks, np.int64),
        r_arr,
        np.asarray(rr, np.int64).reshape(-1, 4),
        np.asarray([a for a, _ in qs], np.int64),
        np.asarray([b for _, b in qs], bool),
        status,
    )


@dataclass
class Reference:
    """A clean record: samples, annotations, calibration."""

    name: str
    x: np.ndarray
    adc: tuple[int, int]
    baseline: int
    gain: int
    ann_samples: np.ndarray
    ann_symbols: list

    @property
    def beats(self) -> tuple[np.ndarray, list]:
        keep = [
            (int(s), c) for s, c in zip(self.ann_samples, self.ann_symbols) if c in BEAT_SYMBOLS
        ]
        return np.asarray([s for s, _ in keep], np.int64), [c for _, c in keep]


def load_reference(record_path, channel: int | None = None) -> Reference:
    import wfdb

    x, ch, adc = detect.read_record(record_path, channel)
    base = str(record_path)
    for ext in (".hea", ".dat", ".atr"):
        base = base[: -len(ext)] if base.endswith(ext) else base
    if not Path(base + ".atr").is_file():
        raise TinyECGError(f"{record_path}: no beat annotations (missing {Path(base).name}.atr)")
    hdr = wfdb.rdheader(base)
    ann = wfdb.rdann(base, "atr")
    baseline = int((hdr.baseline or [0] * hdr.n_sig)[ch] or 0)
    gain = int(round(float((hdr.adc_gain or [200.0] * hdr.n_sig)[ch] or 200.0)))
    return Reference(
        Path(base).name, x, adc, baseline, gain, np.asarray(ann.sample, np.int64), list(ann.symbol)
    )


def _region_masks(samples: np.ndarray, n: int) -> dict:
    blocks = nz.nst_blocks(n)
    out = {"noisy": np.zeros(len(samples), bool), "clean": np.zeros(len(samples), bool)}
    for a, b in blocks:
        out["noisy"] |= (samples >= a) & (samples < b)
    for a, b in nz.clean_blocks(n):
        out["clean"] |= (samples >= a) & (samples < b)
    out["learning"] = samples < nz.LEARN_S * 360
    return out


def score_run(
    ref: Reference,
    y: np.ndarray,
    core: CoreRun,
    pred: np.ndarray | None,
    labels: list[str],
    label_map: dict,
) -> dict:
    """Counts per region (see the module doc) of one replay."""
    ref_s, ref_c = ref.beats
    n = len(y)
    poor_of = dict(zip(core.beat_r.tolist(), core.beat_poor.tolist()))
    peak_flag = np.asarray([poor_of.get(int(p), False) for p in core.peaks], bool)
    beat_flag = core.beat_poor
    rm, pm, bm = (_region_masks(a, n) for a in (ref_s, core.peaks, core.beat_r))
    match = match_beats(ref_s, core.beat_r)  # annotation -> beat index
    matched_beat = np.zeros(len(core.beat_r), bool)
    matched_beat[match[match >= 0]] = True
    out = {}
    for reg in REGIONS:
        all_ = score_detections(ref_s[rm[reg]], core.peaks[pm[reg]])
        unfl = score_detections(ref_s[rm[reg]], core.peaks[pm[reg] & ~peak_flag])
        det = {
            "tp": all_["tp"],
            "fp": all_["fp"],
            "fn": all_["fn"],
            "tp_unflagged": unfl["tp"],
            "fp_unflagged": unfl["fp"],
        }
        cls = {"right": 0, "wrong": 0, "flagged": 0}
        if pred is not None:
            for i in np.flatnonzero(rm[reg] & (match >= 0)):
                sym = ref_c[i]
                if sym not in label_map:
                    continue
                j = match[i]
                if beat_flag[j]:
                    cls["flagged"] += 1
                elif labels[pred[j]] == label_map[sym]:
                    cls["right"] += 1
                else:
                    cls["wrong"] += 1
        false = bm[reg] & ~matched_beat
        cls["false_unflagged"] = int(np.sum(false & ~beat_flag))
        cls["false_flagged"] = int(np.sum(false & beat_flag))
        flag = {"beats": int(bm[reg].sum()), "flagged": int(np.sum(bm[reg] & beat_flag))}
        out[reg] = {"detector": det, "classes": cls, "flag": flag}
    return out


def add_counts(a: dict | None, b: dict) -> dict:
    """Sum two count dicts of the same shape."""
    if a is None:
        return {k: (add_counts(None, v) if isinstance(v, dict) else v) for k, v in b.items()}
    return {k: (add_counts(a[k], v) if isinstance(v, dict) else a[k] + v) for k, v in b.items()}


def _div(a, b):
    return a / b if b else None


def rates(counts: dict) -> dict:
    """Rates of one region's counts: se, ppv, se/ppv of unflagged detections, the classes'
    right / wrong / flagged shares, the flagged share of beats."""
    d, c, f = counts["detector"], counts["classes"], counts["flag"]
    n_cls = c["right"] + c["wrong"] + c["flagged"]
    return {
        "se": _div(d["tp"], d["tp"] + d["fn"]),
        "ppv": _div(d["tp"], d["tp"] + d["fp"]),
        "se_unflagged": _div(d["tp_unflagged"], d["tp"] + d["fn"]),
        "ppv_unflagged": _div(d["tp_unflagged"], d["tp_unflagged"] + d["fp_unflagged"]),
        "right": _div(c["right"], n_cls),
        "wrong": _div(c["wrong"], n_cls),
        "flagged_labelled": _div(c["flagged"], n_cls),
        "accuracy_unflagged": _div(c["right"], c["right"] + c["wrong"]),
        "flagged": _div(f["flagged"], f["beats"]),
    }


class Classifier:
    """The default (or a given) int8 model through the device path's fixed-point inputs."""

    def __init__(self, model_tflite=None, labels: str | None = None):
        import json

        from tinyecg import paths
        from tinyecg.device.device_path import Int8Classifier

        path = Path(model_tflite) if model_tflite else paths.default_model_dir() / "model.tflite"
        if not path.is_file():
            raise TinyECGError(f"{path}: model file not found")
        cfg_file = path.parent / "config.json"
        cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
        self.label_set = labels or cfg.get("data", {}).get("labels", "nlrav")
        if self.label_set not in LABEL_SETS:
            raise TinyECGError(f"unknown label set {self.label_set!r}")
        self.labels = list(LABEL_SETS[self.label_set]["labels"])
        self.map = dict(LABEL_SETS[self.label_set]["map"])
        self.model = path
        self.clf = Int8Classifier(path.read_bytes())
        if self.clf.patient:
            raise TinyECGError(
                f"{path}: a patient-context model; the stress test feeds today's beat input "
                "only (docs/generalisation.md)"
            )
        if self.clf.n_classes != len(self.labels):
            raise TinyECGError(
                f"{path}: {self.clf.n_classes} outputs, but label set "
                f"{self.label_set} has {len(self.labels)}"
            )
        self.params = self.clf.preprocess_params()

    def predict(self, y, r, rr, baseline: int, gain: int) -> np.ndarray:
        from tinyecg.device.device_path import fixed_inputs, windows_at

        if len(r) == 0:
            return np.zeros(0, np.int64)
        beat, rhythm = fixed_inputs(self.clf, self.params, windows_at(y, r), rr, baseline, gain)
        return self.clf.predict(beat, rhythm)


def stress_record(
    record_path,
    kinds=nz.KINDS,
    snrs=DEFAULT_SNRS,
    seed: int = 0,
    classifier: Classifier | None = None,
    exe=None,
    build_dir=None,
    channel: int | None = None,
) -> dict:
    """The noise stress test of one record: {"record", "meta", "runs": {kind: {snr: counts}},
    "clean": counts}, counts per region (see score_run). The clean run replays the record
    without noise through the same path (its "noisy" region is where the noise would be)."""
    kinds = list(kinds)
    for k in kinds:
        if k not in nz.KINDS:
            raise TinyECGError(f"unknown noise kind {k!r} (one of {', '.join(nz.KINDS)}, all)")
    ref = load_reference(record_path, channel)
    n = len(ref.x)
    if n <= nz.LEARN_S * 360:
        raise TinyECGError(
            f"{record_path}: {n / 360:.0f} s; a noise stress test needs more than "
            f"the {nz.LEARN_S // 60}-minute clean start"
        )
    clf = classifier if classifier is not None else Classifier()
    tmp = None
    if exe is None:
        if build_dir is None:
            tmp = tempfile.TemporaryDirectory(prefix="tinyecg-stress-")
            build_dir = tmp.name
        exe = detect.build_host_harness(Path(build_dir) / "host")
    wide = nz.INT16_RANGE
    try:

        def one(y, lo, hi):
            core = run_core(y, exe, lo, hi)
            pred = clf.predict(y, core.beat_r, core.beat_rr, ref.baseline, ref.gain)
            return score_run(ref, y, core, pred, clf.labels, clf.map), core

        clean, _ = one(ref.x, *wide)
        runs: dict = {}
        meta: dict = {}
        for kind in kinds:
            noise = nz.synthesize(kind, n, seed)
            runs[kind], meta[kind] = {}, {}
            for snr in snrs:
                sr = nz.make_stress_record(
                    ref.x, ref.ann_samples, ref.ann_symbols, kind, snr, seed, noise=noise
                )
                counts, core = one(sr.samples, *wide)
                runs[kind][f"{float(snr):g}"] = counts
                meta[kind][f"{float(snr):g}"] = {
                    "gain": sr.gain,
                    "achieved_snr_db": sr.achieved_snr_db,
                    "clipped": sr.clipped,
                    "quality_poor_episodes": sum(s == "# quality poor" for s in core.status),
                }
                r = rates(counts["noisy"])
                log.info(
                    "%s %s %+5.1f dB: Se %.3f +P %.3f (unflagged %.3f) wrong %.3f flagged %.3f",
                    ref.name,
                    kind,
                    snr,
                    r["se"] or 0,
                    r["ppv"] or 0,
                    r["ppv_unflagged"] or 0,
                    r["wrong"] or 0,
                    r["flagged"] or 0,
                )
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {
        "record": ref.name,
        "seed": int(seed),
        "model": str(clf.model),
        "labels": clf.label_set,
        "qrs_ptp": nz.qrs_amplitude(ref.x, ref.ann_samples, ref.ann_symbols),
        "clean": clean,
        "runs": runs,
        "meta": meta,
    }


def table(result: dict, region: str = "noisy") -> str:
    """A text table of one stress_record() result (or of summed counts in the same shape)."""
    head = (
        f"{'noise':>5} {'SNR dB':>6} {'Se %':>6} {'+P %':>6} {'+P unfl':>7} "
        f"{'right %':>7} {'wrong %':>7} {'flag %':>6} {'flag clean %':>12}"
    )
    rows = [head]

    def row(kind, snr, counts):
        r, c = rates(counts[region]), rates(counts["clean"])
        pct = lambda v: f"{100 * v:.1f}" if v is not None else "-"  # noqa: E731
        pct2 = lambda v: f"{100 * v:.2f}" if v is not None else "-"  # noqa: E731
        rows.append(
            f"{kind:>5} {snr:>6} {pct2(r['se']):>6} {pct2(r['ppv']):>6} "
            f"{pct2(r['ppv_unflagged']):>7} {pct(r['right']):>7} {pct(r['wrong']):>7} "
            f"{pct(r['flagged']):>6} {pct(c['flagged']):>12}"
        )

    row("clean", "-", result["clean"])
    for kind, per in result["runs"].items():
        for snr, counts in per.items():
            row(kind, snr, counts)
    return "\n".join(rows)
