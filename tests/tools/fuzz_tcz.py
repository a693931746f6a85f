"""Fuzz target "tcz": the Python .tcz reader (bitstream.parse_header/unpack + HostCodec.decompress's checks,
rANS decoding of every tile, tile placement and crop). There is no C .tcz parser; the firmware only sees
tile payloads (fuzzed in C by fuzz_rans / fuzz_app).

Input byte 0: bit 0 set -> the rest is a .tcz whose CRC is recomputed here (so mutations get past the CRC
to the tile parser and the rANS decoder); clear -> the rest as is. Oracle: only BitstreamError may escape,
and a decoded image has exactly the header's size. The decoder *model* (TFLM) is replaced by a zero tile
(FuzzCodec.synthesise): it has a fixed shape and runs ~20 ms; everything before it is the real code.

  python tests/tools/fuzz_tcz.py [atheris/libFuzzer args] CORPUS_DIR SEED_DIR   (needs `pip install atheris`)
  python tests/tools/fuzz_tcz.py --replay FILE...                               (no atheris needed)

A Python fuzzer of a host parser, so it lives with the test tools (the C targets are in firmware/fuzz/); run by
firmware/fuzz/run.sh (`make fuzz`) and tests/test_fuzz.py, with the installed package (pip install -e .).
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from tinycodec import bitstream
from tinycodec.bundle import Bundle
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL


class FuzzCodec(HostCodec):
    def synthesise(self, latent: np.ndarray, quality: int) -> np.ndarray:
        t = self.bundle.tile
        return np.zeros((t, t, 3), np.uint8)


CODEC = FuzzCodec(Bundle.load(DEFAULT_MODEL))


def one_input(data: bytes) -> None:
    if not data:
        return
    body = data[1:]
    if data[0] & 1 and len(body) >= 4:
        body = body[:-4] + struct.pack("<I", zlib.crc32(body[:-4]))
    try:
        header, _ = bitstream.unpack(body)
        img = CODEC.decompress(body)
    except bitstream.BitstreamError:
        return
    if img.shape != (header.height, header.width, 3) or img.dtype != np.uint8:
        raise AssertionError(f"decoded {img.shape} for a {header.width}x{header.height} header")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        files = [p for a in sys.argv[2:] for p in (sorted(Path(a).iterdir()) if Path(a).is_dir() else [Path(a)])]
        for p in files:
            one_input(p.read_bytes())
        print(f"replayed {len(files)} inputs, 0 failures")
        return
    import atheris

    atheris.instrument_all()  # coverage feedback from every loaded Python function (the reader's included)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
