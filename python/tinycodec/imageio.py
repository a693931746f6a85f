"""Reading user images with clear one-line errors; conversions to 8-bit RGB are reported. The images of a folder
(`find_images`: verified against SHA256SUMS when it has one), for eval and bench."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .bitstream import MAX_DIM, MAX_PIXELS  # what a .tcz can hold and a reader accepts (docs/security.md)
from .data import DataError, verify_folder
from .errors import TinycodecError
from .safeio import FileError, atomic_open, open_input

# Largest image file read (docs/security.md): an 8192 x 8192 16-bit RGBA TIFF, uncompressed, is 512 MiB.
MAX_IMAGE_FILE_BYTES = 1 << 30
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
IMAGE_SUFFIXES = (".png", ".ppm", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp")


class ImageError(TinycodecError):
    pass


def _bit_depth(im: Image.Image) -> int:
    """Bits per sample of a single-channel integer image, from its format (never from its pixel values)."""
    if im.mode in _SIXTEEN_BIT_MODES:
        return 16
    if im.format == "TIFF":  # mode I: 32-bit (or 16-bit signed) samples; the file says which
        bits = im.tag_v2.get(258) if hasattr(im, "tag_v2") else None
        if isinstance(bits, tuple):
            bits = bits[0]
        return int(bits) if bits else 32
    return 16  # mode I from PNG / PGM / PPM (maxval > 255, scaled to 16 bits by Pillow) and the like


def read_rgb(path: Path) -> tuple[np.ndarray, str | None]:
    """-> (HxWx3 uint8, note about a conversion or None). Only regular files (a FIFO or a device would block),
    at most MAX_IMAGE_FILE_BYTES, at most MAX_PIXELS pixels."""
    path = Path(path)
    try:
        f = open_input(path, "an image file", MAX_IMAGE_FILE_BYTES)
    except FileError as e:
        raise ImageError(str(e)) from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with f, warnings.catch_warnings():
            # Pillow warns (two lines on stderr) above MAX_IMAGE_PIXELS; the size check below gives the one line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                mode = im.mode
                if im.width * im.height > MAX_PIXELS or max(im.size) > MAX_DIM:
                    raise ImageError(
                        f"{path}: {im.width}x{im.height} is larger than the limit "
                        f"({MAX_PIXELS} pixels, e.g. 8192x8192; at most {MAX_DIM} per side)"
                    )
                if mode in (*_SIXTEEN_BIT_MODES, "I"):
                    bits = _bit_depth(im)
                    mode = f"{mode} ({bits}-bit)"
                    arr = np.asarray(im, dtype=np.float64)
                    arr = np.round(arr * (255.0 / (2.0**bits - 1)))
                    rgb = np.repeat(np.clip(arr, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
                else:
                    rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except ImageError:
        raise
    except Image.DecompressionBombError:  # Pillow refuses > 2 * MAX_IMAGE_PIXELS at open(), before decoding
        raise ImageError(
            f"{path}: image is larger than the limit ({MAX_PIXELS} pixels, e.g. 8192x8192; at most {MAX_DIM} per side)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path}: not a readable image ({e.__class__.__name__}: {e})".splitlines()[0]) from None
    note = None if mode == "RGB" else f"{path}: converted {mode} to 8-bit RGB"
    return rgb, note


def write_png(path: Path, img: np.ndarray) -> None:
    """Atomically (safeio.atomic_open): an interrupted write leaves the old file or none, never half a PNG."""
    with atomic_open(path, "wb") as f:
        Image.fromarray(img, "RGB").save(f, format="PNG")


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    images: tuple[Path, ...]
    sha256: str  # "verified" | "absent"
    detail: str


def find_images(folder: Path, limit: int | None = None) -> Dataset:
    """Images of a folder: checked against SHA256SUMS when the folder has one, else every image file, sorted."""
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: no such data folder")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1 (got {limit})")
    if (folder / "SHA256SUMS").is_file():
        paths = verify_folder(folder)
        status, detail = "verified", f"all {len(paths)} images match {folder.name}/SHA256SUMS"
    else:
        paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        status, detail = "absent", "no SHA256SUMS in the folder; images not verified"
        if not paths:
            raise DataError(f"{folder}: no images (looked for {', '.join(IMAGE_SUFFIXES)})")
    if limit is not None:
        paths = paths[:limit]
    return Dataset(folder.resolve().name, folder.resolve(), tuple(paths), status, detail)
