"""Board profiles and the memory budget check of `tinyecg export --board NAME`.

Each profile gives the memory the application may use (not the chip's raw totals when a
bootloader, a partition table or a core library takes part of it) and two documented
reserves that the exported files do not contain:

* ``tflm_flash`` / ``tflm_ram``: the TensorFlow Lite Micro runtime (interpreter, allocator,
  kernels for a handful of int8 ops with CMSIS-NN, flatbuffer parsing, libc/libm pieces) and
  its static objects (MicroInterpreter, op resolver, allocator bookkeeping outside the arena).
  Measured once: a bare-metal Cortex-M4 image of TFLM (2023 sources, CMSIS-NN) running a 20 KB
  int8 model had 128 KB of text, i.e. about 108 KB besides the model (../shared/FIELD-NOTES.md).
  Counted only with ``--runtime tflm``.
* ``firmware_flash`` / ``firmware_ram``: the board's core library or SDK and our firmware
  (QRS detector, RR bookkeeping, the 360-sample ring buffer, serial protocol, main stack).
  Estimates per software stack, stated beside each profile; they are deliberately generous.

What the export adds on top is computed from the files themselves: the model flatbuffer, the
golden vectors (linked by the self-test), the preprocessing code and its stack
(``tinyecg.export.preprocess.STACK_BYTES``) and the tensor arena.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tinyecg.errors import TinyECGError

KB = 1024
# Code and constants of the preprocessing library tinyecg_dsp (sym4 taps, threshold multiplier,
# the DWT/IDWT, median selection, integer square root, both quantization paths, rhythm
# features) and the generated tinyecg_preprocess_params.c (40 bytes): measured with
# arm-none-eabi-gcc 12 (scripts/bench_preprocess_qemu.py) 3,166 bytes at -Os and 3,836 at -O2
# for Cortex-M4, 4,048 at -Os for Cortex-M0+; 5 KB leaves room for the libgcc 64-bit
# multiply and division helpers it calls.
PREPROCESS_FLASH = 5 * KB


@dataclass(frozen=True)
class TFLMLibrary:
    """A TensorFlow Lite Micro distribution a board links, and the quantization features its
    kernels compute correctly (read from its sources; docs/firmware.md gives the lines)."""

    name: str  # as the firmware's boot line prints it
    synced: str  # the TFLM sources it was cut from
    per_channel_ops: frozenset[str]  # ops whose kernels apply one weight scale per channel
    copy_ops: frozenset[str]  # ops that copy bytes: inputs and output must share quantization
    per_channel_failure: str  # what happens to a per-channel op outside per_channel_ops
    changed_ops: dict[str, str] = field(default_factory=dict)  # ops whose kernel changed since


# tensorflow/tflite-micro-arduino-examples bd7e861: FULLY_CONNECTED takes one multiplier from
# params.scale, which is channel 0's scale (fully_connected_common.cpp:62-65, kernel_util.cpp
# 295-296, micro_allocator.cpp:249); CONCATENATION and RESHAPE copy bytes (concatenation.cpp
# 231-232, reshape.cpp:103-111); CONV_2D builds a multiplier per channel (kernel_util.cpp
# 234-263).
ARDUINO_TFLM = TFLMLibrary(
    "Arduino_TensorFlowLite@bd7e861",
    "TFLM 2023-02-27",
    per_channel_ops=frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"}),
    copy_ops=frozenset({"CONCATENATION", "RESHAPE"}),
    per_channel_failure="computes with channel 0's scale for every channel, silently",
    changed_ops={"MEAN": "MEAN kernel aligned with TFLite in 2023-04 (tflite-micro PR 1908)"},
)
# eloquentarduino/tflm_esp32 2.0.0 (TFLM 2024-07): per-channel FULLY_CONNECTED fails Prepare
# ("FullyConnected per-channel quantization not yet supported", tflite-micro PR 2602).
ESP32_TFLM = TFLMLibrary(
    "tflm_esp32@2.0.0",
    "TFLM 2024-07",
    per_channel_ops=frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"}),
    copy_ops=frozenset({"CONCATENATION", "RESHAPE"}),
    per_channel_failure="refuses when the interpreter allocates tensors",
)

# the weight tensor's input slot of each op that has weights
_WEIGHT_SLOT = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}


def library_problems(lib: TFLMLibrary, model) -> list[str]:
    """What `lib` would compute wrongly (or refuse) in `model` (a TFLiteModel), one line each."""
    problems = []
    for op in model.ops:
        slot = _WEIGHT_SLOT.get(op.opcode)
        if slot is not None and slot < len(op.inputs) and op.inputs[slot] >= 0:
            w = model.tensors[op.inputs[slot]]
            if w.per_channel and op.opcode not in lib.per_channel_ops:
                problems.append(
                    f"{op.opcode} {w.name!r} has per-channel weight scales, which "
                    f"{lib.name} ({lib.synced}) {lib.per_channel_failure}"
                )
        if op.opcode in lib.copy_ops:
            quant = {
                (model.tensors[i].scale, model.tensors[i].zero_point)
                for i in list(op.inputs[:1] if op.opcode == "RESHAPE" else op.inputs)
                + list(op.outputs)
                if i >= 0
            }
            if len(quant) > 1:
                problems.append(
                    f"{op.opcode} (op {op.index}) mixes quantization scales, but "
                    f"{lib.name} only copies bytes there"
                )
    return problems


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    mcu: str
    flash_total: int  # bytes on the part (or module)
    ram_total: int
    flash_app: int  # bytes of flash an application image may occupy
    ram_app: int  # bytes of RAM an application may use (static + stack + heap)
    tflm_flash: int
    tflm_ram: int
    firmware_flash: int
    firmware_ram: int
    notes: str
    tflm: TFLMLibrary = ARDUINO_TFLM

    def as_dict(self) -> dict:
        d = asdict(self)
        d["tflm"] = {"name": self.tflm.name, "synced": self.tflm.synced}
        return d


BOARDS: dict[str, Board] = {
    b.name: b
    for b in (
        Board(
            "nano33ble",
            "Arduino Nano 33 BLE (Sense)",
            "nRF52840, Cortex-M4F 64 MHz",
            flash_total=1024 * KB,
            ram_total=256 * KB,
            flash_app=983_040,
            ram_app=256 * KB,
            tflm_flash=112 * KB,
            tflm_ram=4 * KB,
            firmware_flash=96 * KB,
            firmware_ram=64 * KB,
            notes="the Arduino bootloader keeps the first 64 KB of flash (983,040 bytes left for "
            "a sketch); the Arduino mbed core (Mbed OS, USB serial) takes about 80 KB of "
            "flash and 45 KB of RAM in an empty sketch, reserved here as 96 KB / 64 KB",
        ),
        Board(
            "esp32s3",
            "ESP32-S3-DevKitC-1 (N8)",
            "ESP32-S3, Xtensa LX7 240 MHz",
            flash_total=8192 * KB,
            ram_total=512 * KB,
            flash_app=1_310_720,
            ram_app=327_680,
            tflm_flash=128 * KB,
            tflm_ram=4 * KB,
            firmware_flash=320 * KB,
            firmware_ram=48 * KB,
            tflm=ESP32_TFLM,
            notes="8 MB flash module; the Arduino default partition table gives the "
            "application 1,310,720 bytes (0x140000) and the linker 327,680 bytes of "
            "DRAM; the Arduino ESP32 core with FreeRTOS and USB-CDC takes about 260 KB "
            "of flash and 20-40 KB of RAM without Wi-Fi, reserved as 320 KB / 48 KB",
        ),
        Board(
            "nucleo_l432kc",
            "ST NUCLEO-L432KC",
            "STM32L432KC, Cortex-M4F 80 MHz",
            flash_total=256 * KB,
            ram_total=64 * KB,
            flash_app=256 * KB,
            ram_app=64 * KB,
            tflm_flash=112 * KB,
            tflm_ram=4 * KB,
            firmware_flash=24 * KB,
            firmware_ram=8 * KB,
            notes="256 KB flash, 64 KB SRAM (48 KB SRAM1 + 16 KB SRAM2, contiguous at "
            "0x20000000); bare metal or STM32Cube HAL: about 16-24 KB of flash for HAL, "
            "startup and our firmware, 8 KB of RAM for stack, ring buffer and state",
        ),
        Board(
            "pico",
            "Raspberry Pi Pico",
            "RP2040, dual Cortex-M0+ 133 MHz",
            flash_total=2048 * KB,
            ram_total=264 * KB,
            flash_app=2048 * KB - 4 * KB,
            ram_app=256 * KB,
            tflm_flash=128 * KB,
            tflm_ram=4 * KB,
            firmware_flash=64 * KB,
            firmware_ram=16 * KB,
            notes="2 MB external QSPI flash (W25Q16JV, minus 4 KB for the boot stage 2 and "
            "EEPROM emulation), 264 KB SRAM of which the 256 KB striped banks hold data "
            "(the two 4 KB banks are core stacks); Cortex-M0+ has no DSP extension, so "
            "TFLM uses the larger portable kernels (reserved 128 KB); pico-sdk or "
            "arduino-pico core about 40-64 KB flash, 16 KB RAM",
        ),
        Board(
            "nucleo_f031k6",
            "ST NUCLEO-F031K6",
            "STM32F031K6, Cortex-M0 48 MHz",
            flash_total=32 * KB,
            ram_total=4 * KB,
            flash_app=32 * KB,
            ram_app=4 * KB,
            tflm_flash=112 * KB,
            tflm_ram=4 * KB,
            firmware_flash=12 * KB,
            firmware_ram=2 * KB,
            notes="32 KB flash, 4 KB SRAM: smaller than the TFLM runtime alone; kept as the "
            "board the budget check fails on",
        ),
    )
}


def check_library(board: Board, model) -> None:
    """Raise a one-line TinyECGError when the board's TFLM would compute `model` wrongly."""
    problems = library_problems(board.tflm, model)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise TinyECGError(
            f"board {board.name}: {problems[0]}{more}; re-quantize with "
            "per-tensor dense layers (tinyecg quantize --force does), or "
            "export --runtime c"
        )


def board_names() -> list[str]:
    return list(BOARDS)


def get_board(name: str) -> Board:
    if not isinstance(name, str) or name not in BOARDS:
        raise TinyECGError(f"unknown board {name!r} (choose from {', '.join(BOARDS)})")
    return BOARDS[name]


def _kb(n: int) -> str:
    return f"{n / KB:.1f} KB"


def budget(
    board: Board,
    *,
    model_bytes: int,
    arena_bytes: int,
    golden_bytes: int,
    preprocess_stack: int,
    runtime: str = "tflm",
) -> dict:
    """Flash and RAM needed on `board` by the exported files plus the board's reserves.

    Returns {"board", "fits", "flash": {...}, "ram": {...}}; each of flash/ram has the parts,
    "needed", "available" and "free" (negative when it does not fit)."""
    tflm = runtime == "tflm"
    flash_parts = {
        "model": int(model_bytes),
        "golden": int(golden_bytes),
        "preprocess": PREPROCESS_FLASH,
        "tflm_runtime": board.tflm_flash if tflm else 0,
        "firmware": board.firmware_flash,
    }
    ram_parts = {
        "arena": int(arena_bytes),
        "preprocess_stack": int(preprocess_stack),
        "tflm_runtime": board.tflm_ram if tflm else 0,
        "firmware": board.firmware_ram,
    }
    flash_needed = sum(flash_parts.values())
    ram_needed = sum(ram_parts.values())
    return {
        "board": board.name,
        "title": board.title,
        "mcu": board.mcu,
        "fits": flash_needed <= board.flash_app and ram_needed <= board.ram_app,
        "flash": {
            "parts": flash_parts,
            "needed": flash_needed,
            "available": board.flash_app,
            "free": board.flash_app - flash_needed,
        },
        "ram": {
            "parts": ram_parts,
            "needed": ram_needed,
            "available": board.ram_app,
            "free": board.ram_app - ram_needed,
        },
        "notes": board.notes,
    }


def check_budget(report: dict) -> None:
    """Raise a one-line TinyECGError naming what does not fit."""
    if report["fits"]:
        return
    problems = []
    for kind in ("flash", "ram"):
        part = report[kind]
        if part["needed"] > part["available"]:
            biggest = sorted(part["parts"].items(), key=lambda kv: -kv[1])[:3]
            detail = " + ".join(f"{k} {_kb(v)}" for k, v in biggest)
            label = "RAM" if kind == "ram" else "flash"
            problems.append(
                f"{label} needs {_kb(part['needed'])} "
                f"({detail}, ...) but the board has {_kb(part['available'])}"
            )
    raise TinyECGError(
        f"board {report['board']} ({report['mcu']}): does not fit: " + "; ".join(problems)
    )


def describe(report: dict) -> str:
    """One line: 'nano33ble: flash 240.1/960.0 KB, RAM 79.3/256.0 KB (fits)'."""
    f, r = report["flash"], report["ram"]
    return (
        f"{report['board']}: flash {_kb(f['needed'])} of {_kb(f['available'])}, "
        f"RAM {_kb(r['needed'])} of {_kb(r['available'])} "
        f"({'fits' if report['fits'] else 'does not fit'})"
    )
