"""The PlatformIO firmware project (firmware/): configuration, build inputs, and the firmware's
board-independent logic compiled with gcc/g++ and run on the host against a real export.

Nothing here downloads or builds with PlatformIO (its registry is unreachable; `pio run`
would hang): platformio.ini is read with configparser and, offline, `pio project config`.
The firmware's TFLM adapter and main.cpp need TFLM/Arduino headers and are not compiled
here; everything they delegate to (tinyecg_fw*.c: model checks, golden self-test, sample
ring, ADC/lead-off mapping, command filter, core configuration) is, with g++ -std=c++17 and
gcc -std=c99, and runs with the TFLM host runtime (PyPI tflite-micro, the reference kernels
boards run) standing in for the board's interpreter.
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
OUR_SOURCES = ("main.cpp", "tflm_classifier.cpp", "tflm_platform.cpp", "tinyecg_fw.c",
               "tinyecg_fw_model.c", "tinyecg_fw_app.c")
PURE_SOURCES = ("tinyecg_fw.c", "tinyecg_fw_model.c", "tinyecg_fw_app.c")
C_WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-Wconversion", "-pedantic"]
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
        assert re.fullmatch(rf"{platform}\s*@\s*\d+\.\d+\.\d+", opts["platform"]), \
            f"{name}: platform not pinned to an exact version: {opts['platform']}"
        assert opts["board"] == board
        assert opts["framework"] == "arduino"
        deps = _items(opts.get("lib_deps", ""))
        assert deps, f"{name}: no TensorFlow Lite Micro in lib_deps"
        assert all(_pinned(d) for d in deps), f"{name}: unpinned lib_deps {deps}"
        flags = opts.get("build_flags", "")
        want = ESP32_TFLM if platform == "espressif32" else ARDUINO_TFLM
        dist = "TINYECG_TFLM_ELOQUENT_ESP32" if platform == "espressif32" \
            else "TINYECG_TFLM_ARDUINO_EXAMPLES"
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
    shutil.copytree(FIRMWARE, project, ignore=shutil.ignore_patterns(".pio", "build", "host",
                                                                     "targets"))
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(tmp_path / "pio-core"),
               PLATFORMIO_NO_ANSI="1", PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
               PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="3650")
    try:
        proc = subprocess.run(pio + ["project", "config", "--json-output", "-d", str(project)],
                              capture_output=True, text=True, timeout=60, env=env)
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
    model.fit([ds.x[idx].reshape(-1, 1, 360, 1), ds.beats.rhythm[idx]], ds.beats.y[idx],
              batch_size=32, epochs=1, verbose=0)
    calib = rng.choice(len(ds), 64, replace=False)
    data = convert_int8(model, [ds.x[calib].reshape(-1, 1, 360, 1).astype(np.float32),
                                ds.beats.rhythm[calib].astype(np.float32)])
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
    shutil.copytree(FIRMWARE, project, ignore=shutil.ignore_patterns(
        ".pio", "build", "host", "targets", "tinyecg_model"))
    default = exporter.DEFAULT_MODEL_DIR / "model.tflite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYECG_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        mp.delenv("TINYECG_DATA", raising=False)
        source = None if default.is_file() else _build_student(tmp)
        summary = exporter.export(source, project / "lib" / "tinyecg_model", force=True)
    model_path = default if source is None else source
    return SimpleNamespace(project=project, lib=project / "lib" / "tinyecg_model",
                           model_bytes=model_path.read_bytes(), summary=summary)


# --------------------------------------------------------------------------- build inputs
SOURCE_EXT = {".c", ".cc", ".cpp", ".cxx", ".S"}
INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*(?:([<"])([^>"]+)[>"]|([A-Za-z_]\w*))',
                        re.M)
EXTERNAL = ("tensorflow/", "third_party/")  # TFLM headers, provided by lib_deps


def _library(path: Path) -> dict:
    """PlatformIO's view of a lib/ folder: where its sources and headers are."""
    manifest = path / "library.json"
    build = json.loads(manifest.read_text()).get("build", {}) if manifest.is_file() else {}
    src = path / build["srcDir"] if "srcDir" in build else (
        path / "src" if (path / "src").is_dir() else path)
    inc = path / build["includeDir"] if "includeDir" in build else (
        path / "include" if (path / "include").is_dir() else src)
    return {"name": path.name, "src": src, "include": inc}


def _compiled(src_dir: Path, skip=("examples", "example", "test", "tests")) -> list[Path]:
    return sorted(p for p in src_dir.rglob("*") if p.suffix in SOURCE_EXT
                  and not any(part in skip or part.startswith(".")
                              for part in p.relative_to(src_dir).parts[:-1]))


def _macros(files) -> dict[str, str]:
    out = {}
    for f in files:
        for m in re.finditer(r'^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+"([^"]+)"', f.read_text(),
                             re.M):
            out[m.group(1)] = m.group(2)
    return out


def test_every_compiled_file_exists_and_every_include_resolves(exported):
    project = exported.project
    libs = [_library(p) for p in sorted((project / "lib").iterdir()) if p.is_dir()]
    assert {lib["name"] for lib in libs} >= {"tinyecg_core", "tinyecg_dsp", "tinyecg_model"}
    compiled = _compiled(project / "src")
    for lib in libs:
        compiled += _compiled(lib["src"])
    names = {p.name for p in compiled}
    assert set(OUR_SOURCES) <= names, f"missing from the build: {set(OUR_SOURCES) - names}"
    assert {"tinyecg_model_data.c", "tinyecg_preprocess_params.c", "tinyecg_golden.c"} <= names
    assert len([p for p in compiled if "tinyecg_core" in p.parts]) >= 3
    # the static preprocessing library: every source compiled, none generated into the model
    dsp = [p for p in compiled if "tinyecg_dsp" in p.parts]
    assert {p.name for p in dsp} == {"tinyecg_preprocess.c", "tinyecg_denoise.c",
                                     "tinyecg_rhythm.c"}
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
                if found is None:
                    if quote == '"':
                        unresolved.append(f"{f.relative_to(project)}: \"{name}\"")
                    continue
                if found not in seen:
                    seen.add(found)
                    todo.append(found)
        closures[tu] = {p.name for p in seen}
    assert not unresolved, "includes that do not resolve in the project:\n" + "\n".join(unresolved)
    # tinyecg_app.h (core) and tinyecg_model_meta.h (export) both define TINYECG_VERSION
    clash = [tu.name for tu, inc in closures.items()
             if {"tinyecg_app.h", "tinyecg_model_meta.h"} <= inc]
    assert not clash, f"these include both tinyecg_app.h and tinyecg_model_meta.h: {clash}"
    # the adapter reaches the generated resolver, model data, arena and metadata
    adapter = next(tu for tu in compiled if tu.name == "tflm_classifier.cpp")
    assert {"tinyecg_op_resolver.h", "tinyecg_model_data.h", "tinyecg_arena.h",
            "tinyecg_model_meta.h"} <= closures[adapter]
    # the board's model binding reaches the library through the generated parameters, and the
    # library and the metadata reach the core's rendered tinyecg_spec.h
    binding = next(tu for tu in compiled if tu.name == "tinyecg_fw_model.c")
    assert {"tinyecg_preprocess_params.h", "tinyecg_dsp.h", "tinyecg_spec.h"} <= closures[binding]
    for tu in dsp:
        assert {"tinyecg_dsp.h", "tinyecg_spec.h"} <= closures[tu], tu.name


# --------------------------------------------------------------------------- host compile
def _cc(args, cwd):
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stderr[-3000:]}"


def _includes(project: Path) -> list[str]:
    return [f"-I{project / 'include'}", f"-I{project / 'src'}",
            f"-I{project / 'lib' / 'tinyecg_core' / 'include'}",
            f"-I{project / 'lib' / 'tinyecg_dsp' / 'include'}",
            f"-I{project / 'lib' / 'tinyecg_model'}"]


def test_firmware_logic_compiles_as_c99_and_cxx17(exported, tmp_path):
    for name in PURE_SOURCES:
        src = exported.project / "src" / name
        _cc(["gcc", *C_WARN, *_includes(exported.project), "-c", src,
             "-o", tmp_path / f"{name}.o"], tmp_path)
        _cc(["g++", *CXX_WARN, "-x", "c++", *_includes(exported.project), "-c", src,
             "-o", tmp_path / f"{name}.cpp.o"], tmp_path)


@pytest.mark.parametrize("cpu", [
    ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],  # nRF52840, STM32L432
    ["-mcpu=cortex-m0plus"],                                         # RP2040
])
def test_firmware_logic_cross_compiles_for_cortex_m(exported, tmp_path, cpu):
    """The same C for the Arm boards' cores (arm-none-eabi-gcc, as PlatformIO's toolchains):
    warning-free, and the sample ring's atomics are inline (no libatomic on Cortex-M0+)."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        pytest.skip("arm-none-eabi-gcc is not installed (Debian: gcc-arm-none-eabi)")
    project = exported.project
    sources = [project / "src" / n for n in PURE_SOURCES] + \
        sorted((project / "lib" / "tinyecg_core" / "src").glob("*.c")) + \
        sorted((project / "lib" / "tinyecg_dsp" / "src").glob("*.c")) + \
        sorted(exported.lib.glob("*.c"))
    for src in sources:
        obj = tmp_path / f"{src.parent.name}_{src.stem}.o"
        _cc([gcc, *cpu, "-mthumb", *C_WARN, "-Os", *_includes(project), "-c", src, "-o", obj],
            tmp_path)
    nm = subprocess.run([shutil.which("arm-none-eabi-nm") or "arm-none-eabi-nm", "-u",
                         *sorted(tmp_path.glob("*.o"))], capture_output=True, text=True)
    assert nm.returncode == 0, nm.stderr
    assert "__atomic" not in nm.stdout and "__sync" not in nm.stdout


@pytest.fixture(scope="module")
def fwlib(exported, tmp_path_factory):
    """The firmware logic (compiled by g++ -std=c++17), the core and the generated C (gcc
    -std=c99) in one shared library, loaded with ctypes."""
    out = tmp_path_factory.mktemp("fwlib")
    project = exported.project
    objs = []
    for name in PURE_SOURCES:
        obj = out / f"{name}.o"
        _cc(["g++", *CXX_WARN, "-fPIC", "-O1", "-x", "c++", *_includes(project), "-c",
             project / "src" / name, "-o", obj], out)
        objs.append(obj)
    c_sources = sorted((project / "lib" / "tinyecg_core" / "src").glob("*.c")) + \
        sorted((project / "lib" / "tinyecg_dsp" / "src").glob("*.c")) + \
        sorted(exported.lib.glob("*.c"))
    for src in c_sources:
        obj = out / f"{src.parent.name}_{src.stem}.o"
        _cc(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-fPIC", "-O1",
             *_includes(project), "-c", src, "-o", obj], out)
        objs.append(obj)
    so = out / "libtinyecg_fw.so"
    _cc(["g++", "-shared", "-o", so, *objs], out)
    return _bind(ctypes.CDLL(str(so)))


WRITE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
CLASSIFY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int8),
                            ctypes.POINTER(ctypes.c_int8), ctypes.POINTER(ctypes.c_int8))


class Classifier(ctypes.Structure):
    _fields_ = [("classify", CLASSIFY), ("ctx", ctypes.c_void_p), ("n_classes", ctypes.c_int),
                ("n_rhythm", ctypes.c_int), ("labels", ctypes.POINTER(ctypes.c_char_p)),
                ("name", ctypes.c_char_p)]


class Tensor(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("n_dims", ctypes.c_int), ("dims", ctypes.c_int32 * 6),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


class IoMap(ctypes.Structure):
    _fields_ = [("beat_input", ctypes.c_int), ("rhythm_input", ctypes.c_int)]


class Selftest(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in ("vectors", "input_ok", "rhythm_ok", "output_ok",
                                            "classify_errors", "max_diff", "tolerance",
                                            "passed")]


def _bind(lib):
    vp = ctypes.c_void_p
    for name, res, args in [
        ("tinyecg_fw_model_expect", vp, []), ("tinyecg_fw_model_golden", vp, []),
        ("tinyecg_fw_model_preprocess", vp, []),
        ("tinyecg_fw_model_labels", ctypes.POINTER(ctypes.c_char_p), []),
        ("tinyecg_fw_model_n_classes", ctypes.c_int, []),
        ("tinyecg_fw_model_n_rhythm", ctypes.c_int, []),
        ("tinyecg_fw_model_sha256", ctypes.c_char_p, []),
        ("tinyecg_fw_check_tensors", ctypes.c_int,
         [vp, ctypes.POINTER(Tensor), ctypes.c_int, ctypes.POINTER(Tensor), ctypes.c_int,
          ctypes.POINTER(IoMap), WRITE, vp]),
        ("tinyecg_fw_selftest", ctypes.c_int,
         [vp, vp, ctypes.POINTER(Classifier), ctypes.c_int, WRITE, vp,
          ctypes.POINTER(Selftest)]),
        ("tinyecg_fw_app_start", ctypes.c_int,
         [ctypes.c_int, ctypes.POINTER(Classifier), ctypes.c_uint, WRITE, vp, vp, vp]),
        ("tinyecg_fw_app_serial", None, [ctypes.c_char_p, ctypes.c_size_t]),
        ("tinyecg_fw_app_adc", None, [ctypes.c_int32, ctypes.c_int]),
        ("tinyecg_fw_app_poll", None, []),
        ("tinyecg_fw_app_tick", None, [ctypes.c_uint32]),
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
        self.beat_k = next(i for i, q in enumerate(self.tflm.inputs) if int(np.prod(q.shape)) == 360)
        self.rhythm_k = next((i for i, q in enumerate(self.tflm.inputs) if i != self.beat_k), None)
        self.n_classes = lib.tinyecg_fw_model_n_classes()
        self.n_rhythm = lib.tinyecg_fw_model_n_rhythm()
        self.seen = []  # (window_q, rhythm_q) as the classifier received them
        self.write = WRITE(lambda ctx, text: self.text.append(text.decode()))
        self._classify = CLASSIFY(self._run)
        self.classifier = Classifier(self._classify, None, self.n_classes, self.n_rhythm,
                                     lib.tinyecg_fw_model_labels(), b"tflm-host")

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
    ok = fwlib.tinyecg_fw_selftest(fwlib.tinyecg_fw_model_golden(),
                                   fwlib.tinyecg_fw_model_preprocess(),
                                   ctypes.byref(host.classifier), 0, host.write, None,
                                   ctypes.byref(res))
    n = exported.summary["golden"]["count"]
    lines = host.lines()
    assert ok == 1 and res.passed == 1, "\n".join(lines)
    assert (res.vectors, res.input_ok, res.rhythm_ok, res.output_ok) == (n, n, n, n)
    assert res.max_diff == 0 and res.classify_errors == 0
    assert lines[-1] == f"# selftest pass {n}/{n} tolerance=0 maxdiff=0"
    assert len([x for x in lines if re.match(r"# selftest \d+ label=\w+ input=ok", x)]) == n
    # the classifier got the golden inputs in the right roles: TFLM on what it received
    # gives the outputs and labels the exporter recorded in manifest.json
    items = exported.summary["golden"]["items"]
    labels = [x.decode() for x in fwlib.tinyecg_fw_model_labels()[:host.n_classes]]
    assert len(host.seen) == len(items) == n
    for k, ((w, r), item) in enumerate(zip(host.seen, items)):
        assert host.invoke(w, r).tolist() == item["output"], k
        assert f"# selftest {k} label={labels[item['label']]} " in "\n".join(lines)
    assert fwlib.tinyecg_fw_model_sha256().decode() == exported.summary["model"]["sha256"]


def test_exported_ops_are_unchanged_since_the_2023_arduino_export(exported):
    """Golden outputs come from today's TFLM; the Arm boards run the 2023-02 Arduino export.
    Only MEAN changed in between (tflite-micro PR 1908, 2023-04): the student has none, so
    the self-test can demand an exact match on reference kernels there."""
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
    fwlib.tinyecg_fw_selftest(fwlib.tinyecg_fw_model_golden(),
                              fwlib.tinyecg_fw_model_preprocess(),
                              ctypes.byref(host.classifier), tolerance, host.write, None,
                              ctypes.byref(res))
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
    bad = fwlib.tinyecg_fw_check_tensors(fwlib.tinyecg_fw_model_expect(), ins, n_in, outs,
                                         n_out, ctypes.byref(io), host.write, None)
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
    assert bad == 1 and lines == [f"# model-check beat input zero point: "
                                  f"{host.tflm.inputs[b].zero_point + 1} (metadata "
                                  f"{host.tflm.inputs[b].zero_point})"]

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
    labels = [x.decode() for x in fwlib.tinyecg_fw_model_labels()[:host.n_classes]]
    rc = fwlib.tinyecg_fw_app_start(INPUT_SERIAL, ctypes.byref(host.classifier),
                                    OUT_BEATS | OUT_RR | OUT_WINDOWS, host.write, None, None,
                                    None)
    assert rc == 0, host.lines()
    x = _record("208", 40)
    text = ("\n".join(str(int(v)) for v in x) + "\n#end\n#stats\n").encode()
    for i in range(0, len(text), 997):  # arbitrary chunks, as a serial port delivers them
        chunk = text[i:i + 997]
        fwlib.tinyecg_fw_app_serial(chunk, len(chunk))
    lines = host.lines()
    assert lines[0].startswith("# tinyecg ") and "classifier=tflm-host" in lines[0]
    assert f"samples={len(x)}" in lines[-1] and "garbage=0" in lines[-1]
    beats, rr, windows = _parse(lines)
    assert len(beats) >= 40 and set(beats) == set(rr) == set(windows)
    assert len(host.seen) == len(beats)

    q = host.tflm.inputs
    params = fp.preprocess_params(q[host.beat_k].scale, q[host.beat_k].zero_point,
                                  q[host.rhythm_k].scale, q[host.rhythm_k].zero_point)
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
    assert fwlib.tinyecg_fw_app_start(INPUT_ADC, ctypes.byref(host.classifier),
                                      OUT_BEATS | OUT_PEAKS, host.write, None, None, None) == 0
    assert "adc=0..4095" in host.lines()[0]  # 12-bit ADC range from ecg_config.h
    x = (_record("119", 30).astype(np.int64) * 2).clip(0, 4095)  # an 11-bit record, 12-bit ADC
    pushed = 0
    for i in range(0, len(x), 36):  # the tick pushes, loop() polls 10 times a second
        for v in x[i:i + 36]:
            fwlib.tinyecg_fw_app_adc(int(v), 0)
        pushed += len(x[i:i + 36])
        fwlib.tinyecg_fw_app_poll()
    beats, _, _ = _parse(host.lines())
    assert len(beats) >= 25

    for _ in range(180):  # half a second with an electrode off
        fwlib.tinyecg_fw_app_adc(2048, 1)
    pushed += 180
    fwlib.tinyecg_fw_app_poll()
    assert "# lead-off" in host.lines()

    cmd = b"1234\n#stats\n  #info\n"  # the sample line is ignored in ADC mode
    fwlib.tinyecg_fw_app_serial(cmd, len(cmd))
    stats = [x for x in host.lines() if x.startswith("# stats")]
    assert stats and f"samples={pushed}" in stats[-1] and "garbage=0" in stats[-1]
    assert host.lines()[-1].startswith("# tinyecg ")

    for _ in range(1024 + 76):  # loop() stalled: the ring holds 1024 samples
        fwlib.tinyecg_fw_app_adc(2048, 0)
    fwlib.tinyecg_fw_app_poll()
    assert "# adc-overrun 76" in host.lines()
    cmd = b"#stats\n"
    fwlib.tinyecg_fw_app_serial(cmd, len(cmd))
    assert f"samples={pushed + 1024}" in host.lines()[-1]


def test_replay_that_goes_silent_is_reported_once(fwlib, exported):
    """loop() ticks with millis(): in replay mode a second without a serial byte reports
    "# input stopped" once (the waiting beats come out), samples bring detection back; in
    ADC mode silence on the serial line means nothing."""
    host = Host(fwlib, exported.model_bytes)
    assert fwlib.tinyecg_fw_app_start(INPUT_SERIAL, ctypes.byref(host.classifier), OUT_BEATS,
                                      host.write, None, None, None) == 0
    x = _record("208", 20)
    text = ("\n".join(str(int(v)) for v in x) + "\n").encode()
    now = 0
    for i in range(0, len(text), 2000):
        fwlib.tinyecg_fw_app_serial(text[i:i + 2000], len(text[i:i + 2000]))
        now += 50
        fwlib.tinyecg_fw_app_tick(now)
    assert "# input stopped" not in host.lines()  # steady input: never idle
    n_before = sum(ln.startswith("B ") for ln in host.lines())
    for t in range(now + 100, now + 3000, 100):  # 3 s of silence, ticked every 100 ms
        fwlib.tinyecg_fw_app_tick(t)
    lines = host.lines()
    assert lines.count("# input stopped") == 1
    assert sum(ln.startswith("B ") for ln in lines) > n_before  # the waiting beats
    fwlib.tinyecg_fw_app_serial(text, len(text))
    fwlib.tinyecg_fw_app_tick(now + 3100)
    lines = host.lines()
    assert lines.count("# input resumed") == 1
    after = lines[lines.index("# input resumed"):]
    assert sum(ln.startswith("B ") for ln in after) >= 15

    adc = Host(fwlib, exported.model_bytes)
    assert fwlib.tinyecg_fw_app_start(INPUT_ADC, ctypes.byref(adc.classifier), OUT_BEATS,
                                      adc.write, None, None, None) == 0
    for v in (x[:720].astype(np.int64) * 2).clip(0, 4095):  # samples from the timer
        fwlib.tinyecg_fw_app_adc(int(v), 0)
    fwlib.tinyecg_fw_app_poll()
    for t in range(0, 5000, 100):
        fwlib.tinyecg_fw_app_tick(t)
    assert "# input stopped" not in adc.lines()
