"""The model's parameters of the fixed-point preprocessing, as C (tinyecg_preprocess_params.h/.c).

The preprocessing itself is the static library firmware/lib/tinyecg_dsp; it depends on the
model only through the quantization of its inputs, which
:func:`tinyecg.dsp.fixedpoint.preprocess_params` computes and :func:`render_preprocessing`
writes as ``const tinyecg_preprocess_params_t tinyecg_model_preprocess``. The library then
computes exactly what :func:`tinyecg.dsp.fixedpoint.preprocess_windows_int` and
:func:`tinyecg.dsp.fixedpoint.rhythm_features_int` compute.
"""

from __future__ import annotations

from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp.rhythm import N_FEATURES as N_RHYTHM_FEATURES
from tinyecg.errors import TinyECGError
from tinyecg.export.render import render
from tinyecg.spec import FS, WINDOW

HEADER = "tinyecg_preprocess_params.h"
SOURCE = "tinyecg_preprocess_params.c"

# int32_t buffers of one tinyecg_preprocess_window() call: w[360] in its own frame (v, then y)
# and c1[360] in tinyecg_denoise_window()'s (cA1 | cD1, later |cD1| and cA1')
STACK_BUFFER_WORDS = 2 * WINDOW
STACK_BUFFER_BYTES = 4 * STACK_BUFFER_WORDS
# scalars, saved registers, return addresses and the deepest helper's frame (a synthesis level
# with its edge buffers, or a libgcc 64-bit division); tests/test_fixedpoint_c.py measures the
# real figure with gcc -fcallgraph-info=su (x86-64 and Cortex-M, -O0, -O2 and -Os)
STACK_ALLOWANCE = 840
#: TINYECG_PREPROCESS_STACK_BYTES of tinyecg_dsp.h (a test keeps them equal)
STACK_BYTES = STACK_BUFFER_BYTES + STACK_ALLOWANCE

_REQUIRED = (
    "dec_lo",
    "dec_hi",
    "rec_lo",
    "rec_hi",
    "filter_bits",
    "block_bits",
    "thr_bits",
    "thr_mult",
    "z_bits",
    "std_floor_div",
    "median_ranks",
    "input_scale",
    "input_zero_point",
    "quant_mult",
    "quant_shift",
    "rhythm",
)


def _rel_err(mult: int, shift: int, target: float) -> str:
    return f"{abs(mult / 2.0**shift - target) / target:.1e}"


def _check(params: dict) -> None:
    if not isinstance(params, dict):
        raise TinyECGError("params: expected the dict from preprocess_params()")
    missing = [k for k in _REQUIRED if k not in params]
    if missing:
        raise TinyECGError(f"params: missing {', '.join(missing)} (use preprocess_params())")
    # the C library fixes the design (sym4, 3 levels, Q formats): refuse anything else
    design = {
        "dec_lo": list(fp.DEC_LO_Q),
        "dec_hi": list(fp.DEC_HI_Q),
        "rec_lo": list(fp.REC_LO_Q),
        "rec_hi": list(fp.REC_HI_Q),
        "filter_bits": fp.FILTER_BITS,
        "block_bits": fp.BLOCK_BITS,
        "thr_bits": fp.THR_BITS,
        "thr_mult": fp.THR_MULT,
        "z_bits": fp.Z_BITS,
        "std_floor_div": fp.STD_FLOOR_DIV,
        "median_ranks": list(fp.MEDIAN_RANKS),
    }
    for key, want in design.items():
        have = list(params[key]) if isinstance(want, list) else params[key]
        if have != want:
            raise TinyECGError(
                f"params: {key} differs from the fixed-point design of the "
                "tinyecg_dsp library (rebuild them with preprocess_params())"
            )


def params_context(params: dict) -> dict:
    """The template context of tinyecg_preprocess_params.{h,c}: the integers and, for the
    comments, the floats they approximate."""
    _check(params)
    s = float(params["input_scale"])
    quant_float = 1.0 / (s * 2.0**fp.Z_BITS)
    rhythm = params["rhythm"]
    ctx = {
        "input_scale_c": f"{s:.9g}",
        "input_zero_point": int(params["input_zero_point"]),
        "quant_mult": int(params["quant_mult"]),
        "quant_shift": int(params["quant_shift"]),
        "quant_float": f"{quant_float:.9g}",
        "quant_err": _rel_err(params["quant_mult"], params["quant_shift"], quant_float),
        "rhythm": rhythm is not None,
        "rhythm_features": N_RHYTHM_FEATURES if rhythm is not None else 0,
        "longterm": rhythm is not None and rhythm.get("features", "local") == "longterm",
        "beat_channels": int(params.get("beat_channels", 1)),
    }
    if ctx["longterm"]:
        ctx["rhythm_features"] = fp.RHYTHM_FEATURE_SETS["longterm"]
    if (ctx["beat_channels"] == 2) != ctx["longterm"]:
        raise TinyECGError(
            "params: a patient-context model takes a 2-channel beat input and the 8 long-term "
            f"RR features together (beat channels {ctx['beat_channels']}, rhythm features "
            f"{ctx['rhythm_features']})"
        )
    if rhythm is not None:
        rs = float(rhythm["scale"])
        for key, target in (("sec", 1.0 / (FS * rs)), ("ratio", 1.0 / rs)):
            m = rhythm["seconds" if key == "sec" else "ratio"]
            ctx.update(
                {
                    f"{key}_mult": int(m["mult"]),
                    f"{key}_shift": int(m["shift"]),
                    f"{key}_limit": int(m["limit"]),
                    f"{key}_float": f"{target:.9g}",
                    f"{key}_err": _rel_err(m["mult"], m["shift"], target),
                }
            )
        ctx.update({"rhythm_scale_c": f"{rs:.9g}", "rhythm_zero_point": int(rhythm["zero_point"])})
    return ctx


def render_preprocessing(params: dict, version: str) -> dict[str, str]:
    """{file name: C text} of tinyecg_preprocess_params.h and .c for params (from
    tinyecg.dsp.fixedpoint.preprocess_params)."""
    ctx = dict(params_context(params), version=version)
    return {HEADER: render(HEADER + ".j2", **ctx), SOURCE: render(SOURCE + ".j2", **ctx)}


def windows_header(raw, base, gain) -> str:
    """C header with raw beat windows and their ADC calibration (k_raw, k_base, k_gain,
    N_WINDOWS), the input of the QEMU measurement program
    firmware/targets/mps2-an386/examples/preprocess_count.c."""
    rows = ",\n".join("{" + ",".join(map(str, w)) + "}" for w in raw.tolist())
    return (
        "#include <stdint.h>\n"
        f"#define N_WINDOWS {len(raw)}u\n"
        f"static const int16_t k_raw[N_WINDOWS][360] = {{\n{rows}}};\n"
        f"static const int16_t k_base[N_WINDOWS] = {{{','.join(map(str, base.tolist()))}}};\n"
        f"static const uint16_t k_gain[N_WINDOWS] = {{{','.join(map(str, gain.tolist()))}}};\n"
    )
