"""Host side of the device link: framing, protocol messages, serial transport, QEMU launcher.
No TensorFlow here: this package only needs pyserial. The QEMU launcher is
`tinycodec.host.qemu` (not imported here so `python -m tinycodec.host.qemu` runs cleanly)."""

from .framing import FrameDecoder, FramingError, cobs_decode, cobs_encode, pack_frame, unpack_frame
from .protocol import DeviceErrorInfo, ErrorCode, Info, ModelInfo, MsgType, ProtocolError, RunResult
from .transport import Device, DeviceError, DeviceTimeout

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
