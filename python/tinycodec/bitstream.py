"""The .tcz container: header, per-tile rANS payloads, CRC32. Documented in docs/bitstream.md."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"TCZ"
VERSION = 1
HEADER = struct.Struct("<3sB8sBBHHH")  # magic, version, model id, quality, flags, tile, width, height
MAX_DIM = 16384
MAX_TILE_BYTES = 16384


class BitstreamError(Exception):
    """A .tcz that cannot be decoded: truncated, corrupted, other version or other model."""


@dataclass(frozen=True)
class Header:
    model_id: bytes  # first 8 bytes of the bundle's model hash
    quality: int
    tile: int
    width: int
    height: int

    @property
    def grid(self) -> tuple[int, int]:
        return -(-self.height // self.tile), -(-self.width // self.tile)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pack(header: Header, tiles: list[bytes]) -> bytes:
    if not (1 <= header.width <= MAX_DIM and 1 <= header.height <= MAX_DIM):
        raise BitstreamError(f"image {header.width}x{header.height} exceeds 1..{MAX_DIM}")
    rows, cols = header.grid
    if len(tiles) != rows * cols:
        raise BitstreamError("tile count does not match the image size")
    out = bytearray(
        HEADER.pack(MAGIC, VERSION, header.model_id, header.quality, 0, header.tile, header.width, header.height)
    )
    for t in tiles:
        if len(t) > MAX_TILE_BYTES:
            raise BitstreamError("tile payload too large")
        out += _varint(len(t)) + t
    out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    if len(data) < HEADER.size + 4:
        raise BitstreamError("truncated: shorter than the header")
    magic, version, model_id, quality, flags, tile, width, height = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError("not a tinycodec .tcz stream (bad magic)")
    if version != VERSION:
        raise BitstreamError(f"format version {version} is not supported (this tinycodec reads {VERSION})")
    if flags != 0 or tile == 0 or not (1 <= width <= MAX_DIM and 1 <= height <= MAX_DIM):
        raise BitstreamError("corrupted header")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise BitstreamError("corrupted or truncated (CRC mismatch)")
    header = Header(model_id, quality, tile, width, height)
    rows, cols = header.grid
    pos, end = HEADER.size, len(data) - 4
    tiles = []
    for _ in range(rows * cols):
        n, shift = 0, 0
        while True:
            if pos >= end or shift > 21:
                raise BitstreamError("truncated tile length")
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if n > MAX_TILE_BYTES or pos + n > end:
            raise BitstreamError("truncated tile payload")
        tiles.append(data[pos : pos + n])
        pos += n
    if pos != end:
        raise BitstreamError("trailing bytes after the last tile")
    return header, tiles
