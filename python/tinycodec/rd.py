"""Rate-distortion curve arithmetic: PSNR at a given bpp (log-bpp linear) and BD-rate (bjontegaard, pchip)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BdRate:
    """BD-rate of `test` vs `anchor` in percent (negative = test needs fewer bits), or None with a note."""

    anchor: str
    test: str
    percent: float | None
    psnr_interval: tuple[float, float] | None
    anchor_points: int
    note: str


def _sorted_by_rate(bpp: Sequence[float], psnr: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    r, d = np.asarray(bpp, float), np.asarray(psnr, float)
    order = np.argsort(r)
    return r[order], d[order]


def psnr_at(bpp: Sequence[float], psnr: Sequence[float], target: float) -> float | None:
    """PSNR of a curve at `target` bpp, linear in log(bpp) between neighbours; None outside the curve's range."""
    r, d = _sorted_by_rate(bpp, psnr)
    if len(r) == 0 or target <= 0 or not r[0] <= target <= r[-1]:
        return None
    return float(np.interp(math.log(target), np.log(r), d))


def monotone(bpp: Sequence[float], psnr: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by rate, keeping only those that raise PSNR (the curve bjontegaard's pchip needs)."""
    r, d = _sorted_by_rate(bpp, psnr)
    keep_r, keep_d = [], []
    for ri, di in zip(r, d):
        if not keep_d or (di > keep_d[-1] and ri > keep_r[-1]):
            keep_r.append(ri)
            keep_d.append(di)
    return np.array(keep_r), np.array(keep_d)


def _local_anchor(ra: np.ndarray, da: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Anchor points inside the test curve's bpp span [lo, hi] plus the nearest one outside each end."""
    inside = np.flatnonzero((ra >= lo) & (ra <= hi))
    below, above = np.flatnonzero(ra < lo), np.flatnonzero(ra > hi)
    idx = sorted(set(inside.tolist()) | ({below[-1]} if len(below) else set()) | ({above[0]} if len(above) else set()))
    return ra[idx], da[idx]


def bd_rate(
    anchor: str,
    anchor_bpp: Sequence[float],
    anchor_psnr: Sequence[float],
    test: str,
    test_bpp: Sequence[float],
    test_psnr: Sequence[float],
) -> BdRate:
    """BD-rate (pchip) of test vs anchor over the PSNR interval both cover, with the anchor restricted to the
    test's bpp span (plus one neighbour each side). Non-overlap gives percent=None and a note, never an error."""
    import bjontegaard as bd

    rt, dt = monotone(test_bpp, test_psnr)
    ra, da = monotone(anchor_bpp, anchor_psnr)
    if len(rt) < 2:
        return BdRate(
            anchor,
            test,
            None,
            None,
            len(ra),
            f"{test} has fewer than 2 RD points where PSNR rises with bpp (the curve is flat or inverted); "
            "BD-rate undefined",
        )
    ra, da = _local_anchor(ra, da, rt[0], rt[-1])
    if len(ra) < 2:
        return BdRate(anchor, test, None, None, len(ra), f"{anchor} has fewer than 2 points near {test}'s bpp range")
    lo, hi = max(da[0], dt[0]), min(da[-1], dt[-1])
    if hi <= lo:
        return BdRate(
            anchor,
            test,
            None,
            None,
            len(ra),
            f"no PSNR overlap near {rt[0]:.3f}-{rt[-1]:.3f} bpp: {test} spans {dt[0]:.2f}-{dt[-1]:.2f} dB, "
            f"{anchor} {da[0]:.2f}-{da[-1]:.2f} dB; BD-rate undefined",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pct = float(bd.bd_rate(ra, da, rt, dt, method="pchip", require_matching_points=False, min_overlap=0))
    span = max(da[-1], dt[-1]) - min(da[0], dt[0])
    note = f"over {lo:.2f}-{hi:.2f} dB ({100 * (hi - lo) / span:.0f}% of the joint PSNR span)"
    return BdRate(anchor, test, pct, (float(lo), float(hi)), len(ra), note)
