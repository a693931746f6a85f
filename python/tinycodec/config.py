"""Typed, frozen configuration for the codec, training and export."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
# the shipped model bundle: the default of every verb, the Makefile's MODEL (tests/test_cli.py checks they agree)
DEFAULT_MODEL = REPO_ROOT / "models" / "tc-v4"


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the transforms. Every layer maps to an int8 TFLite op that TFLM runs."""

    name: str = "tc-small"
    enc_channels: tuple[int, ...] = (48, 64, 64)  # hidden channels of the strided encoder convs
    enc_kernels: tuple[int, ...] = (5, 3, 3, 3)  # the last entry is the latent conv
    latent_channels: int = 64
    dec_channels: tuple[int, ...] = (64, 48, 32)  # hidden channels of the decoder convs
    dec_kernel: int = 3
    # "upsample": nearest x2 upsampling + conv at the higher resolution (tc-small);
    # "convt": stride-2 transposed convs, the compute at the lower resolution (TRANSPOSE_CONV)
    decoder: str = "upsample"
    dec_last_kernel: int | None = None  # kernel of the last (-> RGB) decoder layer; None: dec_kernel
    # one (lambda, name) per quality level; loss = bpp + lambda * 255^2 * MSE
    lambdas: tuple[float, ...] = (0.002, 0.005, 0.012, 0.03)
    density_filters: tuple[int, ...] = (3, 3, 3)
    # after each hidden layer (not the latent conv, not the last RGB layer): "relu", or "gdn" = GDN in the
    # encoder and inverse GDN in the decoder (int8: MUL, CONV_2D 1x1, RSQRT, MUL; model.GDN)
    activation: str = "relu"
    # with activation "gdn", the decoder's inverse GDN: "sqrt" = x * sqrt(beta + gamma x^2) (Balle et al.);
    # "abs" = the simplified x * (beta + gamma |x|) of Johnston et al. 2019, whose int8 ranges stay bounded
    inverse_gdn: str = "sqrt"
    # with activation "gdn": per encoder GDN, the norm's int8 range [0, max] (model.GDN norm_max), clamped and
    # quantized in training as int8 will; () = the calibrated range, which int8 resolves too coarsely
    gdn_norm_max: tuple[float, ...] = ()

    @property
    def levels(self) -> int:
        return len(self.lambdas)

    @property
    def stride(self) -> int:
        return 2 ** len(self.enc_kernels)

    @property
    def dec_kernels(self) -> tuple[int, ...]:
        return (*(self.dec_kernel,) * len(self.dec_channels), self.dec_last_kernel or self.dec_kernel)

    def __post_init__(self):
        if self.decoder not in ("upsample", "convt"):
            raise ValueError(f"decoder must be 'upsample' or 'convt' (got {self.decoder!r})")
        if self.activation not in ("relu", "gdn"):
            raise ValueError(f"activation must be 'relu' or 'gdn' (got {self.activation!r})")
        if self.inverse_gdn not in ("sqrt", "abs"):
            raise ValueError(f"inverse_gdn must be 'sqrt' or 'abs' (got {self.inverse_gdn!r})")
        if self.gdn_norm_max and (
            self.activation != "gdn" or len(self.gdn_norm_max) != len(self.enc_channels) or min(self.gdn_norm_max) <= 0
        ):
            raise ValueError(
                f"gdn_norm_max needs activation 'gdn' and one value > 0 per encoder GDN ({len(self.enc_channels)}): "
                f"{self.gdn_norm_max}"
            )

    @classmethod
    def from_json(cls, d: dict) -> ModelConfig:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


# Named model shapes. tc-v2: the codec v2 ladder's winner so far (shared/notes/calibration-decoder-upsampling.md:
# transposed-conv decoder ≈ +2.8 dB at equal rate over tc-small's layout), 6 qualities over ~0.12-0.85 bpp.
_TC_V2 = ModelConfig(
    name="tc-v2",
    enc_channels=(56, 56, 56),
    enc_kernels=(5, 3, 3, 3),
    latent_channels=72,
    dec_channels=(56, 56, 56),
    dec_kernel=3,
    decoder="convt",
    dec_last_kernel=5,
    # the sixth (0.08) was grown onto the trained five at step 73,974 (train --add-quality) to reach ~0.8 bpp
    lambdas=(0.0006, 0.0016, 0.0042, 0.011, 0.028, 0.08),
)
PRESETS: dict[str, ModelConfig] = {
    "tc-small": ModelConfig(),
    "tc-v2": _TC_V2,
    # tc-v3 (shipped in sessions 6-7, tc-v4 since): issue 10's ladder rung d (models/tc-v2/HISTORY.md): tc-v2's
    # layout with hidden 48 / latent 120 channels (same parameters, 20 % fewer MACs); trained long it beat tc-v2 on
    # val by BD-rate -5.4 % (int8, real bytes), +0.05 dB at 0.15 bpp to +0.54 at 0.9 (models/tc-v3/HISTORY.md).
    "tc-v3": replace(_TC_V2, name="tc-v3", enc_channels=(48, 48, 48), latent_channels=120, dec_channels=(48, 48, 48)),
    # tc-v3-gdn: issue 10's rung b on tc-v3's shape: GDN / inverse GDN instead of ReLU (model.GDN; int8 MUL, CONV_2D
    # 1x1, RSQRT, MUL). Hidden 44, not 48, for the 220,000 B int8 budget per quality: 203,112 B (random weights,
    # nonzero biases), 183,603 parameters (tc-v3: 194,235). 48 would be 223,440 B; 46 fits (215,152 B, 195,807
    # parameters) but 3x3x46 = 414 is not a multiple of 4: the M4 conv path then copies weight rows per call
    # (scratch 5,120 -> 55,168 B). Trained 1.7 h (session 7): beats tc-v3 in float; its inverse GDN fails int8.
    "tc-v3-gdn": replace(
        _TC_V2,
        name="tc-v3-gdn",
        enc_channels=(44, 44, 44),
        latent_channels=120,
        dec_channels=(44, 44, 44),
        activation="gdn",
    ),
}
# tc-v3-gdn-abs: tc-v3-gdn with the simplified inverse GDN (session 7: the square-root inverse's trained beta went to
# its floor and RSQRT's int8 range blew up; models/tc-v2/HISTORY.md, rung b); warm-started from tc-v3-gdn's run
PRESETS["tc-v3-gdn-abs"] = replace(PRESETS["tc-v3-gdn"], name="tc-v3-gdn-abs", inverse_gdn="abs")
# tc-v4: tc-v3-gdn-abs with each encoder GDN's norm clamped to an int8 range it resolves (session 8: the calibrated
# ranges, up to ~400, cost the int8 encoder ~1.6 dB); ranges from the trained norms' percentiles on val tiles
# (median 5.9 / 5.1 / 3.6, p99 84 / 22 / 7); warm-started from tc-v3-gdn-abs's run
PRESETS["tc-v4"] = replace(PRESETS["tc-v3-gdn-abs"], name="tc-v4", gdn_norm_max=(32.0, 24.0, 12.0))


@dataclass(frozen=True)
class Recipe:
    """How a preset trains and exports by default (the CLI's flags override): batch of random crops, Adam's lr,
    the tile size of validation (None: whole 256² centres) and of the exported models."""

    batch: int
    crop: int
    lr: float
    val_tile: int | None
    tile: int


# the codec v2 ladder's recipe (128² crops = the deployed tile, lr 1e-3) for every preset from tc-v2 on
_V2_RECIPE = Recipe(batch=8, crop=128, lr=1e-3, val_tile=128, tile=128)
RECIPES: dict[str, Recipe] = {
    "tc-small": Recipe(batch=16, crop=64, lr=5e-4, val_tile=None, tile=64),
    "tc-v2": _V2_RECIPE,
    "tc-v3": _V2_RECIPE,
    "tc-v3-gdn": _V2_RECIPE,
    "tc-v3-gdn-abs": _V2_RECIPE,
    "tc-v4": _V2_RECIPE,
    # the student report's U-Net baseline (seed_unet.py; not a ModelConfig)
    "seed-unet": Recipe(batch=16, crop=64, lr=5e-4, val_tile=None, tile=64),
}


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
    val_tile: int | None = None  # validate on independent tiles of this size cut from the 256² centre crops
    hours: float | None = None  # wall-clock budget of this segment (stops cleanly with a checkpoint)
    decay_frac: float = 0.15  # with hours: the last fraction of the budget runs at lr / 10
    ema: float = 0.999  # decay of the weights' exponential moving average (0: off); val and export use it
    threads: int | None = None  # TensorFlow intra-op threads (None: all cores)
    train_limit: int | None = None  # use only the first N training crops (smoke tests)
    # the transforms' compute precision in training: "float32", or "bf16" (Keras mixed_bfloat16: bfloat16 convs
    # over float32 weights; ~1.6x faster per step on this machine's AVX512-BF16 CPU; export is float32 -> int8)
    precision: str = "float32"

    def __post_init__(self):
        if self.precision not in ("float32", "bf16"):
            raise ValueError(f"precision must be 'float32' or 'bf16' (got {self.precision!r})")


@dataclass(frozen=True)
class ExportConfig:
    tile: int = 64
    cdf_precision: int = 16  # bits of the integer CDF tables
    tail_mass: float = 1e-9
    calib_tiles: int = 256
    qat_steps: int = 0  # > 0: quantization-aware fine-tuning (tfmot) per level before conversion
    # GDN models: the int8 range of each decoder TRANSPOSE_CONV / inverse GDN output is its [tail, 1 - tail] quantile
    # range over the calibration latents (0 included), not min / max (export.clip_decoder_ranges); 0: min / max
    dec_range_tail: float = 3e-5
