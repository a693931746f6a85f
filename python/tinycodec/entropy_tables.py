"""Integer CDF tables for the factorized entropy model (the only thing the coders share)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChannelTable:
    offset: int  # symbol value of the first entry (values are clipped to [offset, offset+len-1])
    freqs: tuple[int, ...]  # sum == 1 << precision, every entry >= 1


@dataclass(frozen=True)
class EntropyTables:
    precision: int
    channels: tuple[ChannelTable, ...]

    def to_json(self) -> dict:
        return {
            "precision": self.precision,
            "channels": [{"offset": c.offset, "freqs": list(c.freqs)} for c in self.channels],
        }

    @staticmethod
    def from_json(d: dict) -> EntropyTables:
        t = EntropyTables(
            int(d["precision"]),
            tuple(ChannelTable(int(c["offset"]), tuple(int(f) for f in c["freqs"])) for c in d["channels"]),
        )
        t.validate()
        return t

    def validate(self) -> None:
        if not 8 <= self.precision <= 16:
            raise ValueError(f"CDF precision {self.precision} out of range 8..16")
        for i, c in enumerate(self.channels):
            if sum(c.freqs) != 1 << self.precision or min(c.freqs) < 1 or len(c.freqs) > 256:
                raise ValueError(f"entropy table of channel {i} is invalid")
            if c.offset < -128 or c.offset + len(c.freqs) - 1 > 127:
                raise ValueError(f"entropy table of channel {i} exceeds the int8 range")


def quantize_pmf(pmf: np.ndarray, precision: int) -> tuple[int, ...]:
    """Float pmf -> integer frequencies summing to 2**precision, each >= 1 (deterministic)."""
    total = 1 << precision
    pmf = np.maximum(np.asarray(pmf, np.float64), 0)
    pmf = pmf / pmf.sum()
    freqs = np.maximum(1, np.round(pmf * total).astype(np.int64))
    diff = total - int(freqs.sum())
    order = np.argsort(-freqs, kind="stable")
    i = 0
    while diff != 0:
        j = order[i % len(order)]
        if diff > 0:
            freqs[j] += 1
            diff -= 1
        elif freqs[j] > 1:
            freqs[j] -= 1
            diff += 1
        i += 1
    return tuple(int(f) for f in freqs)


def tables_from_cdf(cdf_fn, channels: int, precision: int, tail_mass: float) -> EntropyTables:
    """cdf_fn(lo, hi) -> float CDF at lo-.5 .. hi+.5, shape [channels, hi-lo+2]."""
    lo, hi = -128, 127
    cdf = cdf_fn(lo, hi)
    out = []
    for c in range(channels):
        v = cdf[c]
        # keep symbols whose cumulative tails outside the support are below tail_mass
        first = int(np.searchsorted(v, tail_mass / 2, side="right")) - 1
        last = int(np.searchsorted(v, 1 - tail_mass / 2, side="left"))
        first = max(0, min(first, 255))
        last = max(first + 1, min(last, 256))
        pmf = np.diff(v[first : last + 1])
        pmf[0] += v[first]  # clipped tails are coded as the end symbols
        pmf[-1] += 1 - v[last]
        out.append(ChannelTable(lo + first, quantize_pmf(pmf, precision)))
    t = EntropyTables(precision, tuple(out))
    t.validate()
    return t
