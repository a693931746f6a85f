"""Host side of ENCODE/DECODE without QEMU: INFO capabilities (old and new firmware), result parsing, the
bench summary of both modes (schema v2) and its text form."""

import struct

import pytest

from tinycodec.host import bench
from tinycodec.host.protocol import (
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
NEW = Info(1, 25_000_000, 70144, 16448, bytes(range(32)), "0.1.0", "mps2-an386", "gen", MODELS, CAP_CODEC, (1, 4))


def test_info_without_codec_is_the_old_layout():
    body = pack_info(OLD)
    assert body[2:4] == b"\0\0"  # reserved field stays 0
    info = parse_info(body)
    assert info == OLD and not info.has_codec and info.qualities == ()


def test_info_with_codec_appends_the_qualities():
    body = pack_info(NEW)
    assert body == pack_info(OLD)[:2] + b"\x01\x00" + pack_info(OLD)[4:] + b"\x02\x01\x04"
    info = parse_info(body)
    assert info.has_codec and info.qualities == (1, 4) and info.models == MODELS
    with pytest.raises(ProtocolError):
        parse_info(body[:-1])  # n_qualities says 2, one byte left


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


class _Bundle:
    manifest = {"name": "tc-small"}
    tile = 64


def _tile(**kw):
    base = dict(image="k.png", index=0, enc_ticks=100, dec_ticks=200, latent_match=None, recon_match=True,
                payload_bytes=500, psnr=25.0, ssim=0.6)  # fmt: skip
    base.update(kw)
    return bench.TileResult(**base)


def test_summary_codec_mode():
    tiles = [_tile(ec_ticks=5, ed_ticks=7, payload_match=True), _tile(ec_ticks=6, ed_ticks=8, payload_match=False)]
    s = bench.summarize(NEW, _Bundle(), 1, tiles, 1.0, "codec")
    assert s["schema_version"] == 2 and s["mode"] == "codec"
    assert (s["encode_mismatches"], s["decode_mismatches"], s["mismatches"]) == (1, 0, 1)
    assert s["ec_ticks"]["min"] == 5 and s["ed_ticks"]["max"] == 8 and s["enc_ticks"]["mean"] == 100
    assert s["device"]["capabilities"] == CAP_CODEC and s["device"]["qualities"] == [1, 4]
    text = bench.format_summary(s)
    assert "entropy coding:" in text and "entropy decoding:" in text and "payload 1, recon 0" in text


def test_summary_run_mode_and_old_results():
    tiles = [_tile(latent_match=False, recon_match=False)]
    s = bench.summarize(OLD, _Bundle(), 1, tiles, 1.0, "run")
    assert s["mode"] == "run" and s["ec_ticks"] is None and s["ed_us"] is None
    assert (s["encode_mismatches"], s["decode_mismatches"]) == (1, 1)
    text = bench.format_summary(s)
    assert "entropy coding" not in text and "encoder inference:" in text
    v1 = {k: v for k, v in s.items() if k not in ("mode", "encode_mismatches", "decode_mismatches", "bpp_source")}
    for k in ("ec_ticks", "ec_us", "ed_ticks", "ed_us"):
        del v1[k]
    assert "mismatches: 2" in bench.format_summary(v1)  # a schema-1 results.json still formats
