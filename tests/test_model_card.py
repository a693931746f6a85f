"""The shipped model reproduces the committed Kodak evaluation (models/eval_kodak.json, the model card's
source): one Kodak image through compress/decompress gives the same bytes and PSNR within 0.01 dB."""

import json

import pytest

from conftest import ROOT
from tinycodec.bundle import Bundle
from tinycodec.codec import HostCodec
from tinycodec.config import DEFAULT_MODEL
from tinycodec.imageio import read_rgb
from tinycodec.metrics import psnr

KODAK = (ROOT / ".." / "shared" / "data" / "kodak").resolve()


def test_card_numbers_reproduce():
    report = json.loads((ROOT / "models" / "eval_kodak.json").read_text())
    bundle = Bundle.load(DEFAULT_MODEL)
    assert report["model"]["model_hash"] == bundle.manifest["model_hash"], "model changed: re-run `make eval`"
    card = (ROOT / "models" / "MODEL_CARD.md").read_text()
    assert bundle.manifest["model_hash"] in card
    point = next(p for p in report["codecs"]["tinycodec"] if p["label"] == "q1")
    row = next(i for i in point["images"] if i["image"] == "kodim23.png")
    img, _ = read_rgb(KODAK / "kodim23.png")
    codec = HostCodec(bundle)
    data = codec.compress(img, 1)
    assert len(data) == row["bytes"]
    assert psnr(img, codec.decompress(data)) == pytest.approx(row["psnr"], abs=0.01)
