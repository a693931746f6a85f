"""Nothing lost, nothing hung (issue 14): what happens *around* the parsers.

Full disks, signals at any moment, duplicate output names, FIFOs and devices as inputs, a damaged bench journal or
config, a board that cannot answer, a bench killed while its QEMU runs, many codecs in one process. Every case ends in
a correct result or one line `tinycodec: error: ...` (exit 2), and no output is ever observable half-written."""

from __future__ import annotations

import base64
import errno
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from tinycodec import safeio
from tinycodec.bench.records import TILE_FIELDS, read_jsonl
from tinycodec.bench.session import Config
from tinycodec.bundle import Bundle
from tinycodec.cli import EXIT_INTERNAL, main
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL
from tinycodec.imageio import read_rgb
from tinycodec.link.qemu import QemuError, check_elf

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
HAVE_QEMU = shutil.which("qemu-system-arm") is not None


def _one_line(capsys, argv: list[str], *words: str, code: int = 2) -> str:
    rc = main(argv)
    cap = capsys.readouterr()
    err = cap.err.strip().splitlines()
    assert "Traceback" not in cap.err + cap.out
    assert rc == code, err
    errors = [line for line in err if "error:" in line]
    assert len(errors) == 1 and errors[0] == err[-1], err
    assert all(w in errors[0] for w in words), errors[0]
    return errors[0]


def _png(path: Path, h: int = 64, w: int = 128, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)).save(path)
    return path


def _no_temp_files(folder: Path) -> None:
    assert not [p.name for p in folder.rglob(".*.tmp")], "temporary files left behind"


def _opens_fully(path: Path) -> None:
    with Image.open(path) as im:
        im.load()  # every row decodes: not a truncated PNG


# -- 1. full disk ---------------------------------------------------------------------------------------------------
def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    r = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=8k tmpfs /mnt"], capture_output=True, timeout=30
    )
    return r.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare -rm to mount a tiny tmpfs")
def test_full_disk_is_one_line_and_leaves_the_old_file(tmp_path: Path) -> None:
    """A real ENOSPC: a 16 KiB tmpfs (in a private mount namespace), filled up after a first good output."""
    src = _png(tmp_path / "x.png", 16, 16)
    script = f"""
set -e
mount -t tmpfs -o size=16k tmpfs /mnt
tc() {{ {sys.executable} -m tinycodec.cli "$@"; }}
tc compress -q 1 -o /mnt {src} > /dev/null
mkdir -p {tmp_path}/keep && cp /mnt/x.tcz {tmp_path}/keep/x.tcz
tc decompress -o /mnt /mnt/x.tcz > /dev/null
cp /mnt/x.png {tmp_path}/first.png
dd if=/dev/zero of=/mnt/fill bs=1k count=16 2> /dev/null || true
set +e
tc compress -q 4 -o /mnt {src}; echo "compress rc=$?"
tc decompress -o /mnt {tmp_path}/keep/x.tcz; echo "decompress rc=$?"
ls -a /mnt
cmp /mnt/x.tcz {tmp_path}/keep/x.tcz && echo "tcz unchanged"
cmp /mnt/x.png {tmp_path}/first.png && echo "png unchanged"
"""
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=ENV, timeout=120)
    err = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr, r.stderr
    assert "compress rc=2" in r.stdout and "decompress rc=2" in r.stdout, (r.stdout, r.stderr)
    assert err == ["tinycodec: error: /mnt/x.tcz: cannot write (no space left on device)"] + [
        "tinycodec: error: /mnt/x.png: cannot write (no space left on device)"
    ], err
    assert "tcz unchanged" in r.stdout and "png unchanged" in r.stdout, r.stdout
    assert ".tmp" not in r.stdout, r.stdout  # no temporary file left on the full disk


def test_write_error_at_fsync_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """ENOSPC/EDQUOT can also come at fsync (network and quota file systems): same line, old file kept."""
    src = _png(tmp_path / "x.png")
    out = tmp_path / "out"
    assert main(["compress", "-q", "1", "-o", str(out), str(src)]) == 0
    before = (out / "x.tcz").read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safeio.os, "fsync", full)
    _one_line(capsys, ["compress", "-q", "4", "-o", str(out), str(src)], str(out / "x.tcz"), "no space left on device")
    assert (out / "x.tcz").read_bytes() == before
    _no_temp_files(out)


# -- 2. signals: an output is complete or absent ---------------------------------------------------------------------
def test_interrupt_during_png_write_leaves_nothing_half_written(tmp_path: Path, capsys, monkeypatch) -> None:
    """Ctrl-C (or SIGTERM, mapped to it) in the middle of writing a PNG: half of it is written, then the interrupt."""
    src = _png(tmp_path / "x.png", 128, 192)
    out = tmp_path / "out"
    assert main(["compress", "-q", "1", "-o", str(out), str(src)]) == 0
    capsys.readouterr()
    real_save = Image.Image.save

    def save_half_then_interrupt(self, fp, format=None, **params):
        import io

        buf = io.BytesIO()
        real_save(self, buf, format=format or "PNG", **params)
        data = buf.getvalue()
        if isinstance(fp, (str, os.PathLike)):
            with open(fp, "wb") as f:
                f.write(data[: len(data) // 2])
        else:
            fp.write(data[: len(data) // 2])
            fp.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", save_half_then_interrupt)
    assert main(["decompress", "-o", str(out), str(out / "x.tcz")]) == 130
    assert not (out / "x.png").exists()
    _no_temp_files(out)


def test_sigterm_at_random_points_during_decompress(tmp_path: Path) -> None:
    """SIGTERM at random moments of a multi-file decompress: each PNG opens fully or does not exist, no temp files."""
    out = tmp_path / "tcz"
    srcs = [str(_png(tmp_path / f"img{i}.png", 128, 128, seed=i)) for i in range(8)]
    assert main(["compress", "-q", "1", "-o", str(out), *srcs]) == 0
    tczs = sorted(str(p) for p in out.glob("*.tcz"))
    rng = np.random.default_rng(14)
    codes = []
    for k in range(4):
        dst = tmp_path / f"png{k}"
        p = subprocess.Popen(
            [sys.executable, "-m", "tinycodec.cli", "decompress", "-o", str(dst), *tczs],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        # a random moment of the work: after start-up (the output folder is made once the CLI runs; a loaded
        # machine can take seconds to import), not a fixed delay from the fork
        deadline = time.monotonic() + 60
        while not dst.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0.0, 1.0)))
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
        codes.append(p.returncode)
        assert "Traceback" not in err, err
        # 0: done before the signal; -SIGTERM: killed before its handler was installed (nothing written yet)
        assert p.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), (p.returncode, err)
        if dst.exists():
            for png in dst.glob("*.png"):
                _opens_fully(png)
            _no_temp_files(dst)
    assert 128 + signal.SIGTERM in codes  # at least one run was really interrupted


# -- 3. duplicate output names ---------------------------------------------------------------------------------------
def test_duplicate_output_names_refused_before_any_work(tmp_path: Path, capsys) -> None:
    a, b = _png(tmp_path / "a" / "x.png", seed=1), _png(tmp_path / "b" / "x.png", seed=2)
    out = tmp_path / "o"
    _one_line(capsys, ["compress", "-o", str(out), str(a), str(b)], "x.tcz", "written twice", str(a), str(b))
    assert not (out / "x.tcz").exists()  # nothing written: refused before the work
    assert main(["compress", "-o", str(tmp_path / "ta"), str(a)]) == 0
    assert main(["compress", "-o", str(tmp_path / "tb"), str(b)]) == 0
    capsys.readouterr()
    ta, tb = tmp_path / "ta" / "x.tcz", tmp_path / "tb" / "x.tcz"
    _one_line(capsys, ["decompress", "-o", str(out), str(ta), str(tb)], "x.png", "written twice")
    assert not (out / "x.png").exists()
    (out / "x.png").mkdir(parents=True)  # a folder where an output goes: refused up front as well
    _one_line(capsys, ["decompress", "-o", str(out), str(ta)], "x.png", "is a directory")
    img = tmp_path / "c" / "y.tcz"  # an image named .tcz: its output would overwrite it
    img.parent.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img, format="PNG")
    before = img.read_bytes()
    _one_line(capsys, ["compress", "-o", str(img.parent), str(img)], "would replace the input")
    assert img.read_bytes() == before


# -- 4. bounded memory ------------------------------------------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_fifty_codecs_in_one_process_stay_bounded() -> None:
    """Each HostCodec used to keep ~66 MB for the life of the process (@cache on _runner + 2**16-entry slot tables
    per channel): 50 of them were 3.3 GB. Now a dropped codec frees everything."""
    import gc

    bundle = Bundle.load(DEFAULT_MODEL)
    tile = np.random.default_rng(0).integers(0, 256, (bundle.tile, bundle.tile, 3), np.uint8)
    HostCodec(bundle).decode_tile(HostCodec(bundle).encode_tile(tile, 2), 2)  # allocator warm-up
    gc.collect()
    base = _rss_mb()
    for i in range(50):
        codec = HostCodec(bundle)
        codec.decode_tile(codec.encode_tile(tile, 2), 2)
        del codec
        gc.collect()
        grown = _rss_mb() - base
        assert grown < 100, f"RSS grew {grown:.0f} MB after {i + 1} codecs"


# -- 5. a damaged bench journal ----------------------------------------------------------------------------------------
def _session(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A finished bench session (2 images x 2 tiles at q1) built from host results, without a device."""
    from tinycodec import tiling

    bundle = Bundle.load(DEFAULT_MODEL)
    codec = HostCodec(bundle)
    imgs = [_png(tmp_path / "imgs" / f"im{i}.png", bundle.tile, 2 * bundle.tile, seed=i) for i in range(2)]
    out = tmp_path / "sess"
    out.mkdir()
    Config(
        images=[str(p) for p in imgs],
        qualities=[1],
        model=str(DEFAULT_MODEL),
        repeat=0,
        model_hash=bundle.manifest["model_hash"],
    ).save(out / "config.json")
    recs = []
    for p in imgs:
        for idx, tile in enumerate(tiling.split(read_rgb(p)[0], bundle.tile)):
            payload = codec.encode_tile(np.ascontiguousarray(tile), 1)
            recon = codec.decode_tile(payload, 1)
            rec = dict.fromkeys(TILE_FIELDS, 0) | {
                "key": f"q1/{p.name}/{idx}",
                "quality": 1,
                "image": p.name,
                "index": idx,
                "board": "b0",
                "payload": base64.b64encode(payload).decode(),
                "recon": base64.b64encode(zlib.compress(recon.tobytes())).decode(),
                "payload_bytes": len(payload),
                "payload_match": True,
                "recon_match": True,
                **{"enc_ticks": 600_000, "ec_ticks": 2000, "ed_ticks": 3000, "dec_ticks": 1_300_000},
                "tick_hz": 25_000_000,
                **{"encode_wall_s": 0.5, "decode_wall_s": 0.9, "host_s": 0.05, "host_wait_s": 0.01},
                "t": time.time() + len(recs),
            }
            recs.append(rec)
    return out, recs


def test_damaged_journal_line_costs_only_that_line(tmp_path: Path, capsys) -> None:
    out, recs = _session(tmp_path)
    lines = [json.dumps(r) for r in recs]
    no_key = json.dumps({k: v for k, v in recs[2].items() if k != "key"})
    body = [lines[0], '{"key": "q1/im0.png/1", "payl', lines[1], no_key, lines[2], lines[3]]
    (out / "tiles.jsonl").write_text("\n".join(body) + '\n{"key": "torn')  # + a torn last line
    rc = main(["bench", "--resume", str(out), "--no-baselines", "--no-report"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert rc == 0, err  # every good record kept: the session is complete
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["tiles"] == 4 and res["mismatches"] == 0
    warning = "skipped 2 damaged line(s) (line 2, 4); kept the 4 good records"
    assert warning in err, err  # on the console...
    assert warning in (out / "bench.log").read_text()  # ...and in bench.log


def test_repair_never_cuts_past_a_good_record(tmp_path: Path) -> None:
    p = tmp_path / "tiles.jsonl"
    good = [json.dumps(dict.fromkeys(TILE_FIELDS, 0) | {"key": f"k{i}"}) for i in range(5)]
    p.write_text("\n".join([good[0], "garbage {", *good[1:]]) + "\n" + good[0][:30])
    assert [r["key"] for r in read_jsonl(p, repair=True)] == [f"k{i}" for i in range(5)]
    assert p.read_text() == "\n".join([good[0], "garbage {", *good[1:]]) + "\n"  # only the torn tail went
    p.write_text(good[0] + "\n" + good[1])  # a good last record without its newline: repair adds it
    assert len(read_jsonl(p, repair=True)) == 2 and p.read_text().endswith("}\n")


# -- 8. one-line errors for the listed cases ---------------------------------------------------------------------------
def test_corrupt_config_and_missing_image_on_resume(tmp_path: Path, capsys) -> None:
    out, recs = _session(tmp_path)
    (out / "tiles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    good = (out / "config.json").read_text()
    (out / "config.json").write_text(good[: len(good) // 2])
    _one_line(capsys, ["bench", "--resume", str(out)], "config.json", "corrupted")
    (out / "config.json").write_text("[1, 2]")
    _one_line(capsys, ["bench", "--resume", str(out)], "config.json", "not a bench config")
    (out / "config.json").write_text(json.dumps({**json.loads(good), "extra": 1}))
    _one_line(capsys, ["bench", "--resume", str(out)], "config.json", "not a bench config")
    (out / "config.json").write_text(good)
    (tmp_path / "imgs" / "im1.png").unlink()
    _one_line(capsys, ["bench", "--resume", str(out)], "im1.png", "no such file", "put it back")


def test_eval_checks_outputs_before_the_work(tmp_path: Path, capsys, monkeypatch) -> None:
    import tinycodec.evaluate as ev

    def must_not_run(*a, **k):
        raise AssertionError("the eval ran before its outputs were checked")

    monkeypatch.setattr(ev, "run_eval", must_not_run)
    imgs = _png(tmp_path / "imgs" / "a.png").parent
    (tmp_path / "afile").write_text("x")
    j, plot = tmp_path / "afile" / "r.json", tmp_path / "rd.png"
    _one_line(capsys, ["eval", "--data", str(imgs), "--json", str(j), "--plot", str(plot)], "afile", "not a folder")
    same = tmp_path / "same.json"
    _one_line(capsys, ["eval", "--data", str(imgs), "--json", str(same), "--plot", str(same)], "written twice")
    _one_line(capsys, ["eval", "--data", str(imgs), "--json", str(tmp_path), "--plot", str(plot)], "is a directory")


def test_codegen_out_is_an_existing_file(tmp_path: Path, capsys) -> None:
    f = tmp_path / "gen"
    f.write_text("x")
    rc = main(["codegen", "--manifest", str(DEFAULT_MODEL), "--out", str(f)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(f) in err[0] and "not a folder" in err[0], err
    assert f.read_text() == "x"


def test_unexpected_error_is_one_line_with_debug_hint(tmp_path: Path, capsys, monkeypatch) -> None:
    def boom(self, img, quality):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(HostCodec, "compress", boom)
    src = _png(tmp_path / "x.png")
    line = _one_line(capsys, ["compress", "-o", str(tmp_path / "o"), str(src)], "RuntimeError: boom", "--debug",
                     code=EXIT_INTERNAL)  # fmt: skip
    assert "second line" not in line
    with pytest.raises(RuntimeError, match="boom"):
        main(["compress", "--debug", "-o", str(tmp_path / "o"), str(src)])


def test_os_errors_name_the_path() -> None:
    for code, words in (
        (errno.ENOSPC, "no space left"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.ELOOP, "symlink loop"),
        (errno.EISDIR, "is a directory"),
        (errno.EDQUOT, "quota"),
    ):
        line = safeio.os_error_line(OSError(code, os.strerror(code), "/some/file"))
        assert line.startswith("/some/file: ") and words in line, line
    from tinycodec.errors import known_error_message

    assert known_error_message(OSError(errno.EROFS, "x", "/ro/f")) == "/ro/f: read-only file system"


# -- 9. a FIFO or a device as input ------------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
@pytest.mark.parametrize("verb", ["compress", "decompress"])
def test_fifo_input_is_refused_not_waited_on(verb: str, tmp_path: Path, capsys) -> None:
    fifo = tmp_path / ("in.png" if verb == "compress" else "in.tcz")
    os.mkfifo(fifo)
    res: dict = {}
    t = threading.Thread(target=lambda: res.update(rc=main([verb, "-o", str(tmp_path / "o"), str(fifo)])))
    t.start()
    t.join(30)
    if t.is_alive():  # it blocked on the FIFO: unblock it so the test run ends, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(10)
        pytest.fail(f"{verb} blocked on a FIFO")
    err = capsys.readouterr().err.strip().splitlines()
    assert res["rc"] == 2 and len(err) == 1 and "FIFO" in err[0] and str(fifo) in err[0], err
    _one_line(capsys, [verb, "-o", str(tmp_path / "o"), "/dev/zero"], "/dev/zero", "character device")


# -- 10. 16-bit grayscale by bit depth ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expect", [(255, 1), (256, 1), (0, 0), (32896, 128), (65535, 255)])
def test_sixteen_bit_gray_scaled_by_bit_depth(value: int, expect: int, tmp_path: Path) -> None:
    p = tmp_path / "g16.png"
    Image.fromarray(np.full((4, 6), value, np.uint16)).save(p)
    assert Image.open(p).mode == "I;16"
    rgb, note = read_rgb(p)
    assert rgb.shape == (4, 6, 3) and (rgb == expect).all(), (value, np.unique(rgb))
    assert "16-bit" in note


# -- 11. clearer messages ----------------------------------------------------------------------------------------------
def test_symlink_loop_is_named_as_such(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    _one_line(capsys, ["compress", "-o", str(tmp_path / "o"), str(tmp_path / "a.png")], "a.png", "symlink loop")


def test_decompression_bomb_warning_is_not_printed(tmp_path: Path, capsys) -> None:
    """9000 x 9000 is above the limit but below Pillow's error threshold: Pillow warns (two lines), we say one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 2, 0, 0, 0)
    p = tmp_path / "bomb.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _one_line(capsys, ["compress", "-o", str(tmp_path / "o"), str(p)], "bomb.png", "larger than the limit")
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]


# -- 6/7. QEMU: never orphaned, a board that cannot answer is reported within seconds ----------------------------------
def _arm_elf(path: Path, code: bytes = b"\x30\xbf\xfd\xe7", machine: int = 40, etype: int = 2) -> Path:
    """A minimal Cortex-M image: vector table (SP, reset at 0x9) + `wfi; b .-2` - a board that boots and says nothing
    (and, halted in WFI, costs QEMU no CPU)."""
    body = struct.pack("<II", 0x20001000, 0x9) + code
    ident = b"\x7fELF\x01\x01\x01" + bytes(9)
    ehdr = struct.pack("<16sHHIIIIIHHHHHH", ident, etype, machine, 1, 0x9, 52, 0, 0x05000200, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 84, 0, 0, len(body), len(body), 5, 4)
    path.write_bytes(ehdr + phdr + body)
    return path


def test_qemu_dead_mid_run_is_said_on_the_console(capsys) -> None:
    """After a run, a board whose QEMU died is named on the console (and in bench.log: same logger)."""
    import contextlib

    from tinycodec.bench.run import console_log, report_dead_qemus

    class Board:
        def __init__(self, url: str, note: str | None) -> None:
            self.url, self.note = url, note

        def exit_note(self, wait: float = 0.0) -> str | None:
            return self.note

    note = "QEMU (fw.elf on mps2-an386) exited with code 1: qemu: fatal: Lockup"
    with contextlib.ExitStack() as stack:
        console_log(stack)
        report_dead_qemus([Board("socket://127.0.0.1:1", None), Board("socket://127.0.0.1:2", note)], first=1)
    assert capsys.readouterr().err.strip() == f"tinycodec: error: b2 (socket://127.0.0.1:2): {note}"


def test_check_elf_refuses_what_cannot_be_firmware(tmp_path: Path) -> None:
    check_elf(_arm_elf(tmp_path / "ok.elf"))
    (tmp_path / "text.elf").write_text("hello")
    cases = {
        tmp_path / "text.elf": "not an ELF file",
        _arm_elf(tmp_path / "x86.elf", machine=3): "an ELF for x86",
        _arm_elf(tmp_path / "obj.elf", etype=1): "an object file",
        Path(sys.executable).resolve(): "ELF",
    }
    for path, words in cases.items():
        with pytest.raises(QemuError, match=words):
            check_elf(path)
    empty = tmp_path / "empty.elf"
    empty.write_bytes(b"")
    with pytest.raises(QemuError, match="empty"):
        check_elf(empty)


def test_non_elf_boot_refused_before_qemu_starts(tmp_path: Path, capsys, monkeypatch) -> None:
    import tinycodec.link.qemu as qemu

    def no_qemu(*a, **k):
        raise AssertionError("QEMU was started")

    monkeypatch.setattr(qemu.subprocess, "Popen", no_qemu)
    junk = tmp_path / "firmware.bin"
    junk.write_bytes(b"\0" * 1024)
    _one_line(capsys, ["bench", "--boot", str(junk), "--out", str(tmp_path / "s")], "firmware.bin", "not an ELF")


class SilentPort:
    """A TCP port that behaves like QEMU's serial port: serves ONE client (the first) and never says anything;
    later clients wait in the listen backlog."""

    def __init__(self) -> None:
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.url = f"socket://127.0.0.1:{self.srv.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=lambda: self.held.append(self.srv.accept()[0]), daemon=True).start()

    def close(self) -> None:
        for s in self.held:
            s.close()
        self.srv.close()


def test_silent_port_reported_within_seconds(tmp_path: Path, capsys) -> None:
    port, out = SilentPort(), tmp_path / "s"
    try:
        t0 = time.monotonic()
        args = ["bench", "--port", port.url, "--out", str(out)]
        _one_line(capsys, args, port.url, "not a single byte", "tinycodec firmware", "--connect-timeout")
        assert time.monotonic() - t0 < 10  # the default bound, 5 s (it was 11 x 30 s)
    finally:
        port.close()
    assert not out.exists()  # nothing written for a board that never answered


def test_busy_port_reported_as_busy(tmp_path: Path, capsys) -> None:
    port = SilentPort()
    other = socket.create_connection(port.srv.getsockname())  # another client holds the port's one slot
    try:
        deadline = time.monotonic() + 5
        while not port.held and time.monotonic() < deadline:
            time.sleep(0.05)
        t0 = time.monotonic()
        args = ["bench", "--port", port.url, "--out", str(tmp_path / "s"), "--connect-timeout", "1.5"]
        _one_line(capsys, args, port.url, "is busy", "1 other client")
        assert time.monotonic() - t0 < 5
    finally:
        other.close()
        port.close()


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with open(task / "children") as f:
            kids += [int(x) for x in f.read().split()]
    return kids


def _qemu_children(pid: int) -> list[int]:
    out = []
    for k in _children(pid):
        try:
            if b"qemu-system-arm" in Path(f"/proc/{k}/cmdline").read_bytes():
                out.append(k)
        except OSError:
            pass
    return out


def _dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.skipif(not HAVE_QEMU or not Path("/proc/self/task").exists(), reason="needs qemu-system-arm and /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=["KILL", "TERM", "HUP"])
def test_killed_bench_leaves_no_qemu(sig: int, tmp_path: Path) -> None:
    elf = _arm_elf(tmp_path / "silent.elf")
    imgs = _png(tmp_path / "imgs" / "a.png").parent
    argv = ["bench", "--boot", str(elf), "--images", str(imgs), "--out", str(tmp_path / "s")]  # waits 20 s at most
    p = subprocess.Popen(
        [sys.executable, "-m", "tinycodec.cli", *argv], env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    try:
        line = p.stderr.readline().decode()  # "booted ... serial socket://..." once QEMU listens
        assert "booted" in line, line + p.stderr.read().decode()
        qemus = _qemu_children(p.pid)
        assert len(qemus) == 1
        p.send_signal(sig)
        p.wait(timeout=30)
        deadline = time.monotonic() + 5
        while not _dead(qemus[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _dead(qemus[0]), f"QEMU {qemus[0]} outlived its bench (signal {sig})"
        if sig != signal.SIGKILL:
            assert p.returncode == 128 + sig
            assert "Traceback" not in p.stderr.read().decode()
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        p.stderr.close()


@pytest.mark.skipif(not HAVE_QEMU or not Path("/proc/self/task").exists(), reason="needs qemu-system-arm and /proc")
def test_silent_board_and_dead_qemu_reported(tmp_path: Path, capsys) -> None:
    elf = _arm_elf(tmp_path / "silent.elf")
    imgs = _png(tmp_path / "imgs" / "a.png").parent
    argv = ["bench", "--boot", str(elf), "--images", str(imgs), "--out", str(tmp_path / "s")]
    t0 = time.monotonic()
    _one_line(capsys, [*argv, "--connect-timeout", "2"], "not a single byte", "tinycodec firmware")
    assert time.monotonic() - t0 < 15
    assert not _qemu_children(os.getpid())  # the bench's QEMU is gone when it returns

    def kill_qemu() -> None:  # QEMU dies while the bench waits for the board: the error says so
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for q in _qemu_children(os.getpid()):
                time.sleep(0.5)
                os.kill(q, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_qemu)
    killer.start()
    _one_line(capsys, [*argv, "--connect-timeout", "20"], "QEMU (silent.elf on mps2-an386) was killed by SIGKILL")
    killer.join()
