"""Seed corpora for the fuzz targets, made with the Python host code (framing, rANS, .tcz container):
valid frames of every request type, valid tile payloads at every quality and valid .tcz streams.
Usage: python make_seeds.py --model models/tc-small --out build/fuzz/seeds  (no TensorFlow needed)."""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

from tinycodec import bitstream, rans
from tinycodec.bundle import Bundle
from tinycodec.link.framing import pack_frame


def payloads(bundle: Bundle, rng: np.random.Generator) -> dict[int, list[bytes]]:
    """Two valid tile payloads per quality: a flat latent and a random one, coded like HostCodec."""
    out: dict[int, list[bytes]] = {}
    for q, t in bundle.tables.items():
        shape = bundle.model("decoder", q).input_shape[1:]
        n, c = int(np.prod(shape)), shape[-1]
        tabs = [rans.SymbolTable(ch.freqs, t.precision) for ch in t.channels]
        chan = [i % c for i in range(n)]
        counts = [len(ch.freqs) for ch in t.channels]
        flat = [-t.channels[i % c].offset if 0 <= -t.channels[i % c].offset < counts[i % c] else 0 for i in range(n)]
        rnd = [int(rng.integers(0, counts[i % c])) for i in range(n)]
        out[q] = [rans.encode(flat, tabs, chan), rans.encode(rnd, tabs, chan)]
    return out


def record(type_: int, body: bytes, dmg: int = 0) -> bytes:
    return bytes([dmg << 2]) + struct.pack("<BH", type_, len(body)) + body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    bundle = Bundle.load(a.model)
    rng = np.random.default_rng(0)
    pl = payloads(bundle, rng)
    seeds: dict[str, dict[str, bytes]] = {"app": {}, "rans": {}, "tcz": {}}
    app = seeds["app"]
    app["hello"] = b"\x00" + record(1, b"")
    app["echo"] = b"\x00" + record(2, b"hello tinycodec") + record(1, b"")
    app["damaged"] = b"\x00" + b"".join(record(2, b"x", d) for d in (1, 2, 4, 8, 16)) + record(1, b"")
    app["partial_then_wait"] = b"\x00" + record(2, b"abc", 16) + bytes([11 << 2 | 2]) + record(1, b"")
    app["overlong"] = b"\x00" + b"\x03" + struct.pack("<HB", 16500, 0x41) + b"\x01\x01\x00" + record(1, b"")
    app["raw_hello"] = b"\x80" + pack_frame(1, 7) + pack_frame(2, 8, b"\x00\x01\x02")
    qs = sorted(pl)
    tile = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint8)[..., None].repeat(3, axis=2)
    for q in qs:
        hdr = bytes([q, 0, 0, 0])
        app[f"decode_q{q}"] = b"\x00" + record(5, hdr + pl[q][0]) + record(5, hdr + pl[q][1][:-1])
        app[f"encode_q{q}"] = b"\x00" + record(4, hdr + tile.tobytes())
    for idx in range(len(bundle.tables) * 2):
        app[f"run_{idx}"] = b"\x00" + record(3, bytes([idx, 0, 0, 0]) + bytes(4 * 4 * 64))
    app["run_bad"] = b"\x00" + record(3, bytes([200, 0, 0, 0])) + record(3, b"\x00")
    app["bad_quality"] = b"\x00" + record(4, b"\x09\x00\x00\x00") + record(5, b"\x00")
    for i, q in enumerate(qs):
        seeds["rans"][f"dec_q{q}_flat"] = bytes([i, 0]) + pl[q][0]
        seeds["rans"][f"dec_q{q}_rand"] = bytes([i, 0]) + pl[q][1]
        seeds["rans"][f"enc_q{q}"] = bytes([0x80 | i, 0]) + rng.integers(-128, 128, 1024, dtype=np.int8).tobytes()
        seeds["rans"][f"short_q{q}"] = bytes([0x40 | i, 3]) + b"\x00\x80\x00\x00"
    for q in qs:
        for w, h in ((8, 8), (65, 33), (130, 64)):
            hdr = bitstream.Header(bundle.model_id, q, bundle.tile, w, h)
            rows, cols = hdr.grid
            tcz = bitstream.pack(hdr, [pl[q][k % 2] for k in range(rows * cols)])
            seeds["tcz"][f"q{q}_{w}x{h}"] = b"\x00" + tcz
            seeds["tcz"][f"q{q}_{w}x{h}_fixcrc"] = b"\x01" + tcz
    for name in [k for k in app if k != "raw_hello"]:  # each also with a working backend (models run)
        app[name + "_models"] = bytes([app[name][0] | 0x40]) + app[name][1:]
    app["raw_hello_models"] = b"\xc0" + app["raw_hello"][1:]
    for target, files in seeds.items():
        d = a.out / target
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (d / name).write_bytes(data)


if __name__ == "__main__":
    main()
