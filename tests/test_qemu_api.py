"""tinyecg.device.qemu input checking: user mistakes raise TinyECGError before any tool runs,
and a compiler error (warnings are errors) is reported with its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinyecg.device import qemu
from tinyecg.errors import TinyECGError


def test_target_dir_has_the_makefile():
    assert (qemu.target_dir() / "Makefile").is_file()
    assert (qemu.target_dir() / "platform.h").is_file()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"app_srcs": []}, "app_srcs is empty"),
        ({"app_srcs": ["/nonexistent/x.c"]}, "no such C source"),
        ({"arch": "m7"}, "arch must be"),
        ({"defs": {"N": "1; rm"}}, "define"),
        ({"defs": "N=1"}, "not one string"),
        ({"includes": ["/nonexistent/include"]}, "include folder"),
        ({"stack_size": 1001}, "multiple of 8"),
        ({"app": "a b"}, "app name"),
    ],
)
def test_build_rejects_bad_input(tmp_path, kwargs, message):
    source = tmp_path / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    args = {"app_srcs": [source], "out_dir": tmp_path / "out"} | kwargs
    with pytest.raises(TinyECGError, match=message):
        qemu.build(**args)


def test_build_rejects_paths_with_spaces(tmp_path):
    folder = tmp_path / "with space"
    folder.mkdir()
    source = folder / "main.c"
    source.write_text("int main(void) { return 0; }\n")
    with pytest.raises(TinyECGError, match="spaces"):
        qemu.build([source], out_dir=tmp_path / "out")


def test_run_rejects_bad_input(tmp_path):
    with pytest.raises(TinyECGError, match="no such ELF"):
        qemu.run(tmp_path / "missing.elf")
    elf = tmp_path / "x.elf"
    elf.write_bytes(b"\x7fELF")
    with pytest.raises(TinyECGError, match="serial must be"):
        qemu.run(elf, serial="usb")
    with pytest.raises(TinyECGError, match="timeout"):
        qemu.run(elf, timeout=0)
    with pytest.raises(TinyECGError, match="no such ELF"):
        qemu.size(tmp_path / "missing.elf")


@pytest.mark.skipif(
    not qemu.toolchain_available(),
    reason=f"ARM toolchain or QEMU missing: {', '.join(qemu.missing_tools())}",
)
def test_compile_warning_is_a_build_error(tmp_path):
    source = tmp_path / "main.c"
    source.write_text("int main(void) { int unused; return 0; }\n")
    with pytest.raises(TinyECGError, match="unused") as info:
        qemu.build([source], out_dir=tmp_path / "out")
    assert "build.log" in str(info.value)
    assert Path(tmp_path / "out" / "app.build.log").is_file()
