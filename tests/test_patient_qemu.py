"""A patient-context model (beat input (1, 360, 2) = [window, template], rhythm input (8,) =
the long-term RR features) on the whole firmware under QEMU, Cortex-M4 (mps2-an386) and
Cortex-M0+ code (mps2-an385), C backend:
the export's golden self-test passes bit for bit, and streaming real records gives for every
beat the label and int8 score of the host reference (tinyecg.device.device_path.patient:
the core's beat rules on the detector's events, the patient's state, the fixed-point
inputs, the TFLM host interpreter). The model: tests/patient_models.py ("tiny", 150 steps on
the bundled excerpt), cached per session. Also: the device path evaluation of such a model
and the exporter's one-line errors for shapes a patient-context model cannot take."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from patient_models import patient_model

from tinyecg.device import detect, qemu
from tinyecg.errors import TinyECGError

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"
GOLDEN = 4

needs_qemu = pytest.mark.skipif(
    bool(qemu.missing_tools()),
    reason=f"needs the ARM toolchain and QEMU (missing: {', '.join(qemu.missing_tools())})",
)


@pytest.fixture(scope="session")
def model(tmp_path_factory) -> Path:
    return patient_model(tmp_path_factory.getbasetemp() / "tinyecg_patient_models", "tiny")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("patient_qemu")


@pytest.fixture(scope="module")
def export_dir(model, work) -> Path:
    from tinyecg.device import firmware as fq

    out = work / "model"
    fq.export_model(model, out, golden=GOLDEN, runtime="c")
    return out


@pytest.fixture(scope="module")
def firmwares(work, export_dir):
    from tinyecg.device import firmware as fq

    built = {}

    def get(arch: str):
        if arch not in built:
            built[arch] = fq.build_firmware(
                work, export_dir=export_dir, io="semihost", rhythm=False, arch=arch
            )
        return built[arch]

    return get


@pytest.fixture(scope="module")
def driver(work) -> Path:
    from tinyecg.device.device_path import build_event_driver

    return build_event_driver(work / "events")


def test_export_states_the_patient_context(export_dir):
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert manifest["golden"]["count"] == GOLDEN
    header = (export_dir / "tinyecg_preprocess_params.h").read_text()
    assert "#define TINYECG_BEAT_CHANNELS 2" in header
    assert "#define TINYECG_RHYTHM_FEATURES 8" in header
    meta = (export_dir / "tinyecg_model_meta.h").read_text()
    assert "#define TINYECG_INPUT_BEAT_ELEMENTS 720u" in meta
    assert "mean_rr16" in (export_dir / "tinyecg_golden.h").read_text()


@needs_qemu
@pytest.mark.parametrize("arch, record", [("m4", "208"), ("m4", "100"), ("m0", "208")])
def test_qemu_beats_equal_the_host_reference(firmwares, model, driver, arch, record):
    from tinyecg.device import firmware as fq
    from tinyecg.device.device_path import device_events
    from tinyecg.device.device_path.patient import patient_reference_beats

    fw = firmwares(arch)
    assert "TINYECG_PATIENT_CONTEXT=1" in fw.defs
    x, _, (lo, hi) = detect.read_record(EXCERPT / record)
    run = fq.run_samples(fw, x, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.lines
    s = lines.selftest_summary
    assert s["passed"] and (s["input"], s["rhythm"], s["output"], s["maxdiff"]) == (
        GOLDEN,
        GOLDEN,
        GOLDEN,
        0,
    )
    want = patient_reference_beats(model, x, device_events(x, driver, lo, hi), labels=fw.labels)
    got = [(r, label, score) for r, label, score, _ in lines.beats]
    assert len(want) > 150
    assert got == want
    if record == "208":
        assert len({label for _, label, _ in got}) > 1


def test_device_path_evaluates_a_patient_model(model, work):
    from tinyecg.device.device_path import evaluate_device_path

    res = evaluate_device_path(model, ["208"], EXCERPT, labels="nlrav", build_dir=work / "dp")
    t = res["total"]
    assert t["rr_check"]["mismatches"] == 0
    assert t["device_beats"] > 150


def test_unsupported_pairings_are_one_line_errors(tmp_path):
    from patient_models import convert_int8_per_tensor_dense

    from tinyecg.models.architectures import keras as K
    from tinyecg.models.int8 import Int8Model

    rng = np.random.default_rng(0)
    for beat_shape, n_rr in (((1, 360, 2), 5), ((1, 360, 1), 8), ((1, 360, 3), 8)):
        b = K.Input(shape=beat_shape, name="beat")
        r = K.Input(shape=(n_rr,), name="rhythm")
        x = K.layers.Flatten()(K.layers.Conv2D(2, (1, 5), strides=(1, 8))(b))
        out = K.layers.Softmax()(K.layers.Dense(5)(K.layers.Concatenate()([x, r])))
        m = K.Model([b, r], out)
        data = convert_int8_per_tensor_dense(
            m,
            rng.normal(size=(300, *beat_shape)).astype(np.float32),
            rng.uniform(0, 2, (300, n_rr)).astype(np.float32),
        )
        path = tmp_path / f"m_{beat_shape[-1]}_{n_rr}.tflite"
        path.write_bytes(data)
        with pytest.raises(TinyECGError) as err:
            Int8Model.load(path)
        msg = str(err.value)
        assert "\n" not in msg and path.name in msg and "360" in msg


@needs_qemu
@pytest.mark.parametrize("target", ["host", "m4"])
def test_tflm_selftest_of_the_tflm_export(model, work, tflm_library, target):
    """The boards' TFLM (Arduino_TensorFlowLite bd7e861) runs the 2-channel model on its
    golden vectors bit for bit (the application's TFLM adapter copies 720 beat values)."""
    from tinyecg.device import firmware as fq
    from tinyecg.device import tflm_selftest as ts

    out = work / "model-tflm"
    if not (out / "manifest.json").is_file():
        fq.export_model(model, out, golden=GOLDEN, runtime="tflm")
    prog = ts.build_selftest(target, out, work / f"tflm-{target}", tflm_library(target))
    res = ts.run_selftest(prog, target)
    assert res.selftest_passed and res.selftest_ok == GOLDEN and res.max_diff == 0, res.stdout
