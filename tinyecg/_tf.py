"""Import TensorFlow once with its C++ start-up chatter (absl/oneDNN/CUDA notices written to
fd 2 before logging is configured) silenced, so command output stays readable."""

from __future__ import annotations

import os
import sys


def import_quietly() -> None:
    if "tf_keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
        import tf_keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
