"""Where tinyecg finds its own files: the one place that knows the package layout.

A wheel carries the templates, the firmware's C sources, the default model and the bundled
excerpts inside the package (pyproject.toml force-includes templates/ and firmware/ as
tinyecg/templates and tinyecg/firmware); a source checkout has templates/ and firmware/ at
the repository's top level. Every lookup tries the packaged copy first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tinyecg.errors import TinyECGError

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT_DIR = PACKAGE_DIR.parent


def _first_dir(name: str, marker: str) -> Path:
    for candidate in (PACKAGE_DIR / name, _CHECKOUT_DIR / name):
        if (candidate / marker).exists():
            return candidate
    raise TinyECGError(
        f"tinyecg's {name}/ folder is missing from this installation "
        f"(looked in {PACKAGE_DIR} and {_CHECKOUT_DIR})"
    )


def templates_dir() -> Path:
    """The Jinja templates of the generated files."""
    return _first_dir("templates", "tflm")


def firmware_dir() -> Path:
    """The firmware's C sources: the portable core, the int8 kernels, the QEMU target."""
    return _first_dir("firmware", "lib/tinyecg_core/src")


def default_model_dir() -> Path:
    """The model shipped with tinyecg (model.tflite, model.keras, config.json)."""
    return PACKAGE_DIR / "assets" / "default_model"


def rhythm_model_dir() -> Path:
    """The shockable-rhythm model shipped with tinyecg (model.tflite, config.json, README.md,
    golden_windows.npz)."""
    return PACKAGE_DIR / "assets" / "rhythm_model"


def excerpts_dir() -> Path:
    """The bundled MIT-BIH excerpts (WFDB records, a few minutes each)."""
    return PACKAGE_DIR / "data" / "excerpts" / "mitdb"


ENV_CACHE = "TINYECG_CACHE"


def cache_dir() -> Path:
    """The user's tinyecg cache: $TINYECG_CACHE, else ~/.cache/tinyecg."""
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "tinyecg")


def build_dir(name: str) -> Path:
    """A folder for compiled helper programs: in the cache when it can be written, else in
    the system's temporary folder (a read-only home or working folder must not stop a
    command)."""
    for root in (cache_dir() / "build", Path(tempfile.gettempdir()) / f"tinyecg-{os.getuid()}"):
        folder = root / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
            return folder
        except OSError:
            continue
    raise TinyECGError(
        f"no writable folder for {name} (tried {cache_dir()} and the temporary folder)"
    )
