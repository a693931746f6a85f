"""Ladder rung d (issue 10): latent width at equal params, high-rate pair of lambdas, equal wall time."""

import sys
from pathlib import Path

from tinycodec.config import DEFAULT_DATA, ModelConfig, TrainConfig
from tinycodec.train import train

arm, hours = sys.argv[1], float(sys.argv[2])
shapes = {
    "l72": dict(enc_channels=(56, 56, 56), latent_channels=72, dec_channels=(56, 56, 56)),
    "l120": dict(enc_channels=(48, 48, 48), latent_channels=120, dec_channels=(48, 48, 48)),
}
mcfg = ModelConfig(
    name=f"ab-{arm}",
    enc_kernels=(5, 3, 3, 3),
    dec_kernel=3,
    decoder="convt",
    dec_last_kernel=5,
    lambdas=(0.011, 0.028),
    **shapes[arm],
)
tcfg = TrainConfig(
    data_dir=DEFAULT_DATA,
    run_dir=Path(__file__).resolve().parents[3] / "runs" / "ladder" / arm,
    steps=10**9,
    batch=8,
    crop=128,
    lr=1e-3,
    val_every=4000,
    ckpt_every=4000,
    val_images=12,
    val_tile=128,
    hours=hours,
    decay_frac=0.15,
    ema=0.999,
    threads=1,
)
train(mcfg, tcfg)
