"""Split an image into fixed tiles (edge-replicated padding) and put it back together."""

from __future__ import annotations

import numpy as np


def grid(height: int, width: int, tile: int) -> tuple[int, int]:
    return -(-height // tile), -(-width // tile)


def split(img: np.ndarray, tile: int) -> list[np.ndarray]:
    """HxWx3 uint8 -> row-major list of tile x tile x 3 tiles; the border is padded by replication."""
    h, w = img.shape[:2]
    rows, cols = grid(h, w, tile)
    padded = np.pad(img, ((0, rows * tile - h), (0, cols * tile - w), (0, 0)), mode="edge")
    return [padded[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] for r in range(rows) for c in range(cols)]


def join(tiles: list[np.ndarray], height: int, width: int) -> np.ndarray:
    tile = tiles[0].shape[0]
    rows, cols = grid(height, width, tile)
    if len(tiles) != rows * cols:
        raise ValueError("tile count does not match the image size")
    out = np.empty((rows * tile, cols * tile, tiles[0].shape[2]), tiles[0].dtype)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = t
    return out[:height, :width]
