"""`tinycodec bench` end to end on the emulated Cortex-M4 (env qemu_m4, the real codec firmware), on two small crops
of Kodak images (6 tiles): a clean run, the same run through the fault-injecting proxy, a run killed midway and
resumed, two boards at once, a device with another model. Everything that is not timing must be identical."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fw_helpers import ROOT, firmware_elf
from tinycodec import tiling
from tinycodec.bench.records import read_jsonl, recon_of
from tinycodec.bench.results import strip_timing
from tinycodec.bundle import Bundle
from tinycodec.cli import main
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL
from tinycodec.imageio import read_rgb, write_png
from tinycodec.link.qemu import QemuBoard
from tools.faultproxy import FaultProxy

pytestmark = pytest.mark.qemu

BUNDLE = DEFAULT_MODEL
KODAK = (ROOT / ".." / "shared" / "data" / "kodak").resolve()


@pytest.fixture(scope="module")
def elf():
    from tinycodec.codegen.generate import generate
    from tinycodec.codegen.tables import generate_tables

    # the firmware must run the bundle the host checks against (as tests/test_e2e_qemu.py does)
    generate(str(BUNDLE / "manifest.json"), str(ROOT / "firmware" / "generated"))
    generate_tables(BUNDLE, ROOT / "firmware" / "generated")
    return firmware_elf("qemu_m4")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    if not KODAK.is_dir():
        pytest.skip(f"{KODAK} missing")
    d = tmp_path_factory.mktemp("images")
    a, _ = read_rgb(KODAK / "kodim01.png")
    b, _ = read_rgb(KODAK / "kodim23.png")
    t = Bundle.load(BUNDLE).tile
    write_png(d / "a.png", a[200 : 200 + 2 * t, 100 : 100 + 2 * t])  # 2x2 tiles
    write_png(d / "b.png", b[100 : 100 + t, 200 : 200 + 2 * t])  # 1x2 tiles
    return d


@pytest.fixture(scope="module")
def board(elf):
    with QemuBoard(elf) as q:
        yield q


def _bench(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["bench", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _run(ports: list[str], images: Path, out: Path, *extra: str) -> list[str]:
    """bench arguments: the test images at q2 into out, untimed, no HTML report (extra args after)."""
    portargs = [a for p in ports for a in ("--port", p)]
    return [*portargs, "--images", str(images), "-q", "2", "--out", str(out), "--repeat", "0", "--no-report", *extra]


def _result(d: Path) -> dict:
    return json.loads((d / "results.json").read_text())


def _tiles(d: Path) -> dict[str, tuple[str, bytes]]:
    return {r["key"]: (r["payload"], recon_of(r)) for r in read_jsonl(d / "tiles.jsonl")}


@pytest.fixture(scope="module")
def clean(board, images, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    code = main(
        ["bench", "--port", board.url, "--images", str(images), "-q", "2", "--out", str(out)]
        + ["--repeat", "2", "--timing-tiles", "1"]
    )
    assert code == 0
    return out


def test_clean_run(clean, images) -> None:
    r = _result(clean)
    assert r["schema"] == "tinycodec-bench" and r["schema_version"] == 3
    assert r["complete"] and r["tiles"] == r["tiles_expected"] == 6 and r["mismatches"] == 0
    for f in ("results.csv", "bench.log", "report.html", "tiles.jsonl", "timing.jsonl", "config.json"):
        assert (clean / f).is_file(), f
    html = (clean / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4  # RD plot, latency histograms, time split, crops
    assert len((clean / "results.csv").read_text().splitlines()) == 3
    codec = HostCodec(Bundle.load(BUNDLE))
    recs = _tiles(clean)
    for img in r["images"]:
        # bpp from the real .tcz of the device's payloads; the host decodes it to the device's reconstruction
        tcz = (clean / "tcz" / f"{Path(img['image']).stem}_q2.tcz").read_bytes()
        assert img["tcz_bytes"] == len(tcz) > img["payload_bytes"]
        assert img["bpp"] == pytest.approx(8 * len(tcz) / (img["width"] * img["height"]))
        orig, _ = read_rgb(images / img["image"])
        dev_tiles = [
            np.frombuffer(recs[f"q2/{img['image']}/{k}"][1], np.uint8).reshape(codec.bundle.tile, codec.bundle.tile, 3)
            for k in range(img["tiles"])
        ]
        assert np.array_equal(codec.decompress(tcz), tiling.join(dev_tiles, *orig.shape[:2]))
    q = r["qualities"][0]
    assert q["timed"]["repeat"] == 2 and q["timed"]["stages"]["enc"]["us"]["median"] > 0
    assert q["latency"]["dec"]["per_tile_us"]["p95"] > 0 and q["latency"]["total"]["per_megapixel_ms"] > 0
    assert set(r["baselines"]["codecs"]) >= {"jpeg", "webp"}
    assert r["time"]["link_s"] > 0 and r["time"]["device_s"] > 0 and r["time"]["host_s"] > 0


def test_faulty_link_same_results(board, images, clean, tmp_path, capsys) -> None:
    # per-byte fault rates scaled so a tile's exchange (2 x tile² x 3 bytes) is hit ~1 time in 5 at any tile size
    p = 1e-5 * (64 / Bundle.load(BUNDLE).tile) ** 2
    with FaultProxy(("127.0.0.1", board.port), drop=p, flip=p, dup=p, delay_ms=3, seed=3) as px:
        code, out, _ = _bench(capsys, *_run([px.url], images, tmp_path))
        counts = px.counts
    assert code == 0, out
    r = _result(tmp_path)
    assert strip_timing(r) == strip_timing(_result(clean))
    assert _tiles(tmp_path) == _tiles(clean)
    assert sum(d["dropped"] + d["flipped"] + d["duplicated"] for d in counts.values()) > 0, counts
    assert sum(b["retries"] for b in r["boards"]) > 0


def test_killed_run_resumes_to_the_same_results(board, images, clean, tmp_path, capsys) -> None:
    cmd = [sys.executable, "-m", "tinycodec.cli", "bench", *_run([board.url], images, tmp_path, "--limit", "2")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_jsonl(tmp_path / "tiles.jsonl")) < 2:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # a crash: no clean-up at all
    finally:
        proc.wait(10)
    n = len(read_jsonl(tmp_path / "tiles.jsonl"))
    assert 2 <= n < 6 and not (tmp_path / "results.json").exists()
    code, out, _ = _bench(capsys, "--resume", str(tmp_path), "--port", board.url, "--no-report")
    assert code == 0, out
    assert strip_timing(_result(tmp_path)) == strip_timing(_result(clean))
    assert _tiles(tmp_path) == _tiles(clean)
    assert len(read_jsonl(tmp_path / "tiles.jsonl")) == 6  # nothing done twice


def test_two_boards_share_the_tiles(board, elf, images, clean, tmp_path, capsys) -> None:
    with QemuBoard(elf) as second:
        code, out, _ = _bench(
            capsys, *_run([board.url, second.url], images, tmp_path, "--repeat", "1", "--timing-tiles", "1")
        )
    assert code == 0, out
    r = _result(tmp_path)
    assert strip_timing(r) == strip_timing(_result(clean))
    assert {b["id"] for b in r["boards"]} == {"b0", "b1"} and all(b["tiles"] > 0 for b in r["boards"])
    assert sum(b["tiles"] for b in r["boards"]) == 6
    assert {t["board"] for t in read_jsonl(tmp_path / "timing.jsonl")} == {"b0", "b1"}


def test_board_reboot_mid_run_is_detected_and_the_run_continues(elf, images, clean, tmp_path, capsys) -> None:
    """The board is powered off after two tiles and a fresh one boots behind the same link (the proxy reconnects,
    like a USB-serial adapter): the boot INFO is seen, the model re-checked, the request in flight re-sent."""
    a, b = QemuBoard(elf).start(), QemuBoard(elf)
    try:
        with FaultProxy(("127.0.0.1", a.port), reconnect=True) as px:

            def power_cycle() -> None:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and len(read_jsonl(tmp_path / "tiles.jsonl")) < 2:
                    time.sleep(0.05)
                a.close()
                b.start()
                px.retarget(("127.0.0.1", b.port))

            t = threading.Thread(target=power_cycle)
            t.start()
            code, out, _ = _bench(capsys, *_run([px.url], images, tmp_path, "--timeout", "5"))
            t.join()
    finally:
        a.close()
        b.close()
    assert code == 0, out
    r = _result(tmp_path)
    assert strip_timing(r) == strip_timing(_result(clean))
    assert r["boards"][0]["reboots"] == 1 and r["devices"][0]["reboots"] == 1
    assert "rebooted" in (tmp_path / "bench.log").read_text()


def test_other_model_is_refused(images, tmp_path, capsys) -> None:
    with QemuBoard(firmware_elf("qemu_m4_selftest")) as other:
        code, out, err = _bench(capsys, "--port", other.url, "--images", str(images), "--out", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "device runs model" in err and "host has" in err, err
