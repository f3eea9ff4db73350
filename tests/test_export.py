"""tinyecg export: the generated C compiled and run on the host, checked against Python sides
that do not share its code (LiteRT's view of the flatbuffer, wfdb's reading of the records,
the float preprocessing, a fresh TFLM interpreter).

The test model: tinyecg's student-cnn trained 200 steps on the bundled MIT-BIH excerpt and
converted to a full-int8 graph; built once per session under the pytest base temp folder
(with a float and a dynamic-range "hybrid" conversion of the same network for the error tests)
by helpers.build_models.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from types import SimpleNamespace

import numpy as np
import pytest
from export_harness import (
    CFLAGS,
    CXXFLAGS,
    HARNESS,
    TFLM_SET,
    compile_c,
    compile_resolver,
    lib_includes,
    need,
    parse_harness,
    run,
)
from helpers import EXCERPT

GOLDEN = 10


def litert(data: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=data,
        experimental_op_resolver_type=(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
    )
    interp.allocate_tensors()
    return interp


# --------------------------------------------------------------------------- the export
@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    from tinyecg.export.exporter import export

    out = tmp_path_factory.mktemp("export") / "tinyecg_model"
    summary = export(models["int8"], out, board="nano33ble", golden=GOLDEN)
    return out, summary


@pytest.fixture(scope="module")
def harness(exported, tmp_path_factory):
    out, _ = exported
    work = tmp_path_factory.mktemp("harness")
    compile_c(out, work / "golden_check")
    r = run([work / "golden_check", work / "model.bin"])
    return SimpleNamespace(
        rc=r.returncode,
        stdout=r.stdout,
        stderr=r.stderr,
        info=parse_harness(r.stdout),
        model_bin=work / "model.bin",
    )


def test_file_set_and_manifest(exported, models):
    out, summary = exported
    assert {p.name for p in out.iterdir()} == TFLM_SET
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == TFLM_SET - {"manifest.json"}
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}, name
    data = models["int8"].read_bytes()
    assert manifest["model"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["model"]["bytes"] == len(data)
    assert manifest["command"].startswith("tinyecg export ")
    assert "--board nano33ble" in manifest["command"]
    assert f"--golden {GOLDEN}" in manifest["command"]
    assert manifest["board"]["board"] == "nano33ble" and manifest["board"]["fits"]
    assert manifest["golden"]["count"] == GOLDEN
    # no file, the manifest included, carries a time stamp or a machine path
    assert "generated_utc" not in manifest and "seconds" not in manifest
    assert manifest["source"]["model"] == {
        "file": models["int8"].name,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    for name in TFLM_SET:
        text = (out / name).read_text()
        assert str(models["int8"].parent) not in text and str(out) not in text, name
    assert summary["written"] == sorted(TFLM_SET)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700


def test_generated_c_compiles_and_reproduces_golden_inputs(harness):
    """gcc -std=c99 -pedantic -Wall -Wextra -Werror -Wconversion; the fixed-point C gives every
    golden beat's int8 inputs bit for bit."""
    assert harness.rc == 0, harness.stdout[-2000:] + harness.stderr
    info = harness.info
    assert info["mismatches"] == ["0"]
    assert len(info["golden"]) == GOLDEN == int(info["golden_count"][0])
    assert all(g["diff"] == 0 for g in info["golden"])


def test_model_bytes_length_and_hash(harness, models):
    data = models["int8"].read_bytes()
    info = harness.info
    assert harness.model_bin.read_bytes() == data  # the C array is the file, byte for byte
    assert info["model_len"] == [str(len(data))] * 2
    assert info["meta_bytes"] == [str(len(data))]
    digest = hashlib.sha256(data).hexdigest()
    assert info["model_sha256"] == [digest] and info["meta_hash"] == [digest]
    assert info["model_aligned16"] == ["1"] and info["arena_aligned16"] == ["1"]


def test_meta_matches_the_flatbuffer(harness, models, exported):
    """Labels, window and every quantization constant against LiteRT's reading."""
    from tinyecg import __version__

    interp = litert(models["int8"].read_bytes())
    info = harness.info
    assert info["labels"] == ["N", "L", "R", "A", "V"]  # no config: tinyecg train's default set
    assert info["window"] == ["360", "180", "180"] and info["fs"] == ["360"]
    assert info["version"] == [__version__] and info["runtime"] == ["tflm"]
    for d in interp.get_input_details():
        role = "beat" if len(d["shape"]) == 4 else "rhythm"
        index, elements, zp, mant, exp = info["inputs"][role]
        assert interp.get_input_details()[index]["name"] == d["name"]
        assert elements == int(np.prod(d["shape"]))
        scale, zero_point = d["quantization"]
        assert zp == zero_point
        assert np.float32(mant * 2.0**exp) == np.float32(scale)  # exact integer form
    out = interp.get_output_details()[0]
    elements, zp, mant, exp = (int(v) for v in info["output_quant"])
    assert elements == int(np.prod(out["shape"])) and zp == out["quantization"][1]
    assert np.float32(mant * 2.0**exp) == np.float32(out["quantization"][0])
    ops = [d["op_name"] for d in interp._get_ops_details()]
    assert info["ops"] == [str(len(set(ops))), str(len(ops))]


def test_float_literals_only_with_enable_float(exported, tmp_path):
    """The default build needs no floating point (compiled with -mgeneral-regs-only on x86);
    TINYECG_ENABLE_FLOAT adds float literals equal to the flatbuffer's scales."""
    out, summary = exported
    src = tmp_path / "scales.c"
    src.write_text(
        '#include <stdio.h>\n#include "tinyecg_model_meta.h"\n'
        "int main(void) {\n#ifdef TINYECG_ENABLE_FLOAT\n"
        '    printf("%.9g %.9g\\n", (double)TINYECG_INPUT_BEAT_SCALE, '
        "(double)TINYECG_OUTPUT_SCALE);\n#endif\n"
        '    printf("%ld %d\\n", TINYECG_OUTPUT_SCALE_MANT, TINYECG_OUTPUT_SCALE_EXP);\n'
        "    return 0;\n}\n"
    )
    if os.uname().machine in ("x86_64", "i686"):
        exe = tmp_path / "nofloat"
        compile_c(out, exe, extra=["-mgeneral-regs-only"])
        r = run(
            [
                need("gcc"),
                *CFLAGS,
                "-mgeneral-regs-only",
                "-I",
                out,
                *lib_includes(),
                "-o",
                tmp_path / "scales0",
                src,
            ]
        )
        assert r.returncode == 0, r.stderr
    r = run(
        [
            need("gcc"),
            *CFLAGS,
            "-DTINYECG_ENABLE_FLOAT",
            "-I",
            out,
            *lib_includes(),
            "-o",
            tmp_path / "scales",
            src,
        ]
    )
    assert r.returncode == 0, r.stderr
    line = run([tmp_path / "scales"]).stdout.splitlines()[0]
    beat = next(i for i in summary["model"]["inputs"] if i["role"] == "beat")
    assert [np.float32(float(v)) for v in line.split()] == [
        np.float32(beat["scale"]),
        np.float32(summary["model"]["output"]["scale"]),
    ]


def test_tflm_reproduces_golden_outputs(harness, models):
    """A fresh TFLM interpreter on the golden inputs read back from the compiled C tables."""
    from tinyecg.runtime.tflm import TFLMModel

    data = models["int8"].read_bytes()
    tflm = TFLMModel(data)
    roles = {i: role for role, (i, *_rest) in harness.info["inputs"].items()}
    for g in harness.info["golden"]:
        inputs = [g[roles[i]].astype(np.int8) for i in range(len(roles))]
        np.testing.assert_array_equal(tflm.invoke(*inputs), g["output"])
        assert g["predicted"] == int(np.argmax(g["output"]))


def test_golden_beats_are_real_mitdb_windows(harness):
    """Calibration, labels and RR context against wfdb's reading of the excerpt."""
    import wfdb

    nlrav = "NLRAV"
    beat_symbols = set("N L R B A a J S V r F e j n E / f Q ?".split())
    for g in harness.info["golden"]:
        path = str(EXCERPT / g["record"])
        rec = wfdb.rdrecord(path, physical=False)
        lead = rec.sig_name.index("MLII")
        r = g["sample"]
        ann = wfdb.rdann(path, "atr")
        samples = np.asarray(ann.sample)
        k = int(np.flatnonzero(samples == r)[0])
        assert nlrav[g["label"]] == ann.symbol[k]
        assert g["baseline"] == rec.baseline[lead] and g["gain"] == rec.adc_gain[lead]
        beats = samples[[s in beat_symbols for s in ann.symbol]]
        j = int(np.flatnonzero(beats == r)[0])
        pre, post = g["rr"][0], g["rr"][1]
        assert pre == (beats[j] - beats[j - 1] if j > 0 else beats[1] - beats[0])
        assert post == (beats[j + 1] - beats[j] if j + 1 < len(beats) else pre)


def test_golden_raw_samples_match_records(exported):
    """The int16 windows in tinyecg_golden.c are the records' ADC samples r-180 .. r+179."""
    import wfdb

    out, summary = exported
    text = (out / "tinyecg_golden.c").read_text()
    raws = re.findall(r"\{ /\* raw \*/\n(.*?)\n        \}", text, re.S)
    assert len(raws) == GOLDEN
    for item, body in zip(summary["golden"]["items"], raws):
        raw = np.array([int(v) for v in re.findall(r"-?\d+", body)])
        rec = wfdb.rdrecord(str(EXCERPT / item["record"]), physical=False)
        adc = rec.d_signal[:, rec.sig_name.index("MLII")]
        r = item["sample"]
        np.testing.assert_array_equal(raw, adc[r - 180 : r + 180])


def test_golden_inputs_follow_the_float_reference(harness):
    """The golden int8 beat inputs agree with the float pipeline (tinyecg.dsp.denoise,
    quantized) on nearly every sample: the integer reference is not drifting."""
    from tinyecg.dsp import fixedpoint as fp

    beat_zp = harness.info["inputs"]["beat"][2]
    mant, exp = harness.info["inputs"]["beat"][3:5]
    scale = float(np.float32(mant * 2.0**exp))
    golden = harness.info["golden"]
    # raw windows re-read from the records (independent of the export)
    import wfdb

    raws = []
    for g in golden:
        rec = wfdb.rdrecord(str(EXCERPT / g["record"]), physical=False)
        adc = rec.d_signal[:, rec.sig_name.index("MLII")]
        raws.append(adc[g["sample"] - 180 : g["sample"] + 180])
    z = fp.zscore_windows_float(
        np.array(raws, np.int16),
        np.array([g["baseline"] for g in golden]),
        np.array([g["gain"] for g in golden]),
    )
    q_float = fp.quantize_float(z, scale, beat_zp).astype(np.int64)
    q = np.stack([g["beat"] for g in golden])
    assert np.abs(q - q_float).max() <= 1
    assert np.mean(q == q_float) > 0.99


def test_golden_beats_cover_the_classes(harness):
    labels = [g["label"] for g in harness.info["golden"]]
    assert labels[:5] == [0, 1, 2, 3, 4]  # the excerpt has every nlrav class: one of each first
    assert len({(g["record"], g["sample"]) for g in harness.info["golden"]}) == GOLDEN


def test_resolver_registers_exactly_the_flatbuffer_ops(exported, models, tmp_path):
    out, _ = exported
    exe = tmp_path / "resolver_check"
    compile_resolver(out, exe)
    r = run([exe])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    registered = [line.split()[1] for line in lines if line.startswith("op ")]
    ops = {d["op_name"] for d in litert(models["int8"].read_bytes())._get_ops_details()}
    assert set(registered) == ops and len(registered) == len(ops)
    assert f"capacity {len(ops)}" in lines and f"meta_op_count {len(ops)}" in lines
    assert "status 0" in lines
    assert "second 1" in lines  # a second registration fails: capacity is exactly N


def test_resolver_vocabulary_uses_real_tflm_method_names(tmp_path):
    """Every op of the vocabulary renders to an Add* method that TFLM's resolver has (the
    test header declares TFLM's methods) and that method registers that very op."""
    from tinyecg.export import tflm_files
    from tinyecg.export.files import BEAT_TFLM_NAMES
    from tinyecg.export.render import render

    names = list(tflm_files.TFLM_OPS)
    fake = SimpleNamespace(
        source="vocabulary",
        ops=[SimpleNamespace(opcode=n, custom_code=None) for n in names],
        op_names=lambda: names,
    )
    ops = tflm_files.resolver_ops(fake)
    text = render(
        "tflm/tinyecg_op_resolver.h.j2",
        n=BEAT_TFLM_NAMES,
        version="test",
        model_name="vocabulary",
        sha256="0" * 64,
        n_operators=len(names),
        ops=ops,
        all_2023=False,
        changed=[],
    )
    (tmp_path / "tinyecg_op_resolver.h").write_text(text)
    main = tmp_path / "main.cpp"
    main.write_text(
        '#include <cstdio>\n#include "tinyecg_op_resolver.h"\n'
        "int main() { tinyecg::OpResolver r; int s = tinyecg::RegisterOps(r);\n"
        "  for (unsigned i = 0; i < r.GetRegistrationLength(); ++i) "
        'std::printf("%s\\n", r.Registered(i));\n  return s; }\n'
    )
    r = run(
        [
            need("g++"),
            *CXXFLAGS,
            "-I",
            tmp_path,
            "-I",
            HARNESS / "export_tflm",
            "-o",
            tmp_path / "vocab",
            main,
        ]
    )
    assert r.returncode == 0, r.stderr
    r = run([tmp_path / "vocab"])
    assert r.returncode == 0 and r.stdout.split() == names


def test_arena_is_host_figure_plus_margin(exported, models):
    from tinyecg.errors import TinyECGError
    from tinyecg.runtime.tflm import TFLMModel

    out, summary = exported
    text = (out / "tinyecg_arena.h").read_text()
    total = int(re.search(r"#define TINYECG_ARENA_BYTES (\d+)u", text).group(1))
    host = int(re.search(r"#define TINYECG_ARENA_HOST_BYTES (\d+)u", text).group(1))
    data = models["int8"].read_bytes()
    assert host == TFLMModel(data).arena_bytes()  # the recording allocator's own figure
    assert total % 16 == 0 and total >= host + 1024 + 16
    assert total == summary["arena"]["total"] and summary["board"]["ram"]["parts"]["arena"] == total
    # the runtime runs in that arena; the host figure is tight: 16 bytes less do not load
    for size in (total, host):
        tflm = TFLMModel(data, arena_size=size)
        zeros = [np.full(q.shape, q.zero_point, np.int8) for q in tflm.inputs]
        assert tflm.invoke(*zeros).shape == (5,)
    with pytest.raises(TinyECGError, match="allocate"):
        TFLMModel(data, arena_size=host - 16)


def test_exporting_twice_gives_identical_bytes(models, tmp_path):
    """Reproducible outputs: the same model exported twice (into two folders of the same
    name: the manifest records the command), bytes for bytes."""
    from tinyecg.export.exporter import export

    for runtime in ("tflm", "c"):
        a, b = tmp_path / "a" / runtime, tmp_path / "b" / runtime
        export(models["int8"], a, golden=3, runtime=runtime)
        export(models["int8"], b, golden=3, runtime=runtime)
        files = sorted(p.name for p in a.iterdir())
        assert files == sorted(p.name for p in b.iterdir())
        for name in files:
            assert (a / name).read_bytes() == (b / name).read_bytes(), (runtime, name)


def test_force_removes_the_files_of_an_earlier_export(models, tmp_path):
    """A folder exported for TFLM and then --force for the C backend holds only the C
    backend's set: a stale tinyecg_model_data.c would be linked twice by PlatformIO."""
    from tinyecg.export.exporter import export

    out = tmp_path / "out"
    export(models["int8"], out, golden=2)
    (out / "mine.txt").write_text("the user's own file")
    summary = export(models["int8"], out, golden=2, runtime="c", force=True)
    assert "tinyecg_model_data.c" in summary["removed"]
    names = {p.name for p in out.iterdir()}
    assert "tinyecg_model_data.c" not in names and "tinyecg_op_resolver.h" not in names
    assert "tinyecg_model.c" in names and "mine.txt" in names
