"""Property tests of the host framing (COBS, CRC, streaming decoder and its recovery)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycodec.link.framing import (  # noqa: E402
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


# The transport's retries are tested against the real firmware in QEMU through the fault-injecting proxy:
# tests/test_transport_qemu.py (no simulated device).
