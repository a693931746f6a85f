"""The firmware's C rANS coder (firmware/core/tc_rans.c) against the Python reference (tinycodec.rans):
same bytes, same decode, errors instead of crashes. The C side runs under ASan + UBSan in a host harness
(firmware/test_host/rans/rans_harness.c) driven through stdin/stdout; tables come from hypothesis, from
tests/test_rans.py's GOLDEN case and from the shipped model (via the generated tc_entropy_tables.c)."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from test_rans import GOLDEN
from test_rans import _tables as golden_tables
from tinycodec import rans
from tinycodec.bundle import Bundle
from tinycodec.codegen.errors import CodegenError
from tinycodec.codegen.tables import compact_channel, generate_tables, render_tables
from tinycodec.config import DEFAULT_MODEL
from tinycodec.entropy_tables import quantize_pmf

CORE = ROOT / "firmware" / "core"
HARNESS = ROOT / "firmware" / "test_host" / "rans" / "rans_harness.c"
BUNDLE = DEFAULT_MODEL
VAL = Path("/work/shared/data/val")

OK, ERR_ARG, ERR_TABLES, ERR_OUT_FULL, ERR_TRUNCATED, ERR_CORRUPT, ERR_TRAILING = 0, -1, -2, -3, -4, -5, -6
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


class Harness:
    """One long-running sanitized harness process; tables are (precision, [(offset, freqs), ...])."""

    def __init__(self, exe: Path):
        self.proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def _read(self, n: int) -> bytes:
        data = self.proc.stdout.read(n) if n else b""
        if len(data) != n:
            self.proc.kill()
            raise AssertionError(f"harness died (rc {self.proc.wait()}): {self.proc.stderr.read().decode()[-3000:]}")
        return data

    def _send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _status(self) -> int:
        return struct.unpack("<i", self._read(4))[0]

    def set_tables(self, precision: int, channels: list[tuple[int, list[int]]], compact_override=None) -> None:
        """Tables in tc_rans.h's compact layout (codegen.tables.compact_channel); compact_override:
        channel index -> (head, tail, core) stored as given (malformed tables for the error tests)."""
        out = bytearray(struct.pack("<cBH", b"T", precision, len(channels)))
        for i, (off, freqs) in enumerate(channels):
            head, tail, core = compact_channel(freqs)
            if compact_override and i in compact_override:
                head, tail, core = compact_override[i]
            out += struct.pack("<hHHHH", off, len(freqs), head, tail, len(core))
            out += struct.pack(f"<{len(core)}H", *core)
        self._send(bytes(out))
        assert self._status() == 0

    def use_generated(self, q: int) -> tuple[int, int, int]:
        self._send(struct.pack("<ci", b"G", q))
        return self._status(), struct.unpack("<I", self._read(4))[0], struct.unpack("<H", self._read(2))[0]

    def check_tables(self) -> int:
        self._send(b"C")
        return self._status()

    def encode(self, latent: np.ndarray, out_cap: int | None = None) -> tuple[int, bytes, bool]:
        lat = np.ascontiguousarray(latent, np.int8).reshape(-1)
        cap = 4 + 2 * lat.size if out_cap is None else out_cap
        self._send(struct.pack("<cII", b"E", lat.size, cap) + lat.tobytes())
        rc = self._status()
        (n,) = struct.unpack("<I", self._read(4))
        data = self._read(n)
        untouched = self._read(1) == b"\x01"
        return rc, data, untouched

    def decode(self, data: bytes, n: int) -> tuple[int, np.ndarray]:
        self._send(struct.pack("<cII", b"D", n, len(data)) + bytes(data))
        rc = self._status()
        return rc, np.frombuffer(self._read(n), np.int8)

    def bench(self, iters: int) -> tuple[int, int]:
        self._send(struct.pack("<cI", b"B", iters))
        return struct.unpack("<QQ", self._read(16))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(b"Q")
            self.proc.stdin.close()
            rc = self.proc.wait(timeout=30)
            err = self.proc.stderr.read().decode()
            assert rc == 0 and "runtime error" not in err and "AddressSanitizer" not in err, err


def _build(tmp: Path, name: str, flags: list[str], gen_dir: Path | None = None) -> Path:
    exe = tmp / name
    srcs = [str(HARNESS), str(CORE / "tc_rans.c")]
    inc = ["-I", str(CORE)]
    if gen_dir is not None:
        srcs.append(str(gen_dir / "tc_entropy_tables.c"))
        inc += ["-I", str(gen_dir), "-DTC_HARNESS_GENERATED"]
    cmd = [
        "gcc",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wshadow",
        "-pedantic",
        *flags,
        *inc,
        "-o",
        str(exe),
        *srcs,
    ]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return exe


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate_tables(BUNDLE, out)
    return out


@pytest.fixture(scope="module")
def harness(tmp_path_factory, gen_dir):
    exe = _build(tmp_path_factory.mktemp("rans"), "rans_harness", ["-O1", "-g", *SANITIZE], gen_dir)
    h = Harness(exe)
    yield h
    h.close()


# -- helpers ----------------------------------------------------------------------------------------
def _py_encode(precision: int, channels: list[tuple[int, list[int]]], latent: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Python reference bytes of `latent` (flattened NHWC) and the latent clipped to the tables' support."""
    c = len(channels)
    flat = np.asarray(latent, np.int32).reshape(-1)
    chan = np.arange(flat.size) % c
    off = np.array([o for o, _ in channels])[chan]
    cnt = np.array([len(f) for _, f in channels])[chan]
    sym = np.clip(flat - off, 0, cnt - 1)
    tabs = [rans.SymbolTable(f, precision) for _, f in channels]
    return rans.encode(sym.tolist(), tabs, chan.tolist()), (sym + off).astype(np.int8)


def _py_decode(precision, channels, data: bytes, n: int, tabs=None) -> np.ndarray | str:
    c = len(channels)
    tabs = tabs or [rans.SymbolTable(f, precision) for _, f in channels]
    try:
        sym = rans.decode(data, n, tabs, [i % c for i in range(n)])
    except rans.RansError as e:
        return str(e)
    off = np.array([o for o, _ in channels])
    return (np.array(sym, np.int32) + off[np.arange(n) % c]).astype(np.int8)


def _assert_same_decode(h: Harness, precision, channels, data: bytes, n: int, tabs=None) -> int:
    rc, lat = h.decode(data, n)
    ref = _py_decode(precision, channels, data, n, tabs)
    if isinstance(ref, str):
        expect = (ERR_TRUNCATED,) if ("truncated" in ref or "shorter" in ref) else (ERR_CORRUPT, ERR_TRAILING)
        assert rc in expect, (rc, ref)
    else:
        assert rc == OK
        np.testing.assert_array_equal(lat, ref)
    return rc


def _random_channels(rng: np.random.Generator, n_ch: int, precision: int) -> list[tuple[int, list[int]]]:
    out = []
    for _ in range(n_ch):
        count = int(rng.choice([1, 2, int(rng.integers(1, 41)), int(rng.integers(1, 257))]))
        count = min(count, 1 << precision)
        off = int(rng.integers(-128, 128 - count + 1))
        pmf = rng.random(count) ** int(rng.integers(1, 8)) + 1e-9
        out.append((off, list(quantize_pmf(pmf, precision))))
    return out


# -- byte-exact against Python ----------------------------------------------------------------------
def test_golden_bytes(harness):
    tables = golden_tables(42, 4)
    chan = [i % 4 for i in range(1000)]
    rng = np.random.default_rng(7)
    sym = np.array([int(rng.integers(len(tables[c].freqs))) for c in chan], np.int8)
    channels = [(0, t.freqs) for t in tables]
    harness.set_tables(16, channels)
    assert harness.check_tables() == OK
    rc, data, untouched = harness.encode(sym)
    assert rc == OK and untouched
    assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == GOLDEN
    assert data == rans.encode(sym.tolist(), tables, chan)
    rc, lat = harness.decode(data, sym.size)
    assert rc == OK
    np.testing.assert_array_equal(lat, sym)


SHAPES = st.sampled_from([(0, 1), (1, 1), (7, 3), (100, 8), (16, 64), (4 * 4, 64), (8, 192), (33, 5)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, precision=st.integers(8, 16), spread=st.integers(1, 128))
def test_random_tables_match_python(harness, seed, shape, precision, spread):
    rng = np.random.default_rng(seed)
    n_pix, n_ch = shape
    channels = _random_channels(rng, n_ch, precision)
    harness.set_tables(precision, channels)
    assert harness.check_tables() == OK
    # values around each channel's support and beyond it (exercises clipping), NHWC order
    centre = np.array([o + len(f) // 2 for o, f in channels])
    latent = np.clip(centre + rng.integers(-spread, spread + 1, (n_pix, n_ch)), -128, 127).astype(np.int8)
    ref, clipped = _py_encode(precision, channels, latent)
    rc, data, untouched = harness.encode(latent)
    assert rc == OK and untouched
    assert data == ref
    rc, lat = harness.decode(data, latent.size)
    assert rc == OK
    np.testing.assert_array_equal(lat, clipped.reshape(-1))


def test_extreme_tables(harness):
    """Single-symbol channels (f = 2^p), 256-symbol channels with f = 1 everywhere, both precisions ends."""
    rng = np.random.default_rng(0)
    for precision in (8, 12, 16):
        full = [1] * 255 + [(1 << precision) - 255] if precision > 8 else [1] * 256
        channels = [(-128, full), (5, [1 << precision]), (-128, full[::-1]), (0, [1, (1 << precision) - 1])]
        harness.set_tables(precision, channels)
        assert harness.check_tables() == OK
        for _ in range(5):
            latent = rng.integers(-128, 128, (300, 4)).astype(np.int8)
            ref, clipped = _py_encode(precision, channels, latent)
            rc, data, _ = harness.encode(latent)
            assert rc == OK and data == ref
            assert len(data) <= 4 + 2 * latent.size
            rc, lat = harness.decode(data, latent.size)
            assert rc == OK
            np.testing.assert_array_equal(lat, clipped.reshape(-1))


@pytest.fixture(scope="module")
def real_latents():
    """analyse() of a few real tiles at every quality (TFLM; skipped if unavailable)."""
    pytest.importorskip("tflite_micro")
    from tinycodec import tiling
    from tinycodec.bundle import Bundle
    from tinycodec.codec import HostCodec
    from tinycodec.data import load_rgb

    paths = sorted(VAL.glob("*.png"))[:3]
    if not paths:
        pytest.skip(f"no validation images in {VAL}")
    codec = HostCodec(Bundle.load(BUNDLE))
    out = []
    for k, p in enumerate(paths):
        tiles = tiling.split(load_rgb(p), codec.bundle.tile)
        tile = tiles[(k * 7) % len(tiles)]
        for q in codec.bundle.qualities:
            lat = codec.analyse(tile, q)
            out.append((p.name, q, lat, codec.encode_tile(tile, q), codec))
    return out


def test_real_latents_shipped_tables(harness, real_latents):
    for name, q, lat, payload, codec in real_latents:
        rc, count, n_ch = harness.use_generated(q)
        assert rc == 0 and count == len(codec.bundle.qualities) and n_ch == lat.shape[-1]
        assert harness.check_tables() == OK
        rc, data, untouched = harness.encode(lat)
        assert rc == OK and untouched, (name, q)
        assert data == payload, (name, q)  # == HostCodec.encode_tile(): the container's tile bytes
        rc, dec = harness.decode(payload, lat.size)
        assert rc == OK
        np.testing.assert_array_equal(dec.reshape(lat.shape), codec.decode_latent(payload, q))
        t = codec.bundle.tables[q]
        off = np.array([c.offset for c in t.channels])
        cnt = np.array([len(c.freqs) for c in t.channels])
        np.testing.assert_array_equal(dec.reshape(lat.shape), np.clip(lat.astype(np.int32), off, off + cnt - 1))
    assert harness.use_generated(99)[0] == -1


def test_garbage_with_shipped_tables(harness, real_latents):
    """Random and mutated payloads of real size, decoded with the generated q1..q4 tables."""
    rng = np.random.default_rng(5)
    for _, q, lat, payload, codec in real_latents[:4]:
        t = codec.bundle.tables[q]
        channels = [(c.offset, list(c.freqs)) for c in t.channels]
        assert harness.use_generated(q)[0] == 0
        for k in range(150):
            if k % 2:
                data = rng.integers(0, 256, int(rng.integers(0, 2 * len(payload))), dtype=np.uint8).tobytes()
            else:
                data = bytearray(payload)
                for _ in range(int(rng.integers(1, 4))):
                    data[int(rng.integers(len(data)))] = int(rng.integers(256))
                data = bytes(data)
            _assert_same_decode(harness, t.precision, channels, data, lat.size, codec._symtabs[q])


# -- errors, never crashes --------------------------------------------------------------------------
def _reference_stream(harness, n_pix=64, n_ch=8, seed=3):
    rng = np.random.default_rng(seed)
    channels = _random_channels(rng, n_ch, 16)
    harness.set_tables(16, channels)
    latent = (np.array([o + len(f) // 2 for o, f in channels]) + rng.integers(-4, 5, (n_pix, n_ch))).astype(np.int8)
    rc, data, _ = harness.encode(latent)
    assert rc == OK
    return channels, latent, data


def test_truncated_streams(harness):
    channels, latent, data = _reference_stream(harness)
    for cut in range(len(data)):
        rc = _assert_same_decode(harness, 16, channels, data[:cut], latent.size)
        assert rc != OK
    for cut in (0, 1, 3):
        assert harness.decode(data[:cut], latent.size)[0] == ERR_TRUNCATED
    assert harness.decode(data[:-1], latent.size)[0] == ERR_TRUNCATED


def test_extended_streams(harness):
    channels, latent, data = _reference_stream(harness)
    for extra in (b"\0", b"\xff", b"\x12\x34", bytes(100)):
        assert harness.decode(data + extra, latent.size)[0] == ERR_TRAILING
    # fewer / more symbols asked: an error unless the extra symbol is certain (1-symbol channel), as in Python
    for n in (latent.size - 1, latent.size + 1, 0):
        _assert_same_decode(harness, 16, channels, data, n)


def test_bit_flips(harness):
    channels, latent, data = _reference_stream(harness)
    rcs = []
    for bit in range(len(data) * 8):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        rcs.append(_assert_same_decode(harness, 16, channels, bytes(bad), latent.size))
    assert sum(rc != OK for rc in rcs) >= 0.99 * len(rcs)  # C == Python on each; nearly all detected


def test_random_garbage(harness):
    rng = np.random.default_rng(11)
    precision = 12
    channels = _random_channels(rng, 3, precision)
    harness.set_tables(precision, channels)
    outcomes = set()
    for k in range(3000):
        data = rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
        if k % 5 == 0 and len(data) >= 4:  # states near / below RANS_L
            data = bytes([0, int(rng.integers(0, 256)) & 0x80]) + data[2:]
        outcomes.add(_assert_same_decode(harness, precision, channels, data, int(rng.integers(0, 60))))
    assert {ERR_TRUNCATED, ERR_CORRUPT} <= outcomes


def test_output_capacity(harness):
    channels, latent, data = _reference_stream(harness, n_pix=16)
    for cap in range(len(data)):
        rc, out, _ = harness.encode(latent, out_cap=cap)  # ASan: no write outside the cap-byte block
        assert rc == ERR_OUT_FULL and out == b""
    for cap in (len(data), len(data) + 1, len(data) + 100):
        rc, out, untouched = harness.encode(latent, out_cap=cap)
        assert rc == OK and out == data and untouched  # stream at the END, bytes in front untouched


def test_bad_tables_are_errors(harness):
    good = [(0, [1 << 12] * 16), (-3, [1 << 14, 1 << 14, 1 << 15])]
    harness.set_tables(16, good)
    assert harness.check_tables() == OK
    lat = np.zeros(10, np.int8)
    for prec in (7, 17, 0, 255):  # precision out of range
        harness.set_tables(prec, [(0, [1] * 4)], compact_override={0: (0, 0, [0, 1, 2, 3])})
        assert harness.check_tables() == ERR_ARG
        assert harness.encode(lat)[0] == ERR_ARG
        assert harness.decode(bytes([0, 0x80, 0, 0]), 10)[0] == ERR_ARG
    harness.set_tables(16, [])  # no channels: no modulo by zero
    assert harness.encode(lat)[0] == ERR_ARG and harness.decode(b"\0\x80\0\0", 3)[0] == ERR_ARG
    bad = {  # count 3: (head, tail, core)
        "zero freq": (0, 0, [0, 0, 1]),
        "core not starting at head": (0, 0, [3, 5, 6]),
        "core not starting at head (head 1)": (1, 0, [0, 6]),
        "decreasing": (0, 0, [0, 40000, 30000]),
        "core reaches the trailing run": (0, 1, [0, (1 << 16) - 1]),
        "runs longer than count": (2, 2, []),
        "all frequency 1 but count != total": (3, 0, []),
        "no core array": (0, 0, []),
    }
    for why, compact in bad.items():
        harness.set_tables(16, [(0, [1, 1, (1 << 16) - 2])], compact_override={0: compact})
        assert harness.check_tables() == ERR_TABLES, why
        assert harness.encode(np.array([0, 1, 0, 1, -5, 9], np.int8))[0] == ERR_TABLES, why
        for data in (b"\x00\x80\x00\x00\x01\x02", b"\xff" * 9, b"\x00\x9c\x40\x00"):
            harness.decode(data, 6)  # any status, but no sanitizer report
    harness.set_tables(16, [(120, [1 << 15, 1 << 14, 1 << 13, 1 << 13])])  # 120 + 3 > 127
    assert harness.check_tables() == OK
    harness.set_tables(16, [(125, [1 << 15, 1 << 14, 1 << 13, 1 << 13])])
    assert harness.check_tables() == ERR_TABLES


def test_empty_latent(harness):
    harness.set_tables(16, [(0, [1 << 16])])
    rc, data, _ = harness.encode(np.zeros(0, np.int8))
    assert rc == OK and data == rans.encode([], [], []) == b"\x00\x80\x00\x00"
    assert harness.decode(data, 0)[0] == OK
    assert harness.decode(b"\x00\x80\x00\x01", 0)[0] == ERR_CORRUPT


# -- the generator and the M4 build -----------------------------------------------------------------
def test_generated_tables_deterministic(tmp_path, gen_dir):
    files, report = render_tables(BUNDLE)
    files2, _ = render_tables(BUNDLE / "manifest.json")
    assert files == files2
    for name, text in files.items():
        assert (gen_dir / name).read_text() == text
        assert "generated by tinycodec" in text.splitlines()[1]
    assert report.qualities == tuple(Bundle.load(BUNDLE).qualities)
    # compact layout: frequency-1 runs as counts, uint16 core; how much it saves depends on how wide the trained
    # densities are (3.7x for the shipped model), so the bound is a floor, not the measured ratio
    assert report.flash_bytes < 50_000 and report.flash_bytes * 3 < report.plain_bytes
    assert "uint32_t k_" not in files["tc_entropy_tables.c"]
    out = tmp_path / "g"
    generate_tables(BUNDLE, out)
    mtime = (out / "tc_entropy_tables.c").stat().st_mtime_ns
    generate_tables(BUNDLE, out)
    assert (out / "tc_entropy_tables.c").stat().st_mtime_ns == mtime


@settings(max_examples=200, deadline=None)
@given(freqs=st.lists(st.sampled_from([1, 1, 1, 2, 3, 100, 5000]), min_size=1, max_size=256))
def test_compact_channel_is_the_cumulative_array(freqs):
    head, tail, core = compact_channel(freqs)
    n, total = len(freqs), sum(freqs)
    cum = np.concatenate([[0], np.cumsum(freqs)]).tolist()
    assert head + tail + len(core) == n
    rebuilt = [s if s < head else total - (n - s) if s + tail >= n else core[s - head] for s in range(n + 1)]
    assert rebuilt == cum


def test_generator_refuses_bad_manifest(tmp_path):
    import json

    m = json.loads((BUNDLE / "manifest.json").read_text())
    m["entropy"]["q1"]["channels"][0]["freqs"][0] += 1  # sum != 2^precision
    (tmp_path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CodegenError, match="q1"):
        render_tables(tmp_path)
    with pytest.raises(CodegenError):
        generate_tables(tmp_path / "missing", tmp_path / "out")


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_cortex_m4_build_warning_free(tmp_path, gen_dir):
    flags = [
        "-mcpu=cortex-m4",
        "-mthumb",
        "-O2",
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wshadow",
        "-I",
        str(CORE),
    ]
    obj = tmp_path / "tc_rans.o"
    r = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(CORE / "tc_rans.c"), "-o", str(obj)],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    gobj = tmp_path / "tc_entropy_tables.o"
    r = subprocess.run(["arm-none-eabi-gcc", *flags, "-I", str(gen_dir), "-c", str(gen_dir / "tc_entropy_tables.c"),
                        "-o", str(gobj)], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    size = subprocess.run(["arm-none-eabi-size", str(obj), str(gobj)], capture_output=True, text=True)
    print(size.stdout)
    text = int(size.stdout.splitlines()[1].split()[0])
    assert text < 2048  # the coder itself stays small


def test_host_speed(tmp_path):
    """Unsanitized -O2 build: encode/decode time of one tile's latent with the shipped q2 tables."""
    gen = tmp_path / "gen"
    generate_tables(BUNDLE, gen)
    h = Harness(_build(tmp_path, "rans_fast", ["-O2"], gen))
    try:
        assert h.use_generated(2)[0] == 0
        rng = np.random.default_rng(0)
        man = Bundle.load(BUNDLE).manifest
        side = man["tile"][0] // man["stride"]
        shape = (side * side, man["latent_channels"])
        assert h.encode(rng.integers(-6, 7, shape).astype(np.int8))[0] == OK
        enc_ns, dec_ns = h.bench(2000)
        print(f"{side}x{side}x{shape[1]} latent: encode {enc_ns / 1000:.1f} us, decode {dec_ns / 1000:.1f} us")
        assert enc_ns > 0 and dec_ns > 0
    finally:
        h.close()


@pytest.mark.qemu
@pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)
def test_on_cortex_m4_qemu(tmp_path, gen_dir):
    """tc_rans.c + the generated tables on the emulated M4F: same bytes as Python for every quality."""
    from fw_helpers import run_semihosted_m4

    out = run_semihosted_m4(
        tmp_path / "rans_m4.elf",
        [HARNESS.parent / "rans_m4.c", CORE / "tc_rans.c", gen_dir / "tc_entropy_tables.c"],
        [CORE, gen_dir],
    )
    from tinycodec.bundle import Bundle

    bundle = Bundle.load(BUNDLE)
    lines = [ln for ln in out.splitlines() if ln.startswith("q")]
    assert len(lines) == len(bundle.qualities)
    for line, q in zip(lines, bundle.qualities):
        t = bundle.tables[q]
        channels = [(c.offset, list(c.freqs)) for c in t.channels]
        s, lat = 12345 + q, []
        for _ in range(16 * len(channels)):
            s = (s * 1103515245 + 12345) & 0xFFFFFFFF
            lat.append(((s >> 16) % 17) - 8)
        ref, _ = _py_encode(t.precision, channels, np.array(lat))
        assert line == f"q{q} rc 0 len {len(ref)} {ref.hex()}"
