"""Which ops take the fast kernels of tinyecg_nn_fast.h, and the tables only they need.

* tinyecg_nn_conv_1_x_n: CONV_2D whose input and filter are one row high (every convolution
  of the tinyecg models: a beat is a 1 x 360 image, filters are (1, k)), int8 weights with
  zero point 0, dilation 1, and a bias that folds (below).
* tinyecg_nn_fully_connected_folded: FULLY_CONNECTED with weight zero point 0 and a bias that
  folds.
* Folding: bias + sum w * (x - zp) = (bias - zp * sum w) + sum w * x, accepted when
  |folded bias| + 128 * sum |w| < 2^30 for every channel, so that no partial sum, nor twice
  the total (the one-multiply requantization doubles it), leaves int32.
* One-multiply requantization (tinyecg_nn_requantize_one_multiply) when every channel has a
  multiplier > 0, a shift in [-30, -1] and |2^(r-1) + out_zp * 2^r| < 2^30 (r = -shift).
* SMLAD lane order of the conv weights (the DSP build's int16 copy): per channel pair (u, v)
  and group of 4 taps, u0 u2 v0 v2 u1 u3 v1 v3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyecg.models.tflite import Op, TFLiteModel
from tinyecg.quantmath import quantize_multiplier

FOLD_LIMIT = 1 << 30


def round4(n: int) -> int:
    """n rounded up to a multiple of 4 (whole words of int8)."""
    return -(-n // 4) * 4


def folded_bias(bias, w_rows, in_zp: int) -> list[int] | None:
    """bias - in_zp * sum(w) per output channel (Python ints), or None when that, plus the
    largest possible sum of w * x over int8 inputs, could reach 2^30."""
    folded = []
    for c, row in enumerate(w_rows):
        row = [int(v) for v in row]
        b = (int(bias[c]) if bias is not None else 0) - in_zp * sum(row)
        if abs(b) + 128 * sum(abs(v) for v in row) >= FOLD_LIMIT:
            return None
        folded.append(b)
    return folded


@dataclass
class RowConv:
    """A CONV_2D that runs in tinyecg_nn_conv_1_x_n."""

    taps: int  # k_w * in_c
    taps4: int  # rounded up to whole words
    rows: np.ndarray  # [out_c][taps] int8: the flatbuffer's OHWI rows
    folded: list[int]  # bias with the input zero point folded in

    @property
    def scratch_bytes(self) -> int:
        """Two input columns as int16 (TINYECG_NN_CONV_1_X_N_SCRATCH_BYTES)."""
        return 4 * self.taps4


def row_conv(model: TFLiteModel, op: Op) -> RowConv | None:
    """RowConv when op is a CONV_2D tinyecg_nn_conv_1_x_n can run, else None (the generic
    kernel; its lowering also reports graphs that are wrong)."""
    if op.opcode != "CONV_2D" or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return None
    inp, w = model.tensors[op.inputs[0]], model.tensors[op.inputs[1]]
    bias = model.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    if (
        len(inp.shape) != 4
        or len(w.shape) != 4
        or w.data is None
        or w.dtype != "INT8"
        or not inp.is_quantized
        or inp.dtype != "INT8"
        or inp.per_channel
        or any(z != 0 for z in w.zero_points)
        or (bias is not None and (bias.data is None or bias.dtype != "INT32"))
    ):
        return None
    if int(inp.shape[1]) != 1 or int(w.shape[1]) != 1 or int(w.shape[3]) != int(inp.shape[3]):
        return None
    if (op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1)) != (1, 1):
        return None
    oc = int(w.shape[0])
    taps = int(w.shape[2]) * int(w.shape[3])
    rows = np.asarray(w.data).reshape(oc, taps)
    folded = folded_bias(
        None if bias is None else np.asarray(bias.data).reshape(-1), rows, int(inp.zero_point or 0)
    )
    return None if folded is None else RowConv(taps, round4(taps), rows, folded)


def scratch_bytes(model: TFLiteModel, op: Op) -> int:
    """Arena scratch the op's kernel needs (0 for all but tinyecg_nn_conv_1_x_n)."""
    row = row_conv(model, op)
    return row.scratch_bytes if row else 0


def smlad_weights(rows: np.ndarray, taps4: int) -> np.ndarray:
    """[pairs][2 * taps4] int16: channel pairs (u, v) (an odd last channel pairs with
    itself), taps zero-padded to taps4, per group of 4 taps u0 u2 v0 v2 u1 u3 v1 v3."""
    oc, taps = rows.shape
    pairs = (oc + 1) // 2
    padded = np.zeros((2 * pairs, taps4), np.int16)
    padded[:oc, :taps] = rows
    padded[oc:] = padded[oc - 1]
    g = padded.reshape(pairs, 2, taps4 // 4, 2, 2)  # pair, u/v, group, t // 2, t % 2
    return g.transpose(0, 2, 4, 1, 3).reshape(pairs, 2 * taps4)


def interior_columns(
    out_w: int, stride: int, pad: int, in_w: int, in_c: int, taps4: int
) -> tuple[int, int]:
    """[first, end) of the output columns whose taps4 input values all lie inside the row
    (read in place); the others gather their taps with the zero point for the padding."""
    inside = [
        x
        for x in range(out_w)
        if x * stride - pad >= 0 and (x * stride - pad) * in_c + taps4 <= in_w * in_c
    ]
    first, end = (inside[0], inside[-1] + 1) if inside else (0, 0)
    assert inside == list(range(first, end))
    return first, end


def one_multiply_adds(reals: list[float], out_zp: int) -> list[tuple[int, int]] | None:
    """(add, r) per channel for tinyecg_nn_requantize_one_multiply: add = 2^(r-1) +
    out_zp * 2^r with r = -shift, or None when a channel does not qualify (then the output
    stage takes TFLite's two-step MultiplyByQuantizedMultiplier)."""
    out = []
    for real in reals:
        m, sh = quantize_multiplier(real)
        r = -sh
        if m <= 0 or not 1 <= r <= 30:
            return None
        add = (1 << (r - 1)) + out_zp * (1 << r)
        if abs(add) >= FOLD_LIMIT:
            return None
        out.append((add, r))
    return out
