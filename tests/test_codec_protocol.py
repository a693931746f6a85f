"""Host side of ENCODE/DECODE without QEMU: INFO capabilities and tick source (old and new firmware), result
parsing, what a bench session records of a device and the summary of a tile sample."""

import dataclasses
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tinycodec.bench.records import TILE_FIELDS, BenchError, key
from tinycodec.bench.results import finalize, format_summary
from tinycodec.bench.session import Board, Config, Session, check_device
from tinycodec.bundle import Bundle
from tinycodec.config import DEFAULT_MODEL
from tinycodec.link.protocol import (
    CAP_CODEC,
    Info,
    ModelInfo,
    MsgType,
    ProtocolError,
    pack_codec,
    pack_info,
    parse_decode_result,
    parse_encode_result,
    parse_info,
)

MODELS = (ModelInfo("enc_q1", (64, 64, 3), (4, 4, 64)), ModelInfo("dec_q1", (4, 4, 64), (64, 64, 3)))
OLD = Info(1, 25_000_000, 70144, 16448, bytes(range(32)), "0.1.0", "mps2-an386", "gen", MODELS)
NEW = Info(1, 25_000_000, 70144, 16448, bytes(range(32)), "0.1.0", "mps2-an386", "gen", MODELS, CAP_CODEC, (1, 4),
           "qemu-icount FPGAIO 25MHz")  # fmt: skip


def test_info_without_codec_is_the_old_layout():
    body = pack_info(OLD)
    assert body[2:4] == b"\0\0"  # reserved field stays 0
    info = parse_info(body)
    assert info == OLD and not info.has_codec and info.qualities == ()


def test_info_with_codec_appends_the_qualities():
    body = pack_info(dataclasses.replace(NEW, tick_source=""))
    assert body == pack_info(OLD)[:2] + b"\x01\x00" + pack_info(OLD)[4:] + b"\x02\x01\x04"
    info = parse_info(body)
    assert info.has_codec and info.qualities == (1, 4) and info.models == MODELS and info.tick_source == ""
    with pytest.raises(ProtocolError):
        parse_info(body[:-1])  # n_qualities says 2, one byte left


def test_info_appends_the_tick_source_after_the_qualities():
    body = pack_info(NEW)
    src = b"qemu-icount FPGAIO 25MHz"
    assert body == pack_info(dataclasses.replace(NEW, tick_source="")) + bytes([len(src)]) + src
    assert parse_info(body) == NEW
    with pytest.raises(ProtocolError):
        parse_info(body[:-1])  # the string's length says one byte more
    no_codec = dataclasses.replace(OLD, tick_source="DWT CYCCNT (core clock)")  # no qualities: n_qualities = 0
    assert parse_info(pack_info(no_codec)) == no_codec


def test_codec_bodies():
    assert MsgType.ENCODE == 0x04 and MsgType.DECODE_RESULT == 0x85
    assert pack_codec(3, b"ab") == b"\x03\x00\x00\x00ab"
    with pytest.raises(ValueError):
        pack_codec(256, b"")
    r = parse_encode_result(struct.pack("<QQ", 10, 2) + b"payload", 25_000_000)
    assert (r.ticks_enc, r.ticks_ec, r.payload) == (10, 2, b"payload")
    d = parse_decode_result(struct.pack("<QQ", 3, 40) + b"\x80" * 12)
    assert (d.ticks_ed, d.ticks_dec, d.tile) == (3, 40, b"\x80" * 12)
    with pytest.raises(ProtocolError):
        parse_encode_result(b"\0" * 15)


def _sampled_session(tmp_path: Path, recs: list[dict]) -> tuple[Path, Session]:
    """A bench session with a sample of 2 tiles of one 128x128 image at q1 (Config.tiles, `--tiles 2`), its journal
    written from `recs` (no device, no host codec: finalize only reads the records)."""
    bundle = Bundle.load(DEFAULT_MODEL)
    img = tmp_path / "k.png"
    Image.fromarray(np.zeros((2 * bundle.tile, 2 * bundle.tile, 3), np.uint8)).save(img)
    out = tmp_path / "sess"
    cfg = Config([str(img)], [1], str(DEFAULT_MODEL), repeat=0, model_hash=bundle.manifest["model_hash"], tiles=2)
    sess = Session(out, cfg, bundle)
    cfg.save(out / "config.json")
    work = sess.work()
    assert [w[2] for w in work] == [0, 2]  # 2 of the 4 tiles, evenly spaced
    lines = []
    for (q, name, idx), r in zip(work, recs):
        rec = dict.fromkeys(TILE_FIELDS, 0) | {"key": key(q, name, idx), "quality": q, "image": name, "index": idx}
        lines.append(
            json.dumps(
                rec
                | {"board": "b0", "tick_hz": 25_000_000, "payload_bytes": 500, "psnr": 25.0}
                | {"encode_wall_s": 0.5, "decode_wall_s": 0.9, "host_s": 0.05}
                | r
            )
        )
    (out / "tiles.jsonl").write_text("".join(line + "\n" for line in lines))
    return out, sess


def _tile(**kw) -> dict:
    return {"enc_ticks": 100, "dec_ticks": 200, "payload_match": True, "recon_match": True} | kw


def test_summary_of_a_tile_sample(tmp_path: Path) -> None:
    """The session's results of a `--tiles` sample: mismatches per direction, per-stage ticks, per-tile figures."""
    tiles = [_tile(ec_ticks=5, ed_ticks=7), _tile(ec_ticks=6, ed_ticks=8, payload_match=False)]
    out, sess = _sampled_session(tmp_path, tiles)
    s = finalize(out, baselines=False, report=False)
    assert s["schema_version"] == 3 and s["complete"] and s["tiles"] == 2 and s["config"]["tiles"] == 2
    assert (s["encode_mismatches"], s["decode_mismatches"], s["mismatches"]) == (1, 0, 1)
    q = s["qualities"][0]
    lat = q["latency"]
    assert lat["ec"]["per_tile_ticks"]["min"] == 5 and lat["ed"]["per_tile_ticks"]["max"] == 8
    assert lat["enc"]["per_tile_ticks"]["mean"] == 100
    assert q["images"] == 0 and q["bpp"] is None and not s["images"]  # a sample makes no whole image / .tcz
    assert q["sample"] == {"tiles": 2, "payload_bpp": 500 * 8 / sess.bundle.tile**2, "psnr": 25.0}
    text = format_summary(s)
    assert "entropy coding" in text and "entropy decoding" in text and "payload 1, recon 0" in text
    assert "sample of 2 tiles" in text


def test_boards_record_the_info_old_and_new(tmp_path: Path) -> None:
    """boards.json keeps what INFO says (capabilities, qualities, tick source); firmware whose INFO has no tick
    source gets the board table's; firmware without the codec is refused."""
    out, sess = _sampled_session(tmp_path, [_tile(), _tile()])
    dev = SimpleNamespace(stats={"retries": 0})
    old_fw = dataclasses.replace(OLD, model_hash=sess.bundle.model_hash)
    esp = dataclasses.replace(NEW, board="esp32-s3-devkitc-1", tick_source="esp_timer 1MHz (CPU 240MHz)")
    sess._write_boards([Board(0, "u0", dev, info=NEW), Board(1, "u1", dev, info=old_fw), Board(2, "u2", dev, info=esp)])
    new, old, other = json.loads((out / "boards.json").read_text())
    assert new["capabilities"] == CAP_CODEC and new["qualities"] == [1, 4]
    assert new["tick_source"] == "qemu-icount FPGAIO 25MHz" and "1 tick = 40 guest instructions" in new["tick_note"]
    assert old["capabilities"] == 0 and old["qualities"] == [] and old["tick_source"] == ""
    assert old["tick_note"] == new["tick_note"]  # from the board table, by the INFO board name
    assert other["tick_note"] == "esp_timer 1MHz (CPU 240MHz)"
    with pytest.raises(BenchError, match="firmware without ENCODE/DECODE"):
        check_device(old_fw, sess.bundle, [1])
    with pytest.raises(BenchError, match="no tables for quality"):
        check_device(dataclasses.replace(NEW, model_hash=sess.bundle.model_hash), sess.bundle, [2])
    text = format_summary(finalize(out, baselines=False, report=False))
    assert "mismatches 0 (payload 0, recon 0)" in text and "entropy coding" in text
