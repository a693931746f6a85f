"""The records of a bench session folder: the journals (tiles.jsonl, timing.jsonl, runs.jsonl), what a record must
hold, how a damaged journal is read, and the record helpers (keys, base64 payloads, compressed reconstructions).
Everything the session, the results and the report share, so none of them imports another for it."""

from __future__ import annotations

import base64
import json
import logging
import os
import zlib
from pathlib import Path

from ..errors import TinycodecError
from ..safeio import os_error_line

SCHEMA = "tinycodec-bench"
SCHEMA_VERSION = 3  # 3: whole-image sessions (docs/bench.md); 2 was the removed tile-sample bench
STAGES = ("enc", "ec", "ed", "dec")
STAGE_NAMES = {
    "enc": "encoder inference",
    "ec": "entropy coding",
    "ed": "entropy decoding",
    "dec": "decoder inference",
}

log = logging.getLogger("tinycodec.bench")


class BenchError(TinycodecError):
    """The run cannot start or continue (wrong model on the device, bad session folder...): one line for the user."""


def fsync_append(f, line: str) -> None:
    f.write(line + "\n")
    f.flush()
    os.fsync(f.fileno())


# fields a journal record must have to be used (finalize and the report read them); a record without them is damage
TILE_FIELDS = (
    "key", "quality", "image", "index", "board", "payload", "recon", "payload_bytes", "payload_match", "recon_match",
    "enc_ticks", "ec_ticks", "ed_ticks", "dec_ticks", "tick_hz", "encode_wall_s", "decode_wall_s", "host_s",
    "host_wait_s", "retries", "stale", "garbled", "t",
)  # fmt: skip
TIMING_FIELDS = ("key", "run", "board", "quality", "enc_ticks", "ec_ticks", "ed_ticks", "dec_ticks", "tick_hz")
JOURNALS = {"tiles.jsonl": TILE_FIELDS, "timing.jsonl": TIMING_FIELDS, "runs.jsonl": ()}
_warned: set[tuple[str, tuple[int, ...]]] = set()


def _record(line: bytes, required: tuple[str, ...]) -> dict | None:
    try:
        rec = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or any(k not in rec for k in required) or not isinstance(rec.get("key", ""), str):
        return None
    return rec


def read_jsonl(path: Path, repair: bool = False, required: tuple[str, ...] | None = None) -> list[dict]:
    """Records of a JSON-lines journal. Damage costs only the damaged lines, never a good record:
    - a torn last line (killed mid-write: no newline at its end) is ignored, and with repair cut off (the cut starts
      after the last newline, so it never removes a good record); a good last record without its newline gets one;
    - any other line that is not a JSON object with the `required` fields (default: per journal, JOURNALS) is
      skipped and counted: a warning names its line numbers (console and bench.log, once per process); every other
      record is kept (their tiles are not redone), the skipped ones are done again on --resume.
    Raises BenchError if the file cannot be read or repaired."""
    if not path.exists():
        return []
    req = JOURNALS.get(path.name, ()) if required is None else required
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BenchError(os_error_line(e, path, "cannot read")) from None
    pieces = data.split(b"\n")  # the last piece is what follows the last newline (b"" for a whole file)
    out, bad, pos = [], [], 0
    torn_at = None
    for no, line in enumerate(pieces, 1):
        if line.strip():
            rec = _record(line, req)
            if rec is not None:
                out.append(rec)
            elif no == len(pieces):
                torn_at = pos
            else:
                bad.append(no)
        pos += len(line) + 1
    if bad and (str(path), tuple(bad)) not in _warned:
        _warned.add((str(path), tuple(bad)))
        shown = ", ".join(map(str, bad[:20])) + (", ..." if len(bad) > 20 else "")
        log.warning(
            "%s: skipped %d damaged line(s) (line %s); kept the %d good records, the skipped ones are done again",
            path,
            len(bad),
            shown,
            len(out),
        )
    if repair and pieces[-1].strip():
        try:
            with open(path, "r+b") as f:
                if torn_at is not None:
                    f.truncate(torn_at)
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise BenchError(os_error_line(e, path, "cannot repair the journal")) from None
    return out


def key(q: int, image: str, idx: int) -> str:
    return f"q{q}/{image}/{idx}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def recon_of(rec: dict) -> bytes:
    return zlib.decompress(unb64(rec["recon"]))
