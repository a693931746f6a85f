"""Talk to a tinycodec device over a serial link (real UART, or QEMU's socket:// URL).

dev = Device("socket://127.0.0.1:4444")
info = dev.wait_ready()           # boot INFO (or HELLO if the boot frame was missed)
res = dev.run(0, tile_bytes)      # RunResult(ticks, output)
enc = dev.encode(2, tile_rgb)     # EncodeResult(ticks_enc, ticks_ec, payload)   if info.has_codec
dec = dev.decode(2, enc.payload)  # DecodeResult(ticks_ed, ticks_dec, tile)
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable
from typing import Any

import serial

from ..errors import TinycodecError
from .framing import DELIMITER, FrameDecoder, FramingError, Packet, pack_frame
from .protocol import (
    DecodeResult,
    EncodeResult,
    ErrorCode,
    Info,
    MsgType,
    ProtocolError,
    RunResult,
    pack_codec,
    pack_run,
    parse_decode_result,
    parse_encode_result,
    parse_error,
    parse_info,
    parse_run_result,
)

__all__ = ["Device", "DeviceTimeout", "DeviceError", "ProtocolError"]

log = logging.getLogger("tinycodec.transport")


class DeviceTimeout(TinycodecError, TimeoutError):
    """No (valid) reply within the timeout, after all retries."""


class DeviceError(TinycodecError):
    """The device answered with an ERROR frame."""

    def __init__(self, code: int, message: str, req_id: int = 0) -> None:
        self.code, self.message, self.req_id = code, message, req_id
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = f"code {code}"
        super().__init__(f"device error {name}: {message}")


# errors that mean "the request was damaged on its way in": worth sending again
_RETRYABLE = {ErrorCode.BAD_CRC, ErrorCode.BAD_FRAMING}
# Largest frame the host buffers (docs/security.md): 64x the firmware's max_body; a peer that never sends the
# 0x00 delimiter costs at most this much memory (the rest is dropped and reported as a LengthError).
MAX_FRAME_BYTES = 1 << 20


class Device:
    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        port: Any = None,
        on_reboot: Callable[[Info], None] | None = None,
        adaptive_timeout: bool = False,
        backoff: float = 0.05,
    ) -> None:
        """url: pyserial URL/port name; or pass an open pyserial-like object as `port`.
        adaptive_timeout: wait at most max(3 s, 5 x the recent round trip of this request type) (capped at
        `timeout`) before re-sending, instead of always `timeout`: a lost byte then costs seconds, not the
        whole timeout. Re-sending is safe: requests are idempotent and a late reply to an earlier attempt of
        the same request is accepted. backoff: sleep backoff * 2**(attempt-1) before each re-send."""
        if port is None:
            if url is None:
                raise ValueError("url or port required")
            port = serial.serial_for_url(url, timeout=0.05, baudrate=115200)
        self.ser = port
        self.url = url or repr(port)
        self._is_socket = type(port).__module__.endswith("protocol_socket")
        self.timeout = timeout
        self.retries = retries
        self.on_reboot = on_reboot
        self.boots = 0  # boot INFO frames seen (unsolicited, req_id 0)
        self.boot_info: Info | None = None
        self.info: Info | None = None
        self.adaptive_timeout = adaptive_timeout
        self.backoff = backoff
        self.stats = {"retries": 0, "garbled": 0, "stale": 0, "timeouts": 0, "device_errors": 0}
        self._decoder = FrameDecoder(max_frame=MAX_FRAME_BYTES)  # an untrusted peer cannot grow it unbounded
        self._queue: list[Packet | FramingError] = []
        # a random first id: replies still in flight for an earlier host process on the same link
        # (a killed run, a resumed bench) do not collide with ours
        self._next_id = random.randint(1, 0xFFFF)
        self._rtt: dict[int, float] = {}  # request type -> smoothed round trip (s), for adaptive_timeout
        self.rx_bytes = 0  # every byte received (tells a silent link from one that sends garbage)

    # -- life cycle --------------------------------------------------------------------------
    @property
    def reboots(self) -> int:
        """Reboots seen after the first boot (the host uses this to detect a device reset)."""
        return max(0, self.boots - 1)

    def close(self) -> None:
        self.ser.close()

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_ready(self, timeout: float = 10.0) -> Info:
        """Wait for the boot INFO (ready token). If it never comes (the device booted before we
        connected), fall back to HELLO."""
        boots = self.boots
        deadline = time.monotonic() + timeout
        while self.boots == boots and time.monotonic() < deadline:
            item = self.recv(deadline - time.monotonic())
            if item is None:
                break
        if self.boots > boots and self.boot_info is not None:
            return self.boot_info
        return self.hello()

    def connect(self, within: float = 5.0) -> Info:
        """The board's INFO within `within` seconds (bounded, whatever self.timeout/retries are): its boot INFO, or
        the answer to a HELLO sent about once a second. Raises DeviceTimeout with what was seen on the link (nothing
        at all, bytes but no frame...), whether another client holds the port, and what to check."""
        t0 = time.monotonic()
        deadline = t0 + within
        rx0, garbled0, boots = self.rx_bytes, self.stats["garbled"], self.boots
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            while self.boots == boots and time.monotonic() < deadline:  # a boot INFO already on its way?
                if self.recv(min(0.3, max(0.0, deadline - time.monotonic()))) is None:
                    break
            if self.boots > boots and self.boot_info is not None:
                return self.boot_info
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self.info = parse_info(self.request(MsgType.HELLO, b"", MsgType.INFO, min(1.0, left), retries=0).body)
                return self.info
            except DeviceTimeout:
                continue
        raise DeviceTimeout(
            silence_report(
                self.url, time.monotonic() - t0, self.rx_bytes - rx0, self.stats["garbled"] - garbled0, self._is_socket
            )
        )

    # -- raw access (tests, tools) --------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.ser.write(data)
        self.ser.flush()

    def recv(self, timeout: float | None = None) -> Packet | FramingError | None:
        """Next frame from the device (boot INFOs are recorded and also returned), or None."""
        deadline = time.monotonic() + (self.timeout if timeout is None else max(0.0, timeout))
        while not self._queue:
            if time.monotonic() >= deadline:
                return None
            chunk = self._read_some()
            if chunk:
                self._queue.extend(self._decoder.feed(chunk))
        item = self._queue.pop(0)
        if isinstance(item, Packet) and item.type == MsgType.INFO and item.req_id == 0:
            try:
                self._note_boot(item)
            except ProtocolError as e:  # a CRC-valid but malformed boot INFO: garbled, not a crash
                return FramingError(f"malformed boot INFO: {e}")
        return item

    def _read_some(self) -> bytes:
        """Wait (up to the port timeout) for data, then take everything already available.
        pyserial's socket:// in_waiting only says 0/1, so drain those with a zero-timeout read:
        reading byte by byte caps device->host at ~16 kB/s."""
        first = self.ser.read(1)
        if not first:
            return b""
        if self._is_socket:
            old = self.ser.timeout
            self.ser.timeout = 0
            try:
                data = first + self.ser.read(1 << 16)
            finally:
                self.ser.timeout = old
        else:
            n = getattr(self.ser, "in_waiting", 0)
            data = first + (self.ser.read(n) if n else b"")
        self.rx_bytes += len(data)
        return data

    def _note_boot(self, pkt: Packet) -> None:
        info = parse_info(pkt.body)
        self.boots += 1
        self.boot_info = self.info = info
        self._decoder.max_body = None
        if self.boots > 1 and self.on_reboot is not None:
            self.on_reboot(info)

    def new_req_id(self) -> int:
        rid = self._next_id
        self._next_id = self._next_id % 0xFFFF + 1  # 1..65535; 0 is the boot INFO / unknown
        return rid

    # -- requests -----------------------------------------------------------------------------
    def _attempt_timeout(self, type_: int, timeout: float) -> float:
        if not self.adaptive_timeout or type_ not in self._rtt:
            return timeout
        return min(timeout, max(3.0, 5.0 * self._rtt[type_]))

    def request(
        self, type_: int, body: bytes, expect: int, timeout: float | None = None, retries: int | None = None
    ) -> Packet:
        """Send one request, return the matching reply. Retries (new req_id, bounded, with backoff) on
        timeout, garbled frames, a reboot and BAD_CRC/BAD_FRAMING; raises DeviceError for other ERROR replies.

        Idempotent by design: every attempt is the same request, so a reply to ANY attempt of this request is
        accepted (a late reply to attempt 1 after attempt 2 was sent is fine) and replies to other ids (earlier
        requests, duplicates of re-sent attempts) are discarded as stale. Each frame is preceded by a lone 0x00:
        if an earlier frame lost its delimiter on the way, the device drops that fragment instead of merging
        it with this request."""
        timeout = self.timeout if timeout is None else timeout
        retries = self.retries if retries is None else retries
        last = "no reply"
        ours: set[int] = set()
        t0 = time.monotonic()
        for attempt in range(retries + 1):
            if attempt:
                self.stats["retries"] += 1
                log.info("%s: re-sending %s (attempt %d): %s", self.url, MsgType(type_).name, attempt + 1, last)
                if self.backoff:
                    time.sleep(min(2.0, self.backoff * 2 ** (attempt - 1)))
            rid = self.new_req_id()
            ours.add(rid)
            self.send_raw(DELIMITER + pack_frame(type_, rid, body))
            sent = time.monotonic()
            deadline = sent + self._attempt_timeout(type_, timeout)
            garbled = False
            while True:
                item = self.recv(deadline - time.monotonic())
                if item is None:
                    if not garbled:
                        self.stats["timeouts"] += 1
                        last = f"no reply within {deadline - sent:.1f} s"
                    break
                if isinstance(item, FramingError):
                    # most likely our reply, damaged: nothing else will come, so re-send soon (a stale
                    # frame damaged instead is harmless: our reply is still accepted when it comes)
                    self.stats["garbled"] += 1
                    garbled = True
                    last = f"garbled reply: {item}"
                    deadline = min(deadline, time.monotonic() + 0.3)
                    continue
                if item.type == MsgType.INFO and item.req_id == 0:
                    last = "device rebooted during the request"
                    break
                if item.type == MsgType.ERROR and item.req_id in (rid, 0):
                    err = parse_error(item.body)
                    if err.code in _RETRYABLE:
                        self.stats["device_errors"] += 1
                        last = f"device reported {err.name}: {err.message}"
                        break
                    raise DeviceError(err.code, err.message, item.req_id)
                if item.req_id not in ours or item.type == MsgType.ERROR:
                    self.stats["stale"] += 1  # another request's reply, or an error about an older attempt
                    continue
                if item.type != expect:
                    raise ProtocolError(f"expected type 0x{expect:02x}, got 0x{item.type:02x}")
                if attempt == 0:
                    rtt = time.monotonic() - t0
                    old = self._rtt.get(type_)
                    self._rtt[type_] = rtt if old is None else 0.8 * old + 0.2 * rtt
                return item
        raise DeviceTimeout(
            f"{MsgType(type_).name if type_ in MsgType._value2member_map_ else type_}: {last} ({retries + 1} attempts)"
        )

    def hello(self) -> Info:
        self.info = parse_info(self.request(MsgType.HELLO, b"", MsgType.INFO).body)
        return self.info

    def echo(self, data: bytes, timeout: float | None = None) -> bytes:
        return self.request(MsgType.ECHO, bytes(data), MsgType.ECHO_REPLY, timeout).body

    def run(self, model_idx: int, data: bytes, timeout: float | None = None) -> RunResult:
        pkt = self.request(MsgType.RUN, pack_run(model_idx, data), MsgType.RUN_RESULT, timeout)
        return parse_run_result(pkt.body, self.info.tick_hz if self.info else 0)

    def encode(self, quality: int, tile_rgb: bytes, timeout: float | None = None) -> EncodeResult:
        """ENCODE one RGB888 tile (uint8, tile*tile*3 bytes) on the device -> its rANS payload."""
        pkt = self.request(MsgType.ENCODE, pack_codec(quality, tile_rgb), MsgType.ENCODE_RESULT, timeout)
        return parse_encode_result(pkt.body, self.info.tick_hz if self.info else 0)

    def decode(self, quality: int, payload: bytes, timeout: float | None = None) -> DecodeResult:
        """DECODE one tile's rANS payload on the device -> RGB888 tile bytes."""
        pkt = self.request(MsgType.DECODE, pack_codec(quality, payload), MsgType.DECODE_RESULT, timeout)
        return parse_decode_result(pkt.body, self.info.tick_hz if self.info else 0)


# -- why a board does not answer ---------------------------------------------------------------------------------
def _tcp_port(url: str) -> int | None:
    m = re.match(r"socket://(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)", url)
    return int(m.group(1)) if m else None


def _local_connections(port: int) -> int | None:
    """Established TCP connections whose local end is 127.0.0.1/::1:port (the server sides: the client QEMU accepted,
    and ours, which waits in its backlog), from /proc/net/tcp*; None without /proc."""
    n, seen = 0, False
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "01" and parts[1].endswith(f":{port:04X}"):
                n += 1
    return n if seen else None


def _other_openers(dev_path: str) -> list[int]:
    """Pids of other processes that have the serial device open (Linux /proc; only those this user may see)."""
    try:
        target = os.path.realpath(dev_path)
        pids = [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) != os.getpid()]
    except OSError:
        return []
    found = []
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    found.append(pid)
                    break
            except OSError:
                continue
    return found


def silence_report(url: str, waited: float, rx_bytes: int, garbled: int, is_socket: bool) -> str:
    """One line: what the link did in `waited` seconds, and what to check."""
    busy = None
    port = _tcp_port(url)
    if port is not None:
        n = _local_connections(port)
        if n is not None and n >= 2:
            busy = (
                f"port {port} is busy: {n - 1} other client(s) connected (QEMU's serial port serves one client "
                "at a time): close the other bench / miniterm / nc, or boot another board"
            )
    elif not is_socket and not url.startswith(("socket://", "rfc2217://", "loop://", "spy://")):
        pids = _other_openers(url)
        if pids:
            busy = f"{url} is busy: also open in process(es) {', '.join(map(str, pids))}: close them"
    if rx_bytes == 0:
        seen = f"no reply within {waited:.1f} s, not a single byte received"
        check = "check that the board is powered and runs the tinycodec firmware (make flash), and the port/URL"
    else:
        seen = f"no valid reply within {waited:.1f} s: {rx_bytes} bytes received, {garbled} garbled frame(s)"
        check = "check the baud rate (115200) and that the board runs the tinycodec firmware (make flash)"
    return f"{seen}; {busy or check}; --connect-timeout to wait longer"
