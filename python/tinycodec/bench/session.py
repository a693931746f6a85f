"""`tinycodec bench`: whole images through one or more devices, tile by tile, into a resumable session folder.

Every tile of every image (at every quality) is ENCODEd on a device and the device's payload DECODEd on the device.
Both are compared with the host codec (HostCodec, computed in a worker thread while the device works). Device
latency comes from the device timer only. Session folder layout: docs/bench.md; the records: bench/records.py; the
results built from them: bench/results.py.

Nothing is lost: each tile's result is appended to tiles.jsonl (flushed + fsync'd) as it arrives; `--resume DIR`
skips the tiles already there. A damaged journal loses only its damaged lines (records.read_jsonl); every other file
of the folder is written atomically (safeio). Tiles are sharded over boards (one thread per device) through a shared
queue; a board that stops answering gives its tile back and leaves, the others carry on.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import metrics, tiling
from ..bundle import Bundle
from ..codec import HostCodec
from ..imageio import read_rgb
from ..link.boards import tick_note
from ..link.device import Device, DeviceError, DeviceTimeout
from ..link.protocol import Info
from ..safeio import FileError, atomic_write, open_input, os_error_line
from .records import BenchError, b64, fsync_append, key, log, read_jsonl


@dataclass
class Config:
    images: list[str]  # absolute paths, in order
    qualities: list[int]
    model: str
    warmup: int = 1
    repeat: int = 3
    timing_tiles: int = 2
    created: str = ""
    model_hash: str = ""  # of the bundle at the start: the device must run it, finalize must use it
    tiles: int = 0  # > 0: a quick sample, only this many tiles per image (evenly spaced): no whole-image results

    @classmethod
    def load(cls, path: Path) -> Config:
        """The session's settings; any problem with the file is one BenchError line naming it."""
        hint = "restore it from a backup, or start a new session (--out)"
        try:
            with open_input(path, "a bench config.json", 64 << 20) as f:
                data = json.loads(f.read())
        except FileError as e:
            raise BenchError(str(e)) from None
        except OSError as e:
            raise BenchError(os_error_line(e, path, "cannot read")) from None
        except UnicodeDecodeError:
            raise BenchError(f"{path}: not text (corrupted); {hint}") from None
        except json.JSONDecodeError as e:
            raise BenchError(f"{path}: corrupted (not JSON: {e.msg} at line {e.lineno}); {hint}") from None
        if not isinstance(data, dict):
            raise BenchError(f"{path}: not a bench config (a JSON {type(data).__name__}, expected an object); {hint}")
        try:
            cfg = cls(**data)
        except TypeError as e:  # a missing or unknown field
            why = str(e).removeprefix("Config.__init__() ")
            raise BenchError(f"{path}: not a bench config ({why}); {hint}") from None
        ok = (
            isinstance(cfg.images, list)
            and all(isinstance(i, str) for i in cfg.images)
            and isinstance(cfg.qualities, list)
            and all(isinstance(q, int) and not isinstance(q, bool) for q in cfg.qualities)
            and isinstance(cfg.model, str)
            and all(isinstance(getattr(cfg, k), int) for k in ("warmup", "repeat", "timing_tiles", "tiles"))
        )
        if not ok:
            raise BenchError(f"{path}: not a bench config (a field has the wrong type); {hint}")
        return cfg

    def as_dict(self) -> dict:
        """The fields as saved (`tiles` only in a sampled session: a whole-image session's config.json is as it
        was before the option existed)."""
        return {k: v for k, v in self.__dict__.items() if k != "tiles" or v}

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.as_dict(), indent=1) + "\n")

    def check_images(self) -> None:
        """Every image of the session is still there (before any work: a resume needs them all)."""
        for p in self.images:
            try:
                open_input(p, "an image of this session").close()
            except FileError as e:
                raise BenchError(f"{e}; the session needs it: put it back, or start a new session") from None


def check_device(info: Info, bundle: Bundle, qualities: list[int], url: str = "device") -> None:
    """The device can run this session: the same model (hash), the codec commands, tables for every quality."""
    if info.model_hash != bundle.model_hash:
        raise BenchError(
            f"{url}: device runs model {info.model_hash.hex()[:16]}, host has "
            f"{bundle.manifest['model_hash'][:16]} ({bundle.path}); flash the firmware built from "
            "this model (make flash)"
        )
    if not info.has_codec:
        raise BenchError(f"{url}: firmware without ENCODE/DECODE ({info.backend}); build env qemu_m4/qemu_m55")
    missing = [q for q in qualities if q not in info.qualities]
    if missing:
        raise BenchError(f"{url}: device has no tables for quality {missing} (it has {list(info.qualities)})")


@dataclass
class Board:
    """One device of the run (thread-owned after start)."""

    idx: int
    url: str
    dev: Device
    info: Info | None = None
    tiles: int = 0
    failed: str | None = None
    reboots: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"b{self.idx}"


class Session:
    def __init__(self, out: Path, config: Config, bundle: Bundle) -> None:
        self.out = out
        self.config = config
        self.bundle = bundle
        self.tile = bundle.tile
        out.mkdir(parents=True, exist_ok=True)
        config.check_images()
        self.images = {Path(p).name: Path(p) for p in config.images}
        self._img_cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    # -- inputs ---------------------------------------------------------------------------------------------
    def image(self, name: str) -> np.ndarray:
        with self._lock:
            if name not in self._img_cache:
                self._img_cache[name] = read_rgb(self.images[name])[0]
            return self._img_cache[name]

    def work(self) -> list[tuple[int, str, int]]:
        items = []
        for q in self.config.qualities:
            for name, path in self.images.items():
                from PIL import Image

                try:
                    with open_input(path, "an image of this session") as f, Image.open(f) as im:
                        w, h = im.size
                except FileError as e:
                    raise BenchError(f"{e}; the session needs it: put it back, or start a new session") from None
                except (OSError, SyntaxError, ValueError) as e:
                    raise BenchError(f"{path}: not a readable image any more ({type(e).__name__}: {e})") from None
                rows, cols = tiling.grid(h, w, self.tile)
                n = rows * cols
                k = min(self.config.tiles, n) if self.config.tiles > 0 else n
                items += [(q, name, (i * n) // k) for i in range(k)]  # k == n: every tile
        return items

    def tile_of(self, name: str, idx: int) -> np.ndarray:
        return np.ascontiguousarray(tiling.split(self.image(name), self.tile)[idx], np.uint8)

    # -- the run --------------------------------------------------------------------------------------------
    def run(self, devices: list[tuple[str, Device]], progress: Callable | None = None) -> dict:
        """Run every pending tile on the devices (sharded), then the timing repeats. Returns run stats."""
        tiles_path = self.out / "tiles.jsonl"
        done = {r["key"] for r in read_jsonl(tiles_path, repair=True)}
        work = [w for w in self.work() if key(*w) not in done]
        total = len(done) + len(work)
        boards = [Board(i, url, dev) for i, (url, dev) in enumerate(devices)]
        for b in boards:
            self._connect(b)
        self._write_boards(boards)
        log.info("session %s: %d tiles done, %d to go, %d board(s)", self.out, len(done), len(work), len(boards))
        q: queue.Queue = queue.Queue()
        for w in work:
            q.put(w)
        host = ThreadPoolExecutor(1, thread_name_prefix="host-ref")
        stop = threading.Event()
        bar = progress(total=total, initial=len(done)) if progress else None
        running = {"n": 0, "bpp": 0.0, "psnr": 0.0}
        t0 = time.perf_counter()
        with open(tiles_path, "a") as f:

            def board_loop(b: Board) -> None:
                while not stop.is_set():
                    try:
                        item = q.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        rec = self._tile(b, host, *item)
                    except (DeviceTimeout, OSError, DeviceError, ValueError) as e:
                        q.put(item)  # give it back: another board (or --resume) does it
                        b.failed = f"{type(e).__name__}: {e}"
                        log.error("%s (%s) left the run: %s", b.name, b.url, b.failed)
                        return
                    except BenchError as e:
                        b.failed = str(e)
                        stop.set()
                        q.put(item)
                        return
                    with self._lock:
                        if f.closed:  # the run was interrupted and gave up waiting for this board
                            return
                        try:
                            fsync_append(f, json.dumps(rec))
                        except OSError as e:  # a full disk: stop, keep what is recorded (a torn line is cut)
                            b.failed = os_error_line(e, tiles_path, "cannot record the tile")
                            stop.set()
                            q.put(item)
                            return
                        b.tiles += 1
                        n = running["n"] = running["n"] + 1
                        running["bpp"] += (rec["payload_bytes"] * 8 / self.tile**2 - running["bpp"]) / n
                        running["psnr"] += (min(rec["psnr"], 100.0) - running["psnr"]) / n
                        if bar is not None:
                            bar.set_postfix_str(f"tile bpp {running['bpp']:.3f} PSNR {running['psnr']:.2f} dB")
                            bar.update(1)
                    log.debug(
                        "%s %s %s: %d B, %.2f dB, match %s/%s",
                        b.name,
                        rec["key"],
                        b.info.board if b.info else "?",
                        rec["payload_bytes"],
                        rec["psnr"],
                        rec["payload_match"],
                        rec["recon_match"],
                    )

            # daemon: a board blocked in a request (up to --timeout x --retries) never keeps the process alive
            threads = [threading.Thread(target=board_loop, args=(b,), name=b.name, daemon=True) for b in boards]
            for t in threads:
                t.start()
            try:
                for t in threads:
                    while t.is_alive():
                        t.join(0.2)
            except KeyboardInterrupt:  # Ctrl-C, or SIGTERM/SIGHUP (the CLI maps them): finish the tiles in flight
                stop.set()
                deadline = time.monotonic() + 10.0
                for t in threads:
                    t.join(max(0.0, deadline - time.monotonic()))
                with self._lock:  # a board still in a request finds the journal closed and drops its tile
                    f.close()
                raise
            finally:
                if bar is not None:
                    bar.close()
        wall = time.perf_counter() - t0
        fatal = [b.failed for b in boards if b.failed and stop.is_set()]
        if fatal:
            host.shutdown()
            raise BenchError(fatal[0])
        alive = [b for b in boards if not b.failed]
        self._timing(alive, host)
        host.shutdown()
        self._write_boards(boards)
        left = q.qsize()
        stats = {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - wall)),
            "wall_s": wall,
            "tiles_run": len(work) - left,
            "tiles_left": left,
            "boards": len(boards),
        }
        with open(self.out / "runs.jsonl", "a") as f:
            fsync_append(f, json.dumps(stats))
        return stats

    def _connect(self, b: Board) -> None:
        b.dev.on_reboot = lambda info, b=b: self._on_reboot(b, info)
        try:
            info = b.dev.hello()
        except (DeviceTimeout, DeviceError, OSError, ValueError) as e:
            raise BenchError(f"{b.url}: no valid answer to HELLO ({e})") from None
        self._check(b, info)
        b.info = info

    def _check(self, b: Board, info: Info) -> None:
        check_device(info, self.bundle, self.config.qualities, b.url)

    def _on_reboot(self, b: Board, info: Info) -> None:
        b.reboots.append(time.time())
        log.warning("%s (%s) rebooted (boot INFO); re-checking the model and continuing", b.name, b.url)
        self._check(b, info)  # raises BenchError in the board's thread: the run stops with the message
        b.info = info

    def _tile(self, b: Board, host: ThreadPoolExecutor, q: int, name: str, idx: int) -> dict:
        tile = self.tile_of(name, idx)
        codec = self._codec()
        before = dict(b.dev.stats)
        host_times: list[float] = []

        def timed(fn, *a):
            t = time.perf_counter()
            r = fn(*a)
            host_times.append(time.perf_counter() - t)
            return r

        f_enc: Future = host.submit(timed, codec.encode_tile, tile, q)  # overlaps the device's ENCODE
        t0 = time.perf_counter()
        enc = b.dev.encode(q, tile.tobytes())
        t1 = time.perf_counter()
        f_dec: Future = host.submit(timed, codec.decode_tile, enc.payload, q)  # overlaps the device's DECODE
        dec = b.dev.decode(q, enc.payload)
        t2 = time.perf_counter()
        host_payload, host_recon = f_enc.result(), f_dec.result()
        t3 = time.perf_counter()
        recon = np.frombuffer(dec.tile, np.uint8).reshape(tile.shape)
        after = b.dev.stats
        return {
            "key": key(q, name, idx),
            "quality": q,
            "image": name,
            "index": idx,
            "board": b.name,
            "board_name": b.info.board if b.info else "",
            "payload_bytes": len(enc.payload),
            "payload": b64(enc.payload),
            "recon": b64(zlib.compress(dec.tile, 6)),
            "payload_match": enc.payload == host_payload,
            "recon_match": bool(np.array_equal(recon, host_recon)),
            "enc_ticks": enc.ticks_enc,
            "ec_ticks": enc.ticks_ec,
            "ed_ticks": dec.ticks_ed,
            "dec_ticks": dec.ticks_dec,
            "tick_hz": b.info.tick_hz if b.info else 0,
            "psnr": metrics.psnr(tile, recon),
            "encode_wall_s": t1 - t0,
            "decode_wall_s": t2 - t1,
            "host_s": sum(host_times),
            "host_wait_s": t3 - t2,
            "retries": after["retries"] - before["retries"],
            "stale": after["stale"] - before["stale"],
            "garbled": after["garbled"] - before["garbled"],
            "t": time.time(),
        }

    def _codec(self) -> HostCodec:
        with self._lock:
            if not hasattr(self, "_hc"):
                self._hc = HostCodec(self.bundle)
            return self._hc

    # -- MLPerf-Tiny-style timing: warm-up requests, then R timed repeats of a few tiles, device timer only ----
    def _timing(self, boards: list[Board], host: ThreadPoolExecutor) -> None:
        path = self.out / "timing.jsonl"
        have = read_jsonl(path, repair=True)
        cfg = self.config
        if cfg.repeat <= 0 or not boards:
            return
        work = self.work()
        subset = []
        for q in cfg.qualities:
            wq = [w for w in work if w[0] == q]
            n = max(1, min(cfg.timing_tiles, len(wq)))
            subset += [wq[(i * len(wq)) // n] for i in range(n)]
        with open(path, "a") as f:
            for b in boards:
                done = {(r["key"], r["run"]) for r in have if r["board"] == b.name}
                todo = [(w, r) for w in subset for r in range(cfg.repeat) if (key(*w), r) not in done]
                if not todo:
                    continue
                try:
                    first = subset[0]
                    for _ in range(cfg.warmup):  # warm-up: not recorded
                        b.dev.encode(first[0], self.tile_of(first[1], first[2]).tobytes())
                    for (q, name, idx), r in todo:
                        tile = self.tile_of(name, idx)
                        enc = b.dev.encode(q, tile.tobytes())
                        dec = b.dev.decode(q, enc.payload)
                        rec = {
                            "key": key(q, name, idx),
                            "quality": q,
                            "run": r,
                            "board": b.name,
                            "enc_ticks": enc.ticks_enc,
                            "ec_ticks": enc.ticks_ec,
                            "ed_ticks": dec.ticks_ed,
                            "dec_ticks": dec.ticks_dec,
                            "tick_hz": b.info.tick_hz if b.info else 0,
                        }
                        with self._lock:
                            fsync_append(f, json.dumps(rec))
                except (DeviceTimeout, OSError, DeviceError) as e:
                    log.error("%s: timing runs stopped: %s", b.name, e)

    def _write_boards(self, boards: list[Board]) -> None:
        data = []
        for b in boards:
            i = b.info
            data.append(
                {
                    "id": b.name,
                    "url": b.url,
                    "board": i.board if i else None,
                    "backend": i.backend if i else None,
                    "fw_version": i.fw_version if i else None,
                    "tick_hz": i.tick_hz if i else None,
                    "ram_bytes": i.ram_bytes if i else None,
                    "model_hash": i.model_hash.hex() if i else None,
                    "capabilities": i.capabilities if i else None,
                    "qualities": list(i.qualities) if i else None,
                    "tick_source": i.tick_source if i else None,
                    "tick_note": tick_note(i.board, i.tick_source) if i else "device timer",
                    "tiles_this_run": b.tiles,
                    "link": dict(b.dev.stats),
                    "reboots": len(b.reboots),
                    "failed": b.failed,
                }
            )
        atomic_write(self.out / "boards.json", json.dumps(data, indent=1) + "\n")


def load_bundle(config: Config) -> Bundle:
    """The session's model bundle; refuses one whose hash differs from the one the session started with (a
    re-exported model: its .tcz headers and host checks would be wrong)."""
    bundle = Bundle.load(Path(config.model))
    if config.model_hash and bundle.manifest["model_hash"] != config.model_hash:
        raise BenchError(
            f"{config.model}: model {bundle.manifest['model_hash'][:16]} is not the one this session ran "
            f"({config.model_hash[:16]}); give --model with that bundle"
        )
    return bundle
