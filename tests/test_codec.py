"""Host codec with the shipped model: real bytes, deterministic, exact round trip, clear errors."""

import numpy as np
import pytest

from tinycodec import bitstream, tiling
from tinycodec.bitstream import BitstreamError
from tinycodec.bundle import Bundle
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL
from tinycodec.metrics import psnr

BUNDLE = DEFAULT_MODEL


@pytest.fixture(scope="module")
def codec():
    return HostCodec(Bundle.load(BUNDLE))


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:70, 0:100]
    img = np.stack([(x * 2.5) % 256, (y * 3) % 256, (x + y) % 256], axis=2) + rng.integers(-8, 8, (70, 100, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_round_trip_every_quality(codec, image):
    sizes = []
    for q in codec.bundle.qualities:
        data = codec.compress(image, q)
        assert codec.compress(image, q) == data  # deterministic
        out = codec.decompress(data)
        assert out.shape == image.shape and out.dtype == np.uint8
        # decompress is exactly: entropy decode -> int8 decoder, tile by tile
        hdr, payloads = bitstream.unpack(data)
        first = codec.decode_tile(payloads[0], q)
        t = codec.bundle.tile
        np.testing.assert_array_equal(out[:t, :t], first[: min(t, image.shape[0]), : min(t, image.shape[1])])
        assert psnr(image, out) > 12.0
        sizes.append(len(data))
    assert len(set(sizes)) > 1 or len(sizes) == 1


def test_latent_symbols_round_trip(codec, image):
    tile = tiling.split(image, codec.bundle.tile)[0]
    lat = codec.analyse(tile, 1)
    payload = codec.encode_tile(tile, 1)
    t = codec.bundle.tables[1]
    lo = np.array([c.offset for c in t.channels])
    hi = lo + np.array([len(c.freqs) for c in t.channels]) - 1
    np.testing.assert_array_equal(codec.decode_latent(payload, 1), np.clip(lat, lo, hi))


def test_wrong_model_and_damage(codec, image):
    data = bytearray(codec.compress(image, 1))
    other = bytearray(data)
    other[4] ^= 0xFF  # model id
    import struct
    import zlib

    struct.pack_into("<I", other, len(other) - 4, zlib.crc32(bytes(other[:-4])))
    with pytest.raises(BitstreamError, match="another model"):
        codec.decompress(bytes(other))
    with pytest.raises(BitstreamError):
        codec.decompress(bytes(data[:-7]))
    with pytest.raises(Exception, match="quality 99"):
        codec.compress(image, 99)
