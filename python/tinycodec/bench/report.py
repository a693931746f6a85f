"""report.html of a bench session: one self-contained page (PNGs inlined as base64), rendered from results.json."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from ..evalreport import plot_rd
from ..safeio import atomic_write
from .records import STAGE_NAMES, STAGES, read_jsonl, recon_of
from .session import Session

CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f2f2f2}
td.l,th.l{text-align:left}
.bad{color:#b00;font-weight:bold}.ok{color:#070}
img{max-width:100%}
.note{color:#555;font-size:13px}
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def rd_png(result: dict, path: Path) -> Path | None:
    """Device points (one per quality) against the baselines on the same images, via evalreport.plot_rd."""
    pts = [
        {"label": f"q{q['quality']}", "bpp": q["bpp"], "psnr": q["psnr"], "ssim": q["ssim"]}
        for q in result["qualities"]
        if q["bpp"] is not None
    ]
    if not pts:
        return None
    codecs = {"tinycodec": pts, **result.get("baselines", {}).get("codecs", {})}
    n = len({i["image"] for i in result["images"]})
    report = {
        "codecs": codecs,
        "dataset": {"name": "device (bench)", "n_images": n},
        "model": {**result["model"], "train_step": result["model"].get("train_step")},
    }
    return plot_rd(report, path)


def latency_png(out: Path) -> str | None:
    recs = read_jsonl(out / "tiles.jsonl")
    if not recs:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    for ax, s in zip(axes, STAGES):
        for q in sorted({r["quality"] for r in recs}):
            v = [r[f"{s}_ticks"] * 1e6 / r["tick_hz"] for r in recs if r["quality"] == q]
            ax.hist(v, bins=min(30, max(1, len(set(v)))), alpha=0.6, label=f"q{q}")
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
        ax.set_title(STAGE_NAMES[s], fontsize=10)
        ax.set_xlabel("device time per tile (us)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("tiles")
    fig.tight_layout()
    return _png(fig)


def time_png(result: dict) -> str | None:
    pt = result["time"]["per_tile_ms"]
    if pt["request_wall"] is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 1.8))
    parts = [("device compute", pt["device"], "tab:red"), ("link (UART, QEMU, retries)", pt["link"], "tab:blue")]
    parts.append(("host wait (reference not hidden)", pt["host_not_overlapped"], "tab:orange"))
    left = 0.0
    for label, v, c in parts:
        ax.barh([0], [v], left=left, color=c, label=f"{label}: {v:.0f} ms")
        left += v
    ax.barh([1], [pt["host"]], color="tab:green", label=f"host reference (worker thread): {pt['host']:.0f} ms")
    ax.set_yticks([0, 1], ["device thread", "host worker"])
    ax.set_xlabel("ms per tile (ENCODE + DECODE)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return _png(fig)


def crops_png(result: dict, sess: Session) -> tuple[str, str] | None:
    """Original | tinycodec (device) | JPEG at the nearest bpp, on a crop of the first complete image."""
    from .. import baselines, metrics, tiling

    if not result["images"]:
        return None
    qs = [q["quality"] for q in result["qualities"] if q["bpp"] is not None]
    q = qs[len(qs) // 2]
    row = next(i for i in result["images"] if i["quality"] == q)
    recs = {
        r["key"]: r for r in read_jsonl(sess.out / "tiles.jsonl") if r["quality"] == q and r["image"] == row["image"]
    }
    img = sess.image(row["image"])
    h, w = img.shape[:2]
    t = sess.tile
    tiles = [
        np.frombuffer(recon_of(recs[f"q{q}/{row['image']}/{k}"]), np.uint8).reshape(t, t, 3) for k in range(len(recs))
    ]
    recon = tiling.join(tiles, h, w)
    best = None
    for jq in range(1, 96):
        data, out = baselines.Setting("jpeg", jq).round_trip(img)
        b = metrics.bpp(len(data), h, w)
        if best is None or abs(b - row["bpp"]) < abs(best[0] - row["bpp"]):
            best = (b, jq, out)
        if b > row["bpp"] * 1.5:
            break
    jb, jq, jout = best
    c = min(192, h, w)
    y0, x0 = (h - c) // 2, (w - c) // 2
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.3))
    panels = [
        (img, "original"),
        (recon, f"tinycodec q{q} (device): {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB"),
        (jout, f"JPEG q{jq}: {jb:.3f} bpp, {metrics.psnr(img, jout):.2f} dB"),
    ]
    for ax, (im, title) in zip(axes, panels):
        ax.imshow(im[y0 : y0 + c, x0 : x0 + c], interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return _png(fig), f"{row['image']}, centre crop {c}x{c}, whole-image bpp/PSNR"


def _f(x, fmt=".2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _table(head: list[str], rows: list[list], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def render(result: dict, out: Path, sess: Session) -> str:
    m = result["model"]
    mis = result["mismatches"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>tinycodec bench</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>tinycodec bench: {html.escape(m['name'])} <small>{m['model_hash'][:12]}</small></h1>",
        f"<p>{result['tiles']}/{result['tiles_expected']} tiles"
        + ("" if result["complete"] else " <span class='bad'>(INCOMPLETE: resume with --resume)</span>")
        + f", {len({i['image'] for i in result['images']})} complete images. Mismatches with the host codec: "
        f"<span class='{'bad' if mis else 'ok'}'>{mis}</span> (payload {result['encode_mismatches']}, "
        f"reconstruction {result['decode_mismatches']}). Created {html.escape(result['created'])}.</p>",
        "<h2>Devices</h2>",
        _table(
            [
                "id",
                "board",
                "backend",
                "fw",
                "tick Hz",
                "RAM B",
                "tiles",
                "retries",
                "stale",
                "garbled",
                "reboots",
                "failed",
            ],
            [
                [
                    b["id"],
                    html.escape(str(b["board"])),
                    html.escape(str(next((d["backend"] for d in result["devices"] if d["id"] == b["id"]), ""))),
                    html.escape(str(next((d["fw_version"] for d in result["devices"] if d["id"] == b["id"]), ""))),
                    next((d["tick_hz"] for d in result["devices"] if d["id"] == b["id"]), ""),
                    next((d["ram_bytes"] for d in result["devices"] if d["id"] == b["id"]), ""),
                    b["tiles"],
                    b["retries"],
                    b["stale"],
                    b["garbled"],
                    b["reboots"],
                    html.escape(str(b["failed"] or "")),
                ]
                for b in result["boards"]
            ],
            left=4,
        ),
        "<p class='note'>" + html.escape("; ".join(sorted({d["tick_note"] for d in result["devices"]}))) + "</p>",
        "<h2>Rate-distortion (device points vs classic codecs on the same images)</h2>",
        _table(
            ["quality", "images", "bpp (.tcz)", "PSNR dB", "SSIM", "payload mism.", "recon mism."],
            [
                [
                    f"q{q['quality']}",
                    q["images"],
                    _f(q["bpp"], ".4f"),
                    _f(q["psnr"]),
                    _f(q["ssim"], ".4f"),
                    q["encode_mismatches"],
                    q["decode_mismatches"],
                ]
                for q in result["qualities"]
            ],
        ),
    ]
    he = result.get("baselines", {}).get("host_eval", {})
    if he.get("points"):
        parts.append(
            "<p>Host check: <code>tinycodec eval</code> of the same model on the same images "
            f"({html.escape(he['source'])}): "
            + "; ".join(
                f"q{int(p['param'])} {p['bpp']:.4f} bpp, {p['psnr']:.2f} dB, SSIM {p['ssim']:.4f}" for p in he["points"]
            )
            + ". The device's numbers must be the same (same bytes, same reconstructions).</p>"
        )
    rd = rd_png(result, out / "rd.png")
    if rd:
        parts.append(_img(base64.b64encode(rd.read_bytes()).decode(), "RD plot"))
        notes = result.get("baselines", {}).get("notes", [])
        note = html.escape(result["bpp_source"] + ". " + " ".join(notes))
        parts.append(f"<p class='note'>bpp: {note}</p>")
    parts.append("<h2>Device latency (device timer)</h2>")
    rows = []
    for q in result["qualities"]:
        lat = q["latency"]
        if not lat:
            continue
        for s in (*STAGES, "total"):
            d = lat[s]
            timed = (q["timed"] or {}).get("stages", {}).get(s)
            rows.append(
                [
                    f"q{q['quality']}",
                    STAGE_NAMES.get(s, "total"),
                    _f(d["per_tile_us"]["mean"], ".0f"),
                    _f(d["per_tile_us"]["median"], ".0f"),
                    _f(d["per_tile_us"]["p95"], ".0f"),
                    _f(d["per_tile_ticks"]["median"], ".0f"),
                    _f((d["per_image_ms"] or {}).get("mean"), ".1f"),
                    _f(d["per_megapixel_ms"], ".1f"),
                    _f(timed["us"]["median"], ".0f") if timed else "n/a",
                    _f(timed["max_spread_us"], ".1f") if timed else "n/a",
                ]
            )
    parts.append(
        _table(
            [
                "quality",
                "stage",
                "us/tile mean",
                "median",
                "p95",
                "ticks/tile median",
                "ms/image mean",
                "ms/MP",
                "timed median us",
                "repeat spread us",
            ],
            rows,
            left=2,
        )
    )
    cfg = result["config"]
    parts.append(
        f"<p class='note'>All tiles of the run; 'timed': MLPerf-Tiny style, {cfg['warmup']} warm-up request(s), then "
        f"{cfg['repeat']} timed runs of {cfg['timing_tiles']} tile(s) per quality, median per tile.</p>"
    )
    lp = latency_png(out)
    if lp:
        parts.append(_img(lp, "latency histograms"))
    parts.append("<h2>Where the time goes (host wall clock)</h2>")
    tp = time_png(result)
    if tp:
        parts.append(_img(tp, "time split"))
    t = result["time"]
    parts.append("<p class='note'>" + html.escape(t["note"]) + "</p>")
    if t.get("link_kB_per_s"):
        parts.append(
            f"<p>Link: {t['frame_bytes_host_to_device'] / 1e6:.2f} MB host to device, "
            f"{t['frame_bytes_device_to_host'] / 1e6:.2f} MB device to host (frames), "
            f"{t['link_kB_per_s']:.1f} kB/s over the link time.</p>"
        )
    if t.get("tiles_per_s"):
        parts.append(
            f"<p>This run: {t['this_run_tiles']} tiles in {t['this_run_wall_s']:.1f} s = {t['tiles_per_s']:.2f} "
            f"tiles/s over {len(result['boards'])} board(s). Full Kodak at one quality ({t.get('kodak_tiles', 2304)} "
            "tiles) on one board at "
            f"the "
            f"measured time per tile: ~{t['kodak_eta_s_per_quality_one_board'] / 60:.0f} min.</p>"
        )
    cr = crops_png(result, sess)
    if cr:
        parts += ["<h2>Side by side</h2>", _img(cr[0], "crops"), f"<p class='note'>{html.escape(cr[1])}</p>"]
    parts.append("<h2>Per board</h2>")
    parts.append(
        _table(
            ["id", "board", "tiles", "mismatches", "enc us median", "ec", "ed", "dec", "device s", "link s"],
            [
                [
                    b["id"],
                    html.escape(str(b["board"])),
                    b["tiles"],
                    b["mismatches"],
                    *[_f(b["latency_us"][s]["median"], ".0f") for s in STAGES],
                    _f(b["device_s"], ".1f"),
                    _f(b["link_s"], ".1f"),
                ]
                for b in result["boards"]
            ],
            left=2,
        )
    )
    parts.append("<h2>Per image</h2>")
    parts.append(
        _table(
            ["image", "q", "size", ".tcz bytes", "bpp", "PSNR dB", "SSIM", "device ms", "mismatches", "retries"],
            [
                [
                    html.escape(i["image"]),
                    i["quality"],
                    f"{i['width']}x{i['height']}",
                    i["tcz_bytes"],
                    _f(i["bpp"], ".4f"),
                    _f(i["psnr"]),
                    _f(i["ssim"], ".4f"),
                    _f(i["device_ms"]["total"], ".1f"),
                    i["encode_mismatches"] + i["decode_mismatches"],
                    i["retries"],
                ]
                for i in result["images"]
            ],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out: Path, result: dict, sess: Session) -> Path:
    path = out / "report.html"
    atomic_write(path, render(result, out, sess))
    return path
