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
