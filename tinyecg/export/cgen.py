"""Small helpers that format C source text (in the spirit of emlearn's cgen).

Shared by every generator: keep them free of model knowledge. Add functions, do not change
the behaviour of existing ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_C_KEYWORDS = {
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
}


def identifier(name: str) -> str:
    """A valid C identifier made from an arbitrary name."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not ident or ident[0].isdigit():
        ident = "_" + ident
    if ident in _C_KEYWORDS:
        ident += "_"
    return ident


def int_array_body(
    values: Iterable[int], per_line: int = 12, indent: str = "    ", hex_bytes: bool = False
) -> str:
    """The comma-separated body of a C array initialiser, wrapped at per_line values.

    With hex_bytes, values are formatted as 0xNN (for uint8_t byte arrays)."""
    vals = [int(v) for v in values]
    fmt = (lambda v: f"0x{v & 0xFF:02x}") if hex_bytes else str
    lines = []
    for i in range(0, len(vals), per_line):
        lines.append(indent + ", ".join(fmt(v) for v in vals[i : i + per_line]) + ",")
    return "\n".join(lines)


def c_string(text: str) -> str:
    """A C string literal for text (escapes quotes, backslashes and control characters)."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32 or ord(ch) > 126:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def c_float(value: float) -> str:
    """A float literal that round-trips a float32 exactly (for comments and float builds)."""
    return f"{float(value):.9g}f"
