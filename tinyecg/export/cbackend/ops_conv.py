"""CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED -> kernel parameters, with every check and
all the multiplier maths (TFLite's Prepare: input scale * weight scale / output scale per
channel, in double, through tinyecg.quantmath.quantize_multiplier)."""

from __future__ import annotations

import numpy as np

from tinyecg.errors import TinyECGError
from tinyecg.export.cbackend import fast
from tinyecg.export.cbackend.params import (
    Call,
    Conv1xNParams,
    ConvParams,
    DepthwiseConvParams,
    Field,
    FullyConnectedFoldedParams,
    FullyConnectedParams,
    LoweredOp,
    OutputStage,
    Table,
)
from tinyecg.export.cbackend.tflite_rules import (
    Graph,
    activation_range,
    fmt_scale,
    out_size,
    padding_before,
)
from tinyecg.models.tflite import Op
from tinyecg.quantmath import quantize_multiplier


def _requant_tables(
    name: str, reals, labels: str, in_scale: float, w_scales, out_scale: float
) -> tuple[Table, Table]:
    mults, shifts, notes = [], [], []
    for c, (real, sw) in enumerate(zip(reals, w_scales)):
        m, s = quantize_multiplier(real)
        mults.append(m)
        shifts.append(s)
        notes.append(
            f"{labels}{c}: {fmt_scale(in_scale)} * {fmt_scale(sw)} / "
            f"{fmt_scale(out_scale)} = {real:.6e}"
        )
    mult = Table(
        "int32_t",
        f"{name}_mult",
        np.array(mults),
        [
            "output multipliers, Q31: real scale = mult * 2^(shift - 31),",
            "real scale = input scale * weight scale / output scale (TFLite QuantizeMultiplier)",
        ],
        per_line=1,
        line_comments=notes,
    )
    shift = Table(
        "int8_t",
        f"{name}_shift",
        np.array(shifts),
        ["output shifts: > 0 shifts left before the multiply, < 0 rounds right after it"],
        per_line=24,
    )
    return mult, shift


def _folded_bias_table(name: str, folded, bias, rows, in_zp: int, labels: str) -> Table:
    notes = [
        f"{labels}{c}: {int(bias[c]) if bias is not None else 0} - ({in_zp}) * "
        f"{int(np.asarray(rows[c], np.int64).sum())}"
        for c in range(len(folded))
    ]
    return Table(
        "int32_t",
        f"{name}_bias",
        np.array(folded, np.int64),
        [
            "bias with the input zero point folded in: bias - zp * (sum of the channel's "
            "weights), so",
            "the kernel sums w * x (TFLite: bias + sum w * (x - zp); no bias: 0)",
        ],
        per_line=1,
        line_comments=notes,
    )


def _output_stage(
    name: str,
    tables: list[Table],
    reals,
    in_scale,
    w_scales,
    out,
    act: str,
    act_min: int,
    act_max: int,
    labels: str,
) -> OutputStage:
    """The multiplier, shift and (if every channel allows it) one-multiply tables of a fast
    kernel, appended to tables, and the output stage that points at them."""
    mult, shift = _requant_tables(name, reals, labels, in_scale, w_scales, out.scale)
    tables += [mult, shift]
    adds = fast.one_multiply_adds(reals, out.zero_point)
    add = None
    if adds is not None:
        add = Table(
            "int32_t",
            f"{name}_add",
            np.array([a for a, _ in adds]),
            [
                "rounding and output zero point of the one-multiply requantization:",
                "2^(r-1) + out_zp * 2^r, r = -shift",
            ],
            per_line=1,
            line_comments=[
                f"{labels}{c}: 2^{r - 1} + ({out.zero_point}) * 2^{r}"
                for c, (_, r) in enumerate(adds)
            ],
        )
        tables.append(add)
    return OutputStage(
        out_zp=Field(out.zero_point, f"output zero point; output scale {fmt_scale(out.scale)}"),
        act_min=Field(act_min, f"{act} clamp, output units"),
        act_max=Field(act_max, f"{act} clamp, output units"),
        one_multiply=Field(
            int(add is not None),
            "1: one rounding multiply"
            if add is not None
            else "0: a shift outside [-30, -1] (MultiplyByQuantizedMultiplier)",
        ),
        mult=Field(mult, "Q31 multipliers"),
        shift=Field(shift, "their shifts"),
        add=Field(add, "their rounding + zero point constants"),
    )


def _bias_table(name: str, bias, n: int, what: str) -> Table | None:
    if bias is None:
        return None
    return Table(
        "int32_t",
        f"{name}_bias",
        np.asarray(bias.data).reshape(-1),
        [f"{bias.name!r} [{n}]: int32, zero point 0, scale = input scale * {what}"],
        per_line=8,
    )


def conv_2d(g: Graph, op: Op, depthwise: bool = False) -> LoweredOp:
    where = g.where(op)
    inp, out = g.input(op), g.output(op)
    w = g.constant(op, g.tensor(op, 1, "filter"), "filter", "INT8")
    bias = g.optional(op, 2)
    if any(z != 0 for z in w.zero_points):
        raise TinyECGError(f"{where}: filter {w.name!r} has a nonzero zero point")
    if bias is not None:
        g.constant(op, bias, "bias", "INT32")
    _, ih, iw, ic = g.shape4(inp, op)
    _, oh, ow, oc = g.shape4(out, op)
    if len(w.shape) != 4:
        raise TinyECGError(f"{where}: filter {w.name!r} {list(w.shape)} is not 4-D")
    o = op.options
    dil = (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
    if dil != (1, 1):
        raise TinyECGError(
            f"{where}: dilation {dil[0]}x{dil[1]} is not supported (dilation 1 only)"
        )
    sh, sw, padding = o["stride_h"], o["stride_w"], o["padding"]
    if padding not in ("SAME", "VALID") or sh < 1 or sw < 1:
        raise TinyECGError(f"{where}: padding {padding} / stride {sh}x{sw} not supported")
    if depthwise:
        if w.shape[0] != 1:
            raise TinyECGError(
                f"{where}: depthwise filter {list(w.shape)} must be [1, kh, kw, channels]"
            )
        kh, kw, wc = (int(d) for d in w.shape[1:])
        dm = o.get("depth_multiplier", 0) or (wc // ic)
        if wc != oc or oc != ic * dm:
            raise TinyECGError(
                f"{where}: depthwise filter {list(w.shape)} does not match "
                f"input channels {ic} x multiplier {dm} = {oc}"
            )
        qdim_ok = w.quantized_dimension == 3
    else:
        wo, kh, kw, wi = (int(d) for d in w.shape)
        if wo != oc:
            raise TinyECGError(
                f"{where}: filter {list(w.shape)} has {wo} output channels, output has {oc}"
            )
        if wi != ic:
            raise TinyECGError(
                f"{where}: grouped convolution (filter depth {wi}, input "
                f"depth {ic}) is not supported"
            )
        dm, qdim_ok = 1, w.quantized_dimension == 0
    if w.per_channel and (len(w.scales) != oc or not qdim_ok):
        raise TinyECGError(
            f"{where}: filter {w.name!r} has {len(w.scales)} scales on "
            f"dimension {w.quantized_dimension} for {oc} output channels"
        )
    expect = (out_size(padding, ih, kh, sh), out_size(padding, iw, kw, sw))
    if expect != (oh, ow):
        raise TinyECGError(
            f"{where}: output {oh}x{ow} but {padding} padding with stride "
            f"{sh}x{sw} gives {expect[0]}x{expect[1]}"
        )
    pad_h, pad_w = padding_before(ih, kh, sh, oh), padding_before(iw, kw, sw, ow)
    act = o.get("fused_activation_function", "NONE")
    act_min, act_max = activation_range(act, out.scale, out.zero_point, where)
    w_scales = list(w.scales) if w.per_channel else [w.scales[0]] * oc
    # kernel_util.cc PopulateConvolutionQuantizationParams: per channel, in double
    reals = [inp.scale * s / out.scale for s in w_scales]
    name = f"op{op.index}"
    shape = f"{list(inp.shape)} -> {list(out.shape)}, {kh}x{kw} filter"
    row = None if depthwise else fast.row_conv(g.model, op)
    if row is not None:
        tables: list[Table] = []
        weights = [
            Table(
                "int8_t",
                f"{name}_weights",
                row.rows.reshape(-1),
                [
                    f"{w.name!r} {list(w.shape)}: int8 OHWI, a row of k_w * in_c = {row.taps} "
                    f"taps per output channel,",
                    "zero point 0, scale per output channel (with the multipliers below)",
                ],
                build="portable",
            ),
            _smlad_table(name, row, oc),
        ]
        tables += weights
        b = None if bias is None else np.asarray(bias.data).reshape(-1)
        tables.append(_folded_bias_table(name, row.folded, b, row.rows, inp.zero_point, "c"))
        stage = _output_stage(
            name, tables, reals, inp.scale, w_scales, out, act, act_min, act_max, "c"
        )
        first, end = fast.interior_columns(ow, sw, pad_w, iw, ic, row.taps4)
        row_params = Conv1xNParams(
            in_w=Field(iw, "input columns"),
            in_c=Field(ic, "input channels"),
            out_w=Field(ow, "output columns"),
            out_c=Field(oc, "output channels"),
            stride=Field(sw, "stride along the row"),
            pad=Field(pad_w, f"{padding} padding columns before the first input column"),
            taps=Field(row.taps, f"k_w * in_c = {kw} * {ic}"),
            taps4=Field(row.taps4, "taps rounded up to whole words (weight row length)"),
            interior_first=Field(
                first, "first output column whose taps4 inputs are all inside the input"
            ),
            interior_end=Field(end, "one past the last such column"),
            in_zp=Field(
                inp.zero_point,
                f"input zero point (padding value); input scale {fmt_scale(inp.scale)}",
            ),
            weights=Field(weights[0], "filter rows (int16 blocks in the SMLAD build)"),
            bias=Field(tables[2], "bias with the input zero point folded in"),
            out=stage,
        )
        title = (
            f"CONV_2D {out.name!r}: {shape}, stride {sw}, {padding}, {act} (one row: "
            f"{row_params.KERNEL})"
        )
        return LoweredOp(
            op.index,
            op.opcode,
            title,
            tables,
            [(name, row_params)],
            [Call(row_params.KERNEL, name, op.inputs[0], op.outputs[0], scratch=True)],
        )
    layout = "[1][k_h][k_w][out_c] (1HWO)" if depthwise else "[out_c][k_h][k_w][in_c] (OHWI)"
    wt = Table(
        "int8_t",
        f"{name}_weights",
        np.asarray(w.data).reshape(-1),
        [
            f"{w.name!r} {list(w.shape)}: int8 {layout}, zero point 0,",
            "scale per output channel (listed with the multipliers below)",
        ],
    )
    bt = _bias_table(name, bias, oc, "weight scale of the channel")
    mult, shift = _requant_tables(name, reals, "c", inp.scale, w_scales, out.scale)
    tables = [t for t in (wt, bt, mult, shift) if t is not None]
    common = dict(
        in_h=Field(ih, "input height"),
        in_w=Field(iw, "input width"),
        in_c=Field(ic, "input channels"),
        out_h=Field(oh, "output height"),
        out_w=Field(ow, "output width"),
        out_c=Field(oc, "output channels"),
        k_h=Field(kh, "filter height"),
        k_w=Field(kw, "filter width"),
        stride_h=Field(sh, "stride"),
        stride_w=Field(sw, "stride"),
        pad_h=Field(pad_h, f"{padding} padding rows before the first input row"),
        pad_w=Field(pad_w, f"{padding} padding columns before the first input column"),
        in_offset=Field(
            -inp.zero_point, f"-(input zero point); input scale {fmt_scale(inp.scale)}"
        ),
        out_offset=Field(out.zero_point, f"output zero point; output scale {fmt_scale(out.scale)}"),
        act_min=Field(act_min, f"{act} clamp, output units"),
        act_max=Field(act_max, f"{act} clamp, output units"),
        weights=Field(wt, "int8 filter"),
        bias=Field(bt, "int32 bias"),
        mult=Field(mult, "per-channel Q31 multipliers"),
        shift=Field(shift, "per-channel shifts"),
    )
    params: ConvParams | DepthwiseConvParams
    if depthwise:
        params = DepthwiseConvParams(
            depth_mult=Field(dm, "output channels per input channel"), **common
        )
    else:
        params = ConvParams(**common)
    title = f"{op.opcode} {out.name!r}: {shape}, stride {sh}x{sw}, {padding}, {act}"
    return LoweredOp(
        op.index,
        op.opcode,
        title,
        tables,
        [(name, params)],
        [Call(params.KERNEL, name, op.inputs[0], op.outputs[0])],
    )


def _smlad_table(name: str, row: fast.RowConv, oc: int) -> Table:
    packed = fast.smlad_weights(row.rows, row.taps4)
    per_pair = packed.shape[1]
    sections = {
        k * per_pair: f"channels {2 * k} and {min(2 * k + 1, oc - 1)}" for k in range(len(packed))
    }
    return Table(
        "int16_t",
        f"{name}_weights",
        packed.reshape(-1),
        [
            f"the same weights for the SMLAD loop: int16, taps zero-padded to {row.taps4}; one "
            f"block per",
            "channel pair (u, v), per group of 4 taps u0 u2 v0 v2 u1 u3 v1 v3 "
            "(SXTB16 lanes, see tinyecg_nn_fast.h)",
        ],
        sections=sections,
        aligned=True,
        build="dsp",
    )


def depthwise_conv_2d(g: Graph, op: Op) -> LoweredOp:
    return conv_2d(g, op, depthwise=True)


def fully_connected(g: Graph, op: Op) -> LoweredOp:
    where = g.where(op)
    inp, out = g.input(op), g.output(op)
    w = g.tensor(op, 1, "weights")
    bias = g.optional(op, 2)
    o = op.options
    if o.get("weights_format", 0) not in (0, "DEFAULT"):
        raise TinyECGError(f"{where}: shuffled weights format is not supported")
    if w.dtype != "INT8" or w.data is None or len(w.shape) != 2:
        raise TinyECGError(f"{where}: weights {w.name!r} must be constant 2-D int8")
    if bias is not None:
        g.constant(op, bias, "bias", "INT32")
    units, depth = (int(d) for d in w.shape)
    if inp.size % depth:
        raise TinyECGError(
            f"{where}: input {list(inp.shape)} is not a multiple of the weights' depth {depth}"
        )
    batches = inp.size // depth
    if out.size != batches * units:
        raise TinyECGError(f"{where}: output {list(out.shape)} != {batches} x {units}")
    if w.per_channel and len(w.scales) != units:
        raise TinyECGError(f"{where}: weights have {len(w.scales)} scales for {units} units")
    act = o.get("fused_activation_function", "NONE")
    act_min, act_max = activation_range(act, out.scale, out.zero_point, where)
    name = f"op{op.index}"
    # kernel_util.cc GetQuantizedConvolutionMultipler: input scale * weight scale / output
    # scale, in double (per channel when the weights carry one scale per unit)
    w_scales = list(w.scales) if w.per_channel else [w.scales[0]]
    reals = [inp.scale * s / out.scale for s in w_scales]
    rows = np.asarray(w.data).reshape(units, depth)
    b = None if bias is None else np.asarray(bias.data).reshape(-1)
    folded = (
        None
        if any(z != 0 for z in w.zero_points)
        else fast.folded_bias(b, rows, int(inp.zero_point))
    )
    labels = "u" if w.per_channel else "all "
    w_scale = "per unit (below)" if w.per_channel else fmt_scale(w.scales[0])
    title = (
        f"FULLY_CONNECTED {out.name!r}: {list(inp.shape)} x [{units}, {depth}] -> "
        f"{list(out.shape)}, {act}"
    )
    per_channel = Field(int(w.per_channel), "1: one multiplier per unit, 0: one for all")
    params: FullyConnectedFoldedParams | FullyConnectedParams
    if folded is not None:
        depth4 = fast.round4(depth)
        padded = np.zeros((units, depth4), np.int8)
        padded[:, :depth] = rows
        tables = [
            Table(
                "int8_t",
                f"{name}_weights",
                padded.reshape(-1),
                [
                    f"{w.name!r} [{units}][{depth}]: int8, row per output unit, zero-padded to "
                    f"{depth4} (whole words),",
                    f"zero point 0, scale {w_scale}",
                ],
                aligned=True,
            ),
            _folded_bias_table(name, folded, b, rows, inp.zero_point, "u"),
        ]
        stage = _output_stage(
            name, tables, reals, inp.scale, w_scales, out, act, act_min, act_max, labels
        )
        params = FullyConnectedFoldedParams(
            batches=Field(batches, "rows of the input"),
            depth=Field(depth, "input values per row"),
            depth4=Field(depth4, "weight row length (depth rounded up to whole words)"),
            units=Field(units, "output units"),
            per_channel=per_channel,
            weights=Field(tables[0], "int8 weight rows"),
            bias=Field(tables[1], f"bias with the input zero point ({inp.zero_point}) folded in"),
            out=stage,
        )
    else:
        wt = Table(
            "int8_t",
            f"{name}_weights",
            rows.reshape(-1),
            [
                f"{w.name!r} [{units}][{depth}]: int8, row per output unit, zero point "
                f"{w.zero_points[0]}, scale {w_scale}"
            ],
        )
        bt = _bias_table(name, bias, units, "weight scale")
        mult, shift = _requant_tables(name, reals, labels, inp.scale, w_scales, out.scale)
        tables = [t for t in (wt, bt, mult, shift) if t is not None]
        params = FullyConnectedParams(
            batches=Field(batches, "rows of the input"),
            in_depth=Field(depth, "input values per row"),
            out_depth=Field(units, "output units"),
            in_offset=Field(
                -inp.zero_point, f"-(input zero point); input scale {fmt_scale(inp.scale)}"
            ),
            w_offset=Field(-w.zero_points[0], "-(weights zero point)"),
            out_offset=Field(
                out.zero_point, f"output zero point; output scale {fmt_scale(out.scale)}"
            ),
            act_min=Field(act_min, f"{act} clamp, output units"),
            act_max=Field(act_max, f"{act} clamp, output units"),
            per_channel=per_channel,
            weights=Field(wt, "int8 weights"),
            bias=Field(bt, "int32 bias"),
            mult=Field(mult, "Q31 multiplier(s)"),
            shift=Field(shift, "shift(s)"),
        )
    return LoweredOp(
        op.index,
        op.opcode,
        title,
        tables,
        [(name, params)],
        [Call(params.KERNEL, name, op.inputs[0], op.outputs[0])],
    )
