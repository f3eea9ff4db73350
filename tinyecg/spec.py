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
INPUT_ROLES = (BEAT, RHYTHM)

# --- label sets ---------------------------------------------------------------------------
class LabelSet(TypedDict):
    labels: list[str]  # the classes, in the model's output order
    map: dict[str, str]  # annotation symbol -> class


LABEL_SETS: dict[str, LabelSet] = {
    # the seed's five classes
    "nlrav": {"labels": ["N", "L", "R", "A", "V"],
              "map": {"N": "N", "L": "L", "R": "R", "A": "A", "V": "V"}},
    # ANSI/AAMI EC57 classes, in which inter-patient results are reported
    "aami": {"labels": ["N", "S", "V", "F", "Q"],
             "map": {"N": "N", "L": "N", "R": "N", "e": "N", "j": "N",
                     "A": "S", "a": "S", "J": "S", "S": "S",
                     "V": "V", "E": "V", "F": "F", "/": "Q", "f": "Q", "Q": "Q"}},
}
DEFAULT_LABEL_SET = "nlrav"
# a five-class (nlrav) prediction as an AAMI class, to score such a model on AAMI labels
NLRAV_TO_AAMI = {"N": "N", "L": "N", "R": "N", "A": "S", "V": "V"}

# Every annotation symbol that marks a beat (wfdb's beat codes); rhythm context is computed
# over all of them, as a detector would see every beat, not only the classes we label.
BEAT_SYMBOLS = frozenset("N L R B A a J S V r F e j n E / f Q ?".split())
