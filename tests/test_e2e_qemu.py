"""End to end: shipped model -> codegen -> PlatformIO firmware (offline) -> QEMU Cortex-M4 -> serial ->
bench. Every device output must equal the host's TFLM output byte for byte."""

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from tinycodec.bundle import Bundle
from tinycodec.codegen.generate import generate
from tinycodec.host.bench import BenchError, check_device, run_bench
from tinycodec.host.qemu import QemuBoard, build_firmware
from tinycodec.host.transport import Device

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "tc-small"
KODAK = (ROOT / ".." / "shared" / "data" / "kodak").resolve()

pytestmark = pytest.mark.qemu


def _require_tools():
    missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(t) is None]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must have {missing} (scripts/setup.sh installs them)")
    if missing:
        pytest.skip(f"{missing} not installed: run scripts/setup.sh")


@pytest.fixture(scope="module")
def gen_elf():
    _require_tools()
    generate(str(BUNDLE / "manifest.json"), str(ROOT / "firmware" / "generated"))
    return build_firmware("qemu_m4", ROOT)


@pytest.fixture(scope="module")
def device(gen_elf):
    with QemuBoard(gen_elf, board="qemu") as q, Device(q.url, timeout=120) as dev:
        dev.wait_ready(timeout=30)
        yield dev


def test_device_reports_the_shipped_model(device):
    bundle = Bundle.load(BUNDLE)
    info = device.hello()
    assert info.backend == "gen" and info.board == "mps2-an386"
    assert info.model_hash == bundle.model_hash
    names = {m.name for m in info.models}
    assert names == {m.name for m in bundle.models}
    other = dataclasses.replace(bundle, manifest={**bundle.manifest, "model_hash": "00" * 32})
    with pytest.raises(BenchError, match="device runs model"):
        check_device(info, other)


@pytest.mark.parametrize("quality", [1, 4])
def test_bench_tiles_bit_exact(device, quality, tmp_path):
    bundle = Bundle.load(BUNDLE)
    s = run_bench(device, bundle, quality, KODAK, n_tiles=3)
    assert s["tiles"] == 3
    assert s["mismatches"] == 0, [t for t in s["per_tile"] if not (t["latent_match"] and t["recon_match"])]
    assert s["enc_ticks"]["min"] > 0 and s["dec_ticks"]["min"] > 0
    assert s["psnr_mean"] > 15.0 and s["bpp_mean"] > 0
