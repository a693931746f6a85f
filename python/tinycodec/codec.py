"""The host codec: int8 models on TFLM (the same computation as the device) + rANS + .tcz container."""

from __future__ import annotations

import numpy as np

from . import bitstream, rans, tiling
from .bundle import Bundle, BundleError
from .oracle import TflmModel


class HostCodec:
    """Memory: the rANS tables are a few KB per quality; one TFLM interpreter (its 4 MiB arena) per model used,
    created on first use and owned by this instance, so all of it is freed with the codec (or by close())."""

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self._symtabs = {
            q: [rans.SymbolTable(c.freqs, t.precision) for c in t.channels] for q, t in bundle.tables.items()
        }
        self._runners: dict[tuple[str, int], TflmModel] = {}

    def _runner(self, role: str, quality: int) -> TflmModel:
        r = self._runners.get((role, quality))
        if r is None:
            r = self._runners[(role, quality)] = TflmModel(self.bundle.model(role, quality).data)
        return r

    def close(self) -> None:
        """Release the interpreters now (they are created again if the codec is used after this)."""
        self._runners.clear()

    def __enter__(self) -> HostCodec:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_quality(self, quality: int) -> None:
        if quality not in self.bundle.tables:
            raise BundleError(f"quality {quality} not in this model (choose from {self.bundle.qualities})")

    # -- one tile -----------------------------------------------------------------------------------
    def analyse(self, tile: np.ndarray, quality: int) -> np.ndarray:
        """uint8 tile -> int8 latent [h, w, C] (the encoder's output, one step = one bin)."""
        self._check_quality(quality)
        q = (tile.astype(np.int16) - 128).astype(np.int8)[None]
        return self._runner("encoder", quality).run(q)[0]

    def synthesise(self, latent: np.ndarray, quality: int) -> np.ndarray:
        out = self._runner("decoder", quality).run(latent[None].astype(np.int8))[0]
        return (out.astype(np.int16) + 128).astype(np.uint8)

    def _symbols(self, latent: np.ndarray, quality: int) -> tuple[list[int], list[int]]:
        t = self.bundle.tables[quality]
        c = latent.shape[-1]
        off = np.array([ch.offset for ch in t.channels])
        n = np.array([len(ch.freqs) for ch in t.channels])
        sym = np.clip(latent.reshape(-1, c).astype(np.int32) - off, 0, n - 1).reshape(-1)
        return sym.tolist(), np.tile(np.arange(c), latent.size // c).tolist()

    def latent_of_symbols(self, symbols: list[int], shape: tuple[int, ...], quality: int) -> np.ndarray:
        t = self.bundle.tables[quality]
        off = np.array([ch.offset for ch in t.channels])
        return (np.array(symbols, np.int32).reshape(-1, shape[-1]) + off).reshape(shape).astype(np.int8)

    def encode_tile(self, tile: np.ndarray, quality: int) -> bytes:
        sym, chan = self._symbols(self.analyse(tile, quality), quality)
        return rans.encode(sym, self._symtabs[quality], chan)

    def latent_shape(self, quality: int) -> tuple[int, ...]:
        return tuple(self.bundle.model("decoder", quality).input_shape[1:])

    def decode_latent(self, payload: bytes, quality: int) -> np.ndarray:
        self._check_quality(quality)
        shape = self.latent_shape(quality)
        n = int(np.prod(shape))
        chan = np.tile(np.arange(shape[-1]), n // shape[-1]).tolist()
        return self.latent_of_symbols(rans.decode(payload, n, self._symtabs[quality], chan), shape, quality)

    def decode_tile(self, payload: bytes, quality: int) -> np.ndarray:
        return self.synthesise(self.decode_latent(payload, quality), quality)

    # -- whole images -------------------------------------------------------------------------------
    def compress(self, img: np.ndarray, quality: int) -> bytes:
        self._check_quality(quality)
        h, w = img.shape[:2]
        tiles = [self.encode_tile(t, quality) for t in tiling.split(img, self.bundle.tile)]
        header = bitstream.Header(self.bundle.model_id, quality, self.bundle.tile, w, h)
        return bitstream.pack(header, tiles)

    def decompress(self, data: bytes) -> np.ndarray:
        header, payloads = bitstream.unpack(data)
        if header.model_id != self.bundle.model_id:
            raise bitstream.BitstreamError(
                f"made by another model (id {header.model_id.hex()}, this model is {self.bundle.model_id.hex()})"
            )
        if header.tile != self.bundle.tile or header.quality not in self.bundle.tables:
            raise bitstream.BitstreamError("tile size or quality does not match this model")
        # one allocation of the padded image (bounded: bitstream.MAX_PIXELS), filled tile by tile
        t = header.tile
        rows, cols = header.grid
        out = np.empty((rows * t, cols * t, 3), np.uint8)
        for i, p in enumerate(payloads):
            try:
                tile = self.decode_tile(p, header.quality)
            except rans.RansError as e:
                raise bitstream.BitstreamError(f"tile {i}: {e}") from None
            r, c = divmod(i, cols)
            out[r * t : (r + 1) * t, c * t : (c + 1) * t] = tile
        return out[: header.height, : header.width]
