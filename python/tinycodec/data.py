"""Image data: verified folders, loading, train/val pipelines. Kodak is test data only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import TinycodecError


class DataError(TinycodecError):
    """A data folder is missing, incomplete or corrupted."""


FIX_HINT = "the data folder must be ../shared/data/<name> as shipped (see shared/data/README.md)"


def verify_folder(folder: Path) -> list[Path]:
    """Check every file against the folder's SHA256SUMS and return the image paths, sorted."""
    sums = folder / "SHA256SUMS"
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder; {FIX_HINT}")
    if not sums.is_file():
        raise DataError(f"{folder}: SHA256SUMS missing; {FIX_HINT}")
    paths = []
    for line in sums.read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        path = folder / name.lstrip("*")
        if not path.is_file():
            raise DataError(f"{path}: listed in SHA256SUMS but missing; {FIX_HINT}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise DataError(f"{path}: SHA-256 mismatch (corrupted file); {FIX_HINT}")
        if path.suffix.lower() == ".png":
            paths.append(path)
    if not paths:
        raise DataError(f"{folder}: no images listed in SHA256SUMS; {FIX_HINT}")
    return sorted(paths)


def load_rgb(path: Path) -> np.ndarray:
    """Load an image as uint8 HxWx3."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_folder(folder: Path, limit: int | None = None) -> list[np.ndarray]:
    paths = verify_folder(folder)
    if limit is not None:
        paths = paths[:limit]
    return [load_rgb(p) for p in paths]
