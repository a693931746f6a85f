"""Classic codecs through Pillow, in memory: encode at one setting -> real bytes -> decode to 8-bit RGB.

JPEG: libjpeg via Pillow, 4:2:0 (Pillow's default), optimized Huffman tables.
WebP: libwebp lossy, method 6 (its strongest compression).
JPEG 2000: OpenJPEG, 9/7 irreversible wavelet, RGB->YCbCr (mct=1; Pillow's default is none), one quality layer
at a target compression ratio (`quality_mode="rates"`); the setting is the target bpp, the ratio is 24 / bpp.
Skipped when Pillow lacks OpenJPEG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, features

JPEG_QUALITIES = (5, 10, 20, 30, 40, 50, 60, 75, 85, 95)
WEBP_QUALITIES = (0, 10, 20, 30, 40, 50, 60, 75, 90, 100)
WEBP_METHOD = 6  # libwebp's strongest (slowest) setting: the baseline at its best
J2K_TARGET_BPP = (0.05, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5)


@dataclass(frozen=True)
class Setting:
    """One point of a classic codec's sweep: `codec` at `param` (quality, or target bpp for JPEG 2000)."""

    codec: str
    param: float

    @property
    def label(self) -> str:
        return f"{self.param:g} bpp target" if self.codec == "jpeg2000" else f"q{self.param:g}"

    def _save_args(self) -> tuple[str, dict]:
        if self.codec == "jpeg":
            return "JPEG", {"quality": int(self.param), "optimize": True}
        if self.codec == "webp":
            return "WEBP", {"quality": int(self.param), "method": WEBP_METHOD}
        if self.codec == "jpeg2000":
            return "JPEG2000", {
                "quality_mode": "rates",
                "quality_layers": [24.0 / self.param],
                "irreversible": True,
                "mct": 1,
            }
        raise ValueError(f"unknown baseline codec {self.codec!r}")

    def encode(self, img: np.ndarray) -> bytes:
        fmt, kwargs = self._save_args()
        buf = io.BytesIO()
        Image.fromarray(img, "RGB").save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    @staticmethod
    def decode(data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)

    def round_trip(self, img: np.ndarray) -> tuple[bytes, np.ndarray]:
        data = self.encode(img)
        return data, self.decode(data)


def jpeg2000_available() -> bool:
    return bool(features.check("jpg_2000"))


def default_sweeps() -> tuple[dict[str, tuple[Setting, ...]], list[str]]:
    """-> ({codec: settings}, notes). JPEG 2000 is left out with a note if Pillow has no OpenJPEG."""
    sweeps = {
        "jpeg": tuple(Setting("jpeg", q) for q in JPEG_QUALITIES),
        "webp": tuple(Setting("webp", q) for q in WEBP_QUALITIES),
    }
    notes = []
    if jpeg2000_available():
        sweeps["jpeg2000"] = tuple(Setting("jpeg2000", b) for b in J2K_TARGET_BPP)
    else:
        notes.append("JPEG 2000 skipped: this Pillow build has no OpenJPEG (features.check('jpg_2000') is False)")
    return sweeps, notes


def describe() -> dict[str, str]:
    """How each baseline was run, for the JSON report and the model card."""
    return {
        "jpeg": f"Pillow libjpeg, 4:2:0, optimize=True, quality {list(JPEG_QUALITIES)}",
        "webp": f"Pillow libwebp lossy, method={WEBP_METHOD}, quality {list(WEBP_QUALITIES)}",
        "jpeg2000": "Pillow OpenJPEG, irreversible 9/7, mct=1, quality_mode='rates', one layer at ratio 24/bpp, "
        f"target bpp {list(J2K_TARGET_BPP)}",
    }
