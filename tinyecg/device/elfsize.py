"""What an Arm image costs: arm-none-eabi-size of an ELF or object, the bytes each object
keeps after --gc-sections (from the linker map beside the ELF), grouped by component, and
the size of one symbol.

    size(elf)                  {"text", "data", "bss"} (Berkeley)
    size_by_component(elf)     {"core": {"flash", "ram"}, "model": ..., "libraries": ...}
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tinyecg.device.toolchain import CROSS, require_tools
from tinyecg.errors import TinyECGError

_SECTION = re.compile(
    r"^ \.(text|rodata|data|bss)\S*"
    r"(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$"
)
_CONTINUED = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")

COMPONENTS = (  # (component, file names) for size_by_component
    (
        "core",
        (
            "tinyecg_app.c",
            "tinyecg_beats.c",
            "tinyecg_detector.c",
            "tinyecg_quality.c",
            "tinyecg_format.c",
        ),
    ),
    # the shockable-rhythm task: its core part, front end, model, golden windows, binding
    (
        "rhythm",
        (
            "tinyecg_rhythm_task.c",
            "tinyecg_rhythm_frontend.c",
            "tinyecg_rhythm_model.c",
            "tinyecg_rhythm_model_golden.c",
            "tinyecg_rhythm_classifier.c",
        ),
    ),
    (
        "preprocessing",
        (
            "tinyecg_preprocess.c",
            "tinyecg_denoise.c",
            "tinyecg_rhythm.c",
            "tinyecg_longterm.c",  # a patient-context model's RR features
            "tinyecg_preprocess_params.c",
        ),
    ),
    (
        "model",
        (
            "tinyecg_model.c",
            "tinyecg_model_data.c",
            "tinyecg_nn_concatenation.c",
            "tinyecg_nn_conv.c",
            "tinyecg_nn_fully_connected.c",
            "tinyecg_nn_pooling.c",
            "tinyecg_nn_reduce.c",
            "tinyecg_nn_arena.c",
        ),
    ),
    ("golden", ("tinyecg_golden.c",)),
    (
        "app",
        (
            "tinyecg_firmware.c",
            "tinyecg_selftest.c",
            "tinyecg_exported.c",
            "tinyecg_text.c",
            "tinyecg_model_check.c",
            "tinyecg_sample_ring.c",
            "tinyecg_command_filter.c",
            "tinyecg_classifier_none.c",
            "tinyecg_classifier_cbackend.c",
        ),
    ),
    ("tflm", ("tinyecg_classifier_tflm.cpp", "tinyecg_tflm_platform.cpp")),
    ("board", ("main.c", "main.cpp", "tflm_selftest_main.c")),
    ("target", ("startup.c", "platform.c", "cmsdk_uart.c", "semihost.c", "cxx_support.cpp")),
)
#: archive members owned by a component ("libtflm.a(...)": the TFLM library)
ARCHIVE_COMPONENTS = {"libtflm.a": "tflm"}


def size(elf: Path | str) -> dict[str, int]:
    """arm-none-eabi-size (Berkeley format) of an ELF or object: {'text', 'data', 'bss'} in
    bytes.

    text = code memory (vectors, code, rodata); data = initialised RAM (its image is
    also stored in code memory); bss = zeroed RAM. Stack and heap are not included.
    """
    elf = Path(elf)
    if not elf.is_file():
        raise TinyECGError(f"{elf}: no such ELF file")
    require_tools([CROSS + "size"])
    proc = subprocess.run([CROSS + "size", "-B", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyECGError(f"{elf}: arm-none-eabi-size failed: {proc.stderr.strip()}")
    text, data, bss = proc.stdout.splitlines()[1].split()[:3]
    return {"text": int(text), "data": int(data), "bss": int(bss)}


def size_by_object(elf) -> dict[str, dict[str, int]]:
    """Bytes each input object keeps after --gc-sections, from the linker map beside the
    ELF: {object: {"flash": text + rodata + .data image, "ram": data + bss}}; archive
    members are named "libc.a(memcpy.o)". Mergeable string literals are counted per object
    before the linker merges them, so the sum can exceed the image by a few hundred bytes."""
    map_path = Path(elf).with_suffix(".map")
    if not map_path.is_file():
        raise TinyECGError(f"{map_path}: no linker map")
    out: dict[str, dict[str, int]] = {}
    started, pending = False, None
    for raw in map_path.read_text(errors="replace").splitlines():
        if not started:
            started = raw.startswith("Linker script and memory map")
            continue
        m = _SECTION.match(raw)
        if m and m.group(2) is None:
            pending = m.group(1)  # long name: address, size and object on the next line
            continue
        if m:
            kind, nbytes, obj = m.group(1), int(m.group(3), 16), m.group(4)
        else:
            c = _CONTINUED.match(raw)
            if pending is None or c is None:
                pending = None
                continue
            kind, nbytes, obj = pending, int(c.group(2), 16), c.group(3)
        pending = None
        if nbytes == 0:
            continue
        obj = obj.strip()
        if "(" in obj and obj.endswith(")"):
            archive, member = obj[:-1].split("(", 1)
            name = f"{Path(archive).name}({member})"
        else:
            name = Path(obj).name.removesuffix(".o")
        slot = out.setdefault(name, {"flash": 0, "ram": 0})
        if kind in ("text", "rodata"):
            slot["flash"] += nbytes
        elif kind == "data":
            slot["flash"] += nbytes
            slot["ram"] += nbytes
        else:
            slot["ram"] += nbytes
    return out


def size_by_component(elf) -> dict[str, dict[str, int]]:
    """size_by_object grouped: core, preprocessing, model (weights and kernels, or the
    flatbuffer), golden, app (firmware/lib/tinyecg_app), tflm (interpreter, kernels and the
    adapter), board, target, libraries (libc, libgcc, libstdc++)."""
    out = {name: {"flash": 0, "ram": 0} for name, _ in COMPONENTS}
    out["libraries"] = {"flash": 0, "ram": 0}
    owner = {f: name for name, files in COMPONENTS for f in files}
    for obj, sizes in size_by_object(elf).items():
        archive = obj.split("(", 1)[0] if obj.endswith(")") else None
        slot = out[ARCHIVE_COMPONENTS.get(archive or "", owner.get(obj, "libraries"))]
        slot["flash"] += sizes["flash"]
        slot["ram"] += sizes["ram"]
    return out


def symbol_size(elf, name: str) -> int | None:
    """Size in bytes of a symbol of the ELF (arm-none-eabi-nm -S), or None if absent."""
    proc = subprocess.run([CROSS + "nm", "-S", str(elf)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyECGError(f"{elf}: arm-none-eabi-nm failed: {proc.stderr.strip()}")
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name:
            return int(parts[1], 16)
    return None
