"""A sample of Kodak tiles through the device, every output compared with the host oracle (schema 2).

The library function behind the end-to-end tests (tests/test_e2e_qemu.py); it also keeps the RUN-only path for
firmware without the codec. `tinycodec bench` itself runs whole images into a session folder: host/session.py.

Two paths, chosen by what the device reports in INFO (docs/bench.md):
- "codec" (device has CAP_CODEC): ENCODE each RGB tile on the device -> rANS payload, compared byte for byte
  with HostCodec.encode_tile; then DECODE the DEVICE's payload on the device -> RGB tile, compared with
  HostCodec.decode_tile of the same payload. bpp = the device's payload bytes. Four stages timed on the device:
  encoder inference, entropy coding, entropy decoding, decoder inference.
- "run" (older firmware): RUN encoder -> int8 latent (compared with TFLM on the host), RUN decoder on the
  device's latent -> reconstruction (compared with TFLM on the host); bpp from the host's rANS of the latent.
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
from ..safeio import atomic_write
from .transport import Device

SCHEMA_VERSION = 2  # 2: codec mode, per-stage ticks, encode/decode mismatches (docs/bench.md)


class BenchError(Exception):
    """The device or the inputs cannot be benchmarked (wrong model, missing images...)."""


@dataclass(frozen=True)
class TileResult:
    image: str
    index: int
    enc_ticks: int  # encoder inference
    dec_ticks: int  # decoder inference
    latent_match: bool | None  # run mode: device latent == host TFLM latent (None in codec mode)
    recon_match: bool  # device reconstruction == host reconstruction (of the device's latent / payload)
    payload_bytes: int  # codec mode: the device's payload; run mode: host rANS of the device latent
    psnr: float
    ssim: float
    ec_ticks: int | None = None  # codec mode: entropy coding of the latent on the device
    ed_ticks: int | None = None  # codec mode: entropy decoding of the payload on the device
    payload_match: bool | None = None  # codec mode: device payload == HostCodec.encode_tile

    @property
    def encode_ok(self) -> bool:
        return bool(self.payload_match if self.payload_match is not None else self.latent_match)


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


def run_bench(
    dev: Device,
    bundle: Bundle,
    quality: int,
    images: Path,
    n_tiles: int,
    progress=None,
    mode: str = "auto",
) -> dict:
    """Bench n_tiles tiles at `quality`. mode: "auto" (codec if the device supports it, else run),
    "codec" (fail if unsupported) or "run" (model-only path, works with every firmware)."""
    info = dev.hello()
    index = check_device(info, bundle)
    if mode not in ("auto", "codec", "run"):
        raise BenchError(f"mode must be auto, codec or run, not {mode!r}")
    use_codec = info.has_codec if mode == "auto" else mode == "codec"
    if use_codec and not info.has_codec:
        raise BenchError("the device does not support ENCODE/DECODE (firmware without the codec)")
    if use_codec and quality not in info.qualities:
        raise BenchError(f"device has no tables for quality {quality} (it has {list(info.qualities)})")
    enc_i, dec_i = index.get(f"enc_q{quality}"), index.get(f"dec_q{quality}")
    if not use_codec and (enc_i is None or dec_i is None):
        raise BenchError(f"device has no models for quality {quality} ({', '.join(index)})")
    codec = HostCodec(bundle)
    results: list[TileResult] = []
    t_start = time.perf_counter()
    tiles = pick_tiles(images, bundle.tile, n_tiles)
    it = progress(tiles) if progress else tiles
    for name, idx, tile in it:
        if use_codec:
            results.append(_codec_tile(dev, codec, quality, name, idx, tile))
        else:
            results.append(_run_tile(dev, codec, quality, enc_i, dec_i, name, idx, tile))
    wall = time.perf_counter() - t_start
    return summarize(info, bundle, quality, results, wall, "codec" if use_codec else "run")


def _codec_tile(dev: Device, codec: HostCodec, quality: int, name: str, idx: int, tile: np.ndarray) -> TileResult:
    tile = np.ascontiguousarray(tile, np.uint8)
    enc = dev.encode(quality, tile.tobytes())
    host_payload = codec.encode_tile(tile, quality)
    dec = dev.decode(quality, enc.payload)  # the DEVICE's payload, whatever the host made
    recon = np.frombuffer(dec.tile, np.uint8).reshape(tile.shape)
    host_recon = codec.decode_tile(enc.payload, quality)
    return TileResult(
        name,
        idx,
        enc.ticks_enc,
        dec.ticks_dec,
        None,
        bool(np.array_equal(recon, host_recon)),
        len(enc.payload),
        metrics.psnr(tile, recon),
        metrics.ssim(tile, recon),
        ec_ticks=enc.ticks_ec,
        ed_ticks=dec.ticks_ed,
        payload_match=enc.payload == host_payload,
    )


def _run_tile(dev, codec, quality, enc_i, dec_i, name, idx, tile) -> TileResult:
    q_in = (tile.astype(np.int16) - 128).astype(np.int8)
    enc = dev.run(enc_i, q_in.tobytes())
    latent = np.frombuffer(enc.output, np.int8).reshape(codec.latent_shape(quality))
    host_latent = codec.analyse(tile, quality)
    dec = dev.run(dec_i, latent.tobytes())
    recon = (np.frombuffer(dec.output, np.int8).astype(np.int16) + 128).astype(np.uint8).reshape(tile.shape)
    host_recon = codec.synthesise(latent, quality)
    payload = codec.encode_tile(tile, quality) if np.array_equal(latent, host_latent) else b""
    return TileResult(
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


def summarize(info, bundle: Bundle, quality: int, results: list[TileResult], wall: float, mode: str = "run") -> dict:
    def stats(v: list[int]) -> dict:
        return {"mean": statistics.fmean(v), "median": statistics.median(v), "min": min(v), "max": max(v)}

    hz = info.tick_hz
    tile_px = bundle.tile * bundle.tile
    enc_mis = sum(not r.encode_ok for r in results)
    dec_mis = sum(not r.recon_match for r in results)
    stages = {"enc": [r.enc_ticks for r in results], "dec": [r.dec_ticks for r in results]}
    if mode == "codec":
        stages["ec"] = [r.ec_ticks for r in results]
        stages["ed"] = [r.ed_ticks for r in results]
    out = {
        "schema": "tinycodec-bench",
        "schema_version": SCHEMA_VERSION,
        "mode": mode,
        "device": {
            "board": info.board,
            "backend": info.backend,
            "fw_version": info.fw_version,
            "tick_hz": hz,
            "ram_bytes": info.ram_bytes,
            "model_hash": info.model_hash.hex(),
            "capabilities": getattr(info, "capabilities", 0),
            "qualities": list(getattr(info, "qualities", ())),
            "tick_note": "under QEMU -icount shift=0, 1 tick = 40 guest instructions; not silicon time"
            if info.board.startswith("mps")
            else "device timer",
        },
        "model": {"name": bundle.manifest["name"], "quality": quality, "tile": bundle.tile},
        "tiles": len(results),
        "mismatches": enc_mis + dec_mis,
        "encode_mismatches": enc_mis,
        "decode_mismatches": dec_mis,
        "bpp_source": "device payload" if mode == "codec" else "host rANS of the device latent",
    }
    for k in ("enc", "ec", "ed", "dec"):
        v = stages.get(k)
        out[f"{k}_ticks"] = stats(v) if v else None
        out[f"{k}_us"] = stats([t * 1e6 / hz for t in v]) if v else None
    out.update(
        {
            "bpp_mean": statistics.fmean(metrics.bpp(r.payload_bytes, bundle.tile, bundle.tile) for r in results),
            "psnr_mean": statistics.fmean(r.psnr for r in results),
            "ssim_mean": statistics.fmean(r.ssim for r in results),
            "host_wall_s": wall,
            "tile_pixels": tile_px,
            "per_tile": [asdict(r) for r in results],
        }
    )
    return out


_STAGES = (
    ("enc", "encoder inference"),
    ("ec", "entropy coding"),
    ("ed", "entropy decoding"),
    ("dec", "decoder inference"),
)


def format_summary(s: dict) -> str:
    d = s["device"]
    mode = s.get("mode", "run")
    mis = f"mismatches: {s['mismatches']}"
    if "encode_mismatches" in s:
        what = ("payload", "recon") if mode == "codec" else ("latent", "recon")
        mis += f" ({what[0]} {s['encode_mismatches']}, {what[1]} {s['decode_mismatches']})"
    lines = [
        f"device: {d['board']} backend={d['backend']} fw={d['fw_version']} tick={d['tick_hz']} Hz "
        f"ram={d['ram_bytes']} B ({d['tick_note']})",
        f"model: {s['model']['name']} q{s['model']['quality']} tile {s['model']['tile']}  tiles: {s['tiles']}  "
        f"mode: {mode} ({'ENCODE/DECODE on the device' if mode == 'codec' else 'RUN models, rANS on the host'})  "
        + mis,
    ]
    for k, label in _STAGES:
        t, us = s.get(f"{k}_ticks"), s.get(f"{k}_us")
        if t:
            lines.append(
                f"{label + ':':19s} {t['median']:>10.0f} ticks/tile median ({us['median']:.0f} us at tick rate)"
            )
    src = s.get("bpp_source", "rANS bytes of the device latent")
    lines += [
        f"quality: {s['bpp_mean']:.3f} bpp ({src}), PSNR {s['psnr_mean']:.2f} dB, SSIM {s['ssim_mean']:.4f}",
        f"host wall time: {s['host_wall_s']:.1f} s",
    ]
    return "\n".join(lines)


def write_results(s: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    atomic_write(path, json.dumps(s, indent=1) + "\n")
    return path
