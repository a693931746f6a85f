"""Messages of the device protocol (docs/protocol.md): constants, typed results, pack/parse."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from ..errors import TinycodecError
from .framing import PROTO_VERSION

__all__ = [
    "PROTO_VERSION",
    "MsgType",
    "ErrorCode",
    "ModelInfo",
    "Info",
    "RunResult",
    "EncodeResult",
    "DecodeResult",
    "CAP_CODEC",
    "DeviceErrorInfo",
    "ProtocolError",
    "pack_run",
    "pack_codec",
    "parse_encode_result",
    "parse_decode_result",
    "parse_info",
    "parse_run_result",
    "parse_error",
]


class MsgType(enum.IntEnum):
    HELLO = 0x01
    ECHO = 0x02
    RUN = 0x03
    ENCODE = 0x04
    DECODE = 0x05
    INFO = 0x81
    ECHO_REPLY = 0x82
    RUN_RESULT = 0x83
    ENCODE_RESULT = 0x84
    DECODE_RESULT = 0x85
    ERROR = 0xEE


class ErrorCode(enum.IntEnum):
    BAD_CRC = 1
    TOO_LONG = 2
    UNKNOWN_TYPE = 3
    BAD_LENGTH = 4
    BAD_MODEL = 5
    RUN_FAILED = 6
    BAD_VERSION = 7
    BAD_FRAMING = 8
    BAD_QUALITY = 9
    BAD_PAYLOAD = 10


# INFO capability bits (the u16 after n_models, reserved = 0 in older firmware)
CAP_CODEC = 0x0001  # ENCODE / DECODE; INFO then lists the qualities after the models


class ProtocolError(TinycodecError):
    """The device sent something that does not follow the protocol."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    in_shape: tuple[int, int, int]  # h, w, c
    out_shape: tuple[int, int, int]

    @property
    def input_bytes(self) -> int:
        h, w, c = self.in_shape
        return h * w * c

    @property
    def output_bytes(self) -> int:
        h, w, c = self.out_shape
        return h * w * c


@dataclass(frozen=True)
class Info:
    proto_version: int
    tick_hz: int
    ram_bytes: int
    max_body: int
    model_hash: bytes
    fw_version: str
    board: str
    backend: str
    models: tuple[ModelInfo, ...]
    capabilities: int = 0  # CAP_* bits; 0 for firmware without the codec commands
    qualities: tuple[int, ...] = ()  # qualities ENCODE/DECODE accept (from the device's entropy tables)
    tick_source: str = ""  # what the ticks count (tc_port_tick_source); "" from firmware that does not say

    @property
    def has_codec(self) -> bool:
        return bool(self.capabilities & CAP_CODEC)


@dataclass(frozen=True)
class EncodeResult:
    ticks_enc: int  # encoder inference (backend run only)
    ticks_ec: int  # rANS entropy coding of the latent
    payload: bytes  # the tile's rANS payload, == HostCodec.encode_tile
    tick_hz: int = 0


@dataclass(frozen=True)
class DecodeResult:
    ticks_ed: int  # rANS entropy decoding of the payload
    ticks_dec: int  # decoder inference (backend run only)
    tile: bytes  # RGB888 tile (tile * tile * 3 bytes, uint8)
    tick_hz: int = 0


@dataclass(frozen=True)
class RunResult:
    ticks: int  # device timer ticks of the backend run only (instructions/40 under QEMU icount)
    output: bytes
    tick_hz: int = 0


@dataclass(frozen=True)
class DeviceErrorInfo:
    code: int
    message: str

    @property
    def name(self) -> str:
        try:
            return ErrorCode(self.code).name
        except ValueError:
            return f"ERROR_{self.code}"


_INFO_FIXED = struct.Struct("<BBHIII32s")
_SHAPES = struct.Struct("<6H")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(f"body truncated at offset {self.pos} (+{n} of {len(self.data)})")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def string(self) -> str:
        (n,) = self.take(1)
        return self.take(n).decode("ascii", errors="replace")


def parse_info(body: bytes) -> Info:
    r = _Reader(body)
    ver, n_models, _res, tick_hz, ram, max_body, mhash = _INFO_FIXED.unpack(r.take(_INFO_FIXED.size))
    fw, board, backend = r.string(), r.string(), r.string()
    models = []
    for _ in range(n_models):
        name = r.string()
        ih, iw, ic, oh, ow, oc = _SHAPES.unpack(r.take(_SHAPES.size))
        models.append(ModelInfo(name, (ih, iw, ic), (oh, ow, oc)))
    qualities: tuple[int, ...] = ()
    tick_source = ""
    if r.pos < len(body):  # appended by firmware with the codec commands: u8 n_qualities, u8 quality[n]
        (nq,) = r.take(1)
        qualities = tuple(r.take(nq))
    if r.pos < len(body):  # appended after the qualities by newer firmware: str tick_source
        tick_source = r.string()
    return Info(
        ver, tick_hz, ram, max_body, bytes(mhash), fw, board, backend, tuple(models), _res, qualities, tick_source
    )


def pack_info(info: Info) -> bytes:
    """INFO body (used by tests and device simulators)."""

    def s(x: str) -> bytes:
        b = x.encode("ascii")
        return bytes([len(b)]) + b

    out = _INFO_FIXED.pack(
        info.proto_version,
        len(info.models),
        info.capabilities,
        info.tick_hz,
        info.ram_bytes,
        info.max_body,
        info.model_hash,
    )
    out += s(info.fw_version) + s(info.board) + s(info.backend)
    for m in info.models:
        out += s(m.name) + _SHAPES.pack(*m.in_shape, *m.out_shape)
    if info.capabilities or info.qualities or info.tick_source:
        out += bytes([len(info.qualities), *info.qualities])
    if info.tick_source:
        out += s(info.tick_source)
    return out


def pack_run(model_idx: int, data: bytes) -> bytes:
    if not 0 <= model_idx <= 255:
        raise ValueError("model_idx must fit in a u8")
    return bytes([model_idx, 0, 0, 0]) + bytes(data)


def parse_run_result(body: bytes, tick_hz: int = 0) -> RunResult:
    if len(body) < 8:
        raise ProtocolError(f"RUN_RESULT body of {len(body)} bytes, need >= 8")
    (ticks,) = struct.unpack_from("<Q", body)
    return RunResult(ticks, bytes(body[8:]), tick_hz)


def pack_codec(quality: int, data: bytes) -> bytes:
    """ENCODE body (data = RGB888 tile) or DECODE body (data = rANS payload)."""
    if not 0 <= quality <= 255:
        raise ValueError("quality must fit in a u8")
    return bytes([quality, 0, 0, 0]) + bytes(data)


def _two_ticks(body: bytes, what: str) -> tuple[int, int, bytes]:
    if len(body) < 16:
        raise ProtocolError(f"{what} body of {len(body)} bytes, need >= 16")
    t0, t1 = struct.unpack_from("<QQ", body)
    return t0, t1, bytes(body[16:])


def parse_encode_result(body: bytes, tick_hz: int = 0) -> EncodeResult:
    return EncodeResult(*_two_ticks(body, "ENCODE_RESULT"), tick_hz)


def parse_decode_result(body: bytes, tick_hz: int = 0) -> DecodeResult:
    return DecodeResult(*_two_ticks(body, "DECODE_RESULT"), tick_hz)


def parse_error(body: bytes) -> DeviceErrorInfo:
    if len(body) < 4:
        raise ProtocolError(f"ERROR body of {len(body)} bytes, need >= 4")
    code, _res, n = struct.unpack_from("<BBH", body)
    return DeviceErrorInfo(code, body[4 : 4 + n].decode("ascii", errors="replace"))
