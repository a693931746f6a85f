"""Reading user images with clear one-line errors; conversions to 8-bit RGB are reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .bitstream import MAX_DIM, MAX_PIXELS  # what a .tcz can hold and a reader accepts (docs/security.md)


class ImageError(Exception):
    pass


def read_rgb(path: Path) -> tuple[np.ndarray, str | None]:
    """-> (HxWx3 uint8, note about a conversion or None)."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, expected an image file")
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as im:
            mode = im.mode
            if im.width * im.height > MAX_PIXELS or max(im.size) > MAX_DIM:
                raise ImageError(
                    f"{path}: {im.width}x{im.height} is larger than the limit "
                    f"({MAX_PIXELS} pixels, e.g. 8192x8192; at most {MAX_DIM} per side)"
                )
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = np.round(arr / (65535.0 if arr.max() > 255 else 255.0) * 255.0)
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
    Image.fromarray(img, "RGB").save(path, format="PNG")
