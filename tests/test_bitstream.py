"""The .tcz container: round trip, and every kind of damage gives BitstreamError (never a crash)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycodec import bitstream
from tinycodec.bitstream import BitstreamError, Header


def _sample(width=130, height=70, tile=64):
    h = Header(b"\x01\x02\x03\x04\x05\x06\x07\x08", 2, tile, width, height)
    rows, cols = h.grid
    tiles = [bytes([i]) * (i % 300 + 4) for i in range(rows * cols)]
    return h, tiles


@settings(max_examples=50, deadline=None)
@given(w=st.integers(1, 700), h=st.integers(1, 700), q=st.integers(1, 255))
def test_round_trip(w, h, q):
    hdr = Header(b"abcdefgh", q, 64, w, h)
    rows, cols = hdr.grid
    tiles = [bytes([i % 256]) * (i % 200) for i in range(rows * cols)]
    assert bitstream.unpack(bitstream.pack(hdr, tiles)) == (hdr, tiles)


def test_truncation_anywhere_is_an_error():
    data = bitstream.pack(*_sample())
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.unpack(data[:cut])


def test_every_single_byte_flip_is_detected():
    data = bitstream.pack(*_sample())
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x40
        with pytest.raises(BitstreamError):
            bitstream.unpack(bytes(bad))


def test_other_version_and_magic():
    data = bytearray(bitstream.pack(*_sample()))
    data[3] = 9
    with pytest.raises(BitstreamError, match="version 9"):
        bitstream.unpack(bytes(data))
    with pytest.raises(BitstreamError, match="magic"):
        bitstream.unpack(b"PNG" + bytes(data[3:]))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_crashes(blob):
    try:
        bitstream.unpack(blob)
    except BitstreamError:
        pass


def test_limits():
    with pytest.raises(BitstreamError):
        bitstream.pack(Header(b"12345678", 1, 64, 20000, 10), [b""] * (313 * 1))
