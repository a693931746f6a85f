"""Image quality on 8-bit RGB: PSNR and SSIM (scikit-image), bpp from real bytes."""

from __future__ import annotations

import numpy as np

PSNR_CAP = 100.0  # identical images have infinite PSNR; JSON cannot hold it (reports cap it here)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    win = min(7, min(a.shape[:2]) // 2 * 2 + 1 if min(a.shape[:2]) < 7 else 7)
    return float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=win))


def bpp(n_bytes: int, height: int, width: int) -> float:
    return 8.0 * n_bytes / (height * width)


def _edge_distance(n: int, tile: int) -> np.ndarray:
    """Per row (or column) of an image n px long cut into tiles: px to the nearest *internal* tile edge."""
    i = np.arange(n)
    r = i % tile
    up = np.where(i >= tile, r, np.iinfo(np.int32).max)
    down = np.where((i // tile + 1) * tile < n, tile - 1 - r, np.iinfo(np.int32).max)
    return np.minimum(up, down)


def seam_masks(h: int, w: int, tile: int, band: int = 4, inner: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(edge, inner) boolean masks of an h x w image cut into tiles: pixels within `band` px of an internal tile
    edge, and pixels at least `inner` px from every internal edge (image borders are not seams)."""
    d = np.minimum(_edge_distance(h, tile)[:, None], _edge_distance(w, tile)[None, :])
    return d < band, d >= inner


def seam_psnr(a: np.ndarray, b: np.ndarray, tile: int, band: int = 4, inner: int = 8) -> dict:
    """Tile seams: PSNR of the pixels within `band` px of an internal tile edge vs those at least `inner` px
    from every internal edge. delta_db < 0: the edges are worse."""
    edge_m, inner_m = seam_masks(a.shape[0], a.shape[1], tile, band, inner)
    err = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2, axis=2)

    def p(mask):
        if not mask.any():
            return None
        mse = float(err[mask].mean())
        return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)

    edge, mid = p(edge_m), p(inner_m)
    return {
        "edge_psnr": edge,
        "inner_psnr": mid,
        "edge_fraction": float(edge_m.mean()),
        "delta_db": None if edge is None or mid is None else edge - mid,
    }
