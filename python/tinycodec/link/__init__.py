"""The device link: framing, protocol messages, the device client (serial / QEMU socket), the QEMU launcher and
the board table. No TensorFlow and no evaluator here (tests/test_layers.py checks it): this package needs
pyserial only. The launcher is `tinycodec.link.qemu` (not imported here so `python -m tinycodec.link.qemu` runs
cleanly)."""

from .device import Device, DeviceError, DeviceTimeout
from .framing import FrameDecoder, FramingError, cobs_decode, cobs_encode, pack_frame, unpack_frame
from .protocol import DeviceErrorInfo, ErrorCode, Info, ModelInfo, MsgType, ProtocolError, RunResult

__all__ = [
    "FrameDecoder",
    "FramingError",
    "cobs_decode",
    "cobs_encode",
    "pack_frame",
    "unpack_frame",
    "DeviceErrorInfo",
    "ErrorCode",
    "Info",
    "ModelInfo",
    "MsgType",
    "ProtocolError",
    "RunResult",
    "Device",
    "DeviceError",
    "DeviceTimeout",
]
