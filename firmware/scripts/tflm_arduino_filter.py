"""PlatformIO pre-script for tensorflow/tflite-micro-arduino-examples (Arduino_TensorFlowLite).

That library is an Arduino-IDE export of TFLM for the Nano 33 BLE Sense: besides TFLM it
carries board-specific files that do not build elsewhere and that tinyecg does not use:
  src/peripherals/            audio codec, I2S, buttons; peripherals.h stops with
                              "#error unsupported board" unless Nano 33 BLE or Teensy 4
  src/test_over_serial/       the examples' serial test harness
  .../micro/system_setup.cpp  DebugLog on SerialUSB and InitializeTarget() (peripherals)
  .../micro/micro_time.cpp    profiler clock via src/peripherals/utility.h
PlatformIO compiles every source file of a library, so this script drops those from the
build (a build middleware returning None skips the file) on every board, and
src/tflm_platform.cpp supplies DebugLog() and the micro_time hooks instead.
Used by the nano33ble, nucleo_l432kc and pico environments (extra_scripts = pre:...).
"""
Import("env")  # noqa: F821  (SCons injects Import and env)

SKIPPED = (
    "*/src/peripherals/*",
    "*/src/test_over_serial/*",
    "*/src/tensorflow/lite/micro/system_setup.cpp",
    "*/src/tensorflow/lite/micro/micro_time.cpp",
    # a generic DebugLog, if this export carries one (its generator manifest lists it):
    # skipping a file that is absent does nothing, a second DebugLog would not link
    "*/src/tensorflow/lite/micro/debug_log.cpp",
)


def _skip(node):
    return None


for _pattern in SKIPPED:
    env.AddBuildMiddleware(_skip, _pattern)  # noqa: F821
