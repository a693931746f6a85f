"""The results of a bench session, built from its records alone (results.json, results.csv, the .tcz files,
report.html), so an interrupted or finished session can be rebuilt without a device; and their text summary."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np

from .. import __version__, bitstream, metrics, tiling
from ..safeio import atomic_open, atomic_write
from .baselines import baselines_for
from .records import SCHEMA, SCHEMA_VERSION, STAGE_NAMES, STAGES, key, read_jsonl, recon_of, unb64
from .report import write_report
from .session import Config, Session, load_bundle


def dist(v: list[float]) -> dict | None:
    if not v:
        return None
    a = np.asarray(v, float)
    return {
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p95": float(np.percentile(a, 95)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": len(v),
    }


def stage_latency(recs: list[dict], pixels_per_image: dict[str, int] | None = None) -> dict:
    """Per stage: per-tile ticks and us (mean/median/p95); per image ms and per megapixel ms over the complete
    images (the keys of pixels_per_image). Device timer only."""
    out = {}
    for s in (*STAGES, "total"):
        ticks = [sum(r[f"{x}_ticks"] for x in STAGES) if s == "total" else r[f"{s}_ticks"] for r in recs]
        us = [t * 1e6 / r["tick_hz"] for t, r in zip(ticks, recs)]
        d = {"per_tile_ticks": dist(ticks), "per_tile_us": dist(us)}
        if pixels_per_image is not None:
            per_img: dict[str, float] = {}
            for u, r in zip(us, recs):  # complete images only (pixels_per_image has those)
                if r["image"] in pixels_per_image:
                    per_img[r["image"]] = per_img.get(r["image"], 0.0) + u / 1000
            d["per_image_ms"] = dist(list(per_img.values()))
            mp = sum(pixels_per_image[k] for k in per_img) / 1e6
            d["per_megapixel_ms"] = sum(per_img.values()) / mp if mp else None
        out[s] = d
    return out


def finalize(out: Path, run_stats: dict | None = None, baselines: bool = True, report: bool = True) -> dict:
    """Build results.json / results.csv / .tcz files / report.html from the session folder's records."""
    config = Config.load(out / "config.json")
    bundle = load_bundle(config)
    sess = Session(out, config, bundle)
    recs = {r["key"]: r for r in read_jsonl(out / "tiles.jsonl")}
    timing = read_jsonl(out / "timing.jsonl")
    boards = json.loads((out / "boards.json").read_text()) if (out / "boards.json").exists() else []
    work = sess.work()
    tcz_dir = out / "tcz"
    tcz_dir.mkdir(exist_ok=True)
    images, per_q = [], {}
    pixels: dict[int, dict[str, int]] = {}  # quality -> complete image -> pixels
    for q in config.qualities:
        for name in sess.images:
            keys = [key(*w) for w in work if w[0] == q and w[1] == name]
            got = [recs.get(k) for k in keys]
            if config.tiles or any(r is None for r in got):  # a sample (config.tiles) never makes a whole image
                continue
            img = sess.image(name)
            h, w = img.shape[:2]
            pixels.setdefault(q, {})[name] = h * w
            header = bitstream.Header(bundle.model_id, q, bundle.tile, w, h)
            tcz = bitstream.pack(header, [unb64(r["payload"]) for r in got])
            atomic_write(tcz_dir / f"{Path(name).stem}_q{q}.tcz", tcz)
            tiles = [np.frombuffer(recon_of(r), np.uint8).reshape(bundle.tile, bundle.tile, 3) for r in got]
            recon = tiling.join(tiles, h, w)
            lat = stage_latency(got)
            images.append(
                {
                    "quality": q,
                    "image": name,
                    "width": w,
                    "height": h,
                    "tiles": len(got),
                    "tcz_bytes": len(tcz),
                    "payload_bytes": sum(r["payload_bytes"] for r in got),
                    "bpp": metrics.bpp(len(tcz), h, w),
                    "psnr": min(metrics.psnr(img, recon), metrics.PSNR_CAP),
                    "ssim": metrics.ssim(img, recon),
                    "encode_mismatches": sum(not r["payload_match"] for r in got),
                    "decode_mismatches": sum(not r["recon_match"] for r in got),
                    "device_ms": {s: lat[s]["per_tile_us"]["mean"] * len(got) / 1000 for s in (*STAGES, "total")},
                    "boards": sorted({r["board"] for r in got}),
                    "retries": sum(r["retries"] for r in got),
                    "request_wall_s": sum(r["encode_wall_s"] + r["decode_wall_s"] for r in got),
                    "device_s": sum(_device(r) for r in got),
                    "link_s": sum(_link(r) for r in got),
                    "host_s": sum(r["host_s"] for r in got),
                }
            )
    n_exp = len(work)
    all_recs = [r for r in recs.values()]
    for q in config.qualities:
        imgs = [i for i in images if i["quality"] == q]
        rq = [r for r in all_recs if r["quality"] == q]
        tq = [r for r in timing if r["quality"] == q]
        timed = None
        if tq:  # MLPerf style: median over the repeats of each tile, then the distribution over tiles
            by_tile: dict[tuple, list[dict]] = {}
            for r in tq:
                by_tile.setdefault((r["board"], r["key"]), []).append(r)
            timed = {"warmup": config.warmup, "repeat": config.repeat, "tiles": len(by_tile), "stages": {}}
            for s in (*STAGES, "total"):

                def val(r, s=s):
                    t = sum(r[f"{x}_ticks"] for x in STAGES) if s == "total" else r[f"{s}_ticks"]
                    return t * 1e6 / r["tick_hz"]

                med = [statistics.median(val(r) for r in rs) for rs in by_tile.values()]
                spread = [max(val(r) for r in rs) - min(val(r) for r in rs) for rs in by_tile.values()]
                timed["stages"][s] = {"us": dist(med), "max_spread_us": max(spread)}
        per_q[q] = {
            "quality": q,
            "images": len(imgs),
            "tiles": len(rq),
            "bpp": statistics.fmean(i["bpp"] for i in imgs) if imgs else None,
            "psnr": statistics.fmean(i["psnr"] for i in imgs) if imgs else None,
            "ssim": statistics.fmean(i["ssim"] for i in imgs) if imgs else None,
            "encode_mismatches": sum(not r["payload_match"] for r in rq),
            "decode_mismatches": sum(not r["recon_match"] for r in rq),
            "latency": stage_latency(rq, pixels.get(q, {})) if rq else None,
            "timed": timed,
        }
        if config.tiles:  # a quick sample: per-tile figures (payload bytes only, no .tcz container)
            per_q[q]["sample"] = {
                "tiles": len(rq),
                "payload_bpp": statistics.fmean(r["payload_bytes"] * 8 / bundle.tile**2 for r in rq) if rq else None,
                "psnr": statistics.fmean(min(r["psnr"], metrics.PSNR_CAP) for r in rq) if rq else None,
            }
    per_board = []
    for bid in sorted({r["board"] for r in all_recs}):
        rb = [r for r in all_recs if r["board"] == bid]
        meta = next((b for b in boards if b["id"] == bid), {})
        per_board.append(
            {
                "id": bid,
                "board": meta.get("board") or rb[0].get("board_name"),
                "url": meta.get("url"),
                "tiles": len(rb),
                "retries": sum(r["retries"] for r in rb),
                "stale": sum(r["stale"] for r in rb),
                "garbled": sum(r["garbled"] for r in rb),
                "reboots": meta.get("reboots", 0),
                "failed": meta.get("failed"),
                "mismatches": sum((not r["payload_match"]) + (not r["recon_match"]) for r in rb),
                "latency_us": {s: dist([r[f"{s}_ticks"] * 1e6 / r["tick_hz"] for r in rb]) for s in STAGES},
                "link_s": sum(_link(r) for r in rb),
                "device_s": sum(_device(r) for r in rb),
            }
        )
    n = len(all_recs)
    runs = read_jsonl(out / "runs.jsonl")
    if run_stats is None and runs:
        run_stats = runs[-1]
    if run_stats is None and n > 1:  # older session without runs.jsonl: the span of the tiles' timestamps
        ts = sorted(r["t"] for r in all_recs)
        run_stats = {"wall_s": (ts[-1] - ts[0]) * n / (n - 1), "tiles_run": n, "estimated_from": "tile timestamps"}
    wall = (run_stats or {}).get("wall_s")
    time_split = {
        "tiles": n,
        "request_wall_s": sum(r["encode_wall_s"] + r["decode_wall_s"] for r in all_recs),
        "device_s": sum(_device(r) for r in all_recs),
        "link_s": sum(_link(r) for r in all_recs),
        "host_s": sum(r["host_s"] for r in all_recs),
        "host_wait_s": sum(r["host_wait_s"] for r in all_recs),
        "per_tile_ms": {
            "request_wall": 1000 * statistics.fmean(r["encode_wall_s"] + r["decode_wall_s"] for r in all_recs)
            if n
            else None,
            "device": 1000 * statistics.fmean(_device(r) for r in all_recs) if n else None,
            "link": 1000 * statistics.fmean(_link(r) for r in all_recs) if n else None,
            "host": 1000 * statistics.fmean(r["host_s"] for r in all_recs) if n else None,
            "host_not_overlapped": 1000 * statistics.fmean(r["host_wait_s"] for r in all_recs) if n else None,
        },
        "runs": len(runs),
        "this_run_wall_s": wall,
        "this_run_tiles": (run_stats or {}).get("tiles_run"),
        "tiles_per_s": ((run_stats or {}).get("tiles_run") or 0) / wall if wall else None,
        "note": "device = device timer ticks / tick_hz (under QEMU: virtual icount time); link = request wall time "
        "minus device time (UART transfer both ways, QEMU scheduling, framing, retries); host = HostCodec reference "
        "in a worker thread, overlapped with the device; host_wait = the part not hidden behind the device",
    }
    tb = bundle.tile * bundle.tile * 3
    up = sum(_frame(4 + tb) + _frame(4 + r["payload_bytes"]) for r in all_recs)  # ENCODE + DECODE requests
    down = sum(_frame(16 + r["payload_bytes"]) + _frame(16 + tb) for r in all_recs)  # their replies
    time_split["frame_bytes_host_to_device"] = up
    time_split["frame_bytes_device_to_host"] = down
    time_split["link_kB_per_s"] = (up + down) / 1000 / time_split["link_s"] if n and time_split["link_s"] > 0 else None
    # one quality of Kodak (24 images of 768 x 512 in this bundle's tiles) on one board at the measured request +
    # host-wait time per tile
    per_tile = (time_split["request_wall_s"] + time_split["host_wait_s"]) / n if n else None
    time_split["kodak_tiles"] = 24 * -(-512 // bundle.tile) * -(-768 // bundle.tile)
    time_split["kodak_eta_s_per_quality_one_board"] = time_split["kodak_tiles"] * per_tile if n else None
    result = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tinycodec_version": __version__,
        "created": config.created,
        "finalized": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "complete": n >= n_exp,
        "tiles": n,
        "tiles_expected": n_exp,
        "mismatches": sum((not r["payload_match"]) + (not r["recon_match"]) for r in all_recs),
        "encode_mismatches": sum(not r["payload_match"] for r in all_recs),
        "decode_mismatches": sum(not r["recon_match"] for r in all_recs),
        "model": {
            "name": bundle.manifest["name"],
            "model_hash": bundle.manifest["model_hash"],
            "train_step": bundle.manifest.get("train_step"),
            "tile": bundle.tile,
            "path": str(bundle.path),
        },
        "config": {k: v for k, v in config.as_dict().items() if k != "created"},
        "devices": boards,
        "bpp_source": "length of the .tcz built with bitstream.pack from the device's payloads (file header, "
        "LEB128 tile lengths and CRC included)",
        "qualities": [per_q[q] for q in config.qualities],
        "boards": per_board,
        "time": time_split,
        "images": images,
    }
    if baselines and report and images:
        result["baselines"] = baselines_for(out, sess, [i["image"] for i in images])
    atomic_write(out / "results.json", json.dumps(result, indent=1) + "\n")
    _write_csv(out / "results.csv", images)
    if report:
        write_report(out, result, sess)
    return result


def _frame(body: int) -> int:
    """Wire bytes of one frame with `body` bytes: 0x00 prefix + COBS(header 8 + body + CRC 4) + delimiter."""
    n = 8 + body + 4
    return 1 + n + n // 254 + 1 + 1


def _device(r: dict) -> float:
    return sum(r[f"{s}_ticks"] for s in STAGES) / r["tick_hz"]


def _link(r: dict) -> float:
    return r["encode_wall_s"] + r["decode_wall_s"] - _device(r)


def _write_csv(path: Path, images: list[dict]) -> None:
    import csv

    cols = ["quality", "image", "width", "height", "tiles", "tcz_bytes", "payload_bytes", "bpp", "psnr", "ssim"]
    cols += ["encode_mismatches", "decode_mismatches", "retries", "request_wall_s", "device_s", "link_s", "host_s"]
    with atomic_open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols + [f"device_ms_{s}" for s in (*STAGES, "total")] + ["boards"])
        for i in images:
            w.writerow(
                [i[c] for c in cols]
                + [round(i["device_ms"][s], 3) for s in (*STAGES, "total")]
                + ["+".join(i["boards"])]
            )


def strip_timing(result: dict) -> dict:
    """results.json without what depends on time, the link or the run's history (wall times, device ticks, which
    board did what, retries, timing repeats, baselines): the part two runs over the same images must agree on."""
    r = json.loads(json.dumps(result))
    for k in ("created", "finalized", "time", "devices", "boards", "config", "baselines"):
        r.pop(k, None)
    for q in r.get("qualities", []):
        q.pop("latency", None)
        q.pop("timed", None)
    for i in r.get("images", []):
        for k in ("retries", "boards", "device_ms", "request_wall_s", "device_s", "link_s", "host_s"):
            i.pop(k, None)
    return r


def format_summary(r: dict) -> str:
    lines = [
        f"model {r['model']['name']} {r['model']['model_hash'][:12]}  tiles {r['tiles']}/{r['tiles_expected']}  "
        f"mismatches {r['mismatches']} (payload {r['encode_mismatches']}, recon {r['decode_mismatches']})"
        + ("" if r["complete"] else "  INCOMPLETE"),
    ]
    for d in r["devices"]:
        lines.append(
            f"{d['id']}: {d['board']} {d['backend']} fw {d['fw_version']} tick {d['tick_hz']} Hz ({d['tick_note']})"
        )
    for q in r["qualities"]:
        if q["bpp"] is not None:
            lines.append(
                f"q{q['quality']}: {q['images']} images, {q['bpp']:.4f} bpp (.tcz), PSNR {q['psnr']:.2f} dB, "
                f"SSIM {q['ssim']:.4f}"
            )
        he = {int(p["param"]): p for p in r.get("baselines", {}).get("host_eval", {}).get("points", [])}
        if q["bpp"] is not None and q["quality"] in he:
            h = he[q["quality"]]
            lines.append(
                f"  host `tinycodec eval` on the same images ({r['baselines']['host_eval']['source']}): "
                f"{h['bpp']:.4f} bpp, PSNR {h['psnr']:.2f} dB, SSIM {h['ssim']:.4f}"
            )
        sample = q.get("sample")
        if sample and sample["tiles"]:
            lines.append(
                f"q{q['quality']}: sample of {sample['tiles']} tiles, {sample['payload_bpp']:.4f} bpp (tile payloads), "
                f"PSNR {sample['psnr']:.2f} dB (per tile)"
            )
        lat = q["latency"]
        if lat:
            lines.append(
                "  device per tile (median us): "
                + ", ".join(f"{STAGE_NAMES[s]} {lat[s]['per_tile_us']['median']:.0f}" for s in STAGES)
                + f"; per megapixel {lat['total']['per_megapixel_ms'] or 0:.0f} ms"
            )
    t = r["time"]
    pt = t["per_tile_ms"]
    if pt["request_wall"] is not None:
        lines.append(
            f"per tile: request wall {pt['request_wall']:.0f} ms = device {pt['device']:.0f} ms + link "
            f"{pt['link']:.0f} ms; host reference {pt['host']:.0f} ms "
            f"(not overlapped {pt['host_not_overlapped']:.0f} ms); link {t['link_kB_per_s']:.1f} kB/s both ways"
        )
    if t.get("tiles_per_s"):
        lines.append(
            f"this run: {t['this_run_tiles']} tiles in {t['this_run_wall_s']:.1f} s = {t['tiles_per_s']:.2f} tiles/s; "
            f"full Kodak at one quality ({t.get('kodak_tiles', 2304)} tiles) on one board: "
            f"~{t['kodak_eta_s_per_quality_one_board'] / 60:.0f} min"
        )
    return "\n".join(lines)
