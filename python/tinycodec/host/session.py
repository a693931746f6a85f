"""`tinycodec bench`: whole images through one or more devices, tile by tile, into a resumable session folder.

Every tile of every image (at every quality) is ENCODEd on a device and the device's payload DECODEd on the device.
Both are compared with the host codec (HostCodec, computed in a worker thread while the device works). Per image the
device's payloads are packed into a real .tcz (bitstream.pack) whose length gives bpp, and the device's
reconstructions are joined into the image that PSNR/SSIM are measured on. Device latency comes from the device
timer only. Session folder layout and results.json schema: docs/bench.md.

Nothing is lost: each tile's result is appended to tiles.jsonl (flushed + fsync'd) as it arrives; `--resume DIR`
skips the tiles already there. A damaged journal loses only its damaged lines (read_jsonl); every other file of the
folder is written atomically (safeio). Tiles are sharded over boards (one thread per device) through a shared queue;
a board that stops answering gives its tile back and leaves, the others carry on.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__, bitstream, metrics, tiling
from ..bundle import Bundle
from ..codec import HostCodec
from ..imageio import read_rgb
from ..safeio import FileError, atomic_open, atomic_write, open_input, os_error_line
from .protocol import Info
from .transport import Device, DeviceError, DeviceTimeout

SCHEMA = "tinycodec-bench"
SCHEMA_VERSION = 3  # 3: whole-image sessions (docs/bench.md); 2: tile sample (host.bench.run_bench)
STAGES = ("enc", "ec", "ed", "dec")
STAGE_NAMES = {
    "enc": "encoder inference",
    "ec": "entropy coding",
    "ed": "entropy decoding",
    "dec": "decoder inference",
}
TIMING_KEYS = ("wall_s", "tiles_per_s")  # + every key ending in _s / _ms under "time" and per-tile walls

log = logging.getLogger("tinycodec.bench")


class BenchError(Exception):
    """The run cannot start or continue (wrong model on the device, bad session folder...): one line for the user."""


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
            and all(isinstance(getattr(cfg, k), int) for k in ("warmup", "repeat", "timing_tiles"))
        )
        if not ok:
            raise BenchError(f"{path}: not a bench config (a field has the wrong type); {hint}")
        return cfg

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.__dict__, indent=1) + "\n")

    def check_images(self) -> None:
        """Every image of the session is still there (before any work: a resume needs them all)."""
        for p in self.images:
            try:
                open_input(p, "an image of this session").close()
            except FileError as e:
                raise BenchError(f"{e}; the session needs it: put it back, or start a new session") from None


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


def _fsync_append(f, line: str) -> None:
    f.write(line + "\n")
    f.flush()
    os.fsync(f.fileno())


# fields a journal record must have to be used (finalize and the report read them); a record without them is damage
TILE_FIELDS = (
    "key", "quality", "image", "index", "board", "payload", "recon", "payload_bytes", "payload_match", "recon_match",
    "enc_ticks", "ec_ticks", "ed_ticks", "dec_ticks", "tick_hz", "encode_wall_s", "decode_wall_s", "host_s",
    "host_wait_s", "retries", "stale", "garbled", "t",
)  # fmt: skip
TIMING_FIELDS = ("key", "run", "board", "quality", "enc_ticks", "ec_ticks", "ed_ticks", "dec_ticks", "tick_hz")
JOURNALS = {"tiles.jsonl": TILE_FIELDS, "timing.jsonl": TIMING_FIELDS, "runs.jsonl": ()}
_warned: set[tuple[str, tuple[int, ...]]] = set()


def _record(line: bytes, required: tuple[str, ...]) -> dict | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or any(k not in rec for k in required) or not isinstance(rec.get("key", ""), str):
        return None
    return rec


def read_jsonl(path: Path, repair: bool = False, required: tuple[str, ...] | None = None) -> list[dict]:
    """Records of a JSON-lines journal. Damage costs only the damaged lines, never a good record:
    - a torn last line (killed mid-write: no newline at its end) is ignored, and with repair cut off (the cut starts
      after the last newline, so it never removes a good record); a good last record without its newline gets one;
    - any other line that is not a JSON object with the `required` fields (default: per journal, JOURNALS) is
      skipped and counted: a warning names its line numbers (console and bench.log, once per process); every other
      record is kept (their tiles are not redone), the skipped ones are done again on --resume.
    Raises BenchError if the file cannot be read or repaired."""
    if not path.exists():
        return []
    req = JOURNALS.get(path.name, ()) if required is None else required
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BenchError(os_error_line(e, path, "cannot read")) from None
    pieces = data.split(b"\n")  # the last piece is what follows the last newline (b"" for a whole file)
    out, bad, pos = [], [], 0
    torn_at = None
    for no, line in enumerate(pieces, 1):
        if line.strip():
            rec = _record(line, req)
            if rec is not None:
                out.append(rec)
            elif no == len(pieces):
                torn_at = pos
            else:
                bad.append(no)
        pos += len(line) + 1
    if bad and (str(path), tuple(bad)) not in _warned:
        _warned.add((str(path), tuple(bad)))
        shown = ", ".join(map(str, bad[:20])) + (", ..." if len(bad) > 20 else "")
        log.warning(
            "%s: skipped %d damaged line(s) (line %s); kept the %d good records, the skipped ones are done again",
            path,
            len(bad),
            shown,
            len(out),
        )
    if repair and pieces[-1].strip():
        try:
            with open(path, "r+b") as f:
                if torn_at is not None:
                    f.truncate(torn_at)
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise BenchError(os_error_line(e, path, "cannot repair the journal")) from None
    return out


def _key(q: int, image: str, idx: int) -> str:
    return f"q{q}/{image}/{idx}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def recon_of(rec: dict) -> bytes:
    return zlib.decompress(unb64(rec["recon"]))


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
                items += [(q, name, i) for i in range(rows * cols)]
        return items

    def tile_of(self, name: str, idx: int) -> np.ndarray:
        return np.ascontiguousarray(tiling.split(self.image(name), self.tile)[idx], np.uint8)

    # -- the run --------------------------------------------------------------------------------------------
    def run(self, devices: list[tuple[str, Device]], progress: Callable | None = None) -> dict:
        """Run every pending tile on the devices (sharded), then the timing repeats. Returns run stats."""
        tiles_path = self.out / "tiles.jsonl"
        done = {r["key"] for r in read_jsonl(tiles_path, repair=True)}
        work = [w for w in self.work() if _key(*w) not in done]
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
                            _fsync_append(f, json.dumps(rec))
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
            _fsync_append(f, json.dumps(stats))
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
        if info.model_hash != self.bundle.model_hash:
            raise BenchError(
                f"{b.url}: device runs model {info.model_hash.hex()[:16]}, host has "
                f"{self.bundle.manifest['model_hash'][:16]} ({self.bundle.path}); flash the firmware built from "
                "this model (make flash)"
            )
        if not info.has_codec:
            raise BenchError(f"{b.url}: firmware without ENCODE/DECODE ({info.backend}); build env qemu_m4/qemu_m55")
        missing = [q for q in self.config.qualities if q not in info.qualities]
        if missing:
            raise BenchError(f"{b.url}: device has no tables for quality {missing} (it has {list(info.qualities)})")

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
            "key": _key(q, name, idx),
            "quality": q,
            "image": name,
            "index": idx,
            "board": b.name,
            "board_name": b.info.board if b.info else "",
            "payload_bytes": len(enc.payload),
            "payload": _b64(enc.payload),
            "recon": _b64(zlib.compress(dec.tile, 6)),
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
                todo = [(w, r) for w in subset for r in range(cfg.repeat) if (_key(*w), r) not in done]
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
                            "key": _key(q, name, idx),
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
                            _fsync_append(f, json.dumps(rec))
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
                    "tick_note": (
                        "qemu-icount FPGAIO 25MHz: under QEMU -icount shift=0, 1 tick = 40 guest instructions; "
                        "not silicon time"
                        if i and i.board.startswith("mps")
                        else "device timer"
                    ),
                    "tiles_this_run": b.tiles,
                    "link": dict(b.dev.stats),
                    "reboots": len(b.reboots),
                    "failed": b.failed,
                }
            )
        atomic_write(self.out / "boards.json", json.dumps(data, indent=1) + "\n")


# -- statistics -----------------------------------------------------------------------------------------------
def dist(v: list[float]) -> dict | None:
    if not v:
        return None
    a = np.asarray(v, float)
    return {
        "mean": float(a.mean()),
        "median": float(np.median(a)),
        "p95": float(np.percentile(a, 95)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": len(v),
    }


def stage_latency(recs: list[dict], pixels_per_image: dict[str, int] | None = None) -> dict:
    """Per stage: per-tile ticks and us (mean/median/p95); per image ms and per megapixel ms over the complete
    images (the keys of pixels_per_image). Device timer only."""
    out = {}
    for s in (*STAGES, "total"):
        ticks = [sum(r[f"{x}_ticks"] for x in STAGES) if s == "total" else r[f"{s}_ticks"] for r in recs]
        us = [t * 1e6 / r["tick_hz"] for t, r in zip(ticks, recs)]
        d = {"per_tile_ticks": dist(ticks), "per_tile_us": dist(us)}
        if pixels_per_image is not None:
            per_img: dict[str, float] = {}
            for u, r in zip(us, recs):  # complete images only (pixels_per_image has those)
                if r["image"] in pixels_per_image:
                    per_img[r["image"]] = per_img.get(r["image"], 0.0) + u / 1000
            d["per_image_ms"] = dist(list(per_img.values()))
            mp = sum(pixels_per_image[k] for k in per_img) / 1e6
            d["per_megapixel_ms"] = sum(per_img.values()) / mp if mp else None
        out[s] = d
    return out


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


def finalize(out: Path, run_stats: dict | None = None, baselines: bool = True, report: bool = True) -> dict:
    """Build results.json / results.csv / .tcz files / report.html from the session folder's records."""
    from ..evaluate import PSNR_CAP

    config = Config.load(out / "config.json")
    bundle = load_bundle(config)
    sess = Session(out, config, bundle)
    recs = {r["key"]: r for r in read_jsonl(out / "tiles.jsonl")}
    timing = read_jsonl(out / "timing.jsonl")
    boards = json.loads((out / "boards.json").read_text()) if (out / "boards.json").exists() else []
    work = sess.work()
    tcz_dir = out / "tcz"
    tcz_dir.mkdir(exist_ok=True)
    images, per_q = [], {}
    pixels: dict[int, dict[str, int]] = {}  # quality -> complete image -> pixels
    for q in config.qualities:
        for name in sess.images:
            keys = [_key(*w) for w in work if w[0] == q and w[1] == name]
            got = [recs.get(k) for k in keys]
            if any(r is None for r in got):
                continue
            img = sess.image(name)
            h, w = img.shape[:2]
            pixels.setdefault(q, {})[name] = h * w
            header = bitstream.Header(bundle.model_id, q, bundle.tile, w, h)
            tcz = bitstream.pack(header, [unb64(r["payload"]) for r in got])
            atomic_write(tcz_dir / f"{Path(name).stem}_q{q}.tcz", tcz)
            tiles = [np.frombuffer(recon_of(r), np.uint8).reshape(bundle.tile, bundle.tile, 3) for r in got]
            recon = tiling.join(tiles, h, w)
            lat = stage_latency(got)
            images.append(
                {
                    "quality": q,
                    "image": name,
                    "width": w,
                    "height": h,
                    "tiles": len(got),
                    "tcz_bytes": len(tcz),
                    "payload_bytes": sum(r["payload_bytes"] for r in got),
                    "bpp": metrics.bpp(len(tcz), h, w),
                    "psnr": min(metrics.psnr(img, recon), PSNR_CAP),
                    "ssim": metrics.ssim(img, recon),
                    "encode_mismatches": sum(not r["payload_match"] for r in got),
                    "decode_mismatches": sum(not r["recon_match"] for r in got),
                    "device_ms": {s: lat[s]["per_tile_us"]["mean"] * len(got) / 1000 for s in (*STAGES, "total")},
                    "boards": sorted({r["board"] for r in got}),
                    "retries": sum(r["retries"] for r in got),
                    "request_wall_s": sum(r["encode_wall_s"] + r["decode_wall_s"] for r in got),
                    "device_s": sum(_device(r) for r in got),
                    "link_s": sum(_link(r) for r in got),
                    "host_s": sum(r["host_s"] for r in got),
                }
            )
    n_exp = len(work)
    all_recs = [r for r in recs.values()]
    for q in config.qualities:
        imgs = [i for i in images if i["quality"] == q]
        rq = [r for r in all_recs if r["quality"] == q]
        tq = [r for r in timing if r["quality"] == q]
        timed = None
        if tq:  # MLPerf style: median over the repeats of each tile, then the distribution over tiles
            by_tile: dict[tuple, list[dict]] = {}
            for r in tq:
                by_tile.setdefault((r["board"], r["key"]), []).append(r)
            timed = {"warmup": config.warmup, "repeat": config.repeat, "tiles": len(by_tile), "stages": {}}
            for s in (*STAGES, "total"):

                def val(r, s=s):
                    t = sum(r[f"{x}_ticks"] for x in STAGES) if s == "total" else r[f"{s}_ticks"]
                    return t * 1e6 / r["tick_hz"]

                med = [statistics.median(val(r) for r in rs) for rs in by_tile.values()]
                spread = [max(val(r) for r in rs) - min(val(r) for r in rs) for rs in by_tile.values()]
                timed["stages"][s] = {"us": dist(med), "max_spread_us": max(spread)}
        per_q[q] = {
            "quality": q,
            "images": len(imgs),
            "tiles": len(rq),
            "bpp": statistics.fmean(i["bpp"] for i in imgs) if imgs else None,
            "psnr": statistics.fmean(i["psnr"] for i in imgs) if imgs else None,
            "ssim": statistics.fmean(i["ssim"] for i in imgs) if imgs else None,
            "encode_mismatches": sum(not r["payload_match"] for r in rq),
            "decode_mismatches": sum(not r["recon_match"] for r in rq),
            "latency": stage_latency(rq, pixels.get(q, {})) if rq else None,
            "timed": timed,
        }
    per_board = []
    for bid in sorted({r["board"] for r in all_recs}):
        rb = [r for r in all_recs if r["board"] == bid]
        meta = next((b for b in boards if b["id"] == bid), {})
        per_board.append(
            {
                "id": bid,
                "board": meta.get("board") or rb[0].get("board_name"),
                "url": meta.get("url"),
                "tiles": len(rb),
                "retries": sum(r["retries"] for r in rb),
                "stale": sum(r["stale"] for r in rb),
                "garbled": sum(r["garbled"] for r in rb),
                "reboots": meta.get("reboots", 0),
                "failed": meta.get("failed"),
                "mismatches": sum((not r["payload_match"]) + (not r["recon_match"]) for r in rb),
                "latency_us": {s: dist([r[f"{s}_ticks"] * 1e6 / r["tick_hz"] for r in rb]) for s in STAGES},
                "link_s": sum(_link(r) for r in rb),
                "device_s": sum(_device(r) for r in rb),
            }
        )
    n = len(all_recs)
    runs = read_jsonl(out / "runs.jsonl")
    if run_stats is None and runs:
        run_stats = runs[-1]
    if run_stats is None and n > 1:  # older session without runs.jsonl: the span of the tiles' timestamps
        ts = sorted(r["t"] for r in all_recs)
        run_stats = {"wall_s": (ts[-1] - ts[0]) * n / (n - 1), "tiles_run": n, "estimated_from": "tile timestamps"}
    wall = (run_stats or {}).get("wall_s")
    time_split = {
        "tiles": n,
        "request_wall_s": sum(r["encode_wall_s"] + r["decode_wall_s"] for r in all_recs),
        "device_s": sum(_device(r) for r in all_recs),
        "link_s": sum(_link(r) for r in all_recs),
        "host_s": sum(r["host_s"] for r in all_recs),
        "host_wait_s": sum(r["host_wait_s"] for r in all_recs),
        "per_tile_ms": {
            "request_wall": 1000 * statistics.fmean(r["encode_wall_s"] + r["decode_wall_s"] for r in all_recs)
            if n
            else None,
            "device": 1000 * statistics.fmean(_device(r) for r in all_recs) if n else None,
            "link": 1000 * statistics.fmean(_link(r) for r in all_recs) if n else None,
            "host": 1000 * statistics.fmean(r["host_s"] for r in all_recs) if n else None,
            "host_not_overlapped": 1000 * statistics.fmean(r["host_wait_s"] for r in all_recs) if n else None,
        },
        "runs": len(runs),
        "this_run_wall_s": wall,
        "this_run_tiles": (run_stats or {}).get("tiles_run"),
        "tiles_per_s": ((run_stats or {}).get("tiles_run") or 0) / wall if wall else None,
        "note": "device = device timer ticks / tick_hz (under QEMU: virtual icount time); link = request wall time "
        "minus device time (UART transfer both ways, QEMU scheduling, framing, retries); host = HostCodec reference "
        "in a worker thread, overlapped with the device; host_wait = the part not hidden behind the device",
    }
    tb = bundle.tile * bundle.tile * 3
    up = sum(_frame(4 + tb) + _frame(4 + r["payload_bytes"]) for r in all_recs)  # ENCODE + DECODE requests
    down = sum(_frame(16 + r["payload_bytes"]) + _frame(16 + tb) for r in all_recs)  # their replies
    time_split["frame_bytes_host_to_device"] = up
    time_split["frame_bytes_device_to_host"] = down
    time_split["link_kB_per_s"] = (up + down) / 1000 / time_split["link_s"] if n and time_split["link_s"] > 0 else None
    # one quality of Kodak (24 images x 96 tiles) on one board at the measured request + host-wait time per tile
    per_tile = (time_split["request_wall_s"] + time_split["host_wait_s"]) / n if n else None
    time_split["kodak_eta_s_per_quality_one_board"] = 24 * 96 * per_tile if n else None
    result = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tinycodec_version": __version__,
        "created": config.created,
        "finalized": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "complete": n >= n_exp,
        "tiles": n,
        "tiles_expected": n_exp,
        "mismatches": sum((not r["payload_match"]) + (not r["recon_match"]) for r in all_recs),
        "encode_mismatches": sum(not r["payload_match"] for r in all_recs),
        "decode_mismatches": sum(not r["recon_match"] for r in all_recs),
        "model": {
            "name": bundle.manifest["name"],
            "model_hash": bundle.manifest["model_hash"],
            "train_step": bundle.manifest.get("train_step"),
            "tile": bundle.tile,
            "path": str(bundle.path),
        },
        "config": {k: v for k, v in config.__dict__.items() if k != "created"},
        "devices": boards,
        "bpp_source": "length of the .tcz built with bitstream.pack from the device's payloads (file header, "
        "LEB128 tile lengths and CRC included)",
        "qualities": [per_q[q] for q in config.qualities],
        "boards": per_board,
        "time": time_split,
        "images": images,
    }
    if baselines and report and images:
        result["baselines"] = _baselines(out, sess, [i["image"] for i in images])
    atomic_write(out / "results.json", json.dumps(result, indent=1) + "\n")
    _write_csv(out / "results.csv", images)
    if report:
        from .benchreport import write_report

        write_report(out, result, sess)
    return result


def _frame(body: int) -> int:
    """Wire bytes of one frame with `body` bytes: 0x00 prefix + COBS(header 8 + body + CRC 4) + delimiter."""
    n = 8 + body + 4
    return 1 + n + n // 254 + 1 + 1


def _device(r: dict) -> float:
    return sum(r[f"{s}_ticks"] for s in STAGES) / r["tick_hz"]


def _link(r: dict) -> float:
    return r["encode_wall_s"] + r["decode_wall_s"] - _device(r)


def _baselines(out: Path, sess: Session, names: list[str]) -> dict:
    """JPEG / WebP / JPEG 2000 sweeps on the same images (evaluate.sweep), cached in the session folder."""
    from .. import baselines as bl
    from ..evaluate import Dataset, sweep

    names = sorted(set(names), key=list(sess.images).index)
    cache = out / "baselines.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("images") == names:
            return data
    data = _baselines_from_eval(sess, names)
    if data is not None:
        atomic_write(cache, json.dumps(data, indent=1) + "\n")
        return data
    sweeps, notes = bl.default_sweeps()
    ds = Dataset("bench", out, tuple(sess.images[n] for n in names), "n/a", "")
    res = sweep(ds, sess.bundle, [], sweeps)
    data = {
        "images": names,
        "notes": notes,
        "method": {k: v for k, v in bl.describe().items() if k in sweeps},
        "codecs": {
            k: [{"label": p.label, "param": p.param, "bpp": p.bpp, "psnr": p.psnr, "ssim": p.ssim} for p in v]
            for k, v in res.items()
        },
    }
    atomic_write(cache, json.dumps(data, indent=1) + "\n")
    return data


def _baselines_from_eval(sess: Session, names: list[str]) -> dict | None:
    """The baselines' per-image scores from a committed `tinycodec eval` report (models/eval_*.json) on the same
    image folder, averaged over the bench's images: the same numbers evaluate.sweep would compute, without the
    minutes JPEG 2000 takes on all of Kodak."""
    from ..config import REPO_ROOT

    folders = {Path(sess.images[n]).resolve().parent for n in names}
    for path in sorted((REPO_ROOT / "models").glob("eval_*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if len(folders) != 1 or Path(rep.get("dataset", {}).get("path", "")).resolve() != next(iter(folders)):
            continue
        codecs, host_eval = {}, []
        for codec, points in rep.get("codecs", {}).items():
            if codec.startswith("seed"):
                continue
            rows = []
            for p in points:
                per = {i["image"]: i for i in p["images"]}
                if not all(n in per for n in names):
                    return None
                rows.append(
                    {
                        "label": p["label"],
                        "param": p["param"],
                        **{m: float(np.mean([per[n][m] for n in names])) for m in ("bpp", "psnr", "ssim")},
                    }
                )
            if codec == "tinycodec":
                if rep.get("model", {}).get("model_hash") == sess.bundle.manifest["model_hash"]:
                    host_eval = rows
            else:
                codecs[codec] = rows
        if codecs:
            rel = path.relative_to(REPO_ROOT)
            return {
                "images": names,
                "notes": [f"baselines: per-image scores from {rel} (tinycodec eval, same images), means over these"],
                "method": rep.get("method", {}).get("baselines", {}),
                "codecs": codecs,
                "host_eval": {"source": str(rel), "points": host_eval},
            }
    return None


def _write_csv(path: Path, images: list[dict]) -> None:
    import csv

    cols = ["quality", "image", "width", "height", "tiles", "tcz_bytes", "payload_bytes", "bpp", "psnr", "ssim"]
    cols += ["encode_mismatches", "decode_mismatches", "retries", "request_wall_s", "device_s", "link_s", "host_s"]
    with atomic_open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols + [f"device_ms_{s}" for s in (*STAGES, "total")] + ["boards"])
        for i in images:
            w.writerow(
                [i[c] for c in cols]
                + [round(i["device_ms"][s], 3) for s in (*STAGES, "total")]
                + ["+".join(i["boards"])]
            )


def strip_timing(result: dict) -> dict:
    """results.json without what depends on time, the link or the run's history (wall times, device ticks, which
    board did what, retries, timing repeats, baselines): the part two runs over the same images must agree on."""
    r = json.loads(json.dumps(result))
    for k in ("created", "finalized", "time", "devices", "boards", "config", "baselines"):
        r.pop(k, None)
    for q in r.get("qualities", []):
        q.pop("latency", None)
        q.pop("timed", None)
    for i in r.get("images", []):
        for k in ("retries", "boards", "device_ms", "request_wall_s", "device_s", "link_s", "host_s"):
            i.pop(k, None)
    return r


def format_summary(r: dict) -> str:
    lines = [
        f"model {r['model']['name']} {r['model']['model_hash'][:12]}  tiles {r['tiles']}/{r['tiles_expected']}  "
        f"mismatches {r['mismatches']} (payload {r['encode_mismatches']}, recon {r['decode_mismatches']})"
        + ("" if r["complete"] else "  INCOMPLETE"),
    ]
    for d in r["devices"]:
        lines.append(
            f"{d['id']}: {d['board']} {d['backend']} fw {d['fw_version']} tick {d['tick_hz']} Hz ({d['tick_note']})"
        )
    for q in r["qualities"]:
        if q["bpp"] is not None:
            lines.append(
                f"q{q['quality']}: {q['images']} images, {q['bpp']:.4f} bpp (.tcz), PSNR {q['psnr']:.2f} dB, "
                f"SSIM {q['ssim']:.4f}"
            )
        he = {int(p["param"]): p for p in r.get("baselines", {}).get("host_eval", {}).get("points", [])}
        if q["bpp"] is not None and q["quality"] in he:
            h = he[q["quality"]]
            lines.append(
                f"  host `tinycodec eval` on the same images ({r['baselines']['host_eval']['source']}): "
                f"{h['bpp']:.4f} bpp, PSNR {h['psnr']:.2f} dB, SSIM {h['ssim']:.4f}"
            )
        lat = q["latency"]
        if lat:
            lines.append(
                "  device per tile (median us): "
                + ", ".join(f"{STAGE_NAMES[s]} {lat[s]['per_tile_us']['median']:.0f}" for s in STAGES)
                + f"; per megapixel {lat['total']['per_megapixel_ms'] or 0:.0f} ms"
            )
    t = r["time"]
    pt = t["per_tile_ms"]
    if pt["request_wall"] is not None:
        lines.append(
            f"per tile: request wall {pt['request_wall']:.0f} ms = device {pt['device']:.0f} ms + link "
            f"{pt['link']:.0f} ms; host reference {pt['host']:.0f} ms "
            f"(not overlapped {pt['host_not_overlapped']:.0f} ms); link {t['link_kB_per_s']:.1f} kB/s both ways"
        )
    if t.get("tiles_per_s"):
        lines.append(
            f"this run: {t['this_run_tiles']} tiles in {t['this_run_wall_s']:.1f} s = {t['tiles_per_s']:.2f} tiles/s; "
            f"full Kodak at one quality (2304 tiles) on one board: "
            f"~{t['kodak_eta_s_per_quality_one_board'] / 60:.0f} min"
        )
    return "\n".join(lines)
