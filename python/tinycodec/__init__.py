"""tinycodec: a learned int8 image codec for microcontrollers.

    import tinycodec
    codec = tinycodec.load()                    # the shipped model (config.DEFAULT_MODEL), or load("models/x")
    data = codec.compress(rgb, quality=2)       # HxWx3 uint8 array / PIL image / image path -> .tcz bytes
    rgb2 = codec.decompress(data)               # -> HxWx3 uint8 array

Importing tinycodec is cheap: no TensorFlow, no numpy and none of its own modules (tests/test_layers.py: the device
link imports only what it needs); it registers the .tcz Pillow plugin (`Image.open("x.tcz")`,
`im.save("x.tcz", quality=2)`), whose code (pillow_plugin.py) is imported on the first .tcz opened or saved.
Errors a caller can act on are `TinycodecError`s with one-line messages (`InputError`, `BitstreamError`,
`BundleError`, `imageio.ImageError`)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Codec

__version__ = "0.1.0"
__all__ = ["load", "Codec", "TinycodecError", "InputError", "BitstreamError", "BundleError", "__version__"]

# imported on first use (module __getattr__): name -> module
_LAZY = {
    "Codec": "api",
    "InputError": "api",
    "BundleError": "bundle",
    "BitstreamError": "bitstream",
    "TinycodecError": "errors",
}


def load(bundle: Any = None) -> Codec:
    """A codec for a model bundle folder (None: the shipped default model); see `tinycodec.api.load`."""
    from .api import load as _load

    return _load(bundle)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register_pillow_plugin() -> None:
    """Register .tcz with Pillow through small shims, so pillow_plugin.py (and numpy, the codec...) is imported
    only when a .tcz is opened, decoded or saved."""
    from PIL import Image

    def open_tcz(fp: Any, filename: Any = "") -> Any:
        from .pillow_plugin import TczImageFile

        return TczImageFile(fp, filename)

    def tcz_decoder(mode: str, *args: Any) -> Any:
        from .pillow_plugin import TczDecoder

        return TczDecoder(mode, *args)

    def save_tcz(im: Any, fp: Any, filename: Any) -> None:
        from .pillow_plugin import save

        save(im, fp, filename)

    # b"TCZ" is bitstream.MAGIC (not imported here; tests/test_api.py checks they agree)
    Image.register_open("TCZ", open_tcz, lambda prefix: prefix[:3] == b"TCZ")
    Image.register_decoder("tcz", tcz_decoder)
    Image.register_save("TCZ", save_tcz)
    Image.register_extension("TCZ", ".tcz")
    Image.register_mime("TCZ", "image/x-tinycodec")


_register_pillow_plugin()
