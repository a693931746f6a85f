"""Session-folder bookkeeping of `tinycodec bench` that needs no device: torn JSON lines, per-image latency
over complete images only, what strip_timing keeps."""

from __future__ import annotations

import json
from pathlib import Path

from tinycodec.bench.records import read_jsonl
from tinycodec.bench.results import stage_latency, strip_timing


def test_torn_last_line_is_ignored_and_cut(tmp_path: Path) -> None:
    p = tmp_path / "records.jsonl"  # not a bench journal: no required fields
    p.write_bytes(b'{"key": "a"}\n{"key": "b"}\n{"key": "c", "pay')  # killed mid-write
    assert [r["key"] for r in read_jsonl(p)] == ["a", "b"]
    assert p.read_bytes().endswith(b'"c", "pay')  # reading alone changes nothing
    assert [r["key"] for r in read_jsonl(p, repair=True)] == ["a", "b"]
    assert p.read_bytes() == b'{"key": "a"}\n{"key": "b"}\n'
    with open(p, "a") as f:
        f.write(json.dumps({"key": "c"}) + "\n")
    assert [r["key"] for r in read_jsonl(p)] == ["a", "b", "c"]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def _rec(image: str, enc: int) -> dict:
    return {"image": image, "enc_ticks": enc, "ec_ticks": 1, "ed_ticks": 1, "dec_ticks": 2, "tick_hz": 1_000_000}


def test_stage_latency_per_tile_and_per_complete_image() -> None:
    recs = [_rec("a", 10), _rec("a", 30), _rec("b", 1000)]  # "b" is incomplete: not in pixels
    lat = stage_latency(recs, {"a": 2_000_000})
    assert lat["enc"]["per_tile_us"]["median"] == 30 and lat["enc"]["per_tile_ticks"]["n"] == 3
    assert lat["enc"]["per_image_ms"]["mean"] == 0.04
    assert lat["total"]["per_megapixel_ms"] == (0.014 + 0.034) / 2
    assert stage_latency(recs, {})["enc"]["per_image_ms"] is None


def test_strip_timing_keeps_bytes_and_metrics_only() -> None:
    r = {
        "created": "x",
        "time": {},
        "boards": [],
        "devices": [],
        "config": {},
        "baselines": {},
        "tiles": 6,
        "qualities": [{"quality": 2, "bpp": 1.0, "latency": {}, "timed": {}}],
        "images": [{"image": "a", "bpp": 1.0, "psnr": 20.0, "retries": 3, "device_ms": {}, "link_s": 9.0}],
    }
    assert strip_timing(r) == {
        "tiles": 6,
        "qualities": [{"quality": 2, "bpp": 1.0}],
        "images": [{"image": "a", "bpp": 1.0, "psnr": 20.0}],
    }
