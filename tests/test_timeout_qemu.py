"""Request timeout on the emulated board (firmware/core/tc_frame.c tc_frame_rx_expire, TC_RX_TIMEOUT_MS =
1000 ms of device ticks): a peer that sends half a frame and goes silent does not wedge the receiver - after
the timeout the partial frame is dropped and the next good request is answered normally. Without the gap,
the same half frame is glued to the next request (which is then answered with an error), so the test
also shows the timeout is what makes the difference."""

from __future__ import annotations

import time

import pytest

from fw_helpers import booted_device, firmware_elf
from tinycodec.link.device import Device
from tinycodec.link.framing import pack_frame
from tinycodec.link.protocol import MsgType, parse_info

pytestmark = pytest.mark.qemu


def _reply(dev: Device, timeout: float = 5.0):
    pkt = dev.recv(timeout)
    assert pkt is not None and not isinstance(pkt, Exception), pkt
    return pkt


def test_half_frame_then_silence_does_not_wedge() -> None:
    with booted_device(firmware_elf("qemu_m4_selftest")) as (_, dev):
        half = pack_frame(MsgType.ECHO, 41, b"never finished " * 4)[:30]
        # 1) half a frame, then silence longer than the timeout: dropped, HELLO answered with INFO
        dev.send_raw(half)
        time.sleep(1.6)
        dev.send_raw(pack_frame(MsgType.HELLO, 42))
        pkt = _reply(dev)
        assert pkt.type == MsgType.INFO and pkt.req_id == 42, pkt
        assert parse_info(pkt.body).max_body == 3 * 128 * 128 + 8192
        # 2) control: the same half frame followed at once by the HELLO: one frame, answered with an error
        dev.send_raw(half + pack_frame(MsgType.HELLO, 43))
        pkt = _reply(dev)
        assert pkt.type == MsgType.ERROR, pkt
        # 3) a frame whose bytes trickle in with gaps below the timeout is still served
        frame = pack_frame(MsgType.ECHO, 44, b"slow but alive")
        for i in range(0, len(frame), 8):
            dev.send_raw(frame[i : i + 8])
            time.sleep(0.3)
        pkt = _reply(dev)
        assert pkt.type == MsgType.ECHO_REPLY and pkt.req_id == 44 and pkt.body == b"slow but alive", pkt
        assert dev.echo(b"still alive") == b"still alive"
