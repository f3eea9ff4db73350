"""The PlatformIO firmware project (firmware/): configuration, build inputs, and the firmware's
board-independent application (firmware/lib/tinyecg_app) compiled and run on the host against
a real export.

Nothing here downloads or builds with PlatformIO (its registry is unreachable; `pio run`
would hang): platformio.ini is read with configparser and, offline, `pio project config`.
The application's C (boot, model checks, golden self-test, sample ring, ADC/lead-off mapping,
command filter, replay idle handling, core configuration) compiles with the project's strict
C flags (-std=c99 -Wall -Wextra -Werror -Wconversion -pedantic), as C++17 and for Cortex-M, and
runs here behind a host "board layer" (tests/c/firmware_shim.c) with the TFLM host runtime
(PyPI tflite-micro, the reference kernels) standing in for the board's interpreter, and with
the C backend as the build's own classifier. The TFLM adapter itself is compiled and run
against the library the boards pin by tests/test_tflm_vendored.py; main.cpp, against a stub of
the Arduino API here (its serial replay build).
"""

from __future__ import annotations

import configparser
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import host_lines

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
EXCERPT = ROOT / "tinyecg" / "data" / "excerpts" / "mitdb"

BOARDS = {  # env -> (platform, board)
    "nano33ble": ("nordicnrf52", "nano33ble"),
    "esp32s3": ("espressif32", "esp32-s3-devkitc-1"),
    "nucleo_l432kc": ("ststm32", "nucleo_l432kc"),
    "pico": ("raspberrypi", "pico"),
}
ARDUINO_TFLM = "tensorflow/tflite-micro-arduino-examples"
ESP32_TFLM = "eloquentarduino/tflm_esp32"
APP_SOURCES = (
    "tinyecg_firmware.c",
    "tinyecg_selftest.c",
    "tinyecg_exported.c",
    "tinyecg_model_check.c",
    "tinyecg_sample_ring.c",
    "tinyecg_command_filter.c",
    "tinyecg_text.c",
    "tinyecg_classifier_none.c",
    "tinyecg_classifier_cbackend.c",
    "tinyecg_rhythm_classifier.c",
)
OUR_SOURCES = ("main.cpp", "tinyecg_classifier_tflm.cpp", "tinyecg_tflm_platform.cpp", *APP_SOURCES)
CXX_WARN = ["-std=c++17", "-Wall", "-Wextra", "-Werror"]
INT8, UINT8 = 9, 3  # TfLiteType codes
OUT_BEATS, OUT_PEAKS, OUT_RR, OUT_WINDOWS = 1, 2, 4, 8
INPUT_SERIAL, INPUT_ADC = 0, 1


# --------------------------------------------------------------------------- platformio.ini
def _ini() -> dict[str, dict[str, str]]:
    """platformio.ini with PlatformIO's ${section.option} references resolved and [env]
    inherited by every [env:NAME], as PlatformIO reads it."""
    cp = configparser.RawConfigParser(strict=True)
    cp.optionxform = str
    assert cp.read(FIRMWARE / "platformio.ini"), "firmware/platformio.ini is missing"

    def resolve(value: str, depth: int = 0) -> str:
        assert depth < 10, f"reference loop in {value!r}"

        def sub(m):
            sec, opt = m.group(1), m.group(2)
            assert cp.has_option(sec, opt), f"${{{sec}.{opt}}} names no option"
            return resolve(cp.get(sec, opt), depth + 1)

        return re.sub(r"\$\{([^.}]+)\.([^}]+)\}", sub, value)

    out = {}
    for sec in cp.sections():
        opts = dict(cp.items("env")) if sec.startswith("env:") and cp.has_section("env") else {}
        opts.update(cp.items(sec))
        out[sec] = {k: resolve(v) for k, v in opts.items()}
    return out


def _items(value: str) -> list[str]:
    return [x.strip() for x in re.split(r"[\n,]", value) if x.strip()]


def _pinned(dep: str) -> bool:
    """A git URL at a 40-hex commit or an x.y.z tag, or a registry name@x.y.z (no range)."""
    if "://" in dep:
        return bool(re.search(r"#([0-9a-f]{40}|v?\d+\.\d+\.\d+)$", dep))
    return bool(re.fullmatch(r"[\w.-]+/[\w. -]+\s*@\s*\d+\.\d+\.\d+", dep))


def test_platformio_ini_has_four_pinned_board_environments():
    ini = _ini()
    envs = {s[4:]: o for s, o in ini.items() if s.startswith("env:")}
    assert set(BOARDS) <= set(envs), f"missing environments: {set(BOARDS) - set(envs)}"
    assert ini["platformio"]["default_envs"] in envs
    for name, (platform, board) in BOARDS.items():
        opts = envs[name]
        assert re.fullmatch(rf"{platform}\s*@\s*\d+\.\d+\.\d+", opts["platform"]), (
            f"{name}: platform not pinned to an exact version: {opts['platform']}"
        )
        assert opts["board"] == board
        assert opts["framework"] == "arduino"
        deps = _items(opts.get("lib_deps", ""))
        assert deps, f"{name}: no TensorFlow Lite Micro in lib_deps"
        assert all(_pinned(d) for d in deps), f"{name}: unpinned lib_deps {deps}"
        flags = opts.get("build_flags", "")
        want = ESP32_TFLM if platform == "espressif32" else ARDUINO_TFLM
        dist = (
            "TINYECG_TFLM_ELOQUENT_ESP32"
            if platform == "espressif32"
            else "TINYECG_TFLM_ARDUINO_EXAMPLES"
        )
        assert any(want in d for d in deps), f"{name}: expected {want} in {deps}"
        assert f"-DTINYECG_TFLM_DIST={dist}" in flags, f"{name}: {flags}"
        for script in _items(opts.get("extra_scripts", "")):
            path = FIRMWARE / script.split(":", 1)[-1]
            assert path.is_file(), f"{name}: extra script {path} is missing"
        if want == ARDUINO_TFLM:
            # the archived Arduino export: its last commit, and its board-specific files
            # filtered out (they stop with "#error unsupported board" off the Nano 33 BLE)
            # pinned to a full commit hash; tests/test_tflm_vendored.py checks it is the
            # vendored one (bd7e861, the export's last TFLM sync)
            assert any(re.search(r"#[0-9a-f]{40}$", d) for d in deps), deps
            assert "pre:scripts/tflm_arduino_filter.py" in opts.get("extra_scripts", "")
            assert "-DTF_LITE_STATIC_MEMORY" in flags
    text = (FIRMWARE / "scripts" / "tflm_arduino_filter.py").read_text()
    for part in ("peripherals", "system_setup.cpp", "micro_time.cpp", "AddBuildMiddleware"):
        assert part in text


def _pio_command() -> list[str] | None:
    try:
        import platformio  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "platformio"]


def test_pio_project_config_resolves_offline(tmp_path):
    pio = _pio_command()
    if pio is None:
        pytest.skip("the platformio package is not installed (pip install tinyecg[firmware])")
    project = tmp_path / "firmware"
    shutil.copytree(
        FIRMWARE, project, ignore=shutil.ignore_patterns(".pio", "build", "host", "targets")
    )
    env = dict(
        os.environ,
        PLATFORMIO_CORE_DIR=str(tmp_path / "pio-core"),
        PLATFORMIO_NO_ANSI="1",
        PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
        PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650",
    )
    try:
        proc = subprocess.run(
            pio + ["project", "config", "--json-output", "-d", str(project)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`pio project config` did not finish offline within 60 s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = {name: dict(opts) for name, opts in json.loads(proc.stdout)}
    ours = _ini()
    for name in BOARDS:
        got = config[f"env:{name}"]
        assert got["board"] == ours[f"env:{name}"]["board"]
        assert got["platform"] == ours[f"env:{name}"]["platform"]
        assert got["lib_deps"] == _items(ours[f"env:{name}"]["lib_deps"])
        assert all(_pinned(d) for d in got["lib_deps"])
        assert any(f.startswith("-DTINYECG_TFLM_DIST=") for f in got["build_flags"])
    assert not (project / ".pio").exists(), "pio project config must not build anything"


# --------------------------------------------------------------------------- the export
def _build_student(tmp: Path) -> Path:
    """A student-cnn briefly trained on the bundled excerpt, converted to full int8."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tinyecg.data.dataset import build_dataset
    from tinyecg.models.architectures import build, keras
    from tinyecg.stages.quantize import convert_int8

    ds = build_dataset(EXCERPT, use_cache=False)
    keras.utils.set_random_seed(0)
    model = build("student-cnn", n_classes=len(ds.labels))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(ds), 30 * 32)
    model.fit(
        [ds.x[idx].reshape(-1, 1, 360, 1), ds.beats.rhythm[idx]],
        ds.beats.y[idx],
        batch_size=32,
        epochs=1,
        verbose=0,
    )
    calib = rng.choice(len(ds), 64, replace=False)
    data = convert_int8(
        model,
        [
            ds.x[calib].reshape(-1, 1, 360, 1).astype(np.float32),
            ds.beats.rhythm[calib].astype(np.float32),
        ],
    )
    path = tmp / "student_int8.tflite"
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A temporary copy of firmware/ with lib/tinyecg_model exported into it: the packaged
    default model when there is one, else a student built here."""
    try:
        from tinyecg.export import exporter
    except ImportError as exc:
        pytest.skip(f"the exporter (tinyecg.export.exporter) is not available yet: {exc}")
    tmp = tmp_path_factory.mktemp("firmware_project")
    project = tmp / "firmware"
    shutil.copytree(
        FIRMWARE,
        project,
        ignore=shutil.ignore_patterns(".pio", "build", "host", "targets", "tinyecg_model"),
    )
    default = exporter.DEFAULT_MODEL_DIR / "model.tflite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.delenv("TINYECG_DATA", raising=False)
        source = None if default.is_file() else _build_student(tmp)
        summary = exporter.export(source, project / "lib" / "tinyecg_model", force=True)
    model_path = default if source is None else source
    return SimpleNamespace(
        project=project,
        lib=project / "lib" / "tinyecg_model",
        model_bytes=model_path.read_bytes(),
        summary=summary,
    )


# --------------------------------------------------------------------------- build inputs
SOURCE_EXT = {".c", ".cc", ".cpp", ".cxx", ".S"}
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*(?:([<"])([^>"]+)[>"]|([A-Za-z_]\w*))', re.M)
EXTERNAL = ("tensorflow/", "third_party/")  # TFLM headers, provided by lib_deps


def _library(path: Path) -> dict:
    """PlatformIO's view of a lib/ folder: where its sources and headers are."""
    manifest = path / "library.json"
    build = json.loads(manifest.read_text()).get("build", {}) if manifest.is_file() else {}
    src = (
        path / build["srcDir"]
        if "srcDir" in build
        else (path / "src" if (path / "src").is_dir() else path)
    )
    inc = (
        path / build["includeDir"]
        if "includeDir" in build
        else (path / "include" if (path / "include").is_dir() else src)
    )
    return {"name": path.name, "src": src, "include": inc}


def _compiled(src_dir: Path, skip=("examples", "example", "test", "tests")) -> list[Path]:
    return sorted(
        p
        for p in src_dir.rglob("*")
        if p.suffix in SOURCE_EXT
        and not any(
            part in skip or part.startswith(".") for part in p.relative_to(src_dir).parts[:-1]
        )
    )


def _macros(files) -> dict[str, str]:
    out = {}
    for f in files:
        for m in re.finditer(
            r'^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+"([^"]+)"', f.read_text(), re.M
        ):
            out[m.group(1)] = m.group(2)
    return out


TFLM_ADAPTER = "tinyecg_classifier_tflm.cpp"
TFLM_RHYTHM_HEADERS = ("tinyecg_rhythm_model_data.h", "tinyecg_rhythm_model_op_resolver.h")


def test_every_compiled_file_exists_and_every_include_resolves(exported):
    project = exported.project
    libs = [_library(p) for p in sorted((project / "lib").iterdir()) if p.is_dir()]
    assert {lib["name"] for lib in libs} >= {
        "tinyecg_app",
        "tinyecg_core",
        "tinyecg_dsp",
        "tinyecg_model",
    }
    compiled = _compiled(project / "src")
    for lib in libs:
        compiled += _compiled(lib["src"])
    names = {p.name for p in compiled}
    assert set(OUR_SOURCES) <= names, f"missing from the build: {set(OUR_SOURCES) - names}"
    assert {"tinyecg_model_data.c", "tinyecg_preprocess_params.c", "tinyecg_golden.c"} <= names
    assert len([p for p in compiled if "tinyecg_core" in p.parts]) >= 3
    # the static preprocessing library: every source compiled, none generated into the model
    dsp = [p for p in compiled if "tinyecg_dsp" in p.parts]
    assert {p.name for p in dsp} == {
        "tinyecg_preprocess.c",
        "tinyecg_denoise.c",
        "tinyecg_rhythm.c",
        "tinyecg_longterm.c",  # a patient-context model's features (unused ones: gc'ed)
    }
    assert not (exported.lib / "tinyecg_preprocess.c").exists()

    search = [project / "include", project / "src"]
    for lib in libs:
        search += [lib["include"], lib["src"]]
    headers = [p for d in search for p in d.glob("*.h")]
    macros = _macros(headers)

    def resolve(name: str, here: Path) -> Path | None:
        for d in [here.parent] + search:
            if (d / name).is_file():
                return (d / name).resolve()
        return None

    unresolved, closures = [], {}
    for tu in compiled:
        if tu.name == "tinyecg_classifier_cbackend.c":
            # the boards build TINYECG_CLASSIFIER_TFLM: this file's body is preprocessed away,
            # and with it its include of the C backend's tinyecg_model.h (not in a TFLM export)
            body = tu.read_text()
            assert re.search(
                r"^#if TINYECG_CLASSIFIER == TINYECG_CLASSIFIER_CBACKEND$", body, re.M
            ).start() < body.index('#include "tinyecg_model.h"')
            continue
        seen, todo = set(), [tu]
        while todo:
            f = todo.pop()
            for m in INCLUDE_RE.finditer(f.read_text(errors="replace")):
                quote, name, macro = m.groups()
                if macro:
                    if macro not in macros:
                        unresolved.append(f"{f.name}: #include {macro} (no such macro)")
                        continue
                    quote, name = '"', macros[macro]
                if name.startswith(EXTERNAL):
                    continue
                found = resolve(name, f)
                if found is None and name in TFLM_RHYTHM_HEADERS and f.name == TFLM_ADAPTER:
                    # the rhythm model's TFLM files: included only with a `--runtime tflm`
                    # rhythm export (TINYECG_RHYTHM_MODEL_IS_TFLM); the project's is the C backend's
                    body = f.read_text()
                    guard = re.search(
                        r"^#if TINYECG_RHYTHM && TINYECG_RHYTHM_MODEL_IS_TFLM$", body, re.M
                    )
                    assert guard and guard.start() < body.index(f'#include "{name}"')
                    rhythm_export = project / "lib" / "tinyecg_rhythm_model" / "manifest.json"
                    assert json.loads(rhythm_export.read_text())["runtime"] == "c"
                    continue
                if found is None:
                    if quote == '"':
                        unresolved.append(f'{f.relative_to(project)}: "{name}"')
                    continue
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
        closures[tu] = {p.name for p in seen}
    assert not unresolved, "includes that do not resolve in the project:\n" + "\n".join(unresolved)
    # tinyecg_app.h (core) and tinyecg_model_meta.h (export) both define TINYECG_VERSION
    clash = [
        tu.name for tu, inc in closures.items() if {"tinyecg_app.h", "tinyecg_model_meta.h"} <= inc
    ]
    assert not clash, f"these include both tinyecg_app.h and tinyecg_model_meta.h: {clash}"
    # the adapter reaches the generated resolver, model data and arena, and ecg_config.h
    adapter = next(tu for tu in compiled if tu.name == "tinyecg_classifier_tflm.cpp")
    assert {
        "tinyecg_op_resolver.h",
        "tinyecg_model_data.h",
        "tinyecg_arena.h",
        "ecg_config.h",
        "tinyecg_exported.h",
    } <= closures[adapter]
    # the application's model binding reaches the metadata, the golden vectors and the
    # preprocessing library through the generated parameters, and they reach the core's
    # rendered tinyecg_spec.h
    binding = next(tu for tu in compiled if tu.name == "tinyecg_exported.c")
    assert {
        "tinyecg_model_meta.h",
        "tinyecg_golden.h",
        "tinyecg_preprocess_params.h",
        "tinyecg_dsp.h",
        "tinyecg_spec.h",
    } <= closures[binding]
    # the board layer reaches the application only through tinyecg_firmware.h
    board = next(tu for tu in compiled if tu.name == "main.cpp")
    assert "tinyecg_firmware.h" in closures[board]
    assert not {"tinyecg_model_meta.h", "tinyecg_golden.h"} & closures[board]
    for tu in dsp:
        assert {"tinyecg_dsp.h", "tinyecg_spec.h"} <= closures[tu], tu.name


# --------------------------------------------------------------------------- host compile
def _cc(args, cwd):
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stderr[-3000:]}"


def _includes(project: Path, model: Path | None = None, *extra: Path) -> list[str]:
    """The project's include folders; model: an export folder instead of lib/tinyecg_model."""
    model = model if model is not None else project / "lib" / "tinyecg_model"
    return [
        f"-I{project / 'include'}",
        f"-I{project / 'lib' / 'tinyecg_app' / 'include'}",
        f"-I{project / 'lib' / 'tinyecg_core' / 'include'}",
        f"-I{project / 'lib' / 'tinyecg_rhythm' / 'include'}",
        f"-I{project / 'lib' / 'tinyecg_dsp' / 'include'}",
        f"-I{model}",
        # the rhythm task (ecg_config.h TINYECG_RHYTHM, on with a classifier): its export
        # and the C backend kernels its model calls
        f"-I{project / 'lib' / 'tinyecg_rhythm_model'}",
        f"-I{project / 'lib' / 'tinyecg_nn' / 'include'}",
        *(f"-I{p}" for p in extra),
    ]


def _app_sources(project: Path) -> list[Path]:
    return [project / "lib" / "tinyecg_app" / "src" / name for name in APP_SOURCES]


def test_app_is_the_one_firmware_application():
    """One board-independent application: firmware/src holds only the Arduino board layer,
    the QEMU target only its board layer (no second self-test or model binding), and
    every C/C++ name of the application starts with tinyecg_ (one prefix scheme)."""
    assert sorted(p.name for p in (FIRMWARE / "src").iterdir()) == ["main.cpp"]
    target = FIRMWARE / "targets" / "mps2-an386"
    assert not (target / "app").exists()
    assert sorted(p.name for p in (target / "board").iterdir()) == ["main.c"]
    app = FIRMWARE / "lib" / "tinyecg_app"
    names = {p.name for p in (app / "src").iterdir()}
    assert set(APP_SOURCES) | {"tinyecg_classifier_tflm.cpp", "tinyecg_tflm_platform.cpp"} == names
    for header in (app / "include").glob("*.h"):
        text = header.read_text()
        names = re.findall(r"^\} (\w+);", text, re.M)  # typedef struct
        names += re.findall(r"^typedef [^{;]*?\(\*(\w+)\)", text, re.M)  # function pointers
        names += re.findall(r"^typedef [^{;(]*?\b(\w+);", text, re.M)  # other typedefs
        names += re.findall(r"^[a-z][\w *]*?\b(\w+)\(", text, re.M)  # functions
        assert names, header.name
        for ident in names:
            assert ident.startswith("tinyecg_"), f"{header.name}: {ident}"
        for macro in re.findall(r"^#define (\w+)", text, re.M):
            assert macro.startswith("TINYECG_"), f"{header.name}: {macro}"
    for old in ("tinyecg_fw_", "app_model", "app_selftest", "tinyecg_platform_micros"):
        for path in list(app.rglob("*.[ch]*")) + [
            FIRMWARE / "src" / "main.cpp",
            target / "board" / "main.c",
        ]:
            assert old not in path.read_text(), f"{path.name} still says {old}"


def test_golden_tolerance_is_zero_everywhere():
    """No widened tolerance: ecg_config.h says 0, no build flag overrides it, and the
    application passes the configured value (tinyecg_firmware.c)."""
    config = (FIRMWARE / "include" / "ecg_config.h").read_text()
    assert re.search(r"^#define TINYECG_GOLDEN_TOLERANCE 0$", config, re.M)
    assert len(re.findall(r"#define TINYECG_GOLDEN_TOLERANCE", config)) == 1
    assert "TINYECG_GOLDEN_TOLERANCE" not in (FIRMWARE / "platformio.ini").read_text()
    app = (FIRMWARE / "lib" / "tinyecg_app" / "src" / "tinyecg_firmware.c").read_text()
    assert "TINYECG_GOLDEN_TOLERANCE" in app


def test_app_compiles_as_strict_c99_and_cxx17(exported, tmp_path, strict_c_flags):
    for src in _app_sources(exported.project):
        _cc(
            [
                "gcc",
                *strict_c_flags,
                *_includes(exported.project),
                "-c",
                src,
                "-o",
                tmp_path / f"{src.name}.o",
            ],
            tmp_path,
        )
        _cc(
            [
                "g++",
                *CXX_WARN,
                "-x",
                "c++",
                *_includes(exported.project),
                "-c",
                src,
                "-o",
                tmp_path / f"{src.name}.cpp.o",
            ],
            tmp_path,
        )


ARDUINO_STUB = r"""
#ifndef ARDUINO_H
#define ARDUINO_H
#include <stddef.h>
#include <stdint.h>
unsigned long millis(void);
unsigned long micros(void);
struct SerialStub {
    void begin(unsigned long baud);
    explicit operator bool() const;
    int available();
    int read();
    size_t write(const uint8_t *data, size_t len);
};
extern SerialStub Serial;
#endif
"""


def test_main_cpp_compiles_against_the_arduino_api(exported, tmp_path):
    """The Arduino board layer in its default (serial replay) build, against a stub of the
    little of the Arduino API it uses (Serial, millis, micros): what `pio run` compiles, bar
    the core's own headers."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "Arduino.h").write_text(ARDUINO_STUB)
    _cc(
        [
            "g++",
            *CXX_WARN,
            f"-I{stub}",
            *_includes(exported.project),
            "-c",
            exported.project / "src" / "main.cpp",
            "-o",
            tmp_path / "main.o",
        ],
        tmp_path,
    )


@pytest.mark.parametrize(
    "cpu",
    [
        ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],  # nRF52840, STM32L432
        ["-mcpu=cortex-m0plus"],  # RP2040
    ],
)
def test_app_cross_compiles_for_cortex_m(exported, tmp_path, cpu, strict_c_flags):
    """The same C for the Arm boards' cores (arm-none-eabi-gcc, as PlatformIO's toolchains):
    warning-free, and the sample ring's atomics are inline (no libatomic on Cortex-M0+)."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed (Debian: gcc-arm-none-eabi)")
    project = exported.project
    sources = (
        _app_sources(project)
        + sorted((project / "lib" / "tinyecg_core" / "src").glob("*.c"))
        + sorted((project / "lib" / "tinyecg_rhythm" / "src").glob("*.c"))
        + sorted((project / "lib" / "tinyecg_dsp" / "src").glob("*.c"))
        + sorted(exported.lib.glob("*.c"))
        + sorted((project / "lib" / "tinyecg_rhythm_model").glob("*.c"))
    )
    for src in sources:
        obj = tmp_path / f"{src.parent.name}_{src.stem}.o"
        _cc(
            [
                gcc,
                *cpu,
                "-mthumb",
                *strict_c_flags,
                "-Os",
                *_includes(project),
                "-c",
                src,
                "-o",
                obj,
            ],
            tmp_path,
        )
    nm = subprocess.run(
        [
            shutil.which("arm-none-eabi-nm") or "arm-none-eabi-nm",
            "-u",
            *sorted(tmp_path.glob("*.o")),
        ],
        capture_output=True,
        text=True,
    )
    assert nm.returncode == 0, nm.stderr
    assert "__atomic" not in nm.stdout and "__sync" not in nm.stdout


def _shared_library(
    project: Path,
    out: Path,
    model_dir: Path,
    flags,
    defines=(),
    extra_sources=(),
    extra_includes=(),
) -> Path:
    """The application (strict C99), the shim board layer, the core, the preprocessing and an
    export's C in one shared library."""
    sources = [
        *_app_sources(project),
        ROOT / "tests" / "c" / "firmware_shim.c",
        *sorted((project / "lib" / "tinyecg_core" / "src").glob("*.c")),
        *sorted((project / "lib" / "tinyecg_rhythm" / "src").glob("*.c")),
        *sorted((project / "lib" / "tinyecg_dsp" / "src").glob("*.c")),
        *(model_dir / n for n in ("tinyecg_preprocess_params.c", "tinyecg_golden.c")),
        *extra_sources,
    ]
    objs = []
    for k, src in enumerate(sources):
        obj = out / f"{k:02d}-{src.stem}.o"
        _cc(
            [
                "gcc",
                *flags,
                "-fPIC",
                "-O1",
                *(f"-D{d}" for d in defines),
                *_includes(project, model_dir, *extra_includes),
                "-c",
                src,
                "-o",
                obj,
            ],
            out,
        )
        objs.append(obj)
    so = out / "libtinyecg_app.so"
    _cc(["gcc", "-shared", "-o", so, *objs], out)
    return so


@pytest.fixture(scope="module")
def fwlib(exported, tmp_path_factory, strict_c_flags):
    """The application built with TINYECG_CLASSIFIER_NONE (the classifier comes from the
    test), loaded with ctypes."""
    out = tmp_path_factory.mktemp("fwlib")
    so = _shared_library(
        exported.project,
        out,
        exported.lib,
        strict_c_flags,
        defines=["TINYECG_CLASSIFIER=TINYECG_CLASSIFIER_NONE"],
    )
    return _bind(ctypes.CDLL(str(so)))


WRITE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
CLASSIFY = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_int8),
    ctypes.POINTER(ctypes.c_int8),
    ctypes.POINTER(ctypes.c_int8),
)


class Classifier(ctypes.Structure):
    _fields_ = [
        ("classify", CLASSIFY),
        ("ctx", ctypes.c_void_p),
        ("n_classes", ctypes.c_int),
        ("n_rhythm", ctypes.c_int),
        ("labels", ctypes.POINTER(ctypes.c_char_p)),
        ("name", ctypes.c_char_p),
    ]


class Tensor(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("n_dims", ctypes.c_int),
        ("dims", ctypes.c_int32 * 6),
        ("scale", ctypes.c_float),
        ("zero_point", ctypes.c_int32),
    ]


class IoMap(ctypes.Structure):
    _fields_ = [("beat_input", ctypes.c_int), ("rhythm_input", ctypes.c_int)]


class Selftest(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_int)
        for n in (
            "vectors",
            "input_ok",
            "rhythm_ok",
            "output_ok",
            "classify_errors",
            "max_diff",
            "tolerance",
            "outputs_checked",
            "passed",
        )
    ]


def _bind(lib):
    vp = ctypes.c_void_p
    for name, res, args in [
        ("shim_expect", vp, []),
        ("shim_labels", ctypes.POINTER(ctypes.c_char_p), []),
        ("shim_n_classes", ctypes.c_int, []),
        ("shim_n_rhythm", ctypes.c_int, []),
        ("shim_golden_count", ctypes.c_int, []),
        ("shim_sha256", ctypes.c_char_p, []),
        (
            "tinyecg_model_check_tensors",
            ctypes.c_int,
            [
                vp,
                ctypes.POINTER(Tensor),
                ctypes.c_int,
                ctypes.POINTER(Tensor),
                ctypes.c_int,
                ctypes.POINTER(IoMap),
                WRITE,
                vp,
            ],
        ),
        (
            "shim_selftest",
            ctypes.c_int,
            [ctypes.POINTER(Classifier), ctypes.c_int, WRITE, ctypes.POINTER(Selftest)],
        ),
        (
            "shim_start",
            ctypes.c_int,
            [ctypes.c_int, ctypes.POINTER(Classifier), ctypes.c_uint, WRITE],
        ),
        ("shim_boot", ctypes.c_int, [ctypes.c_int, ctypes.c_uint, WRITE]),
        ("shim_serial", None, [ctypes.c_char_p, ctypes.c_size_t]),
        ("shim_adc", None, [ctypes.c_int32, ctypes.c_int]),
        ("shim_poll", None, []),
        ("shim_tick", None, [ctypes.c_uint32]),
        ("shim_selftest_again", ctypes.c_int, []),
        ("shim_state", ctypes.c_int, []),
        ("shim_core_classifier", ctypes.POINTER(Classifier), []),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class Host:
    """A text sink (the serial port) and a classifier backed by the TFLM host runtime, whose
    outputs can be offset to play an optimized kernel that rounds differently."""

    def __init__(self, lib, model_bytes: bytes, offset: int = 0):
        from tinyecg.runtime.tflm import TFLMModel

        self.lib, self.offset, self.text = lib, offset, []
        self.tflm = TFLMModel(model_bytes)
        self.beat_k = next(
            i for i, q in enumerate(self.tflm.inputs) if int(np.prod(q.shape)) == 360
        )
        self.rhythm_k = next((i for i, q in enumerate(self.tflm.inputs) if i != self.beat_k), None)
        self.n_classes = lib.shim_n_classes()
        self.n_rhythm = lib.shim_n_rhythm()
        self.seen = []  # (window_q, rhythm_q) as the classifier received them
        self.write = WRITE(lambda ctx, text: self.text.append(text.decode()))
        self._classify = CLASSIFY(self._run)
        self.classifier = Classifier(
            self._classify, None, self.n_classes, self.n_rhythm, lib.shim_labels(), b"tflm-host"
        )

    def _run(self, ctx, window, rhythm, scores):
        w = np.ctypeslib.as_array(window, (360,)).copy()
        r = np.ctypeslib.as_array(rhythm, (self.n_rhythm,)).copy() if self.n_rhythm else None
        self.seen.append((w, r))
        out = self.invoke(w, r).astype(np.int32) + self.offset
        for i, v in enumerate(np.clip(out, -128, 127)):
            scores[i] = int(v)
        return 0

    def invoke(self, w, r):
        inputs = [None] * len(self.tflm.inputs)
        inputs[self.beat_k] = w
        if self.rhythm_k is not None:
            inputs[self.rhythm_k] = r
        return self.tflm.invoke(*inputs)

    def lines(self) -> list[str]:
        return "".join(self.text).splitlines()


def test_golden_selftest_runs_generated_preprocessing_and_tflm(fwlib, exported):
    host = Host(fwlib, exported.model_bytes)
    res = Selftest()
    ok = fwlib.shim_selftest(ctypes.byref(host.classifier), 0, host.write, ctypes.byref(res))
    n = exported.summary["golden"]["count"]
    lines = host.lines()
    assert ok == 1 and res.passed == 1, "\n".join(lines)
    assert (res.vectors, res.input_ok, res.rhythm_ok, res.output_ok) == (n, n, n, n)
    assert res.max_diff == 0 and res.classify_errors == 0 and res.outputs_checked == 1
    assert lines[-1] == (
        f"# selftest pass {n}/{n} tolerance=0 maxdiff=0 input={n} rhythm={n} "
        f"output={n} classifier=tflm-host"
    )
    per_vector = [
        x
        for x in lines
        if re.match(
            r"# selftest \d+ record=\d+ r=\d+ label=\w+ input=ok rhythm=ok output=ok maxdiff=0$", x
        )
    ]
    assert len(per_vector) == n
    # the classifier got the golden inputs in the right roles: TFLM on what it received
    # gives the outputs and labels the exporter recorded in manifest.json
    items = exported.summary["golden"]["items"]
    labels = [x.decode() for x in fwlib.shim_labels()[: host.n_classes]]
    assert len(host.seen) == len(items) == n
    for k, ((w, r), item) in enumerate(zip(host.seen, items)):
        assert host.invoke(w, r).tolist() == item["output"], k
        assert (
            f"# selftest {k} record={item['record']} r={item['sample']} "
            f"label={labels[item['label']]} " in "\n".join(lines)
        )
    assert fwlib.shim_sha256().decode() == exported.summary["model"]["sha256"]


def test_preprocessing_only_selftest_without_a_classifier(fwlib, exported):
    text = []
    write = WRITE(lambda ctx, t: text.append(t.decode()))
    res = Selftest()
    assert fwlib.shim_selftest(None, 0, write, ctypes.byref(res)) == 1
    n = exported.summary["golden"]["count"]
    lines = "".join(text).splitlines()
    assert (res.input_ok, res.rhythm_ok, res.output_ok, res.outputs_checked) == (n, n, n, 0)
    assert lines[-1] == (
        f"# selftest pass {n}/{n} tolerance=0 maxdiff=- input={n} rhythm={n} "
        f"output=- classifier=none"
    )
    assert all(" output=- maxdiff=-" in x for x in lines[:-1])


def test_exported_ops_are_unchanged_since_the_2023_arduino_export(exported):
    """Golden outputs come from today's TFLM; the Arm boards run the Arduino export bd7e861
    (2023-02-27). Only MEAN changed in between (tflite-micro PR 1908, 2023-04): the student
    has none, so the self-test can demand an exact match there."""
    from tinyecg.export import tflm_files

    ops = exported.summary["model"]["ops"]
    assert ops and not set(ops) & set(tflm_files.CHANGED_SINCE_2023), ops
    assert all(r["arduino_2023"] for r in exported.summary["model"]["resolver"])
    assert "MEAN" not in ops


@pytest.mark.parametrize("offset,tolerance,passes", [(1, 0, False), (1, 1, True), (2, 1, False)])
def test_golden_selftest_tolerance_in_lsb(fwlib, exported, offset, tolerance, passes):
    """An interpreter whose outputs are off by `offset` LSB (as an optimized kernel that
    rounds differently could be): within the tolerance it passes, beyond it fails and the
    differing outputs are printed."""
    host = Host(fwlib, exported.model_bytes, offset=offset)
    res = Selftest()
    fwlib.shim_selftest(ctypes.byref(host.classifier), tolerance, host.write, ctypes.byref(res))
    lines = host.lines()
    assert res.passed == int(passes), "\n".join(lines)
    assert res.input_ok == res.vectors  # preprocessing is unaffected
    assert 1 <= res.max_diff <= offset  # clipping at 127 can only shrink the difference
    assert lines[-1].startswith("# selftest pass" if passes else "# selftest FAIL")
    assert any(" got " in x and " want " in x for x in lines)


def _tensors(host, perturb=None):
    q = host.tflm.inputs + host.tflm.outputs
    ts = []
    for k, t in enumerate(q):
        d = Tensor()
        d.type = INT8 if np.dtype(t.dtype) == np.int8 else UINT8
        d.n_dims = len(t.shape)
        for i, s in enumerate(t.shape):
            d.dims[i] = s
        d.scale = t.scale
        d.zero_point = t.zero_point
        if perturb:
            perturb(k, d)
        ts.append(d)
    n_in = len(host.tflm.inputs)
    return (Tensor * n_in)(*ts[:n_in]), n_in, (Tensor * 1)(ts[n_in]), 1


def _check(fwlib, host, perturb=None, drop_input=None):
    ins, n_in, outs, n_out = _tensors(host, perturb)
    if drop_input is not None:
        keep = [ins[i] for i in range(n_in) if i != drop_input]
        ins, n_in = (Tensor * len(keep))(*keep), len(keep)
    host.text.clear()
    io = IoMap()
    bad = fwlib.tinyecg_model_check_tensors(
        fwlib.shim_expect(), ins, n_in, outs, n_out, ctypes.byref(io), host.write, None
    )
    return bad, io, host.lines()


def test_model_check_against_the_interpreters_tensors(fwlib, exported):
    host = Host(fwlib, exported.model_bytes)
    bad, io, lines = _check(fwlib, host)
    assert bad == 0, lines
    assert (io.beat_input, io.rhythm_input) == (host.beat_k, host.rhythm_k)
    roles = {t["role"]: t["index"] for t in exported.summary["model"]["inputs"]}
    assert (io.beat_input, io.rhythm_input) == (roles["beat"], roles.get("rhythm", -1))

    b, r = host.beat_k, host.rhythm_k
    n_in = len(host.tflm.inputs)

    def zp(k, d):
        if k == b:
            d.zero_point += 1

    bad, _, lines = _check(fwlib, host, zp)
    assert bad == 1 and lines == [
        f"# model-check beat input zero point: "
        f"{host.tflm.inputs[b].zero_point + 1} (metadata "
        f"{host.tflm.inputs[b].zero_point})"
    ]

    def scale(k, d):  # one float32 ulp off: the check is exact
        if k == n_in:
            d.scale = float(np.nextafter(np.float32(d.scale), np.float32(1)))

    bad, _, lines = _check(fwlib, host, scale)
    assert bad == 1 and lines[0].startswith("# model-check output scale: "), lines

    def uint8(k, d):
        if k == r:
            d.type = UINT8

    bad, _, lines = _check(fwlib, host, uint8)
    assert bad == 1 and lines[0].startswith("# model-check rhythm input type: 3"), lines

    def classes(k, d):
        if k == n_in:
            d.dims[d.n_dims - 1] -= 1

    bad, _, lines = _check(fwlib, host, classes)
    assert bad == 1 and "output elements" in lines[0], lines

    bad, io, lines = _check(fwlib, host, drop_input=r)
    assert bad == 2 and io.rhythm_input == -1, lines  # input count, and no rhythm input


def _record(name: str, seconds: int):
    from tinyecg.device import detect

    x, _, _ = detect.read_record(EXCERPT / name, sampto=seconds * 360)
    return x


def _parse(lines):
    beats, rr, windows = {}, {}, {}
    for line in lines:
        f = line.split()
        if f and f[0] == "B":
            beats[int(f[1])] = (f[2], int(f[3]))
        elif f and f[0] == "R":
            rr[int(f[1])] = tuple(int(v) for v in f[2:6])
        elif f and f[0] == "W":
            windows[int(f[1])] = np.array([int(v) for v in f[2:]], np.int16)
    return beats, rr, windows


def test_serial_replay_classifies_like_the_python_reference(fwlib, exported):
    """The protocol path main.cpp takes in replay mode: samples as text -> core -> the
    firmware's preprocessing callbacks (MIT-BIH calibration) -> classifier -> B lines.
    Every beat's model inputs and label are recomputed independently in Python from the
    W/R lines: tinyecg.dsp.fixedpoint integer reference + the TFLM host runtime."""
    from tinyecg.dsp import fixedpoint as fp

    host = Host(fwlib, exported.model_bytes)
    labels = [x.decode() for x in fwlib.shim_labels()[: host.n_classes]]
    rc = fwlib.shim_start(
        INPUT_SERIAL, ctypes.byref(host.classifier), OUT_BEATS | OUT_RR | OUT_WINDOWS, host.write
    )
    assert rc == 0, host.lines()
    assert fwlib.shim_state() == 7  # boot self-test passed, classifier started and enabled
    boot = len(host.lines())
    host.seen.clear()  # the self-test's calls
    x = _record("208", 40)
    text = ("\n".join(str(int(v)) for v in x) + "\n#end\n#stats\n").encode()
    for i in range(0, len(text), 997):  # arbitrary chunks, as a serial port delivers them
        chunk = text[i : i + 997]
        fwlib.shim_serial(chunk, len(chunk))
    lines = host.lines()[boot - 1 :]
    assert lines[0].startswith("# tinyecg ") and "classifier=tflm-host" in lines[0]
    assert f"samples={len(x)}" in lines[-1] and "garbage=0" in lines[-1]
    beats, rr, windows = _parse(lines)
    assert len(beats) >= 40 and set(beats) == set(rr) == set(windows)
    assert len(host.seen) == len(beats)

    q = host.tflm.inputs
    params = fp.preprocess_params(
        q[host.beat_k].scale,
        q[host.beat_k].zero_point,
        q[host.rhythm_k].scale,
        q[host.rhythm_k].zero_point,
    )
    order = sorted(beats)
    raw = np.stack([windows[r] for r in order])
    want_w = fp.preprocess_windows_int(raw, 1024, 200, params)
    ctx = np.array([rr[r] for r in order])
    want_r = fp.rhythm_features_int(ctx[:, 0], ctx[:, 1], ctx[:, 2], ctx[:, 3], params)
    got_w = np.stack([w for w, _ in host.seen])
    got_r = np.stack([r for _, r in host.seen])
    np.testing.assert_array_equal(got_w, want_w)
    np.testing.assert_array_equal(got_r, want_r)
    for k, r in enumerate(order):
        out = host.invoke(want_w[k], want_r[k])
        assert beats[r] == (labels[int(np.argmax(out))], int(out.max())), r


def test_adc_mode_ring_lead_off_commands_and_overrun(fwlib, exported):
    """The path main.cpp takes in ADC mode: readings (as the timer tick delivers them)
    through the sample ring into the core, the AD8232 lead-off pins as railed samples,
    serial input reduced to '#' commands, ring overflow reported."""
    host = Host(fwlib, exported.model_bytes)
    assert (
        fwlib.shim_start(
            INPUT_ADC, ctypes.byref(host.classifier), OUT_BEATS | OUT_PEAKS, host.write
        )
        == 0
    )
    info = [x for x in host.lines() if x.startswith("# tinyecg ")]
    assert len(info) == 1 and "adc=0..4095" in info[0]  # 12-bit ADC range from ecg_config.h
    x = (_record("119", 30).astype(np.int64) * 2).clip(0, 4095)  # an 11-bit record, 12-bit ADC
    pushed = 0
    for i in range(0, len(x), 36):  # the tick pushes, loop() polls 10 times a second
        for v in x[i : i + 36]:
            fwlib.shim_adc(int(v), 0)
        pushed += len(x[i : i + 36])
        fwlib.shim_poll()
    beats, _, _ = _parse(host.lines())
    assert len(beats) >= 25

    for _ in range(180):  # half a second with an electrode off
        fwlib.shim_adc(2048, 1)
    pushed += 180
    fwlib.shim_poll()
    assert "# lead-off" in host.lines()

    cmd = b"1234\n#stats\n  #info\n"  # the sample line is ignored in ADC mode
    fwlib.shim_serial(cmd, len(cmd))
    stats = [x for x in host.lines() if x.startswith("# stats")]
    assert stats and f"samples={pushed}" in stats[-1] and "garbage=0" in stats[-1]
    assert host.lines()[-1].startswith("# tinyecg ")

    for _ in range(1024 + 76):  # loop() stalled: the ring holds 1024 samples
        fwlib.shim_adc(2048, 0)
    fwlib.shim_poll()
    assert "# adc-overrun 76" in host.lines()
    cmd = b"#stats\n"
    fwlib.shim_serial(cmd, len(cmd))
    assert f"samples={pushed + 1024}" in host.lines()[-1]


def test_replay_that_goes_silent_is_reported_once(fwlib, exported):
    """loop() ticks with millis(): in replay mode a second without a serial byte reports
    "# input stopped" once (the waiting beats come out), samples bring detection back; in
    ADC mode silence on the serial line means nothing."""
    host = Host(fwlib, exported.model_bytes)
    assert fwlib.shim_start(INPUT_SERIAL, ctypes.byref(host.classifier), OUT_BEATS, host.write) == 0
    x = _record("208", 20)
    text = ("\n".join(str(int(v)) for v in x) + "\n").encode()
    now = 0
    for i in range(0, len(text), 2000):
        fwlib.shim_serial(text[i : i + 2000], len(text[i : i + 2000]))
        now += 50
        fwlib.shim_tick(now)
    assert "# input stopped" not in host.lines()  # steady input: never idle
    n_before = sum(ln.startswith("B ") for ln in host.lines())
    for t in range(now + 100, now + 3000, 100):  # 3 s of silence, ticked every 100 ms
        fwlib.shim_tick(t)
    lines = host.lines()
    assert lines.count("# input stopped") == 1
    assert sum(ln.startswith("B ") for ln in lines) > n_before  # the waiting beats
    fwlib.shim_serial(text, len(text))
    fwlib.shim_tick(now + 3100)
    lines = host.lines()
    assert lines.count("# input resumed") == 1
    after = lines[lines.index("# input resumed") :]
    assert sum(ln.startswith("B ") for ln in after) >= 15

    adc = Host(fwlib, exported.model_bytes)
    assert fwlib.shim_start(INPUT_ADC, ctypes.byref(adc.classifier), OUT_BEATS, adc.write) == 0
    for v in (x[:720].astype(np.int64) * 2).clip(0, 4095):  # samples from the timer
        fwlib.shim_adc(int(v), 0)
    fwlib.shim_poll()
    for t in range(0, 5000, 100):
        fwlib.shim_tick(t)
    assert "# input stopped" not in adc.lines()


def test_failed_selftest_disables_the_classifier(fwlib, exported):
    """TINYECG_SELFTEST_STRICT (the default): a classifier one LSB off the golden outputs fails
    the boot self-test (tolerance 0) and is disabled: beats become "# classify-error <r>",
    never labels of the wrong model. "#qemu selftest"'s re-run reports the difference again."""
    host = Host(fwlib, exported.model_bytes, offset=1)
    assert fwlib.shim_start(INPUT_SERIAL, ctypes.byref(host.classifier), OUT_BEATS, host.write) == 0
    lines = host.lines()
    assert fwlib.shim_state() == 4  # started, self-test failed, disabled
    assert any(x.startswith("# selftest FAIL 0/") for x in lines)
    assert (
        "# error: golden self-test failed, classifier disabled (TINYECG_SELFTEST_STRICT)" in lines
    )
    calls = len(host.seen)
    x = _record("208", 20)
    text = ("\n".join(str(int(v)) for v in x) + "\n#end\n").encode()
    fwlib.shim_serial(text, len(text))
    after = host.lines()[len(lines) :]
    errors = [ln for ln in after if ln.startswith("# classify-error ")]
    assert len(errors) >= 15 and not any(ln.startswith("B ") for ln in after)
    assert len(host.seen) == calls  # the gate never calls the classifier
    assert fwlib.shim_selftest_again() == 0


@pytest.fixture(scope="module")
def c_export(tmp_path_factory):
    """The default model exported for the C backend."""
    from tinyecg.export.exporter import export

    out = tmp_path_factory.mktemp("c_export") / "model"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        summary = export(None, out, force=True, runtime="c")
    return SimpleNamespace(lib=out, summary=summary)


@pytest.mark.parametrize("classifier", ["CBACKEND", "NONE"])
def test_boot_with_the_builds_own_classifier(
    exported, c_export, tmp_path, strict_c_flags, classifier
):
    """tinyecg_firmware_boot() as a board calls it, with the classifier chosen at build time:
    the C backend (tinyecg_nn + the generated tinyecg_model.c, strict C99 too) passes the
    golden self-test bit for bit and classifies a replay exactly as the Python reference;
    without a classifier the firmware reports R-peaks."""
    from tinyecg.device import firmware_files

    nn = firmware_files.nn_dir()
    extra = (
        [c_export.lib / "tinyecg_model.c", *sorted((nn / "src").glob("*.c"))]
        if classifier == "CBACKEND"
        else []
    )
    so = _shared_library(
        exported.project,
        tmp_path,
        c_export.lib,
        strict_c_flags,
        # the beat path as boards boot it; the rhythm task's boot and lines are tested on
        # the QEMU firmware (tests/test_firmware_rhythm_qemu.py)
        defines=[f"TINYECG_CLASSIFIER=TINYECG_CLASSIFIER_{classifier}", "TINYECG_RHYTHM=0"],
        extra_sources=extra,
        extra_includes=[nn / "include"],
    )
    lib = _bind(ctypes.CDLL(str(so)))
    text = []
    write = WRITE(lambda ctx, t: text.append(t.decode()))
    assert lib.shim_boot(INPUT_SERIAL, 0, write) == 0
    lines = "".join(text).splitlines()
    n = c_export.summary["golden"]["count"]
    assert lines[0] == "# tinyecg firmware board=host-shim input=serial model=0.1.0 export=c"
    info = [x for x in lines if x.startswith("# tinyecg 0")]
    x = _record("208", 30)
    body = ("\n".join(str(int(v)) for v in x) + "\n#end\n#stats\n").encode()
    lib.shim_serial(body, len(body))
    out = "".join(text).splitlines()[len(lines) :]
    if classifier == "NONE":
        assert lines[1] == "# classifier none: detection only"
        assert lines[-2].startswith(f"# selftest pass {n}/{n} tolerance=0 maxdiff=- ")
        assert "classifier=none" in info[0]
        assert lib.shim_state() == 1
        peaks = [int(ln) for ln in out if ln.isdigit()]
        assert len(peaks) > 30 and not any(ln.startswith("B ") for ln in out)
        return
    assert lines[1].startswith("# cbackend tinyecg_nn arena=")
    assert lines[-2] == (
        f"# selftest pass {n}/{n} tolerance=0 maxdiff=0 input={n} rhythm={n} "
        f"output={n} classifier=cbackend"
    )
    assert "classifier=cbackend" in info[0] and lib.shim_state() == 7
    from tinyecg.device import firmware as fq

    beats = [(int(f[1]), f[2], int(f[3])) for f in (ln.split() for ln in out) if f[0] == "B"]
    rr = [tuple(int(v) for v in ln.split()[1:]) for ln in out if ln.startswith("R ")]
    assert len(beats) > 30 and not rr  # only the beat lines were asked for
    # the Python integer preprocessing + TFLM host runtime on the core's own beats
    # (the host harness's RR rows for the same samples)
    from tinyecg.device import detect

    want = host_lines(detect.build_host_harness(tmp_path / "harness"), x)
    ref = fq.reference_beats(
        exported.model_bytes, x, want.rr, labels=list(c_export.summary["labels"])
    )
    assert beats == ref
