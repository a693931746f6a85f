"""Map the project's expected failure types to one-line messages for the CLI."""

from __future__ import annotations


def known_error_message(e: BaseException) -> str | None:
    """One line for an error the user can act on (a bad file, a full disk, a device that does not answer...), or
    None for anything else (a bug: the CLI then prints one line with a hint to rerun with --debug)."""
    from .bitstream import BitstreamError
    from .bundle import BundleError
    from .data import DataError
    from .host.bench import BenchError
    from .host.protocol import ProtocolError
    from .host.qemu import QemuError
    from .host.session import BenchError as SessionError
    from .host.transport import DeviceError, DeviceTimeout
    from .imageio import ImageError
    from .safeio import FileError, os_error_line

    known: tuple[type[BaseException], ...] = (
        DataError,
        BundleError,
        ImageError,
        BitstreamError,
        BenchError,
        SessionError,
        QemuError,
        DeviceError,
        DeviceTimeout,
        ProtocolError,
        FileError,
    )
    if isinstance(e, known):
        return str(e).splitlines()[0] if str(e) else e.__class__.__name__
    if isinstance(e, OSError):  # ENOSPC, EACCES, EROFS, ELOOP, EISDIR...: '<path>: <reason>'
        return os_error_line(e).splitlines()[0]
    if isinstance(e, MemoryError):
        return "out of memory"
    return None


def internal_error_message(e: BaseException) -> str:
    """The one line for an unexpected error (a bug): its type and first line, and how to see the traceback."""
    first = str(e).splitlines()[0] if str(e) else ""
    what = f"internal error {type(e).__name__}" + (f": {first}" if first else "")
    return what + " (rerun with --debug for the traceback, and please report it)"
