"""Arrows point down: the device link (tinycodec.link) needs pyserial only - no TensorFlow, no evaluator, no bench;
errors.py imports none of the modules whose errors it prints; the board table is the Makefile's too."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

LINK = ["tinycodec.link", "tinycodec.link.device", "tinycodec.link.qemu", "tinycodec.link.boards"]


def _modules_after(imports: list[str]) -> set[str]:
    code = "import json, sys\n" + "".join(f"import {m}\n" for m in imports) + "print(json.dumps(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(json.loads(r.stdout))


def test_link_imports_no_tensorflow_and_nothing_above_it() -> None:
    mods = _modules_after(LINK)
    assert not {m for m in mods if m.split(".")[0] in ("tensorflow", "tf_keras", "tflite_micro", "ai_edge_litert")}
    ours = {m for m in mods if m.startswith("tinycodec.")}
    allowed = {"tinycodec.config", "tinycodec.errors", "tinycodec.safeio"}
    assert {m for m in ours if not m.startswith("tinycodec.link")} <= allowed, ours


def test_errors_imports_nothing_of_ours() -> None:
    assert {m for m in _modules_after(["tinycodec.errors"]) if m.startswith("tinycodec")} == {
        "tinycodec",
        "tinycodec.errors",
    }


def test_every_user_error_is_one_line_through_the_base_class() -> None:
    from tinycodec.bench.records import BenchError
    from tinycodec.bitstream import BitstreamError
    from tinycodec.bundle import BundleError
    from tinycodec.data import DataError
    from tinycodec.errors import TinycodecError, known_error_message
    from tinycodec.imageio import ImageError
    from tinycodec.link.device import DeviceError, DeviceTimeout
    from tinycodec.link.protocol import ProtocolError
    from tinycodec.link.qemu import QemuError
    from tinycodec.safeio import FileError

    for cls in (DataError, BundleError, ImageError, BitstreamError, BenchError, QemuError, ProtocolError, FileError):
        assert issubclass(cls, TinycodecError)
        assert known_error_message(cls("first line\nsecond")) == "first line"
    assert known_error_message(DeviceError(6, "boom")) == "device error RUN_FAILED: boom"
    assert known_error_message(DeviceTimeout("no answer")) == "no answer" and issubclass(DeviceTimeout, TimeoutError)
    assert issubclass(QemuError, RuntimeError)
    assert known_error_message(KeyError("x")) is None


def test_make_resolves_boards_from_the_table() -> None:
    """`make ... BOARD=qemu-m55` uses the table's env (link/boards.txt), and the launcher knows the board."""
    from tinycodec.link import boards
    from tinycodec.link.qemu import machine_for

    for b in boards.BOARDS:
        r = subprocess.run(["make", "-n", "-s", "size", f"BOARD={b.name}"], capture_output=True, text=True, cwd=ROOT)
        assert f".pio/build/{b.env}/firmware.elf" in r.stdout, (b.name, r.stdout, r.stderr)
        if b.emulated:
            assert machine_for(b.name) == machine_for(b.env) == b.machine
    r = subprocess.run(["make", "-n", "-s", "size", "BOARD=nope"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "unknown BOARD=nope" in r.stderr and "qemu-m55" in r.stderr
    ini = (ROOT / "platformio.ini").read_text()
    assert all(f"[env:{b.env}]" in ini for b in boards.BOARDS)
