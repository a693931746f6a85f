"""Image quality on 8-bit RGB: PSNR and SSIM (scikit-image), bpp from real bytes."""

from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    win = min(7, min(a.shape[:2]) // 2 * 2 + 1 if min(a.shape[:2]) < 7 else 7)
    return float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=win))


def bpp(n_bytes: int, height: int, width: int) -> float:
    return 8.0 * n_bytes / (height * width)
