"""The CLI against bad input, as one table: every case ends in correct output, or in exactly one line
`tinycodec: error: <file>: <problem>` with exit code 2, never a traceback; memory stays bounded."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinycodec import bitstream
from tinycodec.cli import main


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), np.uint8)).save(d / "good.png")
    assert main(["compress", "-q", "1", "-o", str(d / "ref"), str(d / "good.png")]) == 0
    return d


def _refcz(work: Path) -> bytes:
    return (work / "ref" / "good.tcz").read_bytes()


def _recrc(data: bytes) -> bytes:
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]))


def _tcz_with(work: Path, **fields) -> bytes:
    """The reference .tcz with header fields replaced (CRC fixed, so the field itself is what fails)."""
    magic, version, model_id, quality, flags, tile, width, height = bitstream.HEADER.unpack_from(_refcz(work))
    v = dict(magic=magic, version=version, model_id=model_id, quality=quality, flags=flags, tile=tile, width=width,
             height=height)  # fmt: skip
    v.update(fields)
    hdr = bitstream.HEADER.pack(*v.values())
    return _recrc(hdr + _refcz(work)[bitstream.HEADER.size :])


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose IHDR claims w x h (8-bit RGB) with a tiny IDAT: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _save(img: Image.Image, **kw):
    def make(p: Path) -> None:
        img.save(p, **kw)

    return make


def _bytes(fn):
    def make(p: Path, work: Path) -> None:
        p.write_bytes(fn(work))

    return make


RGB = np.random.default_rng(1).integers(0, 256, (37, 29, 3), np.uint8)
# name -> (verb, file name, how to make it (None: leave it missing), expected: ("ok", (w, h)) | ("error", words))
CASES = {
    "missing file": ("compress", "nope.png", None, ("error", ["nope.png", "no such file"])),
    "directory": ("compress", "adir", "dir", ("error", ["adir", "is a directory"])),
    "not an image": (
        "compress",
        "junk.png",
        lambda p: p.write_bytes(b"hello, not an image"),
        ("error", ["junk.png", "not a readable image"]),
    ),
    "truncated png": (
        "compress",
        "trunc.png",
        lambda p: p.write_bytes(_png_of(RGB)[:200]),
        ("error", ["trunc.png", "not a readable image"]),
    ),
    "16-bit png": (
        "compress",
        "g16.png",
        lambda p: Image.fromarray(RGB[..., 0].astype(np.uint16) * 257).save(p),
        ("ok", (29, 37)),
    ),
    "grayscale": ("compress", "gray.png", lambda p: Image.fromarray(RGB[..., 0]).save(p), ("ok", (29, 37))),
    "palette": ("compress", "pal.png", lambda p: Image.fromarray(RGB).convert("P").save(p), ("ok", (29, 37))),
    "rgba": ("compress", "rgba.png", lambda p: Image.fromarray(RGB).convert("RGBA").save(p), ("ok", (29, 37))),
    "cmyk jpeg": (
        "compress",
        "cmyk.jpg",
        lambda p: Image.fromarray(RGB).convert("CMYK").save(p, "JPEG"),
        ("ok", (29, 37)),
    ),
    "1x1": ("compress", "one.png", lambda p: Image.new("RGB", (1, 1), (200, 10, 10)).save(p), ("ok", (1, 1))),
    "65x33": ("compress", "odd.png", lambda p: Image.fromarray(RGB).resize((65, 33)).save(p), ("ok", (65, 33))),
    "huge png header": (
        "compress",
        "huge.png",
        lambda p: p.write_bytes(_png_header(100000, 100000)),
        ("error", ["huge.png", "larger than the limit"]),
    ),
    "too wide png": (
        "compress",
        "wide.png",
        lambda p: p.write_bytes(_png_header(20000, 2)),
        ("error", ["wide.png", "larger than the limit"]),
    ),
    "tcz truncated": (
        "decompress",
        "cut.tcz",
        _bytes(lambda w: _refcz(w)[:-7]),
        ("error", ["cut.tcz", "CRC mismatch"]),
    ),
    "tcz header only": ("decompress", "hdr.tcz", _bytes(lambda w: _refcz(w)[:12]), ("error", ["hdr.tcz", "truncated"])),
    "tcz empty": ("decompress", "empty.tcz", _bytes(lambda w: b""), ("error", ["empty.tcz", "truncated"])),
    "tcz corrupted (crc)": (
        "decompress",
        "flip.tcz",
        _bytes(lambda w: _flip(_refcz(w), 40)),
        ("error", ["flip.tcz", "CRC mismatch"]),
    ),
    "tcz corrupted payload": (
        "decompress",
        "pay.tcz",
        _bytes(lambda w: _recrc(_flip(_refcz(w), 40))),
        ("error", ["pay.tcz", "corrupted"]),
    ),
    "tcz another model": (
        "decompress",
        "other.tcz",
        _bytes(lambda w: _tcz_with(w, model_id=b"\x01" * 8)),
        ("error", ["other.tcz", "another model"]),
    ),
    "tcz version 2": (
        "decompress",
        "v2.tcz",
        _bytes(lambda w: _tcz_with(w, version=2)),
        ("error", ["v2.tcz", "format version 2"]),
    ),
    "tcz bad magic (a png)": (
        "decompress",
        "png.tcz",
        _bytes(lambda w: _png_of(RGB)),
        ("error", ["png.tcz", "bad magic"]),
    ),
    "tcz quality 9": (
        "decompress",
        "q9.tcz",
        _bytes(lambda w: _tcz_with(w, quality=9)),
        ("error", ["q9.tcz", "quality"]),
    ),
    "tcz 16384x16384": (
        "decompress",
        "big.tcz",
        _bytes(lambda w: _tcz_with(w, width=16384, height=16384)),
        ("error", ["big.tcz", "pixel limit"]),
    ),
    "tcz tile 1 (too many tiles)": (
        "decompress",
        "t1.tcz",
        _bytes(lambda w: _tcz_with(w, tile=1, width=8000, height=8000)),
        ("error", ["t1.tcz", "tile limit"]),
    ),
    "tcz oversized file": (
        "decompress",
        "fat.tcz",
        _bytes(lambda w: _refcz(w) + bytes(40000)),
        ("error", ["fat.tcz", "can hold"]),
    ),
    "tcz missing": ("decompress", "gone.tcz", None, ("error", ["gone.tcz", "cannot read"])),
    "tcz directory": ("decompress", "tdir", "dir", ("error", ["tdir", "is a directory"])),
}


def _png_of(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x10
    return bytes(b)


def _run(capsys, argv: list[str]) -> tuple[int, list[str]]:
    code = main(argv)
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert "Traceback" not in cap.err + cap.out
    return code, err


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input(case: str, work: Path, tmp_path: Path, capsys) -> None:
    verb, name, make, (outcome, expect) = CASES[case]
    src = tmp_path / name
    if make == "dir":
        src.mkdir()
    elif make is not None:
        make(src, work) if make.__code__.co_argcount == 2 else make(src)
    out = tmp_path / "out"
    tracemalloc.start()
    try:
        code, err = _run(capsys, [verb, "-o", str(out), str(src)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 << 20, f"{case}: {peak / 2**20:.0f} MiB traced"  # nothing sized from a hostile header
    if outcome == "error":
        assert code == 2, (case, err)
        errors = [line for line in err if line.startswith("tinycodec: error:")]
        assert len(errors) == 1 and errors[0] == err[-1], err
        assert all(w in errors[0] for w in expect), (case, errors[0])
        return
    assert code == 0, (case, err)
    tcz = out / f"{src.stem}.tcz"
    assert main(["decompress", "-o", str(tmp_path / "back"), str(tcz)]) == 0
    assert Image.open(tmp_path / "back" / f"{src.stem}.png").size == expect


def test_unwritable_output_dir(work: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, err = _run(capsys, ["compress", "-o", str(blocker / "out"), str(work / "good.png")])
    assert code == 2 and len(err) == 1 and "cannot create output directory" in err[0] and "a_file" in err[0], err
    code, err = _run(capsys, ["decompress", "-o", str(blocker), str(work / "ref" / "good.tcz")])
    assert code == 2 and len(err) == 1 and "a_file" in err[0], err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions (the a_file case covers CI)")
def test_readonly_output_dir(work: Path, tmp_path: Path, capsys) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, err = _run(capsys, ["compress", "-o", str(ro), str(work / "good.png")])
    finally:
        ro.chmod(0o700)
    assert code == 2 and len(err) == 1 and "not writable" in err[0], err


def test_bad_port(capsys) -> None:
    code, err = _run(capsys, ["bench", "--port", "socket://127.0.0.1:1", "--out", "/tmp/tc-bad-port"])
    assert code == 2 and "cannot open serial port" in err[-1], err
