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
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "python") not in sys.path:
    sys.path.insert(0, str(ROOT / "python"))

from tinycodec.host.qemu import QemuBoard, QemuError, build_firmware  # noqa: E402
from tinycodec.host.transport import Device  # noqa: E402


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
