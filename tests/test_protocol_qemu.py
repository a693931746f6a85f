"""The serial protocol against the real firmware on the emulated board (env qemu_m4_selftest,
whose TEST-ONLY backend has models "negate" and "sum4")."""

from __future__ import annotations

import random
import struct
import time
import zlib

import pytest

from fw_helpers import booted_device, firmware_elf
from tinycodec.link.device import Device, DeviceError
from tinycodec.link.framing import cobs_encode, pack_frame, pack_packet
from tinycodec.link.protocol import ErrorCode, MsgType, pack_info, pack_run, parse_error, parse_info

pytestmark = pytest.mark.qemu


# (PlatformIO env, board name for QemuBoard, board name the firmware reports)
BOARDS = [("qemu_m4_selftest", "qemu", "mps2-an386"), ("qemu_m55_selftest", "qemu_m55", "mps3-an547")]


@pytest.fixture(scope="module", params=BOARDS, ids=[b[0] for b in BOARDS])
def board_dev(request):
    env, board, _ = request.param
    elf = firmware_elf(env)
    with booted_device(elf, board=board) as (q, dev):
        yield q, dev, request.param[2]


@pytest.fixture
def dev(board_dev) -> Device:
    return board_dev[1]


def expect_error(dev: Device, frame: bytes, code: ErrorCode, req_id: int | None = None) -> None:
    dev.send_raw(frame)
    pkt = dev.recv(5.0 + len(frame) / 4000)  # QEMU's UART takes ~10-40 kB/s host -> device: a max_body frame takes s
    assert pkt is not None, "no reply"
    assert pkt.type == MsgType.ERROR, pkt
    err = parse_error(pkt.body)
    assert err.code == code, err
    if req_id is not None:
        assert pkt.req_id == req_id
    assert dev.echo(b"still alive") == b"still alive"


def test_boot_info_and_hello(board_dev) -> None:
    _, dev, board_name = board_dev
    assert dev.boots == 1 and dev.boot_info is not None
    info = dev.hello()
    assert info == dev.boot_info
    assert info.board == board_name
    assert info.tick_hz == 25_000_000
    assert info.tick_source == "qemu-icount FPGAIO 25MHz"  # appended after the (here: no) qualities
    assert info.backend == "testonly"
    assert info.max_body == 3 * 128 * 128 + 8192
    assert [m.name for m in info.models] == ["negate", "sum4"]
    assert info.models[0].input_bytes == 64 * 64 * 3


def test_echo_sizes(dev: Device) -> None:
    rng = random.Random(1)
    max_body = dev.hello().max_body
    for n in [0, 1, 253, 254, 255, 1000, 4096, max_body - 1, max_body]:
        body = bytes(rng.choice([0, 0, 1, 255, rng.randrange(256)]) for _ in range(n))
        assert dev.echo(body, timeout=20) == body, n


def test_run_negate_and_timing(dev: Device) -> None:
    data = bytes(range(256)) * 48
    r1 = dev.run(0, data)
    expect = bytes((-max(-127, b - 256 if b > 127 else b)) & 0xFF for b in data)
    assert r1.output == expect
    r2 = dev.run(0, data)
    assert r1.ticks > 0 and abs(r1.ticks - r2.ticks) <= 1  # icount: deterministic
    r3 = dev.run(1, bytes([1] * 64))
    assert r3.output == bytes([16] * 4)


def test_bad_crc(dev: Device) -> None:
    pkt = bytearray(pack_packet(MsgType.ECHO, 77, b"abc"))
    pkt[9] ^= 0x10
    expect_error(dev, cobs_encode(bytes(pkt)) + b"\x00", ErrorCode.BAD_CRC, 77)


def test_too_long_declared_and_real(dev: Device) -> None:
    max_body = dev.hello().max_body
    raw = struct.pack("<BBHI", 1, MsgType.ECHO, 78, max_body + 1)
    pkt = raw + struct.pack("<I", zlib.crc32(raw))
    expect_error(dev, cobs_encode(pkt) + b"\x00", ErrorCode.TOO_LONG, 78)
    expect_error(dev, pack_frame(MsgType.ECHO, 79, bytes(max_body + 100)), ErrorCode.TOO_LONG, 79)


def test_unknown_type_and_version(dev: Device) -> None:
    expect_error(dev, pack_frame(0x55, 80, b"x"), ErrorCode.UNKNOWN_TYPE, 80)
    expect_error(dev, pack_frame(MsgType.ECHO, 81, b"x", version=2), ErrorCode.BAD_VERSION, 81)


def test_bad_framing_and_garbage(dev: Device) -> None:
    expect_error(dev, b"\x05ab\x00", ErrorCode.BAD_FRAMING, 0)  # truncated COBS block
    expect_error(dev, b"\x03ab\x00", ErrorCode.BAD_FRAMING, 0)  # too short for a packet
    dev.send_raw(b"\x00\x00\x00")  # empty frames are ignored
    assert dev.echo(b"ok") == b"ok"


def test_run_errors(dev: Device) -> None:
    with pytest.raises(DeviceError) as e:
        dev.run(0, bytes(100))
    assert e.value.code == ErrorCode.BAD_LENGTH
    with pytest.raises(DeviceError) as e:
        dev.run(7, bytes(64))
    assert e.value.code == ErrorCode.BAD_MODEL
    expect_error(dev, pack_frame(MsgType.RUN, 82, pack_run(0, b"")[:2]), ErrorCode.BAD_LENGTH, 82)


def test_throughput(dev: Device, capsys) -> None:
    max_body = dev.hello().max_body
    body = bytes(max_body)
    t = time.perf_counter()
    n = 3
    for _ in range(n):
        dev.echo(body, timeout=20)
    dt = time.perf_counter() - t
    # one ECHO moves the body both ways: report the combined rate
    with capsys.disabled():
        print(f"\n[throughput] ECHO {max_body} B x{n}: {2 * n * max_body / dt / 1e3:.1f} kB/s (both directions)")


def test_boot_info_parses(dev: Device) -> None:
    assert dev.boot_info is not None
    assert parse_info(pack_info(dev.boot_info)) == dev.boot_info
