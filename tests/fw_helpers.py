"""Shared helpers: build a firmware env with PlatformIO (offline) and boot it in QEMU.

Reusable by any test (e.g. the end-to-end test with env qemu_m4):

    from fw_helpers import firmware_elf, booted_device
    elf = firmware_elf("qemu_m4")          # pytest.skip()s with the reason if it can't be built
    with booted_device(elf) as (board, dev):
        info = dev.hello()
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT
from tinycodec.link.device import Device
from tinycodec.link.qemu import QemuBoard, QemuError, build_firmware


def qemu_missing_reason() -> str | None:
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install qemu-system-arm gcc-arm-none-eabi)"
    return None


@functools.cache
def _build(env: str) -> Path | str:
    try:
        return build_firmware(env, ROOT)
    except QemuError as e:  # build failures become a skip reason (cached: built once per session)
        return str(e)


def firmware_elf(env: str = "qemu_m4_selftest") -> Path:
    """Build `env` once per test session; skip the calling test if that is impossible."""
    reason = qemu_missing_reason()
    if reason:
        pytest.skip(reason)
    res = _build(env)
    if isinstance(res, str):
        pytest.skip(f"firmware env {env} does not build: {res[-1500:]}")
    return res


@contextlib.contextmanager
def booted_device(elf: Path, board: str = "qemu", timeout: float = 10.0) -> Iterator[tuple[QemuBoard, Device]]:
    """Boot `elf` in QEMU, connect, wait for the boot INFO; yields (board, device)."""
    with QemuBoard(elf, board=board) as q:
        dev = Device(q.url, timeout=timeout)
        try:
            dev.wait_ready(timeout=timeout)
            yield q, dev
        finally:
            dev.close()


def run_semihosted_m4(elf: Path, sources: list[Path], includes: list[Path]) -> str:
    """Build bare-metal C for the emulated Cortex-M4F (mps2-an386 startup and linker script, semihosted
    stdout), run it in QEMU and return its stdout; a failed build or a non-zero exit fails the test."""
    import subprocess

    port = ROOT / "firmware" / "ports"
    cmd = [
        "arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
        "-O2", "-g", "-std=c11", "-Wall", "-Wextra", "-Werror", "-DTC_TEST_SEMIHOSTING",
        "-ffunction-sections", "-fdata-sections",
        *(a for inc in [*includes, port / "mps2_an386", port / "cmsdk"] for a in ("-I", str(inc))),
        *map(str, sources), str(port / "cmsdk" / "cortexm_startup.c"),
        "-nostartfiles", "--specs=nano.specs", "--specs=rdimon.specs", "-Wl,--gc-sections",
        "-Wl,--defsym=end=__bss_end", "-T", str(port / "mps2_an386" / "mps2_an386.ld"), "-o", str(elf),
    ]  # fmt: skip
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run(
        ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "null",
         "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout
