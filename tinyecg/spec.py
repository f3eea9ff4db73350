"""The one home of the facts that Python and the device's C share.

Sampling, the beat window, the RR context, beat matching, the MIT-BIH calibration, the
names of the model inputs and the label sets are defined here and nowhere else. The C
side gets them from firmware/lib/tinyecg_core/include/tinyecg_spec.h, which is rendered
from this module (`tinyecg.export.spec_header`; a test keeps the committed header equal
to a fresh rendering).
"""

from __future__ import annotations

from typing import TypedDict

# --- sampling and the beat window -----------------------------------------------------
FS = 360  # Hz: MIT-BIH's rate, the device's rate; records at other rates are resampled
WINDOW = 360  # samples per beat window (1 s)
PRE_R = 180  # samples before the R-peak: a window is raw[r - PRE_R, r - PRE_R + WINDOW)

# --- RR context (tinyecg.dsp.rhythm, tinyecg_rr.h) --------------------------------------
LOCAL_BEATS = 8  # the local mean RR is over the last 8 intervals
DEFAULT_RR = FS  # the RR of a lone beat: 1 s

# --- the patient's own context (tinyecg.dsp.patient; docs/generalisation.md) -------------
# Kept by the device over minutes, so a model compares each beat with this patient's rhythm
# and morphology rather than with the training patients'. A: long-term mean RR, an
# exponential average with alpha 2^-8 after a warm-up running mean (about 256 beats, 3.5 min
# at 72 bpm); D: the same average of |pre_i - pre_(i-1)| with alpha 2^-5. Both are Q4.
LONGTERM_RR_SHIFT = 8
RR_IRREGULARITY_SHIFT = 5
PATIENT_Q = 4  # A and D hold 16 x samples
# Long-term features are clipped at 4 (an RR four times the patient's mean is a pause).
LONGTERM_FEATURE_CLIP = 4
# The template: the average of the patient's beats in the int8 beat-input domain (Q8), alpha
# 2^-5 after a warm-up running mean; a beat updates it unless premature, pre < 85 % of A (in
# the research, a stricter RR-regular gate froze the template where ectopy is frequent).
TEMPLATE_SHIFT = 5
TEMPLATE_Q = 8
TEMPLATE_MIN_PRE_PERCENT = 85
# A beat input holds the window alone (1 channel) or the window and the patient's template
# (2 channels, interleaved per sample, one quantization).
BEAT_CHANNELS = (1, 2)

# --- scoring ----------------------------------------------------------------------------
MATCH_WINDOW_S = 0.150  # ANSI/AAMI EC57: a detection matches a reference beat within 150 ms
MATCH_WINDOW = round(MATCH_WINDOW_S * FS)  # 54 samples

# --- MIT-BIH calibration: 11-bit ADC, adc_zero 1024, 200 counts per mV (every header) ----
MITDB_ADC_BASELINE = 1024
MITDB_ADC_GAIN = 200
MITDB_ADC_RANGE = (0, 2047)

# --- model inputs, by role (tinyecg.models.int8 finds each in a flatbuffer) ---------------
BEAT = "beat"  # the preprocessed window, WINDOW int8 values
RHYTHM = "rhythm"  # the RR features (tinyecg.dsp.rhythm.FEATURES)
# the shockable-rhythm model's only input: the front end's 8-s window, RHYTHM_WINDOW int8
# values (Keras input name "rhythm_window"; a name holding "rhythm" alone is the RR features)
RHYTHM_WINDOW_INPUT = "rhythm_window"
INPUT_ROLES = (BEAT, RHYTHM, RHYTHM_WINDOW_INPUT)

# --- tasks: what a model classifies, and the inputs a model of the task takes -------------
BEATS_TASK = "beats"  # one class per beat: a beat window and optionally the RR features
RHYTHM_TASK = "rhythm"  # one shockable/non-shockable decision per second of rhythm
TASKS = (BEATS_TASK, RHYTHM_TASK)


# --- label sets ---------------------------------------------------------------------------
class LabelSet(TypedDict):
    labels: list[str]  # the classes, in the model's output order
    map: dict[str, str]  # annotation symbol -> class


LABEL_SETS: dict[str, LabelSet] = {
    # the seed's five classes
    "nlrav": {
        "labels": ["N", "L", "R", "A", "V"],
        "map": {"N": "N", "L": "L", "R": "R", "A": "A", "V": "V"},
    },
    # ANSI/AAMI EC57 classes, in which inter-patient results are reported
    "aami": {
        "labels": ["N", "S", "V", "F", "Q"],
        "map": {
            "N": "N",
            "L": "N",
            "R": "N",
            "e": "N",
            "j": "N",
            "A": "S",
            "a": "S",
            "J": "S",
            "S": "S",
            "V": "V",
            "E": "V",
            "F": "F",
            "/": "Q",
            "f": "Q",
            "Q": "Q",
        },
    },
}
DEFAULT_LABEL_SET = "nlrav"
# a five-class (nlrav) prediction as an AAMI class, to score such a model on AAMI labels
NLRAV_TO_AAMI = {"N": "N", "L": "N", "R": "N", "A": "S", "V": "V"}

# Every annotation symbol that marks a beat (wfdb's beat codes); rhythm context is computed
# over all of them, as a detector would see every beat, not only the classes we label.
BEAT_SYMBOLS = frozenset("N L R B A a J S V r F e j n E / f Q ?".split())

# --- shockable-rhythm task (tinyecg.data.rhythm, tinyecg.dsp.rhythm_frontend,
# firmware/lib/tinyecg_rhythm) ------------------------------------------------------------
# The device decimates its 360 Hz stream by 4 to 90 Hz: VF energy lies below 10 Hz and the
# decimating FIR (cut-off 25 Hz) keeps it; 90 Hz quarters the work of every per-window step.
RHYTHM_DECIMATION = 4
RHYTHM_FS = FS // RHYTHM_DECIMATION  # 90 Hz
# One decision per second on the last 8 s: VF detectors are scored on 1-s steps (Amann et
# al. 2005); 8 s holds 8 beats of an NSR at 60 bpm, and in the research round 4-s windows
# cost TCSC 2.6 points of coarse-VF Se (91.8 vs 94.4 %, same NSR Sp; docs/rhythm.md); the
# price is up to 4 s more alarm latency.
RHYTHM_WINDOW_S = 8
RHYTHM_STEP_S = 1
RHYTHM_WINDOW = RHYTHM_WINDOW_S * RHYTHM_FS  # 720 samples at 90 Hz
# Windows start after 2 s of stream: the DC blocker (time constant 16 samples at 90 Hz) and
# the FIR (48 taps) have settled by then.
RHYTHM_WARMUP_S = 2
# VT is shockable at or above 150 bpm ("rapid VT"; AED studies use 150-180 bpm, Kerber 1997
# leaves the rate to the manufacturer); slower VT is reported apart, as an intermediate rhythm.
VT_SHOCKABLE_BPM = 150
# Kerber 1997: coarse VF >= 200 uV peak to peak (median 1-s peak to peak of the window);
# finer VF is an intermediate rhythm, reported but not in the goals.
COARSE_VF_UV = 200
# The device allows a shockable decision only when the median 1-s peak to peak of the window
# reaches the coarse-VF amplitude: asystole and fine noise are never shocked.
AMP_GATE_UV = 200
# Normalisation: q = 16 (y - mean) / max(std, 50 uV): 50 uV keeps asystole small without
# reaching coarse VF's amplitude.
RHYTHM_Q_PER_STD = 16
RHYTHM_STD_FLOOR_UV = 50
# An alarm after 3 consecutive shockable decisions (research: N = 3 gave a median 6 s
# latency with 10 false alarms on 44 MIT-BIH records, N = 1 four times as many).
ALARM_CONSECUTIVE = 3
# The rhythm model: outputs [non-shockable, shockable]; its input is the front end's int8
# window as it is, so its quantization is pinned to scale 1/RHYTHM_Q_PER_STD, zero point 0
# (tinyecg.stages.rhythm_train.pinned_representative); the export refuses any other.
RHYTHM_LABELS = ("non-shockable", "shockable")
SHOCKABLE_OUTPUT = 1
RHYTHM_INPUT_ZERO_POINT = 0
# A training window takes the majority rhythm when it covers >= 75 % of it; scored windows
# hold one rhythm only.
RHYTHM_TRAIN_MAJORITY = 0.75
