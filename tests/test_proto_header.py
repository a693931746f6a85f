"""One fact, two languages: firmware/core/tc_proto.h and the host's link/protocol.py + link/framing.py must agree
(message types, error codes, protocol version, header / CRC / body-prefix sizes, capability bits). The header is
parsed here, so a constant added or changed on one side only fails this test."""

from __future__ import annotations

import re
import struct

from conftest import ROOT
from tinycodec.link import framing, protocol

HEADER = ROOT / "firmware" / "core" / "tc_proto.h"


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def _enum(text: str, name: str, prefix: str) -> dict[str, int]:
    body = re.search(r"enum\s+" + name + r"\s*\{(.*?)\}", text, re.S)
    assert body, f"enum {name} not found in {HEADER}"
    out = {}
    for m in re.finditer(r"(\w+)\s*=\s*(0x[0-9A-Fa-f]+|\d+)", body.group(1)):
        assert m.group(1).startswith(prefix), m.group(1)
        out[m.group(1).removeprefix(prefix)] = int(m.group(2), 0)
    return out


def _defines(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2), 0) for m in re.finditer(r"#define\s+(TC_\w+)\s+(0x[0-9A-Fa-f]+|\d+)u?\b", text)}


def test_message_types_agree() -> None:
    c = _enum(_strip_comments(HEADER.read_text()), "tc_msg_type", "TC_T_")
    assert c == {t.name: int(t) for t in protocol.MsgType}
    for name, value in c.items():  # replies are request | 0x80 (docs/protocol.md), ERROR aside
        if value & 0x80 and name != "ERROR":
            assert value & 0x7F in c.values(), name


def test_error_codes_agree() -> None:
    c = _enum(_strip_comments(HEADER.read_text()), "tc_err_code", "TC_E_")
    assert c == {e.name: int(e) for e in protocol.ErrorCode}


def test_header_layout_and_constants_agree() -> None:
    d = _defines(_strip_comments(HEADER.read_text()))
    assert d["TC_PROTO_VERSION"] == framing.PROTO_VERSION == protocol.PROTO_VERSION
    assert d["TC_HDR_BYTES"] == framing.HEADER_BYTES == framing.HEADER.size == 8
    assert framing.HEADER.format == "<BBHI"  # u8 version, u8 type, u16 req_id, u32 body_len, little-endian
    assert d["TC_CRC_BYTES"] == framing.CRC_BYTES
    # request / reply body prefixes the host packs and parses
    assert d["TC_RUN_HDR_BYTES"] == len(protocol.pack_run(0, b""))
    assert d["TC_CODEC_HDR_BYTES"] == len(protocol.pack_codec(1, b""))
    assert protocol.parse_run_result(bytes(d["TC_RUN_TICKS_BYTES"])).output == b""
    assert protocol.parse_encode_result(bytes(d["TC_CODEC_TICKS_BYTES"])).payload == b""
    assert struct.calcsize("<Q") == d["TC_RUN_TICKS_BYTES"] and struct.calcsize("<QQ") == d["TC_CODEC_TICKS_BYTES"]
    assert d["TC_CAP_CODEC"] == protocol.CAP_CODEC


def test_every_define_is_checked() -> None:
    """A new constant in tc_proto.h needs its host side (and a line above)."""
    d = _defines(_strip_comments(HEADER.read_text()))
    assert set(d) == {
        "TC_PROTO_VERSION", "TC_HDR_BYTES", "TC_CRC_BYTES", "TC_RUN_HDR_BYTES", "TC_RUN_TICKS_BYTES",
        "TC_CODEC_HDR_BYTES", "TC_CODEC_TICKS_BYTES", "TC_CAP_CODEC",
    }  # fmt: skip
