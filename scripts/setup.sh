#!/usr/bin/env bash
# Install tinyecg and everything its tests need on a fresh Debian machine:
# the Python package (editable, with test and firmware extras) and the C toolchains
# (host gcc, arm-none-eabi-gcc + newlib and its C++ library for TFLM, qemu-system-arm for the emulated Cortex-M4) and
# Debian's Chromium for the demo's browser test (Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
if command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends \
    gcc g++ make gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib \
    qemu-system-arm chromium >/dev/null
else
  echo "setup: apt-get not found; install gcc, arm-none-eabi-gcc (newlib) and qemu-system-arm yourself" >&2
fi
python3 -m pip install -q --upgrade pip
python3 -m pip install -q -e ".[test,firmware]"
echo "setup: done ($(tinyecg --version))"
