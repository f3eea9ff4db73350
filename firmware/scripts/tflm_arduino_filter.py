"""PlatformIO pre-script for tensorflow/tflite-micro-arduino-examples (Arduino_TensorFlowLite).

That library is an Arduino-IDE export of TFLM for the Nano 33 BLE Sense: besides TFLM it
carries board-specific files that do not build elsewhere and that tinyecg does not use
(peripherals/, test_over_serial/, micro/system_setup.cpp, micro/micro_time.cpp). PlatformIO
compiles every source file of a library, so this script drops the files listed in
scripts/tflm_arduino_skip.txt from the build (a build middleware returning None skips the
file) on every board; src/tflm_platform.cpp supplies DebugLog() and the micro_time hooks
instead. tinyecg/device/tflm_lib.py reads the same list for the off-board build the tests
run, so the two build the same files.

Used by the nano33ble, nucleo_l432kc and pico environments (extra_scripts = pre:...).
"""
import os
import sys

Import("env")  # noqa: F821  (SCons injects Import and env)

SKIP_LIST = os.path.join(env.subst("$PROJECT_DIR"), "scripts", "tflm_arduino_skip.txt")  # noqa: F821


def read_skip_list(path):
    """The globs of the skip list (relative to the library's folder), comments dropped."""
    with open(path, encoding="utf-8") as handle:
        lines = (line.split("#", 1)[0].strip() for line in handle)
        return [line for line in lines if line]


def _skip(node):
    return None


try:
    _PATTERNS = read_skip_list(SKIP_LIST)
except OSError as exc:
    sys.stderr.write(f"tflm_arduino_filter.py: cannot read {SKIP_LIST}: {exc}\n")
    env.Exit(1)  # noqa: F821
if not _PATTERNS:
    sys.stderr.write(f"tflm_arduino_filter.py: {SKIP_LIST} lists no file\n")
    env.Exit(1)  # noqa: F821

# The middleware matches a source's path as SCons sees it, e.g.
# .pio/libdeps/<env>/Arduino_TensorFlowLite/src/peripherals/i2s.cpp: the leading "*/" stands
# for everything up to the library's folder.
for _pattern in _PATTERNS:
    env.AddBuildMiddleware(_skip, "*/" + _pattern)  # noqa: F821
