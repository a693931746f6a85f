"""A smoke run of training: a few steps on a handful of crops, checkpoint, resume, CSV log."""

import csv
from dataclasses import replace
from pathlib import Path

from tinycodec.config import DEFAULT_DATA, ModelConfig, TrainConfig
from tinycodec.train import load_codec, train


def test_train_few_steps_and_resume(tmp_path: Path):
    cfg = TrainConfig(
        data_dir=DEFAULT_DATA,
        run_dir=tmp_path / "run",
        steps=3,
        batch=2,
        crop=64,
        val_every=3,
        ckpt_every=3,
        val_images=2,
        train_limit=8,
    )
    run = train(ModelConfig(), cfg, log=lambda *_: None)
    rows = list(csv.DictReader(open(run / "log.csv")))
    vals = [r for r in rows if r["kind"] == "val"]
    assert len(vals) == ModelConfig().levels and all(float(r["bpp"]) > 0 for r in vals)
    train(ModelConfig(), replace(cfg, steps=5, val_every=5, ckpt_every=5), resume=True, log=lambda *_: None)
    _, _, step = load_codec(run, "last")
    assert step == 5


def test_decoder_input_ste_vs_noise():
    """Training: the rate always sees y + U(-.5, .5); with ste the decoder sees round(y) (what the exported
    decoder gets) and its gradient still reaches the encoder; with noise it sees the noisy latent."""
    import numpy as np

    from tinycodec.model import Codec
    from tinycodec.tfenv import tf

    codec = Codec(ModelConfig())
    x = tf.constant(np.random.default_rng(0).uniform(size=(1, 64, 64, 3)).astype(np.float32))
    level = tf.constant(1)
    codec.gain.assign(tf.fill(codec.gain.shape, 40.0))  # an untrained encoder's y rounds to 0 everywhere otherwise
    y = codec.encoder(x) * tf.gather(codec.gain, level)
    want = codec.decoder(tf.round(y) * tf.gather(codec.inv_gain, level)).numpy()
    tf.random.set_seed(1)
    x_ste, _ = codec(x, level, training=True, ste=True)
    x_noise, _ = codec(x, level, training=True, ste=False)
    np.testing.assert_allclose(x_ste.numpy(), want, atol=1e-6)
    assert np.abs(x_noise.numpy() - want).max() > 1e-3
    with tf.GradientTape() as tape:
        x_hat, _ = codec(x, level, training=True, ste=True)
        loss = tf.reduce_mean(tf.square(x_hat - x))
    grads = tape.gradient(loss, codec.encoder.trainable_variables)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)
