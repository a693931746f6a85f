"""The transport's retry logic against the real firmware in QEMU, through the fault-injecting proxy
(tests/tools/faultproxy.py): lost, flipped, duplicated and delayed bytes, stale replies, a board that reboots, a
link that is dead. Env qemu_m4_selftest (TEST-ONLY backend: models "negate", "sum4")."""

from __future__ import annotations

import os
import threading
import time

import pytest

from fw_helpers import firmware_elf
from tinycodec.link.device import Device, DeviceError, DeviceTimeout
from tinycodec.link.protocol import ErrorCode
from tinycodec.link.qemu import QemuBoard
from tools.faultproxy import FaultProxy

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def elf():
    return firmware_elf("qemu_m4_selftest")


@pytest.fixture
def board(elf):
    with QemuBoard(elf) as q:
        yield q


def test_clean_proxy_happy_path_and_hello_fallback(board) -> None:
    with FaultProxy(("127.0.0.1", board.port)) as px:
        with Device(px.url, timeout=5) as dev:
            info = dev.wait_ready(10)
            assert dev.boots == 1 and dev.reboots == 0 and info.board == "mps2-an386"
            assert dev.echo(b"a\x00b") == b"a\x00b"
            r = dev.run(0, bytes(range(1, 101)) + bytes(64 * 64 * 3 - 100))  # "negate"
            assert r.output[:3] == bytes([255, 254, 253]) and r.ticks > 0 and r.tick_hz == 25_000_000
        # a second host on the running board: no boot INFO, wait_ready falls back to HELLO
        with Device(px.url, timeout=5) as dev:
            assert dev.wait_ready(0.5) == info and dev.boots == 0


def test_faults_give_identical_results_only_retries_differ(board) -> None:
    payloads = [os.urandom(100 + 10 * i) for i in range(40)]
    with FaultProxy(("127.0.0.1", board.port), drop=2e-4, flip=2e-4, dup=2e-4, delay_ms=3, seed=7) as px:
        with Device(px.url, timeout=5, retries=10, adaptive_timeout=True) as dev:
            dev.wait_ready(5)
            for p in payloads:
                assert dev.echo(p) == p
            c = px.counts
            faults = sum(d["dropped"] + d["flipped"] + d["duplicated"] for d in c.values())
            assert faults > 5, c
            assert dev.stats["retries"] > 0, dev.stats


def test_stale_reply_is_discarded(board) -> None:
    with Device(board.url, timeout=5, retries=0) as dev:
        dev.wait_ready(10)
        with pytest.raises(DeviceTimeout):
            dev.run(0, bytes(64 * 64 * 3), timeout=0.01)  # the reply comes, but late
        assert dev.echo(b"next") == b"next"  # the late RUN_RESULT (other req_id) is skipped
        assert dev.stats["stale"] == 1


def test_late_reply_to_an_earlier_attempt_is_accepted(board) -> None:
    """Re-sending is idempotent: the reply to attempt 1 answers the request even after attempt 2 was sent."""
    with Device(board.url, timeout=0.05, retries=8, backoff=0.2) as dev:  # ~11 s of re-sends: enough under load
        dev.wait_ready(10)
        r = dev.run(0, bytes([1]) * (64 * 64 * 3), timeout=0.05)
        assert r.output == bytes([255]) * (64 * 64 * 3)
        assert dev.stats["retries"] >= 1
        dev.timeout = 5
        time.sleep(1.0)
        assert dev.echo(b"after") == b"after"  # the duplicates' replies are stale now


def test_gives_up_then_typed_errors(board) -> None:
    with FaultProxy(("127.0.0.1", board.port), drop=1.0) as px, Device(px.url, timeout=0.2, retries=2) as dev:
        with pytest.raises(DeviceTimeout, match="3 attempts"):
            dev.echo(b"x")
        assert dev.stats["retries"] == 2
    with Device(board.url, timeout=5) as dev:
        dev.wait_ready(0.5)
        with pytest.raises(DeviceError) as e:
            dev.run(7, bytes(4))
        assert e.value.code == ErrorCode.BAD_MODEL
        assert dev.echo(b"ok") == b"ok"


def test_reboot_mid_request_is_detected_and_retried(elf) -> None:
    """The board goes away and a fresh one boots behind the same link (the proxy reconnects, like a USB-serial
    adapter): the unsolicited boot INFO is counted as a reboot and the request in flight is sent again."""
    a = QemuBoard(elf).start()
    b = QemuBoard(elf)
    seen = []
    try:
        with FaultProxy(("127.0.0.1", a.port), reconnect=True) as px:
            with Device(px.url, timeout=3, retries=4, on_reboot=seen.append) as dev:
                dev.wait_ready(10)
                assert dev.echo(b"before") == b"before"
                a.close()  # power off

                def power_on() -> None:
                    time.sleep(0.5)
                    b.start()
                    px.retarget(("127.0.0.1", b.port))

                t = threading.Thread(target=power_on)
                t.start()
                assert dev.echo(b"during") == b"during"
                t.join()
                assert dev.reboots == 1 and len(seen) == 1 and seen[0].board == "mps2-an386"
                assert px.reconnects >= 1  # more if a port probe of the new board was refused on the way
    finally:
        a.close()
        b.close()
