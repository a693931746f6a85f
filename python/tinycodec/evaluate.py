"""Rate-distortion evaluation: tinycodec (every shipped quality) vs JPEG / WebP / JPEG 2000 on one image folder.

bpp comes from real bytes (the .tcz file, the JPEG/WebP/J2K file); PSNR and SSIM are measured on 8-bit RGB per
image and averaged over images. The JSON written here is the single source of the plot and the model card
(schema: docs/eval.md).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__, baselines, rd
from .bundle import Bundle
from .imageio import Dataset, find_images, read_rgb
from .metrics import PSNR_CAP, bpp, psnr, ssim
from .safeio import atomic_write

SCHEMA = "tinycodec-eval"
SCHEMA_VERSION = 1
BPP_TARGETS = (0.25, 0.5)
ANCHORS = ("jpeg", "webp")
PSNR_TARGETS = {"0.25": 27.5, "0.5": 30.5}  # issue 10 (codec v2): dB on Kodak at these bpp
BD_RATE_TARGET = {"jpeg": -20.0}  # issue 10: percent, at most


@dataclass(frozen=True)
class ImageScore:
    image: str
    bpp: float
    psnr: float
    ssim: float
    bytes: int


@dataclass(frozen=True)
class PointResult:
    """One codec at one setting: means over images plus the per-image values."""

    codec: str
    label: str
    param: float
    bpp: float
    psnr: float
    ssim: float
    images: tuple[ImageScore, ...]


def _score(name: str, img: np.ndarray, n_bytes: int, out: np.ndarray) -> ImageScore:
    return ImageScore(name, bpp(n_bytes, *img.shape[:2]), min(psnr(img, out), PSNR_CAP), ssim(img, out), n_bytes)


def _point(codec: str, label: str, param: float, scores: list[ImageScore]) -> PointResult:
    return PointResult(
        codec,
        label,
        param,
        float(np.mean([s.bpp for s in scores])),
        float(np.mean([s.psnr for s in scores])),
        float(np.mean([s.ssim for s in scores])),
        tuple(scores),
    )


def model_info(bundle: Bundle) -> dict:
    m = bundle.manifest
    keys = ("name", "role", "quality", "size", "params", "kmac_per_pixel", "tflm_arena_bytes")
    return {
        "name": m.get("name"),
        "path": str(bundle.path),
        "model_hash": m["model_hash"],
        "train_step": m.get("train_step"),
        "train_time": m.get("train_time"),
        "tile": bundle.tile,
        "qualities": bundle.qualities,
        "lambdas": m.get("lambdas"),
        "models": [{k: e.get(k) for k in keys} for e in m["models"]],
    }


class CodecTimer:
    """Wall and process-CPU seconds of tinycodec's compress / decompress per quality (the host codec's speed)."""

    def __init__(self) -> None:
        self.totals: dict[int, dict[str, float]] = {}
        self.load_start = os.getloadavg()[0]

    @contextmanager
    def stage(self, quality: int, name: str):
        w0, c0 = time.perf_counter(), time.process_time()
        yield
        t = self.totals.setdefault(quality, {"images": 0})
        t[f"{name}_s"] = t.get(f"{name}_s", 0.0) + time.perf_counter() - w0
        t[f"{name}_cpu_s"] = t.get(f"{name}_cpu_s", 0.0) + time.process_time() - c0
        if name == "compress":
            t["images"] += 1

    def merge(self, totals: dict[int, dict[str, float]]) -> None:
        """Add another process's totals (parallel sweeps)."""
        for q, t in totals.items():
            mine = self.totals.setdefault(q, {"images": 0})
            for k, v in t.items():
                mine[k] = mine.get(k, 0) + v

    def report(self) -> dict:
        """JSON-ready: per quality totals over the folder (s), plus the machine's state."""
        return {
            "per_quality": {str(q): {k: round(v, 2) for k, v in t.items()} for q, t in sorted(self.totals.items())},
            "cpus": os.cpu_count(),
            "loadavg_1min": {"start": round(self.load_start, 2), "end": round(os.getloadavg()[0], 2)},
            "method": "time.perf_counter (wall) and time.process_time (CPU, all threads) around HostCodec.compress "
            "and .decompress of each image in the process that ran it, models already loaded after its first image "
            "(with workers > 1 several such processes share the cores); "
            "baselines and metrics excluded",
        }


class SeamMeter:
    """Tile seams of tinycodec's reconstructions per quality: PSNR within 4 px of internal tile edges vs >= 8 px
    inside (metrics.seam_psnr), pooled over the images' squared errors."""

    BAND, INNER = 4, 8

    def __init__(self, tile: int) -> None:
        self.tile = tile
        self.sums: dict[int, list[float]] = {}  # quality -> [edge SE, edge px, inner SE, inner px, all px]

    def add(self, quality: int, img: np.ndarray, out: np.ndarray) -> None:
        from .metrics import seam_masks

        edge, inner = seam_masks(img.shape[0], img.shape[1], self.tile, self.BAND, self.INNER)
        err = np.sum((img.astype(np.float64) - out.astype(np.float64)) ** 2, axis=2) / 3
        s = self.sums.setdefault(quality, [0.0, 0, 0.0, 0, 0])
        s[0] += float(err[edge].sum())
        s[1] += int(edge.sum())
        s[2] += float(err[inner].sum())
        s[3] += int(inner.sum())
        s[4] += edge.size

    def merge(self, sums: dict[int, list[float]]) -> None:
        """Add another process's sums (parallel sweeps)."""
        for q, other in sums.items():
            mine = self.sums.setdefault(q, [0.0, 0, 0.0, 0, 0])
            for k, v in enumerate(other):
                mine[k] += v

    def report(self) -> dict:
        def db(se, n):
            return None if n == 0 else round(float(10 * np.log10(255.0**2 / max(se / n, 1e-12))), 3)

        per = {}
        for q, (ese, en, ise, inn, n) in sorted(self.sums.items()):
            e, i = db(ese, en), db(ise, inn)
            per[str(q)] = {
                "edge_psnr": e,
                "inner_psnr": i,
                "delta_db": None if e is None or i is None else round(e - i, 3),
                "edge_fraction": round(en / n, 4) if n else None,
            }
        return {
            "tile": self.tile,
            "per_quality": per,
            "method": f"pixels within {self.BAND} px of an internal tile edge vs pixels at least {self.INNER} px "
            "from every internal edge (image borders are not seams); PSNR of the pooled squared error over all "
            "images; edge_fraction = edge pixels / all pixels",
        }


def _jobs(
    codec, qualities: Sequence[int], sweeps: dict[str, tuple[baselines.Setting, ...]], timer: CodecTimer, seams
) -> list[tuple[str, str, float, Callable[[np.ndarray], tuple[int, np.ndarray]]]]:
    """(codec name, label, param, round trip) for tinycodec at each quality, then every baseline setting."""
    jobs: list[tuple[str, str, float, Callable[[np.ndarray], tuple[int, np.ndarray]]]] = []
    for q in qualities:

        def run_tc(img: np.ndarray, q: int = q) -> tuple[int, np.ndarray]:
            with timer.stage(q, "compress"):
                data = codec.compress(img, q)
            with timer.stage(q, "decompress"):
                out = codec.decompress(data)
            if seams is not None:
                seams.add(q, img, out)
            return len(data), out

        jobs.append(("tinycodec", f"q{q}", float(q), run_tc))
    for name, settings in sweeps.items():
        for s in settings:

            def run_bl(img: np.ndarray, s: baselines.Setting = s) -> tuple[int, np.ndarray]:
                data, out = s.round_trip(img)
                return len(data), out

            jobs.append((name, s.label, s.param, run_bl))
    return jobs


_WORKER: dict = {}  # per worker process: the bundle's host codec, loaded once


def _sweep_image(
    bundle_path: Path, path: Path, qualities: Sequence[int], sweeps: dict, tile: int | None
) -> tuple[list[ImageScore], dict, dict]:
    """One image through every job, in a worker process: (scores per job, timer totals, seam sums)."""
    from .codec import HostCodec

    if _WORKER.get("path") != bundle_path:
        _WORKER.update(path=bundle_path, codec=HostCodec(Bundle.load(bundle_path)))
    timer, seams = CodecTimer(), (SeamMeter(tile) if tile else None)
    img = read_rgb(path)[0]
    scores = []
    for _, _, _, run in _jobs(_WORKER["codec"], qualities, sweeps, timer, seams):
        n_bytes, out = run(img)
        scores.append(_score(path.name, img, n_bytes, out))
    return scores, timer.totals, (seams.sums if seams else {})


def sweep(
    dataset: Dataset,
    bundle: Bundle,
    qualities: Sequence[int],
    sweeps: dict[str, tuple[baselines.Setting, ...]],
    progress: Callable[[Iterable, int], Iterable] | None = None,
    timer: CodecTimer | None = None,
    seams: SeamMeter | None = None,
    workers: int = 1,
) -> dict[str, list[PointResult]]:
    """Run every image through tinycodec at each quality and every baseline setting (timing tinycodec's stages).

    workers > 1: images are spread over that many processes (each loads the bundle once); the results are
    the same, in the same order; the stage times then include the processes' contention for the cores."""
    from .codec import HostCodec

    timer = timer if timer is not None else CodecTimer()
    images = [(path.name, read_rgb(path)[0]) for path in dataset.images]  # an unreadable image fails before the run
    if workers > 1 and len(images) > 1:
        return _sweep_parallel(dataset, bundle, qualities, sweeps, progress, timer, seams, workers)
    jobs = _jobs(HostCodec(bundle), qualities, sweeps, timer, seams)
    scores: list[list[ImageScore]] = [[] for _ in jobs]
    work = [(i, j) for i in range(len(images)) for j in range(len(jobs))]
    for i, j in progress(work, len(work)) if progress else work:
        name, img = images[i]
        n_bytes, out = jobs[j][3](img)
        scores[j].append(_score(name, img, n_bytes, out))
    return _points(jobs, scores)


def _points(jobs, scores: list[list[ImageScore]]) -> dict[str, list[PointResult]]:
    results: dict[str, list[PointResult]] = {}
    for (name, label, param, _), sc in zip(jobs, scores, strict=True):
        results.setdefault(name, []).append(_point(name, label, param, sc))
    return results


def _sweep_parallel(dataset, bundle, qualities, sweeps, progress, timer, seams, workers) -> dict:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    jobs = _jobs(None, qualities, sweeps, timer, seams)  # names and order only
    per_image: list[list[ImageScore] | None] = [None] * len(dataset.images)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold TensorFlow / TFLM state
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futs = {
            pool.submit(_sweep_image, bundle.path, path, list(qualities), sweeps, seams.tile if seams else None): i
            for i, path in enumerate(dataset.images)
        }
        done = as_completed(futs)
        for fut in progress(done, len(futs)) if progress else done:
            img_scores, totals, sums = fut.result()
            per_image[futs[fut]] = img_scores
            timer.merge(totals)
            if seams is not None:
                seams.merge(sums)
    scores = [[img[j] for img in per_image] for j in range(len(jobs))]
    return _points(jobs, scores)


def _curve(points: list[PointResult]) -> tuple[list[float], list[float]]:
    return [p.bpp for p in points], [p.psnr for p in points]


def compare(results: dict[str, list[PointResult]]) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    """-> (per-quality rows with baselines' PSNR at the same bpp, PSNR at 0.25/0.5 bpp, BD-rates vs anchors)."""
    tc = results["tinycodec"]
    others = [k for k in results if k != "tinycodec"]
    matched = []
    for p in tc:
        row = {"quality": int(p.param), "bpp": p.bpp, "psnr": p.psnr, "ssim": p.ssim}
        for k in others:
            row[f"{k}_psnr"] = rd.psnr_at(*_curve(results[k]), p.bpp)
        matched.append(row)
    at_bpp = {f"{t:g}": {k: rd.psnr_at(*_curve(v), t) for k, v in results.items()} for t in BPP_TARGETS}
    bd_rates = {
        a: asdict(rd.bd_rate(a, *_curve(results[a]), "tinycodec", *_curve(tc))) for a in ANCHORS if a in results
    }
    return matched, at_bpp, bd_rates


def targets(at_bpp: dict[str, dict], bd_rates: dict[str, dict]) -> list[dict]:
    """The project's quality targets next to what was measured (gap = measured - target; None = not measurable)."""
    rows = []
    for t, want in PSNR_TARGETS.items():
        got = at_bpp.get(t, {}).get("tinycodec")
        rows.append(
            {"what": f"PSNR at {t} bpp (dB, at least)", "target": want, "measured": got, "gap": _gap(got, want)}
        )
    for a, want in BD_RATE_TARGET.items():
        got = bd_rates.get(a, {}).get("percent")
        rows.append({"what": f"BD-rate vs {a} (%, at most)", "target": want, "measured": got, "gap": _gap(want, got)})
    for row in rows:
        row["met"] = row["gap"] is not None and row["gap"] >= 0
    return rows


def _gap(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def _tqdm(items: Iterable, total: int) -> Iterable:
    from tqdm import tqdm

    return tqdm(items, total=total, desc="eval", unit="enc+dec", file=sys.stderr)


def run_eval(
    data: Path,
    model: Path,
    qualities: Sequence[int] | None = None,
    limit: int | None = None,
    sweeps: dict[str, tuple[baselines.Setting, ...]] | None = None,
    progress: Callable[[Iterable, int], Iterable] | None = _tqdm,
    seed_unet: Path | None = None,
    workers: int = 1,
) -> dict:
    """The whole evaluation as a JSON-ready dict (schema tinycodec-eval v1, see docs/eval.md)."""
    t0 = time.monotonic()
    bundle = Bundle.load(model)
    qs = list(qualities) if qualities else bundle.qualities
    for q in qs:
        bundle.model("encoder", q)  # raises BundleError naming the shipped qualities
    dataset = find_images(data, limit)
    notes: list[str] = []
    if sweeps is None:
        sweeps, notes = baselines.default_sweeps()
    timer = CodecTimer()
    seams = SeamMeter(bundle.tile)
    results = sweep(dataset, bundle, qs, sweeps, progress, timer, seams, workers)
    matched, at_bpp, bd_rates = compare(results)
    seed = None
    if seed_unet is not None and (Path(seed_unet) / "seed_unet.json").is_file():
        from .seed_unet import evaluate_seed

        seed = evaluate_seed(Path(seed_unet), list(dataset.images))
    notes += [f"BD-rate vs {a}: {b['note']}" for a, b in bd_rates.items()]
    return {
        "format": SCHEMA,
        "version": SCHEMA_VERSION,
        "tinycodec_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "dataset": {
            "name": dataset.name,
            "path": str(dataset.path),
            "n_images": len(dataset.images),
            "limit": limit,
            "images": [p.name for p in dataset.images],
            "sha256": {"status": dataset.sha256, "detail": dataset.detail},
        },
        "model": model_info(bundle),
        "method": {
            "bpp": "8 * file bytes / pixels, per image, then mean over images",
            "psnr": f"per-image PSNR on 8-bit RGB (capped at {PSNR_CAP:g} dB), mean over images",
            "ssim": "scikit-image structural_similarity, channel_axis=2, data_range=255, win 7, mean over images",
            "matched_bpp": "baseline PSNR interpolated linearly in log(bpp) at tinycodec's mean bpp",
            "bd_rate": "bjontegaard 1.3 bd_rate, pchip, on mean curves; anchor restricted to tinycodec's bpp span "
            "plus one neighbour each side; integrated over the PSNR interval both cover",
            "baselines": {k: v for k, v in baselines.describe().items() if k in sweeps},
        },
        "codecs": {k: [asdict(p) for p in v] for k, v in results.items()},
        "matched": matched,
        "psnr_at_bpp": at_bpp,
        "bd_rate": bd_rates,
        "seed_unet": seed,
        "host_speed": {**timer.report(), "workers": workers},
        "seams": seams.report(),
        "targets": targets(at_bpp, bd_rates),
        "notes": notes,
        "seconds": round(time.monotonic() - t0, 1),
    }


def write_json(report: dict, path: Path) -> Path:
    return atomic_write(Path(path), json.dumps(report, indent=1, default=str) + "\n")


def run_and_write(
    data: Path,
    model: Path,
    json_path: Path,
    plot_path: Path,
    card_path: Path | None,
    qualities: Sequence[int] | None = None,
    limit: int | None = None,
    seed_unet: Path | None = None,
    sweeps: dict[str, tuple[baselines.Setting, ...]] | None = None,
    workers: int = 1,
) -> dict:
    """Evaluate, then write the JSON, the RD plot and (optionally) the model card — all from the same dict."""
    from . import evalreport

    report = run_eval(data, model, qualities, limit, sweeps=sweeps, seed_unet=seed_unet, workers=workers)
    write_json(report, json_path)
    evalreport.plot_rd(report, plot_path)
    if card_path is not None:
        evalreport.write_card(report, plot_path, card_path)
    return report
