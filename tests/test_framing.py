"""Property tests of the host framing (COBS, CRC, streaming decoder and its recovery)."""

from __future__ import annotations

import struct
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from tinycodec.host.framing import (  # noqa: E402
    CobsError,
    CrcError,
    FrameDecoder,
    FramingError,
    LengthError,
    Packet,
    ShortPacketError,
    cobs_decode,
    cobs_encode,
    pack_frame,
    pack_packet,
    unpack_frame,
)
from tinycodec.host.protocol import ErrorCode, Info, ModelInfo, MsgType, pack_error_body, pack_info
from tinycodec.host.transport import Device, DeviceError, DeviceTimeout

bodies = st.binary(max_size=2000)
ids = st.integers(0, 0xFFFF)
types = st.integers(0, 255)


@given(st.binary(max_size=3000))
def test_cobs_roundtrip(data: bytes) -> None:
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert cobs_decode(enc) == data


def test_cobs_known_vectors() -> None:
    assert cobs_encode(b"") == b"\x01"
    assert cobs_encode(b"\x00") == b"\x01\x01"
    assert cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255)) + b"\x01"


@given(types, ids, bodies)
def test_frame_roundtrip(t: int, rid: int, body: bytes) -> None:
    frame = pack_frame(t, rid, body)
    assert frame.endswith(b"\x00") and 0 not in frame[:-1]
    assert unpack_frame(frame) == Packet(t, rid, body)


@given(ids, st.binary(min_size=0, max_size=300), st.data())
def test_single_bit_flip_detected(rid: int, body: bytes, data: st.DataObject) -> None:
    pkt = bytearray(pack_packet(0x02, rid, body))
    bit = data.draw(st.integers(0, len(pkt) * 8 - 1))
    pkt[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FramingError):
        unpack_frame(cobs_encode(bytes(pkt)))


@given(ids, st.binary(min_size=1, max_size=300), st.data())
def test_truncated_frame_detected(rid: int, body: bytes, data: st.DataObject) -> None:
    frame = pack_frame(0x02, rid, body)[:-1]
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(FramingError):
        unpack_frame(frame[:cut])


def test_typed_errors() -> None:
    with pytest.raises(CobsError):
        cobs_decode(b"\x05ab")
    with pytest.raises(ShortPacketError):
        unpack_frame(cobs_encode(b"abc"))
    pkt = bytearray(pack_packet(1, 2, b"xyz"))
    pkt[-1] ^= 1
    with pytest.raises(CrcError):
        unpack_frame(cobs_encode(bytes(pkt)))
    with pytest.raises(LengthError):
        unpack_frame(pack_frame(1, 2, bytes(100)), max_body=99)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(types, ids, st.binary(max_size=400)), min_size=1, max_size=6),
    st.lists(st.sampled_from(["flip", "truncate", "garbage", "oversize", "none"]), min_size=6, max_size=6),
    st.binary(min_size=1, max_size=50),
    st.integers(1, 64),
)
def test_decoder_recovers(frames, damage, garbage: bytes, chunk: int) -> None:
    """Damaged frames give typed errors; every intact frame after them still decodes."""
    max_body = 300
    stream = bytearray()
    expected: list[Packet | type] = []
    for (t, rid, body), how in zip(frames, damage, strict=False):
        frame = bytearray(pack_frame(t, rid, body))
        if how == "flip":
            frame[len(frame) // 2] ^= 0x01 if frame[len(frame) // 2] != 0x01 else 0x03
            expected.append(FramingError)
        elif how == "truncate":
            frame = frame[: len(frame) // 2] + b"\x00"
            expected.append(FramingError)
        elif how == "garbage":
            stream += garbage.replace(b"\x00", b"\x07") + b"\x00"
            expected.append(FramingError)
            expected.append(Packet(t, rid, body) if len(body) <= max_body else LengthError)
        elif how == "oversize":
            frame = bytearray(pack_frame(t, rid, bytes(range(1, 256)) * 5))
            expected.append(LengthError)
        else:
            expected.append(Packet(t, rid, body) if len(body) <= max_body else LengthError)
        stream += frame
    dec = FrameDecoder(max_body=max_body)
    got: list[Packet | FramingError] = []
    for i in range(0, len(stream), chunk):
        got.extend(dec.feed(bytes(stream[i : i + chunk])))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, Packet):
            assert g == e
        else:
            assert isinstance(g, e), (g, e)


# --- the transport against a simulated device (no QEMU) ----------------------------------------


SIM_INFO = Info(
    1, 25_000_000, 0, 16448, bytes(32), "sim", "sim-board", "sim", (ModelInfo("neg", (2, 2, 1), (2, 2, 1)),)
)


class SimPort:
    """A pyserial-like port wired to a Python device model. `faults` is a list of actions applied
    to successive requests: "drop" (no reply), "garble" (flip a reply bit), "crc" (device reports
    BAD_CRC), "reboot" (send a boot INFO instead of the reply)."""

    def __init__(self, faults: list[str] | None = None, boot: bool = True) -> None:
        self.timeout = 0.01
        self.faults = list(faults or [])
        self._out = bytearray()
        self._cv = threading.Condition()
        self._dec = FrameDecoder()
        if boot:
            self._out += pack_frame(MsgType.INFO, 0, pack_info(SIM_INFO))

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def read(self, n: int = 1) -> bytes:
        with self._cv:
            if not self._out:
                self._cv.wait(self.timeout)
            data = bytes(self._out[:n])
            del self._out[:n]
            return data

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write(self, data: bytes) -> int:
        for pkt in self._dec.feed(data):
            assert isinstance(pkt, Packet)
            self._reply(pkt)
        return len(data)

    def _reply(self, pkt: Packet) -> None:
        fault = self.faults.pop(0) if self.faults else None
        if pkt.type == MsgType.HELLO:
            frame = pack_frame(MsgType.INFO, pkt.req_id, pack_info(SIM_INFO))
        elif pkt.type == MsgType.ECHO:
            frame = pack_frame(MsgType.ECHO_REPLY, pkt.req_id, pkt.body)
        elif pkt.type == MsgType.RUN and pkt.body[0] != 0:
            frame = pack_frame(MsgType.ERROR, pkt.req_id, pack_error_body(ErrorCode.BAD_MODEL, "no"))
        elif pkt.type == MsgType.RUN:
            out = bytes((-b) & 0xFF for b in pkt.body[4:])
            frame = pack_frame(MsgType.RUN_RESULT, pkt.req_id, struct.pack("<Q", 42) + out)
        else:
            frame = pack_frame(MsgType.ERROR, pkt.req_id, pack_error_body(ErrorCode.UNKNOWN_TYPE, "?"))
        if fault == "drop":
            return
        if fault == "garble":
            frame = bytearray(frame)
            frame[3] ^= 0x40 if frame[3] != 0x40 else 0x41
        if fault == "crc":
            frame = pack_frame(MsgType.ERROR, pkt.req_id, pack_error_body(ErrorCode.BAD_CRC, "crc"))
        if fault == "reboot":
            frame = pack_frame(MsgType.INFO, 0, pack_info(SIM_INFO))
        with self._cv:
            self._out += frame
            self._cv.notify_all()


def test_transport_happy_path() -> None:
    dev = Device(port=SimPort(), timeout=0.3)
    assert dev.wait_ready(1.0) == SIM_INFO and dev.boots == 1 and dev.reboots == 0
    assert dev.echo(b"a\x00b") == b"a\x00b"
    r = dev.run(0, bytes([1, 2, 3, 4]))
    assert r.ticks == 42 and r.output == bytes([255, 254, 253, 252]) and r.tick_hz == 25_000_000


def test_transport_wait_ready_falls_back_to_hello() -> None:
    dev = Device(port=SimPort(boot=False), timeout=0.3)
    assert dev.wait_ready(0.1) == SIM_INFO and dev.boots == 0


@pytest.mark.parametrize("fault", ["drop", "garble", "crc", "reboot"])
def test_transport_retries(fault: str) -> None:
    reboots: list[Info] = []
    dev = Device(port=SimPort([fault]), timeout=0.2, retries=2, on_reboot=reboots.append)
    dev.wait_ready(1.0)
    assert dev.echo(b"payload") == b"payload"
    assert dev.stats["retries"] == 1
    assert dev.reboots == (1 if fault == "reboot" else 0) and len(reboots) == dev.reboots


def test_transport_gives_up_and_raises_typed_errors() -> None:
    dev = Device(port=SimPort(["drop"] * 3), timeout=0.1, retries=2)
    dev.wait_ready(1.0)
    with pytest.raises(DeviceTimeout):
        dev.echo(b"x")
    with pytest.raises(DeviceError) as e:
        dev.run(3, bytes(4))
    assert e.value.code == ErrorCode.BAD_MODEL
    assert dev.echo(b"ok") == b"ok"
