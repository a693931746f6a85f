"""The bundle manifest (models/<bundle>/manifest.json): one frozen, typed description written by `export`
and read by `bundle` and `codegen` (docs/codegen.md, docs/bitstream.md). No TensorFlow.

`Manifest.load(path)` validates (format, version, types, one encoder and one decoder per (role, quality) at
most, plain file names, entropy tables) and raises `ManifestError` (one line) on a missing, corrupt or
inconsistent manifest; `Manifest.save(path)` writes it atomically, byte for byte as export always has.
Read access by key (`manifest["model_hash"]`) gives the JSON value, for code that treats it as a dict."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .entropy_tables import EntropyTables
from .errors import TinycodecError
from .safeio import atomic_write

FORMAT = "tinycodec-manifest"
VERSION = 1
ROLES = ("encoder", "decoder")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_QKEY = re.compile(r"q([0-9]+)")


class ManifestError(TinycodecError):
    """A manifest that is missing, not JSON, or inconsistent (one line, names the file)."""


@dataclass(frozen=True)
class TensorSpec:
    """A model's input or output: NHWC shape and its int8 quantization."""

    shape: tuple[int, ...]
    scale: float
    zero_point: int

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class ModelSpec:
    """One int8 .tflite of the bundle. The optional fields are export's measurements."""

    name: str
    role: str  # "encoder" | "decoder"
    quality: int  # 1..255
    file: str  # plain file name next to the manifest
    sha256: str
    size: int | None = None
    input: TensorSpec | None = None
    output: TensorSpec | None = None
    ops: tuple[str, ...] | None = None
    params: int | None = None
    kmac_per_pixel: float | None = None
    tflm_arena_bytes: int | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {}
        for k in _MODEL_KEYS:
            v = getattr(self, k)
            if v is None:
                continue
            d[k] = v.to_dict() if isinstance(v, TensorSpec) else list(v) if isinstance(v, tuple) else v
        return d


_MODEL_KEYS = (
    "name", "role", "quality", "file", "sha256", "size", "input", "output", "ops", "params", "kmac_per_pixel",
    "tflm_arena_bytes",
)  # fmt: skip
_KEYS = (
    "format", "version", "name", "tile", "stride", "latent_channels", "qualities", "lambdas", "train_step",
    "train_time", "models", "latent_agreement", "quantization", "model_hash", "entropy",
)  # fmt: skip


@dataclass(frozen=True)
class Manifest(Mapping):
    """A bundle's manifest. Fields left None are absent from the JSON (e.g. a hand-written codegen manifest)."""

    name: str
    models: tuple[ModelSpec, ...]
    model_hash: str  # SHA-256 of the model files concatenated in `models` order
    tile: tuple[int, int] | None = None
    stride: int | None = None
    latent_channels: int | None = None
    qualities: int | None = None
    lambdas: tuple[float, ...] | None = None
    train_step: int | None = None
    train_time: Mapping[str, Any] | None = None
    latent_agreement: Mapping[str, float] | None = None
    quantization: str | None = None
    entropy: Mapping[int, EntropyTables] | None = None  # quality -> tables, in file order
    format: str = FORMAT
    version: int = VERSION
    where: str = field(default="manifest", compare=False, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    # -- validation --------------------------------------------------------------------------------------

    def _fail(self, msg: str) -> ManifestError:
        return ManifestError(f"{self.where}: {msg}")

    def validate(self) -> None:
        if self.format != FORMAT or self.version != VERSION:
            raise self._fail(f"not a tinycodec manifest of version {VERSION}")
        if not isinstance(self.name, str):
            raise self._fail("'name' is not a string")
        if not self.models:
            raise self._fail("no models listed")
        if not isinstance(self.model_hash, str) or not _HEX64.fullmatch(self.model_hash):
            raise self._fail("'model_hash' is not 64 hex digits")
        names, slots = set(), set()
        for m in self.models:
            if not isinstance(m.name, str) or not m.name or m.name in names:
                raise self._fail(f"model name {m.name!r} is empty or listed twice")
            names.add(m.name)
            if m.role not in ROLES:
                raise self._fail(f"model {m.name}: role {m.role!r} is not one of {', '.join(ROLES)}")
            if not _is_int(m.quality) or not 1 <= m.quality <= 255:
                raise self._fail(f"model {m.name}: quality {m.quality!r} is not an integer in 1..255")
            if (m.role, m.quality) in slots:
                raise self._fail(f"two {m.role}s for quality {m.quality}")
            slots.add((m.role, m.quality))
            if not isinstance(m.file, str) or not m.file or Path(m.file).name != m.file or m.file in (".", ".."):
                raise self._fail(f"model {m.name}: file {m.file!r} is not a plain file name")
            if not isinstance(m.sha256, str) or not _HEX64.fullmatch(m.sha256):
                raise self._fail(f"model {m.name}: 'sha256' is not 64 hex digits")
            for k in ("size", "params", "tflm_arena_bytes"):
                v = getattr(m, k)
                if v is not None and (not _is_int(v) or v < 0):
                    raise self._fail(f"model {m.name}: {k!r} is not a non-negative integer")
        if self.entropy is not None:
            if not self.entropy:
                raise self._fail("the 'entropy' section is empty")
            for q, t in self.entropy.items():
                if not _is_int(q) or not 0 <= q <= 255 or not 1 <= len(t.channels) <= 65535:
                    raise self._fail(f"quality {q} or its channel count is out of range")
        if self.tile is not None and (len(self.tile) != 2 or not all(_is_int(v) and v > 0 for v in self.tile)):
            raise self._fail(f"'tile' {list(self.tile)} is not two positive integers")

    # -- queries ---------------------------------------------------------------------------------------

    def model(self, role: str, quality: int) -> ModelSpec | None:
        return next((m for m in self.models if m.role == role and m.quality == quality), None)

    def read_models(self, folder: str | Path) -> tuple[bytes, ...]:
        """The model files' bytes (in `models` order), checked against their SHA-256 and the model hash."""
        folder, h, out = Path(folder), hashlib.sha256(), []
        for m in self.models:
            f = folder / m.file
            if not f.is_file():
                raise ManifestError(f"{f}: model file listed in the manifest is missing")
            data = f.read_bytes()
            if hashlib.sha256(data).hexdigest() != m.sha256:
                raise ManifestError(f"{f}: SHA-256 differs from the manifest (file changed after export)")
            h.update(data)
            out.append(data)
        if h.hexdigest() != self.model_hash:
            raise self._fail("model_hash does not match the model files")
        return tuple(out)

    # -- JSON ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d: dict[str, Any] = {}
        for k in _KEYS:
            v = getattr(self, k)
            if v is None:
                continue
            if k == "models":
                v = [m.to_dict() for m in v]
            elif k == "entropy":
                v = {f"q{q}": t.to_json() for q, t in v.items()}
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            d[k] = v
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def save(self, path: str | Path) -> Path:
        """Write atomically to `path` (a manifest.json, or the bundle folder)."""
        p = Path(path)
        p = p / "manifest.json" if p.is_dir() else p
        atomic_write(p, self.to_json())
        return p

    @staticmethod
    def from_dict(d: Any, where: str = "manifest") -> Manifest:
        """Typed manifest from parsed JSON; ManifestError names `where` on anything missing or mistyped."""
        if not isinstance(d, dict):
            raise ManifestError(f"{where}: not a JSON object")
        if d.get("format") != FORMAT or d.get("version") != VERSION:
            raise ManifestError(f"{where}: not a tinycodec manifest of version {VERSION}")
        unknown = set(d) - set(_KEYS)
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            models = d.get("models")
            if not isinstance(models, list) or not models:
                raise ManifestError(f"{where}: no models listed")
            entropy = d.get("entropy")
            tables = None
            if entropy is not None:
                if not isinstance(entropy, dict):
                    raise ManifestError(f"{where}: 'entropy' is not an object")
                tables = {}
                for key, val in entropy.items():
                    mq = _QKEY.fullmatch(key)
                    if not mq:
                        raise ManifestError(f"{where}: entropy key {key!r} is not of the form q<N>")
                    try:
                        tables[int(mq.group(1))] = EntropyTables.from_json(val)  # validates sums, int8 range
                    except (ValueError, KeyError, TypeError) as e:
                        raise ManifestError(f"{where}: entropy tables of {key} are invalid ({e})") from None
            return Manifest(
                name=d.get("name"),
                models=tuple(_model_from_dict(m, where) for m in models),
                model_hash=d.get("model_hash"),
                tile=_opt_tuple(d, "tile", where),
                stride=_opt_int(d, "stride", where),
                latent_channels=_opt_int(d, "latent_channels", where),
                qualities=_opt_int(d, "qualities", where),
                lambdas=_opt_tuple(d, "lambdas", where),
                train_step=_opt_int(d, "train_step", where),
                train_time=_opt_map(d, "train_time", where),
                latent_agreement=_opt_map(d, "latent_agreement", where),
                quantization=d.get("quantization"),
                entropy=tables,
                format=d["format"],
                version=d["version"],
                where=where,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ManifestError(f"{where}: malformed ({type(e).__name__}: {e})") from None

    @staticmethod
    def load(path: str | Path) -> Manifest:
        """manifest.json (or its bundle folder) -> Manifest; ManifestError if missing, not JSON or inconsistent."""
        p = Path(path)
        mf = p / "manifest.json" if p.is_dir() else p
        if not mf.is_file():
            raise ManifestError(
                f"{mf}: model manifest not found (run `tinycodec export` or use the shipped bundle in models/)"
            )
        try:
            d = json.loads(mf.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ManifestError(f"{mf}: not valid JSON ({getattr(e, 'msg', e)})") from None
        return Manifest.from_dict(d, str(mf))

    # -- read-only dict view of the JSON (manifest["model_hash"], {**manifest}) --------------------------

    @cached_property
    def _json(self) -> dict:
        return self.to_dict()

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)

    __hash__ = None  # type: ignore[assignment]  # holds dicts


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _opt_int(d: dict, key: str, where: str) -> int | None:
    v = d.get(key)
    if v is not None and not _is_int(v):
        raise ManifestError(f"{where}: {key!r} is not an integer")
    return v


def _opt_tuple(d: dict, key: str, where: str) -> tuple | None:
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        raise ManifestError(f"{where}: {key!r} is not a list of numbers")
    return tuple(v)


def _opt_map(d: dict, key: str, where: str) -> dict | None:
    v = d.get(key)
    if v is not None and not isinstance(v, dict):
        raise ManifestError(f"{where}: {key!r} is not an object")
    return v


def _tensor(v: Any, what: str, where: str) -> TensorSpec | None:
    if v is None:
        return None
    if not isinstance(v, dict) or not isinstance(v.get("shape"), list) or not all(_is_int(s) for s in v["shape"]):
        raise ManifestError(f"{where}: {what} is not a {{shape, scale, zero_point}} object")
    return TensorSpec(tuple(v["shape"]), v["scale"], v["zero_point"])


def _model_from_dict(m: Any, where: str) -> ModelSpec:
    if not isinstance(m, dict):
        raise ManifestError(f"{where}: a model entry is not an object")
    unknown = set(m) - set(_MODEL_KEYS)
    missing = [k for k in _MODEL_KEYS[:5] if k not in m]
    name = m.get("name", "?")
    if unknown or missing:
        bad = f"unknown key(s) {', '.join(sorted(unknown))}" if unknown else f"missing {', '.join(missing)}"
        raise ManifestError(f"{where}: model {name}: {bad}")
    ops = m.get("ops")
    if ops is not None and (not isinstance(ops, list) or not all(isinstance(o, str) for o in ops)):
        raise ManifestError(f"{where}: model {name}: 'ops' is not a list of names")
    return ModelSpec(
        m["name"],
        m["role"],
        m["quality"],
        m["file"],
        m["sha256"],
        m.get("size"),
        _tensor(m.get("input"), f"model {name}: input", where),
        _tensor(m.get("output"), f"model {name}: output", where),
        None if ops is None else tuple(ops),
        m.get("params"),
        m.get("kmac_per_pixel"),
        m.get("tflm_arena_bytes"),
    )
