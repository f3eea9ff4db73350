"""Jinja rendering of the C templates and atomic writing of generated file sets."""

from __future__ import annotations

from pathlib import Path

import jinja2

from tinyecg import outputs
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
    """Write name -> content into out_dir all at once (tinyecg.outputs.write_set): a failure
    or a kill never leaves a half-written or mixed set. An existing non-empty out_dir needs
    force (its files with the same names are replaced; other files are kept)."""
    return outputs.write_set(Path(out_dir), files, force=force)
