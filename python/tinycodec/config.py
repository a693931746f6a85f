"""Typed, frozen configuration for the codec, training and export."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the transforms. Every layer maps to an int8 TFLite op that TFLM runs."""

    name: str = "tc-small"
    enc_channels: tuple[int, ...] = (48, 64, 64)  # hidden channels of the strided encoder convs
    enc_kernels: tuple[int, ...] = (5, 3, 3, 3)  # the last entry is the latent conv
    latent_channels: int = 64
    dec_channels: tuple[int, ...] = (64, 48, 32)  # hidden channels of the decoder convs
    dec_kernel: int = 3
    # one (lambda, name) per quality level; loss = bpp + lambda * 255^2 * MSE
    lambdas: tuple[float, ...] = (0.002, 0.005, 0.012, 0.03)
    density_filters: tuple[int, ...] = (3, 3, 3)

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    @property
    def stride(self) -> int:
        return 2 ** len(self.enc_kernels)


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path = DEFAULT_DATA
    run_dir: Path = REPO_ROOT / "checkpoints" / "tc-small"
    steps: int = 200_000
    batch: int = 16
    crop: int = 64
    lr: float = 1e-4
    lr_decay_at: float = 0.9  # fraction of steps after which lr drops 10x
    # what the decoder sees in training: "ste" = rounded latent, identity gradient (the rate term keeps the
    # uniform noise: "mixed" quantization, Minnen & Singh 2020); "noise" = the noisy latent (Balle et al. 2018)
    decoder_input: str = "ste"
    val_every: int = 1000
    ckpt_every: int = 1000
    seed: int = 1234
    val_images: int = 32
    train_limit: int | None = None  # use only the first N training crops (smoke tests)


@dataclass(frozen=True)
class ExportConfig:
    tile: int = 64
    cdf_precision: int = 16  # bits of the integer CDF tables
    tail_mass: float = 1e-9
    calib_tiles: int = 256
    qat_steps: int = 0  # > 0: quantization-aware fine-tuning (tfmot) per level before conversion


@dataclass(frozen=True)
class Paths:
    models: Path = REPO_ROOT / "models"
    firmware_generated: Path = REPO_ROOT / "firmware" / "generated"
    default_bundle: Path = field(default=REPO_ROOT / "models" / "tc-small")
