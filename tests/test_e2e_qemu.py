"""End to end: shipped model -> codegen (models + entropy tables) -> PlatformIO firmware (offline) -> QEMU
Cortex-M4 (and Cortex-M55) -> serial -> bench. Every device output must equal the host's output byte for byte:
RUN (model only, vs TFLM) and the codec on the device (ENCODE payload == HostCodec.encode_tile, DECODE of the
device's payload == HostCodec.decode_tile), the latter through a bench session (a sample of tiles)."""

import dataclasses
import os
import shutil

import numpy as np
import pytest

from conftest import ROOT
from tinycodec import tiling
from tinycodec.bench.records import BenchError
from tinycodec.bench.results import finalize, format_summary
from tinycodec.bench.session import Config, Session, check_device
from tinycodec.bundle import Bundle
from tinycodec.codec import HostCodec
from tinycodec.codegen.generate import generate
from tinycodec.codegen.tables import generate_tables
from tinycodec.config import DEFAULT_MODEL
from tinycodec.imageio import read_rgb
from tinycodec.link import boards
from tinycodec.link.device import Device, DeviceError
from tinycodec.link.protocol import CAP_CODEC, ErrorCode
from tinycodec.link.qemu import QemuBoard, build_firmware

BUNDLE = DEFAULT_MODEL
KODAK = (ROOT / ".." / "shared" / "data" / "kodak").resolve()
# PlatformIO envs; their INFO board and tick source: the board table (link/boards.txt). Both build the gen backend.
BOARDS = ("qemu_m4", "qemu_m55")

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
    board = boards.find(device.env)
    assert info.backend == "gen" and info.board == board.info_board
    assert info.tick_source == board.tick_source == "qemu-icount FPGAIO 25MHz"  # INFO says what a tick counts
    assert info.model_hash == bundle.model_hash
    names = {m.name for m in info.models}
    assert names == {m.name for m in bundle.models}
    assert info.capabilities & CAP_CODEC and info.has_codec
    assert info.qualities == tuple(bundle.qualities)
    other = dataclasses.replace(bundle, manifest={**bundle.manifest, "model_hash": "00" * 32})
    with pytest.raises(BenchError, match="device runs model"):
        check_device(info, other, [1])


def test_run_path_bit_exact(device, codec):
    """The model-only path (RUN) still works: encoder and decoder models on the device, vs TFLM on the host."""
    info = device.hello()
    index = {m.name: i for i, m in enumerate(info.models)}
    tile, q = _tile(0), 1
    enc = device.run(index[f"enc_q{q}"], (tile.astype(np.int16) - 128).astype(np.int8).tobytes())
    latent = np.frombuffer(enc.output, np.int8).reshape(codec.latent_shape(q))
    dec = device.run(index[f"dec_q{q}"], latent.tobytes())
    recon = (np.frombuffer(dec.output, np.int8).astype(np.int16) + 128).astype(np.uint8).reshape(tile.shape)
    mismatches = (not np.array_equal(latent, codec.analyse(tile, q))) + (
        not np.array_equal(recon, codec.synthesise(latent, q))
    )
    assert mismatches == 0
    assert enc.ticks > 0 and dec.ticks > 0 and not hasattr(enc, "ticks_ec")  # RUN times the model only


@pytest.mark.parametrize("quality", Bundle.load(BUNDLE).qualities)
def test_codec_on_device_bit_exact(device, quality, tmp_path):
    """ENCODE on the device == HostCodec.encode_tile; DECODE of the device's payload == decode_tile: a bench
    session with a sample of 2 tiles (`tinycodec bench --tiles 2`)."""
    bundle = Bundle.load(BUNDLE)
    image = sorted(KODAK.glob("*.png"))[0]
    cfg = Config([str(image)], [quality], str(BUNDLE), repeat=0, model_hash=bundle.manifest["model_hash"], tiles=2)
    out = tmp_path / "session"
    sess = Session(out, cfg, bundle)
    cfg.save(out / "config.json")
    stats = sess.run([(device.url, device)])
    s = finalize(out, stats, baselines=False, report=False)
    print(format_summary(s))
    assert s["complete"] and s["tiles"] == 2 and s["schema_version"] == 3
    assert s["encode_mismatches"] == 0, s["qualities"]
    assert s["decode_mismatches"] == 0, s["qualities"]
    q = s["qualities"][0]
    for stage in ("enc", "ec", "ed", "dec"):
        assert q["latency"][stage]["per_tile_ticks"]["min"] > 0, stage
    assert q["sample"]["psnr"] > 15.0 and q["sample"]["payload_bpp"] > 0
    assert s["devices"][0]["tick_source"] == "qemu-icount FPGAIO 25MHz"


def _tile(k: int = 0) -> np.ndarray:
    img, _ = read_rgb(sorted(KODAK.glob("*.png"))[k])
    return np.ascontiguousarray(tiling.split(img, Bundle.load(BUNDLE).tile)[17], np.uint8)


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
    for q in (0, max(codec.bundle.qualities) + 1, 255):
        with pytest.raises(DeviceError) as e:
            device.encode(q, tile.tobytes())
        assert e.value.code == ErrorCode.BAD_QUALITY and "quality" in e.value.message
        with pytest.raises(DeviceError) as e:
            device.decode(q, b"\x00\x80\x00\x00")
        assert e.value.code == ErrorCode.BAD_QUALITY
    with pytest.raises(DeviceError) as e:
        device.encode(2, tile.tobytes()[:-1])
    assert e.value.code == ErrorCode.BAD_LENGTH and e.value.message.startswith("ENCODE")
    from tinycodec.link.protocol import MsgType

    for t, msg in ((MsgType.ENCODE, "ENCODE"), (MsgType.DECODE, "DECODE")):
        with pytest.raises(DeviceError) as e:
            device.request(t, b"\x02\x00", MsgType.ENCODE_RESULT)
        assert e.value.code == ErrorCode.BAD_LENGTH and e.value.message.startswith(msg)
    enc = device.encode(2, tile.tobytes())  # still serving
    assert enc.payload == codec.encode_tile(tile, 2) and enc.ticks_enc > 0 and enc.ticks_ec > 0
