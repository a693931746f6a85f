"""tinycodec: a learned int8 image codec for microcontrollers.

    import tinycodec
    codec = tinycodec.load()                    # the shipped model (config.DEFAULT_MODEL), or load("models/x")
    data = codec.compress(rgb, quality=2)       # HxWx3 uint8 array / PIL image / image path -> .tcz bytes
    rgb2 = codec.decompress(data)               # -> HxWx3 uint8 array

Importing tinycodec is cheap (no TensorFlow, no numpy: `load()` imports what it needs) and registers the .tcz
Pillow plugin (`Image.open("x.tcz")`, `im.save("x.tcz", quality=2)`). Errors a caller can act on are
`TinycodecError`s with one-line messages (`InputError`, `BitstreamError`, `BundleError`, `ImageError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import pillow_plugin as _pillow_plugin
from .bitstream import BitstreamError
from .errors import TinycodecError

if TYPE_CHECKING:
    from .api import Codec

__version__ = "0.1.0"
__all__ = ["load", "Codec", "TinycodecError", "InputError", "BitstreamError", "BundleError", "__version__"]

_pillow_plugin.register()

_LAZY = {"Codec": "api", "InputError": "api", "BundleError": "bundle"}  # these modules import numpy


def load(bundle: Any = None) -> Codec:
    """A codec for a model bundle folder (None: the shipped default model); see `tinycodec.api.load`."""
    from .api import load as _load

    return _load(bundle)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
