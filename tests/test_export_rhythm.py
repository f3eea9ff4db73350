"""`tinyecg export --task rhythm`: the shockable-rhythm model's C (tinyecg.export.rhythm).

The generated C backend, compiled with the package's strict flags
(tinyecg.device.cbuild.STRICT_C_FLAGS) beside the tinyecg_nn kernels, gives TFLM's outputs
bit for bit on every golden window (checked in C against the golden table) and on a few
hundred real windows of vfdb, cudb and mitdb; the files carry the tinyecg_rhythm_model prefix
(they compile and link beside the beat model's); exports are reproducible; the committed
firmware/lib/tinyecg_rhythm_model is the export of the shipped model; every user mistake is
a one-line TinyECGError.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT

from tinyecg import spec
from tinyecg.device.cbuild import compile_c
from tinyecg.errors import TinyECGError
from tinyecg.export.cbackend import library_include, library_sources
from tinyecg.export.exporter import export
from tinyecg.paths import rhythm_model_dir

COMMITTED = ROOT / "firmware" / "lib" / "tinyecg_rhythm_model"
DATA = ROOT.parent / "shared" / "data"
P = "tinyecg_rhythm_model"

HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "tinyecg_rhythm_model.h"
#include "tinyecg_rhythm_model_meta.h"
#include "tinyecg_rhythm_model_golden.h"
/* argv[1] "golden": run every golden window, exit 5 + k if window k differs.
 * else: stdin holds windows of 720 int8, stdout gets 2 int8 per window. */
int main(int argc, char **argv)
{
    static int8_t in[TINYECG_RHYTHM_MODEL_INPUT0_SIZE];
    int8_t out[TINYECG_RHYTHM_MODEL_OUTPUT_SIZE];
    if (tinyecg_rhythm_model_invoke(NULL, out) != -1) return 4;
    if (argc > 1 && strcmp(argv[1], "golden") == 0) {
        int k;
        for (k = 0; k < TINYECG_RHYTHM_MODEL_GOLDEN_COUNT; ++k) {
            const tinyecg_rhythm_model_golden_t *g = &tinyecg_rhythm_model_golden[k];
            if (tinyecg_rhythm_model_invoke(g->window, out) != 0) return 3;
            if (memcmp(out, g->output, sizeof out) != 0) return 5 + k;
        }
        printf("%d %s %s\n", k, TINYECG_RHYTHM_MODEL_HASH, tinyecg_rhythm_model_labels[1]);
        return 0;
    }
    while (fread(in, 1, sizeof in, stdin) == sizeof in) {
        if (tinyecg_rhythm_model_invoke(in, out) != 0) return 3;
        fwrite(out, 1, sizeof out, stdout);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    pytest.importorskip("tflite_micro")
    out = tmp_path_factory.mktemp("rhythm") / "tinyecg_rhythm_model"
    export(None, out, runtime="c", task=spec.RHYTHM_TASK, golden=16)
    return out


@pytest.fixture(scope="module")
def harness(exported, tmp_path_factory) -> Path:
    main = tmp_path_factory.mktemp("rhythm_harness") / "main.c"
    main.write_text(HARNESS)
    return compile_c(
        [exported / f"{P}.c", exported / f"{P}_golden.c", *library_sources(), main],
        main.parent / "run",
        includes=[exported, library_include()],
        what="rhythm model harness",
    )


def test_file_set_prefix_and_api(exported):
    names = sorted(p.name for p in exported.iterdir())
    assert names == sorted(
        ["manifest.json", f"{P}.h", f"{P}.c", f"{P}_meta.h", f"{P}_golden.h", f"{P}_golden.c"]
    )
    header = (exported / f"{P}.h").read_text()
    assert "int tinyecg_rhythm_model_invoke(const int8_t *input, int8_t *output);" in header
    for macro in ("ARENA_BYTES", "OUTPUT_SIZE 2", "SHA256", "INPUT0_SIZE 720"):
        assert f"#define TINYECG_RHYTHM_MODEL_{macro}" in header
    meta = (exported / f"{P}_meta.h").read_text()
    assert "#define TINYECG_RHYTHM_MODEL_SHOCKABLE_OUTPUT 1" in meta
    assert '"non-shockable",\n    "shockable",' in meta
    assert "#define TINYECG_RHYTHM_MODEL_INPUT_ZERO_POINT (0)" in meta
    assert "#define TINYECG_RHYTHM_MODEL_INPUT_SCALE_EXP (-4)" in meta
    man = json.loads((exported / "manifest.json").read_text())
    assert man["task"] == "rhythm" and man["prefix"] == P and man["runtime"] == "c"
    assert man["model"]["inputs"][0]["role"] == spec.RHYTHM_WINDOW_INPUT
    assert man["labels"] == list(spec.RHYTHM_LABELS)
    # no machine path in what is committed
    for p in exported.iterdir():
        assert str(ROOT) not in p.read_text() and "/tmp" not in p.read_text(), p.name


def test_golden_windows_cover_both_classes_and_name_their_origin(exported):
    items = json.loads((exported / "manifest.json").read_text())["golden"]["items"]
    assert len(items) == 16
    assert {i["label"] for i in items} == {0, 1} and {i["predicted"] for i in items} == {0, 1}
    text = (exported / f"{P}_golden.c").read_text()
    for i in items:
        assert f"record {i['record']}, window ending at second {i['second']:g}" in text


def test_c_equals_tflm_on_every_golden_window(harness):
    proc = subprocess.run([str(harness), "golden"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"golden window {proc.returncode - 5} differs"
    count, sha, label = proc.stdout.split()
    assert int(count) == 16 and label == "shockable"
    assert sha == hashlib.sha256((rhythm_model_dir() / "model.tflite").read_bytes()).hexdigest()


def _real_windows(per_record: int = 100) -> np.ndarray:
    from tinyecg.data.rhythm import load_rhythm_record
    from tinyecg.dsp import rhythm_frontend as fe

    out = []
    for db, name in (("cudb", "cu01"), ("vfdb", "421"), ("mitdb", "207")):
        base = DATA / db / name
        if not base.with_suffix(".hea").is_file():
            pytest.skip(f"{db}/{name} not in ../shared/data")
        rec = load_rhythm_record(base)
        ends = rec.ends[np.linspace(0, len(rec.ends) - 1, per_record).astype(int)]
        out.append(fe.normalise_int(fe.windows_at(rec.stream, ends, spec.RHYTHM_WINDOW), rec.gain))
    return np.concatenate(out).astype(np.int8)


def test_c_equals_tflm_on_hundreds_of_real_windows(harness):
    from tinyecg.runtime.tflm import TFLMModel

    windows = _real_windows()
    assert len(windows) == 300
    proc = subprocess.run([str(harness)], input=windows.tobytes(), capture_output=True, timeout=120)
    assert proc.returncode == 0
    got = np.frombuffer(proc.stdout, np.int8).reshape(len(windows), 2)
    ref = TFLMModel((rhythm_model_dir() / "model.tflite").read_bytes()).invoke_batch(windows)
    bad = np.flatnonzero((got != ref).any(axis=1))
    assert not len(bad), f"{len(bad)} of {len(windows)} windows differ, first #{bad[0]}"
    assert len(np.unique(ref.argmax(1))) == 2  # both decisions among them


def test_links_beside_the_beat_model(exported, tmp_path):
    """The rhythm model's C and the beat model's C backend in one program: no symbol clash."""
    beat = tmp_path / "beat"
    export(None, beat, runtime="c")
    main = tmp_path / "main.c"
    main.write_text(
        '#include <stddef.h>\n#include "tinyecg_model.h"\n#include "tinyecg_rhythm_model_meta.h"\n'
        "int main(void)\n{\n    static int8_t w[TINYECG_RHYTHM_MODEL_WINDOW];\n"
        "    static int8_t b[TINYECG_MODEL_INPUT0_SIZE], r[8];\n    int8_t o[8];\n"
        "    return tinyecg_rhythm_model_invoke(w, o) | tinyecg_model_invoke(b, r, o);\n}\n"
    )
    exe = compile_c(
        [exported / f"{P}.c", beat / "tinyecg_model.c", *library_sources(), main],
        tmp_path / "both",
        includes=[exported, beat, library_include()],
        what="both models",
    )
    assert subprocess.run([str(exe)], timeout=30).returncode == 0


def test_exporting_twice_gives_identical_bytes(exported, tmp_path):
    again = tmp_path / exported.name  # the manifest's command names the folder
    export(None, again, runtime="c", task=spec.RHYTHM_TASK, golden=16)
    for p in exported.iterdir():
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name


def test_committed_firmware_files_equal_a_fresh_export(tmp_path):
    pytest.importorskip("tflite_micro")
    man = json.loads((COMMITTED / "manifest.json").read_text())
    fresh = tmp_path / COMMITTED.name
    export(None, fresh, runtime=man["runtime"], task="rhythm", golden=man["golden"]["count"])
    assert {p.name for p in COMMITTED.iterdir()} == {p.name for p in fresh.iterdir()}
    for p in fresh.iterdir():
        if p.name == "manifest.json":  # its command says whether --force was given
            continue
        assert (COMMITTED / p.name).read_bytes() == p.read_bytes(), (
            f"firmware/lib/tinyecg_rhythm_model/{p.name} is stale: run `tinyecg export "
            f"--task rhythm --runtime {man['runtime']} --golden {man['golden']['count']} --force`"
        )
    current = json.loads((fresh / "manifest.json").read_text())
    for key in ("files", "model", "arena", "golden", "runtime", "task", "source"):
        assert man[key] == current[key], key


# ---- one-line errors --------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_a_beat_model_is_refused_for_the_rhythm_task_and_back(tmp_path):
    pytest.importorskip("tflite_micro")
    with pytest.raises(TinyECGError) as exc:
        export(
            ROOT / "tinyecg" / "assets" / "default_model" / "model.tflite",
            tmp_path / "a",
            runtime="c",
            task="rhythm",
        )
    assert "not a rhythm model" in _one_line(exc)
    with pytest.raises(TinyECGError) as exc:
        export(rhythm_model_dir() / "model.tflite", tmp_path / "b", runtime="c")
    assert "export it with --task rhythm" in _one_line(exc)
    with pytest.raises(TinyECGError) as exc:
        export(None, tmp_path / "c", task="rythm")
    assert "unknown task" in _one_line(exc)
    with pytest.raises(TinyECGError) as exc:
        export(None, tmp_path / "d", task="rhythm", runtime="c", board="nano33ble")
    assert "--board" in _one_line(exc)
    assert not any(tmp_path.iterdir())


def _rhythm_like_model(path: Path, pinned: bool, outputs: int = 2) -> Path:
    """A tiny int8 model with a rhythm_window input, quantized with the front end's input
    range pinned (scale 1/16, zero point 0) or from its data alone."""
    from tinyecg.models.architectures import keras
    from tinyecg.stages.quantize import convert_int8
    from tinyecg.stages.rhythm_train import pinned_representative

    inp = keras.Input((1, spec.RHYTHM_WINDOW, 1), name="rhythm_window")
    x = keras.layers.Conv2D(2, (1, 9), strides=(1, 8), activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    y = keras.layers.Softmax()(keras.layers.Dense(outputs)(x))
    model = keras.Model(inp, y)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 3, (64, 1, spec.RHYTHM_WINDOW, 1)).astype(np.float32)
    rep = pinned_representative(x, 64, 0) if pinned else x
    path.write_bytes(convert_int8(model, [rep]))
    return path


def test_input_quantization_and_outputs_are_checked(tmp_path):
    pytest.importorskip("tflite_micro")
    pytest.importorskip("tensorflow")
    ok = _rhythm_like_model(tmp_path / "ok.tflite", pinned=True)
    summary = export(ok, tmp_path / "ok", runtime="c", task="rhythm", golden=2)
    assert (
        "golden_windows.npz of the rhythm model shipped with tinyecg" in summary["golden"]["origin"]
    )
    with pytest.raises(TinyECGError) as exc:
        export(
            _rhythm_like_model(tmp_path / "scale.tflite", pinned=False),
            tmp_path / "s",
            runtime="c",
            task="rhythm",
        )
    assert "1/16 std with zero point 0" in _one_line(exc)
    with pytest.raises(TinyECGError) as exc:
        export(
            _rhythm_like_model(tmp_path / "three.tflite", pinned=True, outputs=3),
            tmp_path / "t",
            runtime="c",
            task="rhythm",
        )
    assert "3 outputs, but a rhythm model has 2" in _one_line(exc)


def test_a_beat_run_config_is_refused(tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes((rhythm_model_dir() / "model.tflite").read_bytes())
    (tmp_path / "config.json").write_text('{"task": "beats"}')
    with pytest.raises(TinyECGError) as exc:
        export(model, tmp_path / "out", runtime="c", task="rhythm")
    assert "not a rhythm model" in _one_line(exc)


# ---- input roles: "rhythm_window" is never the RR features ---------------------------------


@pytest.mark.parametrize(
    "name, size, role",
    [
        ("serving_default_rhythm_window:0", 720, spec.RHYTHM_WINDOW_INPUT),
        ("rhythm_window", 5, spec.RHYTHM_WINDOW_INPUT),  # the name wins; the size is checked later
        ("serving_default_rhythm:0", 5, spec.RHYTHM),
        ("serving_default_beat:0", 360, spec.BEAT),
        ("input_1", 720, spec.RHYTHM_WINDOW_INPUT),
        ("input_1", 5, spec.RHYTHM),
        ("beat_and_rhythm", 7, None),
    ],
)
def test_input_roles(name, size, role):
    from tinyecg.models.int8 import input_role

    assert input_role(name, size) == role


def test_tasks_of_the_shipped_models():
    from tinyecg.models.int8 import Int8Model, task_of
    from tinyecg.paths import default_model_dir

    rhythm = Int8Model.load(rhythm_model_dir() / "model.tflite", task=None)
    assert rhythm.task == spec.RHYTHM_TASK
    assert [i.role for i in rhythm.inputs] == [spec.RHYTHM_WINDOW_INPUT]
    assert Int8Model.load(default_model_dir() / "model.tflite").task == spec.BEATS_TASK
    assert task_of([spec.BEAT, spec.RHYTHM_WINDOW_INPUT]) is None
    assert task_of([spec.RHYTHM, spec.RHYTHM]) is None


# ---- --runtime tflm ------------------------------------------------------------------------

RESOLVER_CHECK = r"""
#include <cstdio>

#include "tinyecg_rhythm_model_arena.h"
#include "tinyecg_rhythm_model_data.h"
#include "tinyecg_rhythm_model_golden.h"
#include "tinyecg_rhythm_model_meta.h"
#include "tinyecg_rhythm_model_op_resolver.h"

int main()
{
    tinyecg_rhythm_model::OpResolver resolver;
    const TfLiteStatus status = tinyecg_rhythm_model::RegisterOps(resolver);
    std::printf("capacity %u meta %u\n", tinyecg_rhythm_model::OpResolver::kCapacity,
                static_cast<unsigned>(TINYECG_RHYTHM_MODEL_OP_COUNT));
    std::printf("arena %u len %u\n", static_cast<unsigned>(TINYECG_RHYTHM_MODEL_ARENA_BYTES),
                static_cast<unsigned>(TINYECG_RHYTHM_MODEL_DATA_LEN));
    for (unsigned int i = 0; i < resolver.GetRegistrationLength(); ++i) {
        std::printf("op %s\n", resolver.Registered(i));
    }
    return status == kTfLiteOk ? 0 : 1;
}
"""


@pytest.fixture(scope="module")
def tflm_export(tmp_path_factory) -> Path:
    pytest.importorskip("tflite_micro")
    out = tmp_path_factory.mktemp("rhythm_tflm") / "tinyecg_rhythm_model"
    export(None, out, runtime="tflm", task=spec.RHYTHM_TASK)
    return out


def test_tflm_file_set_and_model_bytes(tflm_export, tmp_path):
    names = {p.name for p in tflm_export.iterdir()}
    assert names == {
        "manifest.json",
        *(f"{P}_{n}" for n in ("data.h", "data.c", "op_resolver.h", "arena.h")),
        *(f"{P}_{n}" for n in ("meta.h", "golden.h", "golden.c")),
    }
    man = json.loads((tflm_export / "manifest.json").read_text())
    assert man["runtime"] == "tflm" and man["arena"]["total"] % 16 == 0
    data = (rhythm_model_dir() / "model.tflite").read_bytes()
    main = tmp_path / "main.c"
    main.write_text(
        "#include <stdio.h>\n#include <string.h>\n"
        '#include "tinyecg_rhythm_model_data.h"\n#include "tinyecg_rhythm_model_golden.h"\n'
        "int main(void)\n{\n    unsigned int i;\n"
        "    for (i = 0; i < tinyecg_rhythm_model_data_len; ++i) {\n"
        "        putchar(tinyecg_rhythm_model_data[i]);\n    }\n"
        "    return strcmp(tinyecg_rhythm_model_sha256, TINYECG_RHYTHM_MODEL_HASH) != 0 ||\n"
        "        TINYECG_RHYTHM_MODEL_GOLDEN_COUNT != 8;\n}\n"
    )
    exe = compile_c(
        [tflm_export / f"{P}_data.c", tflm_export / f"{P}_golden.c", main],
        tmp_path / "bytes",
        includes=[tflm_export],
        what="rhythm model data",
    )
    proc = subprocess.run([str(exe)], capture_output=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout == data


def test_tflm_resolver_registers_exactly_the_model_ops(tflm_export, tmp_path):
    from export_harness import CXXFLAGS, HARNESS, need, run

    from tinyecg.models.tflite import load_model

    src = tmp_path / "check.cpp"
    src.write_text(RESOLVER_CHECK)
    exe = tmp_path / "check"
    r = run(
        [need("g++"), *CXXFLAGS, "-I", tflm_export, "-I", HARNESS / "export_tflm", "-o", exe, src]
    )
    assert r.returncode == 0, r.stderr
    r = run([exe])
    assert r.returncode == 0, r.stdout + r.stderr
    ops = load_model(rhythm_model_dir() / "model.tflite").op_names()
    assert [ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("op ")] == ops
    assert f"capacity {len(ops)} meta {len(ops)}" in r.stdout


def test_qemu_bench_of_the_rhythm_model(tmp_path):
    """scripts/bench_cbackend_qemu.py --task rhythm (docs/bench/cbackend_qemu_rhythm.json):
    the Cortex-M4 build under QEMU gives TFLM's outputs (the script aborts otherwise) and
    stays within the issue's 300k instructions for the model alone."""
    pytest.importorskip("tflite_micro")
    from tinyecg.device import qemu

    if qemu.missing_tools():
        pytest.skip(f"missing {', '.join(qemu.missing_tools())}")
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench_cbackend_qemu.py"),
            "--task",
            "rhythm",
            "--beats",
            "3",
            "--builds",
            "m4-dsp:-Os",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    d = json.loads(out.read_text())
    assert d["task"] == "rhythm" and d["windows"]["count"] == 3
    assert (
        d["model_sha256"]
        == json.loads((COMMITTED / "manifest.json").read_text())["model"]["sha256"]
    )
    assert d["builds"][0]["instructions"]["median"] < 300_000
    assert d["arena_bytes"] == 2680


def test_beat_consumers_refuse_a_rhythm_model_in_one_line():
    from tinyecg.models.int8 import Int8Model

    with pytest.raises(TinyECGError) as exc:
        Int8Model.load(rhythm_model_dir() / "model.tflite")  # the beat task by default
    assert "a rhythm model (inputs rhythm_window), not a beats model" in _one_line(exc)
    with pytest.raises(TinyECGError) as exc:
        Int8Model.load(ROOT / "tinyecg" / "assets" / "default_model" / "model.tflite", "rhythm")
    assert "not a rhythm model" in _one_line(exc)
