"""Training: rate + lambda * distortion with the noise relaxation of rounding, per-level lambdas.

Train on shared/data/train, validate and select on shared/data/val. Kodak is never touched here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import ModelConfig, TrainConfig
from .data import load_folder
from .model import Codec, build_decoder, build_encoder, macs_per_pixel, rd_terms
from .safeio import atomic_write
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


def _tiles(crops: np.ndarray, tile: int) -> np.ndarray:
    """[N, S, S, 3] -> [N * (S/tile)², tile, tile, 3], row-major tiles of each crop in turn."""
    n, s = crops.shape[:2]
    k = s // tile
    t = crops.reshape(n, k, tile, k, tile, 3).transpose(0, 1, 3, 2, 4, 5)
    return t.reshape(n * k * k, tile, tile, 3)


def evaluate(codec: Codec, crops: np.ndarray, levels: int, tile: int | None = None) -> list[dict]:
    """Per level: estimated bpp (from the density, rounded latents) and PSNR on 8-bit output.

    tile: code each crop as independent tiles of this size (as the deployed codec does); PSNR stays per crop."""
    per = 1 if tile is None else (crops.shape[1] // tile) ** 2
    x_all = crops if tile is None else _tiles(crops, tile)
    rows = []
    for lvl in range(levels):
        bits, mses = 0.0, []
        for i in range(0, len(x_all), 8 * per):
            x = tf.constant(x_all[i : i + 8 * per])
            x_hat, lik = codec(x, tf.constant(lvl), training=False)
            bits += float(tf.reduce_sum(-tf.math.log(lik))) / np.log(2.0)
            q = tf.round(tf.clip_by_value(x_hat, 0.0, 1.0) * 255.0)
            mses.extend(tf.reduce_mean(tf.square(q - tf.round(x * 255.0)), axis=(1, 2, 3)).numpy())
        mse = np.asarray(mses).reshape(-1, per).mean(axis=1)
        psnr = 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))
        rows.append({"level": lvl + 1, "bpp": bits / crops[..., 0].size, "psnr": float(np.mean(psnr))})
    return rows


def val_score(rows: list[dict], lambdas: tuple[float, ...]) -> float:
    """Mean RD loss over levels (lower is better), PSNR turned back into MSE."""
    return float(np.mean([r["bpp"] + lam * 255.0**2 * 10 ** (-r["psnr"] / 10) for r, lam in zip(rows, lambdas)]))


LOG_FIELDS = [
    "step",
    "kind",
    "level",
    "loss",
    "bpp",
    "psnr",
    "images_per_s",
    "lr",
    "wall_s",
    "px_per_s",
    "threads",
    "steps",
]


class _Log:
    """log.csv, appended across resumed segments; an older file keeps its own columns."""

    def __init__(self, path: Path):
        fields = LOG_FIELDS
        if path.exists() and path.stat().st_size:
            with open(path) as fh:
                fields = next(csv.reader(fh))
        self.fh = open(path, "a", newline="")  # noqa: SIM115 - closed by close()
        self.w = csv.DictWriter(self.fh, fields, extrasaction="ignore")
        if fields is LOG_FIELDS:
            self.w.writeheader()

    def row(self, **kw) -> None:
        self.w.writerow(kw)
        self.fh.flush()  # readable while the run goes on (fsync only at checkpoints)

    def flush(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


class _StopOnSignal:
    """SIGTERM / SIGINT / SIGHUP end the run after the current step with a checkpoint, a last validation and the
    segment row (a background job has SIGINT ignored, so Ctrl-C alone is not enough); main thread only."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, n))

    def __init__(self) -> None:
        self.signum: int | None = None
        self.old = {}
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self.old[s] = signal.signal(s, self._handle)

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def restore(self) -> None:
        for s, h in self.old.items():
            signal.signal(s, h)


def _now() -> float:
    """The trainer's wall clock (one function, so tests can replace it)."""
    return time.time()


def _set_threads(n: int | None) -> int:
    n = n or os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(n, 2))
    except RuntimeError:  # the runtime is already initialised (tests, notebooks): keep what it has
        pass
    return n


class _Trainer:
    """The codec, its optimizer, the EMA of its weights and one compiled training step."""

    def __init__(self, mcfg: ModelConfig, tcfg: TrainConfig):
        self.mcfg, self.tcfg = mcfg, tcfg
        with _strategy().scope():
            self.codec = Codec(mcfg, policy="mixed_bfloat16" if tcfg.precision == "bf16" else None)
            self.codec(tf.zeros((1, tcfg.crop, tcfg.crop, 3)), tf.constant(0))
            self.lr = tf.Variable(tcfg.lr, trainable=False, dtype=tf.float32)
            self.opt = tf_keras.optimizers.Adam(learning_rate=self.lr, global_clipnorm=1.0)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
            self.best = tf.Variable(np.inf, dtype=tf.float64, trainable=False)
            self.decayed = tf.Variable(False, trainable=False)
            self.ema_ready = tf.Variable(False, trainable=False)
            self.ema = [tf.Variable(v, trainable=False) for v in self.codec.trainable_variables]
        self.ckpt = tf.train.Checkpoint(
            codec=self.codec,
            opt=self.opt,
            step=self.step,
            best=self.best,
            decayed=self.decayed,
            ema=self.ema,
            ema_ready=self.ema_ready,
        )
        lambdas = tf.constant(mcfg.lambdas, tf.float32)
        if tcfg.decoder_input not in ("ste", "noise"):
            raise ValueError(f"decoder_input must be 'ste' or 'noise' (got {tcfg.decoder_input!r})")
        ste = tcfg.decoder_input == "ste"
        decay = float(tcfg.ema)
        codec, opt, ema = self.codec, self.opt, self.ema

        @tf.function
        def step_fn(x, level):
            with tf.GradientTape() as tape:
                x_hat, lik = codec(x, level, training=True, ste=ste)
                bpp, mse = rd_terms(x, x_hat, lik)
                loss = bpp + tf.gather(lambdas, level) * mse
            grads = tape.gradient(loss, codec.trainable_variables)
            opt.apply_gradients(zip(grads, codec.trainable_variables))
            if decay > 0:
                for e, v in zip(ema, codec.trainable_variables):
                    e.assign(decay * e + (1.0 - decay) * v)
            return loss, bpp, mse

        self.step_fn = step_fn

    def init_ema(self) -> None:
        """After a restore from a checkpoint without an EMA (or a fresh start): the EMA starts at the weights."""
        if not bool(self.ema_ready.numpy()):
            for e, v in zip(self.ema, self.codec.trainable_variables):
                e.assign(v)
            self.ema_ready.assign(True)

    @contextmanager
    def averaged(self):
        """The codec holds the EMA weights inside the block (validation, the 'best' checkpoint)."""
        if not self.tcfg.ema:
            yield
            return
        live = [v.numpy() for v in self.codec.trainable_variables]
        for e, v in zip(self.ema, self.codec.trainable_variables):
            v.assign(e)
        try:
            yield
        finally:
            for x, v in zip(live, self.codec.trainable_variables):
                v.assign(x)


def _grown(old: np.ndarray, shape: tuple[int, ...], new_rows: np.ndarray | None) -> np.ndarray:
    """old [L, ...] -> [L + k, ...]: the per-level rows kept, the new ones from new_rows (zeros if None)."""
    if old.shape == shape:
        return old
    if old.shape[1:] != shape[1:] or shape[0] <= old.shape[0]:
        raise ValueError(f"cannot grow a checkpoint variable of shape {old.shape} to {shape}")
    extra = np.zeros((shape[0] - old.shape[0], *shape[1:]), old.dtype) if new_rows is None else new_rows
    return np.concatenate([old, extra.astype(old.dtype)], axis=0)


def _restore_grown(trainer: _Trainer, path: str, old_cfg: ModelConfig, log) -> None:
    """Restore a checkpoint of `old_cfg` (fewer qualities) into `trainer`, whose lambdas extend old_cfg's.

    Shared transforms, the optimizer state and the EMA carry over; each new quality starts from the highest
    old one: its density copied, its gain scaled by sqrt(lambda ratio) (the trained gains grow ~ lambda^0.5
    per level), inverse gain likewise; Adam's moments of the new rows start at zero. `best` restarts (the
    validation score now covers more qualities).
    """
    new_cfg = trainer.mcfg
    if new_cfg.lambdas[: old_cfg.levels] != old_cfg.lambdas or new_cfg.levels <= old_cfg.levels:
        raise ValueError(f"lambdas {new_cfg.lambdas} do not extend the checkpoint's {old_cfg.lambdas}")
    old = _Trainer(old_cfg, trainer.tcfg)
    old.ckpt.restore(path).expect_partial()
    old.opt.build(old.codec.trainable_variables)
    k = new_cfg.levels - old_cfg.levels
    ratio = np.sqrt(np.asarray(new_cfg.lambdas[old_cfg.levels :]) / old_cfg.lambdas[-1])

    def rows(v: tf.Variable, arr: np.ndarray) -> np.ndarray | None:
        name = v.name.split("/")[-1].split(":")[0]
        last = np.repeat(arr[-1:], k, axis=0)
        if name == "gain":
            return last * ratio[:, None]
        if name == "inv_gain":
            return last / ratio[:, None]
        return last  # the density's parameters

    pairs = list(zip(old.codec.trainable_variables, trainer.codec.trainable_variables, strict=True))
    for (ov, nv), (oe, ne) in zip(pairs, zip(old.ema, trainer.ema, strict=True), strict=True):
        for src, dst in ((ov, nv), (oe, ne)):
            a = src.numpy()
            dst.assign(_grown(a, tuple(dst.shape), None if a.shape == tuple(dst.shape) else rows(nv, a)))
    trainer.opt.build(trainer.codec.trainable_variables)
    for ov, nv in zip(old.opt.variables, trainer.opt.variables, strict=True):
        nv.assign(_grown(ov.numpy(), tuple(nv.shape), None))
    for name in ("step", "decayed", "ema_ready"):
        getattr(trainer, name).assign(getattr(old, name))
    trainer.best.assign(np.inf)
    log(f"grew {path} from {old_cfg.levels} to {new_cfg.levels} qualities (lambdas {new_cfg.lambdas})")


def _restore(
    trainer: _Trainer, run: Path, resume: bool, from_predecay: bool, log, grow_from: ModelConfig | None = None
) -> None:
    src = run / ("ckpt_predecay" if from_predecay else "ckpt")
    latest = tf.train.latest_checkpoint(str(src)) if resume else None
    if from_predecay and not latest:
        raise FileNotFoundError(f"no pre-decay checkpoint in {src}")
    if latest:
        if grow_from is not None:
            _restore_grown(trainer, latest, grow_from, log)
        else:
            trainer.ckpt.restore(latest).expect_partial()
        log(f"resumed from {latest} at step {int(trainer.step.numpy())}")
        if from_predecay:
            trainer.decayed.assign(False)
    trainer.init_ema()


def train(
    mcfg: ModelConfig,
    tcfg: TrainConfig,
    resume: bool = False,
    log=print,
    from_predecay: bool = False,
    add_lambdas: tuple[float, ...] = (),
) -> Path:
    """Train (or continue) a run. add_lambdas (with resume): append qualities to the run's model, higher
    lambdas than its last; the checkpoint is grown once (see _restore_grown) and the run continues."""
    threads = _set_threads(tcfg.threads)
    tf.keras.utils.set_random_seed(tcfg.seed)
    run = tcfg.run_dir
    run.mkdir(parents=True, exist_ok=True)
    cfg_file = run / "config.json"
    grow_from = None
    if add_lambdas and not resume:
        raise ValueError("adding qualities needs a run to continue (--resume or --from-predecay)")
    if resume and cfg_file.exists():
        mcfg = ModelConfig.from_json(json.loads(cfg_file.read_text())["model"])
    if add_lambdas:
        if sorted(add_lambdas) != list(add_lambdas) or add_lambdas[0] <= mcfg.lambdas[-1]:
            raise ValueError(f"new lambdas must rise above the run's last ({mcfg.lambdas[-1]:g}): {add_lambdas}")
        grow_from, mcfg = mcfg, replace(mcfg, lambdas=(*mcfg.lambdas, *add_lambdas))
    atomic_write(
        cfg_file,
        json.dumps(
            {
                "model": asdict(mcfg),
                "train": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(tcfg).items()},
            },
            indent=2,
        ),
    )

    train_imgs = np.stack(load_folder(tcfg.data_dir / "train", tcfg.train_limit))
    crops = val_crops(load_folder(tcfg.data_dir / "val", tcfg.val_images))
    tiling = f", tiles {tcfg.val_tile}x{tcfg.val_tile}" if tcfg.val_tile else ""
    log(f"train: {len(train_imgs)} crops, val: {len(crops)} images (center 256x256{tiling}), {threads} threads")

    tr = _Trainer(mcfg, tcfg)
    _restore(tr, run, resume, from_predecay, log, grow_from)
    manager = tf.train.CheckpointManager(tr.ckpt, run / "ckpt", max_to_keep=2)
    best_ckpt = tf.train.Checkpoint(codec=tr.codec, step=tr.step)
    if grow_from is not None:  # every saved state of the run now has the new shape
        manager.save(checkpoint_number=int(tr.step.numpy()))
        tf.train.CheckpointManager(tr.ckpt, run / "ckpt_predecay", max_to_keep=1).save(int(tr.step.numpy()))
        shutil.rmtree(run / "best", ignore_errors=True)

    rng = np.random.default_rng(tcfg.seed + int(tr.step.numpy()))
    ds = iter(train_dataset(train_imgs, tcfg))
    logf = _Log(run / "log.csv")
    start = int(tr.step.numpy())
    budget = None if tcfg.hours is None else tcfg.hours * 3600.0
    total = tcfg.steps if budget is None else None
    bar = tqdm(
        total=total,
        initial=start,
        desc="train",
        unit="step",
        dynamic_ncols=True,
        mininterval=0.2 if sys.stderr.isatty() else 30,
    )

    def validate(step: int) -> None:
        with tr.averaged():
            rows = evaluate(tr.codec, crops, mcfg.levels, tcfg.val_tile)
            score = val_score(rows, mcfg.lambdas)
            desc = " ".join(f"q{r['level']}:{r['bpp']:.3f}bpp/{r['psnr']:.2f}dB" for r in rows)
            if score < tr.best.numpy():
                tr.best.assign(score)
                best_ckpt.write(str(run / "best" / "ckpt"))
                desc += " (best)"
        for r in rows:
            logf.row(step=step, kind="val", level=r["level"], loss=score, bpp=r["bpp"], psnr=r["psnr"], wall_s=wall())
        bar.write(f"step {step} val{' (EMA)' if tcfg.ema else ''} {desc}")

    t0, run_avg = _now(), None
    wall = lambda: round(_now() - t0, 1)  # noqa: E731
    px_per_step = tcfg.batch * tcfg.crop * tcfg.crop
    step = start
    stop = _StopOnSignal()
    try:
        while True:
            if stop.signum is not None:
                bar.write(f"signal {stop.signum}: stopping with a checkpoint")
                break
            if budget is None and step >= tcfg.steps:
                break
            elapsed = _now() - t0
            if budget is not None and elapsed >= budget:
                break
            late = (
                (elapsed >= (1 - tcfg.decay_frac) * budget)
                if budget is not None
                else step >= tcfg.lr_decay_at * tcfg.steps
            )
            if late and not bool(tr.decayed.numpy()):
                if budget is not None:  # keep the high-lr state: the next session continues from it
                    tf.train.CheckpointManager(tr.ckpt, run / "ckpt_predecay", max_to_keep=1).save(step)
                    bar.write(f"step {step}: saved the pre-decay state; lr -> {tcfg.lr * 0.1:g}")
                tr.decayed.assign(True)
            tr.lr.assign(tcfg.lr * (0.1 if bool(tr.decayed.numpy()) else 1.0))
            level = int(rng.integers(mcfg.levels))
            loss, bpp, mse = (float(v) for v in tr.step_fn(next(ds), tf.constant(level)))
            step += 1
            tr.step.assign(step)
            psnr = 10 * np.log10(255.0**2 / max(mse, 1e-10))
            new = (loss, bpp, psnr)
            run_avg = new if run_avg is None else tuple(0.98 * a + 0.02 * b for a, b in zip(run_avg, new))
            ips = (step - start) * tcfg.batch / max(_now() - t0, 1e-9)
            bar.set_postfix(
                loss=f"{run_avg[0]:.3f}",
                bpp=f"{run_avg[1]:.3f}",
                psnr=f"{run_avg[2]:.2f}",
                img_s=f"{ips:.1f}",
                refresh=False,
            )
            bar.update(1)
            if step % 100 == 0:
                logf.row(
                    step=step,
                    kind="train",
                    level=level + 1,
                    loss=loss,
                    bpp=bpp,
                    psnr=psnr,
                    images_per_s=round(ips, 2),
                    lr=float(tr.lr.numpy()),
                    wall_s=wall(),
                    px_per_s=round(ips * tcfg.crop * tcfg.crop),
                    threads=threads,
                )
            if step % tcfg.val_every == 0:
                validate(step)
            if step % tcfg.ckpt_every == 0:
                manager.save(checkpoint_number=step)
                logf.flush()
    except KeyboardInterrupt:
        bar.write("interrupted: saving a checkpoint")
    finally:
        stop.restore()
        if step > start:
            if step % tcfg.val_every:
                validate(step)
            manager.save(checkpoint_number=step)
            if budget is not None and not bool(tr.decayed.numpy()):  # stopped before its decay: this state
                # is the high-lr one a later --from-predecay (make train) must continue, not an older one
                tf.train.CheckpointManager(tr.ckpt, run / "ckpt_predecay", max_to_keep=1).save(step)
            seg = _now() - t0
            logf.row(
                step=step,
                kind="segment",
                steps=step - start,
                lr=float(tr.lr.numpy()),
                wall_s=round(seg, 1),
                images_per_s=round((step - start) * tcfg.batch / seg, 2),
                px_per_s=round((step - start) * px_per_step / seg),
                threads=threads,
            )
            bar.write(
                f"segment: {step - start} steps in {seg / 3600:.2f} h, {(step - start) * px_per_step / seg:,.0f} px/s"
            )
        logf.close()
        bar.close()
    return run


def bench_train(mcfg: ModelConfig, tcfg: TrainConfig, steps: int = 50, warmup: int = 10) -> dict:
    """How fast a configuration trains on this machine: px/s and ms per step (after warm-up and tracing)."""
    threads = _set_threads(tcfg.threads)
    tf.keras.utils.set_random_seed(tcfg.seed)
    rng = np.random.default_rng(tcfg.seed)
    imgs = rng.integers(0, 256, (max(tcfg.batch, 8), tcfg.crop + 8, tcfg.crop + 8, 3), dtype=np.uint8)
    ds = iter(train_dataset(imgs, tcfg))
    tr = _Trainer(mcfg, tcfg)
    for i in range(warmup):
        tr.step_fn(next(ds), tf.constant(i % mcfg.levels))
    t0 = time.perf_counter()
    for i in range(steps):
        tr.step_fn(next(ds), tf.constant(i % mcfg.levels))[0].numpy()
    dt = (time.perf_counter() - t0) / steps
    enc, dec = build_encoder(mcfg, tcfg.crop), build_decoder(mcfg, tcfg.crop)
    return {
        "model": mcfg.name,
        "threads": threads,
        "batch": tcfg.batch,
        "crop": tcfg.crop,
        "steps": steps,
        "ms_per_step": round(dt * 1e3, 2),
        "images_per_s": round(tcfg.batch / dt, 1),
        "px_per_s": round(tcfg.batch * tcfg.crop**2 / dt),
        "params": int(enc.count_params() + dec.count_params()),
        "kmac_per_px": round((macs_per_pixel(enc, tcfg.crop) + macs_per_pixel(dec, tcfg.crop)) / 1e3, 2),
        "ema": tcfg.ema,
        "precision": tcfg.precision,
    }


def load_codec(run_dir: Path, which: str = "best") -> tuple[Codec, ModelConfig, int]:
    """Load a trained codec from a run folder ('best' = selected on val, 'last' = latest)."""
    saved = json.loads((run_dir / "config.json").read_text())
    mcfg = ModelConfig.from_json(saved["model"])
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
