"""C unit tests of the portable firmware core (firmware/test_host/test_core.c): on the host with
ASan + UBSan, and on the emulated Cortex-M4 (QEMU semihosting gives printf and the exit code)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

FW = ROOT / "firmware"
CORE = FW / "core"
SOURCES = [FW / "test_host" / "test_core.c"] + [CORE / f for f in ("tc_cobs.c", "tc_crc32.c", "tc_frame.c")]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_core_c_sanitized(tmp_path: Path) -> None:
    exe = tmp_path / "test_core"
    cmd = [
        "gcc", "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-I", str(CORE), "-o", str(exe),
        *map(str, SOURCES),
    ]  # fmt: skip
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ", 0 failed" in run.stdout


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)
def test_core_c_on_cortex_m4(tmp_path: Path) -> None:
    """Same tests compiled with the firmware's flags for the M4F and run on mps2-an386."""
    from fw_helpers import run_semihosted_m4

    out = run_semihosted_m4(tmp_path / "test_core.elf", SOURCES, [CORE])
    assert ", 0 failed" in out
