"""One base class for the errors a user can act on, and their one-line messages for the CLI.

Each module raises its own subclass of `TinycodecError` (a bad file, a full disk, a device that does not
answer...); the CLI prints any of them as one line. Nothing here imports the modules that raise them."""

from __future__ import annotations


class TinycodecError(Exception):
    """An error the user can act on: printed as one line (its first), exit code 2."""


def known_error_message(e: BaseException) -> str | None:
    """One line for an error the user can act on (a bad file, a full disk, a device that does not answer...), or
    None for anything else (a bug: the CLI then prints one line with a hint to rerun with --debug)."""
    if isinstance(e, TinycodecError):
        return str(e).splitlines()[0] if str(e) else e.__class__.__name__
    if isinstance(e, OSError):  # ENOSPC, EACCES, EROFS, ELOOP, EISDIR...: '<path>: <reason>'
        from .safeio import os_error_line

        return os_error_line(e).splitlines()[0]
    if isinstance(e, MemoryError):
        return "out of memory"
    return None


def internal_error_message(e: BaseException) -> str:
    """The one line for an unexpected error (a bug): its type and first line, and how to see the traceback."""
    first = str(e).splitlines()[0] if str(e) else ""
    what = f"internal error {type(e).__name__}" + (f": {first}" if first else "")
    return what + " (rerun with --debug for the traceback, and please report it)"
