"""A model bundle: manifest.json + int8 .tflite files + integer CDF tables (no TensorFlow needed)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .entropy_tables import EntropyTables
from .errors import TinycodecError


class BundleError(TinycodecError):
    """A model folder that is missing, incomplete or inconsistent."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    role: str
    quality: int
    data: bytes
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict
    models: tuple[ModelEntry, ...]
    tables: dict[int, EntropyTables]

    @property
    def model_hash(self) -> bytes:
        return bytes.fromhex(self.manifest["model_hash"])

    @property
    def model_id(self) -> bytes:
        return self.model_hash[:8]

    @property
    def tile(self) -> int:
        return int(self.manifest["tile"][0])

    @property
    def qualities(self) -> list[int]:
        return sorted(self.tables)

    def model(self, role: str, quality: int) -> ModelEntry:
        for m in self.models:
            if m.role == role and m.quality == quality:
                return m
        raise BundleError(f"{self.path}: no {role} for quality {quality} (have {self.qualities})")

    @staticmethod
    def load(path: Path) -> Bundle:
        path = Path(path)
        mf = path / "manifest.json" if path.is_dir() else path
        if not mf.is_file():
            raise BundleError(
                f"{mf}: model manifest not found (run `tinycodec export` or use the shipped bundle in models/)"
            )
        try:
            manifest = json.loads(mf.read_text())
        except json.JSONDecodeError as e:
            raise BundleError(f"{mf}: not valid JSON ({e.msg})") from None
        if manifest.get("format") != "tinycodec-manifest" or manifest.get("version") != 1:
            raise BundleError(f"{mf}: not a tinycodec manifest of version 1")
        models, h = [], hashlib.sha256()
        for m in manifest["models"]:
            f = mf.parent / m["file"]
            if not f.is_file():
                raise BundleError(f"{f}: model file listed in the manifest is missing")
            data = f.read_bytes()
            if hashlib.sha256(data).hexdigest() != m["sha256"]:
                raise BundleError(f"{f}: SHA-256 differs from the manifest (file changed after export)")
            h.update(data)
            models.append(
                ModelEntry(
                    m["name"],
                    m["role"],
                    int(m["quality"]),
                    data,
                    tuple(m["input"]["shape"]),
                    tuple(m["output"]["shape"]),
                )
            )
        if h.hexdigest() != manifest["model_hash"]:
            raise BundleError(f"{mf}: model_hash does not match the model files")
        tables = {int(k[1:]): EntropyTables.from_json(v) for k, v in manifest["entropy"].items()}
        return Bundle(mf.parent, manifest, tuple(models), tables)
