"""C unit tests of the portable firmware core, built for the host with ASan + UBSan."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "firmware" / "core"
SOURCES = [ROOT / "firmware" / "test_host" / "test_core.c"] + [
    CORE / f for f in ("tc_cobs.c", "tc_crc32.c", "tc_frame.c")
]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")
def test_core_c_sanitized(tmp_path: Path) -> None:
    exe = tmp_path / "test_core"
    cmd = [
        "gcc",
        "-std=c11",
        "-O1",
        "-g",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer",
        "-I",
        str(CORE),
        "-o",
        str(exe),
        *map(str, SOURCES),
    ]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ", 0 failed" in run.stdout
