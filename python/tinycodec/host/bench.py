"""`tinycodec bench`: stream Kodak tiles through the device, compare every output with the host oracle.

For each tile: RUN encoder on the device -> int8 latent (compared with TFLM on the host), RUN decoder on
the device with the device's latent -> reconstruction (compared with TFLM on the host), bytes of the
latent entropy-coded with the shipped tables, PSNR/SSIM of the reconstruction vs the tile.
Device time comes from the device timer only (ticks + tick rate it reports).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import metrics, tiling
from ..bundle import Bundle
from ..codec import HostCodec
from ..data import verify_folder
from ..imageio import read_rgb
from .transport import Device

SCHEMA_VERSION = 1


class BenchError(Exception):
    """The device or the inputs cannot be benchmarked (wrong model, missing images...)."""


@dataclass(frozen=True)
class TileResult:
    image: str
    index: int
    enc_ticks: int
    dec_ticks: int
    latent_match: bool
    recon_match: bool
    payload_bytes: int
    psnr: float
    ssim: float


def check_device(info, bundle: Bundle) -> dict[str, int]:
    if info.model_hash != bundle.model_hash:
        raise BenchError(
            f"device runs model {info.model_hash.hex()[:16]}, host has {bundle.manifest['model_hash'][:16]} "
            f"({bundle.path}); flash the firmware built from this model (make flash)"
        )
    return {m.name: i for i, m in enumerate(info.models)}


def pick_tiles(images: Path, tile: int, n: int) -> list[tuple[str, int, np.ndarray]]:
    paths = verify_folder(images) if (images / "SHA256SUMS").exists() else sorted(images.glob("*.png"))
    if not paths:
        raise BenchError(f"{images}: no PNG images")
    out: list[tuple[str, int, np.ndarray]] = []
    for p in paths:
        img, _ = read_rgb(p)
        tiles = tiling.split(img, tile)
        step = max(1, len(tiles) // max(1, n // len(paths) or 1))
        for i in range(0, len(tiles), step):
            out.append((p.name, i, tiles[i]))
            if len(out) >= n:
                return out
    return out


def run_bench(dev: Device, bundle: Bundle, quality: int, images: Path, n_tiles: int, progress=None) -> dict:
    info = dev.hello()
    index = check_device(info, bundle)
    enc_i, dec_i = index.get(f"enc_q{quality}"), index.get(f"dec_q{quality}")
    if enc_i is None or dec_i is None:
        raise BenchError(f"device has no models for quality {quality} ({', '.join(index)})")
    codec = HostCodec(bundle)
    results: list[TileResult] = []
    t_start = time.perf_counter()
    tiles = pick_tiles(images, bundle.tile, n_tiles)
    it = progress(tiles) if progress else tiles
    for name, idx, tile in it:
        q_in = (tile.astype(np.int16) - 128).astype(np.int8)
        enc = dev.run(enc_i, q_in.tobytes())
        latent = np.frombuffer(enc.output, np.int8).reshape(codec.latent_shape(quality))
        host_latent = codec.analyse(tile, quality)
        dec = dev.run(dec_i, latent.tobytes())
        recon = (np.frombuffer(dec.output, np.int8).astype(np.int16) + 128).astype(np.uint8).reshape(tile.shape)
        host_recon = codec.synthesise(latent, quality)
        payload = codec.encode_tile(tile, quality) if np.array_equal(latent, host_latent) else b""
        results.append(
            TileResult(
                name,
                idx,
                enc.ticks,
                dec.ticks,
                bool(np.array_equal(latent, host_latent)),
                bool(np.array_equal(recon, host_recon)),
                len(payload),
                metrics.psnr(tile, recon),
                metrics.ssim(tile, recon),
            )
        )
    wall = time.perf_counter() - t_start
    return summarize(info, bundle, quality, results, wall)


def summarize(info, bundle: Bundle, quality: int, results: list[TileResult], wall: float) -> dict:
    def stats(v: list[int]) -> dict:
        return {"mean": statistics.fmean(v), "median": statistics.median(v), "min": min(v), "max": max(v)}

    hz = info.tick_hz
    enc, dec = [r.enc_ticks for r in results], [r.dec_ticks for r in results]
    tile_px = bundle.tile * bundle.tile
    mismatches = sum((not r.latent_match) + (not r.recon_match) for r in results)
    return {
        "schema": "tinycodec-bench",
        "schema_version": SCHEMA_VERSION,
        "device": {
            "board": info.board,
            "backend": info.backend,
            "fw_version": info.fw_version,
            "tick_hz": hz,
            "ram_bytes": info.ram_bytes,
            "model_hash": info.model_hash.hex(),
            "tick_note": "under QEMU -icount shift=0, 1 tick = 40 guest instructions; not silicon time"
            if info.board.startswith("mps")
            else "device timer",
        },
        "model": {"name": bundle.manifest["name"], "quality": quality, "tile": bundle.tile},
        "tiles": len(results),
        "mismatches": mismatches,
        "enc_ticks": stats(enc),
        "dec_ticks": stats(dec),
        "enc_us": stats([t * 1e6 / hz for t in enc]),
        "dec_us": stats([t * 1e6 / hz for t in dec]),
        "bpp_mean": statistics.fmean(metrics.bpp(r.payload_bytes, bundle.tile, bundle.tile) for r in results),
        "psnr_mean": statistics.fmean(r.psnr for r in results),
        "ssim_mean": statistics.fmean(r.ssim for r in results),
        "host_wall_s": wall,
        "tile_pixels": tile_px,
        "per_tile": [asdict(r) for r in results],
    }


def format_summary(s: dict) -> str:
    d = s["device"]
    lines = [
        f"device: {d['board']} backend={d['backend']} fw={d['fw_version']} tick={d['tick_hz']} Hz "
        f"ram={d['ram_bytes']} B ({d['tick_note']})",
        f"model: {s['model']['name']} q{s['model']['quality']} tile {s['model']['tile']}  tiles: {s['tiles']}  "
        f"mismatches: {s['mismatches']}",
        f"encoder: {s['enc_ticks']['median']:.0f} ticks/tile median ({s['enc_us']['median']:.0f} us at tick rate)",
        f"decoder: {s['dec_ticks']['median']:.0f} ticks/tile median ({s['dec_us']['median']:.0f} us at tick rate)",
        f"quality: {s['bpp_mean']:.3f} bpp (rANS bytes of the device latent), PSNR {s['psnr_mean']:.2f} dB, "
        f"SSIM {s['ssim_mean']:.4f}",
        f"host wall time: {s['host_wall_s']:.1f} s",
    ]
    return "\n".join(lines)


def write_results(s: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(s, indent=1) + "\n")
    return path
