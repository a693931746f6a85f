"""The baselines of a bench report: JPEG / WebP / JPEG 2000 on the session's images, from a committed
`tinycodec eval` report when one covers them, else swept with evaluate.sweep; cached in the session folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import REPO_ROOT
from ..safeio import atomic_write
from .session import Session


def baselines_for(out: Path, sess: Session, names: list[str]) -> dict:
    """JPEG / WebP / JPEG 2000 sweeps on the same images (evaluate.sweep), cached in the session folder."""
    from .. import baselines as bl
    from ..evaluate import sweep  # only when no committed eval report covers the images
    from ..imageio import Dataset

    names = sorted(set(names), key=list(sess.images).index)
    cache = out / "baselines.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("images") == names:
            return data
    data = _baselines_from_eval(sess, names)
    if data is not None:
        atomic_write(cache, json.dumps(data, indent=1) + "\n")
        return data
    sweeps, notes = bl.default_sweeps()
    ds = Dataset("bench", out, tuple(sess.images[n] for n in names), "n/a", "")
    res = sweep(ds, sess.bundle, [], sweeps)
    data = {
        "images": names,
        "notes": notes,
        "method": {k: v for k, v in bl.describe().items() if k in sweeps},
        "codecs": {
            k: [{"label": p.label, "param": p.param, "bpp": p.bpp, "psnr": p.psnr, "ssim": p.ssim} for p in v]
            for k, v in res.items()
        },
    }
    atomic_write(cache, json.dumps(data, indent=1) + "\n")
    return data


def _baselines_from_eval(sess: Session, names: list[str]) -> dict | None:
    """The baselines' per-image scores from a committed `tinycodec eval` report (models/eval_*.json) on the same
    image folder, averaged over the bench's images: the same numbers evaluate.sweep would compute, without the
    minutes JPEG 2000 takes on all of Kodak."""

    folders = {Path(sess.images[n]).resolve().parent for n in names}
    for path in sorted((REPO_ROOT / "models").glob("eval_*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if len(folders) != 1 or Path(rep.get("dataset", {}).get("path", "")).resolve() != next(iter(folders)):
            continue
        codecs, host_eval = {}, []
        for codec, points in rep.get("codecs", {}).items():
            if codec.startswith("seed"):
                continue
            rows = []
            for p in points:
                per = {i["image"]: i for i in p["images"]}
                if not all(n in per for n in names):
                    return None
                rows.append(
                    {
                        "label": p["label"],
                        "param": p["param"],
                        **{m: float(np.mean([per[n][m] for n in names])) for m in ("bpp", "psnr", "ssim")},
                    }
                )
            if codec == "tinycodec":
                if rep.get("model", {}).get("model_hash") == sess.bundle.manifest["model_hash"]:
                    host_eval = rows
            else:
                codecs[codec] = rows
        if codecs:
            rel = path.relative_to(REPO_ROOT)
            return {
                "images": names,
                "notes": [f"baselines: per-image scores from {rel} (tinycodec eval, same images), means over these"],
                "method": rep.get("method", {}).get("baselines", {}),
                "codecs": codecs,
                "host_eval": {"source": str(rel), "points": host_eval},
            }
    return None
