"""The mps2-an386 bare-metal target under QEMU: boot, semihosting, exit codes,
instruction counting, UART over TCP, faults, stack high-water mark.

Expectations come from outside the code under test: the disassembly (objdump) for
instruction counts and fault addresses, the section table (readelf) for sizes and
the .data load address, Python for the UART transformation.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tinyecg.device import qemu

pytestmark = pytest.mark.skipif(
    not qemu.toolchain_available(),
    reason=f"ARM bare-metal toolchain or QEMU missing: {', '.join(qemu.missing_tools())} "
    "(apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)",
)

EXAMPLES = Path(__file__).resolve().parents[1] / "firmware/targets/mps2-an386/examples"


_BUILT: dict[str, Path] = {}


def _build(tmp_path_factory, example: str, **kwargs) -> Path:
    """Build an example once per test session for each set of options."""
    key = f"{example} {sorted(kwargs.items(), key=str)}"
    if key not in _BUILT:
        out = tmp_path_factory.mktemp(f"qemu-{example}")
        _BUILT[key] = qemu.build([EXAMPLES / f"{example}.c"], out_dir=out, app=example, **kwargs)
    return _BUILT[key]


def _sections(elf: Path) -> dict[str, dict]:
    """name -> {addr, size, flags} from arm-none-eabi-readelf -S -W."""
    text = subprocess.run(
        ["arm-none-eabi-readelf", "-S", "-W", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    sections = {}
    row = re.compile(
        r"\]\s+(\S+)\s+(\S+)\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+"
        r"([A-Z]*)"
    )
    for match in row.finditer(text):
        name, kind, addr, size, flags = match.groups()
        sections[name] = {
            "type": kind,
            "addr": int(addr, 16),
            "size": int(size, 16),
            "flags": flags,
        }
    return sections


def _function_disassembly(elf: Path, name: str) -> list[tuple[int, str, str]]:
    """(address, mnemonic, operands) of one function, from arm-none-eabi-objdump."""
    text = subprocess.run(
        ["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    block = re.search(rf"^[0-9a-f]+ <{re.escape(name)}>:\n(.*?)(?:\n\n|\Z)", text, re.S | re.M)
    assert block, f"{name} not in the disassembly"
    rows = []
    for line in block.group(1).splitlines():
        match = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if match:
            rows.append((int(match.group(1), 16), match.group(2), match.group(3)))
    return rows


_UNCONDITIONAL = ("b", "b.n", "b.w")
_CONDITIONAL = re.compile(r"^(b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)(\.[nw])?|cbn?z)$")


def _branch_target(operands: str) -> int:
    return int(re.search(r"([0-9a-f]+) <", operands).group(1), 16)


def _loop_body_length(rows: list[tuple[int, str, str]]) -> int:
    """Instructions executed per iteration of the function's only loop: follow the
    control flow from the target of the backward branch until that branch comes
    round again, taking at each conditional branch the side that stays in the loop
    (the other side leaves it: a return or a jump out of the loop's range)."""
    backs = [
        (addr, _branch_target(ops))
        for addr, mnem, ops in rows
        if (mnem in _UNCONDITIONAL or _CONDITIONAL.match(mnem)) and _branch_target(ops) <= addr
    ]
    assert len(backs) == 1, f"expected one backward branch, found {backs}"
    back, head = backs[0]
    order = [addr for addr, _, _ in rows]
    by_addr = {addr: (mnem, ops) for addr, mnem, ops in rows}

    def walk(addr: int, steps: int) -> int | None:
        if addr == back:
            return steps + 1
        if addr not in by_addr or not head <= addr <= back or steps > len(rows):
            return None
        mnem, ops = by_addr[addr]
        following = order[order.index(addr) + 1] if addr != order[-1] else None
        if mnem.startswith("bx") or (mnem.startswith("pop") and "pc" in ops):
            return None  # returns: leaves the loop
        if mnem in _UNCONDITIONAL:
            return walk(_branch_target(ops), steps + 1)
        if _CONDITIONAL.match(mnem):
            paths = [
                p
                for p in (walk(_branch_target(ops), steps + 1), walk(following, steps + 1))
                if p is not None
            ]
            assert len(paths) == 1, f"branch at {addr:#x}: both sides stay in the loop"
            return paths[0]
        assert not mnem.startswith("bl"), "the loop must not call functions"
        return walk(following, steps + 1)

    length = walk(head, 0)
    assert length is not None, "no path from the loop head back to its branch"
    return length


# ---- boot, semihosting, exit codes --------------------------------------------------


@pytest.mark.parametrize("code", [0, 42])
def test_semihosting_print_and_exit_code(tmp_path_factory, code):
    elf = _build(tmp_path_factory, "hello", defs={"EXIT_CODE": code})
    result = qemu.run(elf, timeout=20)
    assert not result.timed_out
    assert result.returncode == code
    assert "hello from the mps2 target" in result.stdout
    assert result.serial == b"uart0 says hi\n"  # UART0 captured in semihosting mode
    # 0x1234567 is the initial value of a .data variable, 0 the sum of a .bss array.
    assert f"data=0x1234567 bss_sum=0 exit={code}" in result.stdout


def test_data_is_copied_from_code_memory(tmp_path_factory):
    """.data runs from SRAM but is stored in code memory: only the startup copy puts
    the initial values where the program reads them (QEMU loads the LMA only)."""
    elf = _build(tmp_path_factory, "hello")
    headers = subprocess.run(
        ["arm-none-eabi-objdump", "-h", str(elf)], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\.data\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", headers)
    assert match
    vma, lma = int(match.group(2), 16), int(match.group(3), 16)
    assert 0x20000000 <= vma < 0x20400000, "data must run from SSRAM2&3"
    assert lma < 0x00400000, "data image must be stored in code memory (SSRAM1)"
    assert "data=0x1234567" in qemu.run(elf, timeout=20).stdout


def test_size_matches_section_table(tmp_path_factory):
    elf = _build(tmp_path_factory, "hello")
    sections = _sections(elf)
    # Berkeley format: text = read-only allocated, data = writable with contents
    # (.data, also .init_array), bss = allocated without contents.
    alloc = [s for s in sections.values() if "A" in s["flags"]]
    text = sum(s["size"] for s in alloc if "W" not in s["flags"])
    data = sum(s["size"] for s in alloc if "W" in s["flags"] and s["type"] != "NOBITS")
    bss = sum(s["size"] for s in alloc if s["type"] == "NOBITS")
    assert qemu.size(elf) == {"text": text, "data": data, "bss": bss}
    assert bss == sections[".bss"]["size"] and data >= sections[".data"]["size"]
    assert sections[".vectors"]["addr"] == 0, "the vector table must sit at address 0"
    log = (elf.parent / "hello.build.log").read_text()
    assert re.search(r"text\s+data\s+bss", log), "make must print arm-none-eabi-size output"


# ---- instruction counting -----------------------------------------------------------


def _parse_icount(stdout: str) -> dict:
    spins = {int(n): int(i) for n, i in re.findall(r"spin n=(\d+) instructions=(\d+)", stdout)}
    masked = [(int(n), int(i)) for n, i in re.findall(r"masked n=(\d+) instructions=(\d+)", stdout)]
    backwards = int(re.search(r"backwards=(\d+)", stdout).group(1))
    return {"spins": spins, "masked": masked, "backwards": backwards}


@pytest.mark.parametrize("arch,reload", [("m4", None), ("m4", 4095), ("m0", None)])
def test_instruction_count_matches_disassembly(tmp_path_factory, arch, reload):
    """platform_instructions() around spin_loop(n) == n x (loop body length read from
    objdump), within 1 %; with the full 24-bit reload to within 3 SysTick ticks. A
    reload of 4095 wraps every 163,840 instructions, exercising the wrap count, and
    the masked-interrupt windows exercise the pending-wrap path. ARCH=m0 (v6-M code)
    runs on the AN385 image, which has the same memory map."""
    defs = {"PLATFORM_SYSTICK_RELOAD": reload} if reload else None
    elf = _build(tmp_path_factory, "icount", defs=defs, arch=arch)
    body = _loop_body_length(_function_disassembly(elf, "spin_loop"))
    assert 2 <= body <= 8
    result = qemu.run(elf, timeout=30, machine=qemu.MACHINES[arch])
    assert result.returncode == 0, result.stdout + result.stderr
    got = _parse_icount(result.stdout)
    assert got["backwards"] == 0
    assert len(got["spins"]) == 3 and len(got["masked"]) == 4
    for n, measured in list(got["spins"].items()) + got["masked"]:
        expected = body * n
        assert abs(measured - expected) <= max(0.01 * expected, 3 * qemu.INSTRUCTIONS_PER_TICK), (
            n,
            measured,
            expected,
        )
        if reload is None:
            assert abs(measured - expected) <= 3 * qemu.INSTRUCTIONS_PER_TICK, (
                n,
                measured,
                expected,
            )
        assert measured % qemu.INSTRUCTIONS_PER_TICK == 0


# ---- UART0 over TCP -----------------------------------------------------------------


def test_uart_echo_over_tcp_serial(tmp_path_factory):
    serial = pytest.importorskip("serial", reason="pyserial is needed for socket:// URLs")
    elf = _build(tmp_path_factory, "uart_echo")
    payload = bytes(b for b in range(256) if b != 0x04) * 2  # 0x04 ends the echo
    expected = payload.upper()  # ASCII a-z only, as the firmware does
    with qemu.serial_tcp(elf, timeout=30) as url:
        assert url.startswith("socket://127.0.0.1:")
        port = serial.serial_for_url(url, timeout=10)
        try:
            port.write(b"\x05")  # the target waits for this before it says anything
            assert port.readline() == b"READY\n"
            echoed = bytearray()
            for start in range(0, len(payload), 64):
                chunk = payload[start : start + 64]
                port.write(chunk)
                echoed += port.read(len(chunk))
            assert bytes(echoed) == expected
            port.write(b"\x04")
            assert port.readline() == f"BYE {len(payload)}\n".encode()
        finally:
            port.close()
        result = url.wait(20)
    assert result.returncode == 0
    assert f"echoed {len(payload)} bytes" in result.stdout


@pytest.mark.parametrize("mode", ["tcp", "stdio"])
def test_run_feeds_uart(tmp_path_factory, mode):
    elf = _build(tmp_path_factory, "uart_echo")
    result = qemu.run(elf, timeout=20, stdin_bytes=b"\x05abc XYZ 123\x04", serial=mode)
    assert result.returncode == 0
    uart = result.serial if mode == "tcp" else result.stdout.encode()
    assert b"READY\nABC XYZ 123BYE 11\n" in uart
    assert "echoed 11 bytes" in result.stdout


def test_hang_times_out(tmp_path_factory):
    """With no UART input the echo program waits forever: run() must stop it at the
    timeout and say so."""
    elf = _build(tmp_path_factory, "uart_echo")
    start = time.monotonic()
    result = qemu.run(elf, timeout=1.5)
    assert time.monotonic() - start < 10
    assert result.timed_out and result.returncode == qemu.TIMEOUT_EXIT
    assert result.serial == b""


# ---- faults and the stack -----------------------------------------------------------


@pytest.mark.parametrize("kind", [1, 2])
def test_hardfault_reports_and_exits_nonzero(tmp_path_factory, kind):
    elf = _build(tmp_path_factory, "fault", defs={"FAULT_KIND": kind})
    start = time.monotonic()
    result = qemu.run(elf, timeout=20)
    assert time.monotonic() - start < 10
    assert not result.timed_out
    assert result.returncode == qemu.FAULT_EXIT_BASE + 3  # HardFault is exception 3
    assert "still running" not in result.stdout
    report = re.search(
        r"FAULT: HardFault .* pc=0x([0-9a-f]{8}) .* cfsr=0x([0-9a-f]{8}) "
        r".* bfar=0x([0-9a-f]{8})",
        result.stderr,
    )
    assert report, result.stderr
    pc, cfsr, bfar = (int(group, 16) for group in report.groups())
    if kind == 2:
        udf = [
            addr for addr, mnemonic, _ in _function_disassembly(elf, "main") if mnemonic == "udf"
        ]
        assert pc == udf[0]
        assert cfsr & (1 << 16), "UNDEFINSTR must be set in the UsageFault status"
    else:
        assert bfar == 0xF0000000 and cfsr & (1 << 15), "BFARVALID with the bad address"


def test_stack_high_water_mark(tmp_path_factory):
    use = 4096
    elf = _build(tmp_path_factory, "stack", defs={"STACK_USE": use}, stack_size=32768)
    result = qemu.run(elf, timeout=20)
    assert result.returncode == 0
    before, after, size = (
        int(v) for v in re.search(r"before=(\d+) after=(\d+) size=(\d+)", result.stdout).groups()
    )
    assert size == 32768
    assert before < 1024
    assert use <= after < use + 1024


def _alive(pid: int) -> bool:
    """True while pid exists and is not a zombie (a container's init may not reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_qemu_dies_with_a_killed_parent(tmp_path_factory):
    """A `tinyecg qemu --serve` killed with SIGKILL must not leave QEMU running until its
    own (hour-long) timeout: the parent-death signal stops the timeout wrapper and QEMU."""
    import signal
    import sys

    elf = _build(tmp_path_factory, "uart_echo")
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom tinyecg.device import qemu\n"
            f"with qemu.serial_tcp({str(elf)!r}, timeout=600) as url:\n"
            "    print(url.process.pid, flush=True)\n"
            "    time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wrapper = int(parent.stdout.readline())
        children = Path(f"/proc/{wrapper}/task/{wrapper}/children").read_text().split()
        assert _alive(wrapper) and children, "QEMU did not start under its timeout wrapper"
        qemu_pid = int(children[0])
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while (_alive(wrapper) or _alive(qemu_pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(qemu_pid), "QEMU outlived the process that started it"
        assert not _alive(wrapper)
    finally:
        parent.kill()
