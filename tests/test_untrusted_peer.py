"""The host side of the serial link treats the device as untrusted (docs/security.md): whatever bytes arrive,
the host's frame decoder and reply parsers raise only FramingError / ProtocolError, buffer at most
MAX_FRAME_BYTES, and a malformed boot INFO is a garbled frame, not a crash."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from tinycodec.link import protocol
from tinycodec.link.device import MAX_FRAME_BYTES, Device
from tinycodec.link.framing import FrameDecoder, FramingError, LengthError, pack_frame
from tinycodec.link.protocol import ProtocolError

PARSERS = [
    protocol.parse_info,
    protocol.parse_error,
    protocol.parse_run_result,
    protocol.parse_encode_result,
    protocol.parse_decode_result,
]


class FakePort:
    """A pyserial-like object that yields the given chunks, then silence."""

    timeout = 0.05

    def __init__(self, chunks: list[bytes]):
        self.chunks = list(chunks)

    def read(self, n: int = 1) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_frame_decoder_any_bytes(chunks: list[bytes]) -> None:
    dec = FrameDecoder(max_frame=256)
    for c in chunks:
        for item in dec.feed(c):
            assert not isinstance(item, Exception) or isinstance(item, FramingError)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_reply_parsers_any_body(body: bytes) -> None:
    for parse in PARSERS:
        try:
            parse(body)
        except ProtocolError:
            pass


def test_endless_frame_is_bounded() -> None:
    """A peer that never sends 0x00: the host keeps at most MAX_FRAME_BYTES, then reports one LengthError."""
    tracemalloc.start()
    try:
        dev = Device(port=FakePort([b"\x55" * 65536] * 64 + [b"\x00"]), timeout=2)
        item = dev.recv(2.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(item, LengthError), item
    assert peak < 3 * MAX_FRAME_BYTES, peak


def test_malformed_boot_info_is_garbled_not_a_crash() -> None:
    dev = Device(port=FakePort([pack_frame(0x81, 0, b"\x01\x00")]), timeout=2)
    item = dev.recv(1.0)
    assert isinstance(item, FramingError) and "boot INFO" in str(item)
    assert dev.boots == 0
