"""The firmware core's beat assembly (tinyecg_beats.c with tinyecg_app.c) restated in
Python, to check the C's beats and RR context against its rules."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.spec import DEFAULT_RR, LOCAL_BEATS, PRE_R, WINDOW

BEAT_TIMEOUT = 1480  # TINYECG_BEAT_TIMEOUT: 2 s + the detector's worst report delay
BEATS_RING = 2048  # TINYECG_BEATS_RING: raw samples the core keeps
BEATS_PENDING = 16  # TINYECG_BEATS_PENDING


@dataclass
class DeviceBeats:
    r: np.ndarray  # int64 (n,) R-peaks of the beats the device classifies
    rr: np.ndarray  # int64 (n, 4): pre_rr, post_rr, local_rr_sum, local_rr_count
    done_at: np.ndarray  # int64 (n,) sample count when each beat completed
    skipped: int  # peaks that kept their RR place but gave no beat
    # every peak of the RR sequences in the order it left the core's queue (returned beats
    # and skipped ones): its pre (the substituted one for a first beat) and whether that pre
    # is a real interval; the patient's long-term RR state follows them (tinyecg_beats.c)
    seq_pre: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seq_has_pre: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    seq_beat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # beat or -1


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
    out_r: list[int] = []
    out_rr: list[tuple[int, int, int, int]] = []
    out_t: list[int] = []
    seq: list[tuple[int, bool, int]] = []  # pre, has_pre, index of the returned beat or -1

    def drain(n: int, final: bool) -> None:
        while queue:
            p = queue[0]
            nxt = queue[1] if len(queue) > 1 and queue[1][1] >= 0 else None
            if n < p[0] + (WINDOW - PRE_R):
                if not final:
                    return
                state["skipped"] += 1
                queue.popleft()
                seq.append((max(p[1], 1), p[1] >= 0, -1))
                continue
            if (
                nxt is None
                and len(queue) == 1
                and state["have_last"]
                and state["last_r"] == p[0]
                and n < p[0] + BEAT_TIMEOUT
                and not final
            ):
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
            usable = p[0] >= PRE_R and n - (p[0] - PRE_R) <= BEATS_RING
            seq.append((pre, p[1] >= 0, len(out_r) if usable else -1))
            if usable:
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
    return DeviceBeats(
        np.asarray(out_r, np.int64),
        np.asarray(out_rr, np.int64).reshape(-1, 4),
        np.asarray(out_t, np.int64),
        state["skipped"],
        np.asarray([s[0] for s in seq], np.int64),
        np.asarray([s[1] for s in seq], bool),
        np.asarray([s[2] for s in seq], np.int64),
    )


def windows_at(samples, r) -> np.ndarray:
    """int16 (n, 360) windows samples[r-180 : r+180] (every r must have a full window)."""
    x = np.asarray(samples)
    r = np.asarray(r, np.int64)
    if len(r) and (r.min() < PRE_R or r.max() + WINDOW - PRE_R > len(x)):
        raise TinyECGError("a window reaches outside the signal")
    if len(r) == 0:
        return np.zeros((0, WINDOW), np.int16)
    return x[(r - PRE_R)[:, None] + np.arange(WINDOW)[None, :]].astype(np.int16)
