"""Helpers the test modules share (not a test module, so no test module imports another):
where the repository and the bundled excerpt are, the full MIT-BIH if present, the tiny run
directory of the stage tests and the small exported models of the export tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"


def full_mitdb() -> Path | None:
    """The full MIT-BIH database: $TINYECG_FULL_DATA, else ../shared/data/mitdb."""
    for cand in (os.environ.get("TINYECG_FULL_DATA"), ROOT.parent / "shared" / "data" / "mitdb"):
        if cand and (Path(cand) / "100.hea").is_file() and (Path(cand) / "234.dat").is_file():
            return Path(cand)
    return None


# --------------------------------------------------------------------------- a tiny run directory
# shared by test_distill, test_quantize and test_bench: built once per pytest session (teacher
# 2 epochs, student 2 epochs, then PTQ), each caller gets its own copy
STAGES = ("teacher", "student", "int8")


def tiny_run(tmp_path_factory, stage: str, dest: Path) -> Path:
    """A copy of the session's tiny run directory advanced to `stage`, at dest."""
    if not (EXCERPT / "100.hea").is_file():
        pytest.skip(f"needs the bundled MIT-BIH excerpts ({EXCERPT})")
    base = tmp_path_factory.getbasetemp()
    with pytest.MonkeyPatch.context() as mp:  # the same isolated cache conftest gives tests
        mp.setenv("TINYECG_CACHE", str(base / "cache"))
        mp.delenv("TINYECG_DATA", raising=False)
        for i, name in enumerate(STAGES[: STAGES.index(stage) + 1]):
            built = base / f"h5-tiny-{name}"
            if built.is_dir():
                continue
            prev = base / f"h5-tiny-{STAGES[i - 1]}" if i else None
            tmp = base / f"h5-tiny-{name}.partial"
            shutil.rmtree(tmp, ignore_errors=True)
            if name == "teacher":
                from tinyecg.stages.train import train

                train(tmp, data=EXCERPT, split="intra", epochs=2, quiet=True)
            else:
                shutil.copytree(prev, tmp)
                if name == "student":
                    from tinyecg.stages.distill import distill

                    distill(tmp, epochs=2, quiet=True)
                else:
                    from tinyecg.stages.quantize import quantize

                    quantize(tmp, quiet=True)
            tmp.rename(built)
    shutil.copytree(base / f"h5-tiny-{stage}", dest)
    return dest


# --------------------------------------------------------------------------- small test models
# shared by test_export (and its error and source tests) and test_firmware_qemu: tinyecg's
# student-cnn trained 200 steps on the bundled excerpt, converted to a full-int8 graph, with a
# float and a dynamic-range "hybrid" conversion of the same network and an untrained
# beat-only int8 student
def convert_keras(model, beats, rhythm, kind: str) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind in ("int8", "hybrid"):
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "int8":
        calib = np.random.default_rng(1).choice(len(beats), 100, replace=False)

        def representative():
            for i in calib:  # by name: the flatbuffer orders the inputs its own way
                yield (
                    {"beat": beats[i : i + 1]}
                    if rhythm is None
                    else {"beat": beats[i : i + 1], "rhythm": rhythm[i : i + 1]}
                )

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        # dense layers per-tensor, as tinyecg quantize makes them (export --board refuses
        # per-channel FULLY_CONNECTED: the boards' 2023 TFLM computes it wrongly)
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


def build_models(cache: Path) -> dict[str, Path]:
    """{"int8", "float", "hybrid", "beat_only"} -> .tflite paths, built once per cache folder.
    beat_only: the student without the rhythm input, untrained, int8 (for the one-input
    branches of the templates)."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = {k: cache / f"student_{k}.tflite" for k in ("int8", "float", "hybrid", "beat_only")}
    if all(p.is_file() for p in paths.values()):
        return paths
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tinyecg.data.dataset import build_dataset
    from tinyecg.models.architectures import build, keras

    ds = build_dataset(EXCERPT)
    beats = ds.x.reshape(-1, 1, 360, 1).astype(np.float32)
    rhythm = ds.beats.rhythm.astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build("student-cnn", n_classes=len(ds.labels))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    idx = np.random.default_rng(0).integers(0, len(ds), 200 * 32)
    model.fit(
        [beats[idx], rhythm[idx]],
        ds.beats.y[idx],
        batch_size=32,
        epochs=1,
        verbose=0,
        shuffle=False,
    )
    beat_only = build("student-cnn", n_classes=len(ds.labels), rhythm=False)
    for kind, path in paths.items():
        tmp = path.with_suffix(".part")
        if kind == "beat_only":
            tmp.write_bytes(convert_keras(beat_only, beats, None, "int8"))
        else:
            tmp.write_bytes(convert_keras(model, beats, rhythm, kind))
        tmp.replace(path)
    return paths


def host_lines(harness: Path, x):
    """Peaks and RR rows of the host harness (x86-64 build of the core) on MIT-BIH-scaled
    samples (ADC 0..2047): the reference the firmware images are compared with."""
    from tinyecg.device import detect
    from tinyecg.device.firmware import parse_lines

    out = detect.run_harness(
        harness, detect.samples_text(x), "--peaks", "--rr", "--adc-min", "0", "--adc-max", "2047"
    )
    return parse_lines(out)


def write_like(
    rec, folder, name: str, d_signal, *, fs: int = 360, fmt: str = "16", sig_name=None
) -> Path:
    """A WFDB record `name` in `folder` holding the digital samples `d_signal` with `rec`'s
    units, lead names (unless sig_name), gain and baseline, every lead in format `fmt`."""
    import wfdb

    wfdb.wrsamp(
        name,
        fs=fs,
        units=rec.units,
        sig_name=sig_name if sig_name is not None else rec.sig_name,
        d_signal=d_signal,
        fmt=[fmt] * d_signal.shape[1],
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        write_dir=str(folder),
    )
    return Path(folder) / name


# --------------------------------------------------------------------------- a rhythm model
SHARED_DATA = ROOT.parent / "shared" / "data"
SHIPPED_RHYTHM_MODEL = ROOT / "tinyecg" / "assets" / "rhythm_model" / "model.tflite"
# cudb records the quick model learns from; cu01 (VF from 214 s) and vfdb stay unseen
QUICK_RHYTHM_RECORDS = ("cu02", "cu03", "cu04", "cu06", "cu07")


def rhythm_data(database: str, name: str) -> Path:
    """A record of ../shared/data/<database>, or skip."""
    base = SHARED_DATA / database / name
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"needs {database} record {name} (../shared/data/{database})")
    return base


def rhythm_model(tmp_path_factory) -> Path:
    """The shipped rhythm model when the package has one, else an int8 student trained once
    per session on five cudb records (teacher 2 epochs, student 3: about 40 s; a real model
    of the real front end's windows, not a good one)."""
    if SHIPPED_RHYTHM_MODEL.is_file():
        return SHIPPED_RHYTHM_MODEL
    pytest.importorskip("tflite_micro")
    path = tmp_path_factory.getbasetemp() / "quick-rhythm" / "student_int8.tflite"
    if path.is_file():
        return path
    from tinyecg.data.rhythm import load_rhythm_record
    from tinyecg.stages.rhythm_train import train_rhythm_models

    recs = [load_rhythm_record(rhythm_data("cudb", n)) for n in QUICK_RHYTHM_RECORDS]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("tinyecg.stages.train.MIN_STEPS", 150)
        out = train_rhythm_models(
            recs,
            teacher_epochs=2,
            student_epochs=3,
            batch_size=64,
            representative=200,
            validation_every=5,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out["int8"])
    return path


def rhythm_reference_lines(adc, model_path, baseline=1024, gain=200, rails=(0, 2047)):
    """The `# rhythm` and `# alarm` lines the protocol (docs/rhythm.md) asks of a device
    fed the ADC samples adc from the first one, as (input samples needed, line): computed
    here from the Python front end and the int8 model in TFLM, written independently of
    the device's own reference. A window holding a railed sample is unreadable."""
    from tinyecg.data.rhythm import window_ends
    from tinyecg.dsp import rhythm_frontend as fe
    from tinyecg.runtime.tflm import TFLMModel
    from tinyecg.spec import ALARM_CONSECUTIVE, RHYTHM_WINDOW

    adc = np.asarray(adc, np.int64)
    stream = fe.stream_int(adc - baseline)
    ends = window_ends(len(stream))
    w = fe.windows_at(stream, ends, RHYTHM_WINDOW)
    out = TFLMModel(Path(model_path).read_bytes()).invoke_batch(fe.normalise_int(w, gain))
    shock = (out.argmax(1) == 1) & fe.amplitude_gate(w, gain)
    railed = np.isin(adc, rails)
    lines, run, alarm = [], 0, False
    for e, s, score in zip(ends.tolist(), shock.tolist(), out[:, 1].tolist()):
        end = 4 * e - 1  # the input sample that completed stream sample e - 1
        if railed[max(0, end + 1 - 4 * RHYTHM_WINDOW) : end + 1].any():
            kind, score = "unreadable", 0
        else:
            kind = "shockable" if s else "non-shockable"
        lines.append((end + 1, f"# rhythm {kind} {end} {int(score)}"))
        run = run + 1 if kind == "shockable" else 0
        if run >= ALARM_CONSECUTIVE and not alarm:
            alarm = True
            lines.append((end + 1, f"# alarm shockable {end}"))
        elif run == 0 and alarm:
            alarm = False
            lines.append((end + 1, f"# alarm cleared {end}"))
    return lines


@contextlib.contextmanager
def tcp_device(harness: Path, *extra_args: str):
    """The host harness serving the protocol on 127.0.0.1 (port chosen by the OS) in MIT-BIH
    replay units (ADC 0..2047: what `tinyecg stream` sends); yields its pyserial URL."""
    args = ["--tcp", "0", "--adc-min", "0", "--adc-max", "2047", *extra_args]
    proc = subprocess.Popen([str(harness), *args], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("listening "), line
        yield f"socket://127.0.0.1:{int(line.split()[1])}"
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_main(monkeypatch, capsys, *args):
    """Run the `tinyecg` entry point (tinyecg.app.cli:main) in-process: (exit code, out, err)."""
    from tinyecg.app.cli import main

    monkeypatch.setattr(sys, "argv", ["tinyecg", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err
