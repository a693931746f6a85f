"""A model bundle: manifest.json + int8 .tflite files + integer CDF tables (no TensorFlow needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .entropy_tables import EntropyTables
from .errors import TinycodecError
from .manifest import Manifest, ManifestError


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
    manifest: Manifest  # read by key too: bundle.manifest["model_hash"]
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
        """A bundle folder (or its manifest.json): the manifest, its model files (SHA-256 and model hash checked)
        and its entropy tables. BundleError (one line) if anything is missing or inconsistent."""
        try:
            manifest = Manifest.load(path)
            folder = Path(manifest.where).parent
            datas = manifest.read_models(folder)
        except ManifestError as e:
            raise BundleError(str(e)) from None
        if not manifest.entropy:
            raise BundleError(f"{manifest.where}: no 'entropy' section (entropy tables)")
        if any(m.input is None or m.output is None for m in manifest.models):
            raise BundleError(f"{manifest.where}: every model needs its input and output shapes")
        models = tuple(
            ModelEntry(
                m.name,
                m.role,
                m.quality,
                data,
                m.input.shape,  # type: ignore[union-attr]
                m.output.shape,  # type: ignore[union-attr]
            )
            for m, data in zip(manifest.models, datas)
        )
        return Bundle(folder, manifest, models, dict(manifest.entropy))
