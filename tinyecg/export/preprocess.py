"""Render the fixed-point preprocessing as C (tinyecg_preprocess.h / .c).

The constants come from :func:`tinyecg.dsp.fixedpoint.preprocess_params`; the C computes
exactly what :func:`tinyecg.dsp.fixedpoint.preprocess_windows_int` and
:func:`tinyecg.dsp.fixedpoint.rhythm_features_int` compute.
"""
from __future__ import annotations

from tinyecg.dsp import fixedpoint as fp
from tinyecg.dsp.rhythm import N_FEATURES as N_RHYTHM_FEATURES
from tinyecg.errors import TinyECGError
from tinyecg.export.render import render

HEADER = "tinyecg_preprocess.h"
SOURCE = "tinyecg_preprocess.c"

HALF1, HALF2, HALF3 = fp.WINDOW // 2, fp.WINDOW // 4, fp.WINDOW // 8
# int32_t buffers declared by tinyecg_preprocess_window(): c1[360] (cA1 | cD1, later |cD1| and
# cA1') and w[360] (cA2 | cD2 | cA3 | cD3, later y)
STACK_BUFFER_WORDS = 2 * fp.WINDOW
STACK_BUFFER_BYTES = 4 * STACK_BUFFER_WORDS
# scalars, saved registers, return address and the deepest helper's frame (a synthesis level
# with its edge buffers, or a libgcc 64-bit division); the tests measure the real figure with
# gcc -fcallgraph-info=su (x86-64 and Cortex-M, -O0, -O2 and -Os): at most 3576 (M0+ -O0)
STACK_ALLOWANCE = 760
STACK_BYTES = STACK_BUFFER_BYTES + STACK_ALLOWANCE

_REQUIRED = ("dec_lo", "dec_hi", "rec_lo", "rec_hi", "filter_bits", "block_bits", "thr_bits",
             "thr_mult", "z_bits", "std_floor_div", "median_ranks", "input_scale",
             "input_zero_point", "quant_mult", "quant_shift", "rhythm")


def _rel_err(mult: int, shift: int, target: float) -> str:
    return f"{abs(mult / 2.0**shift - target) / target:.1e}"


def _check(params: dict) -> None:
    if not isinstance(params, dict):
        raise TinyECGError("params: expected the dict from preprocess_params()")
    missing = [k for k in _REQUIRED if k not in params]
    if missing:
        raise TinyECGError(f"params: missing {', '.join(missing)} (use preprocess_params())")
    # the C template hard-codes the design (sym4, 3 levels, Q formats): refuse anything else
    design = {
        "dec_lo": list(fp.DEC_LO_Q), "dec_hi": list(fp.DEC_HI_Q), "rec_lo": list(fp.REC_LO_Q),
        "rec_hi": list(fp.REC_HI_Q), "filter_bits": fp.FILTER_BITS,
        "block_bits": fp.BLOCK_BITS, "thr_bits": fp.THR_BITS, "thr_mult": fp.THR_MULT,
        "z_bits": fp.Z_BITS, "std_floor_div": fp.STD_FLOOR_DIV,
        "median_ranks": list(fp.MEDIAN_RANKS),
    }
    for key, want in design.items():
        have = list(params[key]) if isinstance(want, list) else params[key]
        if have != want:
            raise TinyECGError(f"params: {key} differs from this tinyecg's fixed-point design "
                               "(rebuild them with preprocess_params())")


def render_preprocessing(params: dict, version: str) -> dict[str, str]:
    """{file name: C text} of tinyecg_preprocess.h and tinyecg_preprocess.c for params."""
    _check(params)
    s = float(params["input_scale"])
    quant_float = 1.0 / (s * 2.0**fp.Z_BITS)
    qk = int(params["quant_shift"])
    ctx = {
        "version": version,
        "input_scale_c": f"{s:.9g}",
        "input_zero_point": int(params["input_zero_point"]),
        "quant_mult": int(params["quant_mult"]),
        "quant_shift": int(params["quant_shift"]),
        # rounding constant of the quantization: 2^(k-1), on the high word when k >= 33
        "quant_round": 2**(qk - 1 - 32) if qk >= 33 else 2**(qk - 1),
        "quant_offset": (2**fp.ROUND_BIAS_BITS >> qk) - int(params["input_zero_point"]),
        "quant_float": f"{quant_float:.9g}",
        "quant_err": _rel_err(params["quant_mult"], params["quant_shift"], quant_float),
        "filter_pairs": [
            (name, [(int(lo), int(hi), f"{flo:+.17g}", f"{fhi:+.17g}")
                    for lo, hi, flo, fhi in zip(params[name + "_lo"], params[name + "_hi"],
                                                lo_f, hi_f)])
            for name, lo_f, hi_f in (("dec", fp.DEC_LO, fp.DEC_HI), ("rec", fp.REC_LO, fp.REC_HI))
        ],
        "filter_bits": fp.FILTER_BITS,
        "bias_bits": fp.ROUND_BIAS_BITS,
        "recip_bits": fp.RECIP_BITS,
        "block_bits": fp.BLOCK_BITS,
        "median_lo": fp.MEDIAN_RANKS[0],
        "median_hi": fp.MEDIAN_RANKS[1],
        "thr_bits": fp.THR_BITS,
        "thr_mult": fp.THR_MULT,
        "thr_float": f"{fp.THR_FLOAT:.12g}",
        "thr_err": _rel_err(fp.THR_MULT, fp.THR_BITS, fp.THR_FLOAT),
        "z_bits": fp.Z_BITS,
        "std_floor_div": fp.STD_FLOOR_DIV,
        "stack_buffer_words": STACK_BUFFER_WORDS,
        "stack_buffer_bytes": STACK_BUFFER_BYTES,
        "stack_allowance": STACK_ALLOWANCE,
        "stack_bytes": STACK_BYTES,
        "rhythm": params["rhythm"] is not None,
        "rhythm_features": N_RHYTHM_FEATURES if params["rhythm"] is not None else 0,
    }
    rhythm = params["rhythm"]
    if rhythm is not None:
        rs = float(rhythm["scale"])
        sec, ratio = rhythm["seconds"], rhythm["ratio"]
        ctx.update({
            "rhythm_scale_c": f"{rs:.9g}",
            "rhythm_zero_point": int(rhythm["zero_point"]),
            "sec_mult": int(sec["mult"]), "sec_shift": int(sec["shift"]),
            "sec_limit": int(sec["limit"]),
            "sec_float": f"{1.0 / (fp.FS * rs):.9g}",
            "sec_err": _rel_err(sec["mult"], sec["shift"], 1.0 / (fp.FS * rs)),
            "ratio_mult": int(ratio["mult"]), "ratio_shift": int(ratio["shift"]),
            "ratio_limit": int(ratio["limit"]),
            "ratio_float": f"{1.0 / rs:.9g}",
            "ratio_err": _rel_err(ratio["mult"], ratio["shift"], 1.0 / rs),
        })
    return {HEADER: render(HEADER + ".j2", **ctx), SOURCE: render(SOURCE + ".j2", **ctx)}


def windows_header(raw, base, gain) -> str:
    """C header with raw beat windows and their ADC calibration (k_raw, k_base, k_gain,
    N_WINDOWS), the input of the QEMU measurement program
    firmware/targets/mps2-an386/examples/preprocess_count.c."""
    rows = ",\n".join("{" + ",".join(map(str, w)) + "}" for w in raw.tolist())
    return ("#include <stdint.h>\n"
            f"#define N_WINDOWS {len(raw)}u\n"
            f"static const int16_t k_raw[N_WINDOWS][360] = {{\n{rows}}};\n"
            f"static const int16_t k_base[N_WINDOWS] = {{{','.join(map(str, base.tolist()))}}};\n"
            f"static const uint16_t k_gain[N_WINDOWS] = {{{','.join(map(str, gain.tolist()))}}};\n")
