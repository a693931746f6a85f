"""Test-only tool: compile generated C + kernels with the host gcc and run it (ctypes), for the codegen/kernel tests
and scripts/bench_kernels.py (the host reference of the same C).

Builds are cached by content hash under build/hostlib/<key>/.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinycodec.config import REPO_ROOT as REPO

GEN_DIR = REPO / "firmware" / "backends" / "gen"
KERNEL_DIR = GEN_DIR / "kernels"
CORE_DIR = REPO / "firmware" / "core"
CACHE_DIR = REPO / "build" / "hostlib"

CFLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration")
SANITIZE = (
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
)


class _Desc(ctypes.Structure):
    _fields_ = (
        [
            ("name", ctypes.c_char_p),
            ("input_bytes", ctypes.c_uint32),
            ("output_bytes", ctypes.c_uint32),
        ]
        + [(f, ctypes.c_uint16) for f in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c")]
        + [
            ("role", ctypes.c_uint8),  # TC_ROLE_* of tc_backend.h
            ("quality", ctypes.c_uint8),
        ]
    )


class _Backend(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("model_hash", ctypes.POINTER(ctypes.c_uint8)),
        ("n_models", ctypes.c_int),
        ("models", ctypes.POINTER(_Desc)),
        ("ram_bytes", ctypes.c_uint32),
        ("init", ctypes.c_void_p),
        ("run", ctypes.c_void_p),
    ]


def _sources(gen_dir: Path) -> list[Path]:
    srcs = sorted(Path(gen_dir).glob("*.c")) + sorted(KERNEL_DIR.glob("*.c")) + [GEN_DIR / "backend_gen.c"]
    return srcs


def _headers(gen_dir: Path) -> list[Path]:
    return sorted(Path(gen_dir).glob("*.h")) + sorted(KERNEL_DIR.glob("*.h")) + [CORE_DIR / "tc_backend.h"]


def _key(files: list[Path], flags: tuple[str, ...]) -> str:
    h = hashlib.sha256(" ".join(flags).encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def _compile(files: list[Path], gen_dir: Path, flags: tuple[str, ...], out_name: str, cache: Path) -> Path:
    key = _key(files + _headers(gen_dir), flags)
    dest = cache / key / out_name
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    os.close(fd)
    inc = [f"-I{gen_dir}", f"-I{KERNEL_DIR}", f"-I{CORE_DIR}"]
    cmd = ["gcc", *flags, *inc, *(str(f) for f in files), "-o", tmp]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        os.unlink(tmp)
        raise RuntimeError(f"host build failed:\n{' '.join(cmd)}\n{res.stderr}")
    os.replace(tmp, dest)
    return dest


def build_shared(gen_dir: str | Path, cache: Path = CACHE_DIR, defines: tuple[str, ...] = ()) -> Path:
    """`defines` e.g. ("TC_CONV_GENERIC_BLOCKED",): the ARM fast path's im2col/blocking in plain C."""
    gen_dir = Path(gen_dir).resolve()
    flags = (*CFLAGS, *(f"-D{d}" for d in defines), "-shared", "-fPIC")
    return _compile(_sources(gen_dir), gen_dir, flags, "libtcgen.so", cache)


def build_executable(
    gen_dir: str | Path, sanitize: bool = True, cache: Path = CACHE_DIR, defines: tuple[str, ...] = ()
) -> Path:
    """A standalone driver (host/tc_gen_main.c): `exe IDX IN.bin OUT.bin`; sanitizer build by default."""
    gen_dir = Path(gen_dir).resolve()
    flags = (*CFLAGS[1:], *SANITIZE) if sanitize else CFLAGS
    flags = (*flags, *(f"-D{d}" for d in defines))
    return _compile(_sources(gen_dir) + [GEN_DIR / "host" / "tc_gen_main.c"], gen_dir, flags, "tc_gen_main", cache)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    input_bytes: int
    output_bytes: int
    input_hwc: tuple[int, int, int]
    output_hwc: tuple[int, int, int]
    role: str = ""  # "encoder" / "decoder" ("" none)
    quality: int = 0


ROLES = {0: "", 1: "encoder", 2: "decoder"}  # TC_ROLE_* of tc_backend.h


class HostModel:
    """The generated models, compiled for the host and loaded with ctypes."""

    def __init__(self, gen_dir: str | Path, cache: Path = CACHE_DIR, defines: tuple[str, ...] = ()) -> None:
        self.path = build_shared(gen_dir, cache, defines)
        self._lib = ctypes.CDLL(str(self.path))
        self._run = self._lib.tc_gen_run
        self._run.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        self._run.restype = ctypes.c_int
        be = _Backend.in_dll(self._lib, "tc_backend")
        self.backend_name = be.name.decode()
        self.model_hash = bytes(be.model_hash[i] for i in range(32))
        self.ram_bytes = int(be.ram_bytes)
        self.models = tuple(
            ModelInfo(
                d.name.decode(),
                d.input_bytes,
                d.output_bytes,
                (d.in_h, d.in_w, d.in_c),
                (d.out_h, d.out_w, d.out_c),
                ROLES.get(d.role, "?"),
                d.quality,
            )
            for d in (be.models[i] for i in range(be.n_models))
        )

    def index(self, name: str) -> int:
        return [m.name for m in self.models].index(name)

    def run(self, idx: int, x: np.ndarray) -> np.ndarray:
        m = self.models[idx]
        xin = np.ascontiguousarray(x, dtype=np.int8).reshape(-1)
        if xin.size != m.input_bytes:
            raise ValueError(f"model {m.name} takes {m.input_bytes} int8 values, got {xin.size}")
        out = np.empty(m.output_bytes, dtype=np.int8)
        rc = self._run(idx, xin.ctypes.data, out.ctypes.data)
        if rc != 0:
            raise RuntimeError(f"tc_gen_run({idx}) returned {rc}")
        return out


def run_executable(exe: Path, idx: int, x: np.ndarray, workdir: str | Path) -> bytes:
    wd = Path(workdir)
    inp, outp = wd / f"in{idx}.bin", wd / f"out{idx}.bin"
    inp.write_bytes(np.ascontiguousarray(x, dtype=np.int8).tobytes())
    res = subprocess.run([str(exe), str(idx), str(inp), str(outp)], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{exe.name} failed ({res.returncode}):\n{res.stderr}")
    return outp.read_bytes()
