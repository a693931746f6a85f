"""Wire framing of the device link: COBS(packet) + b"\\x00", packet = header + body + CRC32.

header = u8 version, u8 type, u16 req_id, u32 body_len (little-endian); CRC32 = zlib.crc32 over
header + body, little-endian. See docs/protocol.md.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

PROTO_VERSION = 1
HEADER = struct.Struct("<BBHI")
HEADER_BYTES = HEADER.size
CRC_BYTES = 4
DELIMITER = b"\x00"


class FramingError(Exception):
    """A frame could not be decoded (the stream resynchronises at the next 0x00)."""


class CobsError(FramingError):
    """Invalid COBS encoding (zero byte inside, truncated block)."""


class ShortPacketError(FramingError):
    """Decoded packet shorter than header + CRC."""


class CrcError(FramingError):
    """CRC32 mismatch."""


class LengthError(FramingError):
    """body_len in the header disagrees with the frame, or exceeds the limit."""


class VersionError(FramingError):
    """Unsupported protocol version in the header."""


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode data (no delimiter). Same block rule as the firmware (tc_cobs.c)."""
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS-encoded frame (without its 0x00 delimiter)."""
    out = bytearray()
    i, n = 0, len(data)
    if n == 0:
        raise CobsError("empty COBS frame")
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f"zero byte at offset {i}")
        end = i + code
        if end > n:
            raise CobsError(f"block at offset {i} truncated ({code - 1} bytes needed, {n - i - 1} left)")
        chunk = data[i + 1 : end]
        if 0 in chunk:
            raise CobsError("zero byte inside a block")
        out += chunk
        i = end
        if code != 255 and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Packet:
    type: int
    req_id: int
    body: bytes
    version: int = PROTO_VERSION


def pack_packet(type_: int, req_id: int, body: bytes = b"", version: int = PROTO_VERSION) -> bytes:
    """header + body + CRC32 (not yet COBS-encoded)."""
    raw = HEADER.pack(version, type_, req_id & 0xFFFF, len(body)) + bytes(body)
    return raw + struct.pack("<I", zlib.crc32(raw))


def pack_frame(type_: int, req_id: int, body: bytes = b"", version: int = PROTO_VERSION) -> bytes:
    """A complete wire frame: COBS(packet) + 0x00."""
    return cobs_encode(pack_packet(type_, req_id, body, version)) + DELIMITER


def parse_packet(packet: bytes, max_body: int | None = None) -> Packet:
    """Validate a decoded packet (CRC, version, length) and split it."""
    if len(packet) < HEADER_BYTES + CRC_BYTES:
        raise ShortPacketError(f"packet of {len(packet)} bytes, need >= {HEADER_BYTES + CRC_BYTES}")
    (crc,) = struct.unpack_from("<I", packet, len(packet) - CRC_BYTES)
    if zlib.crc32(packet[:-CRC_BYTES]) != crc:
        raise CrcError("CRC32 mismatch")
    version, type_, req_id, body_len = HEADER.unpack_from(packet)
    if version != PROTO_VERSION:
        raise VersionError(f"protocol version {version}, expected {PROTO_VERSION}")
    if max_body is not None and body_len > max_body:
        raise LengthError(f"body_len {body_len} > max_body {max_body}")
    if body_len != len(packet) - HEADER_BYTES - CRC_BYTES:
        raise LengthError(f"body_len {body_len} but frame carries {len(packet) - HEADER_BYTES - CRC_BYTES}")
    return Packet(type_, req_id, bytes(packet[HEADER_BYTES:-CRC_BYTES]), version)


def unpack_frame(frame: bytes, max_body: int | None = None) -> Packet:
    """Decode one frame, with or without its trailing 0x00."""
    if frame.endswith(DELIMITER):
        frame = frame[:-1]
    return parse_packet(cobs_decode(frame), max_body)


class FrameDecoder:
    """Streaming decoder: feed() arbitrary chunks, get Packets or FramingErrors (never raised),
    in order. A bad frame never affects the next one: decoding restarts at every 0x00."""

    def __init__(self, max_body: int | None = None, max_frame: int | None = None) -> None:
        self.max_body = max_body
        if max_frame is None and max_body is not None:
            n = HEADER_BYTES + max_body + CRC_BYTES
            max_frame = n + n // 254 + 1
        self.max_frame = max_frame
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> Iterator[Packet | FramingError]:
        start = 0
        while True:
            end = data.find(0, start)
            if end < 0:
                self._append(data[start:])
                return
            self._append(data[start:end])
            start = end + 1
            frame, overflow = bytes(self._buf), self._overflow
            self._buf.clear()
            self._overflow = False
            if overflow:
                yield LengthError(f"frame longer than {self.max_frame} bytes")
            elif frame:
                try:
                    yield unpack_frame(frame, self.max_body)
                except FramingError as e:
                    yield e

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            return
        self._buf += chunk
        if self.max_frame is not None and len(self._buf) > self.max_frame:
            self._overflow = True
            self._buf.clear()
