"""Pillow plugin for .tcz files. `import tinycodec` registers it (through small shims in __init__.py, so this module
is imported on the first .tcz opened or saved):

    Image.open("x.tcz")                      # identified by the TCZ magic (docs/bitstream.md), decoded on load()
    im.save("x.tcz", quality=2)              # or any name with format="TCZ"; codec=<tinycodec.Codec> picks a model

Opening reads only the 20-byte header (size, quality and model id in `im.info`). Decoding uses a codec of the
file's model loaded with `tinycodec.load()`, if one is alive, else the shipped default model (loaded once, on the
first decode); a .tcz of another model raises BitstreamError naming both ids. Saving uses the default model unless
`codec=` is given; `quality` defaults to the CLI's default (2)."""

from __future__ import annotations

import threading
from typing import IO, Any

from PIL import Image, ImageFile

from . import bitstream

FORMAT = "TCZ"

_default_codec: Any = None
_default_lock = threading.Lock()


def _default() -> Any:
    """The shipped default model's codec, loaded on first use and kept for the process."""
    global _default_codec
    with _default_lock:
        if _default_codec is None:
            from .api import load

            _default_codec = load()
        return _default_codec


def codec_for(model_id: bytes) -> Any:
    """A codec that can decode a .tcz of this model id: a live one loaded by the user, else the default model."""
    from .api import loaded_codec

    codec = loaded_codec(model_id) or _default()
    if codec.model_id != model_id:
        raise bitstream.BitstreamError(
            f"made by another model (id {model_id.hex()}, the default model is {codec.model_id.hex()}); "
            "load its model with tinycodec.load(<bundle folder>) first"
        )
    return codec


class TczImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "tinycodec learned image codec"

    def _open(self) -> None:
        assert self.fp is not None
        # the magic matched: a bad header is a .tcz error (BitstreamError, one line), not "cannot identify"
        header = bitstream.parse_header(self.fp.read(bitstream.HEADER.size))
        self._mode = "RGB"
        self._size = (header.width, header.height)
        self.info.update(quality=header.quality, model_id=header.model_id.hex(), tile=header.tile)
        self.tile = [ImageFile._Tile("tcz", (0, 0, *self._size), 0, (header,))]


class TczDecoder(ImageFile.PyDecoder):
    _pulls_fd = True

    def decode(self, buffer: bytes | Image.SupportsArrayInterface) -> tuple[int, int]:
        assert self.fd is not None
        (header,) = self.args
        limit = bitstream.max_stream_bytes(header)  # as bitstream.read: never past the largest valid size
        data = self.fd.read(limit + 1)
        if len(data) > limit:
            raise bitstream.BitstreamError(f"more bytes than a {header.width}x{header.height} .tcz can hold")
        img = codec_for(header.model_id).decompress(data)
        self.set_as_raw(img.tobytes())
        return -1, 0


def save(im: Image.Image, fp: IO[bytes], filename: str | bytes) -> None:
    from .api import DEFAULT_QUALITY

    info = im.encoderinfo
    codec = info.get("codec") or _default()
    fp.write(codec.compress(im, info.get("quality", DEFAULT_QUALITY)))
