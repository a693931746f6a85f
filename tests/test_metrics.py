"""Image metrics: the tile-seam split of PSNR."""

import numpy as np
import pytest

from tinycodec.metrics import psnr, seam_psnr


def test_seam_psnr_separates_edge_band_from_interior():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (256, 384, 3), dtype=np.uint8)
    b = a.copy()
    # damage only the 2-px band on each side of the internal tile edges (x = 128, 256; y = 128)
    noisy = a.astype(np.int16) + rng.integers(-20, 21, a.shape)
    for e in (128, 256):
        b[:, e - 2 : e + 2] = np.clip(noisy[:, e - 2 : e + 2], 0, 255)
    b[126:130] = np.clip(noisy[126:130], 0, 255)
    r = seam_psnr(a, b, tile=128)
    assert r["inner_psnr"] == float("inf")  # nothing away from the edges changed
    assert r["edge_psnr"] < 40 and r["delta_db"] == float("-inf")
    # band of 4 px each side of 2 vertical + 1 horizontal internal edges, image borders excluded
    want = 1 - (1 - 16 / 384) * (1 - 8 / 256)
    assert r["edge_fraction"] == pytest.approx(want)


def test_seam_psnr_of_uniform_noise_is_flat_and_matches_psnr():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    b = np.clip(a.astype(np.int16) + rng.integers(-5, 6, a.shape), 0, 255).astype(np.uint8)
    r = seam_psnr(a, b, tile=64)
    assert abs(r["delta_db"]) < 0.3
    assert min(r["edge_psnr"], r["inner_psnr"]) <= psnr(a, b) <= max(r["edge_psnr"], r["inner_psnr"])
    assert seam_psnr(a, b, tile=128)["edge_psnr"] is None  # one tile: no seams
