"""Integer reference of the firmware's signal-quality index (tinyecg_quality.c), bit for bit.

The device must know when it cannot read the ECG. The index compares, over the last second,
the noise it can see with the QRS amplitude it saw on good signal, in the spirit of the
MIT-BIH Noise Stress Test's SNR (QRS peak-to-peak amplitude against noise RMS;
tinyecg.data.noise) and of the statistical signal-quality indices of Li, Mark & Clifford
(Physiol. Meas. 29:15-32, 2008), Clifford, Behar, Li & Rezek (Physiol. Meas. 33:1419-1433,
2012) and Behar et al. (IEEE TBME 60:1660-1666, 2013): a high-frequency power index (their
pSQI / hfSQI family), a baseline index (basSQI) and an amplitude / saturation check (as the
PhysioNet/CinC 2011 entries did), each reduced to what a Cortex-M does in a few instructions
per sample. Template-matching indices (tSQI, Orphanidou et al. 2015) were measured and left
out: on clean MIT-BIH they flag ectopic beats (bigeminy, paced and multiform records) as
noise, 8-40 % of the beats of 102, 104, 119, 203, 208, 233.

Every 0.1 s sub-block (SUB = 36 samples, boundaries at multiples of 36 from the first sample)
the core accumulates, on the samples the detector sees:

* ``hf``: sum of ``|x[n] - 2 x[n-1] + x[n-2]|`` (second difference: gain ``4 sin^2(pi f/fs)``,
  0.03 at 10 Hz, 1 at 60 Hz: muscle noise passes, P and T waves do not);
* ``sum``, ``lo``, ``hi``: sum, minimum and maximum of the samples; ``rail``: samples at the
  ADC's ends.

At the end of sub-block k the one-second segment k-9..k is scored:

* ``H`` = fourth smallest ``hf`` of the ten: the high-frequency floor between QRS complexes
  (a QRS fills at most two or three sub-blocks at resting rates, so its own slope is not
  counted);
* ``B`` = range of the baseline over the segment, the baseline of a sub-block being the
  median of the sums of the last seven sub-blocks (0.7 s: wider than a QRS + T wave, so it
  follows the isoelectric level, the way a median baseline filter does);
* ``A`` = largest peak-to-peak amplitude of two adjacent sub-blocks (0.2 s spans a QRS);
* ``R`` = railed samples in the segment.

``A_ref``, the reference QRS amplitude, is the median of the last eight values ``max(A, A of
the second before)`` taken at one-second steps on segments that were not poor. It starts from
the first segment's A alone and, in the first eight seconds after init or a relearn, learns
from every second (the median of those learnt so far): a first second without a whole QRS
(a record that starts in a pause or mid-beat) must not make the seconds after it look poor.
After ``POOR_RELEARN`` scored segments of poor signal it is updated anyway, so a real change
of amplitude is learnt. The score is the largest of ``H / (TH_H A_ref)``, ``B / (TH_B A_ref)``,
``A / (TH_A A_ref)`` and ``R / RAIL_MIN``, in Q8 (256 = the threshold), saturated at 65535. A
segment with score >= 256 is poor. A beat at R-peak r is unreadable when the segment that
ends with sub-block ``r // 36 + 4`` (the second centred on r, its classifier window) is poor.
The segment state printed by the device (``# quality poor`` / ``# quality ok``) turns poor at
the first poor segment and ok after ``OK_RUN`` sub-blocks in a row that are not.

All arithmetic is integer: sums in int32 (36 x 65535), products and divisions in int64,
divisions floor non-negative values, the median of an even count is the floored mean of the
two middle values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

SUB = 36  # samples per sub-block: 0.1 s at 360 Hz
SEG = 10  # sub-blocks per scored segment: 1 s
BASE_MEDIAN = 7  # sub-block sums in the baseline median: 0.7 s
HF_RANK = 3  # H is the (HF_RANK+1)-th smallest hf of the segment
REF_HIST = 8  # A values in the A_ref median
RING = 50  # scores kept (sub-blocks): 5 s; a beat is looked up within 48 (C only)
SCORE_ONE = 256  # the threshold in Q8
SCORE_MAX = 32767  # scores are kept in 15 bits (the 16th holds the state)
STRIDE = 2  # a segment is scored every second sub-block (0.2 s)


@dataclass(frozen=True)
class QualityParams:
    """Thresholds (the C's TINYECG_Q_* macros); ratios in Q8 of A_ref (256 = 1.0)."""

    th_h: int = 260  # H > 1.02 A_ref (H is a sum over 36 samples)
    th_b: int = 140  # B > 0.55 A_ref (B in amplitude units: range of sums / 36)
    th_a: int = 1024  # A > 4 A_ref
    rail_min: int = 2  # 2 sub-blocks of a second at the ADC's ends
    grey: int = 160  # a doubtful segment: score >= 160 ...
    early: int = 8  # ... and RR before or after under 8/10 of the local mean RR
    poor_relearn: int = 50  # scored segments of poor signal after which A_ref learns anyway
    ok_run: int = 5  # scored segments not poor before "# quality ok"


DEFAULT = QualityParams()


def _windows(v: np.ndarray, w: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(v, w)


def subblock_features(x, adc_min: int = -32768, adc_max: int = 32767) -> dict:
    """Per complete sub-block: hf, sum, lo, hi and rail (1 when it reached an ADC end), int64
    arrays. The samples before the first count as 0 in the second difference."""
    x = np.asarray(x, dtype=np.int64)
    n = len(x) // SUB * SUB
    prev1 = np.r_[0, x[:-1]][: len(x)]
    prev2 = np.r_[0, 0, x[:-2]][: len(x)]
    d2 = np.abs(x - 2 * prev1 + prev2)
    xs = x[:n].reshape(-1, SUB)
    lo, hi = xs.min(1), xs.max(1)
    return {
        "hf": d2[:n].reshape(-1, SUB).sum(1),
        "sum": xs.sum(1),
        "lo": lo,
        "hi": hi,
        "rail": ((lo <= adc_min) | (hi >= adc_max)).astype(np.int64),
    }


def segment_features(sb: dict) -> dict:
    """H, B (in sum units), A, R of the segment ending at every sub-block k >= SEG-1 (entries
    below SEG-1 are 0 and never used)."""
    k = len(sb["hf"])
    out = {name: np.zeros(k, np.int64) for name in ("H", "B", "A", "R", "base")}
    if k == 0:
        return out
    sums = np.r_[np.full(BASE_MEDIAN - 1, sb["sum"][0]), sb["sum"]]
    base = np.sort(_windows(sums, BASE_MEDIAN), axis=1)[:, BASE_MEDIAN // 2]
    out["base"] = base
    if k < SEG:
        return out
    out["H"][SEG - 1 :] = np.sort(_windows(sb["hf"], SEG), axis=1)[:, HF_RANK]
    bw = _windows(base, SEG)
    out["B"][SEG - 1 :] = bw.max(1) - bw.min(1)
    pair = np.maximum(sb["hi"][1:], sb["hi"][:-1]) - np.minimum(sb["lo"][1:], sb["lo"][:-1])
    out["A"][SEG - 1 :] = _windows(pair, SEG - 1).max(1)  # pairs (j-1, j), j = k-8..k
    out["R"][SEG - 1 :] = _windows(sb["rail"], SEG).sum(1)
    return out


def _ratio_q8(x: int, th: int, den: int) -> int:
    """x over the threshold th (Q8 of den), in Q8: x * 256 // max(1, th * den >> 8), capped
    (the C's 32-bit unsigned ratio_q8)."""
    return min((x << 8) // max(1, (th * den) >> 8), SCORE_MAX)


def _median(v: list[int]) -> int:
    """The C's median of the reference values learnt: the middle one, or the floored mean of
    the two middle ones."""
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2


def score_segments(feat: dict, params: QualityParams = DEFAULT, breaks_k=()) -> dict:
    """The sequential part: A_ref, scores and the printed state, per sub-block.
    breaks_k: sub-block indices k such that a relearn happened before sub-block k completed
    (the first sub-block that completes after it)."""
    p = params
    n = len(feat["H"])
    score = np.zeros(n, np.int64)
    aref_out = np.zeros(n, np.int64)
    state = np.zeros(n, np.int64)
    scored = np.zeros(n, bool)
    brk = set(int(b) for b in breaks_k)
    fill = 0
    hist: list[int] = []
    hist_i = 0
    a_prev = 0
    poor_run = 0
    st = 0
    good_run = 0
    for k in range(n):
        if k in brk:
            fill, poor_run, st, good_run = 0, 0, 0, 0
        fill += 1
        if fill < SEG or k < SEG - 1:
            state[k] = st
            continue
        if (fill - SEG) % STRIDE:  # not scored: the last score and state stand
            score[k], aref_out[k], state[k], scored[k] = score[k - 1], aref_out[k - 1], st, False
            continue
        a = int(feat["A"][k])
        if fill == SEG:
            hist, hist_i, a_prev = [a], 1, a
        aref = max(_median(hist), 1)
        sc = max(
            _ratio_q8(int(feat["H"][k]), p.th_h, aref),
            _ratio_q8(int(feat["B"][k]), p.th_b, aref * SUB),
            _ratio_q8(a, p.th_a, aref),
            (int(feat["R"][k]) << 8) // p.rail_min,
        )
        sc = min(sc, SCORE_MAX)
        poor = sc >= SCORE_ONE
        poor_run = poor_run + 1 if poor else 0
        learning = len(hist) < REF_HIST
        if (
            (fill - SEG) % SEG == 0
            and fill > SEG
            and (learning or not poor or poor_run >= p.poor_relearn)
        ):
            if learning:
                hist.append(max(a, a_prev))
            else:
                hist[hist_i] = max(a, a_prev)
            hist_i = (hist_i + 1) % REF_HIST
        if (fill - SEG) % SEG == 0:
            a_prev = a
        if poor:
            st, good_run = 1, 0
        else:
            good_run += 1
            if st and good_run >= p.ok_run:
                st = 0
        score[k], aref_out[k], state[k], scored[k] = sc, aref, st, True
    return {"score": score, "aref": aref_out, "state": state, "scored": scored}


def quality(
    x, adc_min: int = -32768, adc_max: int = 32767, breaks=(), params: QualityParams = DEFAULT
) -> dict:
    """Everything the core computes from samples x (as they came, railed ones included), with
    relearns before the samples in breaks: per sub-block features, A_ref, score and printed
    state. Returns a dict of int64 arrays (one entry per complete sub-block)."""
    sb = subblock_features(x, adc_min, adc_max)
    feat = segment_features(sb)
    # a relearn before sample b: the first sub-block completing after it is b // SUB
    # (a sub-block completes with its last sample; one completing exactly at b-1 is before)
    out = score_segments(feat, params, [int(b) // SUB for b in breaks])
    out.update(sb)
    out.update(feat)
    return out


def beat_scores(q: dict, r, what: str = "score") -> np.ndarray:
    """Score (what="score") or poor state (what="state") of the beat at each R-peak r: that
    of the segment ending with sub-block r // 36 + 4, the second centred on r (0 where it
    does not exist). A beat is unreadable where the state is 1."""
    r = np.asarray(r, np.int64)
    s = q[what]
    k = r // SUB + 4
    ok = (k >= 0) & (k < len(s))
    out = np.zeros(len(r), np.int64)
    out[ok] = s[k[ok]]
    return out


def beat_flags(q: dict, r, rr, params: QualityParams = DEFAULT) -> np.ndarray:
    """Which beats the core reports unreadable (U lines): the state was poor at the beat's
    segment, or that segment is doubtful (score >= grey) and the beat is early or followed
    early: min(pre_rr, post_rr) * 10 * local_count < early * local_sum. rr: (n, 4) pre,
    post, local sum, local count as the core computes them (tinyecg_rr.h)."""
    rr = np.asarray(rr, np.int64).reshape(-1, 4)
    state = beat_scores(q, r, "state") > 0
    score = beat_scores(q, r, "score")
    shortest = np.minimum(rr[:, 0], rr[:, 1])
    early = shortest * 10 * rr[:, 3] < params.early * rr[:, 2]
    return state | ((score >= params.grey) & early)


def param_names() -> list[str]:
    return [f.name for f in fields(QualityParams)]


# --- what the core's index sees (tinyecg_app.c's lead-off and flat monitor) ----------------

RAIL_RUN = 90  # TINYECG_RAIL_RUN: railed samples that make a lead-off
RECOVER = 360  # TINYECG_RECOVER: unrailed samples that end it
FLAT_BLOCK = 360  # TINYECG_FLAT_BLOCK


def pauses(x, adc_min: int, adc_max: int, flat_tolerance: int = 2) -> np.ndarray:
    """The samples before which the index restarts in tinyecg_app.c: every sample of a
    lead-off or flat episode, and the one at which "# signal ok" comes (the app's lead-off
    and flat monitor, replayed). x must already lie in [adc_min, adc_max] (the core holds
    out-of-range input)."""
    x = np.asarray(x, dtype=np.int64)
    railed = (x <= adc_min) | (x >= adc_max)
    n = len(x)
    nb = n // FLAT_BLOCK
    blocks = x[: nb * FLAT_BLOCK].reshape(-1, FLAT_BLOCK)
    may_flat = bool(np.any(blocks.max(1) - blocks.min(1) <= flat_tolerance)) if nb else False
    if not railed.any() and not may_flat:
        return np.zeros(0, np.int64)
    breaks = []
    lead_off = flat = False
    rail_run = good_run = 0
    blk_len, blk_min, blk_max, blk_railed = 0, 0, 0, False
    for i in range(n):
        v = int(x[i])
        r = bool(railed[i])
        back = False
        if r:
            rail_run += 1
            good_run = 0
            if not lead_off and rail_run >= RAIL_RUN:
                lead_off = True
        else:
            rail_run = 0
            if lead_off:
                good_run += 1
                if good_run >= RECOVER:
                    lead_off, good_run, back = False, 0, True
        if blk_len == 0 or v < blk_min:
            blk_min = v
        if blk_len == 0 or v > blk_max:
            blk_max = v
        blk_railed = blk_railed or r
        blk_len += 1
        if blk_len == FLAT_BLOCK:
            is_flat = blk_max - blk_min <= flat_tolerance
            if not blk_railed and not lead_off:
                if is_flat and not flat:
                    flat = True
                elif not is_flat and flat:
                    flat, back = False, True
            blk_len, blk_railed = 0, False
        if back or lead_off or flat:
            breaks.append(i)
    return np.asarray(breaks, np.int64)


def device_quality(
    x, adc_min: int, adc_max: int, flat_tolerance: int = 2, params: QualityParams = DEFAULT
) -> dict:
    """quality() of a record replayed to the core in one go (no input gaps)."""
    return quality(x, adc_min, adc_max, pauses(x, adc_min, adc_max, flat_tolerance), params)
