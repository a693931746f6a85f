"""The .tcz container: header, per-tile rANS payloads, CRC32. Documented in docs/bitstream.md."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import TinycodecError

MAGIC = b"TCZ"
VERSION = 1
HEADER = struct.Struct("<3sB8sBBHHH")  # magic, version, model id, quality, flags, tile, width, height
MAX_DIM = 16384
MAX_TILE_BYTES = 16384
# Resource bounds of a reader (docs/security.md): a header can claim 16384 x 16384 pixels, but decoding
# never allocates more than MAX_PIXELS * 3 bytes of image (192 MiB) nor more than MAX_TILES tiles, and a
# file is never read past the largest size its header allows.
MAX_PIXELS = 1 << 26  # 67 108 864 = 8192 x 8192
MAX_TILES = 1 << 16


class BitstreamError(TinycodecError):
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


def check_limits(header: Header) -> None:
    """The reader's resource bounds; raises BitstreamError naming the limit."""
    w, h = header.width, header.height
    if not (1 <= w <= MAX_DIM and 1 <= h <= MAX_DIM):
        raise BitstreamError(f"image {w}x{h} exceeds 1..{MAX_DIM}")
    if w * h > MAX_PIXELS:
        raise BitstreamError(f"image {w}x{h} exceeds the {MAX_PIXELS}-pixel limit (8192x8192)")
    rows, cols = header.grid
    if rows * cols > MAX_TILES:
        raise BitstreamError(f"{rows * cols} tiles of {header.tile} px exceed the {MAX_TILES}-tile limit")


def max_stream_bytes(header: Header) -> int:
    """The largest valid .tcz for this header: every tile at MAX_TILE_BYTES."""
    rows, cols = header.grid
    return HEADER.size + rows * cols * (len(_varint(MAX_TILE_BYTES)) + MAX_TILE_BYTES) + 4


def pack(header: Header, tiles: list[bytes]) -> bytes:
    if header.tile < 1:
        raise BitstreamError("tile size must be >= 1")
    check_limits(header)
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


def parse_header(data: bytes) -> Header:
    """The 20-byte header, checked (magic, version, flags, tile, dimensions, resource limits)."""
    if len(data) < HEADER.size:
        raise BitstreamError("truncated: shorter than the header")
    magic, version, model_id, quality, flags, tile, width, height = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError("not a tinycodec .tcz stream (bad magic)")
    if version != VERSION:
        raise BitstreamError(f"format version {version} is not supported (this tinycodec reads {VERSION})")
    if flags != 0 or tile == 0 or not (1 <= width <= MAX_DIM and 1 <= height <= MAX_DIM):
        raise BitstreamError("corrupted header")
    header = Header(model_id, quality, tile, width, height)
    check_limits(header)
    return header


def read(path) -> bytes:
    """Read a .tcz file, refusing (before reading it) one larger than its header allows, and anything that is not
    a regular file (safeio.FileError: a FIFO or a device would block)."""
    from .safeio import open_input

    with open_input(path, "a .tcz file") as f:
        header = parse_header(f.read(HEADER.size))
        f.seek(0, 2)
        size = f.tell()
        if size > max_stream_bytes(header):
            raise BitstreamError(f"{size} bytes is more than a {header.width}x{header.height} .tcz can hold")
        f.seek(0)
        return f.read(size)


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    if len(data) < HEADER.size + 4:
        raise BitstreamError("truncated: shorter than the header")
    header = parse_header(data)
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise BitstreamError("corrupted or truncated (CRC mismatch)")
    rows, cols = header.grid
    pos, end = HEADER.size, len(data) - 4
    if rows * cols > end - pos:  # every tile takes at least its 1-byte length
        raise BitstreamError(f"truncated: {rows * cols} tiles cannot fit in {end - pos} bytes")
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
