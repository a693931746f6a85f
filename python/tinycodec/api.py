"""The Python API: `tinycodec.load()` -> a `Codec` with `compress(image, quality) -> bytes` and
`decompress(bytes) -> HxWx3 uint8 array`. The CLI's compress/decompress verbs and the Pillow plugin use it.

No TensorFlow: the int8 models run on TFLM (`codec.HostCodec`), the same computation as the device, so the bytes
are those of `tinycodec compress` and of the firmware. Bad input raises a `TinycodecError` subclass with a one-line
message: `InputError` (image, quality or data of the wrong type, shape or value), `bitstream.BitstreamError`
(a corrupt, truncated or other-model .tcz), `bundle.BundleError` (a missing or broken model folder),
`imageio.ImageError` (an unreadable image file)."""

from __future__ import annotations

import numbers
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from . import bitstream
from .bundle import Bundle
from .codec import HostCodec
from .config import DEFAULT_MODEL
from .errors import TinycodecError

DEFAULT_QUALITY = 2  # the CLI's default; used by the Pillow plugin when save() gets no quality=

# every live Codec by model id (the Pillow plugin decodes a .tcz with a loaded codec of its model, if any)
_LOADED: weakref.WeakValueDictionary[bytes, Codec] = weakref.WeakValueDictionary()


class InputError(TinycodecError, ValueError):
    """An image, quality or .tcz argument of the wrong type, shape or value."""


def _describe(x: Any) -> str:
    return type(x).__name__


def rgb_of_pil(im: Any) -> np.ndarray:
    """A PIL image -> HxWx3 uint8, converted as `tinycodec compress` converts an image file (imageio.read_rgb):
    16-bit and 32-bit integer grey scaled to 8 bits, every other mode through Pillow's convert('RGB')."""
    from .imageio import _SIXTEEN_BIT_MODES, _bit_depth

    if im.mode == "F":
        raise InputError("a float (mode F) PIL image has no 8-bit RGB meaning; convert it to 'RGB' or 'L' first")
    if im.mode in (*_SIXTEEN_BIT_MODES, "I"):
        bits = _bit_depth(im)
        arr = np.round(np.asarray(im, dtype=np.float64) * (255.0 / (2.0**bits - 1)))
        return np.repeat(np.clip(arr, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)


def as_rgb(image: Any) -> np.ndarray:
    """An HxWx3 uint8 array, a PIL image or an image file path -> a checked HxWx3 uint8 array (InputError)."""
    if isinstance(image, (str, os.PathLike)):
        from .imageio import read_rgb

        image, _note = read_rgb(Path(image))
    elif not isinstance(image, np.ndarray) and hasattr(image, "mode") and hasattr(image, "convert"):
        try:
            image = rgb_of_pil(image)  # a PIL.Image.Image (not imported here: duck-typed)
        except InputError:
            raise
        except (OSError, SyntaxError, ValueError) as e:  # a lazily loaded file that turns out truncated or corrupt
            raise InputError(f"the PIL image cannot be read ({type(e).__name__}: {e})".splitlines()[0]) from None
    if not isinstance(image, np.ndarray):
        raise InputError(
            f"image must be an HxWx3 uint8 numpy array, a PIL image or an image file path (got {_describe(image)})"
        )
    if image.dtype != np.uint8:
        raise InputError(f"image dtype is {image.dtype}, expected uint8 (0..255 per channel)")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image shape is {image.shape}, expected (height, width, 3) RGB")
    h, w = image.shape[:2]
    if not (1 <= w <= bitstream.MAX_DIM and 1 <= h <= bitstream.MAX_DIM) or w * h > bitstream.MAX_PIXELS:
        raise InputError(
            f"image {w}x{h} is outside the .tcz limits (1..{bitstream.MAX_DIM} per side, "
            f"at most {bitstream.MAX_PIXELS} pixels)"
        )
    return image


class Codec:
    """One model bundle, ready to compress and decompress. Make it with `tinycodec.load()`.

    Properties: `qualities` (the model's quality levels, low to high rate), `tile` (tile side in pixels),
    `name`, `model_id` (the 8 bytes a .tcz header carries), `path` (the bundle folder), `bundle`.
    Thread-safe (one call at a time per codec); `close()` (or `with`) frees the TFLM interpreters early."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self._codec = HostCodec(bundle)
        self._lock = threading.Lock()
        _LOADED[bundle.model_id] = self

    @property
    def qualities(self) -> tuple[int, ...]:
        return tuple(self.bundle.qualities)

    @property
    def tile(self) -> int:
        return self.bundle.tile

    @property
    def name(self) -> str:
        return str(self.bundle.manifest["name"])

    @property
    def model_id(self) -> bytes:
        return self.bundle.model_id

    @property
    def path(self) -> Path:
        return Path(self.bundle.path)

    def __repr__(self) -> str:
        return f"<tinycodec.Codec {self.name} {self.model_id.hex()} qualities={list(self.qualities)} tile={self.tile}>"

    def check_quality(self, quality: Any) -> int:
        """The quality as an int if this model has it, else InputError."""
        if isinstance(quality, bool) or not isinstance(quality, numbers.Integral):
            raise InputError(f"quality must be an int, one of {list(self.qualities)} (got {quality!r})")
        if int(quality) not in self.qualities:
            raise InputError(f"quality {int(quality)} not in this model (choose from {list(self.qualities)})")
        return int(quality)

    def compress(self, image: Any, quality: int) -> bytes:
        """An image -> the .tcz bytes. `image`: an HxWx3 uint8 numpy array (RGB), a PIL image (converted to RGB
        as the CLI converts files) or an image file path; `quality`: one of `self.qualities`."""
        q = self.check_quality(quality)
        rgb = as_rgb(image)
        with self._lock:
            return self._codec.compress(rgb, q)

    def decompress(self, data: bytes | bytearray | memoryview) -> np.ndarray:
        """.tcz bytes (made with this model) -> the image, an HxWx3 uint8 numpy array.
        BitstreamError if they are truncated, corrupted or were made by another model."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InputError(
                f"decompress takes the .tcz bytes (got {_describe(data)}; read a file with Path(f).read_bytes())"
            )
        with self._lock:
            img = self._codec.decompress(bytes(data))
        return np.ascontiguousarray(img)

    def close(self) -> None:
        """Free the TFLM interpreters now (they are made again if the codec is used after this)."""
        with self._lock:
            self._codec.close()

    def __enter__(self) -> Codec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(bundle: str | os.PathLike | Bundle | None = None) -> Codec:
    """A Codec for a model bundle: a folder with manifest.json (or the manifest itself), a loaded `Bundle`, or
    None for the shipped default model (`config.DEFAULT_MODEL`, what the CLI uses without --model).
    BundleError (one line) if the folder is missing, incomplete or inconsistent."""
    if isinstance(bundle, Bundle):
        return Codec(bundle)
    if bundle is not None and not isinstance(bundle, (str, os.PathLike)):
        raise InputError(f"bundle must be a model folder path, a Bundle or None (got {_describe(bundle)})")
    return Codec(Bundle.load(Path(DEFAULT_MODEL if bundle is None else bundle)))


def loaded_codec(model_id: bytes) -> Codec | None:
    """A live codec of this model id (the most recently loaded), or None."""
    return _LOADED.get(model_id)
