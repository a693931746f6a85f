"""Map the project's expected failure types to one-line messages for the CLI."""

from __future__ import annotations


def known_error_message(e: BaseException) -> str | None:
    from .bundle import BundleError
    from .data import DataError
    from .imageio import ImageError

    known: tuple[type[BaseException], ...] = (
        DataError,
        BundleError,
        ImageError,
        FileNotFoundError,
        IsADirectoryError,
        PermissionError,
        NotADirectoryError,
    )
    try:
        from .bitstream import BitstreamError

        known += (BitstreamError,)
    except ImportError:
        pass
    if isinstance(e, known):
        return str(e)
    return None
