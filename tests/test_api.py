"""The Python API (tinycodec.load -> compress/decompress) and the Pillow plugin: the same bytes and pixels as the
CLI and the host codec, a cheap `import tinycodec`, one-line package errors for bad input. One small image, one
quality (the model's lowest: the test does not depend on how many qualities the shipped model has)."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinycodec
from tinycodec import bitstream
from tinycodec.bundle import Bundle
from tinycodec.cli import main
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL, REPO_ROOT
from tinycodec.errors import TinycodecError


@pytest.fixture(scope="module")
def codec() -> tinycodec.Codec:
    return tinycodec.load()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    """100x120 RGB (not a multiple of any tile size): smooth gradients plus noise."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:100, 0:120]
    img = np.stack([(x * 2) % 256, (y * 2.5) % 256, (x + y) % 256], axis=2) + rng.integers(-10, 10, (100, 120, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def work(tmp_path_factory, codec, image) -> dict:
    """The image through the CLI (compress, then decompress) and through the API, once for the module."""
    d = tmp_path_factory.mktemp("api")
    q = codec.qualities[0]
    Image.fromarray(image).save(d / "img.png")
    assert main(["compress", "-q", str(q), "-o", str(d / "cli"), str(d / "img.png")]) == 0
    assert main(["decompress", "-o", str(d / "cli"), str(d / "cli" / "img.tcz")]) == 0
    data = codec.compress(image, q)
    return {
        "dir": d,
        "q": q,
        "data": data,
        "out": codec.decompress(data),
        "cli_tcz": (d / "cli" / "img.tcz").read_bytes(),
        "cli_png": np.asarray(Image.open(d / "cli" / "img.png")),
    }


def test_import_is_cheap_and_registers_the_pillow_plugin():
    """No numpy, TensorFlow or TFLM, none of our own modules (tests/test_layers.py), yet Pillow knows .tcz."""
    code = (
        "import sys, tinycodec; from PIL import Image; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'tensorflow', 'tflite_micro') "
        "or m.startswith('tinycodec.')), Image.registered_extensions()['.tcz'], 'TCZ' in Image.ID)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "python")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert r.stdout.split() == ["[]", "TCZ", "True"], r.stdout + r.stderr


def test_plugin_magic_is_the_bitstream_magic():
    assert Image.OPEN["TCZ"][1](bitstream.MAGIC + bytes(17)) and not Image.OPEN["TCZ"][1](b"\x89PNG\r\n")
    assert bitstream.MAGIC == b"TCZ"  # __init__.py's shim spells it out (it imports none of our modules)


def test_properties(codec):
    bundle = Bundle.load(DEFAULT_MODEL)
    assert codec.qualities == tuple(bundle.qualities) and len(codec.qualities) >= 1
    assert codec.tile == bundle.tile and codec.model_id == bundle.model_id and len(codec.model_id) == 8
    assert codec.path == Path(DEFAULT_MODEL) and codec.name == bundle.manifest["name"]
    assert codec.name in repr(codec)


def test_round_trip_equals_cli_and_host_codec(codec, image, work):
    data, q = work["data"], work["q"]
    assert data == work["cli_tcz"]  # the CLI's bytes
    host = HostCodec(Bundle.load(DEFAULT_MODEL))
    assert data == host.compress(image, q)  # the host codec's bytes
    # every image input form gives the same bytes: array, PIL image, path, a non-contiguous view
    assert codec.compress(Image.fromarray(image), q) == data
    assert codec.compress(work["dir"] / "img.png", q) == data
    assert codec.compress(str(work["dir"] / "img.png"), np.int64(q)) == data
    assert codec.compress(np.ascontiguousarray(image[:, ::-1])[:, ::-1], q) == data
    out = work["out"]
    assert out.shape == image.shape and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, host.decompress(data))
    np.testing.assert_array_equal(out, work["cli_png"])
    np.testing.assert_array_equal(codec.decompress(bytearray(data)), out)


def test_pillow_open_and_save(codec, image, work):
    path = work["dir"] / "x.tcz"
    path.write_bytes(work["data"])
    with Image.open(path) as im:
        assert im.format == "TCZ" and im.mode == "RGB" and im.size == (image.shape[1], image.shape[0])
        assert im.info["quality"] == work["q"] and im.info["model_id"] == codec.model_id.hex()
        np.testing.assert_array_equal(np.asarray(im), work["out"])
    # save: by extension (quality from the save kwargs), and by format to a file object
    Image.fromarray(image).save(work["dir"] / "y.tcz", quality=work["q"])
    assert (work["dir"] / "y.tcz").read_bytes() == work["data"]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="TCZ", quality=work["q"], codec=codec)
    assert buf.getvalue() == work["data"]


def _recrc(data: bytes) -> bytes:
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def _with_header(data: bytes, **fields) -> bytes:
    names = ["magic", "version", "model_id", "quality", "flags", "tile", "width", "height"]
    v = dict(zip(names, bitstream.HEADER.unpack_from(data)))
    v.update(fields)
    return _recrc(bitstream.HEADER.pack(*v.values()) + data[bitstream.HEADER.size :])


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1 :]


# name -> (call(codec, image, work), expected exception class name, words in the message)
BAD = {
    "float image": (lambda c, im, w: c.compress(im.astype(np.float32), w["q"]), "InputError", ["float32", "uint8"]),
    "grey 2-D array": (lambda c, im, w: c.compress(im[..., 0], w["q"]), "InputError", ["(100, 120)", "3"]),
    "RGBA array": (lambda c, im, w: c.compress(np.dstack([im, im[..., :1]]), w["q"]), "InputError", ["shape"]),
    "empty image": (lambda c, im, w: c.compress(im[:0], w["q"]), "InputError", ["120x0"]),
    "a list": (lambda c, im, w: c.compress(im.tolist(), w["q"]), "InputError", ["got list"]),
    "missing file": (lambda c, im, w: c.compress(w["dir"] / "nope.png", w["q"]), "ImageError", ["nope.png"]),
    "unknown quality": (lambda c, im, w: c.compress(im, max(c.qualities) + 1), "InputError", ["not in this model"]),
    "quality as text": (lambda c, im, w: c.compress(im, "1"), "InputError", ["must be an int"]),
    "float PIL image": (lambda c, im, w: c.compress(Image.new("F", (4, 4)), w["q"]), "InputError", ["mode F"]),
    "truncated PIL image": (
        lambda c, im, w: c.compress(Image.open(io.BytesIO((w["dir"] / "img.png").read_bytes()[:300])), w["q"]),
        "InputError",
        ["cannot be read"],
    ),
    "decompress a path": (lambda c, im, w: c.decompress("x.tcz"), "InputError", ["bytes", "got str"]),
    "empty bytes": (lambda c, im, w: c.decompress(b""), "BitstreamError", ["truncated"]),
    "not a tcz": (lambda c, im, w: c.decompress(b"\x89PNG" + bytes(40)), "BitstreamError", ["bad magic"]),
    "truncated": (lambda c, im, w: c.decompress(w["data"][:-9]), "BitstreamError", ["CRC mismatch"]),
    "bit flip": (lambda c, im, w: c.decompress(_flip(w["data"], 30)), "BitstreamError", ["CRC mismatch"]),
    "corrupt payload": (lambda c, im, w: c.decompress(_recrc(_flip(w["data"], 30))), "BitstreamError", ["tile 0"]),
    "other model": (
        lambda c, im, w: c.decompress(_with_header(w["data"], model_id=b"\x01" * 8)),
        "BitstreamError",
        ["another model"],
    ),
    "missing bundle": (lambda c, im, w: tinycodec.load(w["dir"] / "nomodel"), "BundleError", ["nomodel"]),
    "pillow: other version": (
        lambda c, im, w: Image.open(io.BytesIO(_with_header(w["data"], version=9))),
        "BitstreamError",
        ["version 9"],
    ),
    "pillow: other model": (
        lambda c, im, w: Image.open(io.BytesIO(_with_header(w["data"], model_id=b"\x02" * 8))).load(),
        "BitstreamError",
        ["another model", "tinycodec.load"],
    ),
    "pillow: save quality": (
        lambda c, im, w: Image.fromarray(im).save(io.BytesIO(), format="TCZ", quality=0, codec=c),
        "InputError",
        ["quality 0"],
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_raises_one_line_package_error(case, codec, image, work):
    call, kind, words = BAD[case]
    with pytest.raises(TinycodecError) as e:
        call(codec, image, work)
    msg = str(e.value)
    assert type(e.value).__name__ == kind, (type(e.value), msg)
    assert msg and "\n" not in msg and all(wd in msg for wd in words), msg
    if kind == "InputError":
        assert isinstance(e.value, ValueError) and isinstance(e.value, tinycodec.InputError)


def test_cli_compress_of_a_broken_tcz_names_it(work, capsys):
    """Pillow now opens .tcz files, so `tinycodec compress` reads them too: a broken one is one line naming it."""
    cut = work["dir"] / "cut.tcz"
    cut.write_bytes(work["data"][:-9])
    assert main(["compress", "-o", str(work["dir"] / "re"), str(cut)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cut.tcz" in err and "CRC mismatch" in err, err
