"""`tinycodec bench` from start to finish: a new session or a resumed one, QEMU boards booted and devices opened,
the run, the results and the summary. The CLI only parses the flags into `Options` (cli.py); docs/bench.md.

User errors are BenchError (one line, exit 2 in the CLI); the exit code of a run is what `main` returns: 0 done
without a mismatch, 1 some device output differs from the host, 3 tiles left (resume)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_DATA, DEFAULT_MODEL, REPO_ROOT
from .records import BenchError

log = logging.getLogger("tinycodec.bench")


@dataclass
class Options:
    """The flags of `tinycodec bench` (their help: cli.py, docs/bench.md)."""

    port: list[str] | None = None
    boot: Path | None = None
    boards: int = 1
    board: str = "qemu"
    model: Path | None = None  # None: the default bundle, or with resume the session's
    quality: list[int] | None = None
    images: Path = DEFAULT_DATA / "kodak"
    limit: int | None = None
    tiles: int = 0
    out: Path | None = None
    resume: Path | None = None
    warmup: int = 1
    repeat: int = 3
    timing_tiles: int = 2
    timeout: float = 30.0
    connect_timeout: float | None = None
    retries: int = 10
    no_baselines: bool = False
    no_report: bool = False


def main(opts: Options) -> int:
    from tqdm import tqdm

    from ..bundle import Bundle
    from ..link.device import Device
    from .session import Config, Session, load_bundle

    model_given = opts.model is not None
    model = opts.model if opts.model is not None else DEFAULT_MODEL
    if opts.boot:  # refuse a file that cannot be firmware before anything starts (QEMU would spin on it)
        from ..link.qemu import check_elf

        check_elf(opts.boot)
    if opts.tiles < 0:
        raise BenchError(f"--tiles must be >= 0 (got {opts.tiles})")
    if opts.resume:
        out = opts.resume
        if not (out / "config.json").is_file():
            raise BenchError(f"{out}: not a bench session folder (no config.json)")
        config = Config.load(out / "config.json")
        config.check_images()
        if model_given:
            config.model = str(model.resolve())
    else:
        from ..imageio import find_images

        try:
            ds = find_images(opts.images, opts.limit)
        except Exception as e:  # DataError: missing folder, bad checksum
            raise BenchError(str(e)) from None
        out = opts.out or REPO_ROOT / "runs" / "bench" / time.strftime("%Y%m%d-%H%M%S")
        if (out / "tiles.jsonl").exists():
            raise BenchError(f"{out} already holds a bench session: --resume {out} to continue it, or another --out")
        config = Config(
            images=[str(p) for p in ds.images],
            qualities=list(dict.fromkeys(opts.quality or [2])),
            model=str(model.resolve()),
            warmup=opts.warmup,
            repeat=opts.repeat,
            timing_tiles=opts.timing_tiles,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            tiles=opts.tiles,
        )
    if not config.model_hash:  # new session, or one started before sessions recorded it
        config.model_hash = Bundle.load(Path(config.model)).manifest["model_hash"]
    bundle = load_bundle(config)
    if opts.resume:  # keep the checked model (path, hash) for this and later resumes / report rebuilds
        config.save(out / "config.json")
    with contextlib.ExitStack() as stack:
        console_log(stack)  # warnings and board failures on the console as they happen
        if opts.resume and not (opts.port or opts.boot):  # no device: rebuild results.json / report from records
            if not (out / "tiles.jsonl").is_file():
                raise BenchError(f"{out}: no tiles yet; give --port URL or --boot ELF to run them")
            file_log(stack, out, resume=True)
            return finish(opts, out, None)
        from ..safeio import check_dir_writable, output_dir

        check_dir_writable(out, "bench session")
        urls = list(opts.port or [])
        qemus = []
        if opts.boot:
            from ..link.qemu import QemuBoard

            for _ in range(opts.boards):
                board = stack.enter_context(QemuBoard(opts.boot, board=opts.board))
                qemus.append(board)
                urls.append(board.url)
                print(f"booted {opts.boot} on {board.machine}, serial {board.url}", file=sys.stderr)
        if not urls:
            raise BenchError("give --port URL (e.g. socket://127.0.0.1:4321 or /dev/ttyACM0) or --boot ELF")
        within = opts.connect_timeout if opts.connect_timeout is not None else (20.0 if opts.boot else 5.0)
        devices = []
        for i, url in enumerate(urls):
            try:
                dev = stack.enter_context(
                    Device(url, timeout=opts.timeout, retries=opts.retries, adaptive_timeout=True)
                )
            except Exception as e:  # pyserial raises SerialException/ValueError for a bad port
                raise BenchError(f"cannot open serial port {url}: {e}") from None
            try:
                dev.connect(within)  # bounded: says within `within` s what it saw and what to check
            except Exception as e:  # DeviceTimeout, a closed socket, a device ERROR
                qemu = qemus[i - len(opts.port or [])] if i >= len(opts.port or []) else None
                died = qemu.exit_note(wait=1.0) if qemu is not None else None
                raise BenchError(f"{url}: the device does not answer: {died or e}") from None
            devices.append((url, dev))
        out = output_dir(out)
        if not opts.resume:
            config.save(out / "config.json")
        file_log(stack, out, resume=bool(opts.resume))
        sess = Session(out, config, bundle)
        try:
            stats = sess.run(
                devices,
                progress=lambda total, initial: tqdm(
                    total=total, initial=initial, desc="bench", unit="tile", file=sys.stderr, smoothing=0.1
                ),
            )
        except BenchError:
            report_dead_qemus(qemus, len(opts.port or []))
            raise
        except KeyboardInterrupt:
            print(f"interrupted: continue with  tinycodec bench --resume {out} --port ...", file=sys.stderr)
            raise
        report_dead_qemus(qemus, len(opts.port or []))
    return finish(opts, out, stats)


def report_dead_qemus(qemus: list, first: int) -> None:
    """A QEMU that died mid-run, with its exit code and last words: on the console and in bench.log."""
    for i, q in enumerate(qemus):
        note = q.exit_note(wait=0.3)
        if note:
            log.error("b%d (%s): %s", first + i, q.url, note)


def console_log(stack: contextlib.ExitStack) -> None:
    """WARNING and above of the tinycodec loggers on stderr (through tqdm, so the progress bar stays intact)."""
    from tqdm import tqdm

    class Console(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            tqdm.write(f"tinycodec: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)

    handler = Console(logging.WARNING)
    logger = logging.getLogger("tinycodec")
    logger.addHandler(handler)
    stack.callback(logger.removeHandler, handler)


def file_log(stack: contextlib.ExitStack, out: Path, resume: bool) -> None:
    """Everything (the bench's events, the transport's re-sends) into <session>/bench.log."""
    try:
        handler = logging.FileHandler(out / "bench.log")
    except OSError as e:
        from ..safeio import os_error_line

        raise BenchError(os_error_line(e, out / "bench.log", "cannot write")) from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
    logger = logging.getLogger("tinycodec")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    stack.callback(handler.close)
    stack.callback(logger.removeHandler, handler)
    logger.info("tinycodec bench %s: %s", "resume" if resume else "start", " ".join(sys.argv[1:]))


def finish(opts: Options, out: Path, stats: dict | None) -> int:
    """results.json / .csv / report from the session's records, the summary on stdout; the exit code."""
    from .results import finalize, format_summary

    result = finalize(out, stats, baselines=not opts.no_baselines, report=not opts.no_report)
    print(format_summary(result))
    print(f"wrote {out}/results.json, results.csv, bench.log" + ("" if opts.no_report else ", report.html"))
    if not result["complete"]:
        print(f"incomplete ({result['tiles']}/{result['tiles_expected']} tiles): tinycodec bench --resume {out} ...")
        return 3
    return 0 if result["mismatches"] == 0 else 1
