"""A fault-injecting TCP proxy for the device link: drops, flips, duplicates and delays bytes.

Put it between the host and a device exposed on TCP (QEMU's UART, a ser2net bridge) to test that the transport's
retries give exactly the results of a clean link:

    python tests/tools/faultproxy.py --listen 127.0.0.1:0 --target 127.0.0.1:PORT \\
        --drop 1e-5 --flip 1e-5 --dup 1e-5 --delay-ms 5 --seed 1
    tinycodec bench --port socket://127.0.0.1:<printed port> ...

    with FaultProxy(("127.0.0.1", port), drop=1e-5, seed=1) as px:
        dev = Device(px.url)

Faults are per byte, per direction (--drop, --flip, --dup are probabilities per forwarded byte; a flip inverts one
random bit). A 64x64 tile is ~12.3 kB on the way in, so 1e-5 damages about one request in eight. --delay-ms holds
each forwarded chunk for a random 0..delay_ms. The byte faults come from one seeded RNG per direction, drawn once
per byte, so they do not depend on how the stream is chunked. Each accepted client gets a fresh connection to the
target (QEMU `server=on` accepts the next client when the previous one leaves); with `reconnect` the proxy keeps the
host's connection when the device side goes away and reconnects to `target` (which `retarget()` may change): a board
that reboots, as seen through a USB-serial adapter.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import socket
import sys
import threading
import time

__all__ = ["FaultProxy", "Faults"]


class Faults:
    """Byte-level fault model of one direction."""

    def __init__(self, drop: float = 0.0, flip: float = 0.0, dup: float = 0.0, delay_ms: float = 0.0, seed: int = 0):
        self.drop, self.flip, self.dup, self.delay_ms = drop, flip, dup, delay_ms
        self._rng = random.Random(seed)
        self._delay_rng = random.Random(seed ^ 0x5EED)
        self.counts = {"bytes": 0, "dropped": 0, "flipped": 0, "duplicated": 0, "delays": 0}

    def apply(self, data: bytes) -> bytes:
        self.counts["bytes"] += len(data)
        p_drop, p_flip, p_dup = self.drop, self.drop + self.flip, self.drop + self.flip + self.dup
        if p_dup <= 0:
            return data
        out = bytearray()
        rnd = self._rng.random
        for b in data:
            u = rnd()
            if u >= p_dup:
                out.append(b)
            elif u < p_drop:
                self.counts["dropped"] += 1
            elif u < p_flip:
                out.append(b ^ (1 << self._rng.randrange(8)))
                self.counts["flipped"] += 1
            else:
                out += bytes((b, b))
                self.counts["duplicated"] += 1
        return bytes(out)

    def pause(self) -> None:
        if self.delay_ms > 0:
            self.counts["delays"] += 1
            time.sleep(self._delay_rng.uniform(0.0, self.delay_ms) / 1000.0)


class FaultProxy:
    """Listen on `listen`, forward every client to `target` through the fault models (`.up` host->device,
    `.down` device->host). `.url` is the pyserial URL to give the host."""

    def __init__(
        self,
        target: tuple[str, int],
        listen: tuple[str, int] = ("127.0.0.1", 0),
        *,
        drop: float = 0.0,
        flip: float = 0.0,
        dup: float = 0.0,
        delay_ms: float = 0.0,
        seed: int = 0,
        reconnect: bool = False,
    ) -> None:
        self.target = target
        self.reconnect = reconnect
        self.reconnects = 0
        self.up = Faults(drop, flip, dup, delay_ms, seed * 2 + 1)
        self.down = Faults(drop, flip, dup, delay_ms, seed * 2 + 2)
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(listen)
        self._srv.listen(4)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: list[socket.socket] = []
        self.connections = 0

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return {"host_to_device": dict(self.up.counts), "device_to_host": dict(self.down.counts)}

    def start(self) -> FaultProxy:
        t = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def retarget(self, target: tuple[str, int]) -> None:
        """Send the next upstream (re)connection to another address (a board rebooted on a new port)."""
        self.target = target

    def _accept_loop(self) -> None:
        self._srv.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            self.connections += 1
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.settimeout(0.2)
            self._socks.append(client)
            link = {"up": upstream, "closed": threading.Event()}
            for fn in (self._pump_up, self._pump_down):
                t = threading.Thread(target=fn, args=(client, link), daemon=True)
                t.start()
                self._threads.append(t)

    def _connect(self, wait: float = 10.0) -> socket.socket | None:
        deadline = time.monotonic() + wait
        while not self._stop.is_set():
            try:
                s = socket.create_connection(self.target, timeout=2)
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.05)
                continue
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(0.2)
            self._socks.append(s)
            return s
        return None

    def _pump_up(self, client: socket.socket, link: dict) -> None:
        """host -> device. Bytes sent while the device side is down are lost (like a UART without a board)."""
        try:
            while not self._stop.is_set() and not link["closed"].is_set():
                try:
                    data = client.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    break
                self.up.pause()
                out = self.up.apply(data)
                if out:
                    with contextlib.suppress(OSError):
                        link["up"].sendall(out)
        except OSError:
            pass
        finally:
            self._close_link(client, link)

    def _pump_down(self, client: socket.socket, link: dict) -> None:
        """device -> host. When the device side closes (board reset / QEMU restarted) and `reconnect` is on, connect
        to `target` again and carry on: the host keeps its link, as with a USB-serial adapter."""
        try:
            while not self._stop.is_set() and not link["closed"].is_set():
                try:
                    data = link["up"].recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    if not self.reconnect:
                        break
                    with contextlib.suppress(OSError):
                        link["up"].close()
                    up = self._connect(wait=60.0)
                    if up is None:
                        break
                    link["up"] = up
                    self.reconnects += 1
                    continue
                self.down.pause()
                out = self.down.apply(data)
                if out:
                    client.sendall(out)
        except OSError:
            pass
        finally:
            self._close_link(client, link)

    @staticmethod
    def _close_link(client: socket.socket, link: dict) -> None:
        link["closed"].set()
        for s in (client, link["up"]):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._srv.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
        for t in self._threads:
            t.join(timeout=1)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python tests/tools/faultproxy.py", description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: pick one)")
    ap.add_argument("--target", required=True, help="HOST:PORT of the device (QEMU's serial TCP port)")
    ap.add_argument("--drop", type=float, default=0.0, help="probability per byte of dropping it")
    ap.add_argument("--flip", type=float, default=0.0, help="probability per byte of flipping one bit")
    ap.add_argument("--dup", type=float, default=0.0, help="probability per byte of sending it twice")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="hold each chunk for a random 0..N ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reconnect", action="store_true", help="reconnect to the target when it closes (board reset)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    px = FaultProxy(
        _addr(args.target),
        _addr(args.listen),
        drop=args.drop,
        flip=args.flip,
        dup=args.dup,
        delay_ms=args.delay_ms,
        seed=args.seed,
        reconnect=args.reconnect,
    ).start()
    print(f"faultproxy: {px.url} -> {args.target} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        px.close()
        print(f"faultproxy: {px.counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
