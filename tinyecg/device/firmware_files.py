"""What every off-board build of the tinyecg firmware compiles: the one list of its sources.

    firmware/lib/tinyecg_app    the application (boot, self-test, model binding, classifiers)
    firmware/lib/tinyecg_core   detector, beats, RR, line protocol, the rhythm task
    firmware/lib/tinyecg_rhythm the rhythm task's integer front end
    firmware/lib/tinyecg_dsp    the fixed-point preprocessing
    firmware/include            ecg_config.h
    an export folder            the generated files of `tinyecg export` (per runtime below)
    firmware/lib/tinyecg_nn     the C backend's kernels (runtime "c", and the rhythm model)
    firmware/lib/tinyecg_rhythm_model  the rhythm model's C backend export (TINYECG_RHYTHM);
                                TFLM builds export it with --runtime tflm into their folder

The QEMU firmware (tinyecg.device.firmware), the TFLM self-test programs
(tinyecg.device.tflm_selftest) and the host tests take their file lists from here, so a new
source file of the application reaches every build at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinyecg import paths
from tinyecg.errors import TinyECGError

#: TINYECG_CLASSIFIER of ecg_config.h per runtime (the value is a macro of that header)
CLASSIFIERS = {
    "c": "TINYECG_CLASSIFIER_CBACKEND",
    "tflm": "TINYECG_CLASSIFIER_TFLM",
    "none": "TINYECG_CLASSIFIER_NONE",
}
#: the classifier's name in the firmware's lines ("classifier=...")
CLASSIFIER_NAMES = {"c": "cbackend", "tflm": "tflm", "none": "none"}
#: generated .c files each runtime compiles (an export for "none" may be either kind)
EXPORT_SOURCES = {
    "c": ("tinyecg_preprocess_params.c", "tinyecg_golden.c", "tinyecg_model.c"),
    "tflm": ("tinyecg_preprocess_params.c", "tinyecg_golden.c", "tinyecg_model_data.c"),
    "none": ("tinyecg_preprocess_params.c", "tinyecg_golden.c"),
}


def app_dir() -> Path:
    """firmware/lib/tinyecg_app: the board-independent application."""
    path = paths.firmware_dir() / "lib" / "tinyecg_app"
    if not (path / "src" / "tinyecg_firmware.c").is_file():
        raise TinyECGError(f"{path}: the firmware application is missing")
    return path


def app_sources(cxx: bool = False) -> list[Path]:
    """The application's C (or C++: the TFLM adapter) sources. Every build compiles all of
    them; the classifier files that TINYECG_CLASSIFIER does not choose are empty."""
    return sorted((app_dir() / "src").glob("*.cpp" if cxx else "*.c"))


def includes() -> list[Path]:
    """Include folders: the application's, ecg_config.h's, the core's, the preprocessing's."""
    fw = paths.firmware_dir()
    return [
        app_dir() / "include",
        fw / "include",
        fw / "lib" / "tinyecg_core" / "include",
        fw / "lib" / "tinyecg_rhythm" / "include",
        fw / "lib" / "tinyecg_dsp" / "include",
    ]


def c_sources() -> list[Path]:
    """The application, the core and the preprocessing library."""
    fw = paths.firmware_dir()
    return [
        *app_sources(),
        *sorted((fw / "lib" / "tinyecg_core" / "src").glob("*.c")),
        *sorted((fw / "lib" / "tinyecg_rhythm" / "src").glob("*.c")),
        *sorted((fw / "lib" / "tinyecg_dsp" / "src").glob("*.c")),
    ]


def nn_dir() -> Path:
    """firmware/lib/tinyecg_nn: the C backend's int8 kernels."""
    return paths.firmware_dir() / "lib" / "tinyecg_nn"


def export_manifest(export_dir: Path | str) -> dict:
    """manifest.json of an export folder (TinyECGError when it is not one)."""
    path = Path(export_dir) / "manifest.json"
    if not path.is_file():
        raise TinyECGError(f"{export_dir}: not a tinyecg export (no manifest.json)")
    return json.loads(path.read_text())


def runtime_sources(runtime: str, export_dir: Path | str) -> tuple[list[Path], list[Path]]:
    """(C sources, include folders) a runtime adds to c_sources()/includes(): the export's
    generated files, and for "c" the kernels of tinyecg_nn. The export must have been made
    for that runtime ("none" takes either)."""
    if runtime not in CLASSIFIERS:
        raise TinyECGError(f"runtime must be one of {', '.join(CLASSIFIERS)}, not {runtime!r}")
    export_dir = Path(export_dir)
    made_for = export_manifest(export_dir).get("runtime")
    if runtime != "none" and made_for != runtime:
        raise TinyECGError(
            f"{export_dir}: exported with runtime {made_for!r}; this build needs "
            f"--runtime {runtime}"
        )
    names = EXPORT_SOURCES[runtime]
    srcs = [export_dir / name for name in names]
    for src in srcs:
        if not src.is_file():
            raise TinyECGError(f"{src}: missing from the export")
    incs = [export_dir]
    if runtime == "c":
        srcs += sorted((nn_dir() / "src").glob("*.c"))
        incs.append(nn_dir() / "include")
    return srcs, incs


def model_defines(export_dir: Path | str) -> list[str]:
    """Defines the export's model needs in every file of the build: a patient-context model
    (its generated tinyecg_preprocess_params.h defines TINYECG_BEAT_CHANNELS 2) needs the
    core's patient state, TINYECG_PATIENT_CONTEXT=1 (tinyecg_rr.h); today's models none,
    so their builds stay as they were."""
    header = Path(export_dir) / "tinyecg_preprocess_params.h"
    if header.is_file() and "#define TINYECG_BEAT_CHANNELS 2" in header.read_text():
        return ["TINYECG_PATIENT_CONTEXT=1"]
    return []


def rhythm_model_dir() -> Path:
    """firmware/lib/tinyecg_rhythm_model: the committed C backend export of the shipped
    rhythm model (`tinyecg export --task rhythm --runtime c`)."""
    return paths.firmware_dir() / "lib" / "tinyecg_rhythm_model"


def c_arena_bytes(header: Path) -> int:
    """<PREFIX>_ARENA_BYTES of a C backend model header (tinyecg_model.h, ...)."""
    import re

    found = re.search(r"^#define \w+_ARENA_BYTES (\d+)", Path(header).read_text(), re.M)
    if found is None:
        raise TinyECGError(f"{header}: no _ARENA_BYTES (not a C backend model header)")
    return int(found.group(1))


#: golden windows of the rhythm exports the builds make (as the committed export has)
RHYTHM_GOLDEN = 4


def export_rhythm_tflm(out_dir: Path | str, golden: int = RHYTHM_GOLDEN) -> Path:
    """`tinyecg export --task rhythm --runtime tflm` of the shipped rhythm model into out_dir
    (what a TFLM build's rhythm task runs); returns out_dir."""
    from tinyecg.export.exporter import export
    from tinyecg.spec import RHYTHM_TASK

    export(None, out_dir, golden=golden, force=True, runtime="tflm", task=RHYTHM_TASK)
    return Path(out_dir)


def rhythm_sources(
    runtime: str, rhythm=None, rhythm_dir=None, export_dir=None
) -> tuple[list[Path], list[Path], list[str]]:
    """(C sources, include folders, defines) the rhythm task adds to a build of `runtime`.
    rhythm None: on when there is a classifier and the export (rhythm_dir, default
    rhythm_model_dir()) is there; True: on (TinyECGError when it cannot be); False: off.
    A `--runtime c` export runs on the C backend in every build, so its kernels come along;
    a `--runtime tflm` export (TFLM builds only) runs in a second TFLM interpreter
    (tinyecg_rhythm_app.h). With runtime "c" (export_dir: the beat model's export) the
    two C models share one arena (TINYECG_NN_SHARED_ARENA, tinyecg_nn.h): the core never
    runs them at the same time."""
    folder = Path(rhythm_dir) if rhythm_dir is not None else rhythm_model_dir()
    present = (folder / "manifest.json").is_file()
    on = (runtime != "none" and present) if rhythm is None else bool(rhythm)
    if not on:
        return [], [], ["TINYECG_RHYTHM=0"]
    if runtime == "none":
        raise TinyECGError("the rhythm task needs a classifier build (runtime c or tflm)")
    made_for = export_manifest(folder).get("runtime")
    if made_for not in ("c", "tflm") or (made_for == "tflm" and runtime != "tflm"):
        raise TinyECGError(
            f"{folder}: the rhythm model must be a --runtime c export"
            + (" or, in a TFLM build, a --runtime tflm one" if runtime == "tflm" else "")
        )
    model_c = "tinyecg_rhythm_model.c" if made_for == "c" else "tinyecg_rhythm_model_data.c"
    srcs = [folder / model_c, folder / "tinyecg_rhythm_model_golden.c"]
    for src in srcs:
        if not src.is_file():
            raise TinyECGError(f"{src}: missing from the rhythm export")
    incs = [folder]
    defs = ["TINYECG_RHYTHM=1"]
    if made_for == "tflm":
        return srcs, incs, defs
    if runtime != "c":  # runtime "c" brings the kernels already (runtime_sources)
        srcs += sorted((nn_dir() / "src").glob("*.c"))
        incs.append(nn_dir() / "include")
    elif export_dir is not None:
        shared = max(
            c_arena_bytes(Path(export_dir) / "tinyecg_model.h"),
            c_arena_bytes(folder / "tinyecg_rhythm_model.h"),
        )
        defs.append(f"TINYECG_NN_SHARED_ARENA={shared}")
    return srcs, incs, defs
