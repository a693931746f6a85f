"""Map the project's expected failure types to one-line messages for the CLI."""

from __future__ import annotations


def known_error_message(e: BaseException) -> str | None:
    from .bitstream import BitstreamError
    from .bundle import BundleError
    from .data import DataError
    from .host.bench import BenchError
    from .host.protocol import ProtocolError
    from .host.qemu import QemuError
    from .host.transport import DeviceError, DeviceTimeout
    from .imageio import ImageError

    known: tuple[type[BaseException], ...] = (
        DataError,
        BundleError,
        ImageError,
        BitstreamError,
        BenchError,
        QemuError,
        DeviceError,
        DeviceTimeout,
        ProtocolError,
        FileNotFoundError,
        IsADirectoryError,
        PermissionError,
        NotADirectoryError,
    )
    if isinstance(e, known):
        return str(e).splitlines()[0] if str(e) else e.__class__.__name__
    return None
