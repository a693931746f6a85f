"""Eval: baselines give real bytes, BD-rate has a known answer, a tiny eval writes JSON + plot, bad input -> exit 2."""

import json

import numpy as np
import pytest

from tinycodec import baselines, rd
from tinycodec.bundle import Bundle
from tinycodec.cli import main
from tinycodec.config import DEFAULT_MODEL
from tinycodec.evaluate import SCHEMA, SCHEMA_VERSION, run_and_write, targets
from tinycodec.imageio import write_png
from tinycodec.metrics import psnr

BUNDLE = DEFAULT_MODEL


def _image(h: int = 64, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 2.5, y * 3.0, (x + y) * 1.2], axis=2) + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_baselines_real_bytes_and_sane_psnr():
    img = _image()
    sweeps, _ = baselines.default_sweeps()
    for codec in ("jpeg", "webp") + (("jpeg2000",) if baselines.jpeg2000_available() else ()):
        lo, hi = sweeps[codec][0], sweeps[codec][-1]
        d_lo, out_lo = lo.round_trip(img)
        d_hi, out_hi = hi.round_trip(img)
        assert out_hi.shape == img.shape and out_hi.dtype == np.uint8
        assert 0 < len(d_lo) < len(d_hi), codec
        assert 15 < psnr(img, out_lo) < psnr(img, out_hi), codec
        assert psnr(img, out_hi) > 30, codec


def test_bd_rate_known_answer():
    r = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
    d = 25 + 4 * np.log2(r / 0.1)  # linear in log rate: pchip is exact
    b = rd.bd_rate("anchor", r, d, "test", 0.8 * r, d)
    assert b.percent == pytest.approx(-20.0, abs=1e-6)
    b = rd.bd_rate("anchor", r, d, "test", r[:3] * 1.1, d[:3])  # fewer test points, partial overlap
    assert b.percent == pytest.approx(10.0, abs=1e-6)


def test_bd_rate_non_overlap_is_a_note():
    r = np.array([0.2, 0.4, 0.8])
    b = rd.bd_rate("jpeg", r, [28.0, 31.0, 34.0], "tinycodec", r, [20.0, 21.0, 22.0])
    assert b.percent is None and "no PSNR overlap" in b.note
    b = rd.bd_rate("jpeg", r, [28.0, 31.0, 34.0], "tinycodec", [0.5, 0.6], [22.0, 21.0])
    assert b.percent is None and "BD-rate undefined" in b.note


def test_psnr_at_log_bpp():
    assert rd.psnr_at([0.1, 0.4], [20.0, 30.0], 0.2) == pytest.approx(25.0)
    assert rd.psnr_at([0.1, 0.4], [20.0, 30.0], 0.5) is None


def test_eval_two_tiny_images(tmp_path):
    data = tmp_path / "tiny"
    data.mkdir()
    for i in range(3):
        write_png(data / f"img{i}.png", _image(64, 64, seed=i))
    out = tmp_path / "out"
    argv = ["eval", "--data", str(data), "--model", str(BUNDLE), "--qualities", "2", "--limit", "2"]
    argv += ["--json", str(out / "r.json"), "--plot", str(out / "rd.png"), "--card", str(out / "CARD.md")]
    assert main(argv) == 0
    r = json.loads((out / "r.json").read_text())
    for key in ("dataset", "model", "method", "codecs", "matched", "psnr_at_bpp", "bd_rate", "notes", "seconds"):
        assert key in r
    (tc,) = r["codecs"]["tinycodec"]
    assert r["format"] == SCHEMA and r["version"] == SCHEMA_VERSION
    assert r["dataset"]["n_images"] == 2 and r["dataset"]["sha256"]["status"] == "absent"
    assert tc["label"] == "q2" and len(tc["images"]) == 2 and tc["bpp"] > 0 and 10 < tc["psnr"] < 60
    assert {"jpeg", "webp"} <= set(r["codecs"]) and set(r["bd_rate"]) == {"jpeg", "webp"}
    assert r["model"]["model_hash"] and r["model"]["train_step"] is not None
    assert (out / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (out / "CARD.md").read_text()
    assert "rd_tiny.png" in card and (out / "rd_tiny.png").is_file() and "seed-unet" in card
    speed = r["host_speed"]["per_quality"]["2"]
    assert speed["images"] == 2 and speed["compress_s"] > 0 and speed["decompress_cpu_s"] > 0
    assert "## Host codec speed" in card and "## Targets" in card
    assert [t["target"] for t in r["targets"]] == [27.5, 30.5, -20.0]
    assert r["seams"]["tile"] == Bundle.load(BUNDLE).tile and set(r["seams"]["per_quality"]) == {"2"}


def test_seam_meter_pools_squared_errors_over_images():
    from tinycodec.evaluate import SeamMeter
    from tinycodec.metrics import seam_masks

    rng = np.random.default_rng(3)
    m = SeamMeter(tile=32)
    a = [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(2)]
    b = [np.clip(x.astype(int) + rng.integers(-9, 10, x.shape), 0, 255).astype(np.uint8) for x in a]
    b[1][28:36] = 0  # one image with a damaged horizontal seam
    for x, y in zip(a, b):
        m.add(1, x, y)
    edge, inner = seam_masks(64, 96, 32)
    err = [np.mean((x.astype(float) - y.astype(float)) ** 2, axis=2) for x, y in zip(a, b)]
    want_edge = 10 * np.log10(255**2 / np.mean(np.concatenate([e[edge] for e in err])))
    want_inner = 10 * np.log10(255**2 / np.mean(np.concatenate([e[inner] for e in err])))
    got = m.report()["per_quality"]["1"]
    assert got["edge_psnr"] == pytest.approx(want_edge, abs=1e-3)
    assert got["inner_psnr"] == pytest.approx(want_inner, abs=1e-3)
    assert got["delta_db"] < -3 and got["edge_fraction"] == pytest.approx(edge.mean(), abs=1e-4)


def test_eval_no_baselines(tmp_path):
    data = tmp_path / "tiny"
    data.mkdir()
    write_png(data / "a.png", _image(64, 80, seed=5))
    out = tmp_path / "out"
    argv = ["eval", "--data", str(data), "--model", str(BUNDLE), "--qualities", "1", "3", "--no-baselines"]
    assert main(argv + ["--json", str(out / "r.json"), "--plot", str(out / "rd.png")]) == 0
    r = json.loads((out / "r.json").read_text())
    assert set(r["codecs"]) == {"tinycodec"} and r["bd_rate"] == {} and r["seed_unet"] is None
    assert [p["label"] for p in r["codecs"]["tinycodec"]] == ["q1", "q3"]


def test_parallel_eval_equals_serial(tmp_path):
    """--jobs 2 spreads images over processes: same scores, same order, timer and seam sums merged."""
    data = tmp_path / "tiny"
    data.mkdir()
    for i in range(3):
        write_png(data / f"img{i}.png", _image(64, 64, seed=10 + i))
    reports = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        argv = ["eval", "--data", str(data), "--model", str(BUNDLE), "--qualities", "1", "--no-baselines"]
        argv += ["--jobs", jobs, "--json", str(out / "r.json"), "--plot", str(out / "rd.png")]
        assert main(argv) == 0
        reports.append(json.loads((out / "r.json").read_text()))
    serial, parallel = reports
    assert parallel["codecs"] == serial["codecs"] and parallel["seams"] == serial["seams"]
    assert [i["image"] for i in parallel["codecs"]["tinycodec"][0]["images"]] == ["img0.png", "img1.png", "img2.png"]
    assert parallel["host_speed"]["workers"] == 2 and parallel["host_speed"]["per_quality"]["1"]["images"] == 3


def test_targets_gap_sign():
    at = {"0.25": {"tinycodec": 28.0}, "0.5": {"tinycodec": None}}
    rows = targets(at, {"jpeg": {"percent": 12.0}})
    assert [(r["gap"], r["met"]) for r in rows] == [(0.5, True), (None, False), (-32.0, False)]


@pytest.mark.parametrize("kind", ["missing", "empty", "unreadable"])
def test_bad_folder_one_line_exit_2(tmp_path, capsys, kind):
    data = tmp_path / "d"
    if kind != "missing":
        data.mkdir()
    if kind == "unreadable":
        (data / "broken.png").write_bytes(b"not a png")
    rc = main(
        [
            "eval",
            "--data",
            str(data),
            "--model",
            str(BUNDLE),
            "--json",
            str(tmp_path / "r.json"),
            "--plot",
            str(tmp_path / "rd.png"),
            "--card",
            str(tmp_path / "c.md"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("tinycodec: error:") and "\n" not in err
    assert not (tmp_path / "r.json").exists()


def test_run_and_write_rejects_unknown_quality(tmp_path):
    from tinycodec.bundle import BundleError

    with pytest.raises(BundleError, match="quality 9"):
        run_and_write(tmp_path, BUNDLE, tmp_path / "r.json", tmp_path / "rd.png", None, qualities=[9])


def test_eval_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--help"])
    assert e.value.code == 0 and "--limit" in capsys.readouterr().out
