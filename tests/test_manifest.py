"""manifest.py: the typed manifest round-trips the committed bundle byte for byte, writes what export always
wrote, refuses a missing / corrupt / inconsistent manifest with one line, and imports no TensorFlow."""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from tinycodec.config import DEFAULT_MODEL
from tinycodec.errors import TinycodecError
from tinycodec.manifest import Manifest, ManifestError

MF = DEFAULT_MODEL / "manifest.json"


def test_committed_bundle_round_trips_byte_for_byte(tmp_path: Path) -> None:
    m = Manifest.load(DEFAULT_MODEL)
    assert m.to_json().encode() == MF.read_bytes()
    out = m.save(tmp_path / "manifest.json")
    assert out.read_bytes() == MF.read_bytes()
    assert Manifest.load(out) == m
    assert m.save(tmp_path) == out  # a folder: its manifest.json


def test_typed_fields_and_dict_view() -> None:
    m = Manifest.load(MF)
    raw = json.loads(MF.read_text())
    assert m.name == raw["name"] and m.model_hash == raw["model_hash"] and m.tile == tuple(raw["tile"])
    assert [(s.role, s.quality, s.name) for s in m.models] == [
        (e["role"], e["quality"], e["name"]) for e in raw["models"]
    ]
    enc = m.model("encoder", 1)
    assert enc is not None and enc.input is not None and enc.input.shape == tuple(raw["models"][0]["input"]["shape"])
    assert m.model("decoder", 99) is None
    assert sorted(m.entropy) == sorted(int(k[1:]) for k in raw["entropy"])
    assert dict(m) == raw and m["model_hash"] == raw["model_hash"] and m.get("nope") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "x"  # type: ignore[misc]


def _export_like(raw: dict) -> dict:
    """The dict export_bundle builds: what it wrote before with json.dumps(indent=1) must be what save writes."""
    d = copy.deepcopy(raw)
    d["train_time"] = {"hours": None, "images_per_s": None}  # a run without log.csv
    d["quantization"] = "ptq"
    d["train_step"] = 7
    return d


def test_export_dict_round_trips(tmp_path: Path) -> None:
    d = _export_like(json.loads(MF.read_text()))
    m = Manifest.from_dict(d, "export")
    assert m.to_json() == json.dumps(d, indent=1) + "\n"
    assert Manifest.load(m.save(tmp_path / "manifest.json")) == m


def test_minimal_manifest_keeps_only_its_keys(tmp_path: Path) -> None:
    raw = json.loads(MF.read_text())
    e = raw["models"][0]
    d = {
        "format": "tinycodec-manifest",
        "version": 1,
        "name": "t",
        "models": [{k: e[k] for k in ("name", "role", "quality", "file", "sha256")}],
        "model_hash": raw["model_hash"],
    }
    m = Manifest.from_dict(d)
    assert m.entropy is None and m.to_json() == json.dumps(d, indent=1) + "\n"


def _bad(tmp_path: Path, edit) -> str:
    d = json.loads(MF.read_text())
    edit(d)
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(d))
    with pytest.raises(ManifestError) as ei:
        Manifest.load(p)
    msg = str(ei.value)
    assert "\n" not in msg and str(p) in msg
    return msg


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d.update(version=2), "version 1"),
        (lambda d: d.update(format="x"), "not a tinycodec manifest"),
        (lambda d: d.update(models=[]), "no models"),
        (lambda d: d.update(model_hash="zz"), "model_hash"),
        (lambda d: d.update(extra=1), "unknown key"),
        (lambda d: d["models"][0].pop("role"), "missing role"),
        (lambda d: d["models"][0].update(role="middle"), "role"),
        (lambda d: d["models"][0].update(quality=0), "quality"),
        (lambda d: d["models"][0].update(quality="1"), "quality"),
        (lambda d: d["models"][2].update(role="encoder", quality=1), "two encoders for quality 1"),
        (lambda d: d["models"][1].update(name=d["models"][0]["name"]), "listed twice"),
        (lambda d: d["models"][0].update(file="../enc_q1.tflite"), "plain file name"),
        (lambda d: d["models"][0].update(sha256="00"), "sha256"),
        (lambda d: d["models"][0].update(input=[1, 2]), "input"),
        (lambda d: d["entropy"]["q1"]["channels"][0]["freqs"].__setitem__(0, 2), "q1"),
        (lambda d: d["entropy"].update(x1=d["entropy"]["q1"]), "q<N>"),
        (lambda d: d.update(tile=[64]), "tile"),
        (lambda d: d.update(train_step=1.5), "train_step"),
    ],
)
def test_inconsistent_manifest_is_refused(tmp_path: Path, edit, needle: str) -> None:
    assert needle in _bad(tmp_path, edit)


def test_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b'{"format": ')
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b"\xff\xfe[]")
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(ManifestError, match="not a JSON object"):
        Manifest.load(tmp_path)
    assert issubclass(ManifestError, TinycodecError)


def test_read_models_checks_hashes(tmp_path: Path) -> None:
    m = Manifest.load(MF)
    datas = m.read_models(DEFAULT_MODEL)
    assert [len(x) for x in datas] == [s.size for s in m.models]
    for s in m.models:
        (tmp_path / s.file).write_bytes((DEFAULT_MODEL / s.file).read_bytes())
    (tmp_path / m.models[0].file).write_bytes(b"x")
    with pytest.raises(ManifestError, match="SHA-256"):
        m.read_models(tmp_path)
    (tmp_path / m.models[0].file).unlink()
    with pytest.raises(ManifestError, match="missing"):
        m.read_models(tmp_path)
    other = dataclasses.replace(m, model_hash="00" * 32)
    with pytest.raises(ManifestError, match="model_hash"):
        other.read_models(DEFAULT_MODEL)


def test_manifest_does_not_import_tensorflow() -> None:
    code = (
        "import sys; sys.path.insert(0, 'python'); import tinycodec.manifest, tinycodec.bundle;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
