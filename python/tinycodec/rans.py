"""Byte-wise rANS (32-bit state, ryg_rans layout), the reference for the firmware's C coder.

Stream = 4-byte big-endian final encoder state, then the renormalisation bytes in decode order.
Decoding must end in the initial state with every byte consumed: a built-in integrity check.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

RANS_L = 1 << 23


class RansError(Exception):
    """A stream that is truncated, corrupted or was made with other tables."""


class SymbolTable:
    """Frequencies and cumulative frequencies of one channel. The decoder finds a slot's symbol by bisection of
    `cum` (no 2**precision slot table: 256 KiB per channel, 64 MiB for a codec's tables, would be kept for the
    codec's lifetime)."""

    __slots__ = ("freqs", "cum", "precision")

    def __init__(self, freqs: Sequence[int], precision: int):
        self.precision = precision
        self.freqs = [int(f) for f in freqs]
        self.cum = [0]
        for f in self.freqs:
            self.cum.append(self.cum[-1] + f)
        if self.cum[-1] != 1 << precision or min(self.freqs) < 1:
            raise ValueError("frequencies must be >= 1 and sum to 2**precision")


def encode(symbols: Sequence[int], tables: Sequence[SymbolTable], channel_of: Sequence[int]) -> bytes:
    """symbols[i] is coded with tables[channel_of[i]]."""
    x = RANS_L
    out = bytearray()
    for i in range(len(symbols) - 1, -1, -1):
        t = tables[channel_of[i]]
        s = symbols[i]
        f, start = t.freqs[s], t.cum[s]
        x_max = ((RANS_L >> t.precision) << 8) * f
        while x >= x_max:
            out.append(x & 0xFF)
            x >>= 8
        x = ((x // f) << t.precision) + (x % f) + start
    out += x.to_bytes(4, "little")
    out.reverse()  # bytes were produced last-to-first; the state is first after reversal (big-endian)
    return bytes(out)


def decode(data: bytes, n: int, tables: Sequence[SymbolTable], channel_of: Sequence[int]) -> list[int]:
    if len(data) < 4:
        raise RansError("entropy-coded tile shorter than the 4-byte rANS state")
    x = int.from_bytes(data[:4], "big")
    pos, end = 4, len(data)
    out = [0] * n
    for i in range(n):
        t = tables[channel_of[i]]
        mask = (1 << t.precision) - 1
        slot = x & mask
        s = bisect_right(t.cum, slot) - 1
        out[i] = s
        x = t.freqs[s] * (x >> t.precision) + slot - t.cum[s]
        while x < RANS_L:
            if pos >= end:
                raise RansError("entropy-coded tile is truncated")
            x = (x << 8) | data[pos]
            pos += 1
    if x != RANS_L or pos != end:
        raise RansError("entropy-coded tile is corrupted (final rANS state check failed)")
    return out
