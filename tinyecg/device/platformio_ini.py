"""firmware/platformio.ini as the off-board builds read it: PlatformIO's ${section.option}
references expanded, the -D definitions of a section's build_flags, and the commit the Arm
boards pin their TFLM library at (tinyecg.device.tflm_lib builds that library with them)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from tinyecg import paths
from tinyecg.errors import TinyECGError

_INI_REF = re.compile(r"\$\{([A-Za-z0-9_:.\-]+)\.([A-Za-z0-9_]+)\}")


def ini_path() -> Path:
    path = paths.firmware_dir() / "platformio.ini"
    if not path.is_file():
        raise TinyECGError(f"{path}: no platformio.ini (run from a source checkout)")
    return path


def _platformio_config(ini: Path | str | None = None) -> configparser.ConfigParser:
    path = Path(ini) if ini is not None else ini_path()
    parser = configparser.ConfigParser(
        interpolation=None, comment_prefixes=(";", "#"), inline_comment_prefixes=None, strict=False
    )
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error) as exc:
        raise TinyECGError(f"{path}: cannot read ({exc})") from None
    return parser


def _ini_value(parser: configparser.ConfigParser, section: str, option: str, depth: int = 0) -> str:
    """An option with PlatformIO's ${section.option} references expanded."""
    if depth > 10:
        raise TinyECGError(f"platformio.ini: ${{{section}.{option}}} references itself")
    if not parser.has_option(section, option):
        raise TinyECGError(f"platformio.ini: no option {option} in [{section}]")
    value = parser.get(section, option)
    return _INI_REF.sub(lambda m: _ini_value(parser, m.group(1), m.group(2), depth + 1), value)


def platformio_defines(section: str = "arduino_tflm", ini: Path | str | None = None) -> list[str]:
    """The -D definitions (without -D) of a section's build_flags, e.g. [arduino_tflm]'s
    TF_LITE_STATIC_MEMORY, TINYECG_TFLM_DIST=TINYECG_TFLM_ARDUINO_EXAMPLES, ... as PlatformIO
    passes them to the library and to the firmware alike."""
    flags = _ini_value(_platformio_config(ini), section, "build_flags").split()
    defines = [flag[2:] for flag in flags if flag.startswith("-D") and len(flag) > 2]
    if not defines:
        raise TinyECGError(f"platformio.ini: [{section}] build_flags define nothing")
    return defines


def pinned_commit(ini: Path | str | None = None) -> str:
    """The commit platformio.ini pins tflite-micro-arduino-examples at ([tflm] arduino_examples)."""
    url = _ini_value(_platformio_config(ini), "tflm", "arduino_examples").strip()
    if "#" not in url:
        raise TinyECGError(f"platformio.ini: [tflm] arduino_examples is not pinned: {url}")
    return url.rsplit("#", 1)[1].strip()
