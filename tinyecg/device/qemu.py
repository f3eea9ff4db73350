"""Build C for a bare-metal Cortex-M4 and run it under QEMU (mps2-an386).

The target lives in ``firmware/targets/mps2-an386`` (startup, linker script, CMSDK
UART driver, semihosting, SysTick instruction counter, Makefile); see docs/qemu.md.

    elf = build([Path("app.c")], includes=[], defs={"N": 3}, out_dir=tmp)
    result = run(elf)                      # semihosting console; exit code = main()
    with serial_tcp(elf) as url:           # UART0 as a TCP serial port
        port = serial.serial_for_url(url)  # url == "socket://127.0.0.1:<port>"

QEMU always runs with ``-icount shift=0`` (one virtual nanosecond per instruction,
so platform_instructions() on the target counts instructions, 40 per SysTick tick)
and always under a timeout: a program that hangs is killed and reported with
``timed_out=True`` and return code 124.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyecg import paths
from tinyecg.device.cbuild import define_items
from tinyecg.device.elfsize import size  # noqa: F401 (qemu.size(elf): the image's sizes)
from tinyecg.device.toolchain import (  # noqa: F401 (the tools' names and checks, for qemu's callers)
    CROSS,
    QEMU,
    missing_tools,
    require_tools,
    toolchain_available,
    toolchain_versions,
)
from tinyecg.errors import TinyECGError

#: QEMU machine per ARCH. QEMU has no Cortex-M0+ MPS2 image; v6-M code runs
#: unchanged on the AN385 (Cortex-M3) image, which has the same memory map.
MACHINES = {"m4": "mps2-an386", "m0": "mps2-an385"}
#: SysTick ticks at 25 MHz = every 40 ns; -icount shift=0 runs 1 instruction per ns.
INSTRUCTIONS_PER_TICK = 40
#: Exit status of coreutils ``timeout`` (and of run() when the program hung).
TIMEOUT_EXIT = 124
#: The coreutils timeout around QEMU fires this long after our own deadline; it only
#: matters if this Python process dies and cannot kill QEMU itself.
_BACKSTOP_S = 10
#: Fault handlers exit with this + the exception number (HardFault 3 -> 131).
FAULT_EXIT_BASE = 128
#: prctl option from <linux/prctl.h>: signal to receive when the parent dies.
_PR_SET_PDEATHSIG = 1

_SERIAL_MODES = ("semihosting", "stdio", "tcp", "none")


def target_dir() -> Path:
    """firmware/targets/mps2-an386 inside the installed package, else the repository's."""
    return paths.firmware_dir() / "targets" / "mps2-an386"


def _plain_path(path: Path, what: str) -> str:
    text = str(Path(path).resolve())
    if any(ch.isspace() for ch in text) or any(ch in text for ch in "\"'$`\\#;"):
        raise TinyECGError(f"{what} {text!r}: the Makefile cannot take paths with spaces or quotes")
    return text


def build(
    app_srcs: Iterable[Path | str],
    includes: Iterable[Path | str] = (),
    defs: Mapping[str, object] | Iterable[str] | None = None,
    out_dir: Path | str = "build/mps2-an386",
    arch: str = "m4",
    *,
    app: str = "app",
    stack_size: int | None = None,
    extra_cflags: Iterable[str] = (),
    cxx_srcs: Iterable[Path | str] = (),
    libs: Iterable[Path | str] = (),
    system_includes: Iterable[Path | str] = (),
    extra_cxxflags: Iterable[str] = (),
    timeout: float = 600,
) -> Path:
    """Compile app_srcs (and cxx_srcs) with the target's startup and platform code into
    out_dir/<app>.elf, linking the static libraries libs after them.

    arch "m4": -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16; "m0": -mcpu=cortex-m0plus.
    Flags: -std=c99 (C++: -std=gnu++14 -fno-exceptions -fno-rtti) -Wall -Wextra -Werror -Os,
    sections + --gc-sections; system_includes are -isystem (their headers' warnings do not
    count). With C++ sources the program links with arm-none-eabi-g++ and the target's
    cxx_support.cpp. The build log (including arm-none-eabi-size output) is written to
    out_dir/<app>.build.log.
    """
    if arch not in MACHINES:
        raise TinyECGError(f"arch must be one of {sorted(MACHINES)}, not {arch!r}")
    if not re.match(r"^[A-Za-z0-9_.-]+$", app):
        raise TinyECGError(f"app name {app!r}: letters, digits, _ . - only")
    srcs = [Path(src) for src in app_srcs]
    if not srcs:
        raise TinyECGError("build needs at least one C source (app_srcs is empty)")
    cxx = [Path(src) for src in cxx_srcs]
    archives = [Path(lib) for lib in libs]
    includes = list(includes)
    system_includes = list(system_includes)
    for src in srcs + cxx:
        if not src.is_file():
            raise TinyECGError(f"{src}: no such {'C++' if src in cxx else 'C'} source")
    for lib in archives:
        if not lib.is_file():
            raise TinyECGError(f"{lib}: no such library")
    for inc in includes + system_includes:
        if not Path(inc).is_dir():
            raise TinyECGError(f"{inc}: include folder does not exist")
    if stack_size is not None and (stack_size <= 0 or stack_size % 8):
        raise TinyECGError(f"stack_size {stack_size}: must be a positive multiple of 8")
    require_tools([CROSS + "gcc", CROSS + "size", "make"] + ([CROSS + "g++"] if cxx else []))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "make",
        "-C",
        str(target_dir()),
        "--no-print-directory",
        f"OUT={_plain_path(out, 'out_dir')}",
        f"APP={app}",
        f"ARCH={arch}",
        "APP_SRCS=" + " ".join(_plain_path(src, "source") for src in srcs),
        "INCLUDES=" + " ".join(_plain_path(Path(inc), "include folder") for inc in includes),
        "DEFS=" + " ".join(define_items(defs)),
        "EXTRA_CFLAGS=" + " ".join(extra_cflags),
        "APP_CXX_SRCS=" + " ".join(_plain_path(src, "source") for src in cxx),
        "LIBS=" + " ".join(_plain_path(lib, "library") for lib in archives),
        "SYSTEM_INCLUDES="
        + " ".join(_plain_path(Path(inc), "include folder") for inc in system_includes),
        "EXTRA_CXXFLAGS=" + " ".join(extra_cxxflags),
    ]
    if stack_size is not None:
        args.append(f"STACK_SIZE={int(stack_size)}")
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TinyECGError(f"build did not finish in {timeout:.0f} s") from exc
    log = out / f"{app}.build.log"
    log.write_text(proc.stdout + proc.stderr)
    elf = out / f"{app}.elf"
    if proc.returncode != 0 or not elf.is_file():
        lines = (proc.stderr + proc.stdout).splitlines()
        first = next(
            (line for line in lines if "error" in line.lower()), lines[-1] if lines else ""
        )
        raise TinyECGError(f"build failed ({first.strip()}); full log: {log}")
    return elf


@dataclass
class CompletedRun:
    """Outcome of one QEMU run. stdout: the semihosting console (printf); stderr:
    QEMU's messages and the target's fault reports; serial: bytes UART0 sent."""

    returncode: int
    stdout: str
    stderr: str = ""
    serial: bytes = b""
    timed_out: bool = False
    seconds: float = 0.0


def qemu_command(
    elf: Path | str,
    machine: str = "mps2-an386",
    serial_args: Iterable[str] = ("-serial", "none"),
    timeout: float | None = None,
    extra_args: Iterable[str] = (),
) -> list[str]:
    """The qemu-system-arm command line run() uses (wrapped in coreutils timeout if given)."""
    cmd = [
        QEMU,
        "-M",
        machine,
        "-display",
        "none",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0",
        *serial_args,
        *extra_args,
        "-kernel",
        str(elf),
    ]
    if timeout is not None and shutil.which("timeout"):
        cmd = ["timeout", "--kill-after=5", f"{float(timeout):g}", *cmd]
    return cmd


def _check_elf(elf: Path | str, timeout: float) -> Path:
    elf = Path(elf)
    if not elf.is_file():
        raise TinyECGError(f"{elf}: no such ELF file")
    if not timeout or timeout <= 0:
        raise TinyECGError("timeout must be a positive number of seconds")
    require_tools([QEMU])
    return elf


def fnv1a32_hex(values) -> str:
    """32-bit FNV-1a of values taken as bytes (int8 two's complement), as 8 hex digits: the
    hash the QEMU measurement programs print instead of whole output vectors, which
    semihosting would print slowly."""
    h = 2166136261
    for v in np.asarray(values).astype(np.uint8).tolist():
        h = ((h ^ v) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


def _die_with_parent() -> None:
    """Child-side hook (Linux): deliver SIGTERM to the coreutils timeout wrapper when the
    Python process that started it dies, even by SIGKILL; timeout passes the signal on to
    QEMU. Without it a killed `tinyecg qemu --serve` left QEMU running until its own
    timeout (an hour by default)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the timeout wrapper is the only backstop


def _popen_qemu(cmd: list[str], **kwargs) -> subprocess.Popen:
    """Start QEMU (under its timeout wrapper) in a new process group that dies with us."""
    hook = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(cmd, start_new_session=True, preexec_fn=hook, **kwargs)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the process group we created for this QEMU (it and its timeout wrapper)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def run(
    elf: Path | str,
    timeout: float = 60,
    stdin_bytes: bytes | None = None,
    serial: str = "semihosting",
    machine: str | None = None,
    extra_args: Iterable[str] = (),
) -> CompletedRun:
    """Run elf under QEMU until it exits (semihosting) or timeout seconds pass.

    serial:
      "semihosting"  stdin_bytes feed the semihosting console (fgets(stdin) on the
                     target); UART0's output is captured into .serial.
      "stdio"        UART0 on QEMU's stdin/stdout: stdin_bytes go to the UART and
                     its output is mixed into .stdout with semihosting output.
      "tcp"          UART0 on a TCP server socket; stdin_bytes are sent over it and
                     everything received is returned in .serial.
      "none"         UART0 unconnected.
    """
    elf = _check_elf(elf, timeout)
    if serial not in _SERIAL_MODES:
        raise TinyECGError(f"serial must be one of {', '.join(_SERIAL_MODES)}, not {serial!r}")
    machine = machine or MACHINES["m4"]
    if serial == "tcp":
        return _run_tcp(elf, timeout, stdin_bytes, machine, extra_args)

    with tempfile.TemporaryDirectory(prefix="tinyecg-qemu-") as tmp:
        uart_log = Path(tmp) / "uart0.bin"
        serial_args = {
            "semihosting": ["-serial", f"file:{uart_log}"],
            "stdio": ["-serial", "stdio"],
            "none": ["-serial", "none"],
        }[serial]
        cmd = qemu_command(elf, machine, serial_args, timeout + _BACKSTOP_S, extra_args)
        start = time.monotonic()
        stdin = subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL
        proc = _popen_qemu(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        timed_out = False
        try:
            out, err = proc.communicate(input=stdin_bytes, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            out, err = proc.communicate()
        finally:
            _kill_group(proc)
        seconds = time.monotonic() - start
        uart = uart_log.read_bytes() if uart_log.exists() else b""
    return CompletedRun(
        returncode=TIMEOUT_EXIT if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        serial=uart,
        timed_out=timed_out,
        seconds=seconds,
    )


class SerialURL(str):
    """The ``socket://127.0.0.1:<port>`` URL of a running QEMU's UART0 (usable as a
    plain string, e.g. by serial.serial_for_url), plus .port, .process and wait()."""

    port: int
    process: subprocess.Popen
    _session: _Session

    def __new__(cls, port: int, process: subprocess.Popen, session: _Session):
        self = super().__new__(cls, f"socket://127.0.0.1:{port}")
        self.port = port
        self.process = process
        self._session = session
        return self

    def wait(self, timeout: float | None = None) -> CompletedRun:
        """Wait for QEMU to exit (the target called exit) and return its outcome."""
        return self._session.wait(timeout)


class _Session:
    """Reader threads for one QEMU process, and a watchdog that kills it at the deadline."""

    def __init__(self, proc: subprocess.Popen, timeout: float):
        self.proc = proc
        self.timeout = timeout
        self.start = time.monotonic()
        self.timed_out = False
        self._watchdog = threading.Timer(timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.listening = threading.Event()
        self._threads = [
            threading.Thread(target=self._pump, args=(proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream, sink: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            sink.extend(chunk)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None  # started with stderr=PIPE
        for line in iter(self.proc.stderr.readline, b""):
            if b"waiting for connection" in line:
                self.listening.set()  # QEMU's own notice: not part of the run's output
            else:
                self.stderr.extend(line)
        self.listening.set()  # QEMU ended: stop waiting either way

    def _expire(self) -> None:
        if self.proc.poll() is None:
            self.timed_out = True
            _kill_group(self.proc)

    def wait(self, timeout: float | None = None) -> CompletedRun:
        """Wait up to timeout seconds (default: until the session deadline) for exit."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            _kill_group(self.proc)
            code = self.proc.wait()
        self._watchdog.cancel()
        for thread in self._threads:
            thread.join(timeout=5)
        return CompletedRun(
            returncode=TIMEOUT_EXIT if self.timed_out else code,
            stdout=self.stdout.decode("utf-8", "replace"),
            stderr=self.stderr.decode("utf-8", "replace"),
            timed_out=self.timed_out,
            seconds=time.monotonic() - self.start,
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serial_tcp(
    elf: Path | str, timeout: float = 60, machine: str | None = None, extra_args: Iterable[str] = ()
) -> Iterator[SerialURL]:
    """Start QEMU with UART0 on ``-serial tcp:127.0.0.1:<free port>,server=on,wait=on``
    and yield its socket:// URL. The target does not start executing until a client
    connects (like a board reset on port open). QEMU is killed on leaving the block;
    call url.wait() inside it to collect the exit code and semihosting output.

    pyserial's socket:// handler discards whatever arrived before its open()
    finished, so output the target sends right after start can be lost: let the
    target wait for a byte from the host before it talks (see uart_echo.c)."""
    elf = _check_elf(elf, timeout)
    machine = machine or MACHINES["m4"]
    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        serial_args = ["-serial", f"tcp:127.0.0.1:{port},server=on,wait=on"]
        cmd = qemu_command(elf, machine, serial_args, timeout + _BACKSTOP_S, extra_args)
        proc = _popen_qemu(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        session = _Session(proc, timeout)
        if session.listening.wait(timeout=min(timeout, 30)) and proc.poll() is None:
            try:
                yield SerialURL(port, proc, session)
            finally:
                _kill_group(proc)
                session.wait()
            return
        _kill_group(proc)
        last_error = session.wait().stderr.strip()
        if "Address already in use" not in last_error:
            break
    raise TinyECGError(f"QEMU did not open its TCP serial port: {last_error or 'no message'}")


def _run_tcp(
    elf: Path, timeout: float, stdin_bytes: bytes | None, machine: str, extra_args: Iterable[str]
) -> CompletedRun:
    received = bytearray()
    with serial_tcp(elf, timeout, machine, extra_args) as url:
        deadline = time.monotonic() + timeout
        with socket.create_connection(("127.0.0.1", url.port), timeout=10) as sock:
            if stdin_bytes:
                sender = threading.Thread(target=sock.sendall, args=(stdin_bytes,), daemon=True)
                sender.start()
            while time.monotonic() < deadline:
                sock.settimeout(max(0.05, min(1.0, deadline - time.monotonic())))
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if url.process.poll() is not None:
                        break
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                received.extend(chunk)
        result = url.wait()
    result.serial = bytes(received)
    return result
