"""Preset `seed-unet`: the student report's autoencoder, reproduced honestly as a baseline.

Conv2D 3x3 + MaxPooling2D encoder, UpSampling2D decoder, Concatenate skip connections from encoder to
decoder, MAE loss, Adam. Its skip connections carry encoder features past the bottleneck, so the decoder
receives far more than the latent: its honest bpp counts every tensor the decoder receives as int8 bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .safeio import atomic_write
from .tfenv import tf_keras

layers = tf_keras.layers
CHANNELS = (11, 22, 44)  # encoder stages, sized near the report's 54,970 params (214.73 KB float32)
BOTTLENECK = 12


@dataclass(frozen=True)
class Crossing:
    """A tensor that goes from the encoder to the decoder, per input pixel."""

    name: str
    values_per_pixel: float


def build(tile: int | None = None) -> tuple[tf_keras.Model, list[Crossing]]:
    x = inp = layers.Input((tile, tile, 3), batch_size=1 if tile else None, name="pixels")
    skips, crossings, scale = [], [], 1
    for i, c in enumerate(CHANNELS):
        x = layers.Conv2D(c, 3, padding="same", activation="relu", name=f"enc{i}")(x)
        skips.append(x)
        crossings.append(Crossing(f"skip{i}", c / scale**2))
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        scale *= 2
    x = layers.Conv2D(BOTTLENECK, 3, padding="same", activation="relu", name="latent")(x)
    crossings.append(Crossing("latent", BOTTLENECK / scale**2))
    for i, c in reversed(list(enumerate(CHANNELS))):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(x)
        x = layers.Concatenate(name=f"cat{i}")([x, skips[i]])
        x = layers.Conv2D(c, 3, padding="same", activation="relu", name=f"dec{i}")(x)
    out = layers.Conv2D(3, 3, padding="same", name="pixels_out")(x)
    return tf_keras.Model(inp, out, name="seed_unet"), crossings


def honest_bpp(crossings: list[Crossing]) -> dict[str, float]:
    """Bits per pixel of every tensor the decoder receives, sent as raw int8 (8 bits per value)."""
    per = {c.name: 8.0 * c.values_per_pixel for c in crossings}
    return {"latent_only": per["latent"], "all_decoder_inputs": sum(per.values()), **per}


def train_seed(
    data_dir: Path, out_dir: Path, steps: int = 3000, batch: int = 16, crop: int = 64, seed: int = 1234
) -> Path:
    from .config import TrainConfig
    from .data import load_folder
    from .train import train_dataset, val_crops

    tf_keras.utils.set_random_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    tcfg = TrainConfig(data_dir=data_dir, batch=batch, crop=crop, seed=seed)
    imgs = np.stack(load_folder(data_dir / "train"))
    val = val_crops(load_folder(data_dir / "val"))
    model, _ = build()
    model.compile(optimizer=tf_keras.optimizers.Adam(1e-3), loss="mae")
    ds = train_dataset(imgs, tcfg).map(lambda x: (x, x))
    epochs = max(1, steps // 250)
    model.fit(
        ds,
        steps_per_epoch=steps // epochs,
        epochs=epochs,
        validation_data=(val, val),
        verbose=2,
        callbacks=[
            tf_keras.callbacks.CSVLogger(str(out_dir / "log.csv")),
            tf_keras.callbacks.ModelCheckpoint(
                str(out_dir / "best.weights.h5"), save_best_only=True, save_weights_only=True, monitor="val_loss"
            ),
        ],
    )
    return out_dir / "best.weights.h5"


def export_seed(weights: Path, out_dir: Path, data_dir: Path, tile: int = 64) -> dict:
    from .codegen.reader import load_model, op_names
    from .export import _convert, calibration_tiles
    from .oracle import tflm_arena_bytes

    model, crossings = build(tile)
    model.load_weights(str(weights))
    data = bytes(_convert(model, calibration_tiles(data_dir, tile, 128)))
    atomic_write(out_dir / "seed_unet.tflite", data)
    info = {
        "preset": "seed-unet",
        "tile": tile,
        "params": model.count_params(),
        "tflite_bytes": len(data),
        "float32_bytes": 4 * model.count_params(),
        "ops": sorted(set(op_names(load_model(bytearray(data))))),
        "tflm_arena_bytes": tflm_arena_bytes(data),
        "bpp": honest_bpp(crossings),
    }
    atomic_write(out_dir / "seed_unet.json", json.dumps(info, indent=1) + "\n")
    return info


def evaluate_seed(model_dir: Path, images: list[Path], progress=None) -> dict:
    """Kodak-style evaluation of the int8 seed-unet on TFLM, tile by tile like the codec."""
    from . import metrics, tiling
    from .imageio import read_rgb
    from .oracle import TflmModel

    info = json.loads((model_dir / "seed_unet.json").read_text())
    m = TflmModel((model_dir / "seed_unet.tflite").read_bytes())
    tile = info["tile"]
    psnrs, ssims = [], []
    for p in progress(images) if progress else images:
        img, _ = read_rgb(p)
        outs = [
            (m.run((t.astype(np.int16) - 128).astype(np.int8)[None])[0].astype(np.int16) + 128).astype(np.uint8)
            for t in tiling.split(img, tile)
        ]
        rec = tiling.join(outs, *img.shape[:2])
        psnrs.append(metrics.psnr(img, rec))
        ssims.append(metrics.ssim(img, rec))
    return {**info, "images": len(images), "psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}
