"""Errors the CLI reports as one line (no traceback)."""


class TinyECGError(ValueError):
    """A user mistake: reported as one line, no traceback."""
