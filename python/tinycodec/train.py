"""Training: rate + lambda * distortion with the noise relaxation of rounding, per-level lambdas.

Train on shared/data/train, validate and select on shared/data/val. Kodak is never touched here.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import ModelConfig, TrainConfig
from .data import load_folder
from .model import Codec, rd_terms
from .tfenv import tf, tf_keras


def _strategy() -> tf.distribute.Strategy:
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def train_dataset(images: np.ndarray, cfg: TrainConfig) -> tf.data.Dataset:
    def augment(img):
        img = tf.image.random_crop(img, (cfg.crop, cfg.crop, 3))
        img = tf.image.random_flip_left_right(img)
        img = tf.image.random_flip_up_down(img)
        return tf.cast(img, tf.float32) / 255.0

    ds = tf.data.Dataset.from_tensor_slices(images).repeat().shuffle(len(images), seed=cfg.seed)
    ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(cfg.batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def val_crops(val_imgs: list[np.ndarray], size: int = 256) -> np.ndarray:
    out = []
    for im in val_imgs:
        h, w = im.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        out.append(im[top : top + size, left : left + size])
    return np.stack(out).astype(np.float32) / 255.0


def evaluate(codec: Codec, crops: np.ndarray, levels: int) -> list[dict]:
    """Per level: estimated bpp (from the density, rounded latents) and PSNR on 8-bit output."""
    rows = []
    for lvl in range(levels):
        bpps, psnrs = [], []
        for i in range(0, len(crops), 8):
            x = tf.constant(crops[i : i + 8])
            x_hat, lik = codec(x, tf.constant(lvl), training=False)
            bpp, _ = rd_terms(x, x_hat, lik)
            q = tf.round(tf.clip_by_value(x_hat, 0.0, 1.0) * 255.0)
            mse = tf.reduce_mean(tf.square(q - tf.round(x * 255.0)), axis=(1, 2, 3)).numpy()
            psnrs.extend(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10)))
            bpps.append(float(bpp) * len(x))
        rows.append({"level": lvl + 1, "bpp": sum(bpps) / len(crops), "psnr": float(np.mean(psnrs))})
    return rows


def val_score(rows: list[dict], lambdas: tuple[float, ...]) -> float:
    """Mean RD loss over levels (lower is better), PSNR turned back into MSE."""
    return float(np.mean([r["bpp"] + lam * 255.0**2 * 10 ** (-r["psnr"] / 10) for r, lam in zip(rows, lambdas)]))


def train(mcfg: ModelConfig, tcfg: TrainConfig, resume: bool = False, log=print) -> Path:
    tf.keras.utils.set_random_seed(tcfg.seed)
    run = tcfg.run_dir
    run.mkdir(parents=True, exist_ok=True)
    cfg_file = run / "config.json"
    if resume and cfg_file.exists():
        saved = json.loads(cfg_file.read_text())
        mcfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["model"].items()})
    cfg_file.write_text(
        json.dumps(
            {
                "model": asdict(mcfg),
                "train": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(tcfg).items()},
            },
            indent=2,
        )
    )

    train_imgs = np.stack(load_folder(tcfg.data_dir / "train", tcfg.train_limit))
    crops = val_crops(load_folder(tcfg.data_dir / "val", tcfg.val_images))
    log(f"train: {len(train_imgs)} crops, val: {len(crops)} images (center 256x256)")

    strategy = _strategy()
    with strategy.scope():
        codec = Codec(mcfg)
        codec(tf.zeros((1, tcfg.crop, tcfg.crop, 3)), tf.constant(0))
        lr = tf.Variable(tcfg.lr, trainable=False, dtype=tf.float32)
        opt = tf_keras.optimizers.Adam(learning_rate=lr, global_clipnorm=1.0)
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
    ckpt = tf.train.Checkpoint(codec=codec, opt=opt, step=step_var, best=best)
    manager = tf.train.CheckpointManager(ckpt, run / "ckpt", max_to_keep=2)
    best_ckpt = tf.train.Checkpoint(codec=codec, step=step_var)
    if resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        log(f"resumed from {manager.latest_checkpoint} at step {int(step_var.numpy())}")
    lambdas = tf.constant(mcfg.lambdas, tf.float32)
    if tcfg.decoder_input not in ("ste", "noise"):
        raise ValueError(f"decoder_input must be 'ste' or 'noise' (got {tcfg.decoder_input!r})")
    ste = tcfg.decoder_input == "ste"

    @tf.function
    def step_fn(x, level):
        with tf.GradientTape() as tape:
            x_hat, lik = codec(x, level, training=True, ste=ste)
            bpp, mse = rd_terms(x, x_hat, lik)
            loss = bpp + tf.gather(lambdas, level) * mse
        grads = tape.gradient(loss, codec.trainable_variables)
        opt.apply_gradients(zip(grads, codec.trainable_variables))
        return loss, bpp, mse

    rng = np.random.default_rng(tcfg.seed + int(step_var.numpy()))
    ds = iter(train_dataset(train_imgs, tcfg))
    csv_path = run / "log.csv"
    new_csv = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        w = csv.writer(fh)
        if new_csv:
            w.writerow(["step", "kind", "level", "loss", "bpp", "psnr", "images_per_s", "lr", "wall_s"])
        start = int(step_var.numpy())
        bar = tqdm(
            total=tcfg.steps,
            initial=start,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            mininterval=0.2 if sys.stderr.isatty() else 30,
        )
        t0, ema = time.time(), None
        for step in range(start, tcfg.steps):
            if step >= tcfg.lr_decay_at * tcfg.steps:
                lr.assign(tcfg.lr * 0.1)
            level = int(rng.integers(mcfg.levels))
            loss, bpp, mse = (float(v) for v in step_fn(next(ds), tf.constant(level)))
            step_var.assign(step + 1)
            psnr = 10 * np.log10(255.0**2 / max(mse, 1e-10))
            ema = (
                (loss, bpp, psnr) if ema is None else tuple(0.98 * a + 0.02 * b for a, b in zip(ema, (loss, bpp, psnr)))
            )
            ips = (step + 1 - start) * tcfg.batch / (time.time() - t0)
            bar.set_postfix(
                loss=f"{ema[0]:.3f}", bpp=f"{ema[1]:.3f}", psnr=f"{ema[2]:.2f}", img_s=f"{ips:.1f}", refresh=False
            )
            bar.update(1)
            if (step + 1) % 100 == 0:
                w.writerow(
                    [
                        step + 1,
                        "train",
                        level + 1,
                        loss,
                        bpp,
                        psnr,
                        round(ips, 2),
                        float(lr.numpy()),
                        round(time.time() - t0, 1),
                    ]
                )
            if (step + 1) % tcfg.val_every == 0 or step + 1 == tcfg.steps:
                rows = evaluate(codec, crops, mcfg.levels)
                score = val_score(rows, mcfg.lambdas)
                for r in rows:
                    w.writerow(
                        [step + 1, "val", r["level"], score, r["bpp"], r["psnr"], "", "", round(time.time() - t0, 1)]
                    )
                desc = " ".join(f"q{r['level']}:{r['bpp']:.3f}bpp/{r['psnr']:.2f}dB" for r in rows)
                if score < best.numpy():
                    best.assign(score)
                    best_ckpt.write(str(run / "best" / "ckpt"))
                    desc += " (best)"
                bar.write(f"step {step + 1} val {desc}")
            if (step + 1) % tcfg.ckpt_every == 0 or step + 1 == tcfg.steps:
                manager.save(checkpoint_number=step + 1)
                fh.flush()
        bar.close()
    return run


def load_codec(run_dir: Path, which: str = "best") -> tuple[Codec, ModelConfig, int]:
    """Load a trained codec from a run folder ('best' = selected on val, 'last' = latest)."""
    saved = json.loads((run_dir / "config.json").read_text())
    mcfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["model"].items()})
    codec = Codec(mcfg)
    codec(tf.zeros((1, 64, 64, 3)), tf.constant(0))
    step = tf.Variable(0, dtype=tf.int64)
    path = str(run_dir / "best" / "ckpt") if which == "best" else tf.train.latest_checkpoint(str(run_dir / "ckpt"))
    tf.train.Checkpoint(codec=codec, step=step).read(path).expect_partial()
    return codec, mcfg, int(step.numpy())


def training_time(run_dir: Path) -> dict:
    """Total CPU-session wall hours and mean images/s over all (resumed) segments of a run's log.csv."""
    hours, last, ips = 0.0, 0.0, []
    path = run_dir / "log.csv"
    if not path.exists():
        return {"hours": None, "images_per_s": None}
    with open(path) as fh:
        for row in csv.DictReader(fh):
            if row["kind"] != "train":
                continue
            wall = float(row["wall_s"])
            if wall < last:  # a resumed segment restarts its clock
                hours += last / 3600
            last = wall
            ips.append(float(row["images_per_s"]))
    hours += last / 3600
    return {"hours": round(hours, 2), "images_per_s": round(float(np.mean(ips)), 1) if ips else None}
