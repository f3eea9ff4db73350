"""Jinja rendering of the C templates and atomic writing of generated file sets."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import jinja2

from tinyecg.errors import TinyECGError
from tinyecg.export import cgen
from tinyecg.paths import templates_dir


def template_dir() -> Path:
    return templates_dir()


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["c_ident"] = cgen.identifier
    env.filters["c_string"] = cgen.c_string
    env.filters["c_float"] = cgen.c_float
    env.filters["int_array"] = cgen.int_array_body
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)


def write_atomically(files: dict[str, str | bytes], out_dir: Path, force: bool = False) -> Path:
    """Write name -> content into out_dir via a temporary sibling folder, so a failure never
    leaves a half-written set. An existing non-empty out_dir needs force (its files with the
    same names are replaced; other files are kept)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise TinyECGError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise TinyECGError(f"{out_dir}: folder is not empty (use --force to overwrite)")
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700; the result is an ordinary folder
    except OSError as exc:
        raise TinyECGError(f"{out_dir}: cannot write ({exc.strerror})") from None
    try:
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        if out_dir.is_dir():
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    dest = out_dir / path.relative_to(tmp)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, dest)
        else:
            os.replace(tmp, out_dir)
    except OSError as exc:
        raise TinyECGError(f"{out_dir}: cannot write ({exc.strerror})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
