"""tinycodec_arm: an offline PlatformIO development platform (see firmware/platform/README.md)."""

from platformio.public import PlatformBase


class Tinycodec_armPlatform(PlatformBase):
    pass
