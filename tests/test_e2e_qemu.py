"""End to end: shipped model -> codegen (models + entropy tables) -> PlatformIO firmware (offline) -> QEMU
Cortex-M4 (and Cortex-M55) -> serial -> bench. Every device output must equal the host's output byte for byte:
RUN (model only, vs TFLM) and the codec on the device (ENCODE payload == HostCodec.encode_tile, DECODE of the
device's payload == HostCodec.decode_tile)."""

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinycodec import tiling
from tinycodec.bundle import Bundle
from tinycodec.codec import HostCodec
from tinycodec.codegen.generate import generate
from tinycodec.codegen.tables import generate_tables
from tinycodec.config import DEFAULT_MODEL
from tinycodec.host.bench import BenchError, check_device, format_summary, run_bench
from tinycodec.host.protocol import CAP_CODEC, ErrorCode
from tinycodec.host.qemu import QemuBoard, build_firmware
from tinycodec.host.transport import Device, DeviceError
from tinycodec.imageio import read_rgb

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = DEFAULT_MODEL
KODAK = (ROOT / ".." / "shared" / "data" / "kodak").resolve()
# PlatformIO env -> INFO board. Both envs build the gen backend (platformio.ini).
BOARDS = {"qemu_m4": "mps2-an386", "qemu_m55": "mps3-an547"}

pytestmark = pytest.mark.qemu


def _require_tools():
    missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc") if shutil.which(t) is None]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must have {missing} (scripts/setup.sh installs them)")
    if missing:
        pytest.skip(f"{missing} not installed: run scripts/setup.sh")


@pytest.fixture(scope="module")
def generated():
    _require_tools()
    out = ROOT / "firmware" / "generated"
    generate(str(BUNDLE / "manifest.json"), str(out))
    generate_tables(BUNDLE, out)  # the codec's entropy tables (what `tinycodec codegen` also writes)
    return out


@pytest.fixture(scope="module", params=list(BOARDS))
def device(request, generated):
    env = request.param
    elf = build_firmware(env, ROOT)
    with QemuBoard(elf, board=env) as q, Device(q.url, timeout=120) as dev:
        dev.wait_ready(timeout=30)
        dev.env = env
        yield dev


@pytest.fixture(scope="module")
def codec():
    return HostCodec(Bundle.load(BUNDLE))


def test_device_reports_the_shipped_model(device):
    bundle = Bundle.load(BUNDLE)
    info = device.hello()
    assert info.backend == "gen" and info.board == BOARDS[device.env]
    assert info.model_hash == bundle.model_hash
    names = {m.name for m in info.models}
    assert names == {m.name for m in bundle.models}
    assert info.capabilities & CAP_CODEC and info.has_codec
    assert info.qualities == tuple(bundle.qualities)
    other = dataclasses.replace(bundle, manifest={**bundle.manifest, "model_hash": "00" * 32})
    with pytest.raises(BenchError, match="device runs model"):
        check_device(info, other)


def test_run_path_bit_exact(device):
    """The model-only path (RUN) still works: the bench for firmware without the codec."""
    bundle = Bundle.load(BUNDLE)
    s = run_bench(device, bundle, 1, KODAK, n_tiles=1, mode="run")
    assert s["mode"] == "run" and s["tiles"] == 1
    assert s["mismatches"] == 0, s["per_tile"]
    assert s["enc_ticks"]["min"] > 0 and s["dec_ticks"]["min"] > 0 and s["ec_ticks"] is None


@pytest.mark.parametrize("quality", [1, 2, 3, 4])
def test_codec_on_device_bit_exact(device, quality):
    """ENCODE on the device == HostCodec.encode_tile; DECODE of the device's payload == decode_tile."""
    bundle = Bundle.load(BUNDLE)
    s = run_bench(device, bundle, quality, KODAK, n_tiles=2)
    print(format_summary(s))
    assert s["mode"] == "codec" and s["tiles"] == 2 and s["schema_version"] == 2
    assert s["encode_mismatches"] == 0, s["per_tile"]
    assert s["decode_mismatches"] == 0, s["per_tile"]
    for stage in ("enc", "ec", "ed", "dec"):
        assert s[f"{stage}_ticks"]["min"] > 0, stage
    assert s["psnr_mean"] > 15.0 and s["bpp_mean"] > 0 and s["bpp_source"] == "device payload"


def _tile(k: int = 0) -> np.ndarray:
    img, _ = read_rgb(sorted(KODAK.glob("*.png"))[k])
    return np.ascontiguousarray(tiling.split(img, 64)[17], np.uint8)


def test_corrupted_payload_is_an_error_and_the_device_keeps_serving(device, codec):
    tile = _tile(1)
    payload = device.encode(3, tile.tobytes()).payload
    cases = {
        "flipped": bytes([payload[0], payload[1] ^ 0x5A]) + payload[2:],
        "truncated": payload[:-7],
        "trailing": payload + b"\x00\x01",
        "empty": b"",
    }
    for why, bad in cases.items():
        with pytest.raises(DeviceError) as e:
            device.decode(3, bad)
        assert e.value.code == ErrorCode.BAD_PAYLOAD, why
        assert e.value.message.startswith("DECODE: bad payload: "), e.value.message
        assert "entropy-coded tile" in e.value.message, e.value.message
    assert "truncated" in _decode_error(device, payload[:-7])
    assert "trailing bytes" in _decode_error(device, payload + b"\x00\x01")
    # next request is served normally
    res = device.decode(3, payload)
    assert np.array_equal(np.frombuffer(res.tile, np.uint8).reshape(tile.shape), codec.decode_tile(payload, 3))


def _decode_error(device, data: bytes) -> str:
    with pytest.raises(DeviceError) as e:
        device.decode(3, data)
    return e.value.message


def test_bad_quality_and_bad_length_are_errors(device, codec):
    tile = _tile(2)
    for q in (0, 5, 255):
        with pytest.raises(DeviceError) as e:
            device.encode(q, tile.tobytes())
        assert e.value.code == ErrorCode.BAD_QUALITY and "quality" in e.value.message
        with pytest.raises(DeviceError) as e:
            device.decode(q, b"\x00\x80\x00\x00")
        assert e.value.code == ErrorCode.BAD_QUALITY
    with pytest.raises(DeviceError) as e:
        device.encode(2, tile.tobytes()[:-1])
    assert e.value.code == ErrorCode.BAD_LENGTH and e.value.message.startswith("ENCODE")
    from tinycodec.host.protocol import MsgType

    for t, msg in ((MsgType.ENCODE, "ENCODE"), (MsgType.DECODE, "DECODE")):
        with pytest.raises(DeviceError) as e:
            device.request(t, b"\x02\x00", MsgType.ENCODE_RESULT)
        assert e.value.code == ErrorCode.BAD_LENGTH and e.value.message.startswith(msg)
    enc = device.encode(2, tile.tobytes())  # still serving
    assert enc.payload == codec.encode_tile(tile, 2) and enc.ticks_enc > 0 and enc.ticks_ec > 0
