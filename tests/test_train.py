"""A smoke run of training: a few steps on a handful of crops, checkpoint, resume, CSV log."""

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from tinycodec.config import DEFAULT_DATA, ModelConfig, TrainConfig
from tinycodec.train import load_codec, train


def test_train_few_steps_and_resume(tmp_path: Path):
    cfg = _tiny(tmp_path, steps=3, val_every=3, ckpt_every=3)
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


def _tiny(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(
        data_dir=DEFAULT_DATA,
        run_dir=tmp_path / "run",
        steps=4,
        batch=2,
        crop=64,
        val_every=1000,
        ckpt_every=1000,
        val_images=2,
        train_limit=8,
    )
    return TrainConfig(**{**base, **kw})


def test_wall_budget_stops_with_checkpoint_predecay_state_and_segment_row(tmp_path: Path, monkeypatch):
    """--hours: the run stops by itself, keeps the state before the lr decay, logs the segment's speed. The trainer's
    clock (train._now) is a fake that advances 1 s per reading, so the test does not depend on the machine's speed."""
    import tinycodec.train as train_mod

    clock = iter(range(10**6))
    monkeypatch.setattr(train_mod, "_now", lambda: float(next(clock)))
    cfg = _tiny(tmp_path, steps=10**9, hours=30 / 3600, decay_frac=0.5)
    run = train(ModelConfig(), cfg, log=lambda *_: None)
    assert tf_latest(run / "ckpt") and tf_latest(run / "ckpt_predecay")
    rows = list(csv.DictReader(open(run / "log.csv")))
    seg = [r for r in rows if r["kind"] == "segment"]
    assert len(seg) == 1 and int(seg[0]["steps"]) > 0 and float(seg[0]["px_per_s"]) > 0
    assert float(seg[0]["lr"]) == pytest.approx(cfg.lr * 0.1)
    assert 30 <= float(seg[0]["wall_s"]) < 40  # fake seconds: the budget, plus the last validation's readings
    _, _, step = load_codec(run, "last")
    assert step == int(seg[0]["steps"])
    pre = int(tf_latest(run / "ckpt_predecay").rsplit("-", 1)[1])
    assert 0 < pre <= step
    # continuing from the pre-decay state restarts at the high learning rate from that step
    train(ModelConfig(), replace(cfg, hours=10 / 3600, decay_frac=0.0), from_predecay=True, resume=True, log=print)
    seg2 = [r for r in csv.DictReader(open(run / "log.csv")) if r["kind"] == "segment"][-1]
    assert int(seg2["step"]) == pre + int(seg2["steps"])


def test_best_checkpoint_holds_the_ema_weights(tmp_path: Path):
    import numpy as np

    from tinycodec.model import Codec
    from tinycodec.tfenv import tf

    run = train(ModelConfig(), _tiny(tmp_path, steps=6, val_every=6, ckpt_every=6, ema=0.5), log=lambda *_: None)
    best, _, _ = load_codec(run, "best")
    last, _, _ = load_codec(run, "last")
    fresh = Codec(ModelConfig())
    fresh(tf.zeros((1, 64, 64, 3)), tf.constant(0))
    ckpt = tf.train.Checkpoint(ema=[tf.Variable(v) for v in fresh.trainable_variables])
    ckpt.read(tf_latest(run / "ckpt")).expect_partial()
    for b, e in zip(best.trainable_variables, ckpt.ema, strict=True):
        np.testing.assert_array_equal(b.numpy(), e.numpy())
    pairs = zip(best.trainable_variables, last.trainable_variables, strict=True)
    assert any(not np.array_equal(b.numpy(), w.numpy()) for b, w in pairs)


def test_tiled_validation_codes_tiles_independently():
    import numpy as np

    from tinycodec.config import PRESETS
    from tinycodec.model import Codec
    from tinycodec.tfenv import tf
    from tinycodec.train import _tiles, evaluate

    crops = np.random.default_rng(0).uniform(size=(2, 128, 128, 3)).astype(np.float32)
    t = _tiles(crops, 64)
    assert t.shape == (8, 64, 64, 3)
    np.testing.assert_array_equal(t[1], crops[0, :64, 64:])
    np.testing.assert_array_equal(t[6], crops[1, 64:, :64])
    codec = Codec(PRESETS["tc-v2"])
    codec(tf.zeros((1, 64, 64, 3)), tf.constant(0))
    tiled = evaluate(codec, crops, 1, tile=64)[0]
    bits = 0.0
    for i in range(8):
        _, lik = codec(tf.constant(t[i : i + 1]), tf.constant(0))
        bits += float(tf.reduce_sum(-tf.math.log(lik))) / np.log(2.0)
    assert tiled["bpp"] == pytest.approx(bits / (2 * 128 * 128), rel=1e-4)


def test_convt_decoder_macs_and_shapes():
    from tinycodec.config import PRESETS
    from tinycodec.model import build_decoder, build_encoder, macs_per_pixel

    cfg = PRESETS["tc-v2"]
    dec = build_decoder(cfg, 128)
    assert dec.output.shape[1:] == (128, 128, 3)
    assert build_encoder(cfg, 128).output.shape[1:] == (8, 8, 72)
    # every input pixel of a stride-2 transposed conv meets all k*k taps
    want = 8 * 8 * 9 * 72 * 56 + 16 * 16 * 9 * 56 * 56 + 32 * 32 * 9 * 56 * 56 + 64 * 64 * 25 * 56 * 3
    assert macs_per_pixel(dec, 128) == pytest.approx(want / 128**2)


def test_bench_train_reports_speed(tmp_path: Path):
    from tinycodec.train import bench_train

    res = bench_train(ModelConfig(), _tiny(tmp_path), steps=2, warmup=1)
    assert res["px_per_s"] > 0 and res["ms_per_step"] > 0 and res["threads"] >= 1
    assert res["params"] > 100_000 and res["kmac_per_px"] > 1


def tf_latest(path: Path) -> str | None:
    from tinycodec.tfenv import tf

    return tf.train.latest_checkpoint(str(path))


def test_sigterm_stops_with_checkpoint_and_segment_row(tmp_path: Path):
    """A wall-budget run in a subprocess, SIGTERMed mid-run, saves a checkpoint and its segment row (exit 0)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    code = (
        "from pathlib import Path; from tinycodec.config import DEFAULT_DATA, ModelConfig, TrainConfig; "
        "from tinycodec.train import train; "
        f"train(ModelConfig(), TrainConfig(data_dir=DEFAULT_DATA, run_dir=Path({str(run)!r}), steps=10**9, "
        "batch=2, crop=64, val_every=10**6, ckpt_every=10**6, val_images=2, train_limit=8, hours=1.0))"
    )
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and p.poll() is None:  # wait for the first logged steps
        log = run / "log.csv"
        if log.exists() and sum(1 for line in open(log) if ",train," in line):
            break
        time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()[-2000:]
    seg = [r for r in csv.DictReader(open(run / "log.csv")) if r["kind"] == "segment"]
    assert len(seg) == 1 and int(seg[0]["steps"]) >= 100
    _, _, step = load_codec(run, "last")
    assert step == int(seg[0]["step"])
    # stopped before its lr decay: the pre-decay state is this one, so --from-predecay continues from here
    assert (run / "ckpt_predecay" / f"ckpt-{step}.index").is_file()


def test_add_quality_grows_the_run(tmp_path: Path):
    """--add-quality: a higher lambda is appended; shared weights, the other levels' rows and the step carry
    over, the new level starts from the last one (gain scaled by sqrt of the lambda ratio), training goes on."""
    import json

    import numpy as np

    cfg = _tiny(tmp_path, steps=3, val_every=1000, ckpt_every=3)
    run = train(ModelConfig(), cfg, log=lambda *_: None)
    old, old_cfg, _ = load_codec(run, "last")
    with pytest.raises(ValueError, match="rise above"):
        train(ModelConfig(), cfg, resume=True, log=lambda *_: None, add_lambdas=(old_cfg.lambdas[-1],))
    with pytest.raises(ValueError, match="needs a run"):
        train(ModelConfig(), replace(cfg, run_dir=tmp_path / "new"), log=lambda *_: None, add_lambdas=(0.1,))
    # grown at step 3, then 0 more steps: the saved state is the grown one
    train(ModelConfig(), cfg, resume=True, log=lambda *_: None, add_lambdas=(0.1,))
    grown, grown_cfg, step = load_codec(run, "last")
    assert step == 3 and grown_cfg.lambdas == (*old_cfg.lambdas, 0.1)
    assert json.loads((run / "config.json").read_text())["model"]["lambdas"][-1] == 0.1
    g_old, g_new = old.gain.numpy(), grown.gain.numpy()
    np.testing.assert_array_equal(g_new[:-1], g_old)
    np.testing.assert_allclose(g_new[-1], g_old[-1] * np.sqrt(0.1 / old_cfg.lambdas[-1]), rtol=1e-6)
    np.testing.assert_allclose(
        grown.inv_gain.numpy()[-1], old.inv_gain.numpy()[-1] / np.sqrt(0.1 / old_cfg.lambdas[-1]), rtol=1e-6
    )
    np.testing.assert_array_equal(grown.density.matrices[0].numpy()[-1], old.density.matrices[0].numpy()[-1])
    for a, b in zip(old.encoder.get_weights(), grown.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    train(ModelConfig(), replace(cfg, steps=5, ckpt_every=5), resume=True, log=lambda *_: None)
    _, cfg5, step = load_codec(run, "last")
    assert step == 5 and cfg5.levels == old_cfg.levels + 1


def test_bf16_training_keeps_float32_weights_that_export_loads(tmp_path: Path):
    """precision="bf16" (mixed_bfloat16): the GDN codec's transforms compute in bfloat16, its weights, gains and
    densities stay float32, the loss is finite and falls on a fixed batch, and the run's checkpoint loads into the
    float32 codec that export builds, whose output is close to the bf16 one."""
    import numpy as np

    from tinycodec.config import PRESETS
    from tinycodec.model import Codec
    from tinycodec.tfenv import tf
    from tinycodec.train import _Trainer

    mcfg = replace(PRESETS["tc-v3-gdn"], enc_channels=(8, 8, 8), latent_channels=6, dec_channels=(8, 8, 8))
    tcfg = _tiny(tmp_path, precision="bf16", lr=1e-3)
    tr = _Trainer(mcfg, tcfg)
    assert tr.codec.encoder.layers[1].compute_dtype == "bfloat16"
    assert {v.dtype for v in tr.codec.trainable_variables} == {tf.float32}
    x = tf.constant(np.random.default_rng(0).uniform(size=(2, 64, 64, 3)).astype(np.float32))
    losses = [float(tr.step_fn(x, tf.constant(1))[0]) for _ in range(30)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
    tr.ckpt.write(str(tmp_path / "ck"))
    f32 = Codec(mcfg)
    f32(x, tf.constant(1))
    tf.train.Checkpoint(codec=f32).read(str(tmp_path / "ck")).expect_partial()
    assert f32.encoder.layers[1].compute_dtype == "float32"
    for a, b in zip(f32.trainable_variables, tr.codec.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    y16 = tf.cast(tr.codec.encoder(x), tf.float32).numpy()
    y32 = f32.encoder(x).numpy()
    assert np.abs(y16 - y32).max() <= 0.05 * np.abs(y32).max() + 1e-3
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp16")
